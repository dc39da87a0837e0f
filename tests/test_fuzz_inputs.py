"""Byte-corrupted input files: every one loads or raises the project's one-line error (ValueError,
of which cli.UsageError and HierarchyError are kinds) naming the file; never anything else.

Fixed seeds, a few hundred variants per file kind, a few seconds in total.
"""

import os
import random

import numpy as np
import pytest

import class_embedding
import utils
from class_hierarchy import ClassHierarchy
from conftest import REPO_ROOT

NUM_VARIANTS = 300


def corrupt(data, rng):
    """A damaged copy of `data`: flipped/overwritten bytes, a cut, an insertion or a duplicated chunk."""
    data = bytearray(data)
    kind = rng.randrange(5)
    if kind == 0:  # a few random bytes overwritten
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif kind == 1:  # single bit flips
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif kind == 2:  # truncated
        del data[rng.randrange(len(data)):]
    elif kind == 3:  # random bytes inserted
        pos = rng.randrange(len(data) + 1)
        data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    else:  # a chunk duplicated or deleted
        i, j = sorted(rng.sample(range(len(data) + 1), 2))
        if rng.random() < 0.5:
            data[j:j] = data[i:j]
        else:
            del data[i:j]
    return bytes(data)


def check_variants(tmp_path, name, original, load, seed):
    """Write NUM_VARIANTS corruptions of `original` to `name` and `load` each; returns how many loaded.

    The test fails on any exception other than ValueError, on a ValueError that does not name the
    file, and on a multi-line message (the scripts print the first line only).
    """
    rng = random.Random(seed)
    path = str(tmp_path / name)
    escaped, loaded = [], 0
    for variant in range(NUM_VARIANTS):
        data = corrupt(original, rng)
        with open(path, "wb") as f:
            f.write(data)
        try:
            load(path)
            loaded += 1
        except ValueError as e:
            assert path in str(e), (variant, str(e))
            assert "\n" not in str(e).strip(), (variant, str(e))
        except Exception as e:  # noqa: BLE001 - the point of this test
            escaped.append("variant {}: {}: {}".format(variant, type(e).__name__, e))
    assert not escaped, "\n".join(escaped[:10])
    return loaded


@pytest.fixture(scope="module")
def embedding_record():
    rng = np.random.RandomState(0)
    return rng.normal(size=(6, 5)), [3, 1, 4, 15, 9, 2]


def load_and_embed_hierarchy(path):
    """What compute_class_embedding.py does with a hierarchy file (int ids, then string ids)."""
    for id_type in (int, str):
        try:
            hierarchy = ClassHierarchy.from_file(path, id_type=id_type)
        except ValueError:
            if id_type is str:
                raise
            continue
        class_embedding.compute_class_embedding(hierarchy, hierarchy.leaves(), "unitsphere")
        return


def test_corrupted_hierarchies(tmp_path):
    with open(os.path.join(REPO_ROOT, "Fashion-MNIST-Hierarchy", "fashion-mnist.parent-child.txt"), "rb") as f:
        original = f.read()
    loaded = check_variants(tmp_path, "tree.txt", original, load_and_embed_hierarchy, seed=1)
    assert 0 < loaded < NUM_VARIANTS  # both outcomes occur: the test exercises something


def test_corrupted_class_lists(tmp_path):
    hierarchy = ClassHierarchy.from_file(
        os.path.join(REPO_ROOT, "Cifar-Hierarchy", "cifar10.parent-child.txt"), id_type=int)
    original = "".join("{} class{}\n".format(i, i) for i in range(10)).encode()
    loaded = check_variants(tmp_path, "classes.txt", original, lambda p: hierarchy.read_class_list(p, id_type=int),
                            seed=2)
    assert 0 < loaded < NUM_VARIANTS


@pytest.mark.parametrize("ext", [".pickle", ".npz"])
def test_corrupted_class_embeddings(tmp_path, embedding_record, ext):
    good = tmp_path / ("good" + ext)
    utils.save_class_embedding(str(good), *embedding_record)
    loaded = check_variants(tmp_path, "emb" + ext, good.read_bytes(), utils.load_class_embedding, seed=3)
    assert 0 < loaded < NUM_VARIANTS


def test_corrupted_python2_pickles(tmp_path, embedding_record):
    """Protocol-2 pickles take the latin-1 retry path when a byte string does not decode as ASCII."""
    import pickle

    embedding, labels = embedding_record
    good = pickle.dumps({"embedding": embedding, "ind2label": labels,
                         "label2ind": {l: i for i, l in enumerate(labels)}}, protocol=2)
    assert 0 < check_variants(tmp_path, "old.pickle", good, utils.load_class_embedding, seed=4) < NUM_VARIANTS


@pytest.mark.parametrize("ext", [".pickle", ".npz"])
def test_corrupted_feature_files(tmp_path, ext):
    good = tmp_path / ("good" + ext)
    utils.save_features(str(good), np.random.RandomState(1).normal(size=(8, 4)).astype(np.float32))
    loaded = check_variants(tmp_path, "feat" + ext, good.read_bytes(), utils.load_features, seed=5)
    assert 0 < loaded < NUM_VARIANTS


def test_unchanged_files_load(tmp_path, embedding_record):
    """The corruption is what fails, not the loaders: the originals load."""
    for ext in (".pickle", ".npz"):
        utils.save_class_embedding(str(tmp_path / ("e" + ext)), *embedding_record)
        assert utils.load_class_embedding(str(tmp_path / ("e" + ext)))["ind2label"] == embedding_record[1]
        utils.save_features(str(tmp_path / ("f" + ext)), np.ones((3, 2)))
        assert utils.load_features(str(tmp_path / ("f" + ext)))[1].shape == (3, 2)
