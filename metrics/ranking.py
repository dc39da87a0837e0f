"""Ranking by distance, ties broken by image index: a stable sort at the speed of numpy's SIMD sort.

`rank_by_distance` ranks rows of a distance matrix; `_rank_queries` ranks a chunk of queries and takes each
query out of its own ranking, as `RetrievalEvaluator` scores them.
"""

import threading

import numpy as np


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


def _rank_head_and_members(distances, members, top):
    """The first `top` images of each row's ranking and the position of every member, without a full argsort.

    distances - (B, N) float32 distances (no -0.0); members - ascending image indices.
    Returns (ranking (B, top) image indices, member_ranks (B, len(members)) positions in the whole ranking),
    the same as a stable argsort of each row gives. Sorting the float32 values alone costs half of sorting the
    uint64 (distance, index) keys; a member's position is the number of smaller distances plus the equal ones
    at lower indices; the head is the images up to the `top`-th smallest distance, sorted as keys.
    """
    num_rows, n = distances.shape
    rows = np.arange(num_rows)
    sorted_values = _buffer("sorted_values", distances.shape, distances.dtype)
    np.copyto(sorted_values, distances)
    sorted_values.sort(axis=1)
    member_values = distances[:, members]
    member_ranks = np.stack([np.searchsorted(sorted_values[r], member_values[r]) for r in rows])
    following = sorted_values[rows[:, None], np.minimum(member_ranks + 1, n - 1)]
    for r, j in zip(*np.nonzero((member_ranks + 1 < n) & (following == member_values))):  # ties: rare
        member_ranks[r, j] += np.count_nonzero(distances[r, :members[j]] == member_values[r, j])

    threshold = sorted_values[:, top - 1]
    within = distances <= threshold[:, None]
    counts = np.count_nonzero(within, axis=1)
    ranking = np.empty((num_rows, top), dtype=np.intp)
    exact = counts == top  # the usual case: no tie at the threshold
    if exact.any():
        columns = np.nonzero(within[exact])[1].reshape(-1, top)  # ascending indices in each row
        keys = _sortable_keys(np.take_along_axis(distances[exact], columns, axis=1))
        keys.sort(axis=1)
        ranking[exact] = np.take_along_axis(columns, _key_indices(keys), axis=1)
    for r in np.flatnonzero(~exact):
        columns = np.flatnonzero(within[r])
        ranking[r] = columns[np.argsort(distances[r, columns], kind="stable")[:top]]
    return ranking, member_ranks


def _rank_queries(distances, queries, members, head, with_member_ranks=True):
    """Rankings of a chunk of queries with the query itself taken out, as the original scored them.

    distances - (B, N) distances of the queries to all images (as `_DistanceBlocks` computes them).
    queries - (B,) image index of each query; members - image indices of the queries' class.
    head - how many positions of the ranking without the query are needed (N - 1 for all of them).
    with_member_ranks - also find the position of every member of the class.

    Returns (ranked, query_pos, member_ranks): `ranked` (B, head) image indices in ranked order without the
    query; `query_pos` (B,) the position the query had (head + 1 if beyond the head and not looked for);
    `member_ranks` (B, len(members)) the position each member had in the ranking with the query, or None.
    """
    num_rows, n = distances.shape
    rows = np.arange(num_rows)
    top = n if with_member_ranks else min(head + 1, n)  # the query may come first: one more than the head
    member_ranks = None
    if distances.dtype == np.float32 and n < 2 ** 32 and with_member_ranks and head + 1 < n:
        ranking, member_ranks = _rank_head_and_members(distances, members, head + 1)
        query_pos = member_ranks[rows, np.searchsorted(members, queries)]
    elif distances.dtype == np.float32 and n < 2 ** 32:
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
