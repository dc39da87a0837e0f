"""Datasets of small images held in memory as arrays (CIFAR, Fashion-MNIST, digits, Tiny ImageNet)."""

import numpy as np

from . import augment as aug
from .base import (DatasetGenerator, LazyAttribute, check_class_balance, check_classes_present, class_ids_from,
                   normalize_class_list, restrict_classes)


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


def _as_images(images, name):
    images = np.asarray(images) if not isinstance(images, np.ndarray) else images
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4:
        raise ValueError("{} must be a 3-D or 4-D array of images, got shape {}".format(name, images.shape))
    return images


def _check_keys(kwargs, allowed, name):
    kwargs = dict(kwargs or {})
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise ValueError("{}: unsupported option(s) {}; supported: {}".format(name, unknown, list(allowed)))
    return kwargs


class ArrayDatasetGenerator(DatasetGenerator):
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
        class_balance: "oversample" to repeat the members of smaller classes in every training epoch
            up to the size of the largest (the default of `train_sequence(oversample=...)`), or None.
        image_size: None, or the side length the images already have (in-memory datasets are not resized).
    """

    _X_train = None
    _X_test = None

    def __init__(self, X_train, X_test, y_train, y_test, generator_kwargs=None, train_generator_kwargs=None,
                 class_balance=None, image_size=None):
        self._configure(generator_kwargs, train_generator_kwargs, class_balance)
        self._set_arrays(X_train, X_test, y_train, y_test)
        if image_size is not None and tuple(self.image_shape[:2]) != (image_size, image_size):
            raise ValueError("image_size {!r}: this dataset's images are {}x{} and in-memory datasets are not "
                             "resized".format(image_size, self.image_shape[1], self.image_shape[0]))

    def _configure(self, generator_kwargs, train_generator_kwargs, class_balance, default_augmentation=None):
        """Normalization switches, training augmentation and class balancing (no images needed)."""
        self.normalization = {"featurewise_center": True, "featurewise_std_normalization": True}
        self.normalization.update(_check_keys(generator_kwargs, _NORMALIZATION_KEYS, "generator_kwargs"))
        self.augmentation = default_augmentation or {
            "horizontal_flip": True, "width_shift_range": 0.15, "height_shift_range": 0.15}
        if train_generator_kwargs is not None:
            self.augmentation = _check_keys(train_generator_kwargs, _AUGMENTATION_KEYS, "train_generator_kwargs")
        if self.augmentation.get("fill_mode", "nearest") not in aug.FILL_MODES:
            raise ValueError("fill_mode must be one of {}, got {!r}".format(
                aug.FILL_MODES, self.augmentation["fill_mode"]))
        aug.zoom_bounds(self.augmentation.get("zoom_range", 0.0))
        self.class_balance = check_class_balance(class_balance)

    def _set_arrays(self, X_train, X_test, y_train, y_test):
        self._X_train = _as_images(X_train, "X_train")
        self._X_test = _as_images(X_test, "X_test")
        self.y_train = np.asarray(y_train, dtype=np.int64)
        self.y_test = np.asarray(y_test, dtype=np.int64)
        if len(self._X_train) != len(self.y_train) or len(self._X_test) != len(self.y_test):
            raise ValueError("number of images and labels differ")
        if self._X_train.shape[1:] != self._X_test.shape[1:]:
            raise ValueError("training and test images differ in shape: {} vs {}".format(
                self._X_train.shape[1:], self._X_test.shape[1:]))

    # --- the images: subclasses may read them on first use ----------------------------------

    def _load_train_images(self):
        """Set `_X_train` (datasets that read their images lazily override this)."""
        raise RuntimeError("{} has no training images".format(type(self).__name__))

    def _load_test_images(self):
        """Set `_X_test` (datasets that read their images lazily override this)."""
        raise RuntimeError("{} has no test images".format(type(self).__name__))

    X_train = LazyAttribute("_X_train", "_load_train_images", lambda v: _as_images(v, "X_train"),
                            "Training images (N, H, W, C), read on first use by datasets that load lazily.")
    X_test = LazyAttribute("_X_test", "_load_test_images", lambda v: _as_images(v, "X_test"),
                           "Test images (N, H, W, C), read on first use by datasets that load lazily.")

    def _channel_stats(self, mean=None):
        images = self.X_train
        if images.dtype == np.uint8:
            computed_mean, std = channel_stats_uint8(images)
        else:
            computed_mean = images.mean(axis=(0, 1, 2), dtype=np.float64)
            std = images.std(axis=(0, 1, 2), dtype=np.float64)
        return self._normalization_constants(computed_mean if mean is None else mean, std)

    def _normalization_constants(self, mean, std):
        """(mean, scale) as applied: zeros/ones where the normalization switches are off, std + 1e-6."""
        mean, std = np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64)
        mean = mean if self.normalization["featurewise_center"] else np.zeros_like(mean)
        scale = std + 1e-6 if self.normalization["featurewise_std_normalization"] else np.ones_like(std)
        return mean, scale

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
        images = (self.X_train if train else self.X_test)[np.asarray(indices, dtype=np.intp)]
        if augment and self.augmentation and aug.is_whole_pixel(**self.augmentation):
            # crops and flips commute with normalization: do them on the 4x smaller uint8 images
            return self.normalize(aug.random_whole_pixel_shift_flip(images, aug.as_generator(rng), **self.augmentation))
        images = self.normalize(images)
        if augment and self.augmentation:
            images = aug.random_shift_zoom_flip(images, aug.as_generator(rng), **self.augmentation)
        return images

    def _split(self, train):
        labels = self.y_train if train else self.y_test
        return np.arange(len(labels)), labels

    # --- properties --------------------------------------------------------------

    @property
    def num_classes(self):
        """Largest label + 1, as the original (CIFAR-100-b keeps labels 50..99 and has 100 outputs)."""
        return int(max(self.y_train.max(initial=-1), self.y_test.max(initial=-1))) + 1

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


def split_labels(y, classes=None, reenumerate=True, dataset_name="dataset"):
    """`(labels, class_ids)` of one split's raw labels `y`, restricted and numbered as `select_classes`
    does (requested classes are checked against this split): the cheap way to read a split's labels."""
    y = np.asarray(y, dtype=np.int64)
    no_images = np.empty((len(y), 0), dtype=np.uint8)
    _, labels, _, _, _, class_indices = select_classes(no_images, y, no_images[:0], y[:0], classes, reenumerate,
                                                       dataset_name)
    return labels, class_ids_from(class_indices, int(labels.max(initial=-1)) + 1)
