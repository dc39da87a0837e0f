"""evaluate_classification_accuracy.py: its three modes against metrics computed here by plain loops.

The data are tiny CIFAR-10 pickles whose classes differ by colour (classes 8 and 9 share one, so
they are confused); a hand-made model classifies them by mean colour, so every mode must reach a
known, non-trivial accuracy, and any misalignment of images, labels and predictions shows.
"""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import evaluate_classification_accuracy as E  # noqa: E402
import utils  # noqa: E402
from class_hierarchy import ClassHierarchy  # noqa: E402
from datasets import get_data_generator  # noqa: E402
from datasets.cifar import write_cifar_pickles  # noqa: E402

CLASS_COLOURS = np.array([[200, 30, 30], [30, 200, 30], [30, 30, 200], [200, 200, 30], [200, 30, 200],
                          [30, 200, 200], [120, 120, 120], [250, 250, 250], [10, 10, 10], [10, 10, 10]])
# Parent-child pairs: 10 -> {0..4}, 11 -> {5..7}, 12 -> {8, 9}, 13 (root) -> {10, 11, 12}.
HIERARCHY = [(10, c) for c in range(5)] + [(11, c) for c in (5, 6, 7)] + [(12, 8), (12, 9)] + \
            [(13, 10), (13, 11), (13, 12)]


def colour_images(labels, rng, noise=25.0):
    images = CLASS_COLOURS[labels][:, None, None, :] + rng.normal(0, noise, (len(labels), 32, 32, 3))
    return np.clip(images, 0, 255).astype(np.uint8)


def write_colour_cifar10(root, train_per_class=4, test_counts=(2, 2, 2, 2, 2, 2, 2, 2, 1, 3), seed=0):
    """CIFAR-10 pickles with `train_per_class` images per class and `test_counts[c]` test images."""
    rng = np.random.default_rng(seed)
    y_train = np.tile(np.arange(10), train_per_class)
    y_test = np.concatenate([np.full(n, c) for c, n in enumerate(test_counts)])
    write_cifar_pickles(str(root), colour_images(y_train, rng), y_train, colour_images(y_test, rng), y_test)
    return y_train, y_test


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    write_colour_cifar10(root / "cifar")
    data = get_data_generator("CIFAR-10", str(root / "cifar"))
    # Class centroids: mean normalized colour of each class's training images.
    x_train = data.compose_batch(np.arange(data.num_train), train=True)
    pixels = x_train.mean(axis=(1, 2))
    centroids = np.stack([pixels[data.labels_train == c].mean(0) for c in range(10)])
    utils.save_class_embedding(str(root / "centroids.pickle"), centroids, list(range(10)))
    # Model: mean colour (`feat`) -> scores 2 <x, mu_c> - |mu_c|^2 (nearest centroid) -> softmax `prob`.
    inputs = keras.Input((32, 32, 3))
    feat = keras.layers.GlobalAveragePooling2D(name="feat")(inputs)
    dense = keras.layers.Dense(10, name="scores")
    prob = keras.layers.Activation("softmax", name="prob")(dense(feat))
    model = keras.Model(inputs, prob)
    dense.set_weights([2 * centroids.T.astype(np.float32), -(centroids**2).sum(1).astype(np.float32)])
    model.save(root / "model.keras")
    hierarchy_file = root / "hierarchy.txt"
    hierarchy_file.write_text("".join("{} {}\n".format(p, c) for p, c in HIERARCHY))
    x_test = data.compose_batch(np.arange(data.num_test), train=False)
    return {
        "root": root, "data": data, "model": str(root / "model.keras"), "hierarchy": str(hierarchy_file),
        "centroids": str(root / "centroids.pickle"), "test_scores": model.predict(x_test, verbose=0),
        "test_feat": x_test.mean(axis=(1, 2)), "centroid_values": centroids,
    }


def lca_height(hierarchy, a, b):
    """Height in edges of the lowest common subsumer of two classes."""
    return hierarchy.heights[hierarchy.lcs(a, b)]


def expected_metrics(scores, labels, hierarchy=None, order=None):
    """The metrics by plain loops over the images (`order`: the class rankings, default by descending score)."""
    labels = list(labels)
    if order is None:
        order = [sorted(range(len(s)), key=lambda c: (-s[c], c)) for s in scores]
    predicted = [o[0] for o in order]
    perf = {
        "Accuracy": np.mean([p == t for p, t in zip(predicted, labels)]),
        "Top-5 Accuracy": np.mean([t in o[:5] for o, t in zip(order, labels)]),
    }
    per_class = [np.mean([p == c for p, t in zip(predicted, labels) if t == c]) for c in sorted(set(labels))]
    perf["Avg. Accuracy"] = np.mean(per_class)
    if hierarchy is not None:
        perf["Hierarchical Accuracy"] = np.mean([1 - hierarchy.lcs_height(p, t) for p, t in zip(predicted, labels)])
        mistakes = [lca_height(hierarchy, p, t) for p, t in zip(predicted, labels) if p != t]
        perf["Mistake Severity"] = np.mean(mistakes) if mistakes else float("nan")
        for k in (1, 5, 20):
            if k <= len(order[0]):
                perf["Hierarchical Distance@{}".format(k)] = np.mean(
                    [np.mean([lca_height(hierarchy, t, c) for c in o[:k]]) for o, t in zip(order, labels)])
    return perf


def run_in_process(capsys, *argv):
    perf = E.run(E.build_parser().parse_args([str(a) for a in argv]))
    return perf, capsys.readouterr().out


def test_prob_features_and_hierarchy(setup, capsys):
    perf, out = run_in_process(capsys, "--dataset", "CIFAR-10", "--data_root", setup["root"] / "cifar",
                               "--hierarchy", setup["hierarchy"], "--model", setup["model"], "--layer", "prob",
                               "--prob_features", "yes", "--label", "Prob", "--batch_size", "7")
    hierarchy = ClassHierarchy.from_file(setup["hierarchy"], id_type=int)
    expected = expected_metrics(setup["test_scores"], setup["data"].labels_test, hierarchy)
    assert list(perf["Prob"]) == ["Accuracy", "Top-5 Accuracy", "Avg. Accuracy", "Hierarchical Accuracy",
                                  "Mistake Severity", "Hierarchical Distance@1", "Hierarchical Distance@5"]
    assert set(expected) == set(perf["Prob"])
    for name, value in expected.items():
        assert perf["Prob"][name] == pytest.approx(value), name
    # Classes 8 and 9 look alike (1 and 3 test images): some are confused, unevenly per class.
    assert 0.7 < expected["Accuracy"] < 1 and expected["Avg. Accuracy"] != expected["Accuracy"]
    assert expected["Accuracy"] < expected["Hierarchical Accuracy"] < 1
    assert "Prob |" in out and "{:.4f}".format(expected["Hierarchical Accuracy"]) in out
    assert "Mistake Severity" in out.splitlines()[1] and "Hierarchical Distance@5" in out.splitlines()[1]
    assert expected["Mistake Severity"] > 0


def test_json_keys_and_crm_against_brute_force(setup, capsys, tmp_path):
    import json

    common = ["--dataset", "CIFAR-10", "--data_root", setup["root"] / "cifar", "--hierarchy", setup["hierarchy"],
              "--model", setup["model"], "--layer", "prob", "--prob_features", "yes"]
    run_in_process(capsys, *common, "--label", "CRM", "--crm", "--json", tmp_path / "crm.json")
    written = json.loads((tmp_path / "crm.json").read_text())["CRM"]
    hierarchy = ClassHierarchy.from_file(setup["hierarchy"], id_type=int)
    # Conditional risk of predicting class j: sum_i p_i * height(lcs(i, j)); lowest risk first, ties to lower j.
    probs = setup["test_scores"].astype(np.float64)
    risks = [[sum(p[i] * lca_height(hierarchy, i, j) for i in range(10)) for j in range(10)] for p in probs]
    order = [sorted(range(10), key=lambda j: (r[j], j)) for r in risks]
    expected = expected_metrics(None, setup["data"].labels_test, hierarchy, order=order)
    for key in ("Mistake Severity", "Hierarchical Distance@1", "Hierarchical Distance@5"):
        assert key in written
    for name, value in expected.items():
        assert written[name] == pytest.approx(value), name
    plain = expected_metrics(setup["test_scores"], setup["data"].labels_test, hierarchy)
    assert order != [sorted(range(10), key=lambda c: (-s[c], c)) for s in setup["test_scores"]]  # CRM re-ranks
    assert expected["Hierarchical Distance@5"] <= plain["Hierarchical Distance@5"]
    # --distance_ks chooses the k.
    perf, _ = run_in_process(capsys, *common, "--label", "k", "--distance_ks", "2", "10")
    assert [m for m in perf["k"] if m.startswith("Hierarchical Distance")] == [
        "Hierarchical Distance@2", "Hierarchical Distance@10"]


def test_centroids_and_svm_modes_in_one_table(setup, capsys):
    perf, out = run_in_process(
        capsys, "--dataset", "cifar-10", "--data_root", setup["root"] / "cifar",
        "--model", setup["model"], "--layer", "feat", "--centroids", setup["centroids"], "--label", "NN",
        "--model", setup["model"], "--layer", "1", "--label", "SVM", "--C", "10", "--norm", "no")
    dist = ((setup["test_feat"][:, None, :] - setup["centroid_values"][None]) ** 2).sum(-1)
    expected = expected_metrics(-dist, setup["data"].labels_test)
    for name, value in expected.items():
        assert perf["NN"][name] == pytest.approx(value), name
    assert "Hierarchical Accuracy" not in perf["NN"]
    # The SVM on the mean colours separates all but the two look-alike classes.
    assert perf["SVM"]["Accuracy"] >= 0.75 and perf["SVM"]["Top-5 Accuracy"] == 1.0
    header, rule, *rows = [l for l in out.splitlines() if l.strip()]
    assert [cell.strip() for cell in header.split("|")[1:]] == [
        "Accuracy", "Top-5 Accuracy", "Avg. Accuracy", "Hierarchical Accuracy"]
    assert rows[0].startswith("NN  |") and rows[1].startswith("SVM |") and rows[0].endswith("--")


def test_svm_with_augmentation_uses_every_pass(setup, capsys):
    perf, _ = run_in_process(capsys, "--dataset", "CIFAR-10", "--data_root", setup["root"] / "cifar",
                             "--model", setup["model"], "--layer", "feat", "--augmentation_epochs", "2",
                             "--norm", "yes", "--label", "aug")
    assert perf["aug"]["Accuracy"] >= 0.75


def one_line_error(capsys, *argv):
    """Run main() in-process; it must exit non-zero with one `error:` line on stderr (returned)."""
    with pytest.raises(SystemExit) as exit_info:
        E.main([str(a) for a in argv])
    assert exit_info.value.code != 0
    err = capsys.readouterr().err
    lines = [l for l in err.splitlines() if l.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_bad_inputs_give_one_line_errors(setup, tmp_path, capsys):
    common = ["--dataset", "CIFAR-10", "--data_root", setup["root"] / "cifar"]
    assert "missing.keras" in one_line_error(capsys, *common, "--model", tmp_path / "missing.keras")
    assert "--layer nope" in one_line_error(capsys, *common, "--model", setup["model"], "--layer", "nope",
                                            "--prob_features", "yes")
    message = one_line_error(capsys, *common, "--model", setup["model"], "--layer", "feat", "--prob_features", "yes")
    assert "3 class scores" in message and "10 classes" in message and "--layer feat" in message
    assert "unknown dataset" in one_line_error(capsys, "--dataset", "CIFAR-11", "--model", setup["model"])
    assert "--json" in one_line_error(capsys, *common, "--model", setup["model"], "--prob_features", "yes",
                                      "--json", tmp_path / "no-such-dir" / "accuracy.json")


def test_wider_prob_layer_than_classes(setup, tmp_path, capsys):
    """Issue 12 item 11: a `prob` layer of 12 outputs on a 10-class dataset."""
    inputs = keras.Input((32, 32, 3))
    prob = keras.layers.Dense(12, activation="softmax", name="prob")(keras.layers.GlobalAveragePooling2D()(inputs))
    keras.Model(inputs, prob).save(tmp_path / "wide.keras")
    message = one_line_error(capsys, "--dataset", "CIFAR-10", "--data_root", setup["root"] / "cifar",
                             "--model", tmp_path / "wide.keras", "--layer", "prob", "--prob_features", "yes")
    assert "wide.keras --layer prob: the layer gives 12 class scores, but the dataset has 10 classes" in message


def test_nan_in_centroids_names_the_file_and_class(setup, tmp_path, capsys):
    """Issue 12 item 16, checked before any model runs."""
    centroids = setup["centroid_values"].copy()
    centroids[4, 1] = np.nan
    utils.save_class_embedding(str(tmp_path / "nan.pickle"), centroids, list(range(10)))
    message = one_line_error(capsys, "--dataset", "CIFAR-10", "--data_root", setup["root"] / "cifar",
                             "--model", setup["model"], "--layer", "feat", "--centroids", tmp_path / "nan.pickle")
    assert "--centroids {}".format(tmp_path / "nan.pickle") in message
    assert "nan" in message.lower() and "4" in message.replace(str(tmp_path), "")
    utils.save_class_embedding(str(tmp_path / "few.pickle"), centroids[:3], list(range(3)))
    assert "3 class embeddings, but the dataset has 10 classes" in one_line_error(
        capsys, "--dataset", "CIFAR-10", "--data_root", setup["root"] / "cifar", "--model", setup["model"],
        "--layer", "feat", "--centroids", tmp_path / "few.pickle")


def test_hierarchy_aware_bad_input(setup, tmp_path, capsys):
    common = ["--dataset", "CIFAR-10", "--data_root", setup["root"] / "cifar", "--model", setup["model"],
              "--layer", "prob", "--prob_features", "yes"]
    assert "--crm" in one_line_error(capsys, *common, "--crm") and "--hierarchy" in one_line_error(
        capsys, *common, "--crm")
    partial = tmp_path / "partial.txt"
    partial.write_text("".join("{} {}\n".format(p, c) for p, c in HIERARCHY if c != 7))
    assert "class 7 is not in the hierarchy --hierarchy {}".format(partial) in one_line_error(
        capsys, *common, "--hierarchy", partial)
    assert "--distance_ks 20: k exceeds the 10 classes of CIFAR-10" in one_line_error(
        capsys, *common, "--hierarchy", setup["hierarchy"], "--distance_ks", "1", "20")
    assert "--prob_features yes" in one_line_error(
        capsys, "--dataset", "CIFAR-10", "--data_root", setup["root"] / "cifar", "--hierarchy", setup["hierarchy"],
        "--model", setup["model"], "--layer", "feat", "--crm")


@pytest.mark.parametrize("flag,values", [("--layer", ["prob", "feat"]), ("--label", ["a", "b"]),
                                         ("--prob_features", ["yes", "no"])])
def test_more_per_model_flags_than_models(setup, capsys, flag, values):
    argv = ["--dataset", "CIFAR-10", "--data_root", setup["root"] / "cifar", "--model", setup["model"]]
    for value in values:
        argv += [flag, value]
    assert "{} given 2 times for 1 --model".format(flag) in one_line_error(capsys, *argv)


def test_class_ids_from_the_dataset_not_the_index(setup, tmp_path, capsys):
    """Issue 11: without --classes_from the dataset's class ids name the hierarchy nodes (as the original)."""
    data = setup["data"]

    class Renamed:  # a dataset whose class ids are not its indices (as NABirds / ILSVRC)
        class_indices = {"c{}".format(c): i for c, i in data.class_indices.items()}

    ids = E.cli.class_ids(Renamed())
    assert ids == ["c{}".format(c) for c in range(10)]
    hierarchy_file = tmp_path / "named.txt"
    hierarchy_file.write_text("".join("{} {}\n".format(*("c{}".format(x) if isinstance(x, int) and x < 10 else x
                                                          for x in pair)) for pair in HIERARCHY))
    hierarchy = ClassHierarchy.from_file(str(hierarchy_file), id_type=str)
    perf = E.evaluate_classification(setup["test_scores"], data.labels_test, hierarchy, ids)
    by_index = E.evaluate_classification(setup["test_scores"], data.labels_test,
                                         ClassHierarchy.from_file(setup["hierarchy"], id_type=int))
    assert perf == pytest.approx(by_index)


def test_class_order_of_the_model_is_checked(setup, tmp_path, capsys):
    """Issue 13 item 3: a model file that stores its class order must match the dataset's."""
    import shutil

    model_info = pytest.importorskip("models.model_info")
    shutil.copy(setup["model"], tmp_path / "same.keras")
    model_info.write_model_info(str(tmp_path / "same.keras"), {"class_ids": list(range(10))})
    common = ["--dataset", "CIFAR-10", "--data_root", setup["root"] / "cifar", "--layer", "prob",
              "--prob_features", "yes"]
    perf, _ = run_in_process(capsys, *common, "--model", tmp_path / "same.keras")
    assert perf["same"]["Accuracy"] > 0.7
    shutil.copy(setup["model"], tmp_path / "swapped.keras")
    model_info.write_model_info(str(tmp_path / "swapped.keras"), {"class_ids": [1, 0] + list(range(2, 10))})
    message = one_line_error(capsys, *common, "--model", tmp_path / "swapped.keras")
    assert "--model {}: its classes are in another order than those of --dataset CIFAR-10: label 0 is 1".format(
        tmp_path / "swapped.keras") in message
