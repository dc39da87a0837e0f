"""Triplet loss and the active-triplet fraction against a brute-force enumeration of all triplets in numpy."""

import itertools

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from models.triplet import ActiveTripletFraction, TripletLoss, pairwise_distances  # noqa: E402


def brute_force(embeddings, labels, margin, miner, squared=True, weights=None):
    """(loss, active fraction) by enumerating every (anchor, positive, negative) with loops."""
    x = np.asarray(embeddings, dtype=np.float64)
    n = len(x)
    rows = [i for i in range(n) if weights is None or weights[i] > 0]

    def d(i, j):
        value = float(np.sum((x[i] - x[j]) ** 2))
        return value if squared else np.sqrt(value)

    def hinge(a, p, neg):
        return max(0.0, d(a, p) - d(a, neg) + margin)

    mined = []  # the loss of every mined triplet
    for a in rows:
        positives = [p for p in rows if p != a and labels[p] == labels[a]]
        negatives = [q for q in rows if labels[q] != labels[a]]
        if not positives or not negatives:
            continue
        if miner == "batch_hard":
            p = max(positives, key=lambda j: d(a, j))
            q = min(negatives, key=lambda j: d(a, j))
            mined.append(hinge(a, p, q))
        elif miner == "semi_hard":
            for p in positives:
                farther = [q for q in negatives if d(a, q) > d(a, p)]
                q = min(farther, key=lambda j: d(a, j)) if farther else max(negatives, key=lambda j: d(a, j))
                mined.append(hinge(a, p, q))
        else:
            mined.extend(hinge(a, p, q) for p, q in itertools.product(positives, negatives))
    active = [v for v in mined if v > 0]
    if miner == "all":
        loss = sum(active) / len(active) if active else 0.0
    else:
        loss = sum(mined) / len(mined) if mined else 0.0
    return loss, (len(active) / len(mined) if mined else 0.0)


def keras_values(embeddings, targets, margin, miner, squared=True, weights=None):
    y_true = keras.ops.convert_to_tensor(targets)
    y_pred = keras.ops.convert_to_tensor(np.asarray(embeddings, np.float32))
    loss = TripletLoss(margin, miner, squared)(y_true, y_pred, sample_weight=weights)
    metric = ActiveTripletFraction(margin, miner, squared)
    metric.update_state(y_true, y_pred, sample_weight=weights)
    return float(keras.ops.convert_to_numpy(loss)), float(keras.ops.convert_to_numpy(metric.result()))


def unit_rows(rng, n, dim):
    x = rng.normal(size=(n, dim))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


MINERS = ["batch_hard", "semi_hard", "all"]


@pytest.mark.parametrize("miner", MINERS)
@pytest.mark.parametrize("squared", [True, False])
def test_random_batches_against_brute_force(miner, squared):
    rng = np.random.default_rng(1)
    for trial in range(6):
        # 12 samples of 4 classes; class 3 has a single member in some trials (no anchor-positive pair).
        labels = rng.integers(0, 4, 12)
        if trial % 2:
            labels[labels == 3] = 2
            labels[0] = 3
        x = unit_rows(rng, 12, 5)
        margin = [0.1, 0.5, 1.0][trial % 3]
        expected = brute_force(x, labels, margin, miner, squared)
        assert 0 < expected[1] < 1 or trial  # the first batch has active and inactive triplets
        np.testing.assert_allclose(keras_values(x, labels, margin, miner, squared), expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("miner", MINERS)
def test_ties_exact_distances(miner):
    # Axis vectors and their negatives: squared distances 0, 2 and 4, exact in float32 -- many ties,
    # among them negatives exactly as far as the positive (not "farther" for semi_hard).
    e = np.eye(3)
    x = np.array([e[0], e[0], e[1], -e[0], e[1], e[2], -e[2], e[0]])
    labels = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    for margin in (0.5, 2.0, 4.0):
        expected = brute_force(x, labels, margin, miner)
        np.testing.assert_allclose(keras_values(x, labels, margin, miner), expected, rtol=1e-6, atol=1e-7)
    # All embeddings equal: every mined triplet has loss = margin, all are active.
    same = np.tile(e[0], (6, 1))
    np.testing.assert_allclose(keras_values(same, np.array([0, 0, 1, 1, 2, 2]), 0.3, miner), (0.3, 1.0), rtol=1e-6)


@pytest.mark.parametrize("miner", MINERS)
def test_batches_without_triplets(miner):
    x = unit_rows(np.random.default_rng(2), 4, 3)
    for labels in ([0, 1, 2, 3], [5, 5, 5, 5]):  # singletons only / one class only
        assert keras_values(x, np.array(labels), 0.2, miner) == (0.0, 0.0)


@pytest.mark.parametrize("miner", MINERS)
def test_onehot_targets_weights_and_label_shapes(miner):
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 3, 10)
    x = unit_rows(rng, 10, 4)
    expected = brute_force(x, labels, 0.4, miner)
    onehot = np.eye(3, dtype=np.float32)[labels]
    np.testing.assert_allclose(keras_values(x, onehot, 0.4, miner), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(keras_values(x, labels.reshape(-1, 1), 0.4, miner), expected, rtol=1e-5, atol=1e-6)
    # Rows of weight 0 (replica padding) take no part.
    weights = np.ones(10, np.float32)
    weights[[2, 7]] = 0
    np.testing.assert_allclose(keras_values(x, labels, 0.4, miner, weights=weights),
                               brute_force(x, labels, 0.4, miner, weights=weights), rtol=1e-5, atol=1e-6)


def test_pairwise_distances():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(7, 3)).astype(np.float32)
    x[3] = x[1]
    expected = ((x[:, None, :].astype(np.float64) - x[None, :, :]) ** 2).sum(-1)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(pairwise_distances(x)), expected, atol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(pairwise_distances(x, squared=False)), np.sqrt(expected),
                               atol=1e-3)
    assert np.all(np.diag(keras.ops.convert_to_numpy(pairwise_distances(x))) == 0)


@pytest.mark.parametrize("miner", MINERS)
def test_training_step_and_serialization(miner):
    """A few optimizer steps lower the loss; no NaN with coinciding embeddings or a batch without triplets."""
    rng = np.random.default_rng(5)
    inputs = keras.Input((6,))
    outputs = keras.layers.UnitNormalization()(keras.layers.Dense(4)(inputs))
    model = keras.Model(inputs, outputs)
    loss = TripletLoss(0.5, miner, squared=False)
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss=loss, metrics=[ActiveTripletFraction(0.5, miner)])
    x = rng.normal(size=(16, 6)).astype(np.float32)
    x[1] = x[0]  # two identical inputs of one class: distance 0 (the Euclidean distance's sqrt at 0)
    labels = np.repeat(np.arange(4), 4)
    first = model.train_on_batch(x, labels, return_dict=True)
    for _ in range(30):
        last = model.train_on_batch(x, labels, return_dict=True)
    assert np.isfinite(last["loss"]) and last["loss"] < first["loss"]
    model.train_on_batch(x[:4], np.zeros(4))  # one class: no triplets, zero loss and gradient
    assert all(np.isfinite(w).all() for w in model.get_weights())
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert (restored.margin, restored.miner, restored.squared) == (0.5, miner, False)


@pytest.mark.parametrize("bad", [{"margin": 0}, {"margin": -1}, {"miner": "hardest"}])
def test_bad_arguments(bad):
    kwargs = {"margin": 0.2, "miner": "all", **bad}
    with pytest.raises(ValueError, match="--triplet_margin|--miner"):
        TripletLoss(**kwargs)


def brute_force_recall(x, labels):
    hits = eligible = 0
    for a in range(len(x)):
        others = [j for j in range(len(x)) if j != a]
        if not any(labels[j] == labels[a] for j in others):
            continue
        eligible += 1
        d = {j: float(np.sum((x[a] - x[j]) ** 2)) for j in others}
        nearest = min(d.values())
        hits += any(labels[j] == labels[a] and d[j] == nearest for j in others)
    return hits / eligible if eligible else 0.0


def test_batch_recall_at_one_against_brute_force():
    from models.triplet import BatchRecallAtOne

    rng = np.random.default_rng(6)
    e = np.eye(3)
    batches = [(unit_rows(rng, 12, 3), rng.integers(0, 4, 12)) for _ in range(3)]
    # Exact ties: sample 0's nearest others are 1 (same class) and 3 (another class), both at distance 0.
    batches.append((np.array([e[0], e[0], e[1], e[0], e[2]]), np.array([0, 0, 1, 1, 2])))
    for x, labels in batches:
        metric = BatchRecallAtOne()
        metric.update_state(keras.ops.convert_to_tensor(labels), keras.ops.convert_to_tensor(x.astype(np.float32)))
        np.testing.assert_allclose(float(keras.ops.convert_to_numpy(metric.result())), brute_force_recall(x, labels),
                                   rtol=1e-6)


def test_registry_entry_trains_with_label_targets():
    from models import heads
    from models.methods import METHODS, MethodContext

    method = METHODS["triplet"]
    assert method.targets(MethodContext(embedding=np.eye(3))) is None and method.head == "l2norm"
    context = MethodContext(embedding=np.ones((3, 5), dtype=np.float32))
    hyperparameters = {"triplet_margin": 0.3, "miner": "batch_hard"}
    assert method.network_outputs(context, **method.hyperparameters(hyperparameters)) == 5
    inputs = keras.Input((6,))
    model = keras.Model(inputs, heads.OUTPUT_HEADS[method.head](keras.layers.Dense(5)(inputs)))
    heads.compile_model(model, context, loss="triplet", lr=0.05, loss_kwargs=hyperparameters)
    assert (model.loss.margin, model.loss.miner) == (0.3, "batch_hard")
    rng = np.random.default_rng(7)
    x = rng.normal(size=(12, 6)).astype(np.float32)
    x_batch, y_batch = heads.target_transform("triplet", context, loss_kwargs=hyperparameters)(x, np.arange(12) % 3)
    np.testing.assert_array_equal(y_batch, np.arange(12) % 3)  # the labels themselves
    logs = model.fit(x_batch, y_batch, batch_size=12, epochs=2, verbose=0).history
    assert set(logs) >= {"loss", "active_triplets", "recall_at_1"}
    expected = brute_force(keras.ops.convert_to_numpy(model.predict(x, verbose=0)), y_batch, 0.3, "batch_hard")
    result = model.evaluate(x_batch, y_batch, batch_size=12, verbose=0, return_dict=True)
    np.testing.assert_allclose([result["loss"], result["active_triplets"]], expected, rtol=1e-4, atol=1e-6)
