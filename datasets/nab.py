"""NABirds and CUB-200-2011: the datasets' own `images.txt`, `image_class_labels.txt` and
`train_test_split.txt` (image id and file name / class label / 1 for training, 0 for test)."""

import os

from .files import FINE_GRAINED_RANDERASE_PARAMS, FileDatasetGenerator, read_id_table

NAB_MEAN = [125.30513277, 129.66606421, 118.45121113]
NAB_STD = [57.0045467, 56.70059436, 68.44430446]
CUB_MEAN = [123.82988033, 127.35116805, 110.25606303]
CUB_STD = [59.2230949, 58.0736071, 67.80251684]


class NABGenerator(FileDatasetGenerator):
    """NABirds / CUB-200-2011 data. Classes are the integer labels of `image_class_labels.txt`,
    sorted (or the requested ones, in the given order); images come in the order of `images.txt`.

    Arguments (besides those of `FileDatasetGenerator`):
        img_dir: folder (relative to `root_dir`) the file names in `img_list_file` are relative to.
        img_list_file, split_file, label_file: the three annotation files (relative to `root_dir`).
    """

    default_randerase_params = FINE_GRAINED_RANDERASE_PARAMS

    def __init__(self, root_dir, classes=None, img_dir="images", img_list_file="images.txt",
                 split_file="train_test_split.txt", label_file="image_class_labels.txt",
                 cropsize=(224, 224), default_target_size=256, randzoom_range=None, randerase_prob=0.5,
                 randerase_params=None, mean=NAB_MEAN, std=NAB_STD, **kwargs):
        super().__init__(root_dir, cropsize=cropsize, default_target_size=default_target_size,
                         randzoom_range=randzoom_range, randerase_prob=randerase_prob,
                         randerase_params=randerase_params, **kwargs)
        self.imgs_dir = os.path.join(root_dir, img_dir)
        self.img_list_file = os.path.join(root_dir, img_list_file)
        self.label_file = os.path.join(root_dir, label_file)
        self.split_file = os.path.join(root_dir, split_file)
        if not os.path.isdir(self.imgs_dir):
            raise ValueError("{}: image directory not found".format(self.imgs_dir))

        is_train = read_id_table(self.split_file, lambda flag: flag.split()[0] != "0", "split flag")
        img_labels = read_id_table(self.label_file, lambda lbl: int(lbl.split()[0]), "class label")
        img_files = read_id_table(self.img_list_file, str, "file name")
        self._set_classes(classes, sorted(set(img_labels.values())), self.label_file)

        for img_id, fn in img_files.items():
            if img_id not in is_train:
                continue
            if img_id not in img_labels:
                raise ValueError("{}: no class label for image id {}".format(self.label_file, img_id))
            label = self.class_indices.get(img_labels[img_id])
            if label is None:
                continue
            if is_train[img_id]:
                self.train_img_files.append(os.path.join(self.imgs_dir, fn))
                self._train_labels.append(label)
            else:
                self.test_img_files.append(os.path.join(self.imgs_dir, fn))
                self._test_labels.append(label)
        self._finish(mean, std)
