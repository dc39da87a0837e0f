"""`--dataset folder`: small image folders in a temp dir, both layouts, empty and imbalanced classes,
the split list files, cached channel statistics, image_size and class balancing."""

import os
import stat
import warnings

import numpy as np
import PIL.Image
import pytest

import datasets
import datasets.files
from datasets.files import sizes_for_image_size

COUNTS = {"zebra": 10, "Apple": 5, "cat": 3}  # imbalanced; sorted: Apple, cat, zebra


def _write(path, seed, size=(12, 10)):
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    PIL.Image.fromarray(arr).save(path)
    return arr


def make_class_folders(root, counts=COUNTS, nested=True):
    """root/<class>/<i>.png (one image of each class in a sub-folder); returns {relative path: pixels}."""
    arrays = {}
    for c, (cls, count) in enumerate(sorted(counts.items())):
        for i in range(count):
            rel = "{}/{}{}.png".format(cls, "sub/" if nested and i == 0 else "", i)
            arrays[rel] = _write(os.path.join(str(root), rel), seed=100 * c + i)
    (root / "notes.txt").write_text("not a class")
    return arrays


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    home = tmp_path / "cache-home"
    monkeypatch.setenv("SEMANTIC_EMBEDDINGS_CACHE", str(home))
    return home


def _names(gen, files):
    return [os.path.relpath(f, gen.root_dir).replace(os.sep, "/") for f in files]


def test_split_made_here_is_stratified_written_and_reused(tmp_path, cache_home):
    root = tmp_path / "photos"
    arrays = make_class_folders(root)
    gen = datasets.get_data_generator("folder", str(root))
    assert gen.classes == ["Apple", "cat", "zebra"] and gen.class_ids == gen.classes
    # per class: round(n * 0.2) held out, at least 1, at least 1 left
    assert np.bincount(gen.labels_test).tolist() == [1, 1, 2]
    assert np.bincount(gen.labels_train).tolist() == [4, 2, 8]
    train, test = _names(gen, gen.train_img_files), _names(gen, gen.test_img_files)
    assert not set(train) & set(test) and set(train) | set(test) == set(arrays)
    assert all(name.split("/")[0] == gen.classes[label] for name, label in zip(test, gen.labels_test))
    lists = [root / "split-test0.2-seed0.train.txt", root / "split-test0.2-seed0.test.txt"]
    assert [p.read_text().split() for p in lists] == [train, test]
    # the same options give the same split; new images do not change it (a warning counts them)
    _write(str(root / "cat" / "new.png"), seed=999)
    with pytest.warns(UserWarning, match="1 images of .* are in neither split list"):
        again = datasets.get_data_generator("folder", str(root))
    assert _names(again, again.test_img_files) == test
    # another seed or fraction: another split, another pair of lists
    other = datasets.get_data_generator("folder", str(root), test_split=0.5, split_seed=3)
    assert np.bincount(other.labels_test).tolist() == [2, 2, 5]
    assert (root / "split-test0.5-seed3.test.txt").is_file()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        labels, ids = datasets.load_labels("folder", str(root), test_split=0.5, split_seed=3)
    assert [ids[label] for label in labels] == [ids[label] for label in other.labels_test]


def test_a_listed_image_that_is_gone_is_an_error(tmp_path, cache_home):
    root = tmp_path / "photos"
    make_class_folders(root)
    gen = datasets.get_data_generator("folder", str(root))
    os.remove(gen.test_img_files[0])
    with pytest.raises(ValueError, match=r"split-test0.2-seed0.test.txt: lists the missing image"):
        datasets.get_data_generator("folder", str(root))


def test_read_only_folder_keeps_lists_and_stats_in_the_cache(tmp_path, cache_home):
    root = tmp_path / "photos"
    make_class_folders(root)
    before = sorted(os.listdir(str(root)))
    os.chmod(str(root), stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP)
    try:
        gen = datasets.get_data_generator("folder", str(root), mean=None)
        assert gen.std.shape == (3,)  # computed (and cached) now
        assert sorted(os.listdir(str(root))) == before
        reused = datasets.get_data_generator("folder", str(root))
        assert reused.test_img_files == gen.test_img_files
    finally:
        os.chmod(str(root), 0o755)
    cached = sorted(fn for _, _, files in os.walk(str(cache_home)) for fn in files)
    assert cached == ["channel-stats.json", "split-test0.2-seed0.test.txt", "split-test0.2-seed0.train.txt"]


def test_statistics_from_training_images_once(tmp_path, cache_home, monkeypatch):
    root = tmp_path / "photos"
    arrays = make_class_folders(root)
    gen = datasets.get_data_generator("folder", str(root))
    train = [arrays[name].astype(np.float64) for name in _names(gen, gen.train_img_files)]
    mean = np.mean([a.mean(axis=(0, 1)) for a in train], axis=0)
    std = np.sqrt(sum(((a - mean.astype(np.float32)) ** 2).mean(axis=(0, 1)) for a in train) / (len(train) - 1))
    np.testing.assert_allclose(gen.mean, mean, rtol=1e-6)
    np.testing.assert_allclose(gen.std, std, rtol=1e-5)
    monkeypatch.setattr(datasets.files, "file_channel_stats", lambda *a, **k: pytest.fail("computed again"))
    again = datasets.get_data_generator("folder", str(root))
    np.testing.assert_array_equal(again.std, gen.std)


def test_train_and_test_folders(tmp_path, cache_home):
    root = tmp_path / "given"
    for split, count in (("train", 3), ("val", 2)):
        make_class_folders(root / split, {"b": count, "a": count}, nested=False)
    gen = datasets.get_data_generator("folder", str(root))
    assert gen.classes == ["a", "b"] and gen.num_train == 6 and gen.num_test == 4
    assert gen.labels_test.tolist() == [0, 0, 1, 1] and gen.split_lists is None
    assert _names(gen, gen.test_img_files)[0] == "val/a/0.png"
    assert not any(fn.startswith("split-") for fn in os.listdir(str(root)))
    with pytest.raises(ValueError, match="test_split"):
        datasets.get_data_generator("folder", str(root), test_split=1.5)
    # a class without test folder, a test class without training folder
    os.rename(str(root / "val" / "b"), str(tmp_path / "b"))
    with pytest.raises(ValueError, match=r"val/b: class directory not found"):
        datasets.get_data_generator("folder", str(root))
    os.rename(str(tmp_path / "b"), str(root / "val" / "c"))
    with pytest.raises(ValueError, match=r"val/c: class not in .*train"):
        datasets.get_data_generator("folder", str(root))


def test_bad_folders_are_one_line_errors(tmp_path, cache_home):
    root = tmp_path / "photos"
    root.mkdir()
    with pytest.raises(ValueError, match=r"photos: no images found"):
        datasets.get_data_generator("folder", str(root))
    make_class_folders(root)
    (root / "empty").mkdir()
    with pytest.raises(ValueError, match=r"photos/empty: empty class directory"):
        datasets.get_data_generator("folder", str(root))
    (root / "empty").rmdir()
    _write(str(root / "single" / "0.png"), seed=5)
    with pytest.raises(ValueError, match=r"no test images of class 'single' \(too few images"):
        datasets.get_data_generator("folder", str(root))
    # restricted to other classes, the single-image class does not matter
    assert datasets.get_data_generator("folder", str(root), classes=["cat", "zebra"]).classes == ["cat", "zebra"]
    with pytest.raises(ValueError, match=r"'dog' not in the dataset"):
        datasets.get_data_generator("folder", str(root), classes=["dog"])
    with pytest.raises(ValueError, match=r"nowhere: dataset root directory not found"):
        datasets.get_data_generator("folder", str(tmp_path / "nowhere"))


def test_image_size_and_oversampling(tmp_path, cache_home):
    root = tmp_path / "photos"
    make_class_folders(root)
    gen = datasets.get_data_generator("folder", str(root), image_size=8, class_balance="oversample")
    assert gen.cropsize == (8, 8) and gen.default_target_size == 9  # 256 / 224 * 8, rounded
    seq = gen.train_sequence(batch_size=5, seed=0)
    xs, ys = zip(*(seq[i] for i in range(len(seq))))
    assert xs[0].shape == (5, 8, 8, 3)
    assert np.bincount(np.concatenate(ys)).tolist() == [8, 8, 8]  # every class as often as the largest
    x, _ = gen.test_sequence(batch_size=4)[0]
    assert x.shape == (4, 8, 8, 3)


def test_sizes_for_image_size():
    assert sizes_for_image_size(64, (224, 224), 256, None) == ((64, 64), 73, None)
    assert sizes_for_image_size(112, (224, 224), 256, (256, 480)) == ((112, 112), 128, (128, 240))
    assert sizes_for_image_size(32, (448, 448), 512, (0.8, 1.2)) == ((32, 32), 37, (0.8, 1.2))
    assert sizes_for_image_size(50, (224, 224), -1, None) == ((50, 50), 50, None)
    with pytest.raises(ValueError, match="image_size"):
        sizes_for_image_size(0, (224, 224), 256, None)
