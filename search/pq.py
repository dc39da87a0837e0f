"""Product quantization of features (faiss): M bytes per image instead of 4 D.

A feature vector of D dimensions is cut into M sub-vectors of D / M dimensions; each is replaced by the
nearest of 2^nbits centroids learnt by k-means on the sub-vectors of the training features (Jegou et al.
2011). With nbits = 8 (the default) a code is M bytes.

`pq_reconstruct` gives the decoded features (each sub-vector replaced by its centroid): ranking them by
squared Euclidean distance or dot product scores the quantized database as `evaluate_retrieval.py --pq M`
does (symmetric: queries are quantized too). The index (`search.index`) ranks unquantized queries against
the codes (asymmetric distances, faiss `IndexPQ`).
"""

import numpy as np


def faiss_module():
    """The faiss module; ValueError with the install hint if it is missing (it is in requirements.txt)."""
    try:
        import faiss
    except ImportError:
        raise ValueError("faiss is not installed: pip install faiss-cpu (or faiss-gpu)") from None
    return faiss


def check_pq(num_dims, num_bytes, nbits=8):
    """ValueError naming the value unless `num_bytes` sub-vectors of `nbits` bits fit `num_dims` dimensions."""
    if isinstance(num_bytes, bool) or int(num_bytes) != num_bytes or num_bytes < 1:
        raise ValueError("PQ code size {!r} bytes is not a positive integer".format(num_bytes))
    if not 1 <= nbits <= 16:
        raise ValueError("PQ needs 1 to 16 bits per sub-vector, got {}".format(nbits))
    if (8 * int(num_bytes)) % nbits:
        raise ValueError("PQ code of {} bytes cannot be cut into sub-vectors of {} bits".format(num_bytes, nbits))
    num_sub = 8 * int(num_bytes) // nbits
    if num_dims % num_sub:
        raise ValueError("PQ code of {} bytes: {} sub-vectors do not divide the {} feature dimensions".format(
            num_bytes, num_sub, num_dims))
    return num_sub


def as_float32_features(features, what="features"):
    """`features` as a contiguous float32 (images x dimensions) array; ValueError naming `what` for another
    shape, a non-numeric array or a vector with NaN or inf."""
    features = np.asarray(features)
    if features.ndim != 2 or not np.issubdtype(features.dtype, np.number):
        raise ValueError("{} must be a 2-D array of numbers (images x dimensions), got {} of shape {}".format(
            what, features.dtype, features.shape))
    features = np.ascontiguousarray(features, dtype=np.float32)
    bad = ~np.isfinite(features).all(axis=1)
    if bad.any():
        raise ValueError("{}: vector {} contains NaN or inf".format(what, int(np.flatnonzero(bad)[0])))
    return features


def train_pq(features, num_bytes, seed=0, nbits=8, max_train_points=65536):
    """A trained `faiss.ProductQuantizer` of `num_bytes` bytes per code for features like `features` (N, D).

    k-means per sub-space with `seed`, on at most `max_train_points` vectors (a seeded random subset).
    ValueError if fewer than 2^nbits vectors are given (each centroid needs one).
    """
    faiss = faiss_module()
    features = as_float32_features(features)
    num_sub = check_pq(features.shape[1], num_bytes, nbits)
    if len(features) < 2 ** nbits:
        raise ValueError("PQ with {} bits per sub-vector needs at least {} training vectors, got {}".format(
            nbits, 2 ** nbits, len(features)))
    if len(features) > max_train_points:
        rng = np.random.default_rng(seed)
        features = features[np.sort(rng.choice(len(features), max_train_points, replace=False))]
    pq = faiss.ProductQuantizer(features.shape[1], num_sub, nbits)
    pq.cp.seed = int(seed)
    pq.cp.min_points_per_centroid = 1  # small sets are fine (silences faiss's warning); the tests use them
    pq.cp.max_points_per_centroid = max_train_points  # we subsample ourselves, seeded
    pq.train(features)
    return pq


def pq_encode(pq, features):
    """Codes (N, code bytes) uint8 of `features` under the trained quantizer `pq`."""
    features = as_float32_features(features)
    if features.shape[1] != pq.d:
        raise ValueError("features have {} dimensions, the quantizer {}".format(features.shape[1], pq.d))
    return pq.compute_codes(features)


def pq_decode(pq, codes):
    """Features (N, D) float32 reconstructed from codes: each sub-vector replaced by its centroid."""
    return pq.decode(np.ascontiguousarray(codes, dtype=np.uint8))


def pq_reconstruct(features, num_bytes, seed=0, nbits=8):
    """`features` (N, D) product-quantized to `num_bytes` bytes per vector (trained on themselves) and
    decoded again: float32 (N, D). Rank these instead of the features to score PQ codes."""
    pq = train_pq(features, num_bytes, seed=seed, nbits=nbits)
    return pq_decode(pq, pq_encode(pq, features))


def pq_memory_bytes(num_images, num_bytes):
    """Bytes of the codes of `num_images` images (the codebooks, 256 x D floats, come on top)."""
    return int(num_images) * int(num_bytes)
