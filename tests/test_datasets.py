"""In-memory datasets: CIFAR pickles, digits, Fashion-MNIST, the batch sequence and batch augmentation."""

import os
import pickle

import numpy as np
import pytest
import scipy.ndimage

import datasets
from datasets import augment as aug
from datasets.cifar import write_cifar_pickles, cifar10_from_jpeg, CIFAR10_CLASSES
from datasets.common import DataSequence, channel_stats_uint8

from conftest import SHARED_DATA_DIR


def _random_split(rng, num_classes, per_class_train, per_class_test):
    y_train = np.repeat(np.arange(num_classes), per_class_train)
    y_test = np.repeat(np.arange(num_classes), per_class_test)
    rng.shuffle(y_train)
    rng.shuffle(y_test)
    x_train = rng.integers(0, 256, (len(y_train), 32, 32, 3), dtype=np.uint8)
    x_test = rng.integers(0, 256, (len(y_test), 32, 32, 3), dtype=np.uint8)
    return x_train, y_train, x_test, y_test


@pytest.fixture(scope="module")
def cifar10_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("cifar10"))
    data = _random_split(np.random.default_rng(1), 10, 7, 3)
    write_cifar_pickles(root, *data, label_names=CIFAR10_CLASSES, cifar10=True)
    return root, data


@pytest.fixture(scope="module")
def cifar100_root(tmp_path_factory):
    """CIFAR-100 layout written by hand as the official files are (str keys, no project code)."""
    root = str(tmp_path_factory.mktemp("cifar100"))
    x_train, y_train, x_test, y_test = _random_split(np.random.default_rng(2), 100, 2, 1)
    for name, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        record = {"data": x.transpose(0, 3, 1, 2).reshape(len(x), -1), "fine_labels": y.tolist(),
                  "coarse_labels": (y // 5).tolist()}
        with open(os.path.join(root, name), "wb") as f:
            pickle.dump(record, f, protocol=2)
    return root, (x_train, y_train, x_test, y_test)


def _collect(sequence):
    xs, ys = zip(*(sequence[i] for i in range(len(sequence))))
    return np.concatenate(xs), np.concatenate(ys)


def _expected_norm(x_train, x):
    mean = x_train.astype(np.float64).mean(axis=(0, 1, 2))
    std = x_train.astype(np.float64).std(axis=(0, 1, 2))
    return (x.astype(np.float64) - mean) / (std + 1e-6)


# --- CIFAR ---------------------------------------------------------------------


def test_cifar_writer_matches_official_reader(cifar10_root):
    """Read the written files the way the original release did: pickle.load(encoding='bytes')."""
    root, (x_train, y_train, x_test, y_test) = cifar10_root
    parts = []
    for i in range(1, 6):
        with open(os.path.join(root, "data_batch_{}".format(i)), "rb") as f:
            parts.append(pickle.load(f, encoding="bytes"))
    data = np.concatenate([p[b"data"] for p in parts]).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(data, x_train)
    np.testing.assert_array_equal(sum((p[b"labels"] for p in parts), []), y_train)
    with open(os.path.join(root, "batches.meta"), "rb") as f:
        assert pickle.load(f, encoding="bytes")[b"label_names"][3] == b"cat"


def test_cifar10_order_labels_normalization(cifar10_root):
    root, (x_train, y_train, x_test, y_test) = cifar10_root
    gen = datasets.get_data_generator("CIFAR-10", root)
    assert (gen.num_train, gen.num_test, gen.num_classes, gen.num_channels) == (70, 30, 10, 3)
    np.testing.assert_array_equal(gen.labels_train, y_train)
    np.testing.assert_array_equal(gen.labels_test, y_test)
    assert gen.class_indices == {i: i for i in range(10)}
    x, y = _collect(gen.test_sequence(batch_size=8))
    assert x.dtype == np.float32 and x.shape == (30, 32, 32, 3)
    np.testing.assert_array_equal(y, y_test)
    np.testing.assert_allclose(x, _expected_norm(x_train, x_test), rtol=1e-5, atol=1e-5)
    # un-augmented training batches are the normalized training images, in order
    x, y = _collect(gen.train_sequence(batch_size=16, shuffle=False, augment=False))
    np.testing.assert_allclose(x, _expected_norm(x_train, x_train), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(y, y_train)


def test_cifar100_variants(cifar100_root):
    root, (x_train, y_train, x_test, y_test) = cifar100_root
    full = datasets.get_data_generator("cifar-100", root)
    assert full.num_classes == 100 and full.num_train == 200
    np.testing.assert_array_equal(full.labels_test, y_test)

    a = datasets.get_data_generator("CIFAR-100-a", root)
    b = datasets.get_data_generator("cifar-100-b", root)
    bc = datasets.get_data_generator("cifar-100-b-consec", root)
    assert a.num_classes == 50 and set(a.labels_train.tolist()) == set(range(50))
    assert b.num_classes == 100 and set(b.labels_train.tolist()) == set(range(50, 100))  # labels kept
    assert bc.num_classes == 50 and set(bc.labels_train.tolist()) == set(range(50))
    np.testing.assert_array_equal(bc.labels_test, y_test[y_test >= 50] - 50)
    # normalization statistics come from the restricted training set
    x, _ = _collect(bc.test_sequence(batch_size=64))
    sel_train = x_train[y_train >= 50]
    np.testing.assert_allclose(x, _expected_norm(sel_train, x_test[y_test >= 50]), rtol=1e-5, atol=1e-5)


def test_class_restriction_list_and_file(cifar100_root, tmp_path):
    root, (x_train, y_train, x_test, y_test) = cifar100_root
    classes = [42, 7, 99]
    gen = datasets.get_data_generator("cifar-100", root, classes=classes)
    assert gen.classes == classes and gen.class_indices == {42: 0, 7: 1, 99: 2} and gen.num_classes == 3
    keep = np.isin(y_test, classes)
    np.testing.assert_array_equal(gen.labels_test, [classes.index(l) for l in y_test[keep]])
    x, y = _collect(gen.test_sequence(batch_size=2))
    np.testing.assert_array_equal(y, gen.labels_test)
    np.testing.assert_allclose(x, _expected_norm(x_train[np.isin(y_train, classes)], x_test[keep]), atol=1e-5)

    class_file = tmp_path / "classes.txt"
    class_file.write_text("42 some name\n\n7\n99\n42\n")
    from_file = datasets.get_data_generator("cifar-100", root, classes=str(class_file))
    assert from_file.classes == classes
    np.testing.assert_array_equal(from_file.labels_train, gen.labels_train)


def test_cifar_errors(cifar100_root, tmp_path):
    root = cifar100_root[0]
    with pytest.raises(ValueError, match="100"):
        datasets.get_data_generator("cifar-100", root, classes=[3, 100])
    with pytest.raises(ValueError, match="data_batch_1"):
        datasets.get_data_generator("cifar-10", root)
    with pytest.raises(ValueError, match="not found"):
        datasets.get_data_generator("cifar-10", str(tmp_path / "nowhere"))
    (tmp_path / "train").write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="train"):
        datasets.get_data_generator("cifar-100", str(tmp_path))
    with pytest.raises(ValueError, match="unknown dataset"):
        datasets.get_data_generator("cifar-1000", root)


def test_cifar_refuses_code_in_pickles(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    with open(tmp_path / "train", "wb") as f:
        pickle.dump({"data": Evil(), "fine_labels": [0]}, f)
    with pytest.raises(ValueError, match="refusing"):
        datasets.get_data_generator("cifar-100", str(tmp_path))


def test_augmented_batches(cifar10_root):
    root, (x_train, y_train, x_test, y_test) = cifar10_root
    gen = datasets.get_data_generator("cifar-10", root)
    seq = gen.train_sequence(batch_size=32, seed=5)
    x, y = seq[1]
    assert x.shape == (32, 32, 32, 3) and x.dtype == np.float32 and len(y) == 32
    assert np.all(np.isfinite(x))
    x_again, y_again = seq[1]  # a batch is reproducible
    np.testing.assert_array_equal(x, x_again)
    # labels follow their images: each augmented image is closest to its own source image
    plain = _expected_norm(x_train, x_train).astype(np.float32)
    ids = seq.batch_indices(1)
    np.testing.assert_array_equal(y, y_train[ids])
    assert not np.allclose(x, plain[ids])
    # shuffling: each epoch is a permutation of all samples, different from the last
    first = np.concatenate([seq.batch_indices(i) for i in range(len(seq))])
    seq.on_epoch_end()
    second = np.concatenate([seq.batch_indices(i) for i in range(len(seq))])
    assert sorted(first.tolist()) == sorted(second.tolist()) == list(range(70))
    assert first.tolist() != second.tolist()


# --- Batch augmentation against scipy ------------------------------------------


@pytest.mark.parametrize("fill_mode", ["nearest", "reflect"])
def test_shift_zoom_flip_matches_scipy(fill_mode):
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (5, 9, 12, 2)).astype(np.float32)
    shift_y, shift_x = rng.uniform(-4, 4, 5), rng.uniform(-5, 5, 5)
    zoom_y, zoom_x = rng.uniform(0.7, 1.3, 5), rng.uniform(0.7, 1.3, 5)
    flip = np.array([True, False, True, False, False])
    out = aug.shift_zoom_flip(images, shift_y, shift_x, zoom_y, zoom_x, flip, fill_mode)
    cy, cx = 4.0, 5.5
    for k in range(5):
        offset = [cy - zoom_y[k] * cy + shift_y[k], cx - zoom_x[k] * cx + shift_x[k]]
        for c in range(2):
            ref = scipy.ndimage.affine_transform(
                images[k, :, :, c].astype(np.float64), np.diag([zoom_y[k], zoom_x[k]]), offset=offset,
                order=1, mode=fill_mode)
            if flip[k]:
                ref = ref[:, ::-1]
            np.testing.assert_allclose(out[k, :, :, c], ref, rtol=1e-4, atol=1e-3)


def test_random_shift_ranges_and_flips():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (64, 8, 8, 1)).astype(np.float32)
    flipped = aug.random_shift_zoom_flip(images, np.random.default_rng(1), horizontal_flip=True)
    same = np.all(flipped == images, axis=(1, 2, 3))
    mirrored = np.all(flipped == images[:, :, ::-1], axis=(1, 2, 3))
    assert np.all(same ^ mirrored) and 10 < mirrored.sum() < 54
    # integer ranges shift by whole pixels: every output is an exact copy of input pixels
    shifted = aug.random_shift_zoom_flip(images, np.random.default_rng(2), width_shift_range=1, height_shift_range=1)
    assert all(np.isin(shifted[k], images[k]).all() for k in range(64))
    assert np.any(shifted != images)


@pytest.mark.parametrize("options", [
    {"width_shift_range": 1, "height_shift_range": 1},  # digits
    {"horizontal_flip": True, "width_shift_range": 8, "height_shift_range": 4, "fill_mode": "reflect"},
    {"horizontal_flip": True, "vertical_flip": True, "width_shift_range": 3, "fill_mode": "nearest"},
    {"horizontal_flip": True, "width_shift_range": 11, "height_shift_range": 20, "fill_mode": "reflect"},  # > size
])
def test_whole_pixel_fast_path_equals_interpolating_path(options):
    """Crops of the padded uint8 batch, normalized afterwards == the general path on normalized images."""
    images = np.random.default_rng(0).integers(0, 256, (40, 10, 9, 3), dtype=np.uint8)
    mean, scale = np.float32([100, 120, 90]), np.float32([50, 60, 70])
    assert aug.is_whole_pixel(**options)
    fast = (aug.random_whole_pixel_shift_flip(images, np.random.default_rng(5), **options) - mean) / scale
    general = aug.random_shift_zoom_flip((images - mean) / scale, np.random.default_rng(5), **options)
    np.testing.assert_array_equal(fast, general)
    assert not aug.is_whole_pixel(width_shift_range=0.15) and not aug.is_whole_pixel(width_shift_range=2, zoom_range=0.1)


def test_channel_stats_exact():
    x = np.random.default_rng(0).integers(0, 256, (37, 5, 4, 3), dtype=np.uint8)
    mean, std = channel_stats_uint8(x)
    np.testing.assert_allclose(mean, x.reshape(-1, 3).mean(0), rtol=1e-12)
    np.testing.assert_allclose(std, x.reshape(-1, 3).std(0), rtol=1e-12)


# --- DataSequence ----------------------------------------------------------------


class _Echo:
    """compose_batch returning the ids themselves, to watch the sequence's ordering."""

    def compose_batch(self, ids, rng=None, **kwargs):
        return np.asarray(ids)


def test_sequence_oversample_repeats_transform():
    labels = np.array([0] * 6 + [1] * 2 + [2] * 3)
    ids = np.arange(100, 111)
    seq = DataSequence(_Echo(), ids, labels, batch_size=4, shuffle=True, oversample=True, repeats=2, seed=0,
                       batch_transform=lambda x, y, k: (x, y * k), batch_transform_kwargs={"k": 10})
    assert len(seq) == 2 * int(np.ceil(18 / 4))
    xs, ys = zip(*(seq[i] for i in range(len(seq))))
    xs, ys = np.concatenate(xs), np.concatenate(ys)
    assert len(xs) == 36
    np.testing.assert_array_equal(ys, labels[xs - 100] * 10)
    for half in (xs[:18], xs[18:]):  # each repeat: every class 6 times, every member at least once
        assert np.bincount(labels[half - 100]).tolist() == [6, 6, 6]
        assert set(half.tolist()) == set(ids.tolist())
    with pytest.raises(IndexError):
        seq[len(seq)]


def test_sequence_unshuffled_keeps_order_and_last_partial_batch():
    seq = DataSequence(_Echo(), list("abcdefg"), np.arange(7), batch_size=3)
    assert len(seq) == 3
    assert [list(seq[i][0]) for i in range(3)] == [list("abc"), list("def"), ["g"]]


@pytest.mark.parametrize("use_multiprocessing", [False, True])
def test_sequence_with_workers_in_fit_and_predict(use_multiprocessing):
    import keras

    gen = datasets.get_data_generator("digits", None)
    seq = gen.test_sequence(batch_size=64, workers=2, use_multiprocessing=use_multiprocessing)
    model = keras.Sequential([keras.Input(gen.image_shape), keras.layers.Flatten(), keras.layers.Dense(10)])
    x_plain, _ = _collect(gen.test_sequence(batch_size=300))
    np.testing.assert_allclose(model.predict(seq, verbose=0), model.predict(x_plain, verbose=0), rtol=1e-5, atol=1e-5)
    # augmented batches made by workers are those the main process makes: no shared random state
    augmented = gen.train_sequence(batch_size=100, seed=7, workers=2, use_multiprocessing=use_multiprocessing)
    x_main = np.concatenate([augmented[i][0] for i in range(len(augmented))])
    np.testing.assert_allclose(model.predict(augmented, verbose=0), model.predict(x_main, verbose=0), rtol=1e-5, atol=1e-5)
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    train = gen.train_sequence(batch_size=128, workers=2, use_multiprocessing=use_multiprocessing)
    history = model.fit(train, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))


def test_flow_generators_cycle():
    gen = datasets.get_data_generator("digits", None)
    it = gen.flow_test(batch_size=128)
    sizes = [len(next(it)[1]) for _ in range(4)]
    assert sizes == [128, 128, 44, 128]
    x = next(gen.flow_train(batch_size=16, include_labels=False))
    assert x.shape == (16, 8, 8, 1)


# --- digits and Fashion-MNIST -------------------------------------------------------


def test_digits_split():
    from sklearn.datasets import load_digits

    gen = datasets.get_data_generator("Digits", None)
    assert (gen.num_train, gen.num_test, gen.num_classes, gen.num_channels) == (1497, 300, 10, 1)
    assert np.bincount(gen.labels_test).min() >= 29  # stratified
    ref = load_digits()
    train_and_test = np.concatenate([gen.X_train, gen.X_test])[..., 0].reshape(1797, -1).astype(int)
    # the two splits partition the bundled images (compare as sorted rows with their labels)
    rows = np.column_stack([train_and_test, np.concatenate([gen.labels_train, gen.labels_test])])
    ref_rows = np.column_stack([ref.images.reshape(1797, -1).astype(int), ref.target])
    assert sorted(map(tuple, rows)) == sorted(map(tuple, ref_rows))
    again = datasets.get_data_generator("digits", None)
    np.testing.assert_array_equal(again.labels_test, gen.labels_test)
    x, y = gen.train_sequence(batch_size=32, seed=0)[0]
    assert x.shape == (32, 8, 8, 1) and x.dtype == np.float32
    sub = datasets.get_data_generator("digits", None, classes=[3, 8])
    assert sub.num_classes == 2 and set(sub.labels_train.tolist()) == {0, 1}


def test_fashion_mnist_idx_layout(tmp_path):
    import gzip

    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", 12), ("t10k", 5)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n).astype(np.uint8)
        labels[:10 if n > 10 else n] = np.arange(10)[: min(n, 10)]
        arrays[split] = (images, labels)
        with gzip.open(tmp_path / "{}-images-idx3-ubyte.gz".format(split), "wb") as f:
            f.write(bytes([0, 0, 8, 3]) + np.array([n, 28, 28], ">u4").tobytes() + images.tobytes())
        with open(tmp_path / "{}-labels-idx1-ubyte".format(split), "wb") as f:  # uncompressed works too
            f.write(bytes([0, 0, 8, 1]) + np.array([n], ">u4").tobytes() + labels.tobytes())
    gen = datasets.get_data_generator("fashion-mnist", str(tmp_path))
    assert (gen.num_train, gen.num_test, gen.num_channels, gen.num_classes) == (12, 5, 1, 10)
    np.testing.assert_array_equal(gen.labels_test, arrays["t10k"][1])
    x, y = _collect(gen.test_sequence(batch_size=4))
    np.testing.assert_allclose(x[..., 0], _expected_norm(arrays["train"][0][..., None], arrays["t10k"][0][..., None])[..., 0],
                               atol=1e-5)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 9]) + b"\x00" * 5)
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte"):
        datasets.get_data_generator("fashion-mnist", str(tmp_path))
    with pytest.raises(ValueError, match="dataset-fashion-mnist"):
        datasets.get_data_generator("fashion-mnist", str(tmp_path / "missing"))


FASHION_ROOT = "/usr/share/datasets/fashion-mnist"


@pytest.mark.skipif(not os.path.isfile(os.path.join(FASHION_ROOT, "t10k-labels-idx1-ubyte.gz")),
                    reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
def test_fashion_mnist_real():
    gen = datasets.get_data_generator("Fashion-MNIST", None)
    assert (gen.num_train, gen.num_test, gen.num_classes, gen.num_channels) == (60000, 10000, 10, 1)
    assert np.bincount(gen.labels_train).tolist() == [6000] * 10
    assert np.bincount(gen.labels_test).tolist() == [1000] * 10
    assert 70 < gen.mean[0] < 80 and 85 < gen.std[0] < 95  # published: 72.94, 90.02
    x, y = gen.train_sequence(batch_size=64, seed=0)[0]
    assert x.shape == (64, 28, 28, 1)


# --- Real CIFAR-10 from the JPEG archive ---------------------------------------------

CIFAR10_JPEG = os.path.join(SHARED_DATA_DIR, "cifar10-jpeg.tar.gz")


@pytest.mark.skipif(not os.path.isfile(CIFAR10_JPEG), reason="../shared/data/cifar10-jpeg.tar.gz not available")
def test_real_cifar10_from_jpeg_archive(tmp_path):
    import shutil
    import subprocess
    import tarfile
    import PIL.Image

    # extract only files 0000-0019 of each class (a few hundred members; GNU tar is much faster than tarfile)
    source = tmp_path / "jpeg"
    source.mkdir()
    if shutil.which("tar"):
        subprocess.run(["tar", "xzf", CIFAR10_JPEG, "-C", str(source), "--wildcards", "*/00[01]?.jpg"], check=True)
    else:
        wanted = {"{:04d}.jpg".format(i) for i in range(20)}
        with tarfile.open(CIFAR10_JPEG) as archive:
            archive.extractall(source, members=[m for m in archive if os.path.basename(m.name) in wanted])
    root = str(tmp_path / "cifar-10-batches-py")
    n_train, n_test = cifar10_from_jpeg(str(source / "cifar10-jpeg"), root, max_per_class=20)
    assert (n_train, n_test) == (200, 200)
    gen = datasets.get_data_generator("cifar-10", root)
    assert (gen.num_train, gen.num_test, gen.num_classes) == (200, 200, 10)
    assert np.bincount(gen.labels_train).tolist() == [20] * 10
    # an image decoded straight from its file is where its label says
    ref = np.asarray(PIL.Image.open(source / "cifar10-jpeg" / "test" / "cat" / "0003.jpg").convert("RGB"))
    with open(os.path.join(root, "test_batch"), "rb") as f:
        batch = pickle.load(f, encoding="bytes")
    cat_rows = [i for i, (n, l) in enumerate(zip(batch[b"filenames"], batch[b"labels"])) if n == b"0003.jpg" and l == 3]
    assert len(cat_rows) == 1
    np.testing.assert_array_equal(gen.X_test[cat_rows[0]], ref)
    # real photos: channel means near the published CIFAR-10 ones (125.3, 123.0, 113.9)
    assert np.all(np.abs(gen.mean - [125.3, 123.0, 113.9]) < 15)


def test_make_cifar10_from_jpeg_cli(tmp_path, capsys):
    import tarfile
    import PIL.Image
    from datasets.make_cifar10_from_jpeg import main

    rng = np.random.default_rng(0)
    src = tmp_path / "cifar10-jpeg"
    for split in ("train", "test"):
        for cls in ("cat", "ship"):
            (src / split / cls).mkdir(parents=True)
            for i in range(3):
                PIL.Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(
                    src / split / cls / "{:04d}.png".format(i))
    with tarfile.open(tmp_path / "c.tar.gz", "w:gz") as tar:
        tar.add(src, arcname="cifar10-jpeg")
    for source in (str(src), str(tmp_path / "c.tar.gz")):
        out = tmp_path / ("out" + str(len(source)))
        main([source, str(out), "--max_per_class", "2"])
        gen = datasets.get_data_generator("cifar-10", str(out))
        assert gen.num_train == gen.num_test == 4
        assert gen.labels_train.tolist() == [3, 8, 3, 8]  # interleaved by class, CIFAR-10 label numbers
        expected = np.asarray(PIL.Image.open(src / "test" / "ship" / "0001.png"))
        np.testing.assert_array_equal(gen.X_test[3], expected)

    (src / "train" / "cat" / "0000.png").write_bytes(b"garbage")
    with pytest.raises(SystemExit):
        main([str(src), str(tmp_path / "bad")])
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert "Traceback" not in err and len(errors) == 1 and "0000.png" in errors[0]
    (src / "train" / "llama").mkdir()
    (src / "train" / "llama" / "0000.png").write_bytes(b"x")
    with pytest.raises(SystemExit):
        main([str(src), str(tmp_path / "bad")])
    assert "llama" in capsys.readouterr().err
