"""Soft target distributions for a softmax classifier trained with categorical cross-entropy.

Each function returns a (classes, classes) float32 matrix whose row c is the target distribution of
a sample of class c, so the targets of a batch are `matrix[labels]`, made like class embeddings.

Soft labels (Bertinetto et al., "Making Better Mistakes", CVPR 2020; github.com/fiveai/making-better-mistakes,
`better_mistakes/model/labels.py`, `make_all_soft_labels`):

    y_soft(c | true class t) = exp(-beta * d(c, t)) / sum_k exp(-beta * d(k, t)),
    d(c, t) = LCA height of c and t / max over all pairs of the dataset's classes of the LCA height,

the LCA height being the height of the lowest common ancestor in edges ("ilsvrc" distance of
their `load_distances`; `ClassHierarchy.lcs_height_matrix` up to its constant normalization,
which the division by the maximum cancels). beta = 0 gives the uniform distribution, a large beta
the one-hot vector. The loss is the cross-entropy -sum_c y_soft(c) log p(c) of the paper (eq. 5).
Their training script minimizes `torch.nn.KLDivLoss()` with its default 'mean' reduction instead,
which is (cross-entropy - entropy of y_soft) / number of classes: the same minimizer and the
gradient of the cross-entropy divided by the number of classes (they train with Adam, which is
insensitive to that scale; we report the paper's cross-entropy).

Label smoothing (the original release's `learn_classifier.py --label_smoothing EPS`, its
`transform_inputs`): the true class gets 1 - EPS, every other class EPS / (classes - 1).
(Keras' own `label_smoothing` would give the true class 1 - EPS + EPS / classes instead.)
"""

import numpy as np

from class_hierarchy import HierarchyError


def check_non_negative(value, flag):
    """`value` as a float; ValueError naming `flag` unless it is finite and >= 0 (HXE's alpha, soft labels' beta)."""
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ValueError("{} must be a non-negative number, got {!r}".format(flag, value))
    return value


def check_soft_labels_beta(beta):
    return check_non_negative(beta, "--soft_labels_beta")


def soft_label_matrix(hierarchy, class_ids, beta):
    """Row t: the soft-label distribution of true class `class_ids[t]` (see the module docstring).

    `hierarchy`: a `ClassHierarchy` (a tree or a DAG); `class_ids`: the dataset's classes as
    hierarchy ids, in class-index order. HierarchyError names a class missing from the hierarchy.
    """
    beta = check_soft_labels_beta(beta)
    class_ids = list(class_ids)
    if len(class_ids) < 2:
        raise HierarchyError("soft labels need at least 2 classes, got {}".format(len(class_ids)))
    distance = hierarchy.lcs_height_matrix(class_ids)  # raises naming the first unknown class
    max_distance = distance.max()
    if max_distance <= 0:
        raise HierarchyError("all classes have LCA height 0 in the hierarchy; soft labels need distinct classes")
    logits = -beta * (distance / max_distance)
    # The row's minimum distance is 0 (the true class itself), so no exponent underflows to an all-zero row.
    weights = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)


def check_label_smoothing(eps):
    eps = float(eps)
    if not 0 <= eps < 1:
        raise ValueError("--label_smoothing must be in [0, 1), got {!r}".format(eps))
    return eps


def smoothed_onehot_matrix(num_classes, eps):
    """Row t: 1 - eps for class t, eps / (num_classes - 1) elsewhere (the original's label smoothing)."""
    eps = check_label_smoothing(eps)
    num_classes = int(num_classes)
    if num_classes < 2:
        raise ValueError("label smoothing needs at least 2 classes, got {}".format(num_classes))
    matrix = np.full((num_classes, num_classes), eps / (num_classes - 1), dtype=np.float64)
    np.fill_diagonal(matrix, 1.0 - eps)
    return matrix.astype(np.float32)
