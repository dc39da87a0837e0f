"""hxe, soft_labels, crossentropy --label_smoothing and triplet through learn_image_embeddings.py (registry
path end to end): one epoch on digits with a tiny Plain net each, then the printed test loss recomputed
from the dumped test outputs with independent formulas; bad input gives one line naming the flag or class.
"""

import math
import os
import subprocess
import sys

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import learn_image_embeddings as LIE  # noqa: E402
import models  # noqa: E402,F401 -- registers the project's losses and metrics for loading
import utils  # noqa: E402
from conftest import REPO_ROOT  # noqa: E402
from datasets import get_data_generator  # noqa: E402
from test_triplet import brute_force  # noqa: E402

# Digits in three groups under one root: LCA height 1 inside a group, 2 across.
GROUPS = {10: (0, 6, 8, 9), 11: (1, 4, 7), 12: (2, 3, 5)}
TREE = [(20, g) for g in GROUPS] + [(g, c) for g, members in GROUPS.items() for c in members]
TINY_NET = '{"filters": [8, "ap", 16, "gap", "fc16"], "weight_decay": 0}'  # no regularization term in the loss
COMMON = ["--dataset", "digits", "--embedding", "onehot", "--architecture", "simple", "--architecture_kwargs",
          TINY_NET, "--batch_size", "100", "--epochs", "1", "--read_workers", "1", "--seed", "0", "--no_progress"]


def group_of(c):
    return next(g for g, members in GROUPS.items() if c in members)


def write_tree(path, edges):
    path.write_text("".join("{} {}\n".format(p, c) for p, c in edges))
    return str(path)


def start(args, backend):
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, TF_CPP_MIN_LOG_LEVEL="3", KERAS_BACKEND=backend)
    return subprocess.Popen([sys.executable, os.path.join(REPO_ROOT, "learn_image_embeddings.py"), *map(str, args)],
                            cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process):
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, "stdout:\n{}\nstderr:\n{}".format(out[-3000:], err[-5000:])
    return out


def final_evaluation(out):
    """{metric: value} of the 'Final evaluation on the test set:' block."""
    lines = out.split("Final evaluation on the test set:")[1].splitlines()[1:]
    values = {}
    for line in lines:
        if not line.startswith("  "):
            break
        name, value = line.split()
        values[name] = float(value)
    return values


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("methods")
    tree = write_tree(d / "tree.txt", TREE)
    jobs = {
        "hxe": (["--loss", "hxe", "--hxe_alpha", "0.5", "--hierarchy", tree, "--model_dump", d / "hxe.keras"],
                "tensorflow"),
        "soft_labels": (["--loss", "soft_labels", "--soft_labels_beta", "4", "--hierarchy", tree], "tensorflow"),
        "smoothing": (["--loss", "crossentropy", "--label_smoothing", "0.2"], "tensorflow"),
        "triplet": (["--loss", "triplet", "--miner", "batch_hard", "--triplet_margin", "0.3", "--per_class", "10",
                     "--model_dump", d / "triplet.keras"], "jax"),
    }
    out, running = {}, []
    for name, (args, backend) in jobs.items():  # two at a time
        running.append((name, start([*COMMON, *args, "--feature_dump", d / (name + ".npz")], backend)))
        if len(running) == 2:
            for done_name, process in running:
                out[done_name] = finish(process)
            running = []
    for done_name, process in running:
        out[done_name] = finish(process)
    labels = np.asarray(get_data_generator("digits").labels_test)
    outputs = {name: utils.load_features(str(d / (name + ".npz")))[1] for name in jobs}
    return d, out, labels, outputs


def test_hxe_run(runs):
    d, out, labels, outputs = runs
    probs = outputs["hxe"].astype(np.float64)
    # HXE by hand for this tree: depths root 0, groups 1, digits 2; Z over the 14 nodes.
    z = 1 + 3 * math.exp(-0.5) + 10 * math.exp(-1.0)
    losses = []
    for p, y in zip(probs, labels):
        group = sum(p[c] for c in GROUPS[group_of(y)])
        losses.append((math.exp(-1.0) * -math.log(p[y] / group) + math.exp(-0.5) * -math.log(group / p.sum())) / z)
    assert final_evaluation(out["hxe"])["loss"] == pytest.approx(np.mean(losses), abs=2e-4)
    model = keras.models.load_model(d / "hxe.keras")
    assert type(model.loss).__name__ == "HierarchicalCrossEntropy" and model.loss.alpha == 0.5
    assert model.output_shape == (None, 10) and model.layers[-1].name == "prob"


def test_soft_labels_run(runs):
    _, out, labels, outputs = runs
    probs = outputs["soft_labels"].astype(np.float64)
    losses = []
    for p, y in zip(probs, labels):
        distance = np.array([0.0 if c == y else 0.5 if group_of(c) == group_of(y) else 1.0 for c in range(10)])
        target = np.exp(-4 * distance) / np.exp(-4 * distance).sum()
        losses.append(-np.sum(target * np.log(p)))
    assert final_evaluation(out["soft_labels"])["loss"] == pytest.approx(np.mean(losses), abs=2e-4)


def test_label_smoothing_run(runs):
    _, out, labels, outputs = runs
    probs = outputs["smoothing"].astype(np.float64)
    targets = np.full((len(labels), 10), 0.2 / 9)
    targets[np.arange(len(labels)), labels] = 0.8
    expected = np.mean(-np.sum(targets * np.log(probs), axis=1))
    assert final_evaluation(out["smoothing"])["loss"] == pytest.approx(expected, abs=2e-4)


def test_triplet_run(runs):
    d, out, labels, outputs = runs
    features = outputs["triplet"]
    np.testing.assert_allclose(np.linalg.norm(features, axis=1), 1.0, rtol=1e-5)
    # The test set is evaluated in three unshuffled batches of 100: the mean of the batch values.
    per_batch = [brute_force(features[i:i + 100], labels[i:i + 100], 0.3, "batch_hard") for i in (0, 100, 200)]
    printed = final_evaluation(out["triplet"])
    assert printed["loss"] == pytest.approx(np.mean([b[0] for b in per_batch]), abs=2e-4)
    assert printed["active_triplets"] == pytest.approx(np.mean([b[1] for b in per_batch]), abs=2e-4)
    assert 0 <= printed["recall_at_1"] <= 1
    model = keras.models.load_model(d / "triplet.keras")
    assert (model.loss.miner, model.loss.margin) == ("batch_hard", 0.3)


def one_line_error(capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        LIE.main([*COMMON, *map(str, argv)])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_bad_input(tmp_path, capsys):
    tree = write_tree(tmp_path / "tree.txt", TREE)
    for loss in ("hxe", "soft_labels"):
        assert "--loss {} needs the class hierarchy: pass --hierarchy".format(loss) in one_line_error(
            capsys, ["--loss", loss])
    dag = write_tree(tmp_path / "dag.txt", TREE + [(11, 0)])
    line = one_line_error(capsys, ["--loss", "hxe", "--hierarchy", dag])
    assert "not a tree" in line and "node 0" in line
    missing = write_tree(tmp_path / "missing.txt", [edge for edge in TREE if edge[1] != 9])
    for loss in ("hxe", "soft_labels"):
        line = one_line_error(capsys, ["--loss", loss, "--hierarchy", missing])
        assert "9" in line and "not" in line and "hierarch" in line, line
    assert "--hxe_alpha" in one_line_error(capsys, ["--loss", "hxe", "--hierarchy", tree, "--hxe_alpha", "-1"])
    assert "--label_smoothing" in one_line_error(capsys, ["--loss", "crossentropy", "--label_smoothing", "1"])
