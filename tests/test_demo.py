"""The demo's helpers (demo_report.py) on tiny fake inputs; the full demo itself is `make demo`."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import demo_report as D
import utils
from class_hierarchy import ClassHierarchy
from datasets.fashion_mnist import load_fashion_mnist, read_idx

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# A 3-level tree over the 10 Fashion-MNIST labels: 10 = root; 11 clothing {12 tops {0, 2, 6}, 3, 1, 4};
# 13 footwear {5, 7, 9}; 8 directly under the root.
TREE_EDGES = [(10, 11), (10, 13), (10, 8), (11, 12), (11, 3), (11, 1), (11, 4), (12, 0), (12, 2), (12, 6),
              (13, 5), (13, 7), (13, 9)]


def fake_fashion_mnist(root, num_train=60, num_test=40, seed=0):
    """Random 28x28 images with every label present, in the four IDX files of Fashion-MNIST."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, n in (("train", num_train), ("test", num_test)):
        labels = np.concatenate([np.arange(10), rng.integers(0, 10, n - 10)]).astype(np.uint8)
        rng.shuffle(labels)
        images = rng.integers(0, 256, (n, 28, 28)).astype(np.uint8)
        image_file, label_file = D.FASHION_MNIST_FILES[split]
        D.write_idx(os.path.join(root, image_file), images)
        D.write_idx(os.path.join(root, label_file), labels)
        arrays[split] = (images, labels)
    return arrays


def write_tree(path):
    with open(path, "w") as f:
        f.writelines("{} {}\n".format(p, c) for p, c in TREE_EDGES)
    return path


def test_write_idx_round_trip(tmp_path):
    images = np.random.default_rng(1).integers(0, 256, (7, 5, 3)).astype(np.uint8)
    D.write_idx(str(tmp_path / "x.gz"), images)
    np.testing.assert_array_equal(read_idx(str(tmp_path / "x.gz")), images)
    D.write_idx(str(tmp_path / "y.gz"), np.arange(9, dtype=np.uint8))
    np.testing.assert_array_equal(read_idx(str(tmp_path / "y.gz")), np.arange(9))


def test_first_per_class_matches_loop():
    labels = np.random.default_rng(2).integers(0, 4, 50)
    expected = []
    seen = {}
    for i, lbl in enumerate(labels):  # obviously-correct reference: walk the list, count per class
        seen[lbl] = seen.get(lbl, 0) + 1
        if seen[lbl] <= 3:
            expected.append(i)
    np.testing.assert_array_equal(D.first_per_class(labels, 3), expected)
    np.testing.assert_array_equal(D.first_per_class(labels, None), np.arange(50))


def test_fashion_mnist_subset(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    arrays = fake_fashion_mnist(str(src))
    assert D.write_fashion_mnist_subset(str(src), str(out), 2, 1) == (20, 10)
    X_train, y_train, X_test, y_test = load_fashion_mnist(str(out))
    keep = D.first_per_class(arrays["train"][1], 2)
    np.testing.assert_array_equal(X_train[..., 0], arrays["train"][0][keep])
    np.testing.assert_array_equal(y_train, arrays["train"][1][keep])
    assert np.bincount(y_test).tolist() == [1] * 10
    with pytest.raises(ValueError, match="train_per_class"):
        D.write_fashion_mnist_subset(str(src), str(out), 0, 1)


def test_summary_table():
    retrieval = {"Sem": {"AHP@250 (LCS_HEIGHT)": 0.9, "P@10 (LCS_HEIGHT)": 0.8, "AP": 0.1},
                 "Cls": {"AHP@250 (LCS_HEIGHT)": 0.7, "P@10 (LCS_HEIGHT)": 0.85, "AP": 0.2}}
    accuracy = {"Sem": {"Accuracy": 0.5, "Hierarchical Accuracy": 0.75},
                "Cls": {"Accuracy": 0.6, "Top-5 Accuracy": 0.9, "Hierarchical Accuracy": 0.7}}
    summary = D.build_summary(retrieval, accuracy)
    assert summary == {"Sem": {"AHP@250 (LCS_HEIGHT)": 0.9, "P@10 (LCS_HEIGHT)": 0.8, "Accuracy": 0.5,
                               "Hierarchical Accuracy": 0.75, "AP": 0.1},
                       "Cls": {"AHP@250 (LCS_HEIGHT)": 0.7, "P@10 (LCS_HEIGHT)": 0.85, "Accuracy": 0.6,
                               "Hierarchical Accuracy": 0.7, "AP": 0.2}}
    table = D.summary_markdown(summary).splitlines()
    # the five columns of README's demo table, named as there
    assert table[0] == ("| Method | AHP@250 (LCS_HEIGHT) | P@10 (LCS_HEIGHT) | Accuracy | Hierarchical Acc. "
                        "| mAP |")
    assert table[2] == "| Sem | **90.00%** | 80.00% | 50.00% | **75.00%** | 10.00% |"
    assert table[3] == "| Cls | 70.00% | **85.00%** | **60.00%** | 70.00% | **20.00%** |"
    with pytest.raises(ValueError, match="'Accuracy' for 'Sem'"):
        D.build_summary(retrieval)


def test_read_hp_csv_round_trip_and_bad_files(tmp_path):
    from evaluate_retrieval import write_csv

    perf = {"A": {"P@{} (LCS_HEIGHT)".format(k): k / 10 for k in range(1, 6)},
            "B": {"P@{} (LCS_HEIGHT)".format(k): 1 - k / 10 for k in range(1, 6)}}
    write_csv(perf, str(tmp_path / "hp.csv"))
    ks, curves = D.read_hp_csv(str(tmp_path / "hp.csv"))
    assert ks.tolist() == [1, 2, 3, 4, 5] and list(curves) == ["A", "B"]
    np.testing.assert_array_equal(curves["A"], [0.1, 0.2, 0.3, 0.4, 0.5])
    tables = [{"A": {"AHP@3 (LCS_HEIGHT)": 0.7}}]
    curves3 = D.hp_curves(ks, curves, ["B", "A"], tables, plot_max=3)
    assert list(curves3) == ["B", "A"] and len(curves3["B"]) == 2 and curves3["A"][2] == 0.7
    np.testing.assert_array_equal(curves3["A"][1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="no HP@k curve of 'C'"):
        D.hp_curves(ks, curves, ["C"])
    for text, message in (("x;A\n1;0.5\n", "expected a header"), ("k;A\n1;0.5x\n", "not a number"),
                          ("k;A\n1;0.5;3\n", "expected 2 values"), ("k;A\n2;0.5\n", "not k = 1, 2")):
        (tmp_path / "bad.csv").write_text(text)
        with pytest.raises(ValueError, match=message):
            D.read_hp_csv(str(tmp_path / "bad.csv"))


def brute_force_top(features, query, k):
    """Reference ranking: a Python loop over all images, sorted by (distance, index), query dropped."""
    dist = [(float(np.sum((features[i] - features[query]) ** 2)), i) for i in range(len(features))]
    return [i for _, i in sorted(dist) if i != query][:k]


def test_top_results_matches_brute_force():
    rng = np.random.default_rng(3)
    features = rng.integers(0, 3, (40, 4)).astype(np.float32)  # small integers: many exact ties
    queries = np.array([0, 5, 39])
    top = D.top_results(features, queries, k=7)
    for row, q in zip(top, queries):
        assert row.tolist() == brute_force_top(features.astype(np.float64), q, 7)


def test_pick_queries_spread_over_classes():
    labels = np.repeat(np.arange(10), 5)
    queries = D.pick_queries(labels, 4, seed=0)
    assert len(set(labels[queries].tolist())) == 4
    assert labels[queries].tolist() == [0, 3, 6, 9]
    assert len(D.pick_queries(labels, 20)) == 10  # at most one per class


def brute_force_hp(features, labels, similarity, k):
    """Mean HP@k by its definition: top-k similarity sum over the best possible one, query excluded."""
    values = []
    for q in range(len(features)):
        ranked = brute_force_top(features, q, len(features))
        gained = sum(similarity[labels[q], labels[i]] for i in ranked[:k])
        best = sum(sorted((similarity[labels[q], labels[i]] for i in ranked), reverse=True)[:k])
        values.append(gained / best)
    return float(np.mean(values))


def test_hp_curves_of_the_csv_match_the_definition(tmp_path):
    """The curves the report draws come from evaluate_retrieval.py --csv: HP@k as defined."""
    import metrics
    from evaluate_retrieval import write_csv

    hierarchy = ClassHierarchy.from_file(write_tree(str(tmp_path / "tree.txt")), id_type=int)
    rng = np.random.default_rng(4)
    labels = np.concatenate([np.arange(10), rng.integers(0, 10, 20)])
    features = rng.normal(size=(30, 3))
    similarity = D.class_similarity_matrix(hierarchy, range(10))
    assert similarity[0, 2] == pytest.approx(1 - 1 / 3) and similarity[0, 5] == 0 and similarity[5, 5] == 1
    perf = metrics.retrieval_metrics(features, labels.tolist(), hierarchy, ks=list(range(1, 11)), compute_ap=False)
    write_csv({"A": perf}, str(tmp_path / "hp.csv"))
    ks, curves = D.read_hp_csv(str(tmp_path / "hp.csv"))
    expected = [brute_force_hp(features, labels, similarity, k) for k in ks]
    np.testing.assert_allclose(curves["A"], expected, rtol=0, atol=1e-9)


def test_report_cli_end_to_end(tmp_path):
    data = tmp_path / "fm"
    data.mkdir()
    fake_fashion_mnist(str(data), num_test=40)
    tree = write_tree(str(tmp_path / "tree.txt"))
    rng = np.random.default_rng(5)
    utils.save_features(str(tmp_path / "a.npz"), rng.normal(size=(40, 10)))
    utils.save_features(str(tmp_path / "b.pickle"), rng.normal(size=(40, 10)))
    metrics = {"A": {"AHP@250 (LCS_HEIGHT)": 0.5, "P@10 (LCS_HEIGHT)": 0.4, "AP": 0.375},
               "B": {"AHP@250 (LCS_HEIGHT)": 0.3, "P@10 (LCS_HEIGHT)": 0.2, "AP": 0.5}}
    (tmp_path / "r.json").write_text(json.dumps(metrics))
    (tmp_path / "c.json").write_text(json.dumps({"A": {"Accuracy": 0.25, "Avg. Accuracy": 0.3,
                                                       "Hierarchical Accuracy": 0.75},
                                                 "B": {"Accuracy": 0.125, "Hierarchical Accuracy": 0.625}}))
    (tmp_path / "hp.csv").write_text("k;A;B\n" + "".join("{};{};{}\n".format(k, 1 / k, 0.5) for k in range(1, 31)))
    out = tmp_path / "out"
    argv = ["report", "--dataset", "Fashion-MNIST", "--data_root", str(data), "--hierarchy", tree,
            "--feat", "A=" + str(tmp_path / "a.npz"), "--feat", "B=" + str(tmp_path / "b.pickle"),
            "--metrics", str(tmp_path / "r.json"), "--metrics", str(tmp_path / "c.json"), "--hp_csv",
            str(tmp_path / "hp.csv"),
            "--out", str(out), "--num_queries", "3", "--top_k", "5", "--plot_max", "20"]
    assert D.main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary) == ["A", "B"]
    assert summary["B"] == dict(metrics["B"], **{"Accuracy": 0.125, "Hierarchical Accuracy": 0.625})
    assert "| A | **50.00%** | **40.00%** | **25.00%** | **75.00%** | 37.50% |" in (out / "summary.md").read_text()
    for png in ("hp_curves.png", "retrieval_examples.png"):
        content = (out / png).read_bytes()
        assert content[:8] == b"\x89PNG\r\n\x1a\n" and len(content) > 5000

    # Bad input: one line on stderr, exit status 1, no traceback.
    (tmp_path / "c.json").write_text(json.dumps({"A": {"Accuracy": 0.25, "Hierarchical Accuracy": 0.75}}))
    result = subprocess.run([sys.executable, os.path.join(REPO, "demo_report.py")] + argv,
                            capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == "error: no value of 'Accuracy' for 'B' in the evaluation results"
    assert "Traceback" not in result.stderr


# --- the paper-reproduction scripts: every command they would run parses with its script's parser ---

REPRODUCTION_SCRIPTS = {
    "cifar100.sh": ["/data/cifar-100-python", "/tmp/out-cifar100"],
    "nabirds.sh": ["/data/nabirds", "/tmp/ilsvrc/model.keras", "/tmp/out-nab"],
    "ilsvrc.sh": ["/data/imagenet", "/tmp/out-ilsvrc"],
    "cifar10_reduced.sh": None,  # needs real data; only its syntax is checked
    "demo.sh": None,
}


def _parser_of(script):
    import importlib.util

    path = os.path.join(REPO, script)
    spec = importlib.util.spec_from_file_location("_parsed_" + os.path.basename(script)[:-3].replace("-", "_"), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_parser()


@pytest.mark.parametrize("script", sorted(REPRODUCTION_SCRIPTS))
def test_scripts_are_valid_bash(script):
    result = subprocess.run(["bash", "-n", os.path.join(REPO, "scripts", script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


BASELINE_TRAINERS = ("learn_classifier.py", "learn_devise.py", "learn_center_loss.py", "learn_labelembedding.py")


def _baseline_trainers_present():
    return all(os.path.isfile(os.path.join(REPO, script)) for script in BASELINE_TRAINERS)


def test_reproduction_commands_parse():
    import shlex

    parsers = {}
    seen = set()
    for script, args in REPRODUCTION_SCRIPTS.items():
        if args is None:
            continue
        baselines = "1" if script != "cifar100.sh" or _baseline_trainers_present() else "0"
        result = subprocess.run(["bash", os.path.join(REPO, "scripts", script)] + args, capture_output=True, text=True,
                                env=dict(os.environ, DRY_RUN="1", GPUS="2", BASELINES=baselines), cwd="/")
        assert result.returncode == 0, result.stderr
        commands = [shlex.split(line) for line in result.stdout.splitlines() if line.startswith("python ")]
        assert commands, script
        for argv in commands:
            if argv[1] not in parsers:
                parsers[argv[1]] = _parser_of(argv[1])
            parsers[argv[1]].parse_args(argv[2:])  # SystemExit (a failed test) on a flag the script lacks
            seen.add((script, argv[1]))
    assert ("cifar100.sh", "evaluate_retrieval.py") in seen and ("nabirds.sh", "learn_image_embeddings.py") in seen
    # CIFAR-100: 3 architectures x 3 models trained, one retrieval table, 9 accuracy evaluations.
    cifar = subprocess.run(["bash", os.path.join(REPO, "scripts", "cifar100.sh"), "/data/c100"], capture_output=True,
                           text=True, env=dict(os.environ, DRY_RUN="1"), cwd="/tmp").stdout
    assert cifar.count("learn_image_embeddings.py") == 9 and cifar.count("--cls_weight 0.1") == 3
    assert cifar.count("evaluate_classification_accuracy.py") == 9 and cifar.count("--max_decay 0.1") == 3
    # the baselines: softmax classifiers trained with cross-entropy, scored by their `prob` output
    assert cifar.count("--embedding onehot --loss crossentropy") == 3
    assert cifar.count("classification.keras --layer prob --prob_features yes") == 3
    # BASELINES=1: the paper's other baseline rows with the original's trainers, each trained and scored per network.
    if not _baseline_trainers_present():
        return
    baselines = subprocess.run(["bash", os.path.join(REPO, "scripts", "cifar100.sh"), "/data/c100"],
                               capture_output=True, text=True, env=dict(os.environ, DRY_RUN="1", BASELINES="1"),
                               cwd="/tmp").stdout
    for script in BASELINE_TRAINERS:
        assert baselines.count(script) == 3, script
    assert baselines.count("evaluate_classification_accuracy.py") == 9 + 12
    assert baselines.count("devise.keras --layer embedding --centroids") == 3


def test_as_rgb_scales_grey_and_colour_images():
    digits = np.array([[[0, 8], [16, 4]]], dtype=np.uint8)  # the digits' grey values go up to 16
    np.testing.assert_allclose(D.as_rgb(digits)[0, :, :, 1], [[0, 0.5], [1, 0.25]])
    assert D.as_rgb(digits).shape == (1, 2, 2, 3)
    colour = np.zeros((2, 3, 3, 3), dtype=np.uint8)
    colour[1, 0, 0] = (255, 51, 0)
    np.testing.assert_allclose(D.as_rgb(colour)[1, 0, 0], [1, 0.2, 0])
