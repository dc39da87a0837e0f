"""Any folder of images sorted into class sub-folders: `--dataset folder --data_root DIR`.

Two layouts:
- `DIR/train/<class>/...` and `DIR/test/<class>/...` (or `DIR/val/<class>/...`): the given split;
- `DIR/<class>/...` only: a stratified split made here, `test_split` of each class's images (rounded,
  at least one, and at least one left for training) held out for testing, drawn with `split_seed`
  (each class by its own generator seeded with the seed and the class name, so adding a class does not
  change the others). The split is written as two list files, `split-test<F>-seed<S>.train.txt` and
  `.test.txt` (one image path relative to DIR per line), beside the data, or in the cache folder if DIR
  is read-only (see `datasets.cache`); later runs with the same options (training, evaluation) reuse
  them, so the split stays the same even if images are added. Delete them to split again.

Images are found in the class folders and their sub-folders (hidden ones skipped) by file-name ending
(`images.IMAGE_EXTENSIONS`). Class ids are the folder names, sorted (or `classes`, in the given order).
Channel statistics are computed from the training images once and cached (`channel-stats.json` beside
the data or in the cache folder), unless given. Defaults otherwise as the sub-directory datasets of the
original (resize 256, 224x224 crops, random erasing with p = 0.5); `image_size` sets the crop size.
"""

import os
import warnings
import zlib

import numpy as np

from utils import atomic_write

from . import cache
from .files import FINE_GRAINED_RANDERASE_PARAMS, FileDatasetGenerator
from .images import check_class_dirs, list_images_recursive

TEST_FOLDERS = ("test", "val")


def class_folders(directory):
    """Sorted names of the visible sub-folders of `directory`."""
    return sorted(d for d in os.listdir(directory)
                  if not d.startswith(".") and os.path.isdir(os.path.join(directory, d)))


def images_by_class(directory, classes):
    """`{class: sorted image paths relative to directory, with '/' separators}`."""
    found = {}
    for cls in classes:
        folder = os.path.join(directory, cls)
        found[cls] = [os.path.relpath(p, directory).replace(os.sep, "/") for p in list_images_recursive(folder)]
    return found


def stratified_split(images, test_split, split_seed):
    """`(train, test)` lists of the images of each class (dict class -> sorted list), split per class."""
    train, test = [], []
    for cls in sorted(images):
        files = sorted(images[cls])
        num_test = min(max(int(round(len(files) * test_split)), 1), len(files) - 1) if len(files) > 1 else 0
        rng = np.random.default_rng([split_seed, zlib.crc32(cls.encode("utf-8"))])
        held_out = set(rng.permutation(len(files))[:num_test].tolist())
        for i, fn in enumerate(files):
            (test if i in held_out else train).append(fn)
    return train, test


def read_list(path):
    with open(path, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip()]


def write_list(path, names):
    with atomic_write(path, "w") as f:
        f.write("".join(name + "\n" for name in names))


def check_split_options(test_split, split_seed):
    if isinstance(test_split, bool) or not isinstance(test_split, (int, float)) or not 0 < test_split < 1:
        raise ValueError("test_split must be a fraction between 0 and 1, got {!r}".format(test_split))
    if isinstance(split_seed, bool) or not isinstance(split_seed, (int, np.integer)) or split_seed < 0:
        raise ValueError("split_seed must be a non-negative integer, got {!r}".format(split_seed))


class ImageFolderGenerator(FileDatasetGenerator):
    """Images in class sub-folders, with a given or a project-made train/test split (see the module).

    Arguments (besides those of `FileDatasetGenerator`):
        root_dir: the folder DIR.
        classes: optional class names (list or class-list file) to restrict the dataset to, numbered in
            the given order.
        test_split, split_seed: the fraction of each class held out for testing and the seed of the
            split (only for `DIR/<class>/...`).
        mean, std: channel statistics (RGB, 0..255); None: computed from the training images.
    """

    default_randerase_params = FINE_GRAINED_RANDERASE_PARAMS

    def __init__(self, root_dir, classes=None, test_split=0.2, split_seed=0, cropsize=(224, 224),
                 default_target_size=256, randzoom_range=None, randerase_prob=0.5, randerase_params=None,
                 mean=None, std=None, **kwargs):
        check_split_options(test_split, split_seed)
        super().__init__(root_dir, cropsize=cropsize, default_target_size=default_target_size,
                         randzoom_range=randzoom_range, randerase_prob=randerase_prob,
                         randerase_params=randerase_params, **kwargs)
        test_dir = next((d for d in TEST_FOLDERS if os.path.isdir(os.path.join(root_dir, d))), None)
        self.split_lists = None
        if os.path.isdir(os.path.join(root_dir, "train")) and test_dir is not None:
            train, test, available = self._split_folders("train", test_dir)
        else:
            train, test, available = self._split_made_here(test_split, split_seed)
        self._set_classes(classes, available, root_dir)
        for pairs, files, labels, split in ((train, self.train_img_files, self._train_labels, "training"),
                                            (test, self.test_img_files, self._test_labels, "test")):
            for name, cls in pairs:
                label = self.class_indices.get(cls)
                if label is not None:
                    files.append(os.path.join(root_dir, name))
                    labels.append(label)
            missing = sorted(set(range(len(self.classes))) - set(labels))
            if missing:
                raise ValueError("{}: no {} images of class {!r}{}".format(
                    root_dir, split, self.classes[missing[0]],
                    " (too few images to hold one out for testing)" if split == "test" and self.split_lists else ""))
        self.stats_cache = cache.derived_path(root_dir, "channel-stats.json")
        self._finish(mean, std)

    def _split_folders(self, train_name, test_name):
        """`DIR/train/<class>` and `DIR/test/<class>` (or val): every class in both, none empty.
        Returns the (path relative to DIR, class) pairs of both splits and the classes."""
        train_dir, test_dir = (os.path.join(self.root_dir, d) for d in (train_name, test_name))
        classes = class_folders(train_dir)
        if not classes:
            raise ValueError("{}: no class folders".format(train_dir))
        extra = sorted(set(class_folders(test_dir)) - set(classes))
        if extra:
            raise ValueError("{}: class not in {}".format(os.path.join(test_dir, extra[0]), train_dir))
        check_class_dirs(train_dir, classes)
        check_class_dirs(test_dir, classes)  # names a class missing in the test folder
        pairs = []
        for name, directory in ((train_name, train_dir), (test_name, test_dir)):
            images = images_by_class(directory, classes)
            pairs.append([(name + "/" + path, cls) for cls in classes for path in images[cls]])
        return pairs[0], pairs[1], classes

    def _split_made_here(self, test_split, split_seed):
        """`DIR/<class>`: the split list files, made now or reused. Returns (path, class) pairs and the classes."""
        classes = class_folders(self.root_dir)
        if not classes:
            raise ValueError("{}: no images found (expected DIR/<class>/<image>, or DIR/train/<class>/... and "
                             "DIR/test/<class>/...)".format(self.root_dir))
        check_class_dirs(self.root_dir, classes)
        images = images_by_class(self.root_dir, classes)
        stem = "split-test{:g}-seed{}".format(test_split, split_seed)
        self.split_lists = [cache.derived_path(self.root_dir, "{}.{}.txt".format(stem, s)) for s in ("train", "test")]
        if all(os.path.isfile(p) for p in self.split_lists):
            train, test = (read_list(p) for p in self.split_lists)
            listed = set(train) | set(test)
            present = {name for names in images.values() for name in names}
            gone = sorted(listed - present)
            if gone:
                raise ValueError("{}: lists the missing image {!r}; delete the split lists to split again".format(
                    self.split_lists[0] if gone[0] in train else self.split_lists[1], gone[0]))
            new = len(present - listed)
            if new:
                warnings.warn("{} images of {} are in neither split list ({}); delete the lists to split again".format(
                    new, self.root_dir, stem))
        else:
            train, test = stratified_split(images, test_split, split_seed)
            for path, names in zip(self.split_lists, (train, test)):
                write_list(path, names)
        train_pairs, test_pairs = ([(name, name.split("/", 1)[0]) for name in names] for names in (train, test))
        return train_pairs, test_pairs, classes
