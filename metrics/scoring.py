"""Metric names, argument checks and the HP/AHP/AP kernels shared by both retrieval entry points.

`metrics.retrieval` (rankings from features) and `metrics.ranked_lists` (explicit rankings) score with these
functions, following the conventions of the original release listed in the package docstring (`metrics`).
"""

import numbers
from collections import OrderedDict

import numpy as np

PREC_TYPES = ("WUP", "LCS_HEIGHT")

# Class similarity measures, by the name used in the metric names "P@k (NAME)":
# a function (hierarchy, list of class ids) -> square float64 matrix of similarities.
SIMILARITIES = {
    "WUP": lambda hierarchy, ids: hierarchy.wup_matrix(ids),
    # The original computed `1.0 - height / max_height`; lcs_height_matrix gives height / max_height.
    "LCS_HEIGHT": lambda hierarchy, ids: 1.0 - hierarchy.lcs_height_matrix(ids),
}

# The k of P@k that the original script always reports.
DEFAULT_KS = (1, 10, 50, 100)


# ---------------------------------------------------------------------------
# Names and argument checks
# ---------------------------------------------------------------------------


def check_prec_types(prec_types):
    """Tuple of similarity names, in the order of `PREC_TYPES`; ValueError on unknown names."""
    if isinstance(prec_types, str):
        prec_types = [prec_types]
    prec_types = list(prec_types)
    unknown = [t for t in prec_types if t not in SIMILARITIES]
    if unknown:
        raise ValueError("unknown metric type {!r}: choose from {}".format(unknown[0], ", ".join(SIMILARITIES)))
    if not prec_types:
        raise ValueError("no metric type given: choose from {}".format(", ".join(SIMILARITIES)))
    return tuple(t for t in SIMILARITIES if t in prec_types)


def check_ks(ks):
    """List of cut-off points k (an int is one k); ValueError unless all are positive integers."""
    if isinstance(ks, numbers.Integral) and not isinstance(ks, bool):
        ks = [ks]
    ks = list(ks)
    if not ks:
        raise ValueError("ks is empty: give at least one cut-off point k")
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
            raise ValueError("cut-off point k={!r} is not a positive integer".format(k))
    return [int(k) for k in ks]


def check_ahp(compute_ahp):
    """`False`/`None`/0: no AHP; `True`: AHP over the whole ranking; a positive int K: AHP@K."""
    if compute_ahp is None or compute_ahp is False:
        return False
    if compute_ahp is True:
        return True
    if not isinstance(compute_ahp, numbers.Integral) or compute_ahp < 0:
        raise ValueError("compute_ahp={!r} must be a bool or a non-negative integer".format(compute_ahp))
    return int(compute_ahp) if compute_ahp else False


def ahp_name(compute_ahp, prec_type):
    """'AHP (T)' for the whole ranking, 'AHP@K (T)' for the first K positions."""
    return "AHP{} ({})".format("" if compute_ahp is True else "@{}".format(compute_ahp), prec_type)


def metric_names(ks=DEFAULT_KS, compute_ahp=False, compute_ap=False, prec_types=PREC_TYPES):
    """Metric names in the original's order: P@k for every k and type, then AHP per type, then AP."""
    ks, ahp, prec_types = check_ks(ks), check_ahp(compute_ahp), check_prec_types(prec_types)
    names = ["P@{} ({})".format(k, t) for k in ks for t in prec_types]
    if ahp:
        names += [ahp_name(ahp, t) for t in prec_types]
    if compute_ap:
        names.append("AP")
    return list(OrderedDict.fromkeys(names))


# ---------------------------------------------------------------------------
# Scoring kernels shared by both entry points (one query class per call)
# ---------------------------------------------------------------------------


def _ideal_curves(best_cum, query_pos, width):
    """The ideal cumulative curve of each query after removing it from its own ranking (quirk 2).

    best_cum - cumulated similarities of the ideal ranking including the query, 1-D.
    query_pos - (B,) position of each query in its ranking; a value >= width means "not removed".
    Returns (B, width): best_cum[j] before the query's position, best_cum[j+1] - 1.0 from it on.
    """
    if len(best_cum) < width + 1:  # only reached at rows whose query was not removed
        best_cum = np.concatenate((best_cum, np.full(width + 1 - len(best_cum), np.nan)))
    before = np.arange(width) < np.asarray(query_pos)[:, None]
    return np.where(before, best_cum[:width], best_cum[1:width + 1] - 1.0)


def _hierarchical_scores(cum, ideal, ks, ahp, ranking_length, names, out):
    """P@k and AHP from cumulated ranked similarities (B, W) (query removed) and ideal curves (B, W).

    Writes (B,) arrays into `out` under `names` = (the P@k names in the order of ks, the AHP name).
    `ranking_length` is the length of the whole ranking without the query (the n of AHP's dx = 1/n).
    """
    precision_names, area_name = names
    with np.errstate(divide="ignore", invalid="ignore"):  # a zero ideal gives NaN, as in the original
        precision_at = cum[:, np.asarray(ks) - 1] / ideal[:, np.asarray(ks) - 1]
        for i, name in enumerate(precision_names):
            out[name] = precision_at[:, i]
        if ahp is True:
            out[area_name] = np.trapezoid(cum / ideal, dx=1.0 / ranking_length, axis=1)
        elif ahp:
            out[area_name] = np.trapezoid(cum[:, :ahp] / ideal[:, :ahp], dx=1.0 / ahp, axis=1)


def _type_names(ks, ahp, prec_types):
    """{type: (P@k names in the order of ks, AHP name or None)}."""
    return {t: (["P@{} ({})".format(k, t) for k in ks], ahp_name(ahp, t) if ahp else None) for t in prec_types}


def _average_precision(relevant):
    """Average precision of each row of a (B, n) boolean matrix of relevance in ranked order (no ties).

    The mean, over the relevant positions r (1-based), of (number of relevant items up to r) / r;
    0.0 for rows without relevant items (scikit-learn's value, quirk 6).
    """
    rows, cols = np.nonzero(relevant)
    num_relevant = np.bincount(rows, minlength=len(relevant))
    first_of_row = np.concatenate(([0], np.cumsum(num_relevant)[:-1]))
    hits_so_far = np.arange(1, len(rows) + 1) - first_of_row[rows]
    precision_sum = np.bincount(rows, weights=hits_so_far / (cols + 1.0), minlength=len(relevant))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(num_relevant > 0, precision_sum / np.maximum(num_relevant, 1), 0.0)


def _ideal_cumulative(similarity_row, class_counts):
    """Cumulated similarities of the best ranking of a database with `class_counts` images per class."""
    order = np.argsort(-similarity_row, kind="stable")
    return np.cumsum(np.repeat(similarity_row[order], class_counts[order]))


def _mean(values):
    """Sum in query order divided by the count, exactly as the original's `sum(values) / len(values)`.

    (cumsum adds from left to right like Python's sum() before 3.12, unlike numpy's pairwise sum.)
    """
    return float(np.cumsum(values, dtype=np.float64)[-1]) / len(values)


class _SimilarityRows:
    """Rows of the class similarity matrices, computed in blocks of classes on demand.

    All rows at once for up to `block` classes; for bigger label sets (iNaturalist: 8,142) the rows are
    computed `block` classes at a time and only a few blocks are kept, bounding memory.
    """

    def __init__(self, hierarchy, class_ids, prec_types, block=2048, max_blocks=4):
        self.hierarchy, self.class_ids, self.prec_types = hierarchy, list(class_ids), prec_types
        self.block, self.max_blocks = block, max_blocks
        self._blocks = OrderedDict()
        if len(self.class_ids) <= block:
            self._get_block(0)

    def _get_block(self, b):
        if b not in self._blocks:
            rows = self.class_ids[b * self.block:(b + 1) * self.block]
            if len(self.class_ids) <= self.block:
                block = {t: SIMILARITIES[t](self.hierarchy, self.class_ids) for t in self.prec_types}
            else:
                block = {t: self._rectangular(t, rows) for t in self.prec_types}
            if len(self._blocks) >= self.max_blocks:
                self._blocks.popitem(last=False)
            self._blocks[b] = block
        return self._blocks[b]

    def _rectangular(self, prec_type, rows):
        if prec_type == "WUP":
            return self.hierarchy.wup_matrix(rows, self.class_ids)
        return 1.0 - self.hierarchy.lcs_height_matrix(rows, self.class_ids)

    def __call__(self, c):
        """{type: similarity of class index c to every class} (float64 rows)."""
        block = self._get_block(c // self.block)
        return {t: m[c % self.block] for t, m in block.items()}
