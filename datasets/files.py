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
from .common import DataSequence, check_classes_present, flow, normalize_class_list

try:
    from tqdm import tqdm
except ImportError:  # pragma: no cover
    def tqdm(iterable, **kwargs):
        return iterable

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".tif", ".tiff", ".webp")
DEFAULT_RANDERASE_PARAMS = {"sl": 0.02, "sh": 0.4, "r1": 0.3, "r2": 1.0 / 0.3}
# NABirds, CUB, Cars, Flowers and sub-directory datasets erase smaller areas (as the original).
FINE_GRAINED_RANDERASE_PARAMS = {"sl": 0.02, "sh": 0.3, "r1": 0.3, "r2": 1.0 / 0.3}
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, PIL.Image.DecompressionBombError)


def _pair(size, name):
    """An int or a pair -> (width, height) of ints."""
    if isinstance(size, (int, np.integer)):
        return int(size), int(size)
    try:
        width, height = (int(s) for s in size)
    except (TypeError, ValueError):
        raise ValueError("{} must be an int or a pair (width, height), got {!r}".format(name, size)) from None
    return width, height


def scaled_size(image_size, target_size):
    """(width, height) after resizing an image of `image_size` to `target_size`.

    An int target is the length of the shorter side (aspect ratio kept); a pair is (width, height).
    """
    width, height = image_size
    if isinstance(target_size, (int, np.integer)):
        if width < height:
            return int(target_size), max(1, int(round(height * target_size / width)))
        return max(1, int(round(width * target_size / height))), int(target_size)
    return _pair(target_size, "target_size")


def load_image(path, target_size=-1):
    """Decode an image file as RGB PIL image, resized to `target_size` (-1: original size).

    JPEGs that are shrunk by at least half are decoded in draft mode at the smallest DCT scale that
    is still at least as large as the target.
    """
    img = PIL.Image.open(path)
    if target_size is not None and not (isinstance(target_size, (int, np.integer)) and target_size <= 0):
        size = scaled_size(img.size, target_size)
        if img.format == "JPEG" and size[0] * 2 <= img.size[0] and size[1] * 2 <= img.size[1]:
            img.draft("RGB", size)
        img = img.convert("RGB")
        if img.size != size:
            img = img.resize(size, PIL.Image.BILINEAR)
        return img
    return img.convert("RGB")


class FileDatasetGenerator:
    """Base class of datasets given as image files (the original `FileDatasetGenerator`).

    Subclasses fill `classes`, `class_indices`, `train_img_files`, `test_img_files`, `_train_labels`,
    `_test_labels` and call `_compute_stats(mean, std)`.

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
        randerase_params: `sl`, `sh` (area fraction range), `r1`, `r2` (aspect ratio range).
        color_mode: "rgb" or "bgr" (batches in BGR order; `mean`/`std` are always given in RGB).
        train_repeats: passes over the training images per epoch of `train_sequence`.
    """

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
    ):
        if root_dir is None or not os.path.isdir(root_dir):
            raise ValueError("{}: dataset root directory not found".format(root_dir))
        self.root_dir = root_dir
        self.cropsize = _pair(cropsize, "cropsize") if cropsize is not None else None
        self.default_target_size = default_target_size
        if randzoom_range is not None and (len(randzoom_range) != 2 or randzoom_range[0] > randzoom_range[1]):
            raise ValueError("randzoom_range must be a pair (min, max), got {!r}".format(randzoom_range))
        self.randzoom_range = randzoom_range
        self.randrot_max = float(randrot_max)
        self.distort_colors = bool(distort_colors)
        self.colordistort_params = dict(colordistort_params or {})
        if not 0.0 <= randerase_prob <= 1.0:
            raise ValueError("randerase_prob must be in [0, 1], got {!r}".format(randerase_prob))
        self.randerase_prob = float(randerase_prob)
        self.randerase_params = dict(DEFAULT_RANDERASE_PARAMS, **(randerase_params or {}))
        if color_mode.lower() not in ("rgb", "bgr"):
            raise ValueError("color_mode must be 'rgb' or 'bgr', got {!r}".format(color_mode))
        self.color_mode = color_mode.lower()
        self.train_repeats = int(train_repeats)
        self.classes = []
        self.class_indices = {}
        self.train_img_files = []
        self.test_img_files = []
        self._train_labels = []
        self._test_labels = []
        self.corrupt_files = set()
        self.mean = self.std = None
        warnings.filterwarnings("ignore", ".*[Cc]orrupt EXIF data.*", UserWarning)

    # --- set-up helpers for subclasses ------------------------------------------------

    def _set_classes(self, requested, available, dataset_name):
        """`classes` and `class_indices`: the requested classes in the given order, or all available ones."""
        requested = normalize_class_list(requested)
        available = list(available)
        if requested is not None and available and all(isinstance(c, str) for c in available):
            requested = [str(c) for c in requested]  # e.g. numeric folder names read from a class list
        elif requested is not None and available and all(isinstance(c, (int, np.integer)) for c in available):
            requested = [int(c) if isinstance(c, str) and c.strip().lstrip("-").isdigit() else c for c in requested]
        if requested is None:
            self.classes = list(available)
        else:
            check_classes_present(requested, available, dataset_name)
            self.classes = requested
        self.class_indices = {c: i for i, c in enumerate(self.classes)}

    def _finish(self, mean, std):
        """Convert the file lists and labels, report the size, and set the channel statistics."""
        self._train_labels = np.asarray(self._train_labels, dtype=np.int64)
        self._test_labels = np.asarray(self._test_labels, dtype=np.int64)
        if self.num_train == 0:
            raise ValueError("{}: no training images found".format(self.root_dir))
        print("Found {} training and {} validation images from {} classes.".format(
            self.num_train, self.num_test, self.num_classes))
        self._compute_stats(mean, std)

    def _compute_stats(self, mean=None, std=None):
        """Store the channel mean and std (RGB, 0..255); compute what is not given from the training images.

        As the original: the mean of the per-image channel means, and the square root of the sum of
        per-image mean squared deviations divided by (number of images - 1). Unreadable images are
        reported and left out.
        """
        if mean is None:
            image_means = [img.mean(axis=(0, 1)) for img in self._training_images("Computing channel mean")]
            mean = np.mean(image_means, axis=0)
            print("Channel-wise mean:               {}".format(mean))
        self.mean = np.asarray(mean, dtype=np.float32).reshape(3)
        if std is None:
            deviations = [np.mean((img - self.mean) ** 2, axis=(0, 1))
                          for img in self._training_images("Computing channel variance")]
            std = np.sqrt(np.sum(deviations, axis=0) / max(len(deviations) - 1, 1))
            print("Channel-wise standard deviation: {}".format(std))
        self.std = np.asarray(std, dtype=np.float32).reshape(3)
        if np.any(self.std <= 0):
            raise ValueError("channel standard deviations must be positive, got {}".format(self.std))

    def _training_images(self, description):
        """The readable training images as float64 arrays, with a progress bar."""
        for fn in tqdm(self.train_img_files, desc=description):
            try:
                yield np.asarray(load_image(fn), dtype=np.float64)
            except _DECODE_ERRORS as e:
                self._report(fn, e)

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
        colour = np.round(self.mean if self.mean is not None else np.zeros(3)).astype(np.uint8)
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
        except _DECODE_ERRORS as e:
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

    def compose_batch(
        self,
        filenames,
        rng=None,
        cropsize=None,
        randcrop=False,
        target_size=None,
        normalize=True,
        hflip=False,
        vflip=False,
        randzoom=False,
        randrot=False,
        colordistort=False,
        randerase=False,
        data_format=None,
    ):
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
                except _DECODE_ERRORS:
                    pass
            cropsize = (int(np.median([s[0] for s in sizes])), int(np.median([s[1] for s in sizes]))) if sizes else (1, 1)
        cropsize = _pair(cropsize, "cropsize")
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

    def _augment_kwargs(self, augment, train):
        return dict(
            cropsize=self.cropsize, randcrop=augment, normalize=True, hflip=augment, vflip=False,
            randzoom=augment, randrot=augment, colordistort=self.distort_colors and augment and train,
            randerase=augment,
        )

    def train_sequence(
        self,
        batch_size=32,
        shuffle=True,
        target_size=None,
        augment=True,
        batch_transform=None,
        batch_transform_kwargs=None,
        oversample=False,
        repeats=None,
        seed=None,
        workers=1,
        use_multiprocessing=False,
        max_queue_size=10,
    ):
        """Training batches as a `DataSequence`; `repeats` defaults to the dataset's `train_repeats`."""
        return DataSequence(
            self, self.train_img_files, self._train_labels, batch_size=batch_size, shuffle=shuffle,
            oversample=oversample, repeats=self.train_repeats if repeats is None else repeats,
            batch_transform=batch_transform, batch_transform_kwargs=batch_transform_kwargs, seed=seed,
            workers=workers, use_multiprocessing=use_multiprocessing, max_queue_size=max_queue_size,
            target_size=target_size, **self._augment_kwargs(augment, True),
        )

    def test_sequence(
        self,
        batch_size=32,
        shuffle=False,
        target_size=None,
        augment=False,
        batch_transform=None,
        batch_transform_kwargs=None,
        seed=None,
        workers=1,
        use_multiprocessing=False,
        max_queue_size=10,
    ):
        """Test batches as a `DataSequence`; unshuffled, they come in the order of `labels_test`."""
        return DataSequence(
            self, self.test_img_files, self._test_labels, batch_size=batch_size, shuffle=shuffle,
            batch_transform=batch_transform, batch_transform_kwargs=batch_transform_kwargs, seed=seed,
            workers=workers, use_multiprocessing=use_multiprocessing, max_queue_size=max_queue_size,
            target_size=target_size, **self._augment_kwargs(augment, False),
        )

    def flow_train(self, batch_size=32, include_labels=True, shuffle=True, target_size=None, augment=True):
        """Endless generator of training batches (the original generator interface)."""
        return flow(self.train_sequence(batch_size, shuffle=shuffle, target_size=target_size, augment=augment),
                    include_labels)

    def flow_test(self, batch_size=32, include_labels=True, shuffle=False, target_size=None, augment=False):
        """Endless generator of test batches (the original generator interface)."""
        return flow(self.test_sequence(batch_size, shuffle=shuffle, target_size=target_size, augment=augment),
                    include_labels)

    # --- properties ----------------------------------------------------------------------

    @property
    def labels_train(self):
        """Labels 0..num_classes-1 of `train_img_files`; `classes[label]` is the original class."""
        return self._train_labels

    @property
    def labels_test(self):
        """Labels of `test_img_files`, in the order of `test_sequence` batches."""
        return self._test_labels

    @property
    def num_classes(self):
        return len(self.classes)

    @property
    def num_train(self):
        return len(self.train_img_files)

    @property
    def num_test(self):
        return len(self.test_img_files)

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


def list_images(directory):
    """Sorted paths of the image files directly in `directory`."""
    return sorted(
        os.path.join(directory, fn) for fn in os.listdir(directory)
        if fn.lower().endswith(IMAGE_EXTENSIONS) and not fn.startswith(".")
    )
