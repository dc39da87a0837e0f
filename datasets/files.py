"""Datasets of image files: decoding with PIL, resizing, cropping and augmentation per image.

Images are decoded in the workers of the `DataSequence` (threads or processes: `workers`,
`use_multiprocessing`). When an image is to be shrunk, JPEG draft mode decodes it directly at a
reduced scale (1/2, 1/4 or 1/8), which is much faster than decoding it at full size.

A corrupt, truncated or missing image does not stop a long run: it is reported once per file with
a `UserWarning` naming the file (and listed in `corrupt_files` of the process that hit it) and
replaced by a blank image (the mean colour, i.e. zeros after normalization); its label is kept.
"""

import os
import warnings

import numpy as np
import PIL.Image

from . import augment as aug
from .base import DatasetGenerator, check_class_balance, choose_classes
from .cache import fingerprint, read_json, write_json
from .images import (  # noqa: F401  (load_image, scaled_size, list_images, IMAGE_EXTENSIONS: the old home)
    DECODE_ERRORS, IMAGE_EXTENSIONS, file_channel_stats, list_images, load_image, pair, scaled_size)

DEFAULT_RANDERASE_PARAMS = {"sl": 0.02, "sh": 0.4, "r1": 0.3, "r2": 1.0 / 0.3}
# NABirds, CUB, Cars, Flowers and sub-directory datasets erase smaller areas (as the original).
FINE_GRAINED_RANDERASE_PARAMS = {"sl": 0.02, "sh": 0.3, "r1": 0.3, "r2": 1.0 / 0.3}


def sizes_for_image_size(image_size, cropsize, default_target_size, randzoom_range):
    """(cropsize, default_target_size, randzoom_range) for square crops of side `image_size`.

    The dataset's own proportions are kept: images are resized by the factor that turns its crop
    width into `image_size` (resize 256 / crop 224 becomes resize 73 / crop 64 for `image_size=64`);
    a dataset that keeps the images' size (-1) resizes their shorter side to `image_size`. Random
    scale ranges in pixels scale with it; relative ones stay.
    """
    if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)) or image_size < 1:
        raise ValueError("image_size must be a positive integer, got {!r}".format(image_size))
    size = int(image_size)
    factor = size / pair(cropsize, "cropsize")[0] if cropsize is not None else 1.0

    def scaled(value):
        return max(size, int(round(value * factor)))

    if isinstance(default_target_size, (int, np.integer)):
        target = size if default_target_size <= 0 or cropsize is None else scaled(default_target_size)
    else:
        target = tuple(scaled(s) for s in pair(default_target_size, "default_target_size"))
    if randzoom_range is not None and all(isinstance(v, (int, np.integer)) for v in randzoom_range):
        randzoom_range = tuple(scaled(v) for v in randzoom_range)
    return (size, size), target, randzoom_range


class FileDatasetGenerator(DatasetGenerator):
    """Base class of datasets given as image files (the original `FileDatasetGenerator`).

    Subclasses fill `classes`, `class_indices`, `train_img_files`, `test_img_files`, `_train_labels`,
    `_test_labels` (via `_set_classes`) and call `_finish(mean, std)`. Channel statistics not given
    are computed from the training images when first needed (cached in `stats_cache` if a subclass
    sets that path).

    Arguments:
        root_dir: root directory of the dataset.
        cropsize: (width, height) of the crops in a batch (images smaller than that are padded by reflection).
        default_target_size: size images are resized to before cropping: an int for the shorter side,
            a pair (width, height), or -1 to keep their size.
        randzoom_range: random scale augmentation: (min, max) of the shorter side in pixels (ints) or
            relative to the target size (floats); None: off.
        randrot_max: largest random rotation in degrees (0: off).
        distort_colors: random colour distortion for training images.
        colordistort_params: keyword arguments of `augment.distort_color`.
        randerase_prob: probability of random erasing (applied to the crop).
        randerase_params: `sl`, `sh` (area fraction range), `r1`, `r2` (aspect ratio range); None: the
            class's `default_randerase_params`.
        color_mode: "rgb" or "bgr" (batches in BGR order; `mean`/`std` are always given in RGB).
        train_repeats: passes over the training images per epoch of `train_sequence`.
        image_size: square crops of this side, the resize scaled alike (see `sizes_for_image_size`);
            None: `cropsize` and `default_target_size` as given.
        class_balance: "oversample" (smaller classes repeated in every training epoch) or None.
    """

    default_randerase_params = DEFAULT_RANDERASE_PARAMS
    stats_cache = None

    def __init__(
        self,
        root_dir,
        cropsize=(224, 224),
        default_target_size=-1,
        randzoom_range=None,
        randrot_max=0,
        distort_colors=False,
        colordistort_params=None,
        randerase_prob=0.0,
        randerase_params=None,
        color_mode="rgb",
        train_repeats=1,
        image_size=None,
        class_balance=None,
    ):
        if root_dir is None or not os.path.isdir(root_dir):
            raise ValueError("{}: dataset root directory not found".format(root_dir))
        if randzoom_range is not None and (len(randzoom_range) != 2 or randzoom_range[0] > randzoom_range[1]):
            raise ValueError("randzoom_range must be a pair (min, max), got {!r}".format(randzoom_range))
        if image_size is not None:
            cropsize, default_target_size, randzoom_range = sizes_for_image_size(
                image_size, cropsize, default_target_size, randzoom_range)
        self.root_dir = root_dir
        self.cropsize = pair(cropsize, "cropsize") if cropsize is not None else None
        self.default_target_size = default_target_size
        self.randzoom_range = randzoom_range
        self.randrot_max = float(randrot_max)
        self.distort_colors = bool(distort_colors)
        self.colordistort_params = dict(colordistort_params or {})
        if not 0.0 <= randerase_prob <= 1.0:
            raise ValueError("randerase_prob must be in [0, 1], got {!r}".format(randerase_prob))
        self.randerase_prob = float(randerase_prob)
        self.randerase_params = dict(DEFAULT_RANDERASE_PARAMS, **(randerase_params or self.default_randerase_params))
        if color_mode.lower() not in ("rgb", "bgr"):
            raise ValueError("color_mode must be 'rgb' or 'bgr', got {!r}".format(color_mode))
        self.color_mode = color_mode.lower()
        self.train_repeats = int(train_repeats)
        self.class_balance = check_class_balance(class_balance)
        self.classes = []
        self.class_indices = {}
        self.train_img_files = []
        self.test_img_files = []
        self._train_labels = []
        self._test_labels = []
        self.corrupt_files = set()
        warnings.filterwarnings("ignore", ".*[Cc]orrupt EXIF data.*", UserWarning)

    # --- set-up helpers for subclasses ------------------------------------------------

    def _set_classes(self, requested, available, dataset_name):
        """`classes` and `class_indices`: the requested classes in the given order, or all available ones."""
        self.classes, self.class_indices = choose_classes(requested, available, dataset_name)

    def _finish(self, mean, std):
        """Convert the file lists and labels, report the size, and keep the channel statistics given
        (those not given are computed when first needed)."""
        self._train_labels = np.asarray(self._train_labels, dtype=np.int64)
        self._test_labels = np.asarray(self._test_labels, dtype=np.int64)
        if self.num_train == 0:
            raise ValueError("{}: no training images found".format(self.root_dir))
        print("Found {} training and {} validation images from {} classes.".format(
            self.num_train, self.num_test, self.num_classes))
        self.mean = None if mean is None else np.asarray(mean, dtype=np.float32).reshape(3)
        self.std = None if std is None else self._checked_std(std)

    @staticmethod
    def _checked_std(std):
        std = np.asarray(std, dtype=np.float32).reshape(3)
        if np.any(std <= 0):
            raise ValueError("channel standard deviations must be positive, got {}".format(std))
        return std

    def _compute_stats(self, mean=None, std=None):
        """Set the channel statistics (RGB, 0..255), computing those not given now (the original's name)."""
        self.mean = None if mean is None else np.asarray(mean, dtype=np.float32).reshape(3)
        self.std = None if std is None else self._checked_std(std)
        self._ensure_stats()

    def _channel_stats(self, mean=None):
        """The mean of the per-image channel means and the original's pooled std of the training images.

        With `stats_cache` set, statistics computed from the same training file list are reused.
        """
        key = fingerprint(os.path.relpath(f, self.root_dir) for f in self.train_img_files)
        cached = read_json(self.stats_cache) if self.stats_cache and mean is None else None
        if cached is not None and cached.get("train_files") == key:
            return cached["mean"], self._checked_std(cached["std"])
        mean_given = mean is not None
        mean, std = file_channel_stats(self.train_img_files, mean, on_error=self._report)
        if not mean_given:
            print("Channel-wise mean:               {}".format(mean))
        print("Channel-wise standard deviation: {}".format(std))
        if self.stats_cache and not mean_given:
            write_json(self.stats_cache, {"train_files": key, "num_images": len(self.train_img_files),
                                          "mean": [float(v) for v in mean], "std": [float(v) for v in std]})
        return mean, self._checked_std(std)

    def _target_size(self, target_size, randzoom, rng, image_size):
        """The size to resize an image of `image_size` to, with random scale augmentation if requested."""
        if target_size is None:
            target_size = self.default_target_size
        if randzoom and self.randzoom_range is not None:
            low, high = self.randzoom_range
            if isinstance(low, float) or isinstance(high, float):  # relative to the target (or image) size
                factor = rng.uniform(low, high)
                if isinstance(target_size, (int, np.integer)) and target_size <= 0:
                    target_size = image_size
                if isinstance(target_size, (int, np.integer)):
                    target_size = max(1, int(round(target_size * factor)))
                else:
                    target_size = tuple(max(1, int(round(s * factor))) for s in target_size)
            else:
                target_size = int(rng.integers(low, high)) if high > low else int(low)
        if isinstance(target_size, (int, np.integer)) and target_size <= 0:
            return tuple(image_size)
        return scaled_size(image_size, target_size)

    def _blank(self, size):
        """A mean-coloured uint8 image of (width, height) `size`: the stand-in for unreadable files."""
        colour = np.round(self._mean if self._mean is not None else np.zeros(3)).astype(np.uint8)
        return np.broadcast_to(colour, (size[1], size[0], 3)).copy()

    def _report(self, filename, error):
        if filename not in self.corrupt_files:
            self.corrupt_files.add(filename)
            warnings.warn("cannot read image {} ({}); using a blank image instead".format(filename, error))

    def _load_crop(self, filename, rng, target_size, cropsize, randcrop, randzoom, randrot,
                   hflip=False, vflip=False, bgr=False):
        """One image: decoded, resized (random scale), rotated and cropped to `cropsize` (width, height)
        at a random or the central position, sides shorter than the crop padded by reflection;
        flipped and put into BGR order as requested (by PIL, on 8-bit data: cheaper than numpy views).
        Returns uint8 (h, w, 3).

        Without rotation only the crop window is resampled (`resize(box=...)`): the same pixels as
        resizing the whole image and cropping afterwards, at a fraction of the cost.
        """
        try:
            img = PIL.Image.open(filename)
            size = self._target_size(target_size, randzoom, rng, img.size)
            if img.format == "JPEG" and size[0] * 2 <= img.size[0] and size[1] * 2 <= img.size[1]:
                img.draft("RGB", size)  # decode at 1/2, 1/4 or 1/8 scale, still >= size
            if img.mode != "RGB":
                img = img.convert("RGB")
            if randrot and self.randrot_max > 0:
                if img.size != size:
                    img = img.resize(size, PIL.Image.BILINEAR)
                img = img.rotate(rng.uniform(-self.randrot_max, self.randrot_max), PIL.Image.BILINEAR)
            crop_w, crop_h = cropsize or size
            x0, y0 = (self._offset(have, want, rng, randcrop) for have, want in zip(size, (crop_w, crop_h)))
            width, height = min(crop_w, size[0]), min(crop_h, size[1])
            if img.size == size:
                region = img.crop((x0, y0, x0 + width, y0 + height)) if (width, height) != size else img
            else:
                sx, sy = img.size[0] / size[0], img.size[1] / size[1]
                region = img.resize((width, height), PIL.Image.BILINEAR,
                                    box=(x0 * sx, y0 * sy, (x0 + width) * sx, (y0 + height) * sy))
            if hflip:
                region = region.transpose(PIL.Image.Transpose.FLIP_LEFT_RIGHT)
            if vflip:
                region = region.transpose(PIL.Image.Transpose.FLIP_TOP_BOTTOM)
            if bgr:
                region = PIL.Image.merge("RGB", region.split()[::-1])
            arr = np.asarray(region, dtype=np.uint8)
        except DECODE_ERRORS as e:
            self._report(filename, e)
            return self._blank(cropsize or (1, 1))
        if width < crop_w or height < crop_h:
            pads = [self._padding(height, crop_h, rng, randcrop), self._padding(width, crop_w, rng, randcrop), (0, 0)]
            arr = np.pad(arr, pads, "reflect")
        return arr

    @staticmethod
    def _offset(have, want, rng, random_position):
        """Start of a crop of length `want` in `have` (0 if it does not fit)."""
        if have <= want:
            return 0
        return int(rng.integers(have - want + 1)) if random_position else (have - want) // 2

    @staticmethod
    def _padding(have, want, rng, random_position):
        """(before, after) padding of length `have` to `want`."""
        extra = max(want - have, 0)
        before = int(rng.integers(extra + 1)) if random_position else extra // 2
        return before, extra - before

    # --- batches -------------------------------------------------------------------------

    def compose_batch(self, filenames, rng=None, cropsize=None, randcrop=False, target_size=None, normalize=True,
                      hflip=False, vflip=False, randzoom=False, randrot=False, colordistort=False, randerase=False,
                      data_format=None):
        """A batch (float32, NHWC unless `data_format='channels_first'`) of the given image files.

        Each image is resized (`target_size`, default `default_target_size`; `randzoom` for random
        scale), optionally rotated, cropped to `cropsize` (random position if `randcrop`, else central;
        `None`: the median size of the batch), colour-distorted, normalized, flipped and erased.
        """
        rng = aug.as_generator(rng)
        if cropsize is None:  # the median size of the batch: find the sizes first
            sizes = []
            for fn in filenames:
                try:
                    with PIL.Image.open(fn) as img:
                        sizes.append(self._target_size(target_size, False, rng, img.size))
                except DECODE_ERRORS:
                    pass
            cropsize = (int(np.median([s[0] for s in sizes])), int(np.median([s[1] for s in sizes]))) if sizes else (1, 1)
        cropsize = pair(cropsize, "cropsize")
        num, width, height = len(filenames), cropsize[0], cropsize[1]
        hflips = rng.random(num) < 0.5 if hflip else np.zeros(num, bool)
        vflips = rng.random(num) < 0.5 if vflip else np.zeros(num, bool)
        bgr = self.color_mode == "bgr"
        batch = np.empty((num, height, width, 3), np.float32)
        for k, fn in enumerate(filenames):
            crop = self._load_crop(fn, rng, target_size, cropsize, randcrop, randzoom, randrot,
                                   hflips[k], vflips[k], bgr)
            if colordistort:  # in RGB order
                crop = aug.distort_color(crop[..., ::-1] if bgr else crop, rng, **self.colordistort_params)
                crop = crop[..., ::-1] if bgr else crop
            batch[k] = crop
        mean, std = (self.mean[::-1], self.std[::-1]) if bgr else (self.mean, self.std)
        if normalize:
            rows = batch.reshape(num, height, width * 3)  # whole rows: long inner loops
            rows -= np.tile(mean, width)
            rows *= np.tile(np.float32(1.0) / std, width)
        else:
            mean, std = np.zeros(3, np.float32), np.ones(3, np.float32)
        if randerase and self.randerase_prob > 0:
            for k in np.flatnonzero(rng.random(num) < self.randerase_prob):
                aug.random_erase(batch[k], rng, mean, std, **self.randerase_params)
        if data_format == "channels_first":
            batch = np.ascontiguousarray(batch.transpose(0, 3, 1, 2))
        return batch

    def _compose_kwargs(self, train, augment, target_size=None):
        return dict(
            target_size=target_size, cropsize=self.cropsize, randcrop=augment, normalize=True, hflip=augment,
            vflip=False, randzoom=augment, randrot=augment, colordistort=self.distort_colors and augment and train,
            randerase=augment,
        )

    def _split(self, train):
        if train:
            return self.train_img_files, self._train_labels
        return self.test_img_files, self._test_labels

    # The original's positional order puts `target_size` third; the other options are those of
    # `DatasetGenerator.train_sequence` / `test_sequence`.

    def train_sequence(self, batch_size=32, shuffle=True, target_size=None, augment=True, batch_transform=None,
                       batch_transform_kwargs=None, **options):
        """Training batches as a `DataSequence`; `repeats` defaults to the dataset's `train_repeats`."""
        return super().train_sequence(batch_size, shuffle, augment, batch_transform, batch_transform_kwargs,
                                      target_size=target_size, **options)

    def test_sequence(self, batch_size=32, shuffle=False, target_size=None, augment=False, batch_transform=None,
                      batch_transform_kwargs=None, **options):
        """Test batches as a `DataSequence`; unshuffled, they come in the order of `labels_test`."""
        return super().test_sequence(batch_size, shuffle, augment, batch_transform, batch_transform_kwargs,
                                     target_size=target_size, **options)

    def flow_train(self, batch_size=32, include_labels=True, shuffle=True, target_size=None, augment=True):
        """Endless generator of training batches (the original generator interface)."""
        return super().flow_train(batch_size, include_labels, shuffle, augment, target_size=target_size)

    def flow_test(self, batch_size=32, include_labels=True, shuffle=False, target_size=None, augment=False):
        """Endless generator of test batches (the original generator interface)."""
        return super().flow_test(batch_size, include_labels, shuffle, augment, target_size=target_size)

    @property
    def num_channels(self):
        return 3


def read_id_table(path, value_type=str, what="entries"):
    """`{first token: second token}` of a whitespace-separated two-column text file.

    Raises a ValueError naming the file and line of a malformed line.
    """
    if not os.path.isfile(path):
        raise ValueError("{}: file not found".format(path))
    table = {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            parts = line.split(None, 1)
            if len(parts) != 2:
                raise ValueError("{}:{}: expected an image id and {}, got {!r}".format(path, lineno, what, line.strip()))
            try:
                table[parts[0]] = value_type(parts[1].strip())
            except ValueError:
                raise ValueError("{}:{}: invalid {} {!r}".format(path, lineno, what, parts[1].strip())) from None
    return table


