"""scripts/own_data.sh on a tiny generated image folder (issue 13 item 5), and its report step
(comparison/own_data.py). The end-to-end test trains two tiny models: about 30-60 s on 2 cores."""

import json
import os
import subprocess
import sys

import numpy as np
import PIL.Image
import pytest

import utils
from conftest import REPO_ROOT

SCRIPT = os.path.join(REPO_ROOT, "scripts", "own_data.sh")
# WordNet-findable folder names (two plurals); each class a colour, so even a tiny model separates them.
CLASSES = {"airplanes": (200, 40, 40), "cat": (40, 200, 40), "dog": (40, 40, 200), "horses": (200, 200, 40)}


def image_folder(root, per_class=32, size=16, seed=0):
    """`root/<class>/NN.jpg`: noisy images of one colour per class."""
    rng = np.random.default_rng(seed)
    for name, colour in CLASSES.items():
        os.makedirs(os.path.join(root, name))
        for i in range(per_class):
            pixels = np.clip(np.asarray(colour, float) + rng.normal(0, 20, (size, size, 3)), 0, 255)
            PIL.Image.fromarray(pixels.astype(np.uint8)).save(os.path.join(root, name, "{:02d}.jpg".format(i)))
    return root


def run_own_data(image_dir, out, **env):
    full_env = dict(os.environ, PYTHON=sys.executable, TF_CPP_MIN_LOG_LEVEL="3", **env)
    return subprocess.run(["bash", SCRIPT, image_dir, out], env=full_env, capture_output=True, text=True,
                          timeout=900)


def test_usage_and_missing_folder(tmp_path):
    usage = subprocess.run(["bash", SCRIPT], capture_output=True, text=True)
    assert usage.returncode == 2 and "IMAGE_DIR" in usage.stdout
    missing = run_own_data(str(tmp_path / "nope"), str(tmp_path / "out"))
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines() == ["error: {}: no such folder".format(tmp_path / "nope")]


def test_test_images_of_a_folder_are_the_cropped_files_in_label_order(tmp_path):
    from comparison.own_data import test_images
    from datasets import get_data_generator

    root = image_folder(str(tmp_path / "photos"), per_class=5)
    data = get_data_generator("folder", root, image_size=16, test_split=0.4, split_seed=0)
    images = test_images(data)
    assert images.dtype == np.uint8 and images.shape == (len(data.labels_test), 16, 16, 3)
    colours = np.array(list(CLASSES.values()), float)
    for image, label in zip(images, data.labels_test):  # each image has its class's colour
        nearest = np.argmin(np.abs(colours - image.reshape(-1, 3).mean(0)).sum(1))
        assert list(CLASSES)[nearest] == data.classes[label]


@pytest.mark.slow  # two models trained by the shell script
def test_own_data_end_to_end(tmp_path):
    """From a folder of class sub-directories to the scores and pictures; class order checked by hand."""
    photos = image_folder(str(tmp_path / "photos"))
    out = str(tmp_path / "out")
    result = run_own_data(photos, out, TEST_SPLIT="0.8", EPOCHS="1", IMAGE_SIZE="16")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for name in ("taxonomy.parent-child.txt", "taxonomy.synsets.txt", "class_embedding.unitsphere.pickle",
                 "semantic.keras", "classification.keras", "retrieval.json", "accuracy.json", "hp.csv",
                 "summary.md", "summary.json", "hp_curves.png", "retrieval_examples.png", "timing.txt", "taxonomy.png"):
        assert os.path.isfile(os.path.join(out, name)), name
    assert "total:" in result.stdout

    # The tree's leaves are the folder names; the embedding rows are in the folder dataset's (sorted) order.
    with open(os.path.join(out, "taxonomy.parent-child.txt")) as f:
        edges = [line.split() for line in f if line.strip()]
    parents, children = {p for p, _ in edges}, {c for _, c in edges}
    assert children - parents == set(CLASSES)
    assert list(utils.load_class_embedding(os.path.join(out, "class_embedding.unitsphere.pickle"))["ind2label"]) \
        == sorted(CLASSES)

    # 32 images per class, 80% held out: 26 test images each; the split list names every test image.
    with open(os.path.join(photos, "split-test0.8-seed0.test.txt")) as f:
        test_files = [line.strip() for line in f if line.strip()]
    labels = np.array([sorted(CLASSES).index(path.split("/")[0]) for path in test_files])
    assert len(labels) == 104
    ids, probs = utils.load_features(os.path.join(out, "classification.features.pickle"))
    probs = np.asarray(probs)[np.argsort(ids)]
    with open(os.path.join(out, "accuracy.json")) as f:
        accuracy = json.load(f)
    assert accuracy["Classification"]["Accuracy"] == pytest.approx(np.mean(np.argmax(probs, 1) == labels))
    assert "Mistake Severity" in accuracy["Semantic Embeddings"]

    with open(os.path.join(out, "summary.json")) as f:
        summary = json.load(f)
    assert list(summary) == ["Semantic Embeddings", "Classification"]
    assert set(summary["Classification"]) == {"AHP@103 (LCS_HEIGHT)", "P@10 (LCS_HEIGHT)", "Accuracy",
                                              "Hierarchical Accuracy", "AP"}
    with PIL.Image.open(os.path.join(out, "retrieval_examples.png")) as img:
        assert img.size[0] > 400
