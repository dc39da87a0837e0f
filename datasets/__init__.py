"""Datasets: from images on disk to normalized, augmented training and test batches.

`get_data_generator(name, data_root, classes=None, image_size=None, class_balance=None, ...)` is the
entry point; the names are those of the original release (case-insensitive). Every dataset object
offers `classes`, `class_indices`, `class_ids`, `num_classes`, `num_train`, `num_test`, `labels_train`,
`labels_test`, `num_channels`, `train_sequence()`, `test_sequence()` (both `keras.utils.PyDataset`s),
`flow_train()`, `flow_test()` and `compose_batch()`.
`load_labels(name, data_root, split="test", classes=None)` -> `(labels, class_ids)` reads a split's
labels without decoding images.

Importing this package imports no deep-learning framework: Keras is imported when the first batch
sequence is built.

Modules: `base` (what every dataset shares), `sequence` (the Keras batch sequence), `arrays` (in-memory
datasets), `files` and `images` (image-file datasets), `augment`, `cache` (derived files such as
statistics), `registry` (name -> dataset), and one module per dataset family.
"""

from .arrays import ArrayDatasetGenerator, TinyDatasetGenerator  # noqa: F401
from .base import DatasetGenerator, read_class_list  # noqa: F401
from .published_stats import CAFFE_MEAN, CAFFE_STD, DATASET_STATS, IMAGENET_MEAN, IMAGENET_STD  # noqa: F401
from .registry import (  # noqa: F401
    DATASETS, IN_MEMORY_DATASETS, available_datasets, get_data_generator, load_labels, parse_dataset_name)

# Names importable from the package whose modules are imported on first use (Keras, PIL, scipy).
_LAZY_NAMES = {
    "DataSequence": "sequence",
    "CifarGenerator": "cifar",
    "ILSVRCGenerator": "ilsvrc",
    "NABGenerator": "nab",
    "CarsGenerator": "cars",
    "FlowersGenerator": "flowers",
    "INatGenerator": "inat",
    "SubDirectoryGenerator": "subdirectory",
    "DigitsGenerator": "digits",
    "FashionMNISTGenerator": "fashion_mnist",
    "FileDatasetGenerator": "files",
    "TinyImageNetGenerator": "tiny_imagenet",
    "ImageFolderGenerator": "folder",
}


def __getattr__(name):
    # The original exported the dataset classes from the package; import their modules on first use.
    if name in _LAZY_NAMES:
        import importlib

        return getattr(importlib.import_module("." + _LAZY_NAMES[name], __name__), name)
    raise AttributeError("module {!r} has no attribute {!r}".format(__name__, name))
