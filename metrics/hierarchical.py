"""Hierarchy-aware classification metrics and conditional risk minimization, from LCA heights.

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
3. Ties: CRM's code ranks with ``argmax`` / ``heapq.nlargest`` (lower index first on equal scores, as we do);
   making-better-mistakes ranks with ``torch.topk`` (order of ties unspecified) and averages the means of
   logged batches (equal to our mean over images when all batches are full).

CRM (``crm_scores``): Karthik et al. rank the classes by their conditional risk under the softmax
probabilities p, ``risk(j) = sum_i p_i C[i, j]`` with the cost matrix ``C[i, j] = h(class i, class j)`` (their
``get_all_cost_sensitive``: ``C[i][j] = distances[(classes[i], classes[j])]`` with the ilsvrc LCA-height
distances, then ``-1 * np.dot(output, C)``), lower risk first.
"""

import numbers
from collections import OrderedDict

import numpy as np

# The k of "Hierarchical Distance@k" reported by default (those up to the number of classes), as both papers.
HIERARCHICAL_DISTANCE_KS = (1, 5, 20)

# The names classification_metrics adds when given a hierarchy (k = 5 and 20 only with that many classes).
HIERARCHICAL_CLASSIFICATION_METRICS = ("Mistake Severity",) + tuple(
    "Hierarchical Distance@{}".format(k) for k in HIERARCHICAL_DISTANCE_KS)

# How far a row of probabilities may sum from 1 (float16/float32 softmax outputs are far closer).
_PROBABILITY_SUM_TOLERANCE = 1e-2


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


def _check_heights(heights, num_classes):
    heights = np.asarray(heights, dtype=np.float64)
    if heights.ndim != 2 or heights.shape[1] != num_classes or heights.shape[0] != num_classes:
        raise ValueError("LCA heights of shape {} for {} classes: need ({n}, {n})".format(
            heights.shape, num_classes, n=num_classes))
    return heights


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


def crm_scores(probabilities, heights):
    """Conditional risk minimization (Karthik et al., ICLR 2021): -(expected LCA height) of every class.

    probabilities - (N, C) class probabilities (softmax outputs: non-negative, rows summing to 1).
    heights - (C, C) LCA heights of the classes (`lca_heights(hierarchy, class_ids)`), the cost matrix.

    Returns (N, C) float64 scores ``-sum_i p_i heights[i, j]``: higher is better, so the usual ranking (descending
    score, ties to the lower class index: `rank_classes`, `classification_metrics`) ranks by ascending risk.
    Risks are computed in float64 by one matrix product; risks that are equal in exact arithmetic are equal as
    floats when the probabilities that differ from zero are the same for both classes' costs (e.g. one-hot or
    saturated outputs), otherwise rounding may separate them by an ulp.
    """
    p = np.asarray(probabilities)
    if p.ndim != 2:
        raise ValueError("probabilities must be a 2-D array (images x classes), got shape {}".format(p.shape))
    heights = _check_heights(heights, p.shape[1])
    p = p.astype(np.float64)
    bad = ~np.isfinite(p).all(axis=1) | (p < 0).any(axis=1)
    if bad.any():
        raise ValueError("probabilities of image {} are negative or not finite".format(int(np.flatnonzero(bad)[0])))
    sums = p.sum(axis=1)
    off = np.abs(sums - 1.0) > _PROBABILITY_SUM_TOLERANCE
    if off.any():
        i = int(np.flatnonzero(off)[0])
        raise ValueError("probabilities of image {} sum to {:.6g}, not 1: CRM needs softmax outputs".format(i, sums[i]))
    return -(p @ heights)
