"""Fashion-MNIST (Xiao et al., 2017): 60,000 training and 10,000 test images, 28x28 grey, 10 classes.

Read from the four IDX gz files as distributed (Debian's `dataset-fashion-mnist` installs them in
`/usr/share/datasets/fashion-mnist`): `train-images-idx3-ubyte.gz`, `train-labels-idx1-ubyte.gz`,
`t10k-images-idx3-ubyte.gz`, `t10k-labels-idx1-ubyte.gz` (uncompressed files without `.gz` work too).
"""

import gzip
import os

import numpy as np

from .arrays import ArrayDatasetGenerator, select_classes, split_labels

FASHION_MNIST_ROOT = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]
FASHION_MNIST_AUGMENTATION = {"horizontal_flip": True, "width_shift_range": 0.1, "height_shift_range": 0.1}

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path):
    """An array from an IDX file (gzip-compressed if the name ends in .gz)."""
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:
        raise ValueError("{}: cannot read IDX file ({})".format(path, e)) from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ValueError("{}: not an IDX file (bad magic number)".format(path))
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    offset = 4 + 4 * ndim
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - offset != expected:
        raise ValueError("{}: IDX header says {} bytes of data, file has {}".format(path, expected, len(data) - offset))
    return np.frombuffer(data, dtype=dtype, offset=offset).reshape(shape)


def _find(root, stem):
    for name in (stem + ".gz", stem):
        if os.path.isfile(os.path.join(root, name)):
            return os.path.join(root, name)
    raise ValueError("{}: Fashion-MNIST file not found (install the dataset-fashion-mnist package?)".format(
        os.path.join(root, stem + ".gz")))


def load_fashion_mnist(root=FASHION_MNIST_ROOT):
    """`(X_train, y_train, X_test, y_test)` with uint8 (N, 28, 28, 1) images and int64 labels."""
    if not os.path.isdir(root):
        raise ValueError("{}: Fashion-MNIST directory not found (install the dataset-fashion-mnist package?)".format(root))
    arrays = []
    for split in ("train", "t10k"):
        images = read_idx(_find(root, "{}-images-idx3-ubyte".format(split)))
        labels = read_idx(_find(root, "{}-labels-idx1-ubyte".format(split))).astype(np.int64)
        if images.ndim != 3 or len(images) != len(labels):
            raise ValueError("{}: {} images of shape {} but {} labels".format(root, split, images.shape, len(labels)))
        arrays += [images[..., None], labels]
    return tuple(arrays)


def fashion_mnist_split_labels(root=None, split="test", classes=None, reenumerate=True):
    """`(labels, class_ids)` of the "train" or "test" split, reading only its label file."""
    root = root or FASHION_MNIST_ROOT
    if not os.path.isdir(root):
        raise ValueError("{}: Fashion-MNIST directory not found (install the dataset-fashion-mnist package?)".format(
            root))
    y = read_idx(_find(root, "{}-labels-idx1-ubyte".format("train" if split == "train" else "t10k")))
    return split_labels(y, classes, reenumerate, "Fashion-MNIST at {}".format(root))


class FashionMNISTGenerator(ArrayDatasetGenerator):
    """Fashion-MNIST in memory, grey-scale (`num_channels == 1`), 28x28."""

    def __init__(self, root_dir=None, classes=None, reenumerate=True, **kwargs):
        self.root_dir = root_dir or FASHION_MNIST_ROOT
        X_train, y_train, X_test, y_test, self.classes, self.class_indices = select_classes(
            *load_fashion_mnist(self.root_dir), classes, reenumerate, "Fashion-MNIST at {}".format(self.root_dir)
        )
        self.label_names = [FASHION_MNIST_CLASSES[c] for c in self.classes]
        kwargs.setdefault("train_generator_kwargs", FASHION_MNIST_AUGMENTATION)
        super().__init__(X_train, X_test, y_train, y_test, **kwargs)
