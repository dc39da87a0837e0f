"""Tiny ImageNet: a small fake dataset in the published layout (folder and .tar.gz) in a temp dir."""

import os
import stat
import tarfile

import numpy as np
import PIL.Image
import pytest

import datasets
import datasets.tiny_imagenet as tiny

WNIDS = ["n02", "n01", "n03"]  # wnids.txt order, not sorted
NAMES = {"n01": "goldfish, Carassius auratus", "n02": "tabby, tabby cat", "n03": "bullet train", "n09": "other"}
VAL = [("val_0.JPEG", "n03"), ("val_1.JPEG", "n02"), ("val_2.JPEG", "n01"), ("val_3.JPEG", "n02"),
       ("val_4.JPEG", "n01"), ("val_5.JPEG", "n03")]


def _photo(rng, grey=False):
    yy, xx = np.mgrid[0:64, 0:64]
    channels = [rng.uniform(60, 120) + rng.uniform(20, 60) * np.sin(xx / rng.uniform(3, 9) + c)
                + rng.uniform(20, 60) * np.cos(yy / rng.uniform(3, 9) - c) for c in range(3)]
    img = PIL.Image.fromarray(np.clip(np.stack(channels, -1), 0, 255).astype(np.uint8))
    return img.convert("L") if grey else img


def make_tiny_imagenet(root, per_class=4, seed=0):
    """The layout of tiny-imagenet-200 with `per_class` training images per class; returns the folder."""
    rng = np.random.default_rng(seed)
    folder = os.path.join(str(root), "tiny-imagenet-200")
    os.makedirs(os.path.join(folder, "val", "images"))
    with open(os.path.join(folder, "wnids.txt"), "w") as f:
        f.write("\n".join(WNIDS) + "\n")
    with open(os.path.join(folder, "words.txt"), "w") as f:
        f.write("".join("{}\t{}\n".format(w, n) for w, n in sorted(NAMES.items())))
    for wnid in WNIDS:
        images = os.path.join(folder, "train", wnid, "images")
        os.makedirs(images)
        with open(os.path.join(folder, "train", wnid, wnid + "_boxes.txt"), "w") as f:
            f.write("box lines\n")
        for i in range(per_class):
            _photo(rng, grey=(wnid == "n01" and i == 1)).save(
                os.path.join(images, "{}_{}.JPEG".format(wnid, i)), quality=90)
    with open(os.path.join(folder, "val", "val_annotations.txt"), "w") as f:
        for fn, wnid in VAL:
            _photo(rng).save(os.path.join(folder, "val", "images", fn), quality=90)
            f.write("{}\t{}\t0\t0\t63\t63\n".format(fn, wnid))
    return folder


def _decoded(path):
    with PIL.Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def _collect(sequence):
    xs, ys = zip(*(sequence[i] for i in range(len(sequence))))
    return np.concatenate(xs), np.concatenate(ys)


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    home = tmp_path / "cache-home"
    monkeypatch.setenv("SEMANTIC_EMBEDDINGS_CACHE", str(home))
    return home


@pytest.fixture
def tiny_root(tmp_path):
    return make_tiny_imagenet(tmp_path / "data")


def test_classes_labels_and_exact_pixels(tiny_root, cache_home):
    gen = datasets.get_data_generator("TinyImageNet", tiny_root)
    assert gen.classes == WNIDS and gen.class_ids == WNIDS  # wnids.txt order
    assert gen.label_names == ["tabby", "goldfish", "bullet train"]
    assert gen.labels_train.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert gen.labels_test.tolist() == [WNIDS.index(w) for _, w in VAL]  # val_annotations.txt order
    assert gen.image_shape == (64, 64, 3) and gen.num_classes == 3
    x_train = np.stack([_decoded(os.path.join(tiny_root, "train", w, "images", "{}_{}.JPEG".format(w, i)))
                        for w in WNIDS for i in range(4)])
    x_val = np.stack([_decoded(os.path.join(tiny_root, "val", "images", fn)) for fn, _ in VAL])
    np.testing.assert_array_equal(gen.X_train, x_train)  # the grey image becomes RGB
    np.testing.assert_array_equal(gen.X_test, x_val)
    # exact channel statistics of the training images, as CIFAR's
    pixels = x_train.reshape(-1, 3).astype(np.float64)
    np.testing.assert_allclose(gen.mean, pixels.mean(0), rtol=1e-6)
    np.testing.assert_allclose(gen.std, pixels.std(0) + 1e-6, rtol=1e-6)
    x, y = _collect(gen.test_sequence(batch_size=4))
    np.testing.assert_allclose(x, (x_val - pixels.mean(0)) / (pixels.std(0) + 1e-6), atol=1e-4)
    np.testing.assert_array_equal(y, gen.labels_test)


def test_cache_reused_and_read_only_data_untouched(tiny_root, cache_home, monkeypatch):
    before = set(os.listdir(tiny_root))
    os.chmod(tiny_root, stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP)  # no write bit
    try:
        gen = datasets.get_data_generator("tinyimagenet", tiny_root)
        first = gen.X_train.copy(), gen.mean.copy()
        assert set(os.listdir(tiny_root)) == before
    finally:
        os.chmod(tiny_root, 0o755)
    cached = sorted(fn for d, _, files in os.walk(str(cache_home)) for fn in files)
    assert [fn[len("tiny-imagenet-") + 12:] for fn in cached] == ["-64px.train.npy", "-64px.val.npy", ".stats.json"]

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again")

    monkeypatch.setattr(tiny, "decode_all", no_decoding)
    monkeypatch.setattr(tiny, "channel_stats_uint8", no_decoding)
    again = datasets.get_data_generator("tinyimagenet", tiny_root)
    np.testing.assert_array_equal(again.X_train, first[0])
    np.testing.assert_array_equal(again.mean, first[1])


def test_writable_folder_keeps_the_cache_beside_the_data(tiny_root, cache_home):
    gen = datasets.get_data_generator("tinyimagenet", tiny_root)
    gen.test_sequence(batch_size=2)
    assert any(fn.endswith("64px.val.npy") for fn in os.listdir(tiny_root)) and not cache_home.exists()


def test_archive_gives_the_folder_dataset(tiny_root, tmp_path, cache_home, monkeypatch):
    archive = str(tmp_path / "tiny-imagenet-200.tar.gz")
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tiny_root, arcname="tiny-imagenet-200")
    folder = datasets.get_data_generator("tinyimagenet", tiny_root, classes=["n03", "n01"])
    packed = datasets.get_data_generator("tinyimagenet", archive, classes=["n03", "n01"])
    assert packed.classes == ["n03", "n01"] and packed.label_names == ["bullet train", "goldfish"]
    np.testing.assert_array_equal(packed.labels_test, folder.labels_test)
    np.testing.assert_array_equal(packed.X_train, folder.X_train)
    np.testing.assert_array_equal(packed.X_test, folder.X_test)
    # the labels come from the cached index next time: the archive is not read again
    monkeypatch.setattr(tiny, "read_archive", lambda path: (_ for _ in ()).throw(AssertionError("read again")))
    labels, ids = datasets.load_labels("TinyImageNet", archive)
    assert [ids[label] for label in labels] == [w for _, w in VAL]


def test_image_size_32_resizes_once_with_pil(tiny_root, cache_home):
    gen = datasets.get_data_generator("tinyimagenet", tiny_root, image_size=32)
    assert gen.image_shape == (32, 32, 3) and gen.augmentation["width_shift_range"] == 4
    x_val = [_decoded(os.path.join(tiny_root, "val", "images", fn)) for fn, _ in VAL]
    expected = np.stack([np.asarray(PIL.Image.fromarray(a).resize((32, 32), PIL.Image.BILINEAR)) for a in x_val])
    np.testing.assert_array_equal(gen.X_test, expected)
    x, _ = gen.train_sequence(batch_size=5, seed=0)[0]
    assert x.shape == (5, 32, 32, 3)


def test_augmentation_is_a_padded_crop_and_flip(tiny_root, cache_home):
    """Every augmented image is one of the (2 * pad + 1)^2 * 2 crops of the reflect-padded image, flipped or not."""
    gen = datasets.get_data_generator("tinyimagenet", tiny_root)
    pad = 8
    assert gen.augmentation == {"horizontal_flip": True, "width_shift_range": pad, "height_shift_range": pad,
                                "fill_mode": "reflect"}
    seq = gen.train_sequence(batch_size=12, shuffle=False, seed=3)
    x, _ = seq[0]
    images = gen.normalize(gen.X_train)
    seen_shift = seen_flip = False
    for k in range(len(x)):
        padded = np.pad(images[k], ((pad, pad), (pad, pad), (0, 0)), mode="symmetric")
        matches = [(dy, dx, flip) for dy in range(2 * pad + 1) for dx in range(2 * pad + 1) for flip in (False, True)
                   if np.array_equal((lambda c: c[:, ::-1] if flip else c)(padded[dy:dy + 64, dx:dx + 64]), x[k])]
        assert matches, k
        seen_shift |= any((dy, dx) != (pad, pad) for dy, dx, _ in matches)
        seen_flip |= any(flip for _, _, flip in matches)
    assert seen_shift and seen_flip


def test_bad_layouts_are_one_line_errors(tiny_root, cache_home):
    with open(os.path.join(tiny_root, "val", "val_annotations.txt"), "a") as f:
        f.write("val_9.JPEG\tn99\t0\t0\t1\t1\n")
    with pytest.raises(ValueError, match=r"val_annotations.txt:7: .*'val_9.JPEG\\tn99"):
        datasets.get_data_generator("tinyimagenet", tiny_root)
    for fn in os.listdir(os.path.join(tiny_root, "train", "n01", "images")):
        os.remove(os.path.join(tiny_root, "train", "n01", "images", fn))
    with pytest.raises(ValueError, match=r"n01/images: empty class directory"):
        datasets.get_data_generator("tinyimagenet", tiny_root)
    os.remove(os.path.join(tiny_root, "wnids.txt"))
    with pytest.raises(ValueError, match=r"wnids.txt: file not found"):
        datasets.get_data_generator("tinyimagenet", tiny_root)
    with pytest.raises(ValueError, match="image_size"):
        datasets.get_data_generator("tinyimagenet", tiny_root, image_size=4)
    with pytest.raises(ValueError, match="not found"):
        datasets.get_data_generator("tinyimagenet", os.path.join(tiny_root, "missing"))


def test_corrupt_image_names_the_file(tiny_root, cache_home):
    path = os.path.join(tiny_root, "val", "images", "val_2.JPEG")
    with open(path, "wb") as f:
        f.write(b"not a jpeg")
    gen = datasets.get_data_generator("tinyimagenet", tiny_root)
    with pytest.raises(ValueError, match=r"val_2.JPEG: cannot decode image"):
        gen.X_test


def test_embedding_order_and_load_labels_without_decoding(tiny_root, cache_home, monkeypatch):
    monkeypatch.setattr(tiny, "decode_all", lambda *a, **k: (_ for _ in ()).throw(AssertionError("decoded")))
    ind2label = ["n03", "n02", "n01"]  # e.g. a class embedding's order
    labels, ids = datasets.load_labels("TinyImageNet", tiny_root, classes=ind2label)
    assert ids == ind2label and [ids[label] for label in labels] == [w for _, w in VAL]
    labels, ids = datasets.load_labels("TinyImageNet", tiny_root, split="train")
    assert [ids[label] for label in labels] == [w for w in WNIDS for _ in range(4)]
