"""The dataset registry: dataset name -> how to build it, and the functions built on it.

`get_data_generator(name, data_root, classes, ...)` builds a dataset object; `load_labels(...)` reads
one split's labels and the class ids without decoding an image or importing Keras.
"""

import importlib
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from .base import check_class_balance
from .published_stats import CAFFE_MEAN, CAFFE_STD, DATASET_STATS, IMAGENET_MEAN, IMAGENET_STD

# ---------------------------------------------------------------------------
# Factories: factory(data_root, classes, **kwargs) -> dataset object
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetEntry:
    """How to build a dataset.

    factory: `factory(data_root, classes, **kwargs)` -> the dataset object.
    in_memory: images held as arrays: the file-dataset suffixes ("-ilsvrcmean", "-caffe", "-large")
        are ignored, as in the original.
    makes_split: the dataset may split its images itself (takes `test_split` and `split_seed`).
    labels: optional `labels(data_root, classes, split)` -> `(labels, class_ids)` reading less than
        the whole dataset (`load_labels` uses it; otherwise it builds the dataset object, which reads
        no image until batches are made).
    """

    factory: Callable
    in_memory: bool = False
    makes_split: bool = False
    labels: Optional[Callable] = None


def _cifar(cifar10=False, part=None, consecutive=True):
    """CIFAR-10 or CIFAR-100; `part` (first, last) keeps those classes (CIFAR-100-a: 0-49, -b: 50-99),
    with their labels unless `consecutive` renumbers them from 0."""

    def selection(classes):
        return (list(range(*part)), consecutive) if part else (classes, True)

    def factory(data_root, classes, **kwargs):
        from .cifar import CifarGenerator

        classes, reenumerate = selection(classes)
        return CifarGenerator(data_root, classes, reenumerate=reenumerate, cifar10=cifar10, **kwargs)

    def labels(data_root, classes, split):
        from .cifar import cifar_split_labels

        classes, reenumerate = selection(classes)
        return cifar_split_labels(data_root, split, classes, reenumerate, cifar10)

    return DatasetEntry(factory, in_memory=True, labels=labels)


def _digits(data_root, classes, **kwargs):
    from .digits import DigitsGenerator

    return DigitsGenerator(data_root, classes, **kwargs)


def _fashion_mnist(data_root, classes, **kwargs):
    from .fashion_mnist import FashionMNISTGenerator

    return FashionMNISTGenerator(data_root, classes, **kwargs)


def _fashion_mnist_labels(data_root, classes, split):
    from .fashion_mnist import fashion_mnist_split_labels

    return fashion_mnist_split_labels(data_root, split, classes)


def _tiny_imagenet(data_root, classes, **kwargs):
    from .tiny_imagenet import TinyImageNetGenerator

    return TinyImageNetGenerator(data_root, classes, **kwargs)


def _file_dataset(module, class_name, zoom=None, **defaults):
    """Factory of a file dataset class; `defaults` are overridden by suffix and caller keyword arguments.

    `zoom`: the random scale range of the original's default set-up; "-large" (which sets
    `default_target_size`) turns random scaling off, as in the original.
    """

    def factory(data_root, classes, name=None, **kwargs):
        cls = getattr(importlib.import_module("." + module, __package__), class_name)
        options = dict(defaults)
        if zoom is not None and "randzoom_range" not in kwargs:
            options["randzoom_range"] = None if "default_target_size" in kwargs else zoom
        options.update(kwargs)
        return cls(data_root, classes, **options)

    return factory


def _with_stats(key, factory):
    """Use the dataset's channel statistics of the original README unless a suffix set others."""

    def wrapped(data_root, classes, **kwargs):
        if "mean" not in kwargs and "std" not in kwargs:
            kwargs["mean"], kwargs["std"] = DATASET_STATS[key]
        return factory(data_root, classes, **kwargs)

    return wrapped


def _cub(data_root, classes, name="cub", **kwargs):
    """CUB: NAB-large settings with CUB statistics; "CUB-subN": split file `train_test_split_N.txt`,
    training images repeated 30 // N times per epoch."""
    options = {"cropsize": (448, 448), "default_target_size": 512, "randzoom_range": None}
    if name.startswith("cub-sub"):
        try:
            samples_per_class = int(name[len("cub-sub"):])
        except ValueError:
            raise ValueError("unknown dataset {!r}: expected CUB-sub<number of samples per class>".format(name)) from None
        if samples_per_class < 1:
            raise ValueError("CUB-sub needs a positive number of samples per class, got {}".format(samples_per_class))
        options["split_file"] = "train_test_split_{}.txt".format(samples_per_class)
        options["train_repeats"] = max(30 // samples_per_class, 1)
    options.update(kwargs)
    options.setdefault("mean", DATASET_STATS["cub"][0])
    options.setdefault("std", DATASET_STATS["cub"][1])
    from .nab import NABGenerator

    return NABGenerator(data_root, classes, "images", **options)


def _inat(data_root, classes, name="inat", **kwargs):
    """iNat 2018, optionally restricted to a super-category ("iNat_Aves")."""
    from .inat import INatGenerator

    if "default_target_size" not in kwargs and "randzoom_range" not in kwargs:
        kwargs["randzoom_range"] = (256, 480)
    supercategory = name[len("inat_"):] if name.startswith("inat_") else None
    return INatGenerator(data_root, supercategory=supercategory, classes=classes, **kwargs)


def _inat2019(data_root, classes, name=None, **kwargs):
    from .inat import INatGenerator

    if "mean" not in kwargs and "std" not in kwargs:
        kwargs["mean"], kwargs["std"] = DATASET_STATS["inat2019"]
    if "default_target_size" not in kwargs and "randzoom_range" not in kwargs:
        kwargs["randzoom_range"] = (256, 480)
    return INatGenerator(data_root, "train2019.json", "val2019.json", classes=classes, **kwargs)



DATASETS = {
    "cifar-10": _cifar(cifar10=True),
    "cifar-100": _cifar(),
    "cifar-100-a": _cifar(part=(0, 50), consecutive=False),
    "cifar-100-a-consec": _cifar(part=(0, 50)),
    "cifar-100-b": _cifar(part=(50, 100), consecutive=False),
    "cifar-100-b-consec": _cifar(part=(50, 100)),
    "digits": DatasetEntry(_digits, in_memory=True),
    "fashion-mnist": DatasetEntry(_fashion_mnist, in_memory=True, labels=_fashion_mnist_labels),
    "tinyimagenet": DatasetEntry(_tiny_imagenet, in_memory=True),
    "ilsvrc": DatasetEntry(_file_dataset("ilsvrc", "ILSVRCGenerator", zoom=(256, 480))),
    "nab": DatasetEntry(_file_dataset("nab", "NABGenerator", zoom=(256, 480), img_dir="images")),
    "cub": DatasetEntry(_cub),
    "cub-sub": DatasetEntry(_cub),
    "cars": DatasetEntry(_file_dataset("cars", "CarsGenerator")),
    "flowers": DatasetEntry(_file_dataset("flowers", "FlowersGenerator")),
    "inat": DatasetEntry(_inat),
    "inat2019": DatasetEntry(_inat2019),
    "mit67scenes": DatasetEntry(_with_stats("mit67scenes", _file_dataset(
        "subdirectory", "SubDirectoryGenerator", img_dir="Images", train_list="TrainImages.txt",
        test_list="TestImages.txt"))),
    "ucmlu": DatasetEntry(_with_stats("ucmlu", _file_dataset("subdirectory", "SubDirectoryGenerator"))),
    "resisc45": DatasetEntry(_with_stats("resisc45", _file_dataset("subdirectory", "SubDirectoryGenerator"))),
    "folder": DatasetEntry(_file_dataset("folder", "ImageFolderGenerator"), makes_split=True),
}

# Names that stand for a family: "iNat_<Supercategory>", "CUB-sub<N>".
PREFIXES = {"inat_": "inat", "cub-sub": "cub-sub"}

# Datasets that ignore the "-ilsvrcmean", "-caffe" and "-large" suffixes (they are not image files).
IN_MEMORY_DATASETS = {name for name, entry in DATASETS.items() if entry.in_memory}


def available_datasets():
    """Base names accepted by `get_data_generator` (suffixes and iNat super-categories aside)."""
    return sorted(DATASETS)


def parse_dataset_name(name):
    """Split a dataset name into its base name and the keyword arguments its suffixes imply."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError("dataset name must be a non-empty string, got {!r}".format(name))
    base = name.strip().lower()
    if base.startswith("inat2018"):
        base = "inat" + base[len("inat2018"):]
    kwargs = {}
    if base.endswith("-ilsvrcmean"):
        kwargs.update(mean=IMAGENET_MEAN, std=IMAGENET_STD)
        base = base[: -len("-ilsvrcmean")]
    elif base.endswith("-caffe"):
        kwargs.update(mean=CAFFE_MEAN, std=CAFFE_STD, color_mode="bgr")
        base = base[: -len("-caffe")]
    if base.endswith("-large"):
        kwargs.update(cropsize=(448, 448), default_target_size=512)
        base = base[: -len("-large")]
    return base, kwargs


def dataset_entry(dataset):
    """(base name, suffix keyword arguments, `DatasetEntry`) of a dataset name; ValueError if unknown."""
    base, suffix_kwargs = parse_dataset_name(dataset)
    entry = DATASETS.get(base)
    if entry is None:
        entry = next((DATASETS[family] for prefix, family in PREFIXES.items() if base.startswith(prefix)), None)
    if entry is None:
        raise ValueError("unknown dataset {!r}; known: {}".format(dataset, ", ".join(available_datasets())))
    return base, suffix_kwargs, entry


def get_data_generator(dataset, data_root=None, classes=None, image_size=None, class_balance=None,
                       test_split=None, split_seed=None, **kwargs):
    """A dataset object with default settings for the dataset called `dataset`.

    Arguments:
        dataset: name, case-insensitive: CIFAR-10, CIFAR-100, CIFAR-100-a (classes 0-49), CIFAR-100-b
            (classes 50-99, labels kept), CIFAR-100-a-consec / CIFAR-100-b-consec (renumbered 0-49),
            ILSVRC, NAB, CUB, CUB-subN, Cars, Flowers, iNat / iNat2018 (optionally `_<Supercategory>`),
            iNat2019, MIT67Scenes, UCMLU, RESISC45, Fashion-MNIST, digits, TinyImageNet (`data_root`: the
            `tiny-imagenet-200` folder or its .tar.gz archive; class ids are wnids), folder (`data_root`:
            a folder of class sub-folders, see `datasets.folder`; class ids are the folder names).
            File datasets take the suffixes "-ilsvrcmean" (ImageNet statistics), "-caffe" (BGR, ImageNet
            mean, no std) and, before those, "-large" (images resized to 512, crops of 448x448).
        data_root: root directory of the dataset (not needed for digits; Fashion-MNIST defaults to
            /usr/share/datasets/fashion-mnist).
        classes: optional list of class labels, or the path of a class-list file, to restrict the
            dataset to; the classes are numbered in the given order (ignored by CIFAR-100-a/-b).
        image_size: side of the square training and test crops of file datasets (the resize scaled
            alike); None: the dataset's default. In-memory datasets accept only their own size.
        class_balance: "oversample": smaller classes are repeated in every training epoch up to the
            size of the largest; None: every image once per epoch.
        test_split, split_seed: fraction of each class held out for testing and the seed of that
            split, for datasets that split their images themselves (None: their defaults).
        **kwargs: further constructor arguments of the dataset class (they override the defaults).

    Returns:
        the dataset object.
    """
    base, suffix_kwargs, entry = dataset_entry(dataset)
    options = {}
    if entry.in_memory:
        suffix_kwargs = {}
    else:
        suffix_kwargs["name"] = base
    if image_size is not None:
        options["image_size"] = image_size
    if class_balance is not None:
        options["class_balance"] = check_class_balance(class_balance)
    for name, value in (("test_split", test_split), ("split_seed", split_seed)):
        if value is not None:
            if not entry.makes_split:
                raise ValueError("{}={!r}: dataset {} has its own train/test split".format(name, value, dataset))
            options[name] = value
    return entry.factory(data_root, classes, **{**suffix_kwargs, **options, **kwargs})


SPLITS = ("train", "test")


def load_labels(dataset, data_root=None, split="test", classes=None, **kwargs):
    """The labels of one split and the class id of each label, read without decoding images or
    importing Keras or TensorFlow.

    Arguments: those of `get_data_generator`; `split`: "train" or "test".

    Returns:
        `(labels, class_ids)`: labels (int64 array) in the order the split's unshuffled batches come in,
        and `class_ids` with `class_ids[label]` the class id (int or str, e.g. a wnid or folder name)
        of each label, as in the dataset object's `class_ids`.
    """
    if split not in SPLITS:
        raise ValueError("split must be one of {}, got {!r}".format(SPLITS, split))
    _, _, entry = dataset_entry(dataset)
    if entry.labels is not None:  # options such as image_size or class_balance do not change labels
        labels, class_ids = entry.labels(data_root, classes, split)
        return np.asarray(labels, dtype=np.int64), class_ids
    data = get_data_generator(dataset, data_root, classes, **kwargs)
    labels = data.labels_train if split == "train" else data.labels_test
    return np.asarray(labels, dtype=np.int64), data.class_ids
