"""Hierarchical cross-entropy (HXE) against hand computations and an independent slow loop.

The 4-leaf tree of the hand computations:      r
                                             /   \\
                                            A     B
                                           / \\   / \\
                                          a1 a2 b1 b2
"""

import math

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from class_hierarchy import ClassHierarchy, HierarchyError  # noqa: E402
from models.hierarchical_losses import (  # noqa: E402
    HierarchicalCrossEntropy,
    class_tree,
    hxe_loss,
)

FOUR_LEAVES = [("r", "A"), ("r", "B"), ("A", "a1"), ("A", "a2"), ("B", "b1"), ("B", "b2")]
CLASSES = ["a1", "a2", "b1", "b2"]
PROBS = np.array([[0.4, 0.3, 0.2, 0.1], [0.4, 0.3, 0.2, 0.1], [0.1, 0.2, 0.6, 0.1]], dtype=np.float32)


def make_hierarchy(edges):
    parents, children = {}, {}
    for parent, child in edges:
        parents.setdefault(child, []).append(parent)
        children.setdefault(parent, []).append(child)
    return ClassHierarchy(parents, children)


def onehot(labels, num_classes):
    return np.eye(num_classes, dtype=np.float32)[labels]


def loss_values(loss, labels, probs):
    """Per-sample values of a Keras loss object (no batch reduction)."""
    return keras.ops.convert_to_numpy(loss.call(keras.ops.convert_to_tensor(onehot(labels, probs.shape[1])),
                                                keras.ops.convert_to_tensor(probs)))


# ---------------------------------------------------------------------------
# HXE
# ---------------------------------------------------------------------------


def test_hxe_by_hand_on_four_leaves():
    alpha = 0.5
    # Depths: r 0, A and B 1, the leaves 2; Z sums exp(-alpha * depth) over all 7 nodes.
    z = 1 + 2 * math.exp(-0.5) + 4 * math.exp(-1.0)
    # True a1, p = (.4, .3, .2, .1): edge a1->A: -log(.4 / .7), weight e^-1; edge A->r: -log(.7 / 1), weight e^-.5.
    a1 = (math.exp(-1.0) * math.log(0.7 / 0.4) + math.exp(-0.5) * math.log(1.0 / 0.7)) / z
    # True b2, same p: b2->B: -log(.1 / .3); B->r: -log(.3 / 1).
    b2 = (math.exp(-1.0) * math.log(0.3 / 0.1) + math.exp(-0.5) * math.log(1.0 / 0.3)) / z
    # True b1, p = (.1, .2, .6, .1): b1->B: -log(.6 / .7); B->r: -log(.7 / 1).
    b1 = (math.exp(-1.0) * math.log(0.7 / 0.6) + math.exp(-0.5) * math.log(1.0 / 0.7)) / z
    loss = hxe_loss(make_hierarchy(FOUR_LEAVES), CLASSES, alpha)
    np.testing.assert_allclose(loss_values(loss, [0, 3, 2], PROBS), [a1, b2, b1], rtol=1e-5)
    # The Keras call averages over the batch, as their torch.mean.
    batch = loss(onehot([0, 3, 2], 4), PROBS)
    np.testing.assert_allclose(float(keras.ops.convert_to_numpy(batch)), np.mean([a1, b2, b1]), rtol=1e-5)


def test_hxe_alpha_zero_is_cross_entropy_over_number_of_nodes():
    loss = hxe_loss(make_hierarchy(FOUR_LEAVES), CLASSES, 0.0)
    expected = -np.log(PROBS[[0, 1, 2], [1, 2, 3]]) / 7  # 7 nodes, every weight 1/7; the path telescopes
    np.testing.assert_allclose(loss_values(loss, [1, 2, 3], PROBS), expected, rtol=1e-5)


def slow_hxe(hierarchy, class_ids, alpha, label, probs):
    """The definition, walked with the hierarchy's own parent lists (no shared code with the module)."""
    # The tree spanned by the classes: every ancestor of a class.
    ancestors = {}
    for c in class_ids:
        node, path = c, [c]
        while hierarchy.parents.get(node):
            node = hierarchy.parents[node][0]
            path.append(node)
        ancestors[c] = path
    nodes = set(n for path in ancestors.values() for n in path)

    def depth(n):
        return len(ancestors_of(n)) - 1

    def ancestors_of(n):
        out = [n]
        while hierarchy.parents.get(out[-1]):
            out.append(hierarchy.parents[out[-1]][0])
        return out

    def prob_below(n):
        return sum(probs[i] for i, c in enumerate(class_ids) if n in ancestors[c])

    z = sum(math.exp(-alpha * depth(n)) for n in nodes)
    path = ancestors[class_ids[label]]
    total = 0.0
    for lower, upper in zip(path[:-1], path[1:]):
        total += math.exp(-alpha * depth(lower)) / z * -math.log(prob_below(lower) / prob_below(upper))
    return total


UNBALANCED = [
    ("root", "x"), ("root", "y"), ("root", "leaf0"),  # leaf0 right below the root
    ("x", "leaf1"), ("x", "leaf2"), ("x", "leaf3"),  # three siblings
    ("y", "z"), ("z", "leaf4"),  # z has a single child: its edge contributes log 1 = 0
    ("y", "w"), ("w", "leaf5"), ("w", "v"), ("v", "leaf6"), ("v", "leaf7"),
    ("x", "unused"), ("unused", "unused_leaf"),  # not above any class: left out of the tree
    ("other_root", "other_leaf"),  # another root, with no class below it
]


@pytest.mark.parametrize("alpha", [0.0, 0.1, 0.7, 2.0])
def test_hxe_matches_slow_loop_on_unbalanced_tree(alpha):
    hierarchy = make_hierarchy(UNBALANCED)
    class_ids = ["leaf3", "leaf0", "leaf7", "leaf4", "leaf1", "leaf5", "leaf6", "leaf2"]  # not in tree order
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(16, len(class_ids))) * 2
    probs = (np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)).astype(np.float32)
    labels = np.concatenate([np.arange(8), rng.integers(0, 8, 8)])
    expected = [slow_hxe(hierarchy, class_ids, alpha, l, p.astype(np.float64)) for l, p in zip(labels, probs)]
    loss = hxe_loss(hierarchy, class_ids, alpha)
    np.testing.assert_allclose(loss_values(loss, labels, probs), expected, rtol=2e-5, atol=1e-7)
    # Integer labels (B,) and (B, 1) give the same values as one-hot rows.
    for shape in [(-1,), (-1, 1)]:
        values = keras.ops.convert_to_numpy(loss.call(keras.ops.convert_to_tensor(labels.reshape(shape)),
                                                      keras.ops.convert_to_tensor(probs)))
        np.testing.assert_allclose(values, expected, rtol=2e-5, atol=1e-7)


def test_hxe_zero_numerator_counts_zero_and_gradient_is_finite():
    loss = hxe_loss(make_hierarchy(FOUR_LEAVES), CLASSES, 0.5)
    # p(a1) = 0 exactly: the a1->A term is skipped (their `num != 0`), A->r stays.
    probs = np.array([[0.0, 0.5, 0.25, 0.25]], dtype=np.float32)
    z = 1 + 2 * math.exp(-0.5) + 4 * math.exp(-1.0)
    np.testing.assert_allclose(loss_values(loss, [0], probs), [math.exp(-0.5) * math.log(2.0) / z], rtol=1e-5)
    # A softmax model whose output underflows to 0 for the true class trains without NaN.
    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Dense(4, activation="softmax", kernel_initializer="ones",
                                                   bias_initializer=keras.initializers.Constant([-200, 0, 0, 0]))(inputs))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss)
    model.train_on_batch(np.ones((2, 2), np.float32), onehot([0, 0], 4))
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_hxe_serializes_with_its_tree():
    loss = hxe_loss(make_hierarchy(UNBALANCED), ["leaf0", "leaf1", "leaf5", "leaf6"], 0.3)
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(restored, HierarchicalCrossEntropy)
    probs = np.full((2, 4), 0.25, np.float32)
    np.testing.assert_allclose(loss_values(restored, [0, 3], probs), loss_values(loss, [0, 3], probs))


def test_class_tree_structure():
    node_parent, class_nodes = class_tree(make_hierarchy(UNBALANCED), ["leaf6", "leaf0"])
    # root -> {leaf0, y}; y -> w -> v -> leaf6: 6 nodes, the root first.
    assert node_parent[0] == -1 and len(node_parent) == 6
    assert node_parent[class_nodes[1]] == 0
    chain, node = [], class_nodes[0]
    while node >= 0:
        chain.append(int(node))
        node = node_parent[node]
    assert len(chain) == 5 and all(node_parent[n] < n for n in chain[:-1])


@pytest.mark.parametrize("edges, classes, fragment", [
    (FOUR_LEAVES, ["a1", "zz"], "class 'zz' is not in the hierarchy"),
    (FOUR_LEAVES + [("B", "a1")], CLASSES, "node 'a1' (above class 'a1') has 2 parents"),
    (FOUR_LEAVES + [("r2", "c1")], CLASSES + ["c1"], "different roots"),
    (FOUR_LEAVES, ["a1", "A"], "class 'a1' lies below class 'A'"),
    (FOUR_LEAVES, ["a1"], "at least 2 classes"),
])
def test_hxe_bad_hierarchies(edges, classes, fragment):
    with pytest.raises(HierarchyError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        hxe_loss(make_hierarchy(edges), classes, 0.1)


@pytest.mark.parametrize("alpha", [-0.1, float("nan")])
def test_hxe_bad_alpha(alpha):
    with pytest.raises(ValueError, match="--hxe_alpha"):
        hxe_loss(make_hierarchy(FOUR_LEAVES), CLASSES, alpha)


# ---------------------------------------------------------------------------
# The registry entry
# ---------------------------------------------------------------------------


def test_registry_entry_builds_the_loss():
    from models.methods import METHODS, MethodContext

    method = METHODS["hxe"]
    assert method.needs_hierarchy and method.onehot_only and method.head == "prob"
    context = MethodContext(embedding=np.eye(4, dtype=np.float32), onehot=True,
                            hierarchy=make_hierarchy(FOUR_LEAVES), class_ids=tuple(CLASSES))
    loss = method.loss(context, **method.hyperparameters({"hxe_alpha": 0.5}))
    reference = hxe_loss(make_hierarchy(FOUR_LEAVES), CLASSES, 0.5)
    np.testing.assert_allclose(loss_values(loss, [0, 3, 2], PROBS), loss_values(reference, [0, 3, 2], PROBS))
    np.testing.assert_array_equal(method.targets(context), np.eye(4))
    with pytest.raises(ValueError, match="--loss hxe needs the class hierarchy: pass --hierarchy"):
        method.loss(MethodContext(embedding=np.eye(4, dtype=np.float32), onehot=True), hxe_alpha=0.1)
