"""Class embeddings whose geometry reproduces the semantic similarity of classes in a taxonomy.

Similarity of two classes: 1 - height(LCS) / height(root); dissimilarity: height(LCS) / height(root).
`METHODS` is the table of embedding methods (name -> algorithm, what it reproduces, whether
`num_dim` applies); `compute_class_embedding` embeds the classes of a `ClassHierarchy` with one of
them, `embedding_deviation` measures how far an embedding is from its targets.
"""

import collections

import numpy as np
import scipy.linalg

# ---------------------------------------------------------------------------
# Embedding algorithms (numeric core: no argument checks beyond what numpy does)
# ---------------------------------------------------------------------------


def unitsphere_embedding(class_sim, overwrite=False):
    """n-by-n embedding on the unit sphere with `E @ E.T == class_sim` (lower-triangular rows).

    Class c is placed so that its dot products with classes 0..c-1 match and its norm is 1;
    that is a forward substitution per row, i.e. exactly the Cholesky factor of `class_sim`.
    With `overwrite`, a float64 `class_sim` becomes the result (no n-by-n copy).
    Raises `np.linalg.LinAlgError` if `class_sim` is not positive definite.
    """
    class_sim = np.asarray(class_sim, dtype=np.float64) if overwrite else np.array(class_sim, dtype=np.float64)
    # The matrix is symmetric, so its transpose is the same matrix in Fortran order: no copy in LAPACK.
    return scipy.linalg.cholesky(class_sim.T, lower=True, overwrite_a=True, check_finite=False)


def sim_approx(class_sim, num_dim=None):
    """n-by-d embedding whose Gram matrix is the best rank-d approximation of `class_sim`.

    Dimensions are ordered by decreasing eigenvalue; negative eigenvalues (a similarity matrix
    that is not positive semi-definite, or rounding) are clipped to zero, which keeps the
    approximation optimal among positive semi-definite matrices.
    """
    eigval, eigvec = np.linalg.eigh(np.asarray(class_sim, dtype=np.float64))
    order = np.argsort(eigval)[::-1]
    if num_dim is not None:
        order = order[:num_dim]
    return eigvec[:, order] * np.sqrt(np.clip(eigval[order], 0, None))[None, :]


def hierarchical_class_embedding(class_dist):
    """n-by-(n-1) embedding with Euclidean distances equal to `class_dist` (successive hyperspheres).

    Class 0 sits at the origin; class c lies on the intersection of the spheres around classes
    0..c-1 with the target radii, on the positive side of a new axis. With class 0 as origin the
    Gram matrix is G = (d0i^2 + d0j^2 - dij^2) / 2, and that placement is its Cholesky factor.
    Raises `np.linalg.LinAlgError` if the distances are not Euclidean (the spheres do not meet).
    """
    d_sq = np.asarray(class_dist, dtype=np.float64) ** 2
    n = d_sq.shape[0]
    embedding = np.zeros((n, max(n - 1, 0)))
    if n > 1:
        gram = (d_sq[0, 1:, None] + d_sq[None, 0, 1:] - d_sq[1:, 1:]) / 2
        embedding[1:] = scipy.linalg.cholesky(gram.T, lower=True, overwrite_a=True, check_finite=False)
    return embedding


def mds(class_dist, num_dim=None):
    """n-by-d embedding by classical MDS: the top eigenvectors of the double-centred squared distances."""
    d_sq = np.asarray(class_dist, dtype=np.float64) ** 2
    # Double centring without forming the centring matrix: B = -1/2 J D^2 J.
    b = d_sq - d_sq.mean(axis=0, keepdims=True) - d_sq.mean(axis=1, keepdims=True) + d_sq.mean()
    eigval, eigvec = np.linalg.eigh(-0.5 * b)
    order = np.argsort(eigval)[::-1]
    order = order[eigval[order] > np.finfo(np.float64).eps * max(1.0, abs(eigval).max())]
    if num_dim is not None:
        order = order[:num_dim]
    return eigvec[:, order] * np.sqrt(eigval[order])[None, :]


# ---------------------------------------------------------------------------
# The table of methods
# ---------------------------------------------------------------------------

SIMILARITY, DISTANCE = "similarity", "distance"

EmbeddingMethod = collections.namedtuple("EmbeddingMethod", "embed kind num_dim max_dim summary")
EmbeddingMethod.__doc__ = """One class-embedding method.

embed   - embed(class_dist, num_dim) -> n-by-d embedding, from the n-by-n dissimilarity matrix
          (the method may overwrite `class_dist`: callers pass a matrix they no longer need)
kind    - SIMILARITY (dot products approximate 1 - class_dist) or DISTANCE (Euclidean distances
          approximate class_dist): what `embedding_deviation` compares with
num_dim - whether `num_dim` applies: "no" (the dimension follows from n), "optional" or "required"
max_dim - max_dim(n): the most dimensions the method can give n classes (None: no limit)
summary - one line for --help
"""


def _embed_unitsphere(class_dist, num_dim):
    np.subtract(1.0, class_dist, out=class_dist)  # in place: one n-by-n matrix less at peak
    return unitsphere_embedding(class_dist, overwrite=True)


METHODS = collections.OrderedDict([
    ("unitsphere", EmbeddingMethod(
        _embed_unitsphere, SIMILARITY, "no", lambda n: n,
        "n-dimensional L2-normalized embeddings whose dot products equal the semantic similarities")),
    ("approx_sim", EmbeddingMethod(
        lambda class_dist, num_dim: sim_approx(1.0 - class_dist, num_dim), SIMILARITY, "optional", lambda n: n,
        "embeddings of --num_dim dimensions (default n) whose dot products best approximate the semantic "
        "similarities (eigen-decomposition)")),
    ("spheres", EmbeddingMethod(
        lambda class_dist, num_dim: hierarchical_class_embedding(class_dist), DISTANCE, "no",
        lambda n: max(n - 1, 0),
        "(n-1)-dimensional embeddings whose Euclidean distances equal the semantic dissimilarities "
        "(successive intersections of hyperspheres)")),
    ("mds", EmbeddingMethod(
        lambda class_dist, num_dim: mds(class_dist, num_dim or len(class_dist) - 1), DISTANCE, "optional",
        lambda n: max(n - 1, 0),
        "embeddings of --num_dim dimensions (default n-1) whose Euclidean distances approximate the "
        "semantic dissimilarities (classical multidimensional scaling)")),
])

DEFAULT_METHOD = "unitsphere"


def get_method(method):
    """The `EmbeddingMethod` called `method`; ValueError naming the choices for an unknown name."""
    try:
        return METHODS[method]
    except (KeyError, TypeError):
        raise ValueError("unknown class-embedding method {!r}; choose one of {}".format(
            method, ", ".join(METHODS))) from None


def embed_classes(class_dist, method, num_dim=None):
    """Embed the classes of the dissimilarity matrix `class_dist` with `method` (a name in `METHODS`)."""
    return get_method(method).embed(np.array(class_dist, dtype=np.float64), num_dim)


def embedding_deviation(embedding, class_dist, method, block_size=1024):
    """(max, mean) absolute deviation from the target similarities (dot products) or distances.

    `method` is a name in `METHODS` or a kind (SIMILARITY, DISTANCE). Works on blocks of the
    lower triangle (the deviation is symmetric) and skips the all-zero columns of a block, so the
    lower-triangular unitsphere/spheres embeddings cost about a sixth of a full product and memory
    stays at a few blocks even for 8,142 classes.
    """
    kind = method if method in (SIMILARITY, DISTANCE) else get_method(method).kind
    embedding = np.asarray(embedding, dtype=np.float64)
    sq_norm = np.einsum("ij,ij->i", embedding, embedding)
    n = len(embedding)
    max_dev, sum_dev = 0.0, 0.0
    for j0 in range(0, n, block_size):
        j1 = min(j0 + block_size, n)
        nonzero_cols = np.flatnonzero(embedding[j0:j1].any(axis=0))
        num_cols = nonzero_cols[-1] + 1 if len(nonzero_cols) else 0
        emb_j = embedding[j0:j1, :num_cols]
        for i0 in range(j0, n, block_size):
            i1 = min(i0 + block_size, n)
            dots = embedding[i0:i1, :num_cols] @ emb_j.T
            if kind == SIMILARITY:
                error = np.abs(dots - (1.0 - class_dist[i0:i1, j0:j1]))
            else:
                dist_sq = sq_norm[i0:i1, None] + sq_norm[None, j0:j1] - 2 * dots
                error = np.abs(np.sqrt(np.clip(dist_sq, 0, None)) - class_dist[i0:i1, j0:j1])
                if i0 == j0:
                    np.fill_diagonal(error, 0.0)  # rounding makes sqrt(tiny) noticeable; d(x, x) is 0
            max_dev = max(max_dev, float(error.max()))
            sum_dev += float(error.sum()) * (1 if i0 == j0 else 2)
    return max_dev, sum_dev / (n * n)


# ---------------------------------------------------------------------------
# From a hierarchy to an embedding
# ---------------------------------------------------------------------------


def target_classes(hierarchy, class_list=None, id_type=int):
    """The classes to embed: those listed in `class_list` (file order) or all leaves (sorted)."""
    if class_list is not None:
        return hierarchy.read_class_list(class_list, id_type=id_type)
    return hierarchy.leaves()


def compute_class_embedding(hierarchy, classes, method=DEFAULT_METHOD, num_dim=None, norm=False):
    """Embed `classes` of `hierarchy` with `method`; returns (embedding, dissimilarity matrix)."""
    entry = get_method(method)
    class_dist = hierarchy.lcs_height_matrix(classes)
    try:
        embedding = entry.embed(class_dist.copy(), num_dim)
    except np.linalg.LinAlgError:
        if entry.kind == SIMILARITY:
            raise ValueError("the class similarity matrix is not positive definite (possible when the hierarchy is "
                             "not a tree), so no exact unit-sphere embedding exists: use --method approx_sim or "
                             "a tree (e.g. a mintree)") from None
        raise ValueError("the class dissimilarities are not Euclidean (the hyperspheres do not intersect): "
                         "use --method mds or a tree") from None
    if norm:
        embedding = embedding / np.maximum(np.linalg.norm(embedding, axis=1, keepdims=True), 1e-12)
    return embedding, class_dist
