"""scikit-learn's bundled 8x8 hand-written digits (1,797 images, 10 classes): no download, no root.

Split: deterministic and stratified, 300 test images (30 per class) and 1,497 training images,
drawn with `sklearn.model_selection.train_test_split(..., test_size=300, stratify=labels,
random_state=0)`; both splits are kept in the bundled order. Pixel values are the bundled
integers 0..16 stored as uint8 (normalization uses the training set's mean and std anyway).
"""

import numpy as np

from .arrays import ArrayDatasetGenerator, select_classes

DIGITS_TEST_SIZE = 300
DIGITS_SPLIT_SEED = 0
# No flips for digits; shifts of whole pixels (1 of 8).
DIGITS_AUGMENTATION = {"width_shift_range": 1, "height_shift_range": 1}


def load_digits_split():
    """`(X_train, y_train, X_test, y_test)`: uint8 (N, 8, 8, 1) images and int64 labels."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = digits.images.astype(np.uint8)[..., None]
    labels = digits.target.astype(np.int64)
    train_idx, test_idx = train_test_split(
        np.arange(len(labels)), test_size=DIGITS_TEST_SIZE, stratify=labels, random_state=DIGITS_SPLIT_SEED
    )
    train_idx, test_idx = np.sort(train_idx), np.sort(test_idx)
    return images[train_idx], labels[train_idx], images[test_idx], labels[test_idx]


class DigitsGenerator(ArrayDatasetGenerator):
    """The scikit-learn digits as an in-memory grey-scale dataset (`num_channels == 1`, 8x8 images).

    `data_root` is ignored. `classes` restricts (and, with `reenumerate`, renumbers) the digits.
    """

    def __init__(self, root_dir=None, classes=None, reenumerate=True, **kwargs):
        self.root_dir = root_dir
        X_train, y_train, X_test, y_test, self.classes, self.class_indices = select_classes(
            *load_digits_split(), classes, reenumerate, "digits"
        )
        self.label_names = [str(c) for c in self.classes]
        kwargs.setdefault("train_generator_kwargs", DIGITS_AUGMENTATION)
        super().__init__(X_train, X_test, y_train, y_test, **kwargs)
