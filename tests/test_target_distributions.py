"""Soft labels (Bertinetto et al. 2020) and label smoothing (the original's learn_classifier.py) by hand."""

import math

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from class_hierarchy import HierarchyError  # noqa: E402
from models.target_distributions import smoothed_onehot_matrix, soft_label_matrix  # noqa: E402
from test_hierarchical_losses import CLASSES, FOUR_LEAVES, PROBS, make_hierarchy  # noqa: E402


def test_soft_labels_by_hand_on_four_leaves():
    beta = 4.0
    # LCA heights: 0 to itself, 1 to the sibling, 2 to the other two; divided by the maximum 2.
    unnormalized = np.array([1.0, math.exp(-beta * 0.5), math.exp(-beta), math.exp(-beta)])
    expected_a1 = unnormalized / unnormalized.sum()
    matrix = soft_label_matrix(make_hierarchy(FOUR_LEAVES), CLASSES, beta)
    np.testing.assert_allclose(matrix[0], expected_a1, rtol=1e-6)
    np.testing.assert_allclose(matrix[3], expected_a1[[2, 3, 1, 0]], rtol=1e-6)  # b2: sibling b1, then a1, a2
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(soft_label_matrix(make_hierarchy(FOUR_LEAVES), CLASSES, 0.0), 0.25)


def test_soft_labels_normalize_by_the_largest_class_distance():
    # A deep branch without classes makes the hierarchy 4 high; the classes' largest LCA height is 2 (A).
    edges = [("r", "A"), ("A", "a1"), ("A", "a2"), ("A", "B"), ("B", "b1"), ("B", "b2"),
             ("r", "Z"), ("Z", "Y"), ("Y", "X"), ("X", "W")]
    hierarchy = make_hierarchy(edges)
    assert hierarchy.max_height == 4
    beta = 3.0
    classes = ["a1", "a2", "b1", "b2"]
    # a1: itself 0, a2 -> LCA A (height 2), b1, b2 -> LCA A (height 2); b1: b2 -> B (height 1), a* -> A.
    distance = {("a1", "a2"): 2, ("a1", "b1"): 2, ("a1", "b2"): 2, ("a2", "b1"): 2, ("a2", "b2"): 2, ("b1", "b2"): 1}
    expected = np.zeros((4, 4))
    for t, true in enumerate(classes):
        for c, other in enumerate(classes):
            d = 0 if true == other else distance.get((true, other), distance.get((other, true)))
            expected[t, c] = math.exp(-beta * d / 2)
        expected[t] /= expected[t].sum()
    np.testing.assert_allclose(soft_label_matrix(hierarchy, classes, beta), expected, rtol=1e-6)


def test_soft_labels_cross_entropy_by_hand():
    matrix = soft_label_matrix(make_hierarchy(FOUR_LEAVES), CLASSES, 4.0)
    targets = matrix[[0, 2]]
    expected = [-sum(targets[i, c] * math.log(PROBS[i, c]) for c in range(4)) for i in range(2)]
    values = keras.losses.categorical_crossentropy(targets, PROBS[:2])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(values), expected, rtol=1e-5)


def test_soft_labels_on_a_dag_and_bad_input():
    dag = make_hierarchy(FOUR_LEAVES + [("B", "a1")])
    assert soft_label_matrix(dag, CLASSES, 1.0).shape == (4, 4)  # soft labels need no tree
    with pytest.raises(HierarchyError, match="class 'zz' is not in the hierarchy"):
        soft_label_matrix(make_hierarchy(FOUR_LEAVES), ["a1", "zz"], 1.0)
    with pytest.raises(ValueError, match="--soft_labels_beta"):
        soft_label_matrix(make_hierarchy(FOUR_LEAVES), CLASSES, -1)


def test_label_smoothing_as_the_original():
    eps, n = 0.1, 5
    matrix = smoothed_onehot_matrix(n, eps)
    for t in range(n):
        onehot_row = np.eye(n)[t]
        # learn_classifier.py's transform_inputs: Y * (1 - eps) + (1 - Y) * (eps / (n - 1))
        np.testing.assert_allclose(matrix[t], onehot_row * (1 - eps) + (1 - onehot_row) * (eps / (n - 1)), rtol=1e-6)
    np.testing.assert_array_equal(smoothed_onehot_matrix(3, 0.0), np.eye(3))
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match="--label_smoothing"):
            smoothed_onehot_matrix(n, bad)


def test_registry_entries():
    from models.methods import METHODS, MethodContext

    context = MethodContext(embedding=np.eye(4, dtype=np.float32), onehot=True,
                            hierarchy=make_hierarchy(FOUR_LEAVES), class_ids=tuple(CLASSES))
    soft = METHODS["soft_labels"]
    assert soft.needs_hierarchy and soft.onehot_only and soft.head == "prob"
    np.testing.assert_allclose(soft.targets(context, **soft.hyperparameters({"soft_labels_beta": 4.0})),
                               soft_label_matrix(make_hierarchy(FOUR_LEAVES), CLASSES, 4.0))
    with pytest.raises(ValueError, match="--loss soft_labels needs the class hierarchy: pass --hierarchy"):
        soft.targets(MethodContext(embedding=np.eye(4, dtype=np.float32), onehot=True), soft_labels_beta=4.0)
    xent = METHODS["crossentropy"]
    np.testing.assert_array_equal(xent.targets(context, **xent.hyperparameters()), np.eye(4))
    np.testing.assert_allclose(xent.targets(context, **xent.hyperparameters({"label_smoothing": 0.3})),
                               smoothed_onehot_matrix(4, 0.3))
