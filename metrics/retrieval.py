"""All queries against all images, from features: `RetrievalEvaluator` and `retrieval_metrics`.

The metrics and the original release's conventions are described in the package docstring (`metrics`).

Ranking from features (``evaluate_retrieval.py``): squared Euclidean distances ``|a|^2 + |b|^2 - 2 a.b`` (the
original's numexpr expression, bit for bit, in the features' dtype), or ``-a.b`` after L2 normalization. The
original ranked with ``np.argsort`` (quicksort, unstable), so images at exactly equal distances came in no
defined order (float32 distances of 10,000 images tie exactly a few times per query); **we break ties by
image index** (a stable sort), which makes results reproducible.

How it is fast (``RetrievalEvaluator``): the class similarity tables are computed once and looked up by
label; the ideal curve once per class; queries are processed class by class in chunks of bounded memory
(distances of big blocks of queries in one matrix product, ranking and scoring in threads); rows are
sorted as uint64 keys (distance bits, image index), a stable argsort at the speed of numpy's SIMD sort;
only the top ``kmax + 1`` are partitioned out when neither the full AHP nor AP is wanted; AP comes from
the positions of the query class's images, found by binary search in the sorted keys, or, with AHP@K,
in the sorted float32 distances alone (half the bytes to sort; then only the images up to the
``kmax + 1``-th distance are ranked as keys); the full AHP sums ``cumsum(s) / ideal`` as two dot products
per query. P@k, AHP@K and AP follow the original's operations (equal to the last bit or so); the full AHP is
summed in another order (differences ~1e-15).
"""

import os
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .ranking import _buffer, _rank_queries
from .scoring import (DEFAULT_KS, PREC_TYPES, _ideal_cumulative, _ideal_curves, _hierarchical_scores, _mean,
                      _SimilarityRows, _type_names, check_ahp, check_ks, check_prec_types, metric_names)

# Bytes of working memory per (query, database image) pair of a chunk: sort keys, ranked image indices,
# cumulated similarities (8 each), a share of the distance block and temporaries.
_BYTES_PER_PAIR = 40
_DEFAULT_MEMORY_MB = 512


class RetrievalEvaluator:
    """Scores image retrieval on a labelled database in which every image is a query.

    The class similarities and class sizes are computed once; `evaluate` can then score several
    feature sets of the same images (as evaluate_retrieval.py does with several --feat).

    hierarchy - a `ClassHierarchy` containing every label.
    labels - the class id (a hierarchy node) of every image, in feature-row order.
    prec_types - similarity measures to score, names from `SIMILARITIES`.
    """

    def __init__(self, hierarchy, labels, prec_types=PREC_TYPES):
        labels = [lbl.item() if isinstance(lbl, np.generic) else lbl for lbl in labels]
        if len(labels) < 2:
            raise ValueError("retrieval needs at least 2 images, got {}".format(len(labels)))
        self.prec_types = check_prec_types(prec_types)
        self.class_ids = list(OrderedDict.fromkeys(labels))
        class_index = {c: i for i, c in enumerate(self.class_ids)}
        self.image_classes = np.array([class_index[lbl] for lbl in labels], dtype=np.intp)
        self.class_sizes = np.bincount(self.image_classes, minlength=len(self.class_ids))
        by_class = np.argsort(self.image_classes, kind="stable")
        self.class_members = np.split(by_class, np.cumsum(self.class_sizes)[:-1])
        self.similarity_rows = _SimilarityRows(hierarchy, self.class_ids, self.prec_types)

    @property
    def num_images(self):
        return len(self.image_classes)

    def _check_features(self, features):
        features = np.asarray(features)
        if features.ndim != 2:
            raise ValueError("features must be a 2-D array (images x dimensions), got shape {}".format(features.shape))
        if len(features) != self.num_images:
            raise ValueError("{} feature vectors for {} labelled images".format(len(features), self.num_images))
        if not np.issubdtype(features.dtype, np.floating):
            features = features.astype(np.float64)
        elif features.dtype not in (np.float32, np.float64):
            features = features.astype(np.float32)
        bad = ~np.isfinite(features).all(axis=1)
        if bad.any():
            raise ValueError("feature vector {} contains NaN or inf".format(int(np.flatnonzero(bad)[0])))
        return features

    def _query_blocks(self, block_rows, segment_rows):
        """Blocks of queries (all classes in turn) with their class segments.

        Yields (queries, segments): `queries` up to block_rows image indices whose distances are computed
        in one matrix product (big products run several times faster than small ones), `segments` a list
        of (class index, slice into queries) of at most segment_rows queries of one class each.
        """
        order = np.concatenate(self.class_members)
        classes = self.image_classes[order]
        for start in range(0, len(order), block_rows):
            queries = order[start:start + block_rows]
            block_classes = classes[start:start + block_rows]
            bounds = np.flatnonzero(np.diff(block_classes)) + 1
            segments = []
            for lo, hi in zip(np.concatenate(([0], bounds)), np.concatenate((bounds, [len(queries)]))):
                for s in range(lo, hi, segment_rows):
                    segments.append((int(block_classes[lo]), slice(s, min(s + segment_rows, hi))))
            yield queries, segments

    def evaluate(self, features, ks=DEFAULT_KS, compute_ahp=True, compute_ap=True, norm=False, chunk_size=None,
                 memory_mb=_DEFAULT_MEMORY_MB, n_jobs=None, progress=False, return_per_query=False, desc=None):
        """Mean retrieval metrics of all images as queries against all images.

        features - (N, D) array, row i the feature vector of image i.
        ks - cut-off points of P@k (each at most N - 1).
        compute_ahp - True: AHP over the whole ranking; int K: AHP@K over the first K positions; False: none.
        compute_ap - also compute "AP".
        norm - L2-normalize the features and rank by dot product instead of squared Euclidean distance.
        chunk_size - queries ranked and scored at once per thread (default: as many as fit into `memory_mb`).
        memory_mb - approximate bound of the working memory, besides the features and the similarities.
        n_jobs - threads ranking and scoring chunks in parallel (default: the CPU count, at most 4).
        progress - show a tqdm progress bar over the queries.
        return_per_query - also return {metric: (N,) array of per-query values}.

        Returns an ordered dict {metric name: mean over all queries} (and the per-query dict if asked).
        """
        ks, ahp = check_ks(ks), check_ahp(compute_ahp)
        features = self._check_features(features)
        n = self.num_images
        kmax = max(ks + ([ahp] if ahp and ahp is not True else []))
        if kmax > n - 1:
            raise ValueError("cut-off point {} exceeds the {} images a query can retrieve".format(kmax, n - 1))
        distances = _DistanceBlocks(features, norm)
        n_jobs = max(1, min(_available_cpus(), 4) if n_jobs is None else int(n_jobs))
        budget = memory_mb * 2 ** 20
        if chunk_size is None:  # half of the budget for the ranking and scoring, shared by the threads
            chunk_size = max(1, int(budget / 2 / n_jobs // (_BYTES_PER_PAIR * n)))
        # A quarter for the distances of a block (two buffers), at least one chunk per thread.
        block_rows = max(int(chunk_size) * n_jobs, min(4096, int(budget / 4 // (2 * features.itemsize * n))))
        names = metric_names(ks, ahp, compute_ap, self.prec_types)
        type_names = _type_names(ks, ahp, self.prec_types)
        per_query = {name: np.empty(n) for name in names}
        head = n - 1 if ahp is True else kmax

        def score_segment(c, similarity, queries, segment_distances):
            ranked, query_pos, member_ranks = _rank_queries(segment_distances, queries, self.class_members[c],
                                                            head, compute_ap)
            image_classes = self.image_classes
            for t in self.prec_types:
                ideal = _IdealCurve(_ideal_cumulative(similarity[t], self.class_sizes))
                scores = _ranking_scores(similarity[t][image_classes], ranked, query_pos, ideal, ks, ahp, kmax,
                                         type_names[t])
                for name, values in scores.items():
                    per_query[name][queries] = values
            if compute_ap:
                per_query["AP"][queries] = _ap_from_member_ranks(member_ranks, query_pos, self.class_members[c],
                                                                 queries)
            return len(queries)

        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=n, desc=desc, unit="query", leave=False)
        with ThreadPoolExecutor(max_workers=n_jobs) as pool:
            for block_queries, segments in self._query_blocks(block_rows, int(chunk_size)):
                block_distances = distances(block_queries)
                jobs = [pool.submit(score_segment, c, self.similarity_rows(c), block_queries[rows],
                                    block_distances[rows]) for c, rows in segments]
                for job in jobs:
                    done = job.result()
                    if bar is not None:
                        bar.update(done)
        if bar is not None:
            bar.close()
        means = OrderedDict((name, _mean(per_query[name])) for name in names)
        return (means, per_query) if return_per_query else means


def _available_cpus():
    """CPUs this process may run on (respects taskset / cgroup affinity where the OS tells)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


class _DistanceBlocks:
    """Distances of blocks of queries to all images, as the original computed them (features' dtype).

    The original evaluated `A + B - 2 * C` (A, B squared norms, C dot products) with numexpr in the
    features' dtype: (A + B) - (2 * C), one rounding per operation. We compute 2 * C as (2 a) . b in the
    matrix product (scaling by 2 is exact outside the subnormal range) and the rest with numpy, bit for
    bit the same, into reused
    buffers. With L2 normalization the distance is -a.b, computed as 0 - a.b so that it is never -0.0
    (|a|^2 + |b|^2 - 2 a.b is -0.0 for no input either): signed zeros would not tie in the sort keys.
    """

    def __init__(self, features, norm):
        if norm:
            norms = np.linalg.norm(features, axis=-1, keepdims=True)
            if (norms == 0).any():
                raise ValueError("feature vector {} is zero and cannot be L2-normalized".format(
                    int(np.flatnonzero(norms[:, 0] == 0)[0])))
            features = features / norms
            self.sq_norms = None
        else:
            # |a|^2 + |b|^2 - 2 a.b is finite when 4 max |a|^2 is: then no distance overflows.
            with np.errstate(over="ignore", invalid="ignore"):
                self.sq_norms = np.sum(features ** 2, axis=-1)
                if not np.isfinite(self.sq_norms.max() * features.dtype.type(4)):
                    raise ValueError("the feature values are too large: their distances overflow {}".format(
                        features.dtype))
        self.features = features
        self._buffers = None

    def __call__(self, queries):
        m = len(queries)
        if self._buffers is None or len(self._buffers[0]) < m:
            shape = (m, len(self.features))
            self._buffers = (np.empty(shape, self.features.dtype), np.empty(shape, self.features.dtype))
        products, distances = (b[:m] for b in self._buffers)
        query_features = self.features[queries]
        if self.sq_norms is None:
            np.dot(query_features, self.features.T, out=products)
            return np.subtract(0, products, out=distances)
        query_features *= query_features.dtype.type(2)
        np.dot(query_features, self.features.T, out=products)
        np.add(self.sq_norms[queries, None], self.sq_norms[None, :], out=distances)
        distances -= products
        return distances


class _IdealCurve:
    """The ideal cumulative curve of a class and what the scoring needs of it after removing a query."""

    def __init__(self, best_cum):
        self.best = best_cum                       # used before the query's position
        self.shifted = best_cum[1:] - 1.0          # used from the query's position on (quirk 2)
        with np.errstate(divide="ignore"):
            self.inv_best = 1.0 / self.best
            self.inv_shifted = 1.0 / self.shifted

    def curves(self, query_pos, width):
        """(B, width) ideal curves of queries at `query_pos`, as `_ideal_curves`."""
        return _ideal_curves(self.best, query_pos, width)


def _ranking_scores(image_similarity, ranked, query_pos, ideal, ks, ahp, kmax, names):
    """P@k and AHP of rankings without the query (B, W) for one similarity type (names: `_type_names`)."""
    out = {}
    head = min(kmax, ranked.shape[1])
    scored = ranked if ahp is True else ranked[:, :head]
    cum = np.take(image_similarity, scored, out=_buffer("cum", scored.shape, np.float64), mode="clip")
    np.cumsum(cum, axis=1, out=cum)
    with np.errstate(divide="ignore", invalid="ignore"):
        # The first kmax positions exactly as the original: cumulated sums divided by the ideal curve.
        _hierarchical_scores(cum[:, :head], ideal.curves(query_pos, head), ks, ahp if ahp is not True else False,
                             ranked.shape[1], names, out)
        if ahp is True:
            # Area under the whole curve: trapezoid(y, dx=1/W) = (sum(y) - (y[0] + y[-1]) / 2) / W, with the
            # sum of cum / ideal as two dot products per row (before and after the query's position).
            width = ranked.shape[1]
            area = np.empty(len(ranked))
            for r in range(len(ranked)):
                p = min(int(query_pos[r]), width)
                row = cum[r]
                total = np.dot(row[:p], ideal.inv_best[:p]) + np.dot(row[p:], ideal.inv_shifted[p:width])
                first = row[0] / (ideal.best[0] if p > 0 else ideal.shifted[0])
                last = row[-1] / (ideal.best[width - 1] if p > width - 1 else ideal.shifted[width - 1])
                area[r] = (total - (first + last) / 2.0) / width
            out[names[1]] = area
    return out


def _ap_from_member_ranks(member_ranks, query_pos, members, queries):
    """Average precision from the positions of the query class's images in the rankings with the query.

    Equals scikit-learn's average_precision_score on the ranking without the query (quirk 6).
    """
    not_self = members[None, :] != queries[:, None]
    ranks = member_ranks[not_self].reshape(len(queries), len(members) - 1)
    if ranks.shape[1] == 0:
        return np.zeros(len(queries))
    ranks = np.sort(ranks - (ranks > query_pos[:, None]), axis=1)  # positions without the query, ascending
    hits = np.arange(1, ranks.shape[1] + 1)
    return np.mean(hits / (ranks + 1.0), axis=1)


def retrieval_metrics(features, labels, hierarchy, ks=DEFAULT_KS, clip_ahp=None, norm=False, compute_ap=True,
                      prec_types=PREC_TYPES, chunk_size=None, n_jobs=None, progress=False, return_per_query=False):
    """Mean retrieval metrics of every image as a query against all images (see `RetrievalEvaluator`).

    clip_ahp - None/0: "AHP (T)" over the whole ranking; K: "AHP@K (T)" over its first K positions
               (the original script's --clip_ahp).
    """
    evaluator = RetrievalEvaluator(hierarchy, labels, prec_types)
    return evaluator.evaluate(features, ks=ks, compute_ahp=int(clip_ahp) if clip_ahp else True,
                              compute_ap=compute_ap, norm=norm, chunk_size=chunk_size, n_jobs=n_jobs,
                              progress=progress, return_per_query=return_per_query)
