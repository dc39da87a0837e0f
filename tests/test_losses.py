"""Losses and metrics of models/losses.py against hand-computed values and brute-force loops."""

import json

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from conftest import run_script  # noqa: E402
from models import losses as L  # noqa: E402


def to_numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


# ---------------------------------------------------------------------------
# Hand-computed examples
# ---------------------------------------------------------------------------

Y_TRUE = np.array([[1.0, 0.0], [0.6, 0.8]], dtype=np.float32)
Y_PRED = np.array([[0.0, 1.0], [0.6, 0.8]], dtype=np.float32)


def test_sample_losses_by_hand():
    # row 0: difference (-1, 1) -> squared distance 2, distance sqrt(2), dot 0; row 1: identical.
    np.testing.assert_allclose(to_numpy(L.squared_distance(Y_TRUE, Y_PRED)), [2.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(to_numpy(L.mean_distance(Y_TRUE, Y_PRED)), [np.sqrt(2.0), 0.0], atol=1e-6)
    np.testing.assert_allclose(to_numpy(L.inv_correlation(Y_TRUE, Y_PRED)), [1.0, 0.0], atol=1e-6)


EYE3 = np.eye(3, dtype=np.float32)
ONEHOT = EYE3[[0, 1, 2, 0]]
SCORES = np.array([[0.9, 0.1, 0.0],   # class 0 first: hit
                   [0.5, 0.5, 0.0],   # tie between 0 and the true class 1: counts as a hit
                   [0.1, 0.8, 0.2],   # true class 2 is second
                   [0.2, 0.3, 0.1]],  # true class 0 is second
                  dtype=np.float32)


def test_nearest_embedding_accuracy_by_hand():
    for dot in (True, False):
        np.testing.assert_array_equal(to_numpy(L.nearest_embedding_accuracy(ONEHOT, SCORES, EYE3, dot, 1)), [1, 1, 0, 0])
        np.testing.assert_array_equal(to_numpy(L.nearest_embedding_accuracy(ONEHOT, SCORES, EYE3, dot, 2)), [1, 1, 1, 1])
    np.testing.assert_array_equal(to_numpy(L.top_k_accuracy(ONEHOT, SCORES, k=1)), [1, 1, 0, 0])
    np.testing.assert_array_equal(to_numpy(L.top_k_accuracy(ONEHOT, SCORES, k=2)), [1, 1, 1, 1])


def test_dot_product_and_euclidean_rankings_differ_by_hand():
    # Class embeddings of different norms: the largest dot product is class 1, the nearest point class 0.
    embedding = np.array([[1.0, 0.0], [3.0, 0.0]], dtype=np.float32)
    y_pred = np.array([[1.2, 0.0]], dtype=np.float32)
    y_true = embedding[[0]]
    assert to_numpy(L.nearest_embedding_accuracy(y_true, y_pred, embedding, dot_prod_sim=False))[0] == 1
    assert to_numpy(L.nearest_embedding_accuracy(y_true, y_pred, embedding, dot_prod_sim=True))[0] == 0


def test_devise_ranking_loss_by_hand():
    # sum_j max(0, 0.1 - <t, p> + <e_j, p>) - 0.1 per row:
    # row 0: 0.1 + 0 + 0 - 0.1 = 0; row 1: 0.1 + 0.1 + 0 - 0.1 = 0.1;
    # row 2: (0.1 - 0.2 + 0.1) + (0.1 - 0.2 + 0.8) + 0.1 - 0.1 = 0.7; row 3: 0.1 + 0.2 + 0 - 0.1 = 0.2.
    loss = L.devise_ranking_loss(EYE3, margin=0.1)
    np.testing.assert_allclose(to_numpy(loss.call(ONEHOT, SCORES)), [0.0, 0.1, 0.7, 0.2], atol=1e-6)
    np.testing.assert_allclose(float(to_numpy(loss(ONEHOT, SCORES))), 0.25, atol=1e-6)


# ---------------------------------------------------------------------------
# Against brute-force loops on random data
# ---------------------------------------------------------------------------


def brute_force_hits(y_true_idx, y_pred, embedding, dot_prod_sim, k):
    """Literal definition: count the classes strictly better than the true one (ties are hits)."""
    hits = []
    for t, p in zip(y_true_idx, y_pred):
        def score(c):
            if dot_prod_sim:
                return float(np.dot(p.astype(np.float64), embedding[c].astype(np.float64)))
            return -float(np.sum((p.astype(np.float64) - embedding[c]) ** 2))
        better = sum(1 for c in range(len(embedding)) if score(c) > score(t) + 1e-5)
        hits.append(1.0 if better < k else 0.0)
    return np.array(hits)


@pytest.mark.parametrize("dot_prod_sim", [True, False])
@pytest.mark.parametrize("k", [1, 3])
def test_nearest_embedding_accuracy_matches_brute_force(dot_prod_sim, k):
    rng = np.random.default_rng(k + 10 * dot_prod_sim)
    embedding = rng.normal(size=(7, 5)).astype(np.float32)
    labels = rng.integers(0, 7, size=40)
    y_pred = (embedding[labels] + rng.normal(scale=1.0, size=(40, 5))).astype(np.float32)
    got = to_numpy(L.nearest_embedding_accuracy(embedding[labels], y_pred, embedding, dot_prod_sim, k))
    expected = brute_force_hits(labels, y_pred, embedding, dot_prod_sim, k)
    np.testing.assert_array_equal(got, expected)
    assert 0 < expected.mean() < 1  # the data set exercises both outcomes


def test_losses_match_numpy_on_random_data():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 16, 9)).astype(np.float32)
    np.testing.assert_allclose(to_numpy(L.squared_distance(a, b)), ((a - b) ** 2).sum(1), rtol=1e-5)
    np.testing.assert_allclose(to_numpy(L.mean_distance(a, b)), np.sqrt(((a - b) ** 2).sum(1)), rtol=1e-5)
    np.testing.assert_allclose(to_numpy(L.inv_correlation(a, b)), 1 - (a * b).sum(1), rtol=1e-5, atol=1e-5)
    embedding = rng.normal(size=(4, 9)).astype(np.float32)
    expected = [sum(max(0.0, 0.3 - t @ p + e @ p) for e in embedding) - 0.3 for t, p in zip(embedding[[0, 1, 2, 3] * 4], b)]
    np.testing.assert_allclose(to_numpy(L.DeviseRankingLoss(embedding, 0.3).call(embedding[[0, 1, 2, 3] * 4], b)),
                               expected, rtol=1e-4, atol=1e-5)


def test_half_precision_predictions_give_the_same_accuracy():
    rng = np.random.default_rng(3)
    embedding = rng.normal(size=(6, 4)).astype(np.float32)
    labels = rng.integers(0, 6, size=30)
    y_pred = embedding[labels] + rng.normal(scale=0.8, size=(30, 4))
    full = to_numpy(L.nearest_embedding_accuracy(embedding[labels], y_pred.astype(np.float32), embedding))
    half = to_numpy(L.nearest_embedding_accuracy(embedding[labels], y_pred.astype(np.float16), embedding))
    expected = brute_force_hits(labels, y_pred.astype(np.float16).astype(np.float32), embedding, False, 1)
    np.testing.assert_array_equal(half, expected)
    assert full.dtype == half.dtype == np.float32


# ---------------------------------------------------------------------------
# Metric objects
# ---------------------------------------------------------------------------


def test_metric_objects_average_and_are_named_as_the_original():
    m = L.nn_accuracy(EYE3, dot_prod_sim=True)
    m.update_state(ONEHOT[:2], SCORES[:2])
    m.update_state(ONEHOT[2:], SCORES[2:])
    assert m.name == "max_sim_acc" and float(m.result()) == pytest.approx(0.5)
    assert L.nn_accuracy(EYE3).name == "nn_accuracy"
    assert L.nn_accuracy(EYE3, k=5).name == "nn_accuracy5"  # the original's names (TensorBoard tags, monitors)
    top2 = L.top_k_acc(2)
    top2.update_state(ONEHOT, SCORES)
    assert top2.name == "acc2" and float(top2.result()) == pytest.approx(1.0)


def test_metrics_and_loss_round_trip_through_config():
    for obj in (L.nn_accuracy(EYE3, dot_prod_sim=True, k=2), L.top_k_acc(3), L.devise_ranking_loss(EYE3, 0.2)):
        config = json.loads(json.dumps(keras.saving.serialize_keras_object(obj)))
        clone = keras.saving.deserialize_keras_object(config)
        assert type(clone) is type(obj) and clone.get_config() == obj.get_config()


def test_compiled_model_with_metrics_saves_and_loads(tmp_path):
    """The metric configs hold no class embeddings: the loaded model evaluates once compiled with them again."""
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(3)(inputs))
    model.compile("sgd", loss=L.inv_correlation, metrics=[L.nn_accuracy(EYE3, True), L.top_k_acc(2)])
    expected = model.evaluate(SCORES, ONEHOT, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    with pytest.raises(Exception, match="compile the model again"):
        loaded.evaluate(SCORES, ONEHOT, verbose=0)
    loaded.compile("sgd", loss=L.inv_correlation, metrics=[L.nn_accuracy(EYE3, True), L.top_k_acc(2)])
    np.testing.assert_allclose(loaded.evaluate(SCORES, ONEHOT, verbose=0), expected)


@pytest.mark.parametrize("bad", [np.zeros((0, 3)), np.zeros(3), np.full((2, 2), np.nan)])
def test_bad_embeddings_are_rejected(bad):
    with pytest.raises(ValueError, match="embedding"):
        L.nn_accuracy(bad)


@pytest.mark.parametrize("k", [0, -1, 1.5, True])
def test_bad_k_is_rejected(k):
    with pytest.raises(ValueError, match="k must be a positive integer"):
        L.top_k_acc(k)


def test_losses_and_decayed_sgd_on_jax_backend(tmp_path):
    """Hand-computed values with KERAS_BACKEND=jax (keras.ops only, no TensorFlow calls).

    Also the inverse-time decay of `InverseTimeDecaySGD` (models/schedules.py): w = 0, gradient 1,
    lr 0.1, decay 0.5, no momentum -> steps of 0.1 / (1 + 0.5 t), t = 0, 1, 2.
    """
    code = (
        "import numpy as np, keras\n"
        "from models import losses as L\n"
        "from models.schedules import InverseTimeDecaySGD\n"
        "e = np.eye(3, dtype='float32'); t = e[[0, 1, 2, 0]]\n"
        "p = np.array([[.9, .1, 0], [.5, .5, 0], [.1, .8, .2], [.2, .3, .1]], 'float32')\n"
        "c = lambda x: [round(float(v), 5) for v in np.ravel(keras.ops.convert_to_numpy(x))]\n"
        "print(keras.backend.backend(), c(L.nearest_embedding_accuracy(t, p, e, True, 1)),"
        " c(L.top_k_accuracy(t, p, 2)), c(L.devise_ranking_loss(e)(t, p)), c(L.inv_correlation(t, p)))\n"
        "w = keras.Variable(0.0); opt = InverseTimeDecaySGD(0.1, decay=0.5)\n"
        "steps = []\n"
        "for _ in range(3):\n"
        "    before = float(w.numpy()); opt.apply([keras.ops.ones(())], [w]); steps.append(round(before - float(w.numpy()), 5))\n"
        "print(steps, c(opt.learning_rate))\n"
    )
    script = tmp_path / "jax_losses_check.py"
    script.write_text(code)
    result = run_script(str(script), env={"KERAS_BACKEND": "jax"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().split("\n")
    assert lines[-2] == "jax [1.0, 1.0, 0.0, 0.0] [1.0, 1.0, 1.0, 1.0] [0.25] [0.1, 0.5, 0.8, 0.8]"
    assert lines[-1] == "[0.1, 0.06667, 0.05] [0.1]"
