"""The batch sequence: a dataset's samples in batches as a `keras.utils.PyDataset`.

This is the only module of `datasets` that imports Keras; `datasets.base` imports it when the first
sequence is built.
"""

import keras
import numpy as np

from .pk_sampling import pk_batch_order


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
        per_class: K of batches of P = batch_size / K classes x K images (`datasets.pk_sampling`: classes and
            images drawn anew every epoch, shuffle or not) instead of a permutation; None: a permutation.
            The epoch keeps its number of batches (all full).
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
        per_class=None,
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
        self.per_class = None if per_class is None else int(per_class)
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
        """The sample order of the current epoch: `repeats` permutations (or P x K orders), one after the
        other; a function of (seed, epoch) alone, so that `set_epoch` replays an epoch."""
        rng = np.random.default_rng((self.seed, self.epoch, 2**31))
        orders = []
        for _ in range(self.repeats):
            if self.per_class is not None:
                orders.append(pk_batch_order(self.labels, self.batch_size, self.per_class, self.epoch_len, rng))
                continue
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
        if self.shuffle or self.per_class is not None:
            self._make_order()

    def set_epoch(self, epoch):
        """Continue at the start of `epoch` (0-based): the order and augmentations an uninterrupted run
        would use there (for resuming training from a snapshot)."""
        if int(epoch) < 0:
            raise ValueError("epoch must be >= 0, got {!r}".format(epoch))
        self.epoch = int(epoch)
        self._make_order()
