"""The triplet method through `models.training.train`: a tiny run on digits with P x K batches, its final
accuracy by the nearest class centroid (similarity "centroids") recomputed by brute force from the dumped
test features and the model's training features, and the centroids by hand."""

import re

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import utils  # noqa: E402
from datasets import get_data_generator  # noqa: E402
from models import training  # noqa: E402
from models.methods import METHODS  # noqa: E402

TINY_NET = {"filters": [8, "ap", 16, "gap", "fc16"], "weight_decay": 0}


def brute_force_nearest_centroid_accuracy(train_features, train_labels, test_features, test_labels, num_classes):
    """Loops: class means of the unit-length training rows, then the class of the largest dot product."""
    centroids = []
    for c in range(num_classes):
        rows = [f / np.sqrt(sum(v * v for v in f)) for f, label in zip(train_features, train_labels) if label == c]
        centroids.append(sum(rows) / len(rows))
    hits = 0
    for f, label in zip(test_features, test_labels):
        scores = [float(sum(a * b for a, b in zip(f, centroid))) for centroid in centroids]
        best = max(range(num_classes), key=lambda c: (scores[c], -c))  # ties: the lower class index
        hits += best == label
    return hits / len(test_labels)


def test_triplet_training_on_digits_scores_by_nearest_centroid(tmp_path, capsys, monkeypatch):
    assert METHODS["triplet"].similarity == "centroids"
    made = []  # the training sequence train() builds
    make_sequences = training.make_sequences
    monkeypatch.setattr(training, "make_sequences", lambda *a, **kw: made.append(make_sequences(*a, **kw)) or made[-1])
    feature_dump = tmp_path / "features.npz"
    result = training.train("digits", "onehot", architecture="simple", architecture_kwargs=TINY_NET, loss="triplet",
                            loss_kwargs={"miner": "batch_hard", "triplet_margin": 0.3, "per_class": 4}, batch_size=40,
                            epochs=1, read_workers=1, seed=0, verbose=0, feature_dump=str(feature_dump))
    printed = capsys.readouterr().out
    assert {"loss", "active_triplets", "recall_at_1"} <= set(result.history.history)
    accuracy = float(re.search(r"^Accuracy: ([0-9.]+)$", printed, re.M).group(1))
    train_data = made[0][0]
    assert train_data.per_class == 4
    for idx in (0, len(train_data) - 1):  # 10 classes x 4 images, the last batch full too
        blocks = np.asarray(train_data[idx][1]).reshape(10, 4)
        assert (blocks == blocks[:, :1]).all() and sorted(blocks[:, 0]) == list(range(10))

    data = get_data_generator("digits")
    test_features = utils.load_features(str(feature_dump))[1].astype(np.float64)
    train_images = np.concatenate([x for x, _ in data.train_sequence(40, shuffle=False, augment=False)])
    train_features = result.model.predict(train_images, batch_size=40, verbose=0).astype(np.float64)
    expected = brute_force_nearest_centroid_accuracy(train_features, data.labels_train, test_features,
                                                     data.labels_test, data.num_classes)
    assert accuracy == pytest.approx(expected, abs=5e-5)
    assert result.accuracy["Accuracy"] == pytest.approx(expected, abs=1e-9)


def test_class_centroids_by_hand():
    features = np.array([[3.0, 4.0], [0.0, 2.0], [0.0, 0.0], [-1.0, 0.0]])
    centroids = training.class_centroids(features, [0, 0, 2, 2], num_classes=4)
    # Class 0: (0.6, 0.8) and (0, 1); class 2: a zero row stays zero, and (-1, 0); classes 1 and 3 are absent.
    np.testing.assert_allclose(centroids, [[0.3, 0.9], [0.0, 0.0], [-0.5, 0.0], [0.0, 0.0]])
