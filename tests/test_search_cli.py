"""build_index.py and retrieve.py end to end: feature, concept and image queries, concept mAP, and the
one-line errors for bad input."""

import json
import os

import numpy as np
import pytest

pytest.importorskip("faiss")

import utils  # noqa: E402
from conftest import REPO_ROOT, assert_one_line_error, run_script  # noqa: E402

EMBEDDING = os.path.join(REPO_ROOT, "embeddings", "cifar10.unitsphere.pickle")
HIERARCHY = os.path.join(REPO_ROOT, "Cifar-Hierarchy", "cifar10.parent-child.txt")
VEHICLES = {0, 1, 8, 9}  # airplane, automobile, ship, truck


@pytest.fixture(scope="module")
def cifar10_like(tmp_path_factory):
    """Features drawn around the CIFAR-10 class embedding (60 images per class), labels, node names, index."""
    root = tmp_path_factory.mktemp("search")
    embedding = utils.load_class_embedding(EMBEDDING)["embedding"]
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 60)
    features = (embedding[labels] + 0.3 * rng.standard_normal((600, embedding.shape[1]))).astype(np.float32)
    paths = {"feat": str(root / "feat.pickle"), "labels": str(root / "labels.txt"), "names": str(root / "names.txt"),
             "index": str(root / "index.npz"), "root": root}
    utils.save_features(paths["feat"], features)
    (root / "labels.txt").write_text("".join("{}\n".format(label) for label in labels))
    result = run_script("encode_hierarchy.py", os.path.join(REPO_ROOT, "Cifar-Hierarchy", "cifar10.hierarchy.txt"),
                        os.path.join(REPO_ROOT, "Cifar-Hierarchy", "cifar10.class_names.txt"),
                        "--out", str(root / "tree.txt"), "--names_out", paths["names"])
    assert result.returncode == 0, result.stderr
    result = run_script("build_index.py", "--feat", paths["feat"], "--labels", paths["labels"], "--out", paths["index"])
    assert result.returncode == 0, result.stderr
    assert "600 images of 10 dimensions" in result.stdout
    return paths


def test_feature_query_finds_the_image_itself(cifar10_like):
    out = str(cifar10_like["root"] / "feat_results.json")
    result = run_script("retrieve.py", "--index", cifar10_like["index"], "--query_feat", cifar10_like["feat"],
                        "--query_ids", "0", "300", "--top", "5", "--json", out, "--hierarchy", HIERARCHY,
                        "--names", cifar10_like["names"])
    assert result.returncode == 0, result.stderr
    document = json.load(open(out))
    first, second = document["queries"]
    assert first["results"][0]["id"] == 0 and first["results"][0]["similarity"] == pytest.approx(1.0, abs=1e-5)
    assert second["results"][0]["id"] == 300 and second["query_class"] == 5
    assert second["query_class_name"] == "dog" and second["query_class_from"] == "index"
    assert [r["rank"] for r in first["results"]] == [1, 2, 3, 4, 5]
    assert "Query: image 300" in result.stdout and "dog (5)" in result.stdout


def test_concept_query_by_name_with_json_and_grid(cifar10_like):
    out, grid = str(cifar10_like["root"] / "vehicle.json"), str(cifar10_like["root"] / "vehicle.png")
    result = run_script("retrieve.py", "--index", cifar10_like["index"], "--concept", "vehicle", "--hierarchy",
                        HIERARCHY, "--names", cifar10_like["names"], "--classes_from", EMBEDDING, "--top", "8",
                        "--json", out, "--grid", grid, "--concept_vector", "minimax")
    assert result.returncode == 0, result.stderr
    (query,) = json.load(open(out))["queries"]
    assert query["concept"] == 11 and query["concept_vector"] == "minimax"
    assert all(r["class"] in VEHICLES and r["frame"] == 1.0 for r in query["results"])
    sims = [r["similarity"] for r in query["results"]]
    assert sims == sorted(sims, reverse=True)
    with open(grid, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_concept_map_reports_every_method(cifar10_like):
    out = str(cifar10_like["root"] / "concept_map.json")
    result = run_script("retrieve.py", "--index", cifar10_like["index"], "--concept_map", "--hierarchy", HIERARCHY,
                        "--names", cifar10_like["names"], "--classes_from", EMBEDDING, "--json", out)
    assert result.returncode == 0, result.stderr
    document = json.load(open(out))
    assert set(document["mAP"]) == {"mean", "balanced", "minimax", "medoid"}
    assert [n["name"] for n in document["nodes"]][:2] == ["vehicle", "vertebrate"]
    assert len(document["nodes"]) == 7  # the inner nodes below the root
    for method, value in document["mAP"].items():
        assert value == pytest.approx(np.mean(document["AP"][method]))
        assert 0.5 < value <= 1.0
    assert "mean (concept mAP)" in result.stdout


def test_binary_index_from_the_command_line(cifar10_like, tmp_path):
    features = np.random.default_rng(1).standard_normal((50, 16))
    utils.save_features(str(tmp_path / "f.npz"), features, ids=["a{}".format(i) for i in range(50)])
    index = str(tmp_path / "binary.npz")
    result = run_script("build_index.py", "--feat", str(tmp_path / "f.npz"), "--codes", "binary", "--out", index)
    assert result.returncode == 0, result.stderr
    assert "binary codes of 2 bytes per image" in result.stdout
    out = str(tmp_path / "r.json")
    result = run_script("retrieve.py", "--index", index, "--query_feat", str(tmp_path / "f.npz"), "--query_ids", "a7",
                        "--top", "3", "--json", out)
    assert result.returncode == 0, result.stderr
    assert json.load(open(out))["queries"][0]["results"][0]["id"] == "a7"


# ---------------------------------------------------------------------------
# Bad input: one line each, naming the file or value
# ---------------------------------------------------------------------------


def test_index_of_another_version(cifar10_like, tmp_path):
    with np.load(cifar10_like["index"]) as archive:
        arrays = dict(archive)
    arrays["version"] = np.array(99)
    old = str(tmp_path / "old.npz")
    np.savez(old, **arrays)
    result = run_script("retrieve.py", "--index", old, "--query_feat", cifar10_like["feat"])
    assert_one_line_error(result, "old.npz", "version 99", "build_index.py")


def test_query_features_of_another_dimension(cifar10_like, tmp_path):
    utils.save_features(str(tmp_path / "q.npz"), np.ones((2, 7)))
    result = run_script("retrieve.py", "--index", cifar10_like["index"], "--query_feat", str(tmp_path / "q.npz"))
    assert_one_line_error(result, "q.npz", "7 dimensions", cifar10_like["index"], "10-dimensional")


def test_concept_not_in_taxonomy_suggests_close_names(cifar10_like):
    result = run_script("retrieve.py", "--index", cifar10_like["index"], "--concept", "vehicel", "--hierarchy",
                        HIERARCHY, "--names", cifar10_like["names"], "--classes_from", EMBEDDING)
    assert_one_line_error(result, "'vehicel'", "cifar10.parent-child.txt", "close names: vehicle")


def test_binary_codes_need_whole_bytes(tmp_path):
    utils.save_features(str(tmp_path / "f12.npz"), np.random.default_rng(0).standard_normal((20, 12)))
    out = tmp_path / "i.npz"
    result = run_script("build_index.py", "--feat", str(tmp_path / "f12.npz"), "--codes", "binary", "--out", str(out))
    assert_one_line_error(result, "f12.npz", "12", "multiple of 8")
    assert not out.exists()


def test_labels_file_of_wrong_length(cifar10_like, tmp_path):
    (tmp_path / "short.txt").write_text("1\n2\n")
    result = run_script("build_index.py", "--feat", cifar10_like["feat"], "--labels", str(tmp_path / "short.txt"),
                        "--out", str(tmp_path / "i.npz"))
    assert_one_line_error(result, "short.txt", "2 lines for 600 feature vectors")


def test_undecodable_query_image(cifar10_like, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    result = run_script("retrieve.py", "--index", cifar10_like["index"], "--image", str(bad), "--model", "m.keras",
                        "--dataset", "digits")
    assert_one_line_error(result, "broken.jpg", "cannot decode")


# ---------------------------------------------------------------------------
# Image queries through a (tiny, untrained) model and the dataset's preprocessing
# ---------------------------------------------------------------------------


def test_image_query_finds_the_test_image_it_was_saved_from(tmp_path):
    import keras
    import PIL.Image

    from search.images import load_dataset

    data = load_dataset("digits")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(data.image_shape), keras.layers.Flatten(), keras.layers.Dense(16)])
    model.save(str(tmp_path / "tiny.keras"))
    utils.save_features(str(tmp_path / "feat.npz"), model.predict(data.normalize(data.X_test), verbose=0))
    index = str(tmp_path / "digits.npz")
    result = run_script("build_index.py", "--feat", str(tmp_path / "feat.npz"), "--dataset", "digits", "--out", index)
    assert result.returncode == 0, result.stderr
    # test image 5 as an 8-bit grey PNG (the digits' grey values 0..16 scaled to 0..255)
    pixels = (data.X_test[5, :, :, 0].astype(np.float32) * 255 / 16).round().astype(np.uint8)
    PIL.Image.fromarray(pixels).save(str(tmp_path / "query.png"))
    out, grid = str(tmp_path / "r.json"), str(tmp_path / "grid.png")
    result = run_script("retrieve.py", "--index", index, "--image", str(tmp_path / "query.png"), "--model",
                        str(tmp_path / "tiny.keras"), "--top", "3", "--json", out, "--grid", grid)
    assert result.returncode == 0, result.stderr
    best = json.load(open(out))["queries"][0]["results"][0]
    assert best["id"] == 5 and best["similarity"] > 0.999
    assert best["class"] == int(data.labels_test[5])
    assert os.path.getsize(grid) > 1000
