"""The data of a comparison: Tiny ImageNet (or a subset of it in the same layout) and the class embeddings.

A subset (QUICK runs, `--classes`, `--train_per_class`, `--test_per_class`) is written in Tiny ImageNet's
own layout (`wnids.txt`, `words.txt`, `train/<wnid>/images/`, `val/images/` with `val/val_annotations.txt`),
its images linked to the source folder's (or extracted from the source archive), so that every method
reads it through `--dataset TinyImageNet` as it would read the whole dataset. Its classes are spread over
the source's class list (every n-th wnid), its images the first of each class.

Class embeddings are computed for the dataset's classes in the dataset's own order (`wnids.txt`), so the
columns of every model, one-hot or embedding-based, are the same classes in the same order. The
unit-sphere embedding is `embeddings/tiny-imagenet.unitsphere.pickle` (rows in sorted wnid order) with its
rows in that order: the same dot products (tests check it).
"""

import json
import os
import shutil
import tempfile
from collections import OrderedDict

import numpy as np

import utils

SUBSET_MANIFEST = "subset.json"


# ---------------------------------------------------------------------------
# Tiny ImageNet subsets in the dataset's own layout
# ---------------------------------------------------------------------------


def read_index(root):
    """`(index, contents)` of a Tiny ImageNet folder or archive (`datasets.tiny_imagenet`); contents (relative
    path -> bytes) only for an archive, else None."""
    from datasets import tiny_imagenet

    if os.path.isdir(root):
        return tiny_imagenet.index_folder(root), None
    if os.path.isfile(root):
        return tiny_imagenet.read_archive(root)
    raise ValueError("{}: Tiny ImageNet folder or archive not found".format(root))


def spread(items, count):
    """`count` items spread evenly over `items` (every n-th, from the first), in their order."""
    items = list(items)
    if count is None or count >= len(items):
        return items
    if count < 1:
        raise ValueError("the number of classes must be at least 1, got {}".format(count))
    return [items[int(i * len(items) / count)] for i in range(count)]


def choose_subset(index, num_classes=None, train_per_class=None, test_per_class=None):
    """The wnids and the (relative path, wnid) entries of the training and test images of a subset."""
    for name, value in (("train_per_class", train_per_class), ("test_per_class", test_per_class)):
        if value is not None and value < 1:
            raise ValueError("{} must be at least 1, got {}".format(name, value))
    wnids = spread(index["wnids"], num_classes)
    chosen = set(wnids)

    def first_per_class(entries, limit):
        taken, kept = {}, []
        for path, wnid in entries:
            if wnid in chosen and (limit is None or taken.get(wnid, 0) < limit):
                taken[wnid] = taken.get(wnid, 0) + 1
                kept.append((path, wnid))
        return kept

    return wnids, first_per_class(index["train"], train_per_class), first_per_class(index["val"], test_per_class)


def write_subset(source, out_dir, num_classes=None, train_per_class=None, test_per_class=None):
    """Write (or reuse) a subset of the Tiny ImageNet at `source` (folder or archive) in `out_dir`.

    Images of a source folder are linked (symbolic links to their absolute paths), those of an archive
    written. The folder is built under a temporary name and renamed, with a manifest of what it holds; an
    existing folder with the same manifest is reused. Returns `out_dir`.
    """
    manifest = {"source": os.path.abspath(source), "classes": num_classes, "train_per_class": train_per_class,
                "test_per_class": test_per_class}
    existing = os.path.join(out_dir, SUBSET_MANIFEST)
    if os.path.isfile(existing):
        with open(existing) as f:
            if json.load(f) == manifest:
                return out_dir
        raise ValueError("{}: holds another subset ({}); remove it or choose another output folder".format(
            out_dir, existing))
    index, contents = read_index(source)
    wnids, train, val = choose_subset(index, num_classes, train_per_class, test_per_class)
    names = dict(zip(index["wnids"], index["names"]))
    parent = os.path.dirname(os.path.abspath(out_dir))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".subset-", dir=parent)
    try:
        with open(os.path.join(tmp, "wnids.txt"), "w") as f:
            f.writelines(w + "\n" for w in wnids)
        with open(os.path.join(tmp, "words.txt"), "w") as f:
            f.writelines("{}\t{}\n".format(w, names.get(w, w)) for w in wnids)
        for rel, _ in train + val:
            target = os.path.join(tmp, rel)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if contents is None:
                os.symlink(os.path.join(os.path.abspath(source), rel), target)
            else:
                with open(target, "wb") as f:
                    f.write(contents[rel])
        with open(os.path.join(tmp, "val", "val_annotations.txt"), "w") as f:
            f.writelines("{}\t{}\t0\t0\t63\t63\n".format(os.path.basename(rel), wnid) for rel, wnid in val)
        with open(os.path.join(tmp, SUBSET_MANIFEST), "w") as f:
            json.dump(manifest, f, indent=1)
        if os.path.exists(out_dir):  # an empty or partial folder of an interrupted run
            shutil.rmtree(out_dir)
        os.rename(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print("Wrote a Tiny ImageNet subset of {} classes ({} training, {} test images) to {}".format(
        len(wnids), len(train), len(val), out_dir))
    return out_dir


# ---------------------------------------------------------------------------
# Class embeddings in the dataset's class order
# ---------------------------------------------------------------------------


def _unitsphere(hierarchy, classes):
    from class_embedding import compute_class_embedding

    return compute_class_embedding(hierarchy, classes, "unitsphere")[0]


def _binary_codes(bits):
    def embed(hierarchy, classes):
        from class_embedding import compute_class_embedding

        return compute_class_embedding(hierarchy, classes, "binary", num_dim=bits)[0]

    return embed


def _output_size(dim):
    def embed(hierarchy, classes):
        # For methods whose --embedding only sets the network's output size (the triplet loss): random
        # unit vectors (seed 0); nothing is trained onto them.
        rows = np.random.default_rng(0).normal(size=(len(classes), dim))
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    return embed


# name -> (class-embedding method it needs, function (hierarchy, classes) -> (classes, dim) array)
EMBEDDINGS = OrderedDict([("unitsphere", ("unitsphere", _unitsphere))] + [
    ("binary{}".format(bits), ("binary", _binary_codes(bits))) for bits in (16, 32, 64)] + [
    ("size64", (None, _output_size(64)))])


def embedding_method_available(method):
    """Whether compute_class_embedding.py has the method `method` (e.g. "binary", added by issue 15)."""
    import class_embedding

    return method is None or method in class_embedding.METHODS


def prepare_embedding(name, hierarchy, classes, out_dir):
    """The file of class embedding `name` (a key of EMBEDDINGS) for `classes` (rows in that order), written
    to `out_dir/<name>.pickle` unless it is there with those classes. Returns its path."""
    if name not in EMBEDDINGS:
        raise ValueError("unknown class embedding {!r}; choose from {}".format(name, ", ".join(EMBEDDINGS)))
    path = os.path.join(out_dir, name + ".pickle")
    if os.path.isfile(path) and list(utils.load_class_embedding(path)["ind2label"]) == list(classes):
        return path
    matrix = np.asarray(EMBEDDINGS[name][1](hierarchy, list(classes)), dtype=np.float64)
    os.makedirs(out_dir, exist_ok=True)
    utils.save_class_embedding(path, matrix, list(classes))
    return path
