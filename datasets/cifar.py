"""CIFAR-10 and CIFAR-100 in the official python-pickle layout, and a writer for that layout.

Layout read (as distributed by the dataset's authors, https://www.cs.toronto.edu/~kriz/cifar.html):
CIFAR-10: `data_batch_1` ... `data_batch_5`, `test_batch` (+ `batches.meta`);
CIFAR-100: `train`, `test` (+ `meta`). Each file is a pickled dict with `data` (uint8, N x 3072, the red,
green and blue planes of each 32x32 image) and `labels` (CIFAR-10) or `fine_labels` (CIFAR-100).
Pickles are read with the restricted unpickler (numpy arrays and plain containers only).
"""

import io
import os
import pickle
import tarfile
from collections import Counter

import numpy as np
import PIL.Image
from tqdm import tqdm

from utils import atomic_write, safe_pickle_load

from .arrays import ArrayDatasetGenerator, select_classes, split_labels

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
CIFAR10_TRAIN_FILES = ["data_batch_{}".format(i) for i in range(1, 6)]

# Augmentation of the original release (Keras ImageDataGenerator arguments).
CIFAR100_AUGMENTATION = {"horizontal_flip": True, "width_shift_range": 0.15, "height_shift_range": 0.15}
CIFAR10_AUGMENTATION = dict(CIFAR100_AUGMENTATION, zoom_range=0.25)


def _field(record, name, path):
    """`record[name]` for a dict with str or bytes keys (pickles of Python 2 are read either way)."""
    if not isinstance(record, dict):
        raise ValueError("{}: not a CIFAR batch file (expected a dict, got {})".format(path, type(record).__name__))
    for key in (name, name.encode("ascii")):
        if key in record:
            return record[key]
    raise ValueError("{}: not a CIFAR batch file (no '{}' entry)".format(path, name))


def read_cifar_batch(path, label_key="labels"):
    """Images (N, 32, 32, 3) uint8 and labels (N,) int64 of one CIFAR pickle file."""
    if not os.path.isfile(path):
        raise ValueError("{}: CIFAR file not found".format(path))
    record = safe_pickle_load(path)
    data = np.asarray(_field(record, "data", path))
    labels = np.asarray(_field(record, label_key, path), dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3072 or len(data) != len(labels):
        raise ValueError(
            "{}: expected 'data' of shape (N, 3072) and N labels, got {} and {} labels".format(path, data.shape, len(labels))
        )
    images = data.astype(np.uint8, copy=False).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def load_cifar(root_dir, cifar10=False):
    """`(X_train, y_train, X_test, y_test)` of CIFAR-10 or CIFAR-100 (fine labels) from `root_dir`."""
    if not os.path.isdir(root_dir):
        raise ValueError("{}: CIFAR root directory not found".format(root_dir))
    if cifar10:
        parts = [read_cifar_batch(os.path.join(root_dir, fn)) for fn in CIFAR10_TRAIN_FILES]
        X_train = np.concatenate([p[0] for p in parts])
        y_train = np.concatenate([p[1] for p in parts])
        X_test, y_test = read_cifar_batch(os.path.join(root_dir, "test_batch"))
    else:
        X_train, y_train = read_cifar_batch(os.path.join(root_dir, "train"), "fine_labels")
        X_test, y_test = read_cifar_batch(os.path.join(root_dir, "test"), "fine_labels")
    return X_train, y_train, X_test, y_test


def cifar_split_labels(root_dir, split, classes=None, reenumerate=False, cifar10=False):
    """`(labels, class_ids)` of the "train" or "test" split, reading only that split's file(s)."""
    if not os.path.isdir(root_dir):
        raise ValueError("{}: CIFAR root directory not found".format(root_dir))
    if cifar10:
        files = CIFAR10_TRAIN_FILES if split == "train" else ["test_batch"]
        y = np.concatenate([read_cifar_batch(os.path.join(root_dir, fn))[1] for fn in files])
    else:
        y = read_cifar_batch(os.path.join(root_dir, split), "fine_labels")[1]
    name = "{} at {}".format("CIFAR-10" if cifar10 else "CIFAR-100", root_dir)
    return split_labels(y, classes, reenumerate, name)


class CifarGenerator(ArrayDatasetGenerator):
    """CIFAR-10 or CIFAR-100 held in memory.

    Arguments:
        root_dir: directory with the python-pickle files.
        classes: optional list of labels (or path of a class-list file) to restrict the dataset to.
        reenumerate: number the `classes` 0, 1, ... in the given order (otherwise keep their labels).
        cifar10: True for CIFAR-10, False for CIFAR-100.
        **kwargs: `generator_kwargs`, `train_generator_kwargs` of `ArrayDatasetGenerator`.
    """

    def __init__(self, root_dir, classes=None, reenumerate=False, cifar10=False, **kwargs):
        self.root_dir = root_dir
        X_train, y_train, X_test, y_test = load_cifar(root_dir, cifar10)
        name = "CIFAR-10" if cifar10 else "CIFAR-100"
        X_train, y_train, X_test, y_test, self.classes, self.class_indices = select_classes(
            X_train, y_train, X_test, y_test, classes, reenumerate, "{} at {}".format(name, root_dir)
        )
        kwargs.setdefault("train_generator_kwargs", CIFAR10_AUGMENTATION if cifar10 else CIFAR100_AUGMENTATION)
        super().__init__(X_train, X_test, y_train, y_test, **kwargs)


# ---------------------------------------------------------------------------
# Writing the python-pickle layout (e.g. from the CIFAR-10 JPEG archive)
# ---------------------------------------------------------------------------


def _write_batch(path, images, labels, label_key, batch_label, filenames=None):
    images = np.asarray(images, dtype=np.uint8)
    record = {
        b"batch_label": batch_label.encode("ascii"),
        b"data": np.ascontiguousarray(images.transpose(0, 3, 1, 2).reshape(len(images), 3072)),
        label_key.encode("ascii"): [int(l) for l in labels],
        b"filenames": [f.encode("utf-8") for f in filenames] if filenames is not None else [],
    }
    with atomic_write(path) as f:
        pickle.dump(record, f, protocol=4)


def write_cifar_pickles(root, train_images, train_labels, test_images, test_labels, label_names=None, cifar10=True,
                        train_filenames=None, test_filenames=None):
    """Write images (N, 32, 32, 3) uint8 and labels in the official CIFAR python-pickle layout.

    CIFAR-10: `data_batch_1..5` (the training set in 5 nearly equal parts, in the given order),
    `test_batch`, `batches.meta`; CIFAR-100 (`cifar10=False`): `train`, `test`, `meta` with fine labels.
    Keys are bytes, as in the official files read with `encoding="bytes"`; pickle protocol 4 (Python 3).
    Each file is written atomically.
    """
    train_images, test_images = np.asarray(train_images), np.asarray(test_images)
    for name, images, labels in (("train", train_images, train_labels), ("test", test_images, test_labels)):
        if images.ndim != 4 or images.shape[1:] != (32, 32, 3) or len(images) != len(labels):
            raise ValueError("{} images must be (N, 32, 32, 3) with N labels, got {} and {} labels".format(
                name, images.shape, len(labels)))
    os.makedirs(root, exist_ok=True)
    num_classes = int(max(np.max(train_labels, initial=-1), np.max(test_labels, initial=-1))) + 1
    label_names = list(label_names) if label_names is not None else [str(i) for i in range(num_classes)]
    if cifar10:
        parts = np.array_split(np.arange(len(train_images)), len(CIFAR10_TRAIN_FILES))
        for i, (fn, part) in enumerate(zip(CIFAR10_TRAIN_FILES, parts)):
            names = [train_filenames[j] for j in part] if train_filenames is not None else None
            _write_batch(os.path.join(root, fn), train_images[part], np.asarray(train_labels)[part], "labels",
                         "training batch {} of 5".format(i + 1), names)
        _write_batch(os.path.join(root, "test_batch"), test_images, test_labels, "labels", "testing batch 1 of 1",
                     test_filenames)
        meta = {b"label_names": [n.encode("utf-8") for n in label_names], b"num_cases_per_batch": len(parts[0]),
                b"num_vis": 3072}
        meta_file = "batches.meta"
    else:
        _write_batch(os.path.join(root, "train"), train_images, train_labels, "fine_labels", "training batch 1 of 1",
                     train_filenames)
        _write_batch(os.path.join(root, "test"), test_images, test_labels, "fine_labels", "testing batch 1 of 1",
                     test_filenames)
        meta = {b"fine_label_names": [n.encode("utf-8") for n in label_names]}
        meta_file = "meta"
    with atomic_write(os.path.join(root, meta_file)) as f:
        pickle.dump(meta, f, protocol=4)


def _interleave_by_class(labels):
    """Order that takes one image of each class in turn (so each CIFAR-10 batch file holds all classes)."""
    labels = np.asarray(labels)
    rank = np.zeros(len(labels), dtype=np.int64)
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        rank[members] = np.arange(len(members))
    return np.lexsort((labels, rank))


def read_image_tree(source, classes=CIFAR10_CLASSES, max_per_class=None, progress=False):
    """Read `<split>/<class>/<file>.jpg` images from a directory or a .tar(.gz) archive of it.

    The archive may have one top-level folder (as `cifar10-jpeg/train/cat/0000.jpg`).
    Returns `{split: (images uint8 (N, H, W, 3), labels int64, names)}`; within a split the images
    are interleaved by class, each class in file-name order; `max_per_class` keeps the first files only.
    Raises a ValueError naming an unreadable image or a class folder not in `classes`.
    """
    class_index = {c: i for i, c in enumerate(classes)}
    entries = {}  # split -> list of (label, file name, bytes or path, where)

    def add(parts, content, where):
        split, cls, name = parts[-3:]
        if cls not in class_index:
            raise ValueError("{}: unknown class folder '{}'".format(where, cls))
        entries.setdefault(split, []).append((class_index[cls], name, content, where))

    if os.path.isdir(source):
        for split in sorted(os.listdir(source)):
            if not os.path.isdir(os.path.join(source, split)):
                continue
            for cls in sorted(os.listdir(os.path.join(source, split))):
                folder = os.path.join(source, split, cls)
                for name in sorted(os.listdir(folder)):
                    add((split, cls, name), os.path.join(folder, name), os.path.join(folder, name))
    elif os.path.isfile(source):
        # One sequential pass: a compressed archive cannot seek back cheaply.
        try:
            with tarfile.open(source, "r:*") as archive:
                for member in archive:
                    parts = member.name.strip("/").split("/")
                    if member.isfile() and len(parts) >= 3:
                        add(parts, archive.extractfile(member).read(), "{}:{}".format(source, member.name))
        except (tarfile.TarError, EOFError, OSError) as e:
            raise ValueError("{}: not a readable tar archive ({})".format(source, e)) from None
    else:
        raise ValueError("{}: no such directory or archive".format(source))

    result = {}
    for split, items in entries.items():
        items.sort(key=lambda e: (e[0], e[1]))
        if max_per_class is not None:
            seen = Counter()
            items = [e for e in items if seen.update([e[0]]) or seen[e[0]] <= max_per_class]
        images, labels, names = [], [], []
        for label, name, content, where in tqdm(items, desc="Decoding {} images".format(split), disable=not progress):
            images.append(_decode_rgb(content, where))
            labels.append(label)
            names.append(name)
        order = _interleave_by_class(labels)
        result[split] = (np.stack(images)[order], np.asarray(labels, dtype=np.int64)[order], [names[i] for i in order])
    return result


def _decode_rgb(content, where):
    """RGB uint8 array of an image given as bytes or a path; a ValueError naming `where` if unreadable."""
    try:
        with PIL.Image.open(io.BytesIO(content) if isinstance(content, bytes) else content) as img:
            return np.asarray(img.convert("RGB"), dtype=np.uint8)
    except (OSError, SyntaxError, ValueError) as e:
        raise ValueError("{}: cannot decode image ({})".format(where, e)) from None


def cifar10_from_jpeg(source, root, max_per_class=None, progress=False):
    """Lay out the CIFAR-10 JPEG tree/archive (`{train,test}/<class>/NNNN.jpg`) as the python pickles.

    Returns the number of training and test images written.
    """
    splits = read_image_tree(source, CIFAR10_CLASSES, max_per_class, progress)
    for split in ("train", "test"):
        if split not in splits:
            raise ValueError("{}: no '{}' folder with images".format(source, split))
    (X_train, y_train, n_train), (X_test, y_test, n_test) = splits["train"], splits["test"]
    if X_train.shape[1:] != (32, 32, 3) or X_test.shape[1:] != (32, 32, 3):
        raise ValueError("{}: CIFAR images must be 32x32 RGB, got {}".format(source, X_train.shape[1:]))
    write_cifar_pickles(root, X_train, y_train, X_test, y_test, CIFAR10_CLASSES, cifar10=True,
                        train_filenames=n_train, test_filenames=n_test)
    return len(X_train), len(X_test)
