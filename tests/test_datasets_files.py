"""File datasets: each on-disk layout built in a temp dir with tiny images, loaded and checked."""

import json
import os
import warnings

import numpy as np
import PIL.Image
import pytest
import scipy.io

import datasets
from datasets import augment as aug
from datasets.files import load_image, scaled_size


def _image(path, width, height, seed=0, fmt=None):
    """A smooth random colour image (so that JPEG and resampling errors stay small), saved at `path`."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    channels = [rng.uniform(40, 80) + rng.uniform(20, 60) * np.sin(xx / rng.uniform(3, 9) + c)
                + rng.uniform(20, 60) * np.cos(yy / rng.uniform(3, 9) - c) for c in range(3)]
    arr = np.clip(np.stack(channels, -1), 0, 255).astype(np.uint8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    PIL.Image.fromarray(arr).save(path, format=fmt, quality=95) if fmt == "JPEG" else PIL.Image.fromarray(arr).save(path)
    return arr


def _collect(sequence):
    xs, ys = zip(*(sequence[i] for i in range(len(sequence))))
    return np.concatenate(xs), np.concatenate(ys)


STATS = {"mean": [100.0, 110.0, 120.0], "std": [50.0, 60.0, 70.0]}


# --- ILSVRC layout ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ilsvrc_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("ilsvrc")
    arrays = {}
    for s, synset in enumerate(["n03", "n01", "n02"]):
        for split, count in (("ILSVRC2012_img_train", 3), ("ILSVRC2012_img_val", 2)):
            for i in range(count):
                path = root / split / synset / "{}_{}.png".format(synset, i)
                arrays[str(path)] = _image(str(path), 12, 10, seed=100 * s + 10 * i + len(split))
    (root / "ILSVRC2012_img_train" / "n01" / "notes.txt").write_text("not an image")
    return str(root), arrays


def test_ilsvrc_order_labels_and_exact_pixels(ilsvrc_root):
    root, arrays = ilsvrc_root
    gen = datasets.get_data_generator("ILSVRC", root, cropsize=(12, 10), default_target_size=-1, **STATS)
    assert gen.classes == ["n01", "n02", "n03"] and gen.class_indices == {"n01": 0, "n02": 1, "n03": 2}
    assert (gen.num_train, gen.num_test, gen.num_classes, gen.num_channels) == (9, 6, 3, 3)
    assert gen.labels_test.tolist() == [0, 0, 1, 1, 2, 2]
    assert [os.path.basename(f) for f in gen.test_img_files[:2]] == ["n01_0.png", "n01_1.png"]
    x, y = _collect(gen.test_sequence(batch_size=4))
    np.testing.assert_array_equal(y, gen.labels_test)
    expected = np.stack([(arrays[f] - np.float32(STATS["mean"])) / np.float32(STATS["std"]) for f in gen.test_img_files])
    np.testing.assert_allclose(x, expected, rtol=1e-6, atol=1e-6)


def test_ilsvrc_restriction_suffixes_and_errors(ilsvrc_root, tmp_path):
    root, arrays = ilsvrc_root
    gen = datasets.get_data_generator("ilsvrc", root, classes=["n03", "n01"])
    assert gen.classes == ["n03", "n01"] and gen.labels_train.tolist() == [0, 0, 0, 1, 1, 1]
    assert all("n03" in f for f in gen.train_img_files[:3])
    assert gen.cropsize == (224, 224) and gen.default_target_size == 256 and gen.randzoom_range == (256, 480)
    np.testing.assert_allclose(gen.mean, datasets.IMAGENET_MEAN)

    caffe = datasets.get_data_generator("ILSVRC-caffe", root, cropsize=(12, 10), default_target_size=-1)
    x, _ = caffe.test_sequence(batch_size=1)[0]
    raw = arrays[caffe.test_img_files[0]].astype(np.float32)
    np.testing.assert_allclose(x[0], (raw - np.float32(datasets.CAFFE_MEAN))[..., ::-1], atol=1e-4)  # BGR
    # random flips: each image is either the plain one or its mirror image, both kinds occur
    files = caffe.train_img_files * 4
    plain = caffe.compose_batch(files, cropsize=(12, 10))
    flipped = caffe.compose_batch(files, rng=np.random.default_rng(0), cropsize=(12, 10), hflip=True)
    same = np.all(flipped == plain, axis=(1, 2, 3))
    mirrored = np.all(flipped == plain[:, :, ::-1], axis=(1, 2, 3))
    assert np.all(same ^ mirrored) and 0 < mirrored.sum() < len(files)

    large = datasets.get_data_generator("ilsvrc-large", root)
    assert large.cropsize == (448, 448) and large.default_target_size == 512 and large.randzoom_range is None

    with pytest.raises(ValueError, match="n07"):
        datasets.get_data_generator("ilsvrc", root, classes=["n01", "n07"])
    with pytest.raises(ValueError, match="ILSVRC2012_img_train"):
        datasets.get_data_generator("ilsvrc", str(tmp_path))
    with pytest.raises(ValueError, match="not found"):
        datasets.get_data_generator("ilsvrc", str(tmp_path / "missing"))


# --- Resizing, cropping, padding ------------------------------------------------------------


def test_resize_crop_pad_against_direct_computation(tmp_path):
    path = str(tmp_path / "a" / "img.png")
    arr = _image(path, 30, 20)
    assert scaled_size((30, 20), 10) == (15, 10) and scaled_size((20, 30), 10) == (10, 15)
    assert scaled_size((30, 20), (7, 9)) == (7, 9)
    resized = np.asarray(PIL.Image.fromarray(arr).resize((15, 10), PIL.Image.BILINEAR), dtype=np.float32)
    np.testing.assert_array_equal(np.asarray(load_image(path, 10)), resized)

    (tmp_path / "train.txt").write_text("a/img.png\n")
    (tmp_path / "test.txt").write_text("a/img.png\n")
    sub = datasets.SubDirectoryGenerator(str(tmp_path), cropsize=(8, 6), default_target_size=10, randerase_prob=0,
                                         mean=[0, 0, 0], std=[1, 1, 1])
    center = sub.compose_batch(sub.test_img_files, cropsize=(8, 6))[0]
    np.testing.assert_array_equal(center, resized[2:8, 3:11])  # offsets (10-6)//2, (15-8)//2
    # every random crop is one of the possible windows
    rng = np.random.default_rng(0)
    windows = {(y, x): resized[y:y + 6, x:x + 8] for y in range(5) for x in range(8)}
    for _ in range(5):
        crop = sub.compose_batch(sub.test_img_files, rng=rng, cropsize=(8, 6), randcrop=True)[0]
        assert any(np.array_equal(crop, w) for w in windows.values())
    # a crop larger than the image is padded by reflection around the centred image
    padded = sub.compose_batch(sub.test_img_files, cropsize=(19, 13))[0]
    np.testing.assert_array_equal(padded, np.pad(resized, ((1, 2), (2, 2), (0, 0)), "reflect"))
    # cropsize None: the batch's median size
    assert sub.compose_batch(sub.test_img_files, cropsize=None).shape == (1, 10, 15, 3)


def test_jpeg_draft_mode_close_to_full_decode(tmp_path):
    path = str(tmp_path / "big.jpg")
    _image(path, 400, 300, fmt="JPEG")
    fast = np.asarray(load_image(path, 64), dtype=np.float64)
    with PIL.Image.open(path) as img:
        full = np.asarray(img.convert("RGB").resize((85, 64), PIL.Image.BILINEAR), dtype=np.float64)
    assert fast.shape == full.shape == (64, 85, 3)
    assert np.abs(fast - full).mean() < 3.0
    # resampling only the crop window gives the pixels of resizing everything, then cropping
    base = datasets.FileDatasetGenerator(str(tmp_path))
    crop = base._load_crop(path, np.random.default_rng(0), 64, (40, 30), False, False, False)
    np.testing.assert_allclose(crop, fast[17:47, 22:62], atol=1)


# --- Augmentation -------------------------------------------------------------------------------


def test_augmented_file_batches_shapes_and_reproducibility(ilsvrc_root):
    root, _ = ilsvrc_root
    gen = datasets.get_data_generator("ilsvrc", root, cropsize=(8, 8), default_target_size=10,
                                      randzoom_range=(8, 14), randrot_max=20, distort_colors=True,
                                      randerase_prob=1.0, **STATS)
    seq = gen.train_sequence(batch_size=4, seed=3)
    assert len(seq) == 3
    x, y = seq[0]
    assert x.shape == (4, 8, 8, 3) and x.dtype == np.float32 and np.all(np.isfinite(x))
    np.testing.assert_array_equal(seq[0][0], x)
    np.testing.assert_array_equal(y, gen.labels_train[seq.batch_indices(0)])
    plain = gen.compose_batch([gen.train_img_files[i] for i in seq.batch_indices(0)], cropsize=(8, 8))
    assert not np.allclose(x, plain)
    rel = gen.train_sequence(batch_size=2, seed=0)
    gen.randzoom_range = (0.8, 1.5)  # relative scales work too
    assert rel[0][0].shape == (2, 8, 8, 3)
    x, _ = gen.compose_batch(gen.train_img_files[:2], cropsize=(8, 8), data_format="channels_first"), None
    assert x.shape == (2, 3, 8, 8)


def test_random_erase_area_and_aspect():
    rng = np.random.default_rng(0)
    for _ in range(20):
        img = np.zeros((40, 30, 3), np.float32)
        aug.random_erase(img, rng, mean=np.float32([300] * 3), std=np.float32([1] * 3), sl=0.1, sh=0.3, r1=0.5, r2=2)
        ys, xs = np.nonzero(img[..., 0] != 0)
        h, w = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
        assert len(ys) == h * w  # one rectangle, values (noise - 300) are all non-zero
        assert 0.1 * 1200 * 0.8 <= h * w <= 0.3 * 1200 and 0.4 <= h / w <= 2.5


def test_hsv_conversion_matches_matplotlib():
    from matplotlib.colors import hsv_to_rgb, rgb_to_hsv

    rgb = np.random.default_rng(0).uniform(0, 1, (50, 7, 3))
    rgb[0, :3] = [[0.5, 0.5, 0.5], [0, 0, 0], [1, 0, 0]]  # grey, black, pure red
    np.testing.assert_allclose(aug.rgb_to_hsv(rgb), rgb_to_hsv(rgb), atol=1e-6)
    np.testing.assert_allclose(aug.hsv_to_rgb(rgb), hsv_to_rgb(rgb), atol=1e-6)


def test_distort_color_stays_in_range():
    rng = np.random.default_rng(0)
    img = rng.uniform(0, 255, (6, 5, 3)).astype(np.float32)
    for fast in (True, False):
        for _ in range(8):
            out = aug.distort_color(img, rng, fast_mode=fast)
            assert out.shape == img.shape and out.min() >= 0 and out.max() <= 255.0 + 1e-3
    unchanged = aug.distort_color(img, rng, brightness_delta=0, saturation_range=(1, 1))
    np.testing.assert_allclose(unchanged, img, atol=1e-3)


# --- Corrupt and missing images -----------------------------------------------------------------------


def test_corrupt_and_missing_images_are_reported_and_replaced(tmp_path):
    for i in range(2):
        _image(str(tmp_path / "c" / "ok{}.png".format(i)), 8, 8, seed=i)
    (tmp_path / "c" / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    (tmp_path / "train.txt").write_text("c/ok0.png\nc/bad.jpg\nc/ok1.png\nc/gone.png\n")
    (tmp_path / "test.txt").write_text("c/ok0.png\n")
    gen = datasets.get_data_generator("ucmlu", str(tmp_path), cropsize=(8, 8), default_target_size=-1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        x, y = gen.train_sequence(batch_size=4, shuffle=False, augment=False)[0]
    messages = " ".join(str(w.message) for w in caught)
    assert "bad.jpg" in messages and "gone.png" in messages
    assert x.shape == (4, 8, 8, 3) and y.tolist() == [0, 0, 0, 0]
    assert np.abs(x[1]).max() < 0.02 and np.abs(x[3]).max() < 0.02  # mean colour -> ~0
    assert np.abs(x[0]).max() > 0.1
    assert {os.path.basename(f) for f in gen.corrupt_files} == {"bad.jpg", "gone.png"}


# --- NABirds / CUB -----------------------------------------------------------------------------------


def _nab_layout(root, labels, train_flags, split_name="train_test_split.txt"):
    lines_img, lines_lbl, lines_split = [], [], []
    for i, (label, flag) in enumerate(zip(labels, train_flags)):
        rel = "{:04d}/img{}.jpg".format(label, i)
        _image(str(root / "images" / rel), 10, 8, seed=i, fmt="JPEG")
        lines_img.append("id{} {}".format(i, rel))
        lines_lbl.append("id{} {}".format(i, label))
        lines_split.append("id{} {}".format(i, flag))
    (root / "images.txt").write_text("\n".join(lines_img) + "\n")
    (root / "image_class_labels.txt").write_text("\n".join(lines_lbl) + "\n")
    (root / split_name).write_text("\n".join(lines_split) + "\n")


def test_nab_and_cub_layout(tmp_path):
    labels = [817, 295, 817, 295, 400, 400, 817]
    flags = [1, 1, 0, 0, 1, 0, 1]
    _nab_layout(tmp_path, labels, flags)
    nab = datasets.get_data_generator("NAB", str(tmp_path))
    assert nab.classes == [295, 400, 817]
    assert nab.labels_train.tolist() == [2, 0, 1, 2] and nab.labels_test.tolist() == [2, 0, 1]
    assert os.path.basename(nab.test_img_files[0]) == "img2.jpg"
    assert nab.randzoom_range == (256, 480) and nab.randerase_prob == 0.5
    np.testing.assert_allclose(nab.mean, [125.30513277, 129.66606421, 118.45121113])
    nab_large = datasets.get_data_generator("nab-large", str(tmp_path))
    assert nab_large.randzoom_range is None and nab_large.cropsize == (448, 448)
    sub = datasets.get_data_generator("nab", str(tmp_path), classes=[817, 400])
    assert sub.labels_train.tolist() == [0, 1, 0] and sub.num_test == 2

    cub = datasets.get_data_generator("CUB", str(tmp_path), cropsize=(6, 6), default_target_size=8)
    np.testing.assert_allclose(cub.mean, [123.82988033, 127.35116805, 110.25606303])
    x, y = _collect(cub.test_sequence(batch_size=2))
    assert x.shape == (3, 6, 6, 3) and y.tolist() == [2, 0, 1]

    (tmp_path / "train_test_split_5.txt").write_text((tmp_path / "train_test_split.txt").read_text())
    cub5 = datasets.get_data_generator("cub-sub5", str(tmp_path))
    assert cub5.train_repeats == 6 and len(cub5.train_sequence(batch_size=4)) == 6
    with pytest.raises(ValueError, match="train_test_split_3.txt"):
        datasets.get_data_generator("cub-sub3", str(tmp_path))

    (tmp_path / "image_class_labels.txt").write_text("id0 817\nid1\n")
    with pytest.raises(ValueError, match=r"image_class_labels.txt:2"):
        datasets.get_data_generator("nab", str(tmp_path))


# --- Cars, Flowers ----------------------------------------------------------------------------------------


def test_cars_mat_layout(tmp_path):
    records = np.zeros(5, dtype=[("relative_im_path", object), ("class", object), ("test", object)])
    for i, (cls, test) in enumerate([(3, 0), (1, 0), (3, 1), (2, 0), (1, 1)]):
        _image(str(tmp_path / "car_ims" / "{:06d}.jpg".format(i)), 9, 7, seed=i, fmt="JPEG")
        records[i] = ("car_ims/{:06d}.jpg".format(i), cls, test)
    scipy.io.savemat(str(tmp_path / "cars_annos.mat"), {"annotations": records})
    gen = datasets.get_data_generator("cars", str(tmp_path))
    assert gen.classes == [1, 2, 3] and gen.labels_train.tolist() == [2, 0, 1] and gen.labels_test.tolist() == [2, 0]
    assert gen.cropsize == (448, 448) and gen.default_target_size == 512
    x, _ = gen.test_sequence(batch_size=2, target_size=8)[0]
    assert x.shape == (2, 448, 448, 3)
    os.remove(tmp_path / "cars_annos.mat")
    with pytest.raises(ValueError, match="cars_annos.mat"):
        datasets.get_data_generator("cars", str(tmp_path))


def test_flowers_mat_layout(tmp_path):
    labels = np.array([5, 7, 5, 9, 7, 9])
    for i in range(1, 7):
        _image(str(tmp_path / "jpg" / "image_{:05d}.jpg".format(i)), 9, 7, seed=i, fmt="JPEG")
    scipy.io.savemat(str(tmp_path / "imagelabels.mat"), {"labels": labels})
    scipy.io.savemat(str(tmp_path / "setid.mat"), {"trnid": np.array([1, 2]), "valid": np.array([4]),
                                                   "tstid": np.array([6, 3, 5])})
    gen = datasets.get_data_generator("Flowers", str(tmp_path))
    assert gen.classes == [5, 7, 9]
    assert [os.path.basename(f) for f in gen.train_img_files] == ["image_00001.jpg", "image_00002.jpg", "image_00004.jpg"]
    assert gen.labels_train.tolist() == [0, 1, 2] and gen.labels_test.tolist() == [2, 0, 1]
    assert gen.colordistort_params == {"hue_delta": 0.0, "saturation_range": (0.8, 1.2)}
    scipy.io.savemat(str(tmp_path / "setid.mat"), {"trnid": np.array([1, 12]), "valid": np.array([4]),
                                                   "tstid": np.array([6])})
    with pytest.raises(ValueError, match="12"):
        datasets.get_data_generator("flowers", str(tmp_path))


# --- iNaturalist ------------------------------------------------------------------------------------


def _inat_json(path, entries, categories):
    images = [{"id": 10 + i, "file_name": "train_val/{}.jpg".format(name)} for i, (name, _) in enumerate(entries)]
    annotations = [{"image_id": 10 + i, "category_id": cat} for i, (_, cat) in enumerate(entries)]
    with open(path, "w") as f:
        json.dump({"images": images, "annotations": annotations, "categories": categories}, f)


def test_inat_json_layout(tmp_path):
    categories = [{"id": 7, "name": "Parus major", "supercategory": "Aves"},
                  {"id": 2, "name": "Quercus robur", "supercategory": "Plantae"},
                  {"id": 4, "name": "Pica pica", "supercategory": "Aves"}]
    for i, name in enumerate(["a", "b", "c", "d", "e"]):
        _image(str(tmp_path / "train_val" / "{}.jpg".format(name)), 9, 7, seed=i, fmt="JPEG")
    _inat_json(tmp_path / "train2018.json", [("a", 7), ("b", 2), ("c", 4)], categories)
    _inat_json(tmp_path / "val2018.json", [("d", 4), ("e", 2)], categories)
    gen = datasets.get_data_generator("iNat2018", str(tmp_path))
    assert gen.classes == ["Quercus robur", "Pica pica", "Parus major"]
    assert gen.class_indices == {"Quercus robur": 0, "Pica pica": 1, "Parus major": 2}
    assert gen.labels_train.tolist() == [2, 0, 1] and gen.labels_test.tolist() == [1, 0]
    assert gen.randzoom_range == (256, 480)
    aves = datasets.get_data_generator("inat_Aves", str(tmp_path))
    assert aves.classes == ["Pica pica", "Parus major"] and aves.labels_train.tolist() == [1, 0]
    np.testing.assert_allclose(aves.mean, [125.68554284, 131.58931007, 123.51576605])
    by_id = datasets.get_data_generator("inat", str(tmp_path), classes=["7", "Quercus robur"])
    assert by_id.labels_train.tolist() == [0, 1] and by_id.num_test == 1
    large = datasets.get_data_generator("iNat_Aves-large", str(tmp_path))
    assert large.cropsize == (448, 448) and large.randzoom_range is None and large.num_classes == 2

    os.rename(tmp_path / "train2018.json", tmp_path / "train2019.json")
    os.rename(tmp_path / "val2018.json", tmp_path / "val2019.json")
    gen19 = datasets.get_data_generator("iNat2019", str(tmp_path))
    np.testing.assert_allclose(gen19.mean, [115.77492586, 120.84414891, 93.51744386])
    with pytest.raises(ValueError, match="train2018.json"):
        datasets.get_data_generator("inat", str(tmp_path))


# --- Sub-directory layouts -------------------------------------------------------------------------------


def test_subdirectory_layouts_and_computed_stats(tmp_path):
    arrays = {}
    for c, cls in enumerate(["kitchen", "bar"]):
        for i in range(3):
            rel = "{}/{}.png".format(cls, i)
            arrays[rel] = _image(str(tmp_path / "Images" / rel), 6, 5, seed=10 * c + i)
    (tmp_path / "TrainImages.txt").write_text("kitchen/0.png\nbar/0.png\nbar/1.png\nkitchen/1.png\n")
    (tmp_path / "TestImages.txt").write_text("bar/2.png\nkitchen/2.png\n")
    mit = datasets.get_data_generator("MIT67Scenes", str(tmp_path))
    assert mit.classes == ["bar", "kitchen"] and mit.labels_train.tolist() == [1, 0, 0, 1]
    assert mit.labels_test.tolist() == [0, 1]
    np.testing.assert_allclose(mit.mean, [124.62788179, 110.01028625, 94.95780545])

    computed = datasets.SubDirectoryGenerator(str(tmp_path), img_dir="Images", train_list="TrainImages.txt",
                                              test_list="TestImages.txt")
    train = [arrays[r].astype(np.float64) for r in ("kitchen/0.png", "bar/0.png", "bar/1.png", "kitchen/1.png")]
    mean = np.mean([a.mean(axis=(0, 1)) for a in train], axis=0)
    std = np.sqrt(sum(((a - mean.astype(np.float32)) ** 2).mean(axis=(0, 1)) for a in train) / 3)
    np.testing.assert_allclose(computed.mean, mean, rtol=1e-5)
    np.testing.assert_allclose(computed.std, std, rtol=1e-4)

    with pytest.raises(ValueError, match="train.txt"):
        datasets.get_data_generator("RESISC45", str(tmp_path / "Images"))


def test_empty_class_directory_is_an_error_naming_it(tmp_path):
    for cls in ("a", "b", "c"):
        for i in range(2):
            _image(str(tmp_path / cls / "{}.png".format(i)), 4, 4, seed=i)
    (tmp_path / "train.txt").write_text("a/0.png\nb/0.png\nc/0.png\n")
    (tmp_path / "test.txt").write_text("a/1.png\nb/1.png\nc/1.png\n")
    assert datasets.get_data_generator("UCMLU", str(tmp_path)).num_classes == 3
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no images here")
    with pytest.raises(ValueError, match=r"empty: empty class directory"):
        datasets.get_data_generator("UCMLU", str(tmp_path))
    # restricted to other classes, the empty one does not matter
    assert datasets.get_data_generator("UCMLU", str(tmp_path), classes=["a", "c"]).num_classes == 2
    (tmp_path / "empty" / "readme.txt").unlink()
    (tmp_path / "empty").rmdir()
    (tmp_path / "train.txt").write_text("a/0.png\nc/0.png\n")  # class b has images but none for training
    with pytest.raises(ValueError, match=r"train.txt: no image of class 'b' listed"):
        datasets.get_data_generator("UCMLU", str(tmp_path))


def test_empty_ilsvrc_synset_directory_is_an_error(ilsvrc_root, tmp_path):
    import shutil

    root, _ = ilsvrc_root
    copy = tmp_path / "ilsvrc"
    shutil.copytree(root, str(copy))
    for fn in os.listdir(str(copy / "ILSVRC2012_img_train" / "n02")):
        os.remove(str(copy / "ILSVRC2012_img_train" / "n02" / fn))
    with pytest.raises(ValueError, match=r"n02: empty class directory"):
        datasets.get_data_generator("ILSVRC", str(copy), **STATS)


# --- Workers ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("use_multiprocessing", [False, True])
def test_file_sequence_with_workers(ilsvrc_root, use_multiprocessing):
    import keras

    root, _ = ilsvrc_root
    gen = datasets.get_data_generator("ilsvrc", root, cropsize=(8, 8), default_target_size=10, **STATS)
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(), keras.layers.Dense(3)])
    expected = model.predict(_collect(gen.test_sequence(batch_size=6))[0], verbose=0)
    seq = gen.test_sequence(batch_size=2, workers=2, use_multiprocessing=use_multiprocessing)
    np.testing.assert_allclose(model.predict(seq, verbose=0), expected, rtol=1e-5, atol=1e-5)
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(gen.train_sequence(batch_size=3, workers=2, use_multiprocessing=use_multiprocessing),
                        epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
