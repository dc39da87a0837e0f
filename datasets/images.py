"""Image files: finding, decoding and resizing them, and their channel statistics."""

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import PIL.Image

try:
    from tqdm import tqdm
except ImportError:  # pragma: no cover
    def tqdm(iterable, **kwargs):
        return iterable

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".tif", ".tiff", ".webp")
DECODE_ERRORS = (OSError, SyntaxError, ValueError, PIL.Image.DecompressionBombError)


def pair(size, name):
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
    return pair(target_size, "target_size")


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


def is_image_file(name):
    return name.lower().endswith(IMAGE_EXTENSIONS) and not name.startswith(".")


def list_images(directory):
    """Sorted paths of the image files directly in `directory`."""
    return sorted(os.path.join(directory, fn) for fn in os.listdir(directory) if is_image_file(fn))


def list_images_recursive(directory):
    """Sorted paths of the image files in `directory` and its sub-folders (hidden ones skipped)."""
    found = []
    for folder, subfolders, files in os.walk(directory):
        subfolders[:] = [d for d in subfolders if not d.startswith(".")]
        found.extend(os.path.join(folder, fn) for fn in files if is_image_file(fn))
    return sorted(found)


def has_images(directory):
    """True if `directory` or one of its sub-folders holds an image file."""
    for folder, subfolders, files in os.walk(directory):
        subfolders[:] = [d for d in subfolders if not d.startswith(".")]
        if any(is_image_file(fn) for fn in files):
            return True
    return False


def check_class_dirs(parent, classes):
    """ValueError naming the first class folder under `parent` that is missing or holds no image file."""
    for cls in classes:
        directory = os.path.join(parent, str(cls))
        if not os.path.isdir(directory):
            raise ValueError("{}: class directory not found".format(directory))
        if not has_images(directory):
            raise ValueError("{}: empty class directory (no image files)".format(directory))


def map_threads(function, items, desc, workers=None):
    """`[function(item) for item in items]` in a thread pool (PIL decodes without the GIL), with a bar."""
    workers = workers or min(8, os.cpu_count() or 1)
    if workers <= 1 or len(items) < 2:
        return [function(item) for item in tqdm(items, desc=desc, disable=len(items) < 2)]
    with ThreadPoolExecutor(workers) as pool:
        return list(tqdm(pool.map(function, items, chunksize=64), total=len(items), desc=desc))


def _moments(path):
    """(per-channel mean, per-channel mean of squares) of an image at full size, or None if unreadable."""
    try:
        with PIL.Image.open(path) as img:
            pixels = np.asarray(img.convert("RGB"), dtype=np.float64).reshape(-1, 3)
    except DECODE_ERRORS as e:
        return e
    return pixels.mean(axis=0), np.einsum("ij,ij->j", pixels, pixels) / len(pixels)


def file_channel_stats(files, mean=None, on_error=None):
    """Channel mean and std (RGB, 0..255) of image files, as the original computed them, in one pass.

    mean = the mean of the per-image channel means; std = sqrt(sum_i mean_pixels((x_i - mean)^2) / (N - 1)),
    where mean_pixels((x - m)^2) = E[x^2] - 2 m E[x] + m^2 per image (m: the mean as float32, as the
    original's stored mean). `mean` given: only the std is computed, around it.
    Unreadable files are passed to `on_error(path, error)` and left out.
    """
    moments = []
    for path, result in zip(files, map_threads(_moments, list(files), "Computing channel statistics")):
        if isinstance(result, Exception):
            if on_error is not None:
                on_error(path, result)
        else:
            moments.append(result)
    if not moments:
        raise ValueError("no readable training images to compute channel statistics from")
    first = np.array([m[0] for m in moments])
    second = np.array([m[1] for m in moments])
    if mean is None:
        mean = first.mean(axis=0)
    center = np.asarray(mean, dtype=np.float32).astype(np.float64)
    deviations = second - 2 * center * first + center**2
    std = np.sqrt(np.maximum(deviations.sum(axis=0), 0.0) / max(len(moments) - 1, 1))
    return np.asarray(mean, dtype=np.float64), std
