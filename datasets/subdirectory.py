"""Images in one sub-directory per class, split by two lists of relative paths (`class/file.jpg`),
e.g. MIT Indoor Scenes 67 (`Images/`, `TrainImages.txt`, `TestImages.txt`), UC Merced Land Use
and RESISC45 (`train.txt`, `test.txt`)."""

import os

from .files import FINE_GRAINED_RANDERASE_PARAMS, FileDatasetGenerator
from .images import check_class_dirs


def read_image_list(path):
    """Non-empty, stripped lines of an image list file."""
    if not os.path.isfile(path):
        raise ValueError("{}: image list not found".format(path))
    with open(path, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip()]


def check_every_class_listed(classes, labels, list_file):
    """ValueError naming the first class (label index into `classes`) without an image in `list_file`."""
    listed = set(labels)
    for label, cls in enumerate(classes):
        if label not in listed:
            raise ValueError("{}: no image of class {!r} listed".format(list_file, cls))


class SubDirectoryGenerator(FileDatasetGenerator):
    """Classes are the sub-directories of `img_dir`, sorted (or the requested ones, in the given order).

    Defaults as the original: resize to 256, 224x224 crops, random erasing (p=0.5); channel statistics
    are computed from the training images unless given.
    """

    default_randerase_params = FINE_GRAINED_RANDERASE_PARAMS

    def __init__(self, root_dir, classes=None, img_dir=".", train_list="train.txt", test_list="test.txt",
                 cropsize=(224, 224), default_target_size=256, randzoom_range=None, randerase_prob=0.5,
                 randerase_params=None, mean=None, std=None, **kwargs):
        super().__init__(root_dir, cropsize=cropsize, default_target_size=default_target_size,
                         randzoom_range=randzoom_range, randerase_prob=randerase_prob,
                         randerase_params=randerase_params, **kwargs)
        self.img_dir = img_dir if os.path.isabs(img_dir) else os.path.join(root_dir, img_dir)
        if not os.path.isdir(self.img_dir):
            raise ValueError("{}: image directory not found".format(self.img_dir))
        available = sorted(d for d in os.listdir(self.img_dir)
                           if not d.startswith(".") and os.path.isdir(os.path.join(self.img_dir, d)))
        self._set_classes(classes, available, self.img_dir)
        check_class_dirs(self.img_dir, self.classes)
        for list_file, files, labels in ((train_list, self.train_img_files, self._train_labels),
                                         (test_list, self.test_img_files, self._test_labels)):
            path = list_file if os.path.isabs(list_file) else os.path.join(root_dir, list_file)
            for rel in read_image_list(path):
                label = self.class_indices.get(os.path.dirname(rel))
                if label is not None:
                    files.append(os.path.join(self.img_dir, rel))
                    labels.append(label)
            if files is self.train_img_files:
                check_every_class_listed(self.classes, labels, path)
        self._finish(mean, std)
