"""Stanford Cars (merged training + test release): `cars_annos.mat` with the struct array
`annotations` (`relative_im_path`, `class` (1-based), `test` (0/1))."""

import os

import numpy as np
import scipy.io

from .files import FINE_GRAINED_RANDERASE_PARAMS, FileDatasetGenerator

CARS_MEAN = [120.03730636, 117.33780928, 116.0130335]
CARS_STD = [75.40415763, 75.15394251, 77.28286728]


def load_mat(path, *names):
    """Arrays `names` of a MATLAB file (squeezed); a ValueError naming the file if missing/unreadable."""
    if not os.path.isfile(path):
        raise ValueError("{}: file not found".format(path))
    try:
        data = scipy.io.loadmat(path, squeeze_me=True)
    except (ValueError, TypeError, OSError, NotImplementedError) as e:
        raise ValueError("{}: cannot read MATLAB file ({})".format(path, e)) from None
    for name in names:
        if name not in data:
            raise ValueError("{}: no array named '{}'".format(path, name))
    return [data[name] for name in names]


class CarsGenerator(FileDatasetGenerator):
    """Stanford Cars; classes are the 1-based labels of the annotation file, sorted (or as requested).

    Defaults as the original: resize to 512, 448x448 crops, random erasing (p=0.5).
    """

    default_randerase_params = FINE_GRAINED_RANDERASE_PARAMS

    def __init__(self, root_dir, classes=None, annotation_file="cars_annos.mat", cropsize=(448, 448),
                 default_target_size=512, randzoom_range=None, randerase_prob=0.5, randerase_params=None,
                 mean=CARS_MEAN, std=CARS_STD, **kwargs):
        super().__init__(root_dir, cropsize=cropsize, default_target_size=default_target_size,
                         randzoom_range=randzoom_range, randerase_prob=randerase_prob,
                         randerase_params=randerase_params, **kwargs)
        self.annotation_file = annotation_file if os.path.isabs(annotation_file) else os.path.join(root_dir, annotation_file)
        (annotations,) = load_mat(self.annotation_file, "annotations")
        annotations = np.atleast_1d(annotations)
        fields = annotations.dtype.names or ()
        for field in ("relative_im_path", "class", "test"):
            if field not in fields:
                raise ValueError("{}: annotations lack the field '{}'".format(self.annotation_file, field))
        labels = [int(a["class"]) for a in annotations]
        self._set_classes(classes, sorted(set(labels)), self.annotation_file)
        for sample, cls in zip(annotations, labels):
            label = self.class_indices.get(cls)
            if label is None:
                continue
            fn = str(sample["relative_im_path"])
            fn = fn if os.path.isabs(fn) else os.path.join(root_dir, fn)
            if int(sample["test"]):
                self.test_img_files.append(fn)
                self._test_labels.append(label)
            else:
                self.train_img_files.append(fn)
                self._train_labels.append(label)
        self._finish(mean, std)
