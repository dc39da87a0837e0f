"""The losses of the original release's baseline trainers against hand computations and a plain
transcription of the original's formulas: center loss (learn_center_loss.py), the label-embedding
loss of Sun et al. (learn_labelembedding.py) and DeViSE's hinge rank loss (learn_devise.py)."""

import math
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from keras import ops

from conftest import REPO_ROOT
from models import center_loss as CL
from models import label_embedding as LE
from models.methods import METHODS, MethodContext


def to_numpy(x):
    return np.asarray(ops.convert_to_numpy(x))


# --- center loss -------------------------------------------------------------------------------------

X = np.array([[1.0, 2.0], [0.0, -1.0]], dtype=np.float32)
CENTERS = np.array([[1.0, 0.0], [0.0, 0.0], [2.0, 2.0]], dtype=np.float32)
LABELS = np.array([2, 0])
ONEHOT = np.eye(3, dtype=np.float32)[LABELS]


def test_center_distances_by_hand():
    # |x - c|^2 / 2: x1=(1,2) to (1,0): 4/2, to (0,0): 5/2, to (2,2): 1/2; x2=(0,-1): 2/2, 1/2, 13/2
    layer = CL.CenterDistances(3, CENTERS)
    np.testing.assert_allclose(to_numpy(layer(X)), [[2.0, 2.5, 0.5], [1.0, 0.5, 6.5]], atol=1e-6)
    np.testing.assert_allclose(to_numpy(CL.center_loss(ONEHOT, layer(X))), [0.5, 1.0], atol=1e-6)


def _center_model(fixed):
    inputs = keras.Input((2,))
    layer = CL.CenterDistances(3, CENTERS if fixed else None)
    model = keras.Model(inputs, layer(inputs))
    if not fixed:
        layer.centers.assign(CENTERS)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.5), loss=CL.center_loss)
    return model, layer


def test_learned_centers_move_by_plain_gradient_descent_as_the_original():
    """The original learned the centers as an Embedding layer with the network's SGD: the gradient of
    mean_i |x_i - c_yi|^2 / 2 for c_j is sum over samples of class j of (c_j - x_i) / B."""
    model, layer = _center_model(fixed=False)
    loss = model.train_on_batch(X, ONEHOT)
    assert loss == pytest.approx(0.75, abs=1e-6)  # mean of 0.5 and 1.0
    # c2 = (2,2) - 0.5 * ((2,2) - (1,2)) / 2 = (1.75, 2); c0 = (1,0) - 0.5 * ((1,0) - (0,-1)) / 2 = (0.75, -0.25)
    np.testing.assert_allclose(to_numpy(layer.centers), [[0.75, -0.25], [0.0, 0.0], [1.75, 2.0]], atol=1e-6)


def test_fixed_centers_stay_fixed_even_when_the_layer_is_unfrozen():
    model, layer = _center_model(fixed=True)
    layer.trainable = True  # what unfreezing after --finetune_init does to every layer
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.5), loss=CL.center_loss)
    model.train_on_batch(X, ONEHOT)
    np.testing.assert_array_equal(to_numpy(layer.centers), CENTERS)
    assert not model.trainable_weights


def test_learned_centers_start_as_keras2_embedding_uniform():
    layer = CL.CenterDistances(50)
    layer.build((None, 8))
    centers = to_numpy(layer.centers)
    assert centers.shape == (50, 8) and np.abs(centers).max() <= 0.05 and centers.std() > 0.01


def test_center_loss_bad_values():
    with pytest.raises(ValueError, match="2 fixed centers for 3 classes"):
        CL.CenterDistances(3, CENTERS[:2])
    with pytest.raises(ValueError, match="have 2 dimensions, the features 4"):
        CL.CenterDistances(3, CENTERS)(np.zeros((1, 4), dtype=np.float32))
    with pytest.raises(ValueError, match="--center_loss_weight must be a non-negative number, got -1"):
        CL.check_center_loss_weight(-1)


# --- label embedding (Sun et al.) --------------------------------------------------------------------


def reference_label_embedding_loss(out1, out2, E, labels, tau=2.0, alpha=0.9, beta=0.5):
    """The original's labelembed_loss written out per sample with math (E[y] looked up directly)."""
    def softmax(v):
        m = max(v)
        e = [math.exp(a - m) for a in v]
        return [a / sum(e) for a in e]

    def log_softmax(v):
        return [math.log(p) for p in softmax(v)]

    def clip(p):
        return min(max(p, 1e-7), 1 - 1e-7)

    correct = [int(np.argmax(o2) == y) for o2, y in zip(out2, labels)]
    scale = len(labels) / (sum(correct) + 1e-8)
    losses = []
    for o1, o2, y, m in zip(out1, out2, labels, correct):
        soft_target = softmax(E[y])
        l_o1_y = -math.log(clip(softmax(o1)[y]))
        l_o1_emb = -sum(t * l for t, l in zip(soft_target, log_softmax(o1)))
        l_o2_y = -math.log(clip(softmax(o2)[y]))
        tempered = softmax([v / tau for v in o2])
        l_emb_o2 = -sum(t * l for t, l in zip(tempered, log_softmax(E[y]))) * m * scale
        l_re = max(0.0, softmax(o2)[y] - alpha)
        losses.append(beta * l_o1_y + (1 - beta) * l_o1_emb + l_o2_y + l_emb_o2 + l_re)
    return np.array(losses)


def _label_embedding_loss(out1, out2, E, labels, tau=2.0, alpha=0.9, beta=0.5):
    layer = LE.LabelEmbeddingTerms(len(E), tau)
    layer.build([(None, len(E)), (None, len(E))])
    layer.label_embeddings.assign(np.asarray(E, dtype=np.float32))
    terms = layer([np.asarray(out1, dtype=np.float32), np.asarray(out2, dtype=np.float32)])
    onehot = np.eye(len(E), dtype=np.float32)[labels]
    return to_numpy(LE.label_embedding_loss(onehot, terms, alpha, beta))


def test_label_embedding_loss_by_hand():
    """Two classes, E = identity, all logits 0, labels (0, 1); tau 2, alpha 0.9, beta 0.5.

    Both samples: -log p(o1)_y = -log p(o2)_y = ln 2; the soft target softmax(E_y) against log 1/2:
    ln 2; L_re = max(0, 1/2 - 0.9) = 0. o2's argmax is class 0 (first of the tie): only sample 0 is
    correct, so its L_emb_o2 is scaled by 2 / 1: -(1/2 log_softmax(1,0)_0 + 1/2 log_softmax(1,0)_1)
    = ln(1 + e) - 1/2. Loss: 0.5 ln2 + 0.5 ln2 + ln2 (+ 2 (ln(1 + e) - 1/2) for sample 0).
    """
    loss = _label_embedding_loss([[0, 0], [0, 0]], [[0, 0], [0, 0]], np.eye(2), [0, 1])
    expected = [2 * math.log(2) + 2 * (math.log(1 + math.e) - 0.5), 2 * math.log(2)]
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
    assert expected[0] == pytest.approx(3.0128, abs=1e-3)


def test_label_embedding_confidence_bound_by_hand():
    # o2 = (3, 0), class 0: p = 1 / (1 + e^-3) = 0.952574 > alpha 0.9: L_re = 0.052574
    full = _label_embedding_loss([[0, 0]], [[3, 0]], np.eye(2), [0])
    no_bound = _label_embedding_loss([[0, 0]], [[3, 0]], np.eye(2), [0], alpha=1.0)
    assert full[0] - no_bound[0] == pytest.approx(1 / (1 + math.exp(-3)) - 0.9, abs=1e-5)


def test_label_embedding_loss_matches_the_original_formula():
    rng = np.random.default_rng(0)
    for num_classes, batch, tau, alpha, beta in ((3, 5, 2.0, 0.9, 0.5), (6, 8, 0.7, 0.3, 0.2)):
        out1 = rng.normal(0, 2, (batch, num_classes))
        out2 = rng.normal(0, 2, (batch, num_classes))
        E = rng.normal(0, 1.5, (num_classes, num_classes))
        labels = rng.integers(0, num_classes, batch)
        labels[:2] = np.argmax(out2[:2], axis=1)  # some correct ones for the masked term
        np.testing.assert_allclose(_label_embedding_loss(out1, out2, E, labels, tau, alpha, beta),
                                   reference_label_embedding_loss(out1, out2, E, labels, tau, alpha, beta),
                                   rtol=2e-5, atol=2e-5)
    # nobody correct: the masked term vanishes (the original's 1e-8 keeps the scale finite)
    out2 = np.array([[5.0, 0, 0], [5.0, 0, 0]])
    np.testing.assert_allclose(_label_embedding_loss(np.zeros((2, 3)), out2, np.eye(3), [1, 2]),
                               reference_label_embedding_loss(np.zeros((2, 3)), out2, np.eye(3), [1, 2]), rtol=1e-5)


def _label_embedding_model():
    inputs = keras.Input((3,))
    features = keras.layers.Dense(4, name="embedding")(inputs)
    model = keras.Model(inputs, LE.label_embedding_outputs(features, 3, tau=2.0))
    out2 = model.get_layer("out2")
    out2.kernel.assign(np.random.default_rng(3).normal(0, 0.1, size=(4, 3)).astype(np.float32))
    out2.bias.assign(np.array([3.0, 0.0, 0.0], dtype=np.float32))  # o2 predicts class 0, not saturated
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss=[None, None, LE.LabelEmbeddingLoss()])
    return model


def _one_step(model):
    x = np.random.default_rng(1).normal(size=(2, 3)).astype(np.float32)
    onehot = np.eye(3, dtype=np.float32)[[0, 1]]
    model.train_on_batch(x, (np.array([0, 1]), onehot, onehot))


def test_label_embedding_learns_only_from_correct_second_classifier_outputs():
    """E learns only through L_emb_o2 (the soft targets of o1 are stop-gradient) on the samples o2
    classifies correctly: after one step the row of class 0 (o2 right) moved, rows 1 (o2 wrong) and
    2 (no sample) did not."""
    model = _label_embedding_model()
    _one_step(model)
    E = to_numpy(model.get_layer("labelembed_loss").label_embeddings)
    assert not np.allclose(E[0], [1, 0, 0]) and np.array_equal(E[1:], np.eye(3)[1:])


def test_features_get_no_gradient_from_the_second_classifier():
    """With o1's kernel zero, the only path from the loss to the features is o2's, which the original
    stops (stop_gradient before out2): the features' layer stays as it was; with o1's kernel nonzero
    it moves (so the check can fail)."""
    for o1_scale, moves in ((0.0, False), (1.0, True)):
        model = _label_embedding_model()
        kernel = np.random.default_rng(2).normal(size=(4, 3)).astype(np.float32) * o1_scale
        model.get_layer("prob_logits").kernel.assign(kernel)
        before = to_numpy(model.get_layer("embedding").kernel).copy()
        _one_step(model)
        after = to_numpy(model.get_layer("embedding").kernel)
        assert (not np.array_equal(before, after)) == moves, o1_scale


def test_label_embedding_bad_values():
    with pytest.raises(ValueError, match="--tau must be a positive number, got 0.0"):
        LE.check_label_embedding_parameters(0, 0.9, 0.5)
    with pytest.raises(ValueError, match="--beta must be a finite number"):
        LE.check_label_embedding_parameters(2, 0.9, float("nan"))


# --- DeViSE ------------------------------------------------------------------------------------------


def test_devise_loss_of_the_method_by_hand():
    """Class embeddings scaled to unit length: (3,4) -> (.6,.8); margin 0.1; x = (2,-1), class 2:
    <e_2, x> = -1; class 0: 0.1 + 1 + 0.4 = 1.5, class 1: 0.1 + 1 + 2 = 3.1; total 4.6. x = (1,1), class 0:
    <e_0, x> = 1.4 beats 1 + 0.1 for both others: 0."""
    context = MethodContext(embedding=np.array([[3.0, 4.0], [1.0, 0.0], [0.0, 2.0]]))
    method = METHODS["devise"]
    targets = method.targets(context, margin=0.1)
    np.testing.assert_allclose(targets, [[0.6, 0.8], [1, 0], [0, 1]], atol=1e-7)
    loss = method.loss(context, margin=0.1)
    y_pred = np.array([[2.0, -1.0], [1.0, 1.0]], dtype=np.float32)
    np.testing.assert_allclose(to_numpy(loss.call(targets[[2, 0]], y_pred)), [4.6, 0.0], atol=1e-5)
    with pytest.raises(ValueError, match="class 1 has an all-zero embedding"):
        method.targets(MethodContext(embedding=np.array([[1.0, 0.0], [0.0, 0.0]])))


# --- every loss under JAX ------------------------------------------------------------------------------

JAX_SCRIPT = r"""
import math, numpy as np
import keras
from keras import ops
from models import center_loss as CL, label_embedding as LE
from models.losses import DeviseRankingLoss
assert keras.backend.backend() == "jax"
X = np.array([[1.0, 2.0], [0.0, -1.0]], dtype=np.float32)
C = np.array([[1.0, 0.0], [0.0, 0.0], [2.0, 2.0]], dtype=np.float32)
onehot = np.eye(3, dtype=np.float32)[[2, 0]]
print(np.allclose(ops.convert_to_numpy(CL.center_loss(onehot, CL.CenterDistances(3, C)(X))), [0.5, 1.0]))
layer = LE.LabelEmbeddingTerms(2, 2.0)
terms = layer([np.zeros((2, 2), np.float32), np.zeros((2, 2), np.float32)])
loss = ops.convert_to_numpy(LE.label_embedding_loss(np.eye(2, dtype=np.float32), terms))
print(np.allclose(loss, [2 * math.log(2) + 2 * (math.log(1 + math.e) - 0.5), 2 * math.log(2)], rtol=1e-5))
E = np.array([[0.6, 0.8], [1, 0], [0, 1]], np.float32)
x = np.array([[2, -1], [1, 1]], np.float32)
print(np.allclose(ops.convert_to_numpy(DeviseRankingLoss(E, 0.1).call(E[[2, 0]], x)), [4.6, 0.0], atol=1e-5))
"""


def test_losses_under_jax():
    pytest.importorskip("jax")
    result = subprocess.run([sys.executable, "-c", JAX_SCRIPT], capture_output=True, text=True, cwd=REPO_ROOT,
                            env=dict(os.environ, KERAS_BACKEND="jax", PYTHONPATH=REPO_ROOT, TF_CPP_MIN_LOG_LEVEL="3"),
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True", "True"], result.stdout + result.stderr
