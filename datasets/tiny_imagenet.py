"""Tiny ImageNet (200 ImageNet classes, 64x64 RGB photos) in its published layout, held in memory.

Layout (the folder `tiny-imagenet-200`, or the `tiny-imagenet-200.tar.gz` archive of it): `wnids.txt`
(the 200 wnids), `words.txt` (wnid -> names), `train/<wnid>/images/*.JPEG` (500 per class),
`val/images/*.JPEG` with `val/val_annotations.txt` (file, wnid, box). The val split is the test split
(the test split of the archive has no labels).

Class ids are the wnids (str). Classes are numbered in the order of `wnids.txt` unless `classes` (e.g.
a class embedding's `ind2label`) gives another order; test images come in the order of
`val_annotations.txt`, training images class by class, in file-name order.

The images are decoded once (threads, progress bar) into uint8 arrays cached as `.npy` files beside the
data, or in the cache folder when that is read-only (see `datasets.cache`); later runs load them in a
second. They are held in memory when they fit into half the available memory, memory-mapped otherwise.
Other sizes (`image_size`) are resized once from the 64x64 arrays (PIL, bilinear with antialiasing)
and cached too. Training augmentation: random crops from the image padded by `image_size / 8`
pixels by reflection (whole-pixel shifts) and horizontal flips. Channel statistics: exact over the
training images, cached in a JSON file.
"""

import io
import os
import tarfile
import warnings

import numpy as np
import PIL.Image

from utils import atomic_path

from . import cache
from .arrays import ArrayDatasetGenerator, channel_stats_uint8
from .base import choose_classes
from .images import DECODE_ERRORS, is_image_file, map_threads

NATIVE_SIZE = 64
TOP_FOLDER = "tiny-imagenet-200"


def crop_flip_augmentation(image_size):
    """Random crops of the image padded by `image_size // 8` pixels (reflection) and horizontal flips."""
    pad = max(1, image_size // 8)
    return {"horizontal_flip": True, "width_shift_range": pad, "height_shift_range": pad, "fill_mode": "reflect"}


# ---------------------------------------------------------------------------
# The index: wnids, training and validation images (paths relative to the dataset folder) with wnids
# ---------------------------------------------------------------------------


def parse_index(wnids_text, annotations_text, train_names, where):
    """`{"wnids", "train", "val"}` from the texts of wnids.txt and val_annotations.txt and the relative
    paths of the training images; ValueError naming the file and line of a bad entry."""
    wnids = wnids_text.split()
    if not wnids:
        raise ValueError("{}: wnids.txt is empty".format(where))
    if len(set(wnids)) != len(wnids):
        raise ValueError("{}: wnids.txt lists a wnid twice".format(where))
    by_class = {wnid: [] for wnid in wnids}
    for name in train_names:
        parts = name.split("/")
        if len(parts) == 4 and parts[0] == "train" and parts[2] == "images" and parts[1] in by_class:
            by_class[parts[1]].append(name)
    train = []
    for wnid in wnids:
        if not by_class[wnid]:
            raise ValueError("{}: empty class directory (no image files)".format(
                os.path.join(where, "train", wnid, "images")))
        train.extend([name, wnid] for name in sorted(by_class[wnid]))
    val = []
    for lineno, line in enumerate(annotations_text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 2 or fields[1] not in by_class:
            raise ValueError("{}:{}: expected an image file and one of the wnids of wnids.txt, got {!r}".format(
                os.path.join(where, "val", "val_annotations.txt"), lineno, line.strip()))
        val.append(["val/images/" + fields[0], fields[1]])
    if not val:
        raise ValueError("{}: no validation images".format(os.path.join(where, "val", "val_annotations.txt")))
    return {"wnids": wnids, "train": train, "val": val}


def read_class_names(words_text, wnids):
    """The first name of each wnid in words.txt (`wnid<TAB>name, name, ...`), or the wnid itself."""
    names = {}
    wanted = set(wnids)
    for line in words_text.splitlines():
        wnid, _, text = line.partition("\t")
        if wnid in wanted:
            names[wnid] = text.split(",")[0].strip() or wnid
    return [names.get(wnid, wnid) for wnid in wnids]


def _read_text(path, required=True):
    if not os.path.isfile(path):
        if required:
            raise ValueError("{}: file not found (not the Tiny ImageNet layout?)".format(path))
        return ""
    with open(path, encoding="utf-8") as f:
        return f.read()


def index_folder(root):
    """The index and class names of the dataset folder `root` (lists the training folders)."""
    wnids_text = _read_text(os.path.join(root, "wnids.txt"))
    train_names = []
    for wnid in wnids_text.split():
        folder = os.path.join(root, "train", wnid, "images")
        if os.path.isdir(folder):
            train_names.extend("train/{}/images/{}".format(wnid, fn) for fn in os.listdir(folder) if is_image_file(fn))
    index = parse_index(wnids_text, _read_text(os.path.join(root, "val", "val_annotations.txt")), train_names, root)
    index["names"] = read_class_names(_read_text(os.path.join(root, "words.txt"), required=False), index["wnids"])
    return index


def read_archive(path):
    """`(index, contents)` of the .tar(.gz) archive: one sequential pass; contents: relative path -> bytes."""
    texts, contents = {}, {}
    try:
        with tarfile.open(path, "r:*") as archive:
            for member in archive:
                if not member.isfile():
                    continue
                parts = member.name.strip("/").split("/")
                rel = "/".join(parts[1:]) if parts[0] == TOP_FOLDER else "/".join(parts)
                if rel in ("wnids.txt", "words.txt", "val/val_annotations.txt"):
                    texts[rel] = archive.extractfile(member).read().decode("utf-8")
                elif rel.startswith(("train/", "val/images/")) and is_image_file(rel.rsplit("/", 1)[-1]):
                    contents[rel] = archive.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError, UnicodeDecodeError) as e:
        raise ValueError("{}: not a readable Tiny ImageNet archive ({})".format(path, e)) from None
    for required in ("wnids.txt", "val/val_annotations.txt"):
        if required not in texts:
            raise ValueError("{}: no {} in the archive (not the Tiny ImageNet layout?)".format(path, required))
    train_names = [rel for rel in contents if rel.startswith("train/")]
    index = parse_index(texts["wnids.txt"], texts["val/val_annotations.txt"], train_names, path)
    index["names"] = read_class_names(texts.get("words.txt", ""), index["wnids"])
    return index, contents


# ---------------------------------------------------------------------------
# Decoding and the array cache
# ---------------------------------------------------------------------------


def decode_image(content, where, size=NATIVE_SIZE):
    """RGB uint8 (size, size, 3) of an image file (path or bytes); resized if it has another size."""
    try:
        with PIL.Image.open(io.BytesIO(content) if isinstance(content, bytes) else content) as img:
            img = img.convert("RGB")
            if img.size != (size, size):
                img = img.resize((size, size), PIL.Image.BILINEAR)
            return np.asarray(img, dtype=np.uint8)
    except DECODE_ERRORS as e:
        raise ValueError("{}: cannot decode image ({})".format(where, e)) from None


def decode_all(sources, wheres, desc):
    """uint8 (N, 64, 64, 3) of the images `sources` (paths or bytes), decoded in threads."""
    out = np.empty((len(sources), NATIVE_SIZE, NATIVE_SIZE, 3), dtype=np.uint8)

    def decode(i):
        out[i] = decode_image(sources[i], wheres[i])

    map_threads(decode, range(len(sources)), desc)
    return out


def resize_all(images, size, desc):
    """Every image of a uint8 (N, H, W, 3) array resized to size x size (PIL bilinear, antialiased)."""
    out = np.empty((len(images), size, size, 3), dtype=np.uint8)

    def resize(i):
        out[i] = np.asarray(PIL.Image.fromarray(images[i]).resize((size, size), PIL.Image.BILINEAR))

    map_threads(resize, range(len(images)), desc)
    return out


def save_array(path, array):
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, array)


def available_memory():
    """Bytes of memory available to new allocations (MemAvailable on Linux)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


def load_rows(path, rows):
    """Rows of a cached .npy array: in memory if they fit into half the available memory, else the
    whole array memory-mapped (when all rows are wanted)."""
    array = np.load(path, mmap_mode="r")
    everything = len(rows) == len(array) and np.array_equal(rows, np.arange(len(array)))
    needed = len(rows) * (array[0].nbytes if len(array) else 0)
    if not everything:
        return array[np.asarray(rows, dtype=np.intp)]
    if needed > available_memory() // 2:
        warnings.warn("{}: {:.1f} GB do not fit into memory; reading them memory-mapped".format(path, needed / 1e9))
        return array
    del array
    return np.load(path)  # one sequential read


# ---------------------------------------------------------------------------
# The dataset
# ---------------------------------------------------------------------------


class TinyImageNetGenerator(ArrayDatasetGenerator):
    """Tiny ImageNet held in memory (see the module description).

    Arguments:
        root_dir: the `tiny-imagenet-200` folder or the `tiny-imagenet-200.tar.gz` archive.
        classes: optional wnids (list or class-list file) to restrict the dataset to, numbered in the given order.
        image_size: side of the square images (64: as published; e.g. 32 to train at 32x32).
        generator_kwargs, train_generator_kwargs: as `ArrayDatasetGenerator` (default augmentation:
            `crop_flip_augmentation(image_size)`).
        class_balance: "oversample" or None (Tiny ImageNet is balanced: 500 training images per class).
    """

    def __init__(self, root_dir, classes=None, image_size=NATIVE_SIZE, generator_kwargs=None,
                 train_generator_kwargs=None, class_balance=None):
        if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)) or not 8 <= image_size <= 512:
            raise ValueError("image_size must be an integer from 8 to 512, got {!r}".format(image_size))
        self.image_size = int(image_size)
        self._configure(generator_kwargs, train_generator_kwargs, class_balance,
                        default_augmentation=crop_flip_augmentation(self.image_size))
        if root_dir is None or not os.path.exists(root_dir):
            raise ValueError("{}: Tiny ImageNet folder or archive not found".format(root_dir))
        self.root_dir = root_dir
        self._archive = os.path.isfile(root_dir)
        self._contents = None  # image bytes while an archive is being cached
        self._fresh = {}  # arrays just decoded or resized: used directly instead of read back
        index = self._read_index()
        self.index_key = cache.fingerprint(name for name, _ in index["train"] + index["val"])[:12]
        self.classes, self.class_indices = choose_classes(classes, index["wnids"], root_dir)
        names = dict(zip(index["wnids"], index["names"]))
        self.label_names = [names[wnid] for wnid in self.classes]
        for split, entries in (("train", index["train"]), ("test", index["val"])):
            rows = [i for i, (_, wnid) in enumerate(entries) if wnid in self.class_indices]
            setattr(self, "_{}_rows".format(split), np.asarray(rows, dtype=np.intp))
            setattr(self, "{}_names".format(split), [entries[i][0] for i in rows])
            setattr(self, "y_{}".format(split), np.asarray([self.class_indices[entries[i][1]] for i in rows], np.int64))
        self._index = index
        print("Found {} training and {} validation images from {} classes.".format(
            len(self.y_train), len(self.y_test), len(self.classes)))

    # --- where things are --------------------------------------------------------------

    @property
    def _data_dir(self):
        """The folder derived files go beside (the dataset folder, or the archive's folder)."""
        return os.path.dirname(os.path.abspath(self.root_dir)) if self._archive else self.root_dir

    def _derived(self, suffix):
        prefix = os.path.basename(self.root_dir).split(".")[0] if self._archive else "tiny-imagenet"
        return cache.derived_path(self._data_dir, "{}-{}{}".format(prefix, self.index_key, suffix))

    def _read_index(self):
        if not self._archive:
            return index_folder(self.root_dir)
        stat = os.stat(self.root_dir)
        key = cache.fingerprint([os.path.basename(self.root_dir), stat.st_size, int(stat.st_mtime)])[:12]
        name = "{}-{}.index.json".format(os.path.basename(self.root_dir).split(".")[0], key)
        found = cache.find_derived(self._data_dir, name)
        index = cache.read_json(found) if found else None
        if index is None or not all(k in index for k in ("wnids", "train", "val", "names")):
            print("Reading {} (once: the images are cached as arrays)".format(self.root_dir))
            index, self._contents = read_archive(self.root_dir)
            cache.write_json(cache.derived_path(self._data_dir, name), index)
        return index

    # --- the images -----------------------------------------------------------------------

    def _cached_arrays(self, size):
        """Paths of the cached (train, val) arrays at `size`, made first if missing."""
        paths = [self._derived("-{}px.{}.npy".format(size, split)) for split in ("train", "val")]
        if all(os.path.isfile(p) for p in paths):
            return paths
        if size != NATIVE_SIZE:
            for path, native in zip(paths, self._cached_arrays(NATIVE_SIZE)):
                self._fresh.pop(native, None)
                self._fresh[path] = resize_all(np.load(native, mmap_mode="r"), size, "Resizing to {0}x{0}".format(size))
                save_array(path, self._fresh[path])
            return paths
        contents = self._contents
        if self._archive and contents is None:  # the index was cached, the arrays were not
            _, contents = read_archive(self.root_dir)
        for path, split in zip(paths, ("train", "val")):
            names = [name for name, _ in self._index[split]]
            wheres = ["{}:{}".format(self.root_dir, n) if self._archive else os.path.join(self.root_dir, n)
                      for n in names]
            sources = [contents[n] for n in names] if self._archive else wheres
            self._fresh[path] = decode_all(sources, wheres, "Decoding Tiny ImageNet {}".format(split))
            save_array(path, self._fresh[path])
        self._contents = None
        return paths

    def _load_train_images(self):
        self._X_train = self._rows(self._cached_arrays(self.image_size)[0], self._train_rows)

    def _load_test_images(self):
        self._X_test = self._rows(self._cached_arrays(self.image_size)[1], self._test_rows)

    def _rows(self, path, rows):
        fresh = self._fresh.pop(path, None)
        if fresh is None:
            return load_rows(path, rows)
        return fresh if np.array_equal(rows, np.arange(len(fresh))) else fresh[rows]

    @property
    def num_channels(self):
        return 3

    @property
    def image_shape(self):
        return (self.image_size, self.image_size, 3)

    def _channel_stats(self, mean=None):
        """Exact channel mean and std of the training images, cached per image size and class set."""
        path = self._derived(".stats.json")
        key = "{}px:{}".format(self.image_size, cache.fingerprint(self.classes)[:12])
        stored = cache.read_json(path) or {}
        if key not in stored:
            computed_mean, std = channel_stats_uint8(self.X_train)
            stored = dict(cache.read_json(path) or {}, **{key: {"mean": computed_mean.tolist(), "std": std.tolist()}})
            cache.write_json(path, stored)
        entry = stored[key]
        return self._normalization_constants(entry["mean"] if mean is None else mean, entry["std"])
