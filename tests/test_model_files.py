"""Portable model files (issue 11): nothing that grows with the classes in a saved config, Keras' own
`l2norm` layer (a model loads with plain Keras, without this project), the optimizer restored after
`import models`, and files of the previous version (tests/data, written by commit 563021f) still load."""

import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import models  # noqa: E402,F401 -- registers the project's serializable objects
from models import training as T  # noqa: E402

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
OLD_MODEL = os.path.join(DATA, "model_before_portable_files.keras")
TINY = dict(input_channels=1, filters=[4, "gap", "fc8"])


def unit_rows(num_classes, dim, seed=0):
    rows = np.random.default_rng(seed).normal(size=(num_classes, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def compiled_model(num_classes, dim=6):
    model, _ = T.build_embedding_model(dim, "simple", "inv_corr", **TINY)
    model = T.cls_model(model, num_classes)
    T.compile_model(model, unit_rows(num_classes, dim), cls_weight=0.1, lr=0.05, decay=0.01, top_k=(2, 5))
    return model


def trained(model, num_classes, dim=6):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(8, 8, 8, 1)).astype(np.float32)
    y = rng.integers(0, num_classes, size=8)
    model.fit(x, (unit_rows(num_classes, dim)[y], np.eye(num_classes, dtype=np.float32)[y]), batch_size=8,
              epochs=1, verbose=0)
    return model, x


def config_text(path):
    with zipfile.ZipFile(path) as archive:
        return archive.read("config.json").decode("utf-8")


def test_saved_config_does_not_grow_with_the_classes(tmp_path):
    sizes = {}
    for num_classes in (10, 400):
        path = tmp_path / "m{}.keras".format(num_classes)
        T.save_model(trained(compiled_model(num_classes), num_classes)[0], str(path))
        sizes[num_classes] = len(config_text(path))
    # Only the numbers 10 -> 400 change (a unit count and a shape): a few bytes, not 400 x 6 floats per metric.
    assert abs(sizes[400] - sizes[10]) < 40, sizes
    assert "embedding\": [[" not in config_text(tmp_path / "m400.keras")


def test_metric_names_are_the_originals():
    model = compiled_model(7)
    names = [m.name for m in T.loss_and_metrics("inv_corr", unit_rows(7, 6), top_k=(5,))[1]]
    assert names == ["max_sim_acc", "max_sim_acc5"]
    names = [m.name for m in T.loss_and_metrics("mse", unit_rows(7, 6), top_k=(5,))[1]]
    assert names == ["nn_accuracy", "nn_accuracy5"]
    from models.methods import MethodContext

    onehot = MethodContext(embedding=np.eye(7, dtype=np.float32), onehot=True, top_k=(5,))
    assert [m.name for m in T.loss_and_metrics("inv_corr", onehot)[1]] == ["acc", "acc5"]  # 'accuracy' in Keras 2
    x = np.zeros((2, 8, 8, 1), np.float32)
    y = np.array([0, 1])
    logs = model.evaluate(x, (unit_rows(7, 6)[y], np.eye(7, dtype=np.float32)[y]), verbose=0, return_dict=True)
    assert {"l2norm_max_sim_acc", "l2norm_max_sim_acc2", "l2norm_max_sim_acc5", "prob_acc", "prob_acc2",
            "prob_acc5"} <= set(logs)


def test_l2norm_is_keras_unit_normalization_with_the_same_values():
    model, _ = T.build_embedding_model(5, "simple", "inv_corr", **TINY)
    layer = model.get_layer("l2norm")
    assert type(layer) is keras.layers.UnitNormalization
    x = np.random.default_rng(2).normal(size=(3, 5)).astype(np.float32)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), x / np.linalg.norm(x, axis=1, keepdims=True),
                               rtol=1e-6)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)),
                               keras.ops.convert_to_numpy(models.L2Normalize()(x)), rtol=1e-6)


_PLAIN_KERAS = r"""
import sys, json
import numpy as np, keras
try:
    import models  # must not be importable: this checks the file alone
    raise SystemExit("the project is importable here")
except ImportError:
    pass
model = keras.models.load_model(sys.argv[1], compile=False)
out = model.predict(np.load(sys.argv[2]), verbose=0)
print(json.dumps([np.asarray(o).tolist() for o in out]))
"""


def test_model_loads_with_plain_keras_without_the_project(tmp_path):
    model, x = trained(compiled_model(5), 5)
    path = tmp_path / "model.keras"
    T.save_model(model, str(path))
    np.save(tmp_path / "x.npy", x)
    script = tmp_path / "plain.py"
    script.write_text(_PLAIN_KERAS)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(TF_CPP_MIN_LOG_LEVEL="3", KERAS_BACKEND="jax")  # another backend too; JAX imports quicker
    result = subprocess.run([sys.executable, "-I", str(script), str(path), str(tmp_path / "x.npy")],
                            cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    embedding, prob = (np.array(o) for o in json.loads(result.stdout.strip().splitlines()[-1]))
    expected = model.predict(x, verbose=0)
    np.testing.assert_allclose(embedding, expected[0], atol=1e-5)
    np.testing.assert_allclose(prob, expected[1], atol=1e-5)


def test_model_loads_with_its_optimizer_after_import_models(tmp_path):
    model, x = trained(compiled_model(5), 5)
    path = tmp_path / "model.keras"
    T.save_model(model, str(path))
    loaded = keras.models.load_model(path)  # compile=True: the optimizer comes back
    assert type(loaded.optimizer).__name__ == "InverseTimeDecaySGD"
    assert int(loaded.optimizer.iterations.numpy()) == 1 and loaded.optimizer.decay == pytest.approx(0.01)
    for a, b in zip(loaded.optimizer.variables, model.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_allclose(loaded.predict(x, verbose=0)[0], model.predict(x, verbose=0)[0], atol=1e-6)


def test_files_of_the_previous_version_still_load():
    """tests/data/model_before_portable_files.keras: an `L2Normalize` layer and metric configs holding the
    class-embedding matrix (tests/data/make_model_before_portable_files.py, run at commit 563021f)."""
    assert "embedding\": [[" in config_text(OLD_MODEL)  # it is a file of the old kind
    expected = np.load(os.path.join(DATA, "model_before_portable_files.expected.npz"))
    x = np.load(os.path.join(DATA, "model_before_portable_files.probe.npy"))
    for model in (keras.models.load_model(OLD_MODEL), T.load_model(OLD_MODEL)):
        assert type(model.get_layer("l2norm")).__name__ == "L2Normalize"
        assert type(model.optimizer).__name__ == "InverseTimeDecaySGD" and int(model.optimizer.iterations) == 1
        embedding, prob = model.predict(x, verbose=0)
        np.testing.assert_allclose(embedding, expected["embedding"], atol=1e-6)
        np.testing.assert_allclose(prob, expected["prob"], atol=1e-6)
    # its metrics kept their class embeddings: the old model evaluates as it is
    y = np.array([0, 1, 2, 0, 1, 2])
    logs = model.evaluate(x, (expected["class_embedding"][y], np.eye(3, dtype=np.float32)[y]), verbose=0,
                          return_dict=True)
    nearest = (expected["embedding"] @ expected["class_embedding"].T).argmax(1)
    assert logs["l2norm_max_sim_acc"] == pytest.approx(np.mean(nearest == y))


def test_snapshot_best_keeps_only_the_best_epoch(tmp_path):
    path = tmp_path / "snap.keras"
    model = compiled_model(3)
    checkpoint = T.AtomicModelCheckpoint(str(path), monitor="val_loss", mode=T.monitor_mode("val_loss"))
    checkpoint.set_model(model)
    saved = []
    for epoch, loss in enumerate([0.9, 0.7, 0.8, 0.6, 0.65]):
        before = path.stat().st_ino if path.exists() else None  # each save renames a new file into place
        model.get_layer("prob").bias.assign(np.full(3, float(epoch), np.float32))  # marks the epoch in the file
        checkpoint.on_epoch_end(epoch, {"val_loss": loss})
        if path.exists() and path.stat().st_ino != before:
            saved.append(epoch)
    assert saved == [0, 1, 3]  # the improvements of val_loss (mode min)
    assert keras.models.load_model(path, compile=False).get_layer("prob").bias.numpy()[0] == 3.0
    assert T.monitor_mode("val_max_sim_acc") == "max" and T.monitor_mode("val_prob_acc5") == "max"
