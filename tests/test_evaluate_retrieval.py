"""evaluate_retrieval.py end to end on the bundled digits (300 test images, 10 classes), in-process."""

import json

import numpy as np
import pytest

import evaluate_retrieval
import metrics
import utils
from class_hierarchy import ClassHierarchy
from test_metrics import assert_close, slow_hierarchical_precision, slow_rankings

# Digits 0-4 and 5-9 under two inner nodes of the root 100.
TREE = "100 101\n100 102\n" + "".join("101 {}\n".format(d) for d in range(5)) + "".join(
    "102 {}\n".format(d) for d in range(5, 10))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from datasets import get_data_generator

    root = tmp_path_factory.mktemp("retrieval")
    (root / "tree.txt").write_text(TREE)
    labels = np.asarray(get_data_generator("digits", None).labels_test).tolist()
    rng = np.random.default_rng(0)
    # Small integers: exact distances, many ties, so that the slow reference ranks exactly as we do.
    features = (rng.integers(0, 3, size=(10, 4))[labels] + rng.integers(0, 2, size=(len(labels), 4))).astype(np.float32)
    return root, labels, features


def run(capsys, *args):
    perf = evaluate_retrieval.main([str(a) for a in args])
    return perf, capsys.readouterr()


def test_end_to_end_outputs_match_the_slow_reference(setup, capsys):
    root, labels, features = setup
    n = len(labels)
    # The pickle dump lists the images in a shuffled order: the script must put them back by id.
    order = np.random.default_rng(1).permutation(n)
    utils.save_features(str(root / "shuffled.pickle"), features[order], ids=order.tolist())
    utils.save_features(str(root / "plain.npz"), features)
    perf, out = run(capsys, "--dataset", "digits", "--data_root", root, "--hierarchy", root / "tree.txt",
                    "--feat", root / "shuffled.pickle", "--feat", root / "plain.npz", "--label", "A", "--label", "B",
                    "--plot_max", 60, "--clip_ahp", 30, "--csv", root / "hp.csv", "--json", root / "m.json",
                    "--plot", root / "hp.png")
    hierarchy = ClassHierarchy.from_file(str(root / "tree.txt"), id_type=int)
    ks = list(range(1, 61)) + [100]
    slow, _ = slow_hierarchical_precision(hierarchy, slow_rankings(features), labels, ks, compute_ahp=30,
                                          compute_ap=True, all_ids=list(range(n)))
    written = json.loads((root / "m.json").read_text())
    assert list(written) == ["A", "B"]
    for label in ("A", "B"):
        assert list(written[label]) == metrics.metric_names(ks, 30, True)
        assert_close(written[label], slow)
    # The table: header, rule, one row per label, columns as the original (AHP@30 here).
    lines = [l for l in out.out.splitlines() if l.strip()]
    assert "AHP@30 (LCS_HEIGHT)" in lines[0] and lines[0].split("|")[-1].strip() == "AP"
    assert lines[2].startswith("A |") and lines[3].startswith("B |")
    assert lines[2].split("|")[1].strip() == "{:.4f}".format(slow["P@1 (WUP)"])
    csv = (root / "hp.csv").read_text().splitlines()
    assert csv[0] == "k;A;B" and len(csv) == 61
    assert csv[10] == "10;{0};{0}".format(written["A"]["P@10 (LCS_HEIGHT)"])
    assert (root / "hp.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_classes_from_and_norm(setup, capsys, tmp_path):
    root, _, _ = setup
    from datasets import get_data_generator

    classes = [7, 2, 5, 3]
    utils.save_class_embedding(str(tmp_path / "emb.npz"), np.eye(4), classes)
    indices = np.asarray(get_data_generator("digits", None, classes=classes).labels_test)
    labels = [classes[i] for i in indices]
    rng = np.random.default_rng(2)
    features = rng.standard_normal((len(labels), 5)).astype(np.float32)
    utils.save_features(str(tmp_path / "f.pickle"), features)
    perf, _ = run(capsys, "--dataset", "digits", "--data_root", root, "--hierarchy", root / "tree.txt",
                  "--classes_from", tmp_path / "emb.npz", "--feat", tmp_path / "f.pickle", "--norm", "yes",
                  "--plot_max", 0)
    hierarchy = ClassHierarchy.from_file(str(root / "tree.txt"), id_type=int)
    expected = metrics.retrieval_metrics(features, labels, hierarchy, ks=[1, 10, 50, 100], norm=True)
    assert perf["f"] == expected
    assert list(perf["f"])[-3:] == ["AHP (WUP)", "AHP (LCS_HEIGHT)", "AP"]


def error_of(capsys, *args):
    with pytest.raises(SystemExit) as exit_info:
        evaluate_retrieval.main([str(a) for a in args])
    err = capsys.readouterr().err
    assert exit_info.value.code != 0
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: "), err
    return err


def test_bad_input_gives_one_line_errors_and_writes_nothing(setup, capsys, tmp_path):
    root, labels, features = setup
    base = ["--dataset", "digits", "--data_root", root, "--hierarchy", root / "tree.txt", "--plot_max", 10]
    utils.save_features(str(tmp_path / "short.npz"), features[:-1])
    nan = features.copy()
    nan[17, 2] = np.nan
    utils.save_features(str(tmp_path / "nan.npz"), nan)
    utils.save_features(str(tmp_path / "ok.npz"), features)
    utils.save_features(str(tmp_path / "badid.pickle"), features, ids=["img{}".format(i) for i in range(len(features))])
    (tmp_path / "old.csv").write_text("precious\n")

    err = error_of(capsys, *base, "--feat", tmp_path / "ok.npz", "--feat", tmp_path / "short.npz",
                   "--csv", tmp_path / "old.csv")
    assert "short.npz: 299 feature vectors, but the test split of digits has 300 images" in err
    assert (tmp_path / "old.csv").read_text() == "precious\n"
    assert "image 17 contains NaN or inf" in error_of(capsys, *base, "--feat", tmp_path / "nan.npz")
    assert "'img0' is not an index" in error_of(capsys, *base, "--feat", tmp_path / "badid.pickle")
    assert "no such feature file" in error_of(capsys, *base, "--feat", tmp_path / "missing.pickle")
    assert "output directory does not exist" in error_of(capsys, *base, "--feat", tmp_path / "ok.npz",
                                                         "--json", tmp_path / "nodir" / "m.json")
    (tmp_path / "evil.pickle").write_bytes(b"cos\nsystem\n(S'echo hacked'\ntR.")
    assert "refusing to load" in error_of(capsys, *base, "--feat", tmp_path / "evil.pickle")


def test_table_columns_and_ks():
    assert evaluate_retrieval.retrieval_ks(0) == [1, 10, 50, 100]
    assert evaluate_retrieval.retrieval_ks(20) == list(range(1, 21)) + [50, 100]
    assert evaluate_retrieval.table_metrics(100)[4] == "AHP@100 (WUP)"
    assert evaluate_retrieval.table_metrics(None)[9] == "AHP (LCS_HEIGHT)"


def test_prec_type_choices_as_the_original(setup, capsys, tmp_path):
    root, _, features = setup
    utils.save_features(str(tmp_path / "ok.npz"), features)
    with pytest.raises(SystemExit) as info:
        evaluate_retrieval.main(["--dataset", "digits", "--hierarchy", str(root / "tree.txt"),
                                 "--feat", str(tmp_path / "ok.npz"), "--prec_type", "FOO"])
    assert info.value.code == 2 and "invalid choice: 'FOO'" in capsys.readouterr().err
    action = next(a for a in evaluate_retrieval.build_parser()._actions if a.dest == "prec_type")
    assert list(action.choices) == ["WUP", "LCS_HEIGHT"]


# Issue 12: bad input gives one line naming the value, non-zero exit, before the evaluation.


def test_clip_ahp_zero_is_refused(setup, capsys, tmp_path):
    root, _, features = setup
    utils.save_features(str(tmp_path / "ok.npz"), features)
    base = ["--dataset", "digits", "--hierarchy", root / "tree.txt", "--feat", tmp_path / "ok.npz"]
    for value in (0, -5):
        assert "--clip_ahp must be a positive number of positions, got {}".format(value) in error_of(
            capsys, *base, "--clip_ahp", value)


@pytest.mark.parametrize("flag,values", [("--label", ["A", "B"]), ("--norm", ["yes", "no"])])
def test_more_labels_or_norms_than_feature_files(setup, capsys, tmp_path, flag, values):
    root, _, features = setup
    utils.save_features(str(tmp_path / "ok.npz"), features)
    args = ["--dataset", "digits", "--hierarchy", root / "tree.txt", "--feat", tmp_path / "ok.npz"]
    for value in values:
        args += [flag, value]
    assert "{} given 2 times for 1 --feat".format(flag) in error_of(capsys, *args)


def test_feature_vector_of_another_length_names_the_file(setup, capsys, tmp_path):
    import pickle

    root, _, features = setup
    feat = {i: v for i, v in enumerate(features)}
    feat[5] = np.zeros(features.shape[1] + 1, dtype=features.dtype)
    with open(tmp_path / "ragged.pickle", "wb") as f:
        pickle.dump({"feat": feat}, f)
    err = error_of(capsys, "--dataset", "digits", "--hierarchy", root / "tree.txt", "--feat", tmp_path / "ragged.pickle")
    assert str(tmp_path / "ragged.pickle") in err


def test_test_set_of_at_most_100_images(setup, capsys, tmp_path):
    root, _, _ = setup
    from datasets import get_data_generator

    classes = [0, 5, 9]
    utils.save_class_embedding(str(tmp_path / "emb.npz"), np.eye(3), classes)
    n = len(get_data_generator("digits", None, classes=classes).labels_test)
    assert n <= 100
    utils.save_features(str(tmp_path / "f.npz"), np.random.default_rng(0).standard_normal((n, 3)))
    err = error_of(capsys, "--dataset", "digits", "--hierarchy", root / "tree.txt", "--classes_from",
                   tmp_path / "emb.npz", "--feat", tmp_path / "f.npz", "--plot_max", 0)
    assert "the test split of digits has {} images".format(n) in err and "at least 101 test images" in err
    assert "--plot_max" not in err
    # More than 100, but fewer than --plot_max / --clip_ahp: the flag to lower and its largest value.
    base = ["--dataset", "digits", "--hierarchy", root / "tree.txt", "--feat", tmp_path / "f.npz"]
    utils.save_features(str(tmp_path / "f.npz"), np.random.default_rng(0).standard_normal((300, 3)))
    assert "--plot_max 300 needs more than the 300 images of the test split of digits: use at most 299" in error_of(
        capsys, *base, "--plot_max", 300)
    assert "--clip_ahp 400 needs more than the 300 images" in error_of(capsys, *base, "--clip_ahp", 400)


def test_python_api_matches_the_script(setup, capsys, tmp_path):
    root, labels, features = setup
    utils.save_features(str(tmp_path / "ok.npz"), features)
    perf, _ = run(capsys, "--dataset", "digits", "--hierarchy", root / "tree.txt", "--feat", tmp_path / "ok.npz",
                  "--plot_max", 20, "--clip_ahp", 50)
    hierarchy = ClassHierarchy.from_file(str(root / "tree.txt"), id_type=int)
    assert evaluate_retrieval.load_test_labels("digits") == labels
    api = evaluate_retrieval.evaluate_retrieval(features, labels, hierarchy, plot_max=20, clip_ahp=50)
    assert api == perf["ok"]
    with pytest.raises(ValueError, match="clip_ahp"):
        evaluate_retrieval.evaluate_retrieval(features, labels, hierarchy, clip_ahp=0)


# Issue 15: compressed rankings.


def brute_force_hamming_rankings(features):
    """Rankings by the number of differing signs (a component >= 0 is a 1 bit), ties by image index."""
    bits = [[int(v >= 0) for v in row] for row in np.asarray(features)]
    rankings = {}
    for q, query in enumerate(bits):
        distances = [sum(a != b for a, b in zip(query, other)) for other in bits]
        rankings[q] = sorted(range(len(bits)), key=lambda i: (distances[i], i))
    return rankings


def test_binary_ranks_by_hamming_distance(setup, capsys, tmp_path):
    root, labels, _ = setup
    rng = np.random.default_rng(7)
    # 6 dimensions: only 64 codes for 300 images, so most distances tie and the tie-break matters.
    features = (rng.standard_normal((10, 6))[labels] + rng.standard_normal((len(labels), 6))).astype(np.float32)
    features[3, 2] = 0.0  # a zero counts as a 1 bit
    utils.save_features(str(tmp_path / "f.npz"), features)
    perf, out = run(capsys, "--dataset", "digits", "--hierarchy", root / "tree.txt", "--feat", tmp_path / "f.npz",
                    "--binary", "--plot_max", 20, "--clip_ahp", 40, "--norm", "yes")
    hierarchy = ClassHierarchy.from_file(str(root / "tree.txt"), id_type=int)
    ks = list(range(1, 21)) + [50, 100]
    slow, _ = slow_hierarchical_precision(hierarchy, brute_force_hamming_rankings(features), labels, ks,
                                          compute_ahp=40, compute_ap=True, all_ids=list(range(len(labels))))
    assert_close(perf["f"], slow)
    assert "Memory per image of f: 1 bytes (sign bits; float32 features: 24 bytes)" in out.out
    float_perf = evaluate_retrieval.evaluate_retrieval(features, labels, hierarchy, plot_max=20, clip_ahp=40)
    assert float_perf != perf["f"]


def test_pq_ranks_product_quantized_features(setup, capsys, tmp_path):
    from search.pq import pq_reconstruct

    root, labels, _ = setup
    rng = np.random.default_rng(8)
    features = (rng.standard_normal((10, 8))[labels] + 0.5 * rng.standard_normal((len(labels), 8))).astype(np.float32)
    utils.save_features(str(tmp_path / "f.npz"), features)
    perf, out = run(capsys, "--dataset", "digits", "--hierarchy", root / "tree.txt", "--feat", tmp_path / "f.npz",
                    "--pq", 2, "--plot_max", 10)
    hierarchy = ClassHierarchy.from_file(str(root / "tree.txt"), id_type=int)
    decoded = pq_reconstruct(features, 2, seed=0)
    assert len(np.unique(decoded, axis=0)) < len(features)  # quantized: images share codes
    expected = metrics.retrieval_metrics(decoded, labels, hierarchy, ks=list(range(1, 11)) + [50, 100])
    assert perf["f"] == expected
    assert "Memory per image of f: 2 bytes (PQ codes; float32 features: 32 bytes)" in out.out
    # One line naming the flag and the file: a code size that does not divide the dimensions; both modes at once.
    err = error_of(capsys, "--dataset", "digits", "--hierarchy", root / "tree.txt", "--feat", tmp_path / "f.npz",
                   "--pq", 3)
    assert "--pq 3 for {}".format(tmp_path / "f.npz") in err and "do not divide the 8 feature dimensions" in err
    with pytest.raises(SystemExit):
        evaluate_retrieval.main(["--dataset", "digits", "--hierarchy", str(root / "tree.txt"),
                                 "--feat", str(tmp_path / "f.npz"), "--pq", "2", "--binary"])
    assert "not allowed with argument" in capsys.readouterr().err


def test_class_order_of_the_features_is_checked(setup, capsys, tmp_path):
    """Issue 13 item 3: a feature dump that stores its model's class order must match the dataset's."""
    root, labels, features = setup
    base = ["--dataset", "digits", "--hierarchy", root / "tree.txt", "--plot_max", 10]
    for name, ext in (("same", ".pickle"), ("same", ".npz")):
        utils.save_features(str(tmp_path / (name + ext)), features, class_ids=list(range(10)))
        perf, _ = run(capsys, *base, "--feat", tmp_path / (name + ext))
        assert perf[name]["P@1 (WUP)"] > 0
    swapped = list(range(10))
    swapped[3], swapped[4] = 4, 3
    utils.save_features(str(tmp_path / "swapped.npz"), features, class_ids=swapped)
    err = error_of(capsys, *base, "--feat", tmp_path / "swapped.npz")
    assert "--feat {}: its classes are in another order than those of the test split of digits: label 3 is 4 in " \
           "the file, 3 in the test split of digits".format(tmp_path / "swapped.npz") in err
    utils.save_features(str(tmp_path / "five.pickle"), features, class_ids=list(range(5)))
    assert "made for 5 classes, but the test split of digits has 10" in error_of(
        capsys, *base, "--feat", tmp_path / "five.pickle")
    # With --classes_from the dataset's order is the embedding's.
    classes = [7, 2, 5, 3]
    utils.save_class_embedding(str(tmp_path / "emb.npz"), np.eye(4), classes)
    assert evaluate_retrieval.load_test_set("digits", classes_from=str(tmp_path / "emb.npz"))[1] == classes
