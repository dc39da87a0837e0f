"""Building blocks shared by all datasets: the batch sequence, class restriction, in-memory datasets.

Every dataset object offers the interface of the original release: `classes`, `class_indices`,
`num_classes`, `num_train`, `num_test`, `labels_train`, `labels_test`, `num_channels`,
`train_sequence()`, `test_sequence()`, `flow_train()`, `flow_test()` and `compose_batch()`.
Batches are `(x, y)`: x float32 NHWC, normalized; y the integer labels (numpy int64).
"""

import os
from collections import Counter, OrderedDict

import keras
import numpy as np

from . import augment as aug

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


def restrict_classes(labels, class_indices):
    """Boolean mask of the samples whose label is in `class_indices` and their new labels."""
    labels = np.asarray(labels)
    lookup = {lbl: idx for lbl, idx in class_indices.items()}
    mask = np.array([lbl in lookup for lbl in labels.tolist()], dtype=bool)
    new_labels = np.array([lookup[lbl] for lbl in labels[mask].tolist()], dtype=np.int64)
    return mask, new_labels


# ---------------------------------------------------------------------------
# The batch sequence
# ---------------------------------------------------------------------------


class DataSequence(keras.utils.PyDataset):
    """Batches of a dataset as a `keras.utils.PyDataset`, usable with every Keras backend.

    Batch `idx` of an epoch holds the samples `order[idx * batch_size : (idx + 1) * batch_size]`,
    composed by `data_generator.compose_batch(ids, rng=..., **compose_kwargs)`. Its random numbers
    come from a generator seeded with (seed, epoch, idx), so batches do not depend on which worker
    (thread or process) makes them, and two workers never share augmentations.

    Arguments:
        data_generator: the dataset object providing `compose_batch`.
        ids: the ids of all samples (indices or file names), passed to `compose_batch`.
        labels: the label of each sample.
        batch_size: samples per batch.
        shuffle: reshuffle the order after each epoch.
        oversample: repeat the members of smaller classes up to the size of the largest one.
        repeats: passes over the data per epoch (an epoch of `repeats` sub-epochs).
        batch_transform: optional function `(x, y, **batch_transform_kwargs) -> batch` applied last.
        seed: seed of the augmentations and shuffling; `None` draws one from numpy's global state.
        workers, use_multiprocessing, max_queue_size: passed to `keras.utils.PyDataset`.
        **compose_kwargs: further keyword arguments of `compose_batch`.
    """

    def __init__(
        self,
        data_generator,
        ids,
        labels,
        batch_size=32,
        shuffle=False,
        oversample=False,
        repeats=1,
        batch_transform=None,
        batch_transform_kwargs=None,
        seed=None,
        workers=1,
        use_multiprocessing=False,
        max_queue_size=10,
        **compose_kwargs,
    ):
        super().__init__(workers=workers, use_multiprocessing=use_multiprocessing, max_queue_size=max_queue_size)
        if int(batch_size) < 1:
            raise ValueError("batch_size must be a positive integer, got {!r}".format(batch_size))
        if int(repeats) < 1:
            raise ValueError("repeats must be a positive integer, got {!r}".format(repeats))
        self.data_generator = data_generator
        self.ids = ids
        self.labels = np.asarray(labels)
        if len(self.labels) != len(ids):
            raise ValueError("{} ids but {} labels".format(len(ids), len(self.labels)))
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.oversample = oversample
        self.repeats = int(repeats)
        self.batch_transform = batch_transform
        self.batch_transform_kwargs = dict(batch_transform_kwargs or {})
        self.kwargs = compose_kwargs
        self.seed = int(np.random.randint(0, 2**31 - 1)) if seed is None else int(seed)
        self.epoch = 0
        if oversample:
            self.class_members = {lbl: np.flatnonzero(self.labels == lbl) for lbl in np.unique(self.labels)}
            self.max_class_size = max((len(m) for m in self.class_members.values()), default=0)
            self.epoch_size = len(self.class_members) * self.max_class_size
        else:
            self.epoch_size = len(ids)
        self.epoch_len = int(np.ceil(self.epoch_size / self.batch_size))
        self._make_order()

    def _make_order(self):
        """The sample order of the current epoch: `repeats` permutations, one after the other."""
        rng = np.random.default_rng((self.seed, self.epoch, 2**31))
        orders = []
        for _ in range(self.repeats):
            if self.oversample:
                order = np.concatenate(
                    [self._oversampled_members(members, rng) for members in self.class_members.values()]
                )
            else:
                order = np.arange(self.epoch_size)
            if self.shuffle:
                rng.shuffle(order)
            orders.append(order)
        self.permutations = orders

    def _oversampled_members(self, members, rng):
        reps = int(np.ceil(self.max_class_size / len(members)))
        if self.shuffle:
            return np.concatenate([rng.permutation(members) for _ in range(reps)])[: self.max_class_size]
        return np.tile(members, reps)[: self.max_class_size]

    def __len__(self):
        return self.repeats * self.epoch_len

    def batch_indices(self, idx):
        """Positions (into `ids`/`labels`) of the samples in batch `idx` of the current epoch."""
        if not 0 <= idx < len(self):
            raise IndexError("batch index {} out of range [0, {})".format(idx, len(self)))
        order = self.permutations[idx // self.epoch_len]
        start = (idx % self.epoch_len) * self.batch_size
        return order[start : start + self.batch_size]

    def __getitem__(self, idx):
        batch_ind = self.batch_indices(idx)
        rng = np.random.default_rng((self.seed, self.epoch, int(idx)))
        ids = self.ids[batch_ind] if isinstance(self.ids, np.ndarray) else [self.ids[i] for i in batch_ind]
        x = self.data_generator.compose_batch(ids, rng=rng, **self.kwargs)
        y = self.labels[batch_ind]
        if self.batch_transform is not None:
            return self.batch_transform(x, y, **self.batch_transform_kwargs)
        return x, y

    def on_epoch_end(self):
        self.epoch += 1
        if self.shuffle:
            self._make_order()


def flow(sequence, include_labels=True):
    """Endless generator over a sequence, as the original `flow_train`/`flow_test` generators."""
    while True:
        for i in range(len(sequence)):
            batch = sequence[i]
            yield batch if include_labels else batch[0]
        sequence.on_epoch_end()


# ---------------------------------------------------------------------------
# Channel statistics
# ---------------------------------------------------------------------------


def channel_stats_uint8(images):
    """Exact per-channel mean and standard deviation of uint8 images (N, H, W, C) via histograms."""
    images = np.asarray(images)
    channels = images.shape[-1]
    flat = images.reshape(-1, channels)
    hists = np.zeros((channels, 256), dtype=np.float64)
    chunk = 1 << 20  # bincount converts to intp: chunks keep that in cache
    for start in range(0, len(flat), chunk):
        part = flat[start : start + chunk]
        for c in range(channels):
            hists[c] += np.bincount(part[:, c], minlength=256)
    values = np.arange(256, dtype=np.float64)
    means, stds = [], []
    for hist in hists:
        count = hist.sum()
        mean = (hist * values).sum() / count
        means.append(mean)
        stds.append(np.sqrt((hist * (values - mean) ** 2).sum() / count))
    return np.array(means), np.array(stds)


# ---------------------------------------------------------------------------
# In-memory datasets (CIFAR, Fashion-MNIST, digits)
# ---------------------------------------------------------------------------

# Keys of Keras' ImageDataGenerator the original passed in `generator_kwargs`/`train_generator_kwargs`
# that have a meaning here.
_NORMALIZATION_KEYS = ("featurewise_center", "featurewise_std_normalization")
_AUGMENTATION_KEYS = (
    "horizontal_flip",
    "vertical_flip",
    "width_shift_range",
    "height_shift_range",
    "zoom_range",
    "fill_mode",
)


class ArrayDatasetGenerator:
    """A dataset of small images held in memory as uint8 arrays (the original `TinyDatasetGenerator`).

    Normalization uses the per-channel mean and standard deviation of the training images
    (x - mean) / (std + 1e-6), as Keras' `ImageDataGenerator` with featurewise centring and std
    normalization did. Training augmentation (random shifts, zoom and flips, Keras semantics) is applied
    to a whole batch at once.

    Arguments:
        X_train, X_test: uint8 (or float) arrays (N, H, W, C) or (N, H, W) for grey-scale images.
        y_train, y_test: integer labels.
        generator_kwargs: ImageDataGenerator-style normalization switches (`featurewise_center`,
            `featurewise_std_normalization`), applied to training and test images.
        train_generator_kwargs: ImageDataGenerator-style augmentation for training batches:
            `horizontal_flip`, `vertical_flip`, `width_shift_range`, `height_shift_range`, `zoom_range`,
            `fill_mode` ('nearest' or 'reflect').
    """

    def __init__(
        self,
        X_train,
        X_test,
        y_train,
        y_test,
        generator_kwargs=None,
        train_generator_kwargs=None,
    ):
        self.X_train = self._as_images(X_train, "X_train")
        self.X_test = self._as_images(X_test, "X_test")
        self.y_train = np.asarray(y_train, dtype=np.int64)
        self.y_test = np.asarray(y_test, dtype=np.int64)
        if len(self.X_train) != len(self.y_train) or len(self.X_test) != len(self.y_test):
            raise ValueError("number of images and labels differ")
        if self.X_train.shape[1:] != self.X_test.shape[1:]:
            raise ValueError(
                "training and test images differ in shape: {} vs {}".format(self.X_train.shape[1:], self.X_test.shape[1:])
            )
        normalization = {"featurewise_center": True, "featurewise_std_normalization": True}
        normalization.update(self._check_keys(generator_kwargs, _NORMALIZATION_KEYS, "generator_kwargs"))
        self.augmentation = {"horizontal_flip": True, "width_shift_range": 0.15, "height_shift_range": 0.15}
        if train_generator_kwargs is not None:
            self.augmentation = self._check_keys(train_generator_kwargs, _AUGMENTATION_KEYS, "train_generator_kwargs")
        if self.augmentation.get("fill_mode", "nearest") not in aug.FILL_MODES:
            raise ValueError("fill_mode must be one of {}, got {!r}".format(aug.FILL_MODES, self.augmentation["fill_mode"]))
        aug.zoom_bounds(self.augmentation.get("zoom_range", 0.0))

        if self.X_train.dtype == np.uint8:
            mean, std = channel_stats_uint8(self.X_train)
        else:
            mean = self.X_train.mean(axis=(0, 1, 2), dtype=np.float64)
            std = self.X_train.std(axis=(0, 1, 2), dtype=np.float64)
        self.mean = (mean if normalization["featurewise_center"] else np.zeros_like(mean)).astype(np.float32)
        scale = std + 1e-6 if normalization["featurewise_std_normalization"] else np.ones_like(std)
        self.std = scale.astype(np.float32)

    @staticmethod
    def _as_images(images, name):
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[..., None]
        if images.ndim != 4:
            raise ValueError("{} must be a 3-D or 4-D array of images, got shape {}".format(name, images.shape))
        return images

    @staticmethod
    def _check_keys(kwargs, allowed, name):
        kwargs = dict(kwargs or {})
        unknown = sorted(set(kwargs) - set(allowed))
        if unknown:
            raise ValueError("{}: unsupported option(s) {}; supported: {}".format(name, unknown, list(allowed)))
        return kwargs

    # --- batches ---------------------------------------------------------------

    def normalize(self, images):
        """uint8/float images (N, H, W, C) -> normalized float32 (x - mean) / std."""
        images = np.asarray(images)
        num, height, width, channels = images.shape
        # per-channel constants tiled along whole image rows: long inner loops instead of loops of C
        mean_row = np.tile(self.mean, width)
        scale_row = np.tile(np.float32(1.0) / self.std, width)
        out = images.reshape(num, height, width * channels).astype(np.float32)
        out -= mean_row
        out *= scale_row
        return out.reshape(images.shape)

    def compose_batch(self, indices, train, augment=False, rng=None):
        """The normalized (and, if `augment`, randomly transformed) images at `indices` of one split.

        Normalization comes first: it is affine per channel, so it commutes with the (bilinear, weights
        summing to one) augmentation.
        """
        images = self.normalize((self.X_train if train else self.X_test)[np.asarray(indices, dtype=np.intp)])
        if augment and self.augmentation:
            images = aug.random_shift_zoom_flip(images, aug.as_generator(rng), **self.augmentation)
        return images

    def _sequence(self, train, batch_size, shuffle, augment, **options):
        labels = self.y_train if train else self.y_test
        return DataSequence(
            self, np.arange(len(labels)), labels, batch_size=batch_size, shuffle=shuffle, train=train, augment=augment, **options
        )

    def train_sequence(
        self,
        batch_size=32,
        shuffle=True,
        augment=True,
        batch_transform=None,
        batch_transform_kwargs=None,
        oversample=False,
        repeats=1,
        seed=None,
        workers=1,
        use_multiprocessing=False,
        max_queue_size=10,
    ):
        """Training batches as a `DataSequence` (see there for the arguments)."""
        return self._sequence(
            True, batch_size, shuffle, augment, batch_transform=batch_transform,
            batch_transform_kwargs=batch_transform_kwargs, oversample=oversample, repeats=repeats, seed=seed,
            workers=workers, use_multiprocessing=use_multiprocessing, max_queue_size=max_queue_size,
        )

    def test_sequence(
        self,
        batch_size=32,
        shuffle=False,
        augment=False,
        batch_transform=None,
        batch_transform_kwargs=None,
        seed=None,
        workers=1,
        use_multiprocessing=False,
        max_queue_size=10,
    ):
        """Test batches as a `DataSequence`; unshuffled, they come in the order of `labels_test`."""
        return self._sequence(
            False, batch_size, shuffle, augment, batch_transform=batch_transform,
            batch_transform_kwargs=batch_transform_kwargs, seed=seed,
            workers=workers, use_multiprocessing=use_multiprocessing, max_queue_size=max_queue_size,
        )

    def flow_train(self, batch_size=32, include_labels=True, shuffle=True, augment=True):
        """Endless generator of training batches (the original generator interface)."""
        return flow(self.train_sequence(batch_size, shuffle=shuffle, augment=augment), include_labels)

    def flow_test(self, batch_size=32, include_labels=True, shuffle=False, augment=False):
        """Endless generator of test batches (the original generator interface)."""
        return flow(self.test_sequence(batch_size, shuffle=shuffle, augment=augment), include_labels)

    # --- properties --------------------------------------------------------------

    @property
    def labels_train(self):
        return self.y_train

    @property
    def labels_test(self):
        return self.y_test

    @property
    def num_classes(self):
        """Largest label + 1, as the original (CIFAR-100-b keeps labels 50..99 and has 100 outputs)."""
        return int(max(self.y_train.max(initial=-1), self.y_test.max(initial=-1))) + 1

    @property
    def num_train(self):
        return len(self.X_train)

    @property
    def num_test(self):
        return len(self.X_test)

    @property
    def num_channels(self):
        return self.X_train.shape[-1]

    @property
    def image_shape(self):
        return tuple(self.X_train.shape[1:])


TinyDatasetGenerator = ArrayDatasetGenerator  # the original's name


def select_classes(X_train, y_train, X_test, y_test, classes=None, reenumerate=True, dataset_name="dataset"):
    """Restrict in-memory data to `classes` and optionally number them 0, 1, ... in the given order.

    Returns `(X_train, y_train, X_test, y_test, classes, class_indices)`. Without `classes`, all labels
    0..max are kept. With `reenumerate=False` the original labels are kept (CIFAR-100-a/-b).
    Raises a ValueError naming requested classes that have no training image.
    """
    y_train = np.asarray(y_train, dtype=np.int64)
    y_test = np.asarray(y_test, dtype=np.int64)
    classes = normalize_class_list(classes)
    if classes is None:
        classes = list(range(int(y_train.max(initial=-1)) + 1))
        return X_train, y_train, X_test, y_test, classes, {c: c for c in classes}
    check_classes_present(classes, np.unique(y_train).tolist(), dataset_name)
    class_indices = {c: i for i, c in enumerate(classes)} if reenumerate else {c: c for c in classes}
    mask_train, y_train = restrict_classes(y_train, class_indices)
    mask_test, y_test = restrict_classes(y_test, class_indices)
    return X_train[mask_train], y_train, X_test[mask_test], y_test, list(classes), class_indices


def __getattr__(name):
    # `from datasets.common import FileDatasetGenerator` as in the original; defined in .files
    if name == "FileDatasetGenerator":
        from .files import FileDatasetGenerator

        return FileDatasetGenerator
    raise AttributeError("module {!r} has no attribute {!r}".format(__name__, name))
