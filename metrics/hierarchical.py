"""Hierarchy-aware classification metrics from LCA heights.

The metrics of Bertinetto et al., "Making Better Mistakes" (CVPR 2020, code fiveai/making-better-mistakes) as
Karthik et al. (ICLR 2021, code sgk98/CRM-Better-Mistakes, ``src/compute_results.py: get_metrics``) compute
them, with the cost of predicting class j for an image of class i being the *LCA height* h(i, j): the height,
in edges, of the lowest common subsumer of i and j as ``ClassHierarchy`` computes it (``lcs``: the common
hypernym of greatest depth; a node's height is its longest downward path to a leaf), not normalized.
h(i, i) = 0 and h(i, j) >= 1 for i != j (a leaf has height 0 and cannot subsume another class).

- ``Mistake Severity``: the mean of h(true class, predicted class) over the images whose top-1 prediction is
  wrong; NaN when there is no mistake (0/0; their code returns NaN too, ``np.mean([])``).
- ``Hierarchical Distance@k``: the mean over images of the mean of h(true class, c) over the top-k ranked
  classes c (the correct class, if among them, counts 0); only for k <= the number of classes.

Rankings: classes by descending score, equal scores in ascending class index (a stable sort), as
``classification_metrics`` ranks them. Differences from the papers' code, checked by reading it:

1. Their LCA heights are precomputed "ilsvrc" distances (``data/*_ilsvrc_distances.pkl.xz``). Read against their
   ``*_isa.txt`` trees, these equal our heights for every pair of the 1,010 iNaturalist-19 classes (all leaves
   at one depth), but on tiered-ImageNet and ImageNet (leaves at depths 4-16) they are (maximum leaf depth -
   depth of the LCA) for 99.7% / 99.8% of the pairs and equal the longest-path height for only 73% / 71%.
   Where all classes are leaves at the same depth both definitions agree; elsewhere our numbers follow
   ``ClassHierarchy`` (as this project's issue asks), so compare with their published figures only on such trees.
2. The mistake test: theirs is h != 0, ours predicted != true; the same, since h(i, j) >= 1 for i != j.
3. Ties: Karthik et al.'s code ranks with ``argmax`` / ``heapq.nlargest`` (lower index first on equal scores, as we do);
   making-better-mistakes ranks with ``torch.topk`` (order of ties unspecified) and averages the means of
   logged batches (equal to our mean over images when all batches are full).
"""

import numbers
from collections import OrderedDict

import numpy as np

# The k of "Hierarchical Distance@k" reported by default (those up to the number of classes), as both papers.
HIERARCHICAL_DISTANCE_KS = (1, 5, 20)

# The names classification_metrics adds when given a hierarchy (k = 5 and 20 only with that many classes).
HIERARCHICAL_CLASSIFICATION_METRICS = ("Mistake Severity",) + tuple(
    "Hierarchical Distance@{}".format(k) for k in HIERARCHICAL_DISTANCE_KS)

def distance_name(k):
    """The metric name of the hierarchical distance of the top k classes."""
    return "Hierarchical Distance@{}".format(k)


def lca_heights(hierarchy, class_ids, other_ids=None):
    """Height in edges of the LCS of every pair of classes, as float64 (len(class_ids), len(other_ids)).

    hierarchy - a `ClassHierarchy`; class_ids, other_ids - hierarchy ids (other_ids default: class_ids).
    Equals `hierarchy.heights[hierarchy.lcs(a, b)]` for every pair (the unnormalized `lcs_height`).
    """
    class_ids = list(class_ids)
    other_ids = class_ids if other_ids is None else list(other_ids)
    if hierarchy.max_height == 0:  # one node, one class: lcs_height_matrix would divide by zero
        hierarchy.lcs_index_matrix(class_ids, other_ids)  # raises for ids not in the hierarchy
        return np.zeros((len(class_ids), len(other_ids)))
    # lcs_height_matrix gives height / max_height; both are small integers, so rounding restores the height.
    return np.rint(hierarchy.lcs_height_matrix(class_ids, other_ids) * hierarchy.max_height)


def _check_class_indices(values, num_classes, what):
    values = np.asarray(values)
    if not np.issubdtype(values.dtype, np.integer):
        raise ValueError("{} must be class indices (integers), got dtype {}".format(what, values.dtype))
    bad = (values < 0) | (values >= num_classes)
    if bad.any():
        raise ValueError("{} {} is not a class index in [0, {})".format(what, values[bad].flat[0], num_classes))
    return values


def check_distance_ks(ks, num_classes):
    """List of positive integers k, each at most `num_classes`; ValueError naming the offending k."""
    if isinstance(ks, numbers.Integral) and not isinstance(ks, bool):
        ks = [ks]
    ks = list(ks)
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
            raise ValueError("hierarchical distance k={!r} is not a positive integer".format(k))
        if k > num_classes:
            raise ValueError("hierarchical distance k={} exceeds the {} classes".format(k, num_classes))
    return [int(k) for k in ks]


def mistake_severity(true_labels, predictions, heights):
    """Mean LCA height between the true and the predicted class over the wrong predictions (NaN if none).

    true_labels, predictions - (N,) class indices; heights - (C, C) LCA heights of the classes (`lca_heights`).
    """
    heights = np.asarray(heights, dtype=np.float64)
    y_true = _check_class_indices(true_labels, len(heights), "true label")
    y_pred = _check_class_indices(predictions, len(heights), "prediction")
    wrong = y_true != y_pred
    if not wrong.any():
        return float("nan")
    return float(np.mean(heights[y_true[wrong], y_pred[wrong]]))


def hierarchical_distance(true_labels, ranking, heights, k):
    """Mean over images of the mean LCA height between the true class and each of the top-k ranked classes.

    ranking - (N, K) class indices, best first (K >= k), e.g. `rank_classes(scores, k)`.
    """
    heights = np.asarray(heights, dtype=np.float64)
    ranking = _check_class_indices(ranking, len(heights), "ranked class")
    y_true = _check_class_indices(true_labels, len(heights), "true label")
    if ranking.ndim != 2 or len(ranking) != len(y_true):
        raise ValueError("ranking of shape {} does not match {} labels".format(ranking.shape, len(y_true)))
    (k,) = check_distance_ks([k], len(heights))
    if k > ranking.shape[1]:
        raise ValueError("hierarchical distance k={} exceeds the {} ranked classes".format(k, ranking.shape[1]))
    return float(np.mean(heights[y_true[:, None], ranking[:, :k]]))


def rank_classes(scores, top=None):
    """Class indices by descending score, equal scores in ascending class index; the first `top` of them."""
    scores = np.asarray(scores)
    ranking = np.argsort(-scores, axis=1, kind="stable")
    return ranking if top is None else ranking[:, :top]


def hierarchical_mistake_metrics(true_labels, ranking, heights, ks=None):
    """{"Mistake Severity": ..., "Hierarchical Distance@k": ...} from rankings of the classes.

    ranking - (N, K) class indices, best first: the top-1 prediction is column 0.
    ks - the k of the hierarchical distance; default `HIERARCHICAL_DISTANCE_KS` up to min(C, K) (explicit ks
         larger than the number of classes or the ranking raise ValueError).
    """
    ranking = np.asarray(ranking)
    if ranking.ndim != 2 or ranking.shape[1] == 0:
        raise ValueError("ranking must be a 2-D array of class indices, got shape {}".format(ranking.shape))
    if ks is None:
        ks = [k for k in HIERARCHICAL_DISTANCE_KS if k <= min(len(heights), ranking.shape[1])]
    perf = OrderedDict()
    perf["Mistake Severity"] = mistake_severity(true_labels, ranking[:, 0], heights)
    for k in check_distance_ks(ks, len(heights)):
        perf[distance_name(k)] = hierarchical_distance(true_labels, ranking, heights, k)
    return perf
