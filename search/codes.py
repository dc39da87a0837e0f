"""Binary codes of features: signs as +-1 vectors, packed bits, Hamming distances and rankings.

Conventions (used by `evaluate_retrieval.py --binary`, the index and the benchmark):

- The code of a feature vector is the sign of each component, a value >= 0 (also 0.0 and -0.0) giving +1.
- For +-1 codes of B bits, ``hamming(a, b) = (B - a.b) / 2`` and ``|a - b|^2 = 4 hamming(a, b)``: ranking
  the +-1 codes by squared Euclidean distance (as `metrics.RetrievalEvaluator` does by default) or by
  negative dot product *is* ranking by Hamming distance, exactly (small integers in float32).
- Packed codes (`pack_bits`) hold bit ``j`` of a code, ``1`` for +1, in byte ``j // 8`` at bit position
  ``7 - j % 8`` (`numpy.packbits`, big-endian bit order); B must be a multiple of 8. faiss's binary
  indexes take these bytes as they are.
- Rankings are by Hamming distance, ties broken by image index (stable), as for float features.
"""

import numpy as np


def _features_2d(features, what="features"):
    features = np.asarray(features)
    if features.ndim != 2:
        raise ValueError("{} must be a 2-D array (images x dimensions), got shape {}".format(what, features.shape))
    if not np.issubdtype(features.dtype, np.number) and features.dtype != np.bool_:
        raise ValueError("{} are not numbers (dtype {})".format(what, features.dtype))
    if np.issubdtype(features.dtype, np.floating):
        bad = ~np.isfinite(features).all(axis=1)
        if bad.any():
            raise ValueError("{}: vector {} contains NaN or inf".format(what, int(np.flatnonzero(bad)[0])))
    return features


def sign_codes(features, dtype=np.float32):
    """+-1 codes of `features` (N, B): +1 where a component is >= 0, -1 where it is < 0.

    The result (float32 by default) can be given to any float ranking (squared Euclidean or dot product):
    it ranks by Hamming distance (see the module docstring).
    """
    features = _features_2d(features)
    codes = np.where(features >= 0, 1, -1).astype(dtype)
    return codes


def check_num_bits(num_bits, what="number of bits"):
    """`num_bits` as an int; ValueError naming it unless it is a positive multiple of 8 (packed codes)."""
    if isinstance(num_bits, bool) or int(num_bits) != num_bits or num_bits <= 0 or num_bits % 8:
        raise ValueError("{} {} is not a positive multiple of 8: packed binary codes need whole bytes".format(
            what, num_bits))
    return int(num_bits)


def pack_bits(codes):
    """Pack codes (N, B) into bytes (N, B / 8), uint8; bit set for a component >= 0 (+1), B a multiple of 8.

    `codes` may be +-1 codes, raw float features (their signs are taken) or booleans (True = +1).
    """
    codes = _features_2d(codes, "codes")
    check_num_bits(codes.shape[1], "code length (bits)")
    bits = codes if codes.dtype == np.bool_ else codes >= 0
    return np.packbits(bits, axis=1)


def unpack_bits(packed, dtype=np.float32):
    """+-1 codes (N, 8 * bytes) from packed bytes (N, bytes): the inverse of `pack_bits` on +-1 codes."""
    packed = np.asarray(packed)
    if packed.ndim != 2 or packed.dtype != np.uint8:
        raise ValueError("packed codes must be a 2-D uint8 array, got {} of shape {}".format(packed.dtype, packed.shape))
    return np.unpackbits(packed, axis=1).astype(dtype) * 2 - 1


def _check_packed(packed, what):
    packed = np.asarray(packed)
    if packed.ndim != 2 or packed.dtype != np.uint8:
        raise ValueError("{} must be a 2-D uint8 array of packed codes, got {} of shape {}".format(
            what, packed.dtype, packed.shape))
    return np.ascontiguousarray(packed)


def _words(packed):
    """Packed codes as uint64 words (zero-padded to a multiple of 8 bytes): XOR and popcount per word."""
    num_bytes = packed.shape[1]
    pad = -num_bytes % 8
    if pad:
        packed = np.pad(packed, ((0, 0), (0, pad)))
    return np.ascontiguousarray(packed).view(np.uint64)


# Popcount of every byte value: the fallback for numpy < 2.0, which has no np.bitwise_count.
_BYTE_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def _popcount(words):
    """Set bits of each uint64 word, as uint8."""
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(words)
    return _BYTE_POPCOUNT[words.view(np.uint8)].reshape(words.shape + (8,)).sum(-1, dtype=np.uint8)


# Bound of the XOR temporaries of `hamming_distances` (words of 8 bytes): 64 MB.
_BLOCK_WORDS = 2 ** 23


def hamming_distances(a, b):
    """(M, N) Hamming distances (int32) between packed codes `a` (M, bytes) and `b` (N, bytes).

    XOR and popcount of 64-bit words, in blocks of rows of `a` whose temporaries stay within 64 MB.
    """
    a, b = _check_packed(a, "query codes"), _check_packed(b, "database codes")
    if a.shape[1] != b.shape[1]:
        raise ValueError("query codes have {} bits, database codes {}".format(8 * a.shape[1], 8 * b.shape[1]))
    wa, wb = _words(a), _words(b)
    out = np.empty((len(a), len(b)), dtype=np.int32)
    block_rows = max(1, _BLOCK_WORDS // max(1, wb.size))
    for start in range(0, len(a), block_rows):
        block = wa[start:start + block_rows]
        counts = _popcount(block[:, None, :] ^ wb[None, :, :])
        np.sum(counts, axis=2, dtype=np.int32, out=out[start:start + block_rows])
    return out


def rank_by_hamming(distances, top=None):
    """Indices that sort each row of integer `distances` ascending, ties broken by column index; the first
    `top` columns (all if None). Sorts the exact keys distance * N + index (int64): stable by construction.
    """
    distances = np.asarray(distances)
    if distances.ndim != 2 or not np.issubdtype(distances.dtype, np.integer):
        raise ValueError("distances must be a 2-D integer array, got {} of shape {}".format(
            distances.dtype, distances.shape))
    n = distances.shape[1]
    top = n if top is None else max(0, min(int(top), n))
    keys = distances.astype(np.int64) * n + np.arange(n, dtype=np.int64)
    if 0 < top < n:
        keys = np.partition(keys, top - 1, axis=1)[:, :top]
    keys = np.sort(keys, axis=1)[:, :top]
    return keys % n if n else keys


def hamming_search(query_codes, database_codes, top, block_rows=16):
    """The `top` nearest database codes of each query by Hamming distance (ties by index), in numpy.

    Returns (distances (M, top) int32, indices (M, top) int64). The reference that faiss's
    `IndexBinaryFlat` is checked against (tests, bench/bench_index.py).
    """
    query_codes = _check_packed(query_codes, "query codes")
    all_indices, all_distances = [], []
    for start in range(0, len(query_codes), block_rows):
        distances = hamming_distances(query_codes[start:start + block_rows], database_codes)
        indices = rank_by_hamming(distances, top)
        all_indices.append(indices)
        all_distances.append(np.take_along_axis(distances, indices, axis=1))
    if not all_indices:
        return np.zeros((0, top), np.int32), np.zeros((0, top), np.int64)
    return np.concatenate(all_distances), np.concatenate(all_indices)


def code_similarity(hamming, num_bits):
    """Cosine similarity of +-1 codes at the given Hamming distance: 1 - 2 hamming / bits."""
    return 1.0 - 2.0 * np.asarray(hamming, dtype=np.float64) / num_bits
