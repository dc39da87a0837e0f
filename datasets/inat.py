"""iNaturalist 2018 / 2019: the challenge JSON files (`train2018.json`, `val2018.json`, ...) with
`images` (`id`, `file_name` relative to the root), `annotations` (`image_id`, `category_id`) and
`categories` (`id`, `name`, for 2018 also `supercategory`)."""

import json
import os

from .base import check_classes_present, normalize_class_list
from .files import FileDatasetGenerator

# Pre-computed channel statistics of iNat 2018 and its super-categories (RGB, 0..255).
SUPERCATEGORY_STATS = {
    None: ([119.99310088, 122.86333725, 102.38318464], [60.83471124, 59.33123704, 65.92057842]),
    "actinopterygii": ([95.60659929, 109.21340134, 99.53273934], [62.64981594, 56.77583425, 57.79043402]),
    "amphibia": ([120.38820316, 112.09448704, 93.57291079], [64.38971069, 60.88945117, 60.689195]),
    "animalia": ([117.86148813, 112.27558493, 100.76823038], [65.10786879, 60.9941875, 61.3212783]),
    "arachnida": ([123.05328454, 123.11786486, 99.49669769], [62.10607939, 59.69295922, 64.12102046]),
    "aves": ([125.68554284, 131.58931007, 123.51576605], [56.91926625, 57.04151665, 67.97284604]),
    "bacteria": ([130.44253929, 118.58949652, 100.64353881], [63.52655078, 61.3866035, 62.52496727]),
    "chromista": ([126.63609004, 120.30744082, 103.69842308], [61.3142875, 60.35121831, 64.33445667]),
    "fungi": ([105.4904181, 98.20844854, 81.95195412], [66.43803547, 63.26916273, 61.75505097]),
    "insecta": ([126.79141945, 126.55725101, 94.4626541], [62.46710552, 59.70656548, 64.38703598]),
    "mammalia": ([119.32537707, 119.28610021, 105.22655576], [60.25561291, 58.86410094, 60.85549787]),
    "mollusca": ([119.15865454, 107.82338741, 93.65438902], [65.54171188, 62.00986655, 62.64830566]),
    "plantae": ([109.4558912, 115.78290918, 84.83970548], [60.36177593, 59.17162815, 60.81183456]),
    "protozoa": ([99.4855571, 90.12976005, 71.67906874], [69.23439903, 63.83415135, 59.1059619]),
    "reptilia": ([126.42469824, 119.44987437, 103.84680809], [63.4749642, 60.19704406, 60.20556052]),
}


def read_inat_json(path):
    """(images by id, annotations, categories by id) of an iNaturalist JSON file."""
    if not os.path.isfile(path):
        raise ValueError("{}: file not found".format(path))
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        images = {img["id"]: img["file_name"] for img in data["images"]}
        annotations = [(a["image_id"], a["category_id"]) for a in data["annotations"]]
        categories = {c["id"]: c for c in data["categories"]}
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError("{}: not valid JSON ({})".format(path, e)) from None
    except (KeyError, TypeError) as e:
        raise ValueError("{}: not an iNaturalist annotation file (missing {})".format(path, e)) from None
    return images, annotations, categories


class INatGenerator(FileDatasetGenerator):
    """iNaturalist 2018 / 2019.

    Classes are the category names, numbered in the order of the category ids. `classes` (names or
    category ids as strings/ints) restricts and renumbers them in the given order (the original ignored
    it). `supercategory` (2018 only, case-insensitive) keeps the categories of one super-category; its
    channel statistics are then the pre-computed ones unless `mean`/`std` are given.
    """

    def __init__(self, root_dir, train_file="train2018.json", val_file="val2018.json", supercategory=None,
                 classes=None, cropsize=(224, 224), default_target_size=256, mean=None, std=None, **kwargs):
        super().__init__(root_dir, cropsize=cropsize, default_target_size=default_target_size, **kwargs)
        train_file = train_file if os.path.isabs(train_file) else os.path.join(root_dir, train_file)
        test_file = val_file if os.path.isabs(val_file) else os.path.join(root_dir, val_file)
        supercategory = supercategory.lower() if supercategory else None

        train_images, train_annotations, categories = read_inat_json(train_file)
        test_images, test_annotations, test_categories = read_inat_json(test_file)
        categories = {**test_categories, **categories}
        if supercategory is not None:
            categories = {cid: c for cid, c in categories.items()
                          if str(c.get("supercategory", "")).lower() == supercategory}
            if not categories:
                raise ValueError("{}: no categories in super-category '{}'".format(train_file, supercategory))
        ordered = sorted(categories)
        names = {cid: categories[cid]["name"] for cid in ordered}

        requested = normalize_class_list(classes)
        if requested is None:
            self.classes = [names[cid] for cid in ordered]
            label_of = {cid: i for i, cid in enumerate(ordered)}
        else:
            lookup = {str(cid): cid for cid in ordered}
            lookup.update({str(name): cid for cid, name in names.items()})
            check_classes_present([str(c) for c in requested], lookup, train_file)
            self.classes = list(requested)
            label_of = {lookup[str(c)]: i for i, c in enumerate(requested)}
        self.class_indices = {names[cid]: i for cid, i in label_of.items()}

        for images, annotations, files, labels, path in (
            (train_images, train_annotations, self.train_img_files, self._train_labels, train_file),
            (test_images, test_annotations, self.test_img_files, self._test_labels, test_file),
        ):
            for image_id, category_id in annotations:
                if category_id in label_of:
                    if image_id not in images:
                        raise ValueError("{}: annotation of unknown image id {}".format(path, image_id))
                    files.append(os.path.abspath(os.path.join(root_dir, images[image_id])))
                    labels.append(label_of[category_id])
        if mean is None and std is None and supercategory in SUPERCATEGORY_STATS:
            mean, std = SUPERCATEGORY_STATS[supercategory]
        self._finish(mean, std)
