"""Datasets: from images on disk to normalized, augmented training and test batches.

`get_data_generator(name, data_root, classes=None)` is the entry point; the names are those of the
original release (case-insensitive). Every dataset object offers `classes`, `class_indices`,
`num_classes`, `num_train`, `num_test`, `labels_train`, `labels_test`, `num_channels`,
`train_sequence()`, `test_sequence()` (both `keras.utils.PyDataset`s), `flow_train()`,
`flow_test()` and `compose_batch()`.
"""

from .common import ArrayDatasetGenerator, DataSequence, TinyDatasetGenerator, read_class_list  # noqa: F401

CAFFE_MEAN = [123.68, 116.779, 103.939]
CAFFE_STD = [1.0, 1.0, 1.0]

IMAGENET_MEAN = [122.65435242, 116.6545058, 103.99789959]
IMAGENET_STD = [71.40583196, 69.56888997, 73.0440314]

# Per-dataset channel statistics (RGB, on the 0..255 scale) of the original README.
DATASET_STATS = {
    "cub": ([123.82988033, 127.35116805, 110.25606303], [59.2230949, 58.0736071, 67.80251684]),
    "inat2019": ([115.77492586, 120.84414891, 93.51744386], [60.46127213, 58.63136496, 63.5872299]),
    "mit67scenes": ([124.62788179, 110.01028625, 94.95780545], [68.56923599, 66.86607736, 67.35944349]),
    "ucmlu": ([122.65409223, 124.40230701, 114.25659171], [55.74499679, 51.65585669, 50.16527551]),
    "resisc45": ([94.17769482, 97.40967803, 87.80359702], [51.92246172, 47.22081475, 47.07685676]),
}


# ---------------------------------------------------------------------------
# Registry: base name -> factory(data_root, classes, **kwargs)
# ---------------------------------------------------------------------------


def _cifar10(data_root, classes, **kwargs):
    from .cifar import CIFAR10_AUGMENTATION, CifarGenerator

    kwargs.setdefault("train_generator_kwargs", CIFAR10_AUGMENTATION)
    return CifarGenerator(data_root, classes, reenumerate=True, cifar10=True, **kwargs)


def _cifar100(data_root, classes, **kwargs):
    from .cifar import CifarGenerator

    return CifarGenerator(data_root, classes, reenumerate=True, **kwargs)


def _cifar100_part(first, last, consecutive):
    """CIFAR-100-a (classes 0-49) / -b (50-99); labels kept unless `-consec` renumbers them 0-49."""

    def factory(data_root, classes, **kwargs):
        from .cifar import CifarGenerator

        return CifarGenerator(data_root, list(range(first, last)), reenumerate=consecutive, **kwargs)

    return factory


def _digits(data_root, classes, **kwargs):
    from .digits import DigitsGenerator

    return DigitsGenerator(data_root, classes, **kwargs)


def _fashion_mnist(data_root, classes, **kwargs):
    from .fashion_mnist import FashionMNISTGenerator

    return FashionMNISTGenerator(data_root, classes, **kwargs)


def _file_dataset(module, class_name, zoom=None, **defaults):
    """Factory of a file dataset class; `defaults` are overridden by suffix and caller keyword arguments.

    `zoom`: the random scale range of the original's default set-up; "-large" (which sets
    `default_target_size`) turns random scaling off, as in the original.
    """

    def factory(data_root, classes, name=None, **kwargs):
        import importlib

        cls = getattr(importlib.import_module("." + module, __name__), class_name)
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
    "cifar-10": _cifar10,
    "cifar-100": _cifar100,
    "cifar-100-a": _cifar100_part(0, 50, False),
    "cifar-100-a-consec": _cifar100_part(0, 50, True),
    "cifar-100-b": _cifar100_part(50, 100, False),
    "cifar-100-b-consec": _cifar100_part(50, 100, True),
    "digits": _digits,
    "fashion-mnist": _fashion_mnist,
    "ilsvrc": _file_dataset("ilsvrc", "ILSVRCGenerator", zoom=(256, 480)),
    "nab": _file_dataset("nab", "NABGenerator", zoom=(256, 480), img_dir="images"),
    "cub": _cub,
    "cub-sub": _cub,
    "cars": _file_dataset("cars", "CarsGenerator"),
    "flowers": _file_dataset("flowers", "FlowersGenerator"),
    "inat": _inat,
    "inat2019": _inat2019,
    "mit67scenes": _with_stats("mit67scenes", _file_dataset(
        "subdirectory", "SubDirectoryGenerator", img_dir="Images", train_list="TrainImages.txt",
        test_list="TestImages.txt")),
    "ucmlu": _with_stats("ucmlu", _file_dataset("subdirectory", "SubDirectoryGenerator")),
    "resisc45": _with_stats("resisc45", _file_dataset("subdirectory", "SubDirectoryGenerator")),
}

# Datasets that ignore the "-ilsvrcmean", "-caffe" and "-large" suffixes (they are not image files).
IN_MEMORY_DATASETS = {"cifar-10", "cifar-100", "cifar-100-a", "cifar-100-a-consec", "cifar-100-b",
                      "cifar-100-b-consec", "digits", "fashion-mnist"}


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


def get_data_generator(dataset, data_root=None, classes=None, **kwargs):
    """A dataset object with default settings for the dataset called `dataset`.

    Arguments:
        dataset: name, case-insensitive: CIFAR-10, CIFAR-100, CIFAR-100-a (classes 0-49), CIFAR-100-b
            (classes 50-99, labels kept), CIFAR-100-a-consec / CIFAR-100-b-consec (renumbered 0-49),
            ILSVRC, NAB, CUB, CUB-subN, Cars, Flowers, iNat / iNat2018 (optionally `_<Supercategory>`),
            iNat2019, MIT67Scenes, UCMLU, RESISC45, Fashion-MNIST, digits.
            File datasets take the suffixes "-ilsvrcmean" (ImageNet statistics), "-caffe" (BGR, ImageNet
            mean, no std) and, before those, "-large" (images resized to 512, crops of 448x448).
        data_root: root directory of the dataset (not needed for digits; Fashion-MNIST defaults to
            /usr/share/datasets/fashion-mnist).
        classes: optional list of class labels, or the path of a class-list file, to restrict the
            dataset to; the classes are numbered in the given order (ignored by CIFAR-100-a/-b).
        **kwargs: further constructor arguments of the dataset class (they override the defaults).

    Returns:
        the dataset object.
    """
    base, suffix_kwargs = parse_dataset_name(dataset)
    factory = DATASETS.get(base)
    if factory is None and base.startswith("inat_"):
        factory = DATASETS.get("inat")
    if factory is None and base.startswith("cub-sub"):
        factory = DATASETS.get("cub-sub")
    if factory is None:
        raise ValueError("unknown dataset {!r}; known: {}".format(dataset, ", ".join(available_datasets())))
    if base in IN_MEMORY_DATASETS:
        suffix_kwargs = {}
    else:
        suffix_kwargs["name"] = base
    return factory(data_root, classes, **{**suffix_kwargs, **kwargs})


_GENERATOR_CLASSES = {
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
}


def __getattr__(name):
    # The original exported the dataset classes from the package; import their modules on first use.
    if name in _GENERATOR_CLASSES:
        import importlib

        return getattr(importlib.import_module("." + _GENERATOR_CLASSES[name], __name__), name)
    raise AttributeError("module {!r} has no attribute {!r}".format(__name__, name))
