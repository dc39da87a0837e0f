"""learn_image_embeddings.py end to end: a few tiny runs on TensorFlow and JAX, their outputs checked.

Runs (subprocesses, two at a time; a tiny Plain net via --architecture_kwargs):
  A  TF, colour CIFAR-10, embedding file, classifier head, every output flag.
  B  TF, resumes A's snapshot for a third epoch.
  C  TF, digits, one-hot targets with softmax_corr, --gpus 2 on two logical CPUs, legacy .h5 dump.
  D  JAX, colour CIFAR-10, fine-tunes A's model (new mse head), --gpus 2 on two host devices.
  E  JAX, digits, one-hot targets, mixed precision (bfloat16), classifier head.
"""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import learn_image_embeddings as LIE  # noqa: E402
import models  # noqa: E402,F401 -- registers the custom layers, losses and metrics for loading
import models.training  # noqa: E402,F401
import utils  # noqa: E402
from conftest import REPO_ROOT  # noqa: E402
from datasets import get_data_generator  # noqa: E402
from test_evaluate_classification import HIERARCHY, write_colour_cifar10  # noqa: E402

TINY_NET = '{"filters": [8, "ap", 16, "gap", "fc16"]}'
COMMON = ["--architecture", "simple", "--architecture_kwargs", TINY_NET, "--batch_size", "8",
          "--read_workers", "1", "--seed", "0", "--no_progress"]


def start(*args, backend="tensorflow", env=None):
    """Start learn_image_embeddings.py in a subprocess (output collected by `finish`)."""
    full_env = dict(os.environ, PYTHONPATH=REPO_ROOT, TF_CPP_MIN_LOG_LEVEL="3", KERAS_BACKEND=backend)
    full_env.update(env or {})
    return subprocess.Popen([sys.executable, os.path.join(REPO_ROOT, "learn_image_embeddings.py"), *map(str, args)],
                            cwd=REPO_ROOT, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process, timeout=600):
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, "stdout:\n{}\nstderr:\n{}".format(out[-3000:], err[-5000:])
    return out


def printed_metrics(out):
    """The `Name: value` lines printed after training."""
    values = {}
    for line in out.splitlines():
        name, sep, value = line.rpartition(": ")
        if sep and name in ("Accuracy", "Top-5 Accuracy", "Avg. Accuracy"):
            values[name] = float(value)
    return values


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("train")
    write_colour_cifar10(d / "cifar", train_per_class=4, test_counts=(2,) * 9 + (3,))  # 21: uneven batches
    rng = np.random.default_rng(0)
    embedding = np.eye(10) + 0.2 * rng.random((10, 10))
    embedding /= np.linalg.norm(embedding, axis=1, keepdims=True)
    utils.save_class_embedding(str(d / "emb.pickle"), embedding, list(range(10)))
    cifar = ["--dataset", "CIFAR-10", "--data_root", d / "cifar"]
    digits = ["--dataset", "digits", "--embedding", "onehot"]

    run_a = start(*cifar, *COMMON, "--embedding", d / "emb.pickle", "--cls_weight", "0.1", "--top_k_acc", "2",
                  "--epochs", "2", "--lr_schedule", "SGDR", "--sgdr_base_len", "1", "--max_decay", "0.1",
                  "--snapshot", d / "snap.keras", "--model_dump", d / "a.keras",
                  "--weight_dump", d / "a.weights.h5", "--feature_dump", d / "a_feat.pickle", "--log_dir", d / "logs")
    run_c = start(*digits, *COMMON, "--loss", "softmax_corr", "--epochs", "1", "--gpus", "2", "--batch_size", "50",
                  "--val_batch_size", "14",
                  "--model_dump", d / "c.h5", "--feature_dump", d / "c_feat.pickle")
    out = {"A": finish(run_a)}
    shutil.copy(d / "snap.keras", d / "snap_a.keras")  # A's final snapshot, before B continues it
    run_b = start(*cifar, *COMMON, "--embedding", d / "emb.pickle", "--cls_weight", "0.1", "--epochs", "3",
                  "--initial_epoch", "2", "--lr_schedule", "SGDR", "--sgdr_base_len", "1", "--snapshot", d / "snap.keras")
    out["C"] = finish(run_c)
    run_d = start(*cifar, *COMMON, "--embedding", d / "emb.pickle", "--loss", "mse", "--finetune", d / "a.keras",
                  "--finetune_init", "1", "--epochs", "1", "--gpus", "2", "--val_batch_size", "6",
                  "--model_dump", d / "d.keras", "--feature_dump", d / "d_feat.npz", backend="jax",
                  env={"XLA_FLAGS": "--xla_force_host_platform_device_count=2"})
    out["B"] = finish(run_b)
    run_e = start(*digits, *COMMON, "--cls_weight", "0.5", "--epochs", "1", "--mixed_precision", "--batch_size", "499",
                  "--val_batch_size", "100",
                  "--model_dump", d / "e.keras", "--feature_dump", d / "e_feat.pickle", backend="jax")
    out["D"] = finish(run_d)
    out["E"] = finish(run_e)
    return d, out


def test_outputs_of_a_full_run(runs):
    d, out = runs
    assert "Final evaluation on the test set:" in out["A"] and "val_" not in out["A"]  # --no_progress
    for name in ("l2norm_max_sim_acc", "l2norm_max_sim_acc2", "prob_acc", "prob_acc2", "loss"):  # the original's
        assert "  {} ".format(name) in out["A"]
    for path in ("snap.keras", "a.keras", "a.weights.h5", "a_feat.pickle"):
        assert (d / path).is_file(), path
    assert not [f for f in os.listdir(d) if f.startswith(".tmp-")]  # atomic writes left nothing behind
    events = [os.path.join(root, f) for root, _, files in os.walk(d / "logs") for f in files if "tfevents" in f]
    assert len(events) >= 2  # train and validation
    # TensorBoard shows the learning rate of the last update of each epoch, --max_decay included (issue 13 #4):
    # SGDR keeps the base rate at 0.1 in both epochs (cycles of 1 and 2); decay 0.9, 5 steps per epoch.
    import tensorflow as tf

    rates = [float(tf.make_ndarray(v.tensor)) for path in events for e in tf.compat.v1.train.summary_iterator(path)
             for v in e.summary.value if v.tag == "epoch_learning_rate"]
    assert rates == pytest.approx([0.1 / (1 + 0.9 * 4), 0.1 / (1 + 0.9 * 9)], rel=1e-5)


def test_model_structure_matches_the_original(runs):
    d, _ = runs
    model = keras.models.load_model(d / "a.keras")
    assert {"embedding", "l2norm", "cls_relu", "cls_bn", "prob"} <= {l.name for l in model.layers}
    assert len(model.outputs) == 2 and model.output_shape == [(None, 10), (None, 10)]
    prob = model.get_layer("prob")
    assert prob.activation is keras.activations.softmax
    assert float(prob.kernel_regularizer.l2) == pytest.approx(5e-4)
    # Head: embedding -> ReLU -> BN -> prob
    assert model.get_layer("cls_relu").input is model.get_layer("l2norm").output
    assert model.get_layer("cls_bn").input is model.get_layer("cls_relu").output
    optimizer = model.optimizer
    assert type(optimizer).__name__ == "InverseTimeDecaySGD" and float(optimizer.momentum) == pytest.approx(0.9)
    assert optimizer.clipnorm == 10.0
    # --max_decay 0.1 over 2 epochs of 40 // 8 = 5 steps: decay = (1 / 0.1 - 1) / 10.
    assert optimizer.decay == pytest.approx(0.9)


def test_feature_dump_holds_the_models_test_embeddings(runs):
    d, out = runs
    ids, features = utils.load_features(str(d / "a_feat.pickle"))
    assert ids == list(range(21)) and features.shape == (21, 10)
    record = utils.safe_pickle_load(str(d / "a_feat.pickle"))
    # the original's layout, plus the class order of the model's outputs (issue 13 #3)
    assert set(record) == {"feat", "class_ids"} and isinstance(record["feat"], dict)
    assert record["class_ids"] == list(range(10)) == utils.load_feature_class_ids(str(d / "a_feat.pickle"))
    np.testing.assert_allclose(np.linalg.norm(features, axis=1), 1.0, rtol=1e-5)
    data = get_data_generator("CIFAR-10", str(d / "cifar"))
    model = keras.models.load_model(d / "a.keras")
    embed, prob = model.predict(data.compose_batch(np.arange(21), train=False), verbose=0)
    np.testing.assert_allclose(features, embed, atol=1e-5)
    labels = data.labels_test
    printed = printed_metrics(out["A"])
    assert printed["Accuracy"] == pytest.approx(np.mean(prob.argmax(1) == labels), abs=1e-4)
    per_class = [np.mean(prob.argmax(1)[labels == c] == c) for c in range(10)]
    assert printed["Avg. Accuracy"] == pytest.approx(np.mean(per_class), abs=1e-4)


def test_feature_dump_scores_with_evaluate_retrieval(runs, tmp_path):
    d, _ = runs
    hierarchy_file = tmp_path / "hierarchy.txt"
    hierarchy_file.write_text("".join("{} {}\n".format(p, c) for p, c in HIERARCHY))
    result = subprocess.run(
        [sys.executable, os.path.join(REPO_ROOT, "evaluate_retrieval.py"), "--dataset", "digits", "--data_root",
         str(tmp_path), "--hierarchy", str(hierarchy_file), "--feat", str(d / "c_feat.pickle"), "--label", "tiny",
         "--plot_max", "10", "--json", str(tmp_path / "retrieval.json")],
        cwd=REPO_ROOT, env=dict(os.environ, PYTHONPATH=REPO_ROOT, TF_CPP_MIN_LOG_LEVEL="3"),
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "tiny" in result.stdout
    with open(tmp_path / "retrieval.json") as f:
        assert "tiny" in json.dumps(json.load(f))


def test_trained_model_in_evaluate_classification_accuracy(runs, tmp_path):
    """The README's two evaluations of a trained model: `prob` scores, and nearest class embedding."""
    import evaluate_classification_accuracy as E

    d, out = runs
    args = E.build_parser().parse_args([
        "--dataset", "CIFAR-10", "--data_root", str(d / "cifar"), "--classes_from", str(d / "emb.pickle"),
        # The i-th value of each repeated flag belongs to the i-th model (the original's convention).
        "--model", str(d / "a.keras"), "--layer", "l2norm", "--prob_features", "no", "--centroids",
        str(d / "emb.pickle"), "--label", "centroids",
        "--model", str(d / "a.keras"), "--layer", "prob", "--prob_features", "yes", "--label", "prob",
        "--json", str(tmp_path / "accuracy.json")])
    perf = E.run(args)
    with open(tmp_path / "accuracy.json") as f:
        assert json.load(f) == {label: dict(results) for label, results in perf.items()}
    printed = printed_metrics(out["A"])
    assert perf["prob"]["Accuracy"] == pytest.approx(printed["Accuracy"], abs=1e-4)
    assert perf["prob"]["Avg. Accuracy"] == pytest.approx(printed["Avg. Accuracy"], abs=1e-4)
    _, features = utils.load_features(str(d / "a_feat.pickle"))
    embedding = utils.load_class_embedding(str(d / "emb.pickle"))["embedding"]
    labels = get_data_generator("CIFAR-10", str(d / "cifar")).labels_test
    nearest = ((features[:, None, :] - embedding[None]) ** 2).sum(-1).argmin(1)
    assert perf["centroids"]["Accuracy"] == pytest.approx(np.mean(nearest == labels))


def test_snapshots_and_resume(runs):
    d, out = runs
    assert keras.models.load_model(d / "snap_a.keras").optimizer.iterations.numpy() == 2 * 5
    assert "Resuming from snapshot" in out["B"] and "Optimizer state restored (step 10)" in out["B"]
    assert keras.models.load_model(d / "snap.keras").optimizer.iterations.numpy() == 3 * 5


def test_weight_dump_loads_by_name(runs):
    d, _ = runs
    from models import training as T

    model, _ = T.build_embedding_model(10, "simple", "inv_corr", input_channels=3,
                                       filters=[8, "ap", 16, "gap", "fc16"])
    model = T.cls_model(model, 10)
    loaded = T.load_weights_by_name(model, str(d / "a.weights.h5"))
    assert {"conv1", "embedding", "prob"} <= set(loaded)
    reference = keras.models.load_model(d / "a.keras")
    for name in ("conv1", "embedding", "prob"):
        for a, b in zip(model.get_layer(name).get_weights(), reference.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)


def test_weights_file_reports_only_the_layers_it_loaded(tmp_path, capsys):
    """A .weights.h5 file names layers by class, so a new head (other shapes) gets nothing: it must
    not be reported as pre-trained, or `--finetune_init` would freeze it."""
    from models import training as T

    kwargs = dict(input_channels=1, filters=[4, "gap", "fc8"])
    source, _ = T.build_embedding_model(4, "simple", "inv_corr", **kwargs)
    for layer in source.layers:  # distinct values everywhere, BN statistics included
        layer.set_weights([w + 0.5 for w in layer.get_weights()])
    source.save_weights(tmp_path / "source.weights.h5")
    target, _ = T.build_embedding_model(6, "simple", "mse", **kwargs)
    target = T.cls_model(target, 3)
    loaded = T.load_weights_by_name(target, str(tmp_path / "source.weights.h5"))
    assert set(loaded) == {"conv1", "bn1", "fc3", "bn3"}  # not embedding (4 vs 6 units), cls_bn, prob
    for name in loaded:
        for a, b in zip(target.get_layer(name).get_weights(), source.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)
    assert "matched by layer type and order (4 layers loaded)" in capsys.readouterr().err


def test_digits_onehot_softmax_on_two_replicas(runs):
    d, out = runs
    model = keras.models.load_model(d / "c.h5", compile=False)  # legacy HDF5 dump
    assert model.layers[-1].name == "softmax" and model.output_shape == (None, 10)
    _, features = utils.load_features(str(d / "c_feat.pickle"))
    data = get_data_generator("digits")
    assert features.shape == (data.num_test, 10)  # 1497 training images in batches of 50: the last one padded
    np.testing.assert_allclose(features.sum(1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(features, model.predict(data.compose_batch(np.arange(data.num_test), train=False),
                                                       verbose=0), atol=1e-5)
    assert printed_metrics(out["C"])["Accuracy"] == pytest.approx(np.mean(features.argmax(1) == data.labels_test),
                                                                  abs=1e-4)


def test_jax_finetuning_on_two_devices(runs):
    d, out = runs
    assert "Pre-trained weights loaded into" in out["D"] and "Pre-training new layers" in out["D"]
    assert "Full model training" in out["D"]
    ids, features = utils.load_features(str(d / "d_feat.npz"))
    assert features.shape == (21, 10)  # 21 test images in batches of 6 padded for 2 devices, then trimmed
    model = keras.models.load_model(d / "d.keras")
    assert model.layers[-1].name == "embedding" and len(model.outputs) == 1  # mse: no l2norm, no classifier
    data = get_data_generator("CIFAR-10", str(d / "cifar"))
    np.testing.assert_allclose(features, model.predict(data.compose_batch(np.arange(21), train=False), verbose=0),
                               atol=1e-4)


def test_jax_digits_mixed_precision(runs):
    d, out = runs
    model = keras.models.load_model(d / "e.keras", compile=False)
    assert model.get_layer("conv1").dtype_policy.name == "mixed_bfloat16"
    assert model.get_layer("prob").dtype_policy.name == "float32"
    _, features = utils.load_features(str(d / "e_feat.pickle"))
    assert features.shape == (300, 10) and np.all(np.isfinite(features))
    printed = printed_metrics(out["E"])
    assert set(printed) == {"Accuracy", "Top-5 Accuracy", "Avg. Accuracy"}


# ---------------------------------------------------------------------------
# Bad input: one-line errors before any training (run in-process, cheap)
# ---------------------------------------------------------------------------


def one_line_error(capsys, *argv):
    with pytest.raises(SystemExit) as exit_info:
        LIE.main([str(a) for a in argv])
    assert exit_info.value.code != 0
    err = capsys.readouterr().err
    lines = [l for l in err.splitlines() if l.startswith("error:") or ": error:" in l]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_bad_inputs_give_one_line_errors(tmp_path, capsys):
    wrong = tmp_path / "emb3.pickle"  # class 42 is not a digit
    utils.save_class_embedding(str(wrong), np.eye(3), [0, 1, 42])
    base = ["--dataset", "digits", "--epochs", "1"]
    assert "no such embedding file" in one_line_error(capsys, *base, "--embedding", tmp_path / "missing.pickle")
    assert "invalid choice" in one_line_error(capsys, *base, "--embedding", "onehot", "--architecture", "vgg-99")
    assert "--sgd_schedule" in one_line_error(capsys, *base, "--embedding", "onehot", "--lr_schedule", "SGD",
                                              "--sgd_schedule", "1:x")
    assert ".keras" in one_line_error(capsys, *base, "--embedding", "onehot", "--model_dump", tmp_path / "m.model")
    assert "--batch_size" in one_line_error(capsys, *base, "--embedding", "onehot", "--batch_size", "0")
    assert "--architecture_kwargs" in one_line_error(capsys, *base, "--embedding", "onehot",
                                                     "--architecture_kwargs", "{bad")
    assert "simple takes no argument 'nosuch'" in one_line_error(capsys, *base, "--embedding", "onehot",
                                                                 "--architecture_kwargs", '{"nosuch": 1}')
    assert "unknown dataset" in one_line_error(capsys, "--dataset", "CIFAR-11", "--embedding", "onehot")
    assert "42" in one_line_error(capsys, *base, "--embedding", wrong)
    # resnet-32 without a classification top ends at its pooled features (8 here), not at 10 dimensions.
    assert "resnet-110-fc" in one_line_error(capsys, *base, "--embedding", "onehot", "--architecture", "resnet-32",
                                             "--architecture_kwargs", '{"blocks_per_stage": 1, "filters": [4, 4, 8]}')
    # the cross-entropy classifier needs one-hot targets and is itself the classification head
    assert "--embedding onehot" in one_line_error(capsys, *base, "--loss", "crossentropy", "--embedding", wrong)
    assert "--cls_weight 0.1" in one_line_error(capsys, *base, "--loss", "crossentropy", "--embedding", "onehot",
                                                "--cls_weight", "0.1")


def test_help_lists_the_original_flags(capsys):
    with pytest.raises(SystemExit):
        LIE.main(["-h"])
    text = capsys.readouterr().out
    for flag in ("--dataset", "--data_root", "--embedding", "--architecture", "--loss", "--cls_weight", "--cls_base",
                 "--lr_schedule", "--clipgrad", "--max_decay", "--nesterov", "--epochs", "--batch_size",
                 "--val_batch_size", "--snapshot", "--snapshot_best", "--initial_epoch", "--finetune",
                 "--finetune_init", "--gpus", "--read_workers", "--queue_size", "--gpu_merge", "--model_dump",
                 "--weight_dump", "--feature_dump", "--log_dir", "--no_progress", "--top_k_acc", "--sgd_lr",
                 "--sgd_patience", "--sgd_min_lr", "--sgd_schedule", "--sgdr_base_len", "--sgdr_mul", "--sgdr_max_lr",
                 "--clr_step_len", "--clr_min_lr", "--clr_max_lr", "--mixed_precision", "--seed"):
        assert flag in text, flag
    args = LIE.build_parser().parse_args(["--dataset", "x", "--embedding", "onehot"])
    assert (args.loss, args.lr_schedule, args.clipgrad, args.batch_size, args.finetune_init, args.read_workers,
            args.queue_size, args.gpus, args.cls_weight, args.sgd_lr, args.max_decay) == \
        ("inv_corr", "SGDR", 10.0, 100, 8, 8, 100, 1, 0.0, 0.1, 0.0)


# ---------------------------------------------------------------------------
# Training helpers (in-process, tiny)
# ---------------------------------------------------------------------------


class _Batches(keras.utils.PyDataset):
    """10 samples in batches of 4: x = index, y = (2 * index, -index)."""

    batch_size = 4

    def __len__(self):
        return 3

    def __getitem__(self, idx):
        x = np.arange(idx * 4, min(10, idx * 4 + 4), dtype=np.float32)[:, None]
        return x, (2 * x, -x)


def test_replica_padded_batches():
    padded = models.training.ReplicaPaddedBatches(_Batches(), replicas=4)
    x, (y1, y2), weight = padded[2]  # the last batch holds samples 8 and 9
    np.testing.assert_array_equal(x[:, 0], [8, 9, 9, 9])
    np.testing.assert_array_equal(y1[:, 0], [16, 18, 18, 18])
    np.testing.assert_array_equal(y2[:, 0], [-8, -9, -9, -9])
    np.testing.assert_array_equal(weight, [1, 1, 0, 0])
    x, _, weight = padded[0]
    assert len(x) == 4 and weight.tolist() == [1, 1, 1, 1]
    (inputs,) = models.training.ReplicaPaddedBatches(_Batches(), replicas=3, inputs_only=True)[2]
    np.testing.assert_array_equal(inputs[:, 0], [8, 9, 9])


def _tiny_model():
    model, _ = models.training.build_embedding_model(4, "simple", "inv_corr", input_channels=1,
                                                     filters=[4, "gap", "fc8"])
    return models.training.cls_model(model, 3)


@pytest.mark.parametrize("name", ["w.h5", "w.weights.h5", "m.keras", "m.h5"])
def test_weights_load_by_name_from_every_format(tmp_path, name):
    T = models.training
    source, target = _tiny_model(), _tiny_model()
    for layer in source.layers:  # no weight left at its initial value (untrained BN: ones and zeros)
        layer.set_weights([w + 0.5 for w in layer.get_weights()])
    path = str(tmp_path / name)
    (T.save_model if name.startswith("m") else T.save_weights)(source, path)
    loaded = T.load_weights_by_name(target, path)
    assert {"conv1", "embedding", "prob", "cls_bn"} <= set(loaded)
    for a, b in zip(source.get_weights(), target.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_failed_snapshot_keeps_the_previous_one(tmp_path):
    T = models.training
    model = _tiny_model()
    path = tmp_path / "snap.keras"
    T.save_model(model, str(path))
    before = path.read_bytes()

    class Boom(Exception):
        pass

    def failing_save(filepath, *args, **kwargs):
        with open(filepath, "wb") as f:
            f.write(b"half a model")
        raise Boom()

    model.save = failing_save
    checkpoint = T.AtomicModelCheckpoint(str(path))
    checkpoint.set_model(model)
    with pytest.raises(Boom):
        checkpoint.on_epoch_end(0, {})
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["snap.keras"]


@pytest.mark.parametrize("loss, head, metric", [("inv_corr", "l2norm", "max_sim_acc"), ("softmax_corr", "softmax", "acc"),
                                                ("mse", "embedding", "nn_accuracy"),
                                                ("unnorm_corr", "embedding", "max_sim_acc"),
                                                ("crossentropy", "prob", "acc")])
def test_loss_heads_and_metrics(loss, head, metric):
    T = models.training
    model, top = T.build_embedding_model(4, "simple", loss, input_channels=1, filters=[4, "gap", "fc8"])
    assert top == "embedding" and model.layers[-1].name == head
    x = np.random.default_rng(0).normal(size=(6, 8, 8, 1)).astype(np.float32)
    out = model.predict(x, verbose=0)
    if loss == "inv_corr":
        np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1, rtol=1e-5)
    elif loss in ("softmax_corr", "crossentropy"):
        np.testing.assert_allclose(out.sum(1), 1, rtol=1e-5)
    embedding_loss, metrics = T.loss_and_metrics(loss, np.eye(4), top_k=(2,))
    expected_loss = {"mse": models.losses.squared_distance, "crossentropy": "categorical_crossentropy"}
    assert embedding_loss is expected_loss.get(loss, models.losses.inv_correlation)
    assert [m.name for m in metrics] == [metric, metric + "2"]  # max_sim_acc2, acc2: the original's names
    assert T.accuracy_log_key(model, loss) == "val_" + metric


def test_crossentropy_baseline_end_to_end(tmp_path, capsys):
    """`--embedding onehot --loss crossentropy`: a softmax classifier whose training loss is the
    mean negative log-probability of the true class (plus weight decay), checked by hand."""
    LIE.main(["--dataset", "digits", "--embedding", "onehot", "--loss", "crossentropy", *COMMON, "--epochs", "3",
              "--batch_size", "16", "--lr_schedule", "SGD", "--sgd_lr", "0.05",
              "--model_dump", str(tmp_path / "m.keras"), "--feature_dump", str(tmp_path / "f.pickle")])
    printed = printed_metrics(capsys.readouterr().out)
    model = keras.models.load_model(tmp_path / "m.keras")
    assert model.layers[-1].name == "prob" and model.output_shape == (None, 10)
    data = get_data_generator("digits", None)
    images, labels = data.compose_batch(np.arange(data.num_test), train=False), np.asarray(data.labels_test)
    probabilities = model.predict(images, verbose=0)
    _, features = utils.load_features(str(tmp_path / "f.pickle"))
    np.testing.assert_allclose(features, probabilities, atol=1e-5)  # the dump holds the class probabilities
    assert printed["Accuracy"] == pytest.approx(np.mean(probabilities.argmax(1) == labels), abs=1e-4)
    # 3 x 90 steps of a tiny net learn digits well above chance (0.1: 0.69 with this seed); far fewer
    # steps leave the BN moving averages (momentum 0.99) too far from the data for a fair test accuracy
    assert printed["Accuracy"] > 0.3
    one_hot = np.eye(10, dtype=np.float32)[labels[:64]]
    loss = model.evaluate(images[:64], one_hot, batch_size=64, verbose=0, return_dict=True)["loss"]
    cross_entropy = -np.mean(np.log(probabilities[np.arange(64), labels[:64]]))
    weight_decay = sum(float(keras.ops.convert_to_numpy(l)) for l in model.losses)
    assert loss == pytest.approx(cross_entropy + weight_decay, rel=1e-4)


def test_snapshot_best_as_the_original(tmp_path, capsys):
    """`--snapshot S --snapshot_best` (no value: val_loss) trains and keeps the best epoch in S (the
    choice of epochs is tested in test_model_files.py); alone, --snapshot_best is a one-line error."""
    snapshot = tmp_path / "s.keras"
    LIE.main(["--dataset", "digits", "--embedding", "onehot", *COMMON, "--epochs", "2", "--batch_size", "128",
              "--lr_schedule", "SGD", "--snapshot", str(snapshot), "--snapshot_best"])
    assert snapshot.is_file() and int(keras.models.load_model(snapshot).optimizer.iterations) in (12, 24)  # 1497 images in batches of 128
    args = LIE.build_parser().parse_args(["--dataset", "d", "--embedding", "onehot", "--snapshot_best"])
    assert args.snapshot_best == "val_loss"
    assert "give --snapshot too" in one_line_error(capsys, "--dataset", "digits", "--embedding", "onehot",
                                                   "--snapshot_best", "val_acc")


def test_classifier_head_on_cls_base_and_compile_options():
    T = models.training
    model, _ = T.build_embedding_model(4, "simple", "inv_corr", input_channels=1, filters=[4, "gap", "fc8"])
    by_name = T.cls_model(model, 3, cls_base="fc3")
    assert by_name.get_layer("cls_relu").input is by_name.get_layer("fc3").output
    by_index = T.cls_model(model, 3, cls_base="-1")
    assert by_index.get_layer("cls_relu").input is model.layers[-1].output
    with pytest.raises(ValueError, match="--cls_base 'nope'"):
        T.cls_model(model, 3, cls_base="nope")
    T.compile_model(by_name, np.eye(4), cls_weight=0.5, lr=0.05, decay=0.01, nesterov=True, clipgrad=0)
    optimizer = by_name.optimizer
    assert optimizer.nesterov and optimizer.clipnorm is None and optimizer.decay == 0.01
    assert float(optimizer.learning_rate.numpy()) == pytest.approx(0.05)
    assert T.accuracy_log_key(by_name, "inv_corr") == "val_prob_acc"


@pytest.mark.parametrize("capability, policy", [(None, "mixed_bfloat16"), ((7, 0), "mixed_float16"),
                                                ((8, 0), "mixed_bfloat16"), ((9, 0), "mixed_bfloat16")])
def test_auto_mixed_precision_follows_the_gpu(monkeypatch, capability, policy):
    """float16 (with loss scaling) only where bfloat16 is not native: GPUs before compute capability 8.0."""
    import models.distribute as T

    monkeypatch.setattr(T, "gpu_compute_capability", lambda: capability)
    try:
        assert T.set_mixed_precision("auto") == policy
        assert keras.config.dtype_policy().name == policy
    finally:
        keras.config.set_dtype_policy("float32")
    monkeypatch.undo()
    assert T.gpu_compute_capability() is None  # the real detection: the test machine has no GPU
