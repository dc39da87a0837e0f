"""The datasets package as a whole: no Keras for labels, no import cycle, the original's signatures,
`load_labels`, lazy channel statistics, class balancing and resuming a sequence at an epoch."""

import inspect
import os
import subprocess
import sys

import numpy as np
import PIL.Image
import pytest

import datasets
from datasets.arrays import ArrayDatasetGenerator
from datasets.cifar import write_cifar_pickles
from datasets.files import FileDatasetGenerator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "datasets")


def test_labels_without_keras_or_tensorflow(tmp_path):
    """`import datasets` and `load_labels` import no deep-learning framework (checked in a fresh process)."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (20, 32, 32, 3), dtype=np.uint8)
    write_cifar_pickles(str(tmp_path), x, np.arange(20) % 10, x[:10], np.arange(10), cifar10=True)
    code = (
        "import sys, datasets\n"
        "labels, ids = datasets.load_labels('cifar-10', sys.argv[1])\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('keras', 'tensorflow', 'jax', 'torch'))\n"
        "print(len(labels), ids[:3], heavy[:5])\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.split("\n")[-2]
    assert out == "10 [0, 1, 2] []"


def test_only_the_sequence_module_imports_keras():
    for fn in sorted(os.listdir(PACKAGE)):
        if fn.endswith(".py") and fn != "sequence.py":
            source = open(os.path.join(PACKAGE, fn), encoding="utf-8").read()
            assert "import keras" not in source and "from keras" not in source, fn


def _positional(function):
    return [p.name for p in inspect.signature(function).parameters.values()
            if p.kind == p.POSITIONAL_OR_KEYWORD and p.name != "self"]


def test_original_positional_signatures():
    """The original release's parameter order (datasets/common.py at 0d41774) is kept."""
    assert _positional(ArrayDatasetGenerator.__init__)[:6] == [
        "X_train", "X_test", "y_train", "y_test", "generator_kwargs", "train_generator_kwargs"]
    assert _positional(FileDatasetGenerator.__init__)[:10] == [
        "root_dir", "cropsize", "default_target_size", "randzoom_range", "randrot_max", "distort_colors",
        "colordistort_params", "randerase_prob", "randerase_params", "color_mode"]
    assert _positional(ArrayDatasetGenerator.train_sequence)[:5] == [
        "batch_size", "shuffle", "augment", "batch_transform", "batch_transform_kwargs"]
    assert _positional(FileDatasetGenerator.train_sequence)[:6] == [
        "batch_size", "shuffle", "target_size", "augment", "batch_transform", "batch_transform_kwargs"]
    assert _positional(FileDatasetGenerator.test_sequence)[:6] == _positional(FileDatasetGenerator.train_sequence)[:6]
    assert _positional(ArrayDatasetGenerator.flow_train)[:4] == ["batch_size", "include_labels", "shuffle", "augment"]
    assert _positional(FileDatasetGenerator.flow_test)[:5] == [
        "batch_size", "include_labels", "shuffle", "target_size", "augment"]
    assert datasets.TinyDatasetGenerator is ArrayDatasetGenerator
    from datasets.common import DataSequence, FileDatasetGenerator as common_files, TinyDatasetGenerator

    assert common_files is FileDatasetGenerator and TinyDatasetGenerator is ArrayDatasetGenerator
    assert DataSequence is datasets.DataSequence


def test_positional_calls_take_effect():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (12, 6, 6, 3), dtype=np.uint8)
    y = np.arange(12) % 3
    gen = ArrayDatasetGenerator(x, x[:6], y, y[:6], {"featurewise_std_normalization": False}, {})
    np.testing.assert_allclose(gen.std, 1.0)
    batch, labels = gen.train_sequence(4, False, False)[0]  # unshuffled, unaugmented
    np.testing.assert_allclose(batch, x[:4] - gen.mean, atol=1e-4)
    np.testing.assert_array_equal(labels, y[:4])


def test_load_labels_and_class_ids(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (200, 32, 32, 3), dtype=np.uint8)
    y = np.arange(200) % 100
    y_test = rng.permutation(100)
    write_cifar_pickles(str(tmp_path), x, y, x[:100], y_test, cifar10=False)
    labels, ids = datasets.load_labels("cifar-100", str(tmp_path))
    np.testing.assert_array_equal(labels, y_test)
    assert ids == list(range(100))
    labels, ids = datasets.load_labels("cifar-100-b", str(tmp_path))  # labels 50..99 kept
    np.testing.assert_array_equal(labels, y_test[y_test >= 50])
    assert all(ids[label] == label for label in labels) and ids[0] is None
    labels, ids = datasets.load_labels("cifar-100", str(tmp_path), classes=[7, 3], split="train")
    np.testing.assert_array_equal([ids[label] for label in labels], y[np.isin(y, [7, 3])])
    with pytest.raises(ValueError, match="split"):
        datasets.load_labels("cifar-100", str(tmp_path), split="val")
    # the cheap path (one file read) gives what the dataset object gives
    for name in ("cifar-100", "cifar-100-a", "cifar-100-b", "cifar-100-a-consec", "cifar-100-b-consec"):
        for classes in (None, [60, 2, 51]):
            if classes is not None and name != "cifar-100":
                continue
            gen = datasets.get_data_generator(name, str(tmp_path), classes=classes)
            for split, expected in (("train", gen.labels_train), ("test", gen.labels_test)):
                labels, ids = datasets.load_labels(name, str(tmp_path), split=split, classes=classes)
                np.testing.assert_array_equal(labels, expected)
                assert ids == gen.class_ids, (name, classes, split)


def test_fashion_mnist_labels_read_alone(tmp_path):
    import gzip

    rng = np.random.default_rng(4)
    for split, count in (("train", 30), ("t10k", 20)):
        labels = rng.integers(0, 10, count).astype(np.uint8)
        labels[:10] = np.arange(10)
        with gzip.open(str(tmp_path / "{}-labels-idx1-ubyte.gz".format(split)), "wb") as f:
            f.write(bytes([0, 0, 8, 1]) + count.to_bytes(4, "big") + labels.tobytes())
        with gzip.open(str(tmp_path / "{}-images-idx3-ubyte.gz".format(split)), "wb") as f:
            f.write(bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in (count, 28, 28))
                    + rng.integers(0, 256, count * 784, dtype=np.uint8).tobytes())
    for classes in (None, [3, 1]):
        gen = datasets.get_data_generator("Fashion-MNIST", str(tmp_path), classes=classes)
        labels, ids = datasets.load_labels("fashion-mnist", str(tmp_path), classes=classes)
        np.testing.assert_array_equal(labels, gen.labels_test)
        assert ids == gen.class_ids == (classes or list(range(10)))


def _write_images(folder, count, seed):
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    for i in range(count):
        image = PIL.Image.fromarray(rng.integers(0, 256, (5, 6, 3), dtype=np.uint8))
        image.save(os.path.join(folder, "{}.png".format(i)))


def test_file_statistics_are_computed_only_when_needed(tmp_path, monkeypatch):
    for split in ("ILSVRC2012_img_train", "ILSVRC2012_img_val"):
        for cls in ("a", "b"):
            _write_images(str(tmp_path / split / cls), 2, seed=len(split) + ord(cls))
    calls = []
    import datasets.files

    real = datasets.files.file_channel_stats
    monkeypatch.setattr(datasets.files, "file_channel_stats", lambda *a, **k: calls.append(1) or real(*a, **k))
    gen = datasets.get_data_generator("ILSVRC", str(tmp_path), mean=None, std=None, cropsize=4, default_target_size=5)
    assert gen.labels_test.tolist() == [0, 0, 1, 1] and calls == []  # labels without decoding
    gen.test_sequence(batch_size=2)
    assert len(calls) == 1 and gen.std.shape == (3,)
    gen.train_sequence(batch_size=2)
    assert len(calls) == 1  # computed once


def test_one_pass_statistics_match_the_two_pass_definition(tmp_path):
    """file_channel_stats against the original's two passes (mean of image means, then deviations)."""
    from datasets.images import file_channel_stats

    rng = np.random.default_rng(3)
    files, arrays = [], []
    for i in range(5):
        arr = rng.integers(0, 256, (4 + i, 7, 3), dtype=np.uint8)
        path = str(tmp_path / "{}.png".format(i))
        PIL.Image.fromarray(arr).save(path)
        files.append(path)
        arrays.append(arr.astype(np.float64))
    mean = np.mean([a.mean(axis=(0, 1)) for a in arrays], axis=0)
    m32 = mean.astype(np.float32)
    std = np.sqrt(sum(((a - m32) ** 2).mean(axis=(0, 1)) for a in arrays) / (len(arrays) - 1))
    got_mean, got_std = file_channel_stats(files)
    np.testing.assert_allclose(got_mean, mean, rtol=1e-12)
    np.testing.assert_allclose(got_std, std, rtol=1e-9)
    given = np.array([100.0, 110.0, 120.0])
    _, std_given = file_channel_stats(files, mean=given)
    np.testing.assert_allclose(std_given, np.sqrt(sum(((a - given) ** 2).mean(axis=(0, 1)) for a in arrays) / 4),
                               rtol=1e-9)


def test_class_balance_oversample_is_the_training_default():
    gen = datasets.get_data_generator("digits", class_balance="oversample", classes=[0, 1, 2])
    sizes = gen.class_sizes()
    seq = gen.train_sequence(batch_size=50, seed=0)
    labels = np.concatenate([seq[i][1] for i in range(len(seq))])
    assert np.bincount(labels).tolist() == [sizes.max()] * 3
    plain = datasets.get_data_generator("digits", classes=[0, 1, 2]).train_sequence(batch_size=50, seed=0)
    assert sum(len(plain[i][1]) for i in range(len(plain))) == sizes.sum()
    assert len(gen.train_sequence(batch_size=50, oversample=False)) == len(plain)
    assert len(gen.test_sequence(batch_size=50)) == int(np.ceil(gen.num_test / 50))  # test: never
    with pytest.raises(ValueError, match="class_balance"):
        datasets.get_data_generator("digits", class_balance="weights")


def test_options_that_do_not_apply_are_errors():
    with pytest.raises(ValueError, match="test_split"):
        datasets.get_data_generator("digits", test_split=0.3)
    with pytest.raises(ValueError, match="image_size 16"):
        datasets.get_data_generator("digits", image_size=16)
    assert datasets.get_data_generator("digits", image_size=8).image_shape == (8, 8, 1)


def test_set_epoch_resumes_order_and_augmentation():
    gen = datasets.get_data_generator("digits")
    first = gen.train_sequence(batch_size=100, seed=5)
    for _ in range(2):
        first.on_epoch_end()
    resumed = gen.train_sequence(batch_size=100, seed=5)
    resumed.set_epoch(2)
    for i in (0, len(first) - 1):
        np.testing.assert_array_equal(first[i][0], resumed[i][0])
        np.testing.assert_array_equal(first[i][1], resumed[i][1])
    assert not np.array_equal(gen.train_sequence(batch_size=100, seed=5)[0][1], first[0][1])
