"""ILSVRC 2012: `ILSVRC2012_img_train/<synset>/*.JPEG` and `ILSVRC2012_img_val/<synset>/*.JPEG`.

The validation images must be sorted into one sub-directory per synset, as the training images
(e.g. with the widely used `valprep.sh` script).
"""

import os

from .published_stats import IMAGENET_MEAN, IMAGENET_STD
from .files import FileDatasetGenerator, list_images


class ILSVRCGenerator(FileDatasetGenerator):
    """ILSVRC 2012 (or any dataset in that layout); classes are the synset directory names, sorted.

    Defaults as the original: resize to 256 (shorter side), random scale 256..480 for training,
    224x224 crops, ImageNet channel statistics. Further keyword arguments go to `FileDatasetGenerator`.
    """

    def __init__(self, root_dir, classes=None, mean=IMAGENET_MEAN, std=IMAGENET_STD, cropsize=(224, 224),
                 default_target_size=256, randzoom_range=(256, 480), train_dir="ILSVRC2012_img_train",
                 test_dir="ILSVRC2012_img_val", **kwargs):
        super().__init__(root_dir, cropsize=cropsize, default_target_size=default_target_size,
                         randzoom_range=randzoom_range, **kwargs)
        self.train_dir = os.path.join(root_dir, train_dir)
        self.test_dir = os.path.join(root_dir, test_dir)
        for directory in (self.train_dir, self.test_dir):
            if not os.path.isdir(directory):
                raise ValueError("{}: directory not found".format(directory))
        available = sorted(d for d in os.listdir(self.train_dir)
                           if os.path.isdir(os.path.join(self.train_dir, d)) and not d.startswith("."))
        self._set_classes(classes, available, self.train_dir)
        for label, synset in enumerate(self.classes):
            for directory, files, labels in ((self.train_dir, self.train_img_files, self._train_labels),
                                             (self.test_dir, self.test_img_files, self._test_labels)):
                class_dir = os.path.join(directory, synset)
                found = list_images(class_dir) if os.path.isdir(class_dir) else []
                if not found and directory == self.train_dir:
                    raise ValueError("{}: empty class directory (no image files)".format(class_dir))
                files += found
                labels += [label] * len(found)
        self._finish(mean, std)
