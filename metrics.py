"""Retrieval and classification metrics of the paper, vectorized, giving the original release's numbers.

Retrieval (every test image is a query against all test images):

- ``P@k (T)``: hierarchical precision at k (Deng, Berg, Fei-Fei 2011), the sum of the class similarities
  between the query and the top k results divided by the best possible such sum,
- ``AHP (T)`` / ``AHP@K (T)``: the area under the HP@k curve over the whole ranking / its first K positions,
- ``AP``: classical average precision, all classes but the query's own being equally wrong,

where the class similarity ``T`` is ``WUP`` (Wu-Palmer) or ``LCS_HEIGHT`` (``1 - height(lcs) / height(root)``).

Conventions of the original ``ClassHierarchy.hierarchical_precision``, kept on purpose (quirks included):

1. The ideal ranking of a query is computed over its *whole* ranking, query included: the similarities
   of all ranked images, sorted in descending order, then cumulated. It is computed once per class label,
   from the first query of that label (for full rankings of the same database every query sees the same
   images, so this does not matter; for rankings of different lengths it does, and we keep it).
2. The query is removed from its own ranking (``ignore_qids``) at its position ``q`` in it, and the ideal
   cumulative curve becomes ``concat(cum[:q], cum[q+1:] - 1.0)``: ``1.0`` is subtracted (the self-similarity
   of a leaf class), not the actual similarity of the query's class to itself, and the entries before ``q``
   are left as they are. The original removes the query only if it lies within the part of the ranking it
   scores (the top ``kmax + 1`` unless the full AHP is wanted); a query further down changes neither the
   scored prefix nor the ideal curve before it, so we remove it wherever it is, with the same numbers.
3. A query absent from its own ranking (possible when rankings are given explicitly and ``all_ids`` is not)
   is not removed and its ideal curve is not adjusted.
4. Images missing from a ranking are appended at its end in the order of ``all_ids`` (when given).
5. ``P@k = sum(s[:k]) / ideal[k-1]``; ``AHP = trapezoid(cumsum(s) / ideal, dx=1/n)`` with ``n`` the length
   of the ranking without the query, i.e. ``mean(cumsum(s)/ideal) - (first + last) / (2n)``, not 1 for a
   perfect ranking but ``1 - 1/n``; ``AHP@K`` uses the first K positions and ``dx = 1/K``.
6. ``AP`` is scikit-learn's ``average_precision_score`` on the ranking without the query (every occurrence of
   it), scores decreasing with the rank, so there are no ties. A query whose class has no other image gets
   ``AP = 0`` (what scikit-learn returns today; versions of 2019 returned NaN).
7. WUP uses the deepest common hypernym (``lcs`` with maximum depth) and depths counted with roots at 1; both
   similarity tables come from ``ClassHierarchy.wup_matrix`` / ``lcs_height_matrix``, which equal the
   per-pair ``wup_similarity`` / ``lcs_height`` of the original exactly.
8. Means are plain sums over the queries in their order divided by their number, as the original did.

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
the positions of the query class's images, found by binary search in the sorted keys; the full AHP sums
``cumsum(s) / ideal`` as two dot products per query. P@k, AHP@K and AP follow the original's operations
(equal to the last bit or so); the full AHP is summed in another order (differences ~1e-15).
"""

import numbers
import os
import threading
from collections import OrderedDict
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

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

# Bytes of working memory per (query, database image) pair of a chunk: sort keys, ranked image indices,
# cumulated similarities (8 each), a share of the distance block and temporaries.
_BYTES_PER_PAIR = 40
_DEFAULT_MEMORY_MB = 512


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


# ---------------------------------------------------------------------------
# Ranking by distance, ties broken by image index
# ---------------------------------------------------------------------------


_workspace = threading.local()


def _buffer(name, shape, dtype):
    """A reusable per-thread array (no page faults for every chunk); contents undefined."""
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    buffers = _workspace.__dict__.setdefault("buffers", {})
    if name not in buffers or buffers[name].size < size:
        buffers[name] = np.empty(size, dtype=np.uint8)
    return buffers[name][:size].view(dtype).reshape(shape)


def _sortable_keys(distances, out=None):
    """uint64 keys whose order is (distance, column index): float32 distance bits high, index low.

    Sorting these with numpy's (SIMD, unstable) sort gives the stable argsort of the distances, about
    10x faster than `argsort(kind='stable')`. -0.0 must have been replaced by +0.0 (they tie as floats).
    """
    bits = distances.view(np.uint32)
    if distances.size and distances.min() < 0:
        # Order-preserving map of IEEE floats to unsigned ints: flip all bits of negatives, the sign bit
        # of the others. For non-negative floats the bits alone already sort right.
        flip = (bits.view(np.int32) >> 31).view(np.uint32)
        flip >>= np.uint32(1)
        flip |= np.uint32(0x80000000)
        flip ^= bits
        bits = flip
    keys = np.empty(distances.shape, dtype=np.uint64) if out is None else out
    if np.little_endian:  # write both 32-bit halves in place: no 64-bit temporaries
        words = keys.view(np.uint32)
        words[:, 1::2] = bits
        words[:, 0::2] = np.arange(distances.shape[1], dtype=np.uint32)
    else:
        keys[...] = bits
        keys <<= np.uint64(32)
        keys |= np.arange(distances.shape[1], dtype=np.uint64)
    return keys


def _key_indices(keys):
    """The column indices held in the low halves of keys, as intp."""
    if np.little_endian and keys.strides[-1] == 8:
        return keys.view(np.uint32)[..., 0::2].astype(np.intp)
    return (keys & np.uint64(0xFFFFFFFF)).astype(np.intp)


def _stable_argsort(distances):
    """argsort(kind='stable') of each row at the speed of the unstable sort (float64 and other dtypes)."""
    ranking = np.argsort(distances, axis=1)
    sorted_distances = np.take_along_axis(distances, ranking, axis=1)
    tied = (np.diff(sorted_distances, axis=1) == 0).any(axis=1)
    if tied.any():  # rows with equal distances: redo them with the stable sort
        ranking[tied] = np.argsort(distances[tied], axis=1, kind="stable")
    return ranking


def _check_distances(distances):
    distances = np.asarray(distances)
    if distances.ndim != 2:
        raise ValueError("distances must be 2-D, got shape {}".format(distances.shape))
    if not np.isfinite(distances).all():
        raise ValueError("non-finite distances between features (are the feature values too large?)")
    if distances.dtype == np.float32:
        distances = distances + np.float32(0.0)  # -0.0 + 0.0 = +0.0: signed zeros tie, as in a float comparison
    return distances


def rank_by_distance(distances, top=None):
    """Indices that sort each row of `distances` ascending, ties broken by column index (stable).

    top - if given, only the first `top` columns of the ranking (found by partitioning).
    """
    distances = _check_distances(distances)
    n = distances.shape[1]
    top = n if top is None else min(int(top), n)
    if distances.dtype == np.float32 and n < 2 ** 32:
        keys = _sortable_keys(distances)
        if top < n:
            keys = np.partition(keys, top - 1, axis=1)[:, :top]
        keys.sort(axis=1)
        return _key_indices(keys)
    return _stable_argsort(distances)[:, :top]


def _rank_queries(distances, queries, members, head, with_member_ranks=True):
    """Rankings of a chunk of queries with the query itself taken out, as the original scored them.

    distances - (B, N) distances of the queries to all images (as `_DistanceBlocks` computes them).
    queries - (B,) image index of each query; members - image indices of the queries' class.
    head - how many positions of the ranking without the query are needed (N - 1 for all of them).
    with_member_ranks - also find the position of every member of the class (needs the full sort).

    Returns (ranked, query_pos, member_ranks): `ranked` (B, head) image indices in ranked order without the
    query; `query_pos` (B,) the position the query had (head + 1 if beyond the head and not looked for);
    `member_ranks` (B, len(members)) the position each member had in the ranking with the query, or None.
    """
    num_rows, n = distances.shape
    rows = np.arange(num_rows)
    top = n if with_member_ranks else min(head + 1, n)  # the query may come first: one more than the head
    member_ranks = None
    if distances.dtype == np.float32 and n < 2 ** 32:
        keys = _sortable_keys(distances, _buffer("keys", distances.shape, np.uint64))
        query_keys = keys[rows, queries]
        member_keys = keys[:, members] if with_member_ranks else None
        if top < n:
            keys = np.partition(keys, top - 1, axis=1)[:, :top]
        keys.sort(axis=1)
        # Keys are unique, so the left insertion point of a key in its sorted row is its position.
        query_pos = np.array([np.searchsorted(keys[r], query_keys[r]) for r in rows], dtype=np.intp)
        if with_member_ranks:
            member_ranks = np.stack([np.searchsorted(keys[r], member_keys[r]) for r in rows])
        ranking = keys[:, :head + 1]
    else:
        ranking = _stable_argsort(distances)
        query_pos = np.argmax(ranking == queries[:, None], axis=1)
        if with_member_ranks:
            inverse = np.empty_like(ranking)
            np.put_along_axis(inverse, ranking, np.broadcast_to(np.arange(n), ranking.shape), axis=1)
            member_ranks = inverse[:, members]
        ranking = ranking[:, :head + 1]
    ranked = _buffer("ranked", (num_rows, head), np.intp)
    if ranking.dtype == np.uint64:  # the image indices are the low halves of the keys
        ranking = ranking.view(np.uint32)[:, 0::2] if np.little_endian else ranking & np.uint64(0xFFFFFFFF)
    for r in rows:  # take the query out of the head
        p = query_pos[r]
        if p < head:
            ranked[r, :p] = ranking[r, :p]
            ranked[r, p:] = ranking[r, p + 1:head + 1]
        else:
            ranked[r] = ranking[r, :head]
    return ranked, query_pos, member_ranks


# ---------------------------------------------------------------------------
# All queries against all images, from features
# ---------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------
# Explicit rankings: the original ClassHierarchy.hierarchical_precision
# ---------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------
# Classification
# ---------------------------------------------------------------------------

CLASSIFICATION_METRICS = ("Accuracy", "Top-5 Accuracy", "Avg. Accuracy", "Hierarchical Accuracy")


def classification_metrics(true_labels, scores, hierarchy=None, class_ids=None):
    """Flat and hierarchical classification accuracy.

    true_labels - (N,) class indices in [0, C).
    scores - (N, C) class scores, higher is better (ties go to the lower class index), or (N,) predicted
             class indices (then there is no "Top-5 Accuracy").
    hierarchy - a `ClassHierarchy`; if given, "Hierarchical Accuracy" is the mean of
                1 - lcs_height(predicted class, true class) over the images.
    class_ids - hierarchy id of each class index (the original's ind2label); default: the index itself.

    Returns an ordered dict with "Accuracy", "Top-5 Accuracy" (scores only), "Avg. Accuracy" (the mean of
    the per-class accuracies over the classes present in true_labels) and "Hierarchical Accuracy".
    """
    y_true = np.asarray(true_labels)
    scores = np.asarray(scores)
    if y_true.ndim != 1 or len(y_true) == 0:
        raise ValueError("true_labels must be a non-empty 1-D array, got shape {}".format(y_true.shape))
    if not np.issubdtype(y_true.dtype, np.integer):
        raise ValueError("true_labels must be class indices (integers), got dtype {}".format(y_true.dtype))
    if scores.ndim not in (1, 2) or len(scores) != len(y_true):
        raise ValueError("scores of shape {} do not match {} labels".format(scores.shape, len(y_true)))
    if scores.ndim == 2:
        num_classes = scores.shape[1]
        if np.isnan(scores).any():
            raise ValueError("scores of image {} contain NaN".format(int(np.flatnonzero(np.isnan(scores).any(1))[0])))
        top5 = np.argsort(-scores, axis=1, kind="stable")[:, :5]
        y_pred = top5[:, 0]
    else:
        if not np.issubdtype(scores.dtype, np.integer):
            raise ValueError("1-D scores must be predicted class indices (integers), got dtype {}".format(scores.dtype))
        y_pred, top5 = scores, None
        num_classes = int(max(y_true.max(), y_pred.max())) + 1 if class_ids is None else len(class_ids)
    if class_ids is not None and len(class_ids) != num_classes:
        raise ValueError("{} class ids for {} classes".format(len(class_ids), num_classes))
    for name, values in (("true label", y_true), ("prediction", y_pred)):
        bad = (values < 0) | (values >= num_classes)
        if bad.any():
            raise ValueError("{} {} of image {} is not a class index in [0, {})".format(
                name, values[bad][0], int(np.flatnonzero(bad)[0]), num_classes))

    perf = OrderedDict()
    correct = y_pred == y_true
    perf["Accuracy"] = float(np.mean(correct))
    if top5 is not None:
        perf["Top-5 Accuracy"] = float(np.mean(np.any(top5 == y_true[:, None], axis=1)))
    present = np.unique(y_true)
    per_class = np.bincount(y_true, weights=correct, minlength=num_classes)[present] / np.bincount(y_true)[present]
    perf["Avg. Accuracy"] = float(np.mean(per_class))
    if hierarchy is not None:
        ids = list(range(num_classes)) if class_ids is None else list(class_ids)
        used = np.unique(np.concatenate((y_true, y_pred)))
        lcs_height = hierarchy.lcs_height_matrix([ids[i] for i in used])
        position = np.searchsorted(used, np.stack((y_pred, y_true)))
        perf["Hierarchical Accuracy"] = float(np.mean(1.0 - lcs_height[position[0], position[1]]))
    return perf
