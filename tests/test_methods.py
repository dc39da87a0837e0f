"""The training-method registry (models/methods.py): entries, arguments, targets, and a new method
added with one entry that the script and `train()` pick up with nothing else changed."""

import argparse
import os
import subprocess
import sys

import numpy as np
import pytest

import learn_image_embeddings as LIE
from conftest import REPO_ROOT
from models import methods as M
from models.methods import METHODS, Argument, MethodContext, TrainingMethod, register_method

TODAYS_METHODS = {"mse": (None, "nn_accuracy", "distance"), "inv_corr": ("l2norm", "max_sim_acc", "dot"),
                  "unnorm_corr": (None, "max_sim_acc", "dot"), "softmax_corr": ("softmax", "acc", "dot"),
                  "crossentropy": ("prob", "acc", "dot")}


def test_todays_methods_are_registered_as_before():
    for name, (head, monitor, similarity) in TODAYS_METHODS.items():
        method = METHODS[name]
        assert (method.head, method.monitor, method.similarity) == (head, monitor, similarity), name
    assert METHODS["crossentropy"].onehot_only and not METHODS["crossentropy"].classifier_head
    assert M.CLASSIFIER_HEAD.name == "prob" and M.CLASSIFIER_HEAD.weight.flag == "--cls_weight"
    with pytest.raises(ValueError, match="unknown loss 'nosuch'; choose from mse, inv_corr"):
        METHODS["nosuch"]


def test_targets_are_rows_of_the_class_tables():
    embedding = np.array([[0.6, 0.8], [1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    context = MethodContext(embedding=embedding)
    labels = np.array([2, 0, 0, 1])
    x = np.zeros((4, 1))
    _, targets = M.ClassTargets([M.class_embedding_targets(context)])(x, labels)
    np.testing.assert_array_equal(targets, embedding[[2, 0, 0, 1]])
    _, (emb, onehot, raw) = M.ClassTargets([embedding, M.onehot_targets(context), M.label_targets(context)])(x, labels)
    np.testing.assert_array_equal(onehot, [[0, 0, 1], [1, 0, 0], [1, 0, 0], [0, 1, 0]])
    np.testing.assert_array_equal(raw, labels)
    assert emb.dtype == onehot.dtype == np.float32


def test_hyperparameters_take_defaults_and_reject_unknown_names():
    method = TrainingMethod("toy", "", M.class_embedding_targets, None, lambda c, **k: None, lambda c, **k: [], "acc",
                            arguments=(Argument("--toy_margin", float, 0.5, "m"), Argument("--toy_k", int, None, "k")))
    assert method.hyperparameters() == {"toy_margin": 0.5, "toy_k": None}
    assert method.hyperparameters({"toy_k": 3}) == {"toy_margin": 0.5, "toy_k": 3}
    with pytest.raises(ValueError, match="--loss toy takes no argument 'margin'"):
        method.hyperparameters({"margin": 1})
    assert method.hyperparameters({"margin": 1, "toy_k": 2}, ignore_unknown=True) == {"toy_margin": 0.5, "toy_k": 2}
    with pytest.raises(ValueError, match="--name_of_value"):
        Argument("toy", float)


def test_registering_checks_names_and_flags():
    with pytest.raises(ValueError, match="registered twice"):
        register_method(METHODS["mse"])
    clash = TrainingMethod("clash", "", M.onehot_targets, None, lambda c, **k: None, lambda c, **k: [], "acc",
                           arguments=(Argument("--cls_weight", float, 1.0, "x"),))
    with pytest.raises(ValueError, match="--cls_weight is already defined"):
        register_method(clash)
    assert "clash" not in METHODS


# ---------------------------------------------------------------------------
# A new method: one entry (+ its loss), seen by the parser, the script's checks and train()
# ---------------------------------------------------------------------------

CALLS = []


def _scaled_cosine_loss(context, toy_scale):
    """A loss of the toy method: the cosine loss times a hyperparameter (recorded, so the test sees it)."""
    import keras

    from models import losses

    CALLS.append(toy_scale)
    return lambda y_true, y_pred: toy_scale * losses.inv_correlation(y_true, y_pred) + 0 * keras.ops.sum(y_pred)


@pytest.fixture
def toy_method():
    entry = register_method(TrainingMethod(
        name="toy_cosine", description="The cosine loss, scaled.", targets=M.class_embedding_targets, head="l2norm",
        loss=_scaled_cosine_loss, metrics=M._nearest_embedding_metrics(dot_product=True), monitor="max_sim_acc",
        arguments=(Argument("--toy_scale", float, 1.0, "Factor of the loss.", metavar="FACTOR"),)))
    CALLS.clear()
    yield entry
    del METHODS["toy_cosine"]


def test_a_new_method_needs_only_its_entry(toy_method, tmp_path):
    parser = LIE.build_parser()
    help_text = parser.format_help()
    assert "Parameters for --loss toy_cosine" in help_text and "--toy_scale FACTOR" in help_text
    args = parser.parse_args(["--dataset", "digits", "--embedding", "onehot", "--loss", "toy_cosine",
                              "--toy_scale", "2.5"])
    assert LIE.method_kwargs(args) == {"toy_scale": 2.5}
    other = parser.parse_args(["--dataset", "digits", "--embedding", "onehot", "--toy_scale", "2.5"])
    with pytest.raises(ValueError, match="--toy_scale belongs to --loss toy_cosine, not --loss inv_corr"):
        LIE.method_kwargs(other)

    from models.training import train

    result = train("digits", "onehot", architecture="simple", architecture_kwargs={"filters": [4, "gap", "fc8"]},
                   loss="toy_cosine", loss_kwargs={"toy_scale": 2.5}, epochs=1, batch_size=128, lr_schedule="SGD",
                   read_workers=1, seed=0, verbose=0, feature_dump=str(tmp_path / "f.npz"))
    assert CALLS == [2.5]
    assert result.model.layers[-1].name == "l2norm" and result.features.shape == (300, 10)
    np.testing.assert_allclose(np.linalg.norm(result.features, axis=1), 1.0, rtol=1e-5)
    assert "acc" in result.evaluation and set(result.accuracy) >= {"Accuracy"}  # one-hot targets: acc
    assert result.class_ids == list(range(10)) and (tmp_path / "f.npz").is_file()


# ---------------------------------------------------------------------------
# No Keras for --help; the serializable objects registered whenever Keras comes
# ---------------------------------------------------------------------------


def _python(code, backend="tensorflow"):
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, TF_CPP_MIN_LOG_LEVEL="3", KERAS_BACKEND=backend)
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_help_and_the_tables_import_no_keras():
    out = _python("import sys, learn_image_embeddings as L\n"
                  "L.build_parser().format_help()\n"
                  "import models, models.methods, models.schedules\n"
                  "print(sorted(m for m in ('keras', 'tensorflow', 'jax') if m in sys.modules))")
    assert out.strip() == "[]"


# The orders where a registering module is half-imported when Keras arrives (the others are easier).
@pytest.mark.parametrize("first", ["import models.layers", "import models.keras_metrics", "from models import training"])
def test_serializable_objects_are_registered_in_any_import_order(first):
    out = _python("import models\n{}\nimport keras\n"
                  "names = keras.saving.get_custom_objects()\n"
                  "print(all('semantic_embeddings>' + n in names for n in ('L2Normalize', 'ChannelPadding', "
                  "'NearestEmbeddingAccuracy', 'TopKAccuracy', 'inv_correlation', 'squared_distance', "
                  "'DeviseRankingLoss', 'InverseTimeDecaySGD')))".format(first), backend="jax")  # JAX: quicker to import
    assert out.strip().splitlines()[-1] == "True"


def test_argument_adds_its_flag():
    parser = argparse.ArgumentParser()
    Argument("--toy_value", int, 3, "A value.", metavar="N").add_to(parser)
    assert parser.parse_args([]).toy_value == 3 and parser.parse_args(["--toy_value", "5"]).toy_value == 5
