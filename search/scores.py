"""Quality of rankings of a database for queries that are not part of it (the index benchmark).

`mean_ahp_at_k`: hierarchical precision HP@k = sum of the class similarities of the top k results over the
best possible such sum in the database, and its area AHP@K = trapezoid(HP@1..K, dx = 1/K), the definition
of `metrics` (convention 5) without removing a query from its ranking (the queries are not in the
database). The ideal sums come from the class counts of the whole database, as `metrics` computes them
from a full ranking.
"""

import numpy as np


def ideal_cumulative(similarity, class_counts, k):
    """(C, k) best cumulated similarity of the first 1..k results for a query of each class."""
    similarity = np.asarray(similarity, dtype=np.float64)
    class_counts = np.asarray(class_counts, dtype=np.int64)
    ideal = np.empty((len(similarity), k))
    for c, row in enumerate(similarity):
        order = np.argsort(-row, kind="stable")
        values = np.repeat(row[order], np.minimum(class_counts[order], k))[:k]
        if len(values) < k:
            raise ValueError("the database holds {} images, fewer than k = {}".format(int(class_counts.sum()), k))
        ideal[c] = np.cumsum(values)
    return ideal


def mean_ahp_at_k(query_classes, ranked_classes, similarity, class_counts, k):
    """Mean AHP@k over queries.

    query_classes - (Q,) class index of each query; ranked_classes - (Q, >= k) class index of each ranked
    result; similarity - (C, C) class similarities; class_counts - (C,) images per class in the database.
    """
    query_classes = np.asarray(query_classes, dtype=np.intp)
    ranked_classes = np.asarray(ranked_classes, dtype=np.intp)[:, :k]
    if ranked_classes.shape[1] < k:
        raise ValueError("rankings of {} results are shorter than k = {}".format(ranked_classes.shape[1], k))
    similarity = np.asarray(similarity, dtype=np.float64)
    ideal = ideal_cumulative(similarity, class_counts, k)
    cumulated = np.cumsum(similarity[query_classes[:, None], ranked_classes], axis=1)
    precision = cumulated / ideal[query_classes]
    area = (precision.sum(axis=1) - (precision[:, 0] + precision[:, -1]) / 2.0) / k
    return float(np.mean(area))


def overlap_at_k(reference, other, k):
    """Mean fraction of the top k of `reference` rankings that the `other` rankings also have in their top k."""
    reference, other = np.asarray(reference)[:, :k], np.asarray(other)[:, :k]
    return float(np.mean([len(np.intersect1d(a, b)) / k for a, b in zip(reference, other)]))
