"""Oxford Flowers-102: `jpg/image_NNNNN.jpg`, `imagelabels.mat` (`labels`, 1-based, one per image)
and `setid.mat` (`trnid`, `valid`, `tstid`: 1-based image numbers)."""

import os

import numpy as np

from .cars import load_mat
from .files import FINE_GRAINED_RANDERASE_PARAMS, FileDatasetGenerator

FLOWERS_MEAN = [110.7799141, 97.65648664, 75.32889973]
FLOWERS_STD = [74.90387818, 62.70218863, 69.7656359]


class FlowersGenerator(FileDatasetGenerator):
    """Flowers-102; training = `trnid` + `valid`, test = `tstid` by default (as the original).

    Defaults: resize to 512, 448x448 crops, random erasing (p=0.5); colour distortion (if
    `distort_colors`) without hue changes and with saturation in [0.8, 1.2].
    """

    default_randerase_params = FINE_GRAINED_RANDERASE_PARAMS

    def __init__(self, root_dir, classes=None, img_dir="jpg", label_file="imagelabels.mat", split_file="setid.mat",
                 train_splits=("trnid", "valid"), test_splits=("tstid",), cropsize=(448, 448),
                 default_target_size=512, randzoom_range=None, randerase_prob=0.5, randerase_params=None,
                 colordistort_params=None, mean=FLOWERS_MEAN, std=FLOWERS_STD, **kwargs):
        colordistort_params = colordistort_params or {"hue_delta": 0.0, "saturation_range": (0.8, 1.2)}
        super().__init__(root_dir, cropsize=cropsize, default_target_size=default_target_size,
                         randzoom_range=randzoom_range, randerase_prob=randerase_prob,
                         randerase_params=randerase_params, colordistort_params=colordistort_params, **kwargs)
        self.img_dir = img_dir if os.path.isabs(img_dir) else os.path.join(root_dir, img_dir)
        self.label_file = label_file if os.path.isabs(label_file) else os.path.join(root_dir, label_file)
        self.split_file = split_file if os.path.isabs(split_file) else os.path.join(root_dir, split_file)
        if not os.path.isdir(self.img_dir):
            raise ValueError("{}: image directory not found".format(self.img_dir))
        (img_labels,) = load_mat(self.label_file, "labels")
        img_labels = np.atleast_1d(img_labels).astype(np.int64)
        splits = load_mat(self.split_file, *train_splits, *test_splits)
        self._set_classes(classes, sorted(set(img_labels.tolist())), self.label_file)
        for names, arrays, files, labels in (
            (train_splits, splits[: len(train_splits)], self.train_img_files, self._train_labels),
            (test_splits, splits[len(train_splits):], self.test_img_files, self._test_labels),
        ):
            for name, ids in zip(names, arrays):
                for i in np.atleast_1d(ids).astype(np.int64).tolist():
                    if not 1 <= i <= len(img_labels):
                        raise ValueError("{}: image number {} in '{}' has no label in {}".format(
                            self.split_file, i, name, self.label_file))
                    label = self.class_indices.get(int(img_labels[i - 1]))
                    if label is not None:
                        files.append(os.path.join(self.img_dir, "image_{:05d}.jpg".format(i)))
                        labels.append(label)
        self._finish(mean, std)
