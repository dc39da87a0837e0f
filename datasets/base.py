"""What every dataset shares: class lists, the labels/sizes/sequence/flow plumbing, lazy channel statistics.

Every dataset object offers the interface of the original release: `classes`, `class_indices`,
`num_classes`, `num_train`, `num_test`, `labels_train`, `labels_test`, `num_channels`,
`train_sequence()`, `test_sequence()`, `flow_train()`, `flow_test()` and `compose_batch()`.
Batches are `(x, y)`: x float32 NHWC, normalized; y the integer labels (numpy int64).

Nothing here imports Keras: the batch sequence (`datasets.sequence.DataSequence`, a Keras `PyDataset`)
is imported when the first sequence is built, so reading a dataset's labels and classes stays cheap.
"""

import os
from collections import Counter, OrderedDict

import numpy as np

CLASS_BALANCE_MODES = (None, "oversample")

# ---------------------------------------------------------------------------
# Class lists
# ---------------------------------------------------------------------------


def read_class_list(path):
    """Classes from a text file: the first token of each non-empty line, duplicates dropped, order kept.

    The labels are converted to int when all of them are integers, as the original scripts did.
    """
    if not os.path.isfile(path):
        raise ValueError("{}: no such class list file".format(path))
    with open(path, encoding="utf-8") as f:
        labels = list(OrderedDict((line.split()[0], None) for line in f if line.strip()).keys())
    if not labels:
        raise ValueError("{}: the class list is empty".format(path))
    try:
        return [int(lbl) for lbl in labels]
    except ValueError:
        return labels


def normalize_class_list(classes):
    """`None`, a list/array of class labels, or the path of a class-list file -> `None` or a list."""
    if classes is None:
        return None
    if isinstance(classes, (str, os.PathLike)):
        return read_class_list(classes)
    classes = [c.item() if isinstance(c, np.generic) else c for c in classes]
    if len(set(classes)) != len(classes):
        duplicates = sorted((c for c, n in Counter(classes).items() if n > 1), key=str)
        raise ValueError("classes contain duplicates: {}".format(duplicates[:5]))
    return classes


def check_classes_present(requested, available, dataset_name):
    """Raise a ValueError naming the first requested classes the dataset does not have."""
    available = set(available)
    missing = [c for c in requested if c not in available]
    if missing:
        raise ValueError(
            "{}: class{} {} not in the dataset".format(
                dataset_name, "es" if len(missing) > 1 else "", ", ".join(repr(c) for c in missing[:10])
            )
        )


def choose_classes(requested, available, dataset_name):
    """`(classes, class_indices)`: the requested classes (list, array or class-list file) in the given
    order, or all available ones; requested ids are read as the available ids' type (str or int)."""
    requested = normalize_class_list(requested)
    available = list(available)
    if requested is not None and available and all(isinstance(c, str) for c in available):
        requested = [str(c) for c in requested]  # e.g. numeric folder names read from a class list
    elif requested is not None and available and all(isinstance(c, (int, np.integer)) for c in available):
        requested = [int(c) if isinstance(c, str) and c.strip().lstrip("-").isdigit() else c for c in requested]
    if requested is None:
        classes = available
    else:
        check_classes_present(requested, available, dataset_name)
        classes = requested
    return classes, {c: i for i, c in enumerate(classes)}


def restrict_classes(labels, class_indices):
    """Boolean mask of the samples whose label is in `class_indices` and their new labels."""
    labels = np.asarray(labels)
    lookup = {lbl: idx for lbl, idx in class_indices.items()}
    mask = np.array([lbl in lookup for lbl in labels.tolist()], dtype=bool)
    new_labels = np.array([lookup[lbl] for lbl in labels[mask].tolist()], dtype=np.int64)
    return mask, new_labels


def class_ids_from(class_indices, num_classes):
    """`ids[label]` = the class id (key of `class_indices`) with that label; None where no class has it."""
    ids = [None] * num_classes
    for cls, label in class_indices.items():
        if 0 <= label < num_classes:
            ids[label] = cls
    return ids


def check_class_balance(class_balance):
    """`None` or "oversample" (case-insensitive) -> the canonical value; anything else: ValueError."""
    if isinstance(class_balance, str):
        class_balance = class_balance.lower()
    if class_balance not in CLASS_BALANCE_MODES:
        raise ValueError("class_balance must be one of {}, got {!r}".format(CLASS_BALANCE_MODES, class_balance))
    return class_balance


def flow(sequence, include_labels=True):
    """Endless generator over a sequence, as the original `flow_train`/`flow_test` generators."""
    while True:
        for i in range(len(sequence)):
            batch = sequence[i]
            yield batch if include_labels else batch[0]
        sequence.on_epoch_end()


# ---------------------------------------------------------------------------
# The base class
# ---------------------------------------------------------------------------


class LazyAttribute:
    """An attribute stored in `private` that `obj.<loader>()` fills on first read when it is None;
    assigned values pass through `convert` (None stays None)."""

    def __init__(self, private, loader, convert, doc):
        self.private, self.loader, self.convert, self.__doc__ = private, loader, convert, doc

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        if getattr(obj, self.private) is None:
            getattr(obj, self.loader)()
        return getattr(obj, self.private)

    def __set__(self, obj, value):
        setattr(obj, self.private, None if value is None else self.convert(value))


class DatasetGenerator:
    """Base class of all datasets: labels, sizes, batch sequences, flows and lazy channel statistics.

    Subclasses provide:
        `_split(train)`: `(ids, labels)` of the training or test split (ids are what `compose_batch` takes);
        `_compose_kwargs(train, augment, **options)`: the keyword arguments of `compose_batch`;
        `_channel_stats(mean)`: `(mean, std)` as used for normalization, computed from the training
            data (`mean` is kept when given);
        `compose_batch(ids, rng=None, **kwargs)`.

    `class_balance` ("oversample" or None) is the default of `train_sequence(oversample=...)`;
    `train_repeats` the default number of passes over the training data per epoch.
    """

    class_balance = None
    train_repeats = 1
    _mean = None
    _std = None

    # --- channel statistics: computed when first needed -------------------------------

    mean = LazyAttribute("_mean", "_ensure_stats", lambda v: np.asarray(v, dtype=np.float32),
                          "Channel means (float32) subtracted from the images; computed on first use if not given.")
    std = LazyAttribute("_std", "_ensure_stats", lambda v: np.asarray(v, dtype=np.float32),
                         "Channel scales (float32) the images are divided by; computed on first use if not given.")

    def _ensure_stats(self):
        """Compute the channel statistics not given (`_channel_stats` keeps a given mean)."""
        if self._mean is None or self._std is None:
            mean, std = self._channel_stats(self._mean)
            self.mean, self.std = mean, std

    def _channel_stats(self, mean=None):
        raise NotImplementedError

    # --- batches -----------------------------------------------------------------------

    def _split(self, train):
        raise NotImplementedError

    def _compose_kwargs(self, train, augment):
        return {"train": train, "augment": augment}

    def _sequence(self, train, batch_size, shuffle, augment, batch_transform, batch_transform_kwargs,
                  oversample=None, repeats=None, seed=None, workers=1, use_multiprocessing=False,
                  max_queue_size=10, per_class=None, **compose_options):
        from .sequence import DataSequence  # imports Keras: only when batches are needed

        compose_kwargs = self._compose_kwargs(train, augment, **compose_options)
        self._ensure_stats()  # once here, not in every worker
        ids, labels = self._split(train)
        if oversample is None:
            oversample = train and self.class_balance == "oversample"
        if repeats is None:
            repeats = self.train_repeats if train else 1
        return DataSequence(
            self, ids, labels, batch_size=batch_size, shuffle=shuffle, oversample=oversample, per_class=per_class,
            repeats=repeats, batch_transform=batch_transform, batch_transform_kwargs=batch_transform_kwargs, seed=seed,
            workers=workers, use_multiprocessing=use_multiprocessing, max_queue_size=max_queue_size, **compose_kwargs,
        )

    def train_sequence(self, batch_size=32, shuffle=True, augment=True, batch_transform=None,
                       batch_transform_kwargs=None, oversample=None, repeats=None, seed=None, workers=1,
                       use_multiprocessing=False, max_queue_size=10, per_class=None, **compose_options):
        """Training batches as a `DataSequence` (see there for the arguments).

        `oversample` defaults to the dataset's `class_balance == "oversample"`, `repeats` to its
        `train_repeats`; `per_class` K gives batches of P classes x K images (None: shuffled samples).
        """
        return self._sequence(
            True, batch_size, shuffle, augment, batch_transform, batch_transform_kwargs, oversample=oversample,
            repeats=repeats, seed=seed, workers=workers, use_multiprocessing=use_multiprocessing,
            max_queue_size=max_queue_size, per_class=per_class, **compose_options,
        )

    def test_sequence(self, batch_size=32, shuffle=False, augment=False, batch_transform=None,
                      batch_transform_kwargs=None, seed=None, workers=1, use_multiprocessing=False,
                      max_queue_size=10, **compose_options):
        """Test batches as a `DataSequence`; unshuffled, they come in the order of `labels_test`."""
        return self._sequence(
            False, batch_size, shuffle, augment, batch_transform, batch_transform_kwargs, seed=seed,
            workers=workers, use_multiprocessing=use_multiprocessing, max_queue_size=max_queue_size,
            **compose_options,
        )

    def flow_train(self, batch_size=32, include_labels=True, shuffle=True, augment=True, **compose_options):
        """Endless generator of training batches (the original generator interface)."""
        return flow(self.train_sequence(batch_size, shuffle=shuffle, augment=augment, **compose_options),
                    include_labels)

    def flow_test(self, batch_size=32, include_labels=True, shuffle=False, augment=False, **compose_options):
        """Endless generator of test batches (the original generator interface)."""
        return flow(self.test_sequence(batch_size, shuffle=shuffle, augment=augment, **compose_options),
                    include_labels)

    # --- labels and sizes -----------------------------------------------------------------

    @property
    def labels_train(self):
        """Integer labels of the training samples, in the order of an unshuffled `train_sequence`."""
        return self._split(True)[1]

    @property
    def labels_test(self):
        """Integer labels of the test samples, in the order of `test_sequence` batches."""
        return self._split(False)[1]

    @property
    def num_train(self):
        return len(self._split(True)[1])

    @property
    def num_test(self):
        return len(self._split(False)[1])

    @property
    def num_classes(self):
        return len(self.classes)

    @property
    def class_ids(self):
        """The class id of each label: `class_ids[label]` (None for a label no class has).

        Equal to `classes` when the labels are 0, 1, ... in the order of `classes`; CIFAR-100-a/-b keep
        their original labels, so there `class_ids[label] == label`.
        """
        indices = getattr(self, "class_indices", None)
        if indices is None:
            return list(range(self.num_classes))
        return class_ids_from(indices, self.num_classes)

    def class_sizes(self, train=True):
        """Number of samples of each label 0..num_classes-1 in the training (or test) split."""
        return np.bincount(np.asarray(self._split(train)[1], dtype=np.int64), minlength=self.num_classes)
