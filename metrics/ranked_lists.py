"""Explicit rankings: the original release's `ClassHierarchy.hierarchical_precision` API.

The metrics and the original's conventions (quirks included) are described in the package docstring (`metrics`).
"""

import numbers
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np

from .scoring import (PREC_TYPES, _average_precision, _hierarchical_scores, _ideal_cumulative, _ideal_curves,
                      _mean, _SimilarityRows, _type_names, check_ahp, check_ks, metric_names)


class _ImageClasses:
    """Maps image ids to class indices, for numpy arrays of ids when the ids are small integers."""

    def __init__(self, labels, class_index):
        if isinstance(labels, Mapping):
            ids, lbls = list(labels.keys()), list(labels.values())
        else:
            lbls = list(labels)
            ids = range(len(lbls))
        classes = [class_index[lbl.item() if isinstance(lbl, np.generic) else lbl] for lbl in lbls]
        dense = all(isinstance(i, numbers.Integral) and not isinstance(i, bool) and i >= 0 for i in ids) and (
            max(ids, default=0) < 4 * len(ids) + 1024)
        if dense:
            self.table = np.full(max(ids, default=-1) + 1, -1, dtype=np.intp)
            self.table[np.asarray(list(ids), dtype=np.intp)] = classes
            self.lookup = None
        else:
            self.table = None
            self.lookup = dict(zip(ids, classes))

    def ids_array(self, ids):
        """The ids as a numpy array usable with `classes`."""
        if self.table is not None:
            arr = np.asarray(ids)
            if arr.dtype.kind in "iu" or len(arr) == 0:
                return arr.astype(np.intp)
        return np.array(list(ids), dtype=object)

    def classes(self, ids, qid):
        """Class index of each id in the array `ids`; ValueError for ids without a label."""
        if self.table is not None and ids.dtype != object:
            valid = (ids >= 0) & (ids < len(self.table))
            cls = np.where(valid, self.table[np.where(valid, ids, 0)], -1)
            if (cls < 0).any():
                raise ValueError("image {!r} in the ranking of query {!r} has no label".format(
                    ids[np.flatnonzero(cls < 0)[0]].item(), qid))
            return cls
        if self.lookup is None:
            self.lookup = {i: c for i, c in enumerate(self.table.tolist()) if c >= 0}
        try:
            return np.array([self.lookup[i] for i in ids.tolist()], dtype=np.intp)
        except (KeyError, TypeError) as e:
            raise ValueError("image {!r} in the ranking of query {!r} has no label".format(
                e.args[0] if e.args else None, qid)) from None


def hierarchical_precision(hierarchy, retrieved, labels, ks=[1, 10, 50, 100], compute_ahp=False, compute_ap=False,
                           ignore_qids=True, all_ids=None):
    """Average hierarchical precision of ranked retrieval lists, as `ClassHierarchy.hierarchical_precision`.

    hierarchy - the `ClassHierarchy` of the labels.
    retrieved - dict mapping query image ids to ranked lists of retrieved image ids, or an iterable (e.g. a
                generator) of (query id, ranked list) pairs.
    labels - dict mapping image ids to class labels, or a list indexed by image id.
    ks - cut-off points k of "P@k (WUP)" and "P@k (LCS_HEIGHT)".
    compute_ahp - True: also "AHP (WUP)" and "AHP (LCS_HEIGHT)", the area under the HP@k curve of the whole
                  ranking; a positive int K: "AHP@K (WUP)" and "AHP@K (LCS_HEIGHT)" over its first K positions.
    compute_ap - also "AP", classical average precision (all other classes equally wrong).
    ignore_qids - remove the query from its own ranking (see the module's conventions 2 and 3).
    all_ids - optional list of all database ids: ids missing from a ranking are appended in this order.

    Returns (means, per_query): {metric: mean over queries} and {metric: {query id: value}}.
    """
    ks, ahp = check_ks(ks), check_ahp(compute_ahp)
    kmax = max(ks + ([ahp] if ahp and ahp is not True else []))
    label_values = labels.values() if isinstance(labels, Mapping) else labels
    class_ids = list(OrderedDict.fromkeys(lbl.item() if isinstance(lbl, np.generic) else lbl for lbl in label_values))
    class_index = {c: i for i, c in enumerate(class_ids)}
    images = _ImageClasses(labels, class_index)
    similarity_rows = _SimilarityRows(hierarchy, class_ids, PREC_TYPES)
    all_ids_array = images.ids_array(all_ids) if all_ids is not None and len(all_ids) else None

    names = metric_names(ks, ahp, compute_ap, PREC_TYPES)
    type_names = _type_names(ks, ahp, PREC_TYPES)
    query_ids, query_values = [], []
    ideal_counts = {}  # class histogram of the first ranking of each label (quirk 1)
    ideal_cache = OrderedDict()
    items = retrieved.items() if isinstance(retrieved, Mapping) else retrieved
    for qid, ret in items:
        ret = images.ids_array(ret)
        if all_ids_array is not None and len(ret) < len(all_ids_array):
            ret = np.concatenate((ret, all_ids_array[~_isin(all_ids_array, ret)]))
        try:
            c = class_index[labels[qid]]
        except (KeyError, IndexError, TypeError):
            raise ValueError("query {!r} has no label".format(qid)) from None
        classes = images.classes(ret, qid)
        if c not in ideal_counts:
            ideal_counts[c] = np.bincount(classes, minlength=len(class_ids))
        if c not in ideal_cache:
            rows = similarity_rows(c)
            ideal_cache[c] = {t: _ideal_cumulative(rows[t], ideal_counts[c]) for t in PREC_TYPES}
            if len(ideal_cache) > max(16, 2 ** 24 // max(len(classes), 1)):  # at most about 256 MB of curves
                ideal_cache.popitem(last=False)
        is_query = ret == qid
        if ignore_qids and is_query.any():
            query_pos = int(np.argmax(is_query))
            ranked = np.delete(classes, query_pos)
        else:
            query_pos, ranked = len(classes), classes
        width = len(ranked)
        hp_width = width if ahp is True else min(kmax, width)
        if kmax > width:
            raise ValueError("cut-off point {} exceeds the {} images ranked for query {!r}".format(kmax, width, qid))
        if len(ideal_counts[c]) and ideal_counts[c].sum() < (hp_width + 1 if query_pos < hp_width else hp_width):
            raise ValueError("the ranking of query {!r} is longer than the first ranking of its class, which gives "
                             "the ideal ranking (pass all_ids)".format(qid))
        rows = similarity_rows(c)
        out = {}
        for t in PREC_TYPES:
            cum = np.cumsum(rows[t][ranked[None, :hp_width]], axis=1)
            curves = _ideal_curves(ideal_cache[c][t], [query_pos], hp_width)
            _hierarchical_scores(cum, curves, ks, ahp, width, type_names[t], out)
        if compute_ap:
            keep = ~is_query if ignore_qids else np.ones(len(classes), dtype=bool)
            out["AP"] = _average_precision((classes[keep] == c)[None, :])
        query_ids.append(qid)
        query_values.append([out[name][0] for name in names])
    if not query_ids:
        raise ValueError("no queries given")
    columns = np.array(query_values, dtype=np.float64).T
    per_query = {name: dict(zip(query_ids, column.tolist())) for name, column in zip(names, columns)}
    means = OrderedDict((name, _mean(column)) for name, column in zip(names, columns))
    return means, per_query


def _isin(values, test):
    if values.dtype != object and test.dtype != object:
        return np.isin(values, test)
    test = set(test.tolist())
    return np.array([v in test for v in values.tolist()], dtype=bool)
