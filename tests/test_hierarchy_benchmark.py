"""The one-command comparison (hierarchy_benchmark.py, scripts/hierarchy_benchmark.sh, comparison/).

Fast tests of the pieces, and `test_quick_benchmark_end_to_end`: QUICK=1 on a tiny fake Tiny ImageNet
in the real layout. That one trains nine models, so it is the slowest test of the suite (about 2-3 minutes
on 2 cores: one framework start-up, a few seconds per model); it checks the reports' contents and, with
brute-force loops, that the scores use the right class order.
"""

import io
import json
import os
import subprocess
import sys
import tarfile

import numpy as np
import PIL.Image
import pytest

import utils
from comparison import data as cdata
from comparison import methods as cmethods
from comparison import report as creport
from comparison import runner as crunner
from conftest import REPO_ROOT, assert_one_line_error, run_script

TREE = os.path.join(REPO_ROOT, "TinyImageNet-Hierarchy", "tiny-imagenet.parent-child.txt")
SHIPPED_EMBEDDING = os.path.join(REPO_ROOT, "embeddings", "tiny-imagenet.unitsphere.pickle")
# Real Tiny ImageNet wnids (in the order of its wnids.txt): two dogs, a cat, a vehicle, a fruit.
FAKE_WNIDS = ["n02085620", "n02094433", "n02123045", "n03977966", "n07749582"]


def fake_tiny_imagenet(root, wnids=FAKE_WNIDS, train_per_class=6, val_per_class=22, seed=0):
    """Random 64x64 JPEGs in Tiny ImageNet's layout (a colour per class, so a model can learn a little)."""
    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(root, "val", "images"))
    with open(os.path.join(root, "wnids.txt"), "w") as f:
        f.writelines(w + "\n" for w in wnids)
    with open(os.path.join(root, "words.txt"), "w") as f:
        f.writelines("{}\tclass {}\n".format(w, i) for i, w in enumerate(wnids))

    def image(label):
        base = np.zeros((64, 64, 3)) + 255 * np.eye(3)[label % 3] * (0.4 + 0.15 * label)
        return PIL.Image.fromarray(np.clip(base + rng.normal(0, 40, base.shape), 0, 255).astype(np.uint8))

    for label, wnid in enumerate(wnids):
        folder = os.path.join(root, "train", wnid, "images")
        os.makedirs(folder)
        for i in range(train_per_class):
            image(label).save(os.path.join(folder, "{}_{}.JPEG".format(wnid, i)))
    lines = []
    for i in range(val_per_class * len(wnids)):
        label = i % len(wnids)
        image(label).save(os.path.join(root, "val", "images", "val_{}.JPEG".format(i)))
        lines.append("val_{}.JPEG\t{}\t0\t0\t63\t63\n".format(i, wnids[label]))
    with open(os.path.join(root, "val", "val_annotations.txt"), "w") as f:
        f.writelines(lines)
    return root


# ---------------------------------------------------------------------------
# Method tables and budget
# ---------------------------------------------------------------------------


def test_method_tables_name_registered_methods():
    from models.methods import METHODS

    for entries in cmethods.METHOD_SETS.values():
        for entry in entries:
            assert entry.loss in METHODS, entry
            # Every hyperparameter is one the method takes (ValueError otherwise).
            METHODS[entry.loss].hyperparameters(dict(entry.loss_kwargs))
            assert entry.embedding == "onehot" or entry.embedding in cdata.EMBEDDINGS
    keys = [e.key for s in cmethods.METHOD_SETS.values() for e in s]
    assert len(keys) == len(set(keys))
    hierarchy_losses = {e.loss for e in cmethods.HIERARCHY_SET}
    assert {"crossentropy", "hxe", "soft_labels", "inv_corr", "devise", "center_loss",
            "label_embedding"} <= hierarchy_losses
    assert sum(e.crm for e in cmethods.HIERARCHY_SET) >= 1


def test_select_sets_keys_and_unknown_names():
    assert [e.key for e in cmethods.select("hierarchy")] == [e.key for e in cmethods.HIERARCHY_SET]
    both = cmethods.select("hierarchy,hashing")
    assert len(both) == len(cmethods.HIERARCHY_SET) + len(cmethods.HASHING_SET)
    assert [e.key for e in cmethods.select("hxe, softmax,hxe")] == ["hxe", "softmax"]
    with pytest.raises(ValueError, match="'nope'"):
        cmethods.select("hierarchy,nope")
    with pytest.raises(ValueError, match="no methods"):
        cmethods.select(" , ")


def test_shared_models_must_agree():
    entries = cmethods.select("all")
    models = cmethods.models_to_train(entries)
    assert models["semantic"].key == "semantic"  # the hashing set's float rows reuse the hierarchy set's model
    assert "semantic_float" not in models and "triplet64_float" not in models
    clash = cmethods.Compared("other", "Other", "inv_corr", embedding="unitsphere", cls_weight=0.5, model="semantic")
    with pytest.raises(ValueError, match="share the model 'semantic'"):
        cmethods.check_models(entries + [clash])


def test_budget_validation_and_fingerprint():
    budget = cmethods.Budget()
    assert budget.fingerprint() == cmethods.Budget().fingerprint()
    assert budget.fingerprint() != cmethods.Budget(epochs=3).fingerprint()
    options = budget.train_options()
    assert options["dataset_options"] == {"image_size": 32} and options["architecture_kwargs"] == cmethods.SMALL_NET
    for kwargs, flag in (({"epochs": 0}, "--epochs"), ({"lr": 0}, "--lr"), ({"max_decay": 2}, "--max_decay"),
                         ({"architecture_kwargs": "{"}, "--architecture_kwargs"),
                         ({"architecture_kwargs": "[1]"}, "--architecture_kwargs")):
        with pytest.raises(ValueError, match=flag):
            cmethods.Budget(**kwargs)
    with pytest.raises(ValueError, match="CRM"):
        cmethods.Compared("x", "X", "inv_corr", classify="embedding", crm=True)


# ---------------------------------------------------------------------------
# Data: subsets in the real layout, class embeddings in the dataset's order
# ---------------------------------------------------------------------------


def test_spread_takes_every_nth():
    assert cdata.spread(range(10), 3) == [0, 3, 6]
    assert cdata.spread("abc", 5) == ["a", "b", "c"]
    assert cdata.spread("abc", None) == ["a", "b", "c"]


def test_subset_from_folder_and_archive(tmp_path):
    from datasets.tiny_imagenet import index_folder

    source = fake_tiny_imagenet(str(tmp_path / "tiny-imagenet-200"), train_per_class=3, val_per_class=4)
    out = cdata.write_subset(source, str(tmp_path / "sub"), num_classes=2, train_per_class=2, test_per_class=3)
    index = index_folder(out)
    assert index["wnids"] == [FAKE_WNIDS[0], FAKE_WNIDS[2]]
    assert len(index["train"]) == 4 and len(index["val"]) == 6
    assert {w for _, w in index["val"]} == set(index["wnids"])
    linked = os.path.join(out, index["train"][0][0])
    assert os.path.islink(linked) and os.path.isfile(linked)
    # Reused when asked again; another subset in the same folder is an error.
    assert cdata.write_subset(source, out, 2, 2, 3) == out
    with pytest.raises(ValueError, match="another subset"):
        cdata.write_subset(source, out, 3, 2, 3)
    # From the archive: the same images, written (no links).
    archive = str(tmp_path / "tiny.tar.gz")
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(source, arcname="tiny-imagenet-200")
    from_archive = cdata.write_subset(archive, str(tmp_path / "sub2"), 2, 2, 3)
    assert index_folder(from_archive)["train"] == index["train"]
    path = os.path.join(from_archive, index["train"][0][0])
    assert not os.path.islink(path)
    with open(path, "rb") as a, open(linked, "rb") as b:
        assert a.read() == b.read()


def test_unitsphere_embedding_in_dataset_order_matches_shipped(tmp_path):
    import cli

    hierarchy = cli.load_hierarchy(TREE, False, True)
    shipped = utils.load_class_embedding(SHIPPED_EMBEDDING)
    classes = list(shipped["ind2label"])[::-1][:40]  # another order than the shipped (sorted) one
    path = cdata.prepare_embedding("unitsphere", hierarchy, classes, str(tmp_path))
    ours = utils.load_class_embedding(path)
    assert list(ours["ind2label"]) == classes
    rows = [shipped["label2ind"][c] for c in classes]
    reference = shipped["embedding"][rows] @ shipped["embedding"][rows].T
    np.testing.assert_allclose(ours["embedding"] @ ours["embedding"].T, reference, atol=1e-9)
    mtime = os.path.getmtime(path)
    assert cdata.prepare_embedding("unitsphere", hierarchy, classes, str(tmp_path)) == path
    assert os.path.getmtime(path) == mtime  # reused, not rewritten
    with pytest.raises(ValueError, match="unknown class embedding"):
        cdata.prepare_embedding("nope", hierarchy, classes, str(tmp_path))


# ---------------------------------------------------------------------------
# Resuming and reports
# ---------------------------------------------------------------------------


def test_trained_model_is_not_trained_again(tmp_path):
    entry = cmethods.HIERARCHY_SET[0]
    budget = cmethods.Budget(epochs=1)
    out = str(tmp_path)
    assert crunner.trained_record(entry, budget, out) is None
    paths = crunner.model_paths(out, entry.model_key)
    os.makedirs(os.path.dirname(paths["model"]))
    for key in ("model", "features"):
        open(paths[key], "w").close()
    record = {"model": entry.model_key, "settings": entry.model_settings(), "budget": budget.describe(),
              "budget_fingerprint": budget.fingerprint(), "train_seconds": 12.5,
              "test_accuracy_at_training": {"Accuracy": 0.5}, "trained_at": "then"}
    crunner.write_json(paths["record"], record)
    logged = []
    # train_model would import Keras and fail on the empty files: a reused model never gets there.
    records, failed = crunner.train_all({entry.model_key: entry}, budget, None, None, {}, out, logged.append)
    assert failed == [] and records[entry.model_key]["reused"] and "not trained again" in logged[0]
    with pytest.raises(ValueError, match="trained with other settings"):
        crunner.trained_record(entry, cmethods.Budget(epochs=2), out)
    os.remove(paths["features"])  # an interrupted dump: trained again
    assert crunner.trained_record(entry, budget, out) is None


def test_chance_levels_by_brute_force():
    import cli

    hierarchy = cli.load_hierarchy(TREE, False, True)
    scorer = object.__new__(crunner.Scorer)  # only what chance_levels reads
    scorer.hierarchy, scorer.class_ids = hierarchy, FAKE_WNIDS
    scorer.labels = np.array([0, 0, 0, 1, 2, 3, 3, 4])
    levels = scorer.chance_levels()
    num = len(FAKE_WNIDS)
    height = [[lca_height_loop(hierarchy, a, b) if a != b else 0 for b in FAKE_WNIDS] for a in FAKE_WNIDS]
    # Guessing uniformly: every other class equally often, for every image.
    uniform = np.mean([np.mean([height[y][j] for j in range(num) if j != y]) for y in scorer.labels])
    assert levels["uniform random guess"]["Mistake Severity"] == pytest.approx(uniform)
    assert levels["uniform random guess"]["Top-1 Error"] == pytest.approx(1 - 1 / num)
    # The best constant guess: try every class.
    hd1 = [np.mean([height[y][j] for y in scorer.labels]) for j in range(num)]
    best = int(np.argmin(hd1))
    wrong = [y for y in scorer.labels if y != best]
    assert levels["best constant guess"]["class"] == FAKE_WNIDS[best]
    assert levels["best constant guess"]["Mistake Severity"] == pytest.approx(np.mean([height[y][best] for y in wrong]))
    assert levels["best constant guess"]["Top-1 Error"] == pytest.approx(len(wrong) / len(scorer.labels))


def fake_rows():
    def row(key, label, error, severity, ahp, crm=False, curve=True):
        metrics = {"Top-1 Error": error, "Accuracy": 1 - error, "Mistake Severity": severity,
                   "Hierarchical Distance@1": error * 2, "Hierarchical Distance@5": 4.0}
        if not crm:
            metrics.update({"AHP@250 (LCS_HEIGHT)": ahp, "P@10 (LCS_HEIGHT)": ahp + 0.01, "AP": ahp / 2})
        return {"key": key, "label": label, "model": key.replace("+crm", ""), "crm": crm, "train_seconds": 60.0,
                "metrics": metrics, "hp_curve": list(np.linspace(0.9, ahp, 250)) if curve and not crm else None}

    return [row("softmax", "Softmax", 0.6, 3.0, 0.5), row("softmax+crm", "Softmax + CRM", 0.62, 2.5, None, crm=True),
            row("semantic", "Semantic", 0.65, float("nan"), 0.6)]


def test_markdown_table_marks_the_best_and_missing_values():
    rows = crunner.json_safe(fake_rows())
    text = creport.markdown_table(rows, creport.HIERARCHY_COLUMNS, 250)
    lines = text.splitlines()
    assert lines[0].startswith("| Method | Top-1 error | Mistake severity |") and "mAHP@250" in lines[0]
    softmax, crm, semantic = lines[2:]
    assert "| **60.00%** |" in softmax  # the lowest error
    assert "| **2.500** |" in crm  # the lowest severity; CRM rows have no retrieval or training time
    assert crm.rstrip(" |").endswith("| - | - | - | -")
    assert "| - |" in semantic and "**60.00%**" in semantic  # NaN severity shown as "-"; the best mAHP


def test_hashing_table_names_the_code():
    rows = [{"key": "a", "label": "Float", "ranking": "float", "train_seconds": 5.0,
             "metrics": {"Dimensions": 64, "Bytes per Image": 256, "AHP@250 (LCS_HEIGHT)": 0.5, "AP": 0.2}},
            {"key": "b", "label": "Signs", "ranking": "binary", "train_seconds": 5.0,
             "metrics": {"Dimensions": 64, "Bytes per Image": 8, "AHP@250 (LCS_HEIGHT)": 0.4, "AP": 0.3}}]
    lines = creport.markdown_table(rows, creport.HASHING_COLUMNS, 250).splitlines()
    assert lines[2].startswith("| Float | 64-d float | 256 | **50.00%** | - | 20.00% |")
    assert lines[3].startswith("| Signs | 64 bits | 8 | 40.00% | - | **30.00%** |")


def test_write_report_json_markdown_and_pictures(tmp_path):
    setup = {"data": "d", "classes": 3, "train_images": 30, "test_images": 120, "image_size": 32, "budget": "b",
             "command": "cmd", "wall_seconds": 1.0, "train_seconds_total": 120.0, "machine": "m", "notes": ["n"],
             "chance": {"uniform random guess": {"Top-1 Error": 0.995, "Mistake Severity": 11.5},
                        "best constant guess": {"Top-1 Error": 0.99, "Mistake Severity": float("nan"), "class": "x"}}}
    written = creport.write_report(str(tmp_path), "benchmark", fake_rows(), setup, 250)
    names = sorted(os.path.basename(p) for p in written)
    assert names == ["benchmark.json", "benchmark.md", "error_vs_severity.png", "hp_curves.png"]
    with open(written[0]) as f:
        saved = json.load(f)
    assert saved["rows"][2]["metrics"]["Mistake Severity"] is None and saved["setup"]["command"] == "cmd"
    for path in written[2:]:
        with PIL.Image.open(path) as img:
            assert img.size[0] > 300 and img.size[1] > 200
    with open(written[1]) as f:
        text = f.read()
    assert "`cmd`" in text and "- note: n" in text
    assert "uniform random guess: top-1 error 99.50%, mistake severity 11.500" in text
    assert "best constant guess (x): top-1 error 99.00%, mistake severity -" in text


def test_cli_errors_are_one_line(tmp_path):
    result = run_script("hierarchy_benchmark.py", "--data_root", str(tmp_path), "--out", str(tmp_path / "o"),
                        "--methods", "softmax,bogus", "--dry_run")
    assert_one_line_error(result, "bogus")
    result = run_script("hierarchy_benchmark.py", "--data_root", str(tmp_path / "missing"), "--out",
                        str(tmp_path / "o"), "--methods", "softmax")
    assert_one_line_error(result, "missing")
    result = run_script("hierarchy_benchmark.py", "--data_root", str(tmp_path), "--out", str(tmp_path / "o"),
                        "--architecture_kwargs", "{bad", "--dry_run")
    assert_one_line_error(result, "--architecture_kwargs")


# ---------------------------------------------------------------------------
# The whole command, QUICK=1, on a fake Tiny ImageNet (the slowest test of the suite)
# ---------------------------------------------------------------------------


def lca_height_loop(hierarchy, a, b):
    """Height (longest path down to a leaf) of the lowest common ancestor of a and b in a tree, by walking up
    from b until an ancestor of a is reached and then down from it (the obviously-correct way)."""
    ancestors, node = [a], a
    while hierarchy.parents.get(node):
        node = next(iter(hierarchy.parents[node]))
        ancestors.append(node)
    node = b
    while node not in ancestors:
        node = next(iter(hierarchy.parents[node]))

    def height(n):
        return max((1 + height(c) for c in hierarchy.children.get(n, ())), default=0)

    return height(node)


@pytest.mark.slow  # the slowest test of the suite (nine models); register "slow" in conftest.py
def test_quick_benchmark_end_to_end(tmp_path):
    """QUICK=1 scripts/hierarchy_benchmark.sh on a fake Tiny ImageNet: every method of the hierarchy set is
    trained (one short epoch), scored and reported; scores checked against brute-force loops and against
    evaluate_retrieval.py; a second run trains nothing. The slowest test: ~2-3 minutes on 2 idle cores."""
    import cli

    data = fake_tiny_imagenet(str(tmp_path / "tiny-imagenet-200"), train_per_class=6, val_per_class=22)
    out = str(tmp_path / "out")
    env = dict(os.environ, QUICK="1", PYTHON=sys.executable, TF_CPP_MIN_LOG_LEVEL="3")
    script = os.path.join(REPO_ROOT, "scripts", "hierarchy_benchmark.sh")
    result = subprocess.run(["bash", script, data, out], env=env, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for name in ("benchmark.json", "benchmark.md", "error_vs_severity.png", "hp_curves.png"):
        assert os.path.isfile(os.path.join(out, name)), name
    with open(os.path.join(out, "benchmark.json")) as f:
        report = json.load(f)
    rows = {row["key"]: row for row in report["rows"]}
    expected = [e.key for e in cmethods.HIERARCHY_SET] + [e.key + "+crm" for e in cmethods.HIERARCHY_SET if e.crm]
    assert sorted(rows) == sorted(expected)
    cutoff = report["cutoff"]
    assert cutoff == 5 * 22 - 1 and report["setup"]["command"].startswith("QUICK=1 bash scripts/hierarchy_benchmark.sh")
    classified = {e.key for e in cmethods.HIERARCHY_SET if e.classify} | {k for k in rows if k.endswith("+crm")}
    for key, row in rows.items():
        metrics = row["metrics"]
        for name in ("Top-1 Error", "Mistake Severity", "Hierarchical Distance@1", "Hierarchical Distance@5"):
            assert (name in metrics) == (key in classified), (key, name)
        assert "Hierarchical Distance@20" not in metrics  # 5 classes
        if not row["crm"]:
            for name in ("AHP@{} (LCS_HEIGHT)".format(cutoff), "P@10 (LCS_HEIGHT)", "AP"):
                assert 0 <= metrics[name] <= 1, (key, name)
            assert len(row["hp_curve"]) == cutoff and row["train_seconds"] > 0

    # The class order, checked without the project's dataset code: labels from val_annotations.txt and
    # wnids.txt of the subset, predictions by brute force from the dumped test features.
    subset = os.path.join(out, "data")
    with open(os.path.join(subset, "wnids.txt")) as f:
        wnids = f.read().split()
    with open(os.path.join(subset, "val", "val_annotations.txt")) as f:
        labels = np.array([wnids.index(line.split()[1]) for line in f if line.strip()])
    hierarchy = cli.load_hierarchy(TREE, False, True)
    height = np.array([[lca_height_loop(hierarchy, a, b) if a != b else 0 for b in wnids] for a in wnids], float)

    def features(model):
        ids, feat = utils.load_features(os.path.join(out, "models", model + ".features.npz"))
        return np.asarray(feat)[np.argsort(ids)]

    probs = features("softmax")
    predicted = np.argmax(probs, axis=1)
    assert rows["softmax"]["metrics"]["Top-1 Error"] == pytest.approx(np.mean(predicted != labels))
    mistakes = predicted != labels
    if mistakes.any():
        assert rows["softmax"]["metrics"]["Mistake Severity"] == pytest.approx(
            np.mean([height[t, p] for t, p in zip(labels[mistakes], predicted[mistakes])]))
    risk = np.array([[sum(p[i] * height[i, j] for i in range(len(wnids))) for j in range(len(wnids))] for p in probs])
    assert rows["softmax+crm"]["metrics"]["Top-1 Error"] == pytest.approx(np.mean(np.argmin(risk, 1) != labels))
    embedding = utils.load_class_embedding(os.path.join(out, "embeddings", "unitsphere.pickle"))
    assert list(embedding["ind2label"]) == wnids
    semantic = np.argmax(features("semantic") @ np.asarray(embedding["embedding"]).T, axis=1)
    assert rows["semantic"]["metrics"]["Top-1 Error"] == pytest.approx(np.mean(semantic != labels))

    # Retrieval as evaluate_retrieval.py scores the same features.
    retrieval = run_script("evaluate_retrieval.py", "--dataset", "TinyImageNet", "--data_root", subset,
                           "--image_size", "32", "--hierarchy", TREE, "--str_ids", "--feat",
                           os.path.join(out, "models", "softmax.features.npz"), "--label", "s", "--clip_ahp",
                           cutoff, "--plot_max", cutoff, "--json", tmp_path / "r.json")
    assert retrieval.returncode == 0, retrieval.stderr
    with open(tmp_path / "r.json") as f:
        reference = json.load(f)["s"]
    for name in ("AHP@{} (LCS_HEIGHT)".format(cutoff), "P@10 (LCS_HEIGHT)", "AP"):
        assert rows["softmax"]["metrics"][name] == pytest.approx(reference[name], abs=1e-12)

    # Run again: nothing is trained, the scores are reused.
    again = subprocess.run(["bash", script, data, out], env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count("not trained again") == len(cmethods.models_to_train(cmethods.HIERARCHY_SET))
    with open(os.path.join(out, "benchmark.json")) as f:
        assert json.load(f)["rows"] == report["rows"]
