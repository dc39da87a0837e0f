"""Class embeddings whose geometry reproduces the semantic similarity of classes in a taxonomy.

Similarity of two classes: 1 - height(LCS) / height(root); dissimilarity: height(LCS) / height(root).
`METHODS` is the table of embedding methods (name -> algorithm, what it reproduces, whether
`num_dim` applies); `compute_class_embedding` embeds the classes of a `ClassHierarchy` with one of
them, `embedding_deviation` measures how far an embedding is from its targets.
"""

import collections

import numpy as np
import scipy.linalg
import scipy.sparse
import tqdm

import binary_codes
import tree_embedding

# Elements per step where a matrix is transformed block by block (8 MB of float64 temporaries).
_BLOCK_ELEMENTS = 2 ** 20

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
    class_dist = np.asarray(class_dist, dtype=np.float64)
    n = class_dist.shape[0]
    embedding = np.zeros((n, max(n - 1, 0)))
    if n > 1:
        # The Gram matrix is built in rows 1.. of the result (a contiguous square block) and factored
        # in place: one n-by-n matrix at peak besides the input.
        gram = embedding[1:]
        d0_sq = class_dist[0, 1:] ** 2
        np.add(d0_sq[:, None], d0_sq[None, :], out=gram)
        rows = max(1, _BLOCK_ELEMENTS // n)
        for r0 in range(0, n - 1, rows):
            gram[r0:r0 + rows] -= class_dist[1 + r0:1 + r0 + rows, 1:] ** 2
        gram /= 2
        # In Fortran order the block is the same symmetric matrix; its upper factor U (G = U^T U), read in
        # C order, is the lower factor L = U^T that the placement needs.
        factor = scipy.linalg.cholesky(gram.T, lower=False, overwrite_a=True, check_finite=False)
        if not np.shares_memory(factor, gram):
            gram[...] = factor.T
    return embedding


def mds(class_dist, num_dim=None):
    """n-by-d embedding by classical MDS: the top eigenvectors of the double-centred squared distances."""
    b = np.square(np.asarray(class_dist, dtype=np.float64))
    # Double centring without forming the centring matrix, in place: B = -1/2 J D^2 J.
    col_mean, row_mean, mean = b.mean(axis=0, keepdims=True), b.mean(axis=1, keepdims=True), b.mean()
    b -= col_mean
    b -= row_mean
    b += mean
    b *= -0.5
    eigval, eigvec = np.linalg.eigh(b)
    order = np.argsort(eigval)[::-1]
    order = order[eigval[order] > np.finfo(np.float64).eps * max(1.0, abs(eigval).max())]
    if num_dim is not None:
        order = order[:num_dim]
    return eigvec[:, order] * np.sqrt(eigval[order])[None, :]


# ---------------------------------------------------------------------------
# The table of methods
# ---------------------------------------------------------------------------

SIMILARITY, DISTANCE = "similarity", "distance"

EmbeddingMethod = collections.namedtuple("EmbeddingMethod", "embed kind num_dim max_dim bytes_per_pair summary")
EmbeddingMethod.__doc__ = """One class-embedding method.

embed          - embed(class_dist, num_dim) -> n-by-d embedding, from the n-by-n dissimilarity matrix
                 (which it leaves unchanged)
kind           - SIMILARITY (dot products approximate 1 - class_dist) or DISTANCE (Euclidean distances
                 approximate class_dist): what `embedding_deviation` compares with
num_dim        - whether `num_dim` applies: "no" (the dimension follows from n), "optional" or "required"
max_dim        - max_dim(n): the most dimensions the method can give n classes (None: no limit)
bytes_per_pair - peak memory of `compute_class_embedding` per pair of classes (n^2 pairs), from the
                 hierarchy's LCS matrix to the result, measured with a margin; `memory_needed` adds
                 MEMORY_MARGIN for what does not grow with n^2 (tests/test_class_embedding.py checks both)
summary        - one line for --help
"""


def _embed_binary(class_dist, num_bits):
    class_sim = 1.0 - class_dist
    start = sim_approx(class_sim, num_bits)
    with tqdm.tqdm(desc="binary codes: sweeps", unit=" sweeps", disable=len(class_dist) < 1000 or None) as bar:
        def progress(sweep, num_flips):
            bar.update(1)
            bar.set_postfix(flips=num_flips)
        return binary_codes.semantic_binary_codes(class_sim, start, num_bits, seed=0, progress=progress)


def _embed_unitsphere(class_dist, num_dim):
    return unitsphere_embedding(1.0 - class_dist, overwrite=True)  # factored in place: no second copy


METHODS = collections.OrderedDict([
    ("unitsphere", EmbeddingMethod(
        _embed_unitsphere, SIMILARITY, "no", lambda n: n, 22,
        "n-dimensional L2-normalized embeddings whose dot products equal the semantic similarities")),
    ("approx_sim", EmbeddingMethod(
        lambda class_dist, num_dim: sim_approx(1.0 - class_dist, num_dim), SIMILARITY, "optional", lambda n: n, 56,
        "embeddings of --num_dim dimensions (default n) whose dot products best approximate the semantic "
        "similarities (eigen-decomposition)")),
    ("spheres", EmbeddingMethod(
        lambda class_dist, num_dim: hierarchical_class_embedding(class_dist), DISTANCE, "no",
        lambda n: max(n - 1, 0), 22,
        "(n-1)-dimensional embeddings whose Euclidean distances equal the semantic dissimilarities "
        "(successive intersections of hyperspheres)")),
    ("mds", EmbeddingMethod(
        lambda class_dist, num_dim: mds(class_dist, num_dim or len(class_dist) - 1), DISTANCE, "optional",
        lambda n: max(n - 1, 0), 56,
        "embeddings of --num_dim dimensions (default n-1) whose Euclidean distances approximate the "
        "semantic dissimilarities (classical multidimensional scaling)")),
    ("binary", EmbeddingMethod(
        _embed_binary, SIMILARITY, "required", lambda n: None, 64,
        "--num_dim-bit codes, rows of +-1/sqrt(bits), whose dot products approximate the semantic similarities "
        "(approx_sim, iteratively quantized, then refined bit by bit; see binary_codes.py)")),
])

DEFAULT_METHOD = "unitsphere"


def get_method(method):
    """The `EmbeddingMethod` called `method`; ValueError naming the choices for an unknown name."""
    try:
        return METHODS[method]
    except (KeyError, TypeError):
        raise ValueError("unknown class-embedding method {!r}; choose one of {}".format(
            method, ", ".join(METHODS))) from None


def check_num_dim(method, num_dim, num_classes):
    """ValueError unless `num_dim` suits `method` for `num_classes` classes (before any computation)."""
    entry = get_method(method)
    fixed = entry.max_dim(num_classes)
    if num_dim is None:
        if entry.num_dim == "required":
            raise ValueError("--method {} needs --num_dim".format(method))
        return
    if num_dim < 1:
        raise ValueError("--num_dim must be positive, got {}".format(num_dim))
    if entry.num_dim == "no" and num_dim != fixed:
        others = [name for name, e in METHODS.items() if e.num_dim != "no" and e.kind == entry.kind]
        raise ValueError("--num_dim {} does not apply to --method {}, which embeds {} classes in {} dimensions; "
                         "for an approximation in fewer dimensions use --method {}".format(
                             num_dim, method, num_classes, fixed, " or ".join(others)))
    if fixed is not None and num_dim > fixed:
        raise ValueError("--num_dim {}: --method {} can give {} classes at most {} dimensions".format(
            num_dim, method, num_classes, fixed))


def available_memory():
    """Bytes of memory this process can still allocate (MemAvailable, within a cgroup's limit), or None."""
    limits = []
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    limits.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            with open(limit_file) as f, open(usage_file) as g:
                limits.append(int(f.read().strip()) - int(g.read().strip()))
        except (OSError, ValueError):  # no such cgroup, or "max" (no limit)
            pass
    return min(limits) if limits else None


# Bytes beyond bytes_per_pair * n^2: temporaries of a block (8 MB) and of the interpreter.
MEMORY_MARGIN = 64 * 2 ** 20


def memory_needed(method, num_classes):
    """Peak bytes `compute_class_embedding` needs to embed `num_classes` classes with `method`."""
    return get_method(method).bytes_per_pair * num_classes ** 2 + MEMORY_MARGIN


def check_memory(method, num_classes, available=None, tree=False):
    """ValueError saying what embedding `num_classes` classes would need and what to do instead,
    where that is more than the `available` bytes (default: `available_memory()`). `tree`: the
    hierarchy is a rooted tree, where approx_sim with --num_dim needs no n x n matrix."""
    available = available_memory() if available is None else available
    per_pair = get_method(method).bytes_per_pair
    needed = memory_needed(method, num_classes)
    if available is None or needed <= available:
        return
    most = int((max(available - MEMORY_MARGIN, 0) / per_pair) ** 0.5)
    raise ValueError("{:,} classes: --method {} needs about {:.1f} GB of memory ({} bytes per class pair: the {:,} "
                     "x {:,} class similarity matrix and its working copies), but {:.1f} GB are available; embed "
                     "fewer classes with --class_list (about {:,} fit){}".format(
                         num_classes, method, needed / 1e9, per_pair, num_classes, num_classes, available / 1e9,
                         most, ", or use --method approx_sim with --num_dim (e.g. 64), which on this tree needs no "
                               "such matrix" if tree and method != "approx_sim" else ""))


def _approx_sim_on_tree(hierarchy, classes, num_dim, memory_limit):
    """approx_sim through the sparse similarity factor of a tree (tree_embedding): (embedding, factor)."""
    available = available_memory() if memory_limit is None else memory_limit
    needed = tree_embedding.memory_needed(tree_embedding.factor_size(hierarchy, classes), len(classes), num_dim)
    needed += MEMORY_MARGIN
    if available is not None and needed > available:
        raise ValueError("{:,} classes: --method approx_sim --num_dim {} needs about {:.1f} GB of memory even on a tree "
                         "(no n x n matrix), but {:.1f} GB are available; use fewer dimensions or classes "
                         "(--class_list)".format(len(classes), num_dim, needed / 1e9, available / 1e9))
    factor = tree_embedding.similarity_factor(hierarchy, classes)
    return tree_embedding.approx_sim_from_factor(factor, num_dim), factor


def embed_classes(class_dist, method, num_dim=None):
    """Embed the classes of the dissimilarity matrix `class_dist` with `method` (a name in `METHODS`)."""
    return get_method(method).embed(np.asarray(class_dist, dtype=np.float64), num_dim)


def gamma(k):
    """Higham's gamma_k = k u / (1 - k u): the relative error bound of a k-term sum or dot product in float64."""
    unit_roundoff = np.finfo(np.float64).eps / 2
    return k * unit_roundoff / (1 - k * unit_roundoff)


# Absolute error of each distance that `embedding_deviation` guarantees by default (see there).
DISTANCE_TOLERANCE = 1e-9


def embedding_deviation(embedding, class_dist, method, block_size=1024, tolerance=DISTANCE_TOLERANCE):
    """(max, mean) absolute deviation from the target similarities (dot products) or distances.

    `method` is a name in `METHODS` or a kind (SIMILARITY, DISTANCE). `class_dist` may also be the
    sparse similarity factor of a large tree (see `compute_class_embedding`): then the deviation is
    estimated on `tree_embedding.NUM_SAMPLED_PAIRS` random pairs. Works on blocks of the
    lower triangle (the deviation is symmetric) and skips the all-zero columns of a block, so the
    lower-triangular unitsphere/spheres embeddings cost about a sixth of a full product and memory
    stays at a few blocks even for 8,142 classes.

    Error analysis (float64, unit roundoff u, d columns, gamma_k = k u / (1 - k u)):
    - dot products from one matrix product: |error| <= gamma_d |a| |b| for any summation order.
    - distances: |a|^2 + |b|^2 - 2 a.b from that product is off by at most
      e2 = 2 gamma_(d+3) (|a|^2 + |b|^2), and its square root by at most e2 / dist: harmless for
      distances near 1, but near zero (two classes close together: MDS with few dimensions) it
      loses half the digits. Every pair with e2 / dist > `tolerance` is recomputed from the
      difference a - b (relative error gamma_(d+2) / 2 + u), so each distance is within
      `tolerance` + gamma_(d+3) dist of the exact distance of the stored embedding.
    """
    kind = method if method in (SIMILARITY, DISTANCE) else get_method(method).kind
    embedding = np.asarray(embedding, dtype=np.float64)
    if scipy.sparse.issparse(class_dist):  # the similarity factor of a large tree: estimated on sampled pairs
        if kind != SIMILARITY:
            raise ValueError("a similarity factor gives similarities, not distances")
        return tree_embedding.sampled_deviation(embedding, class_dist)
    sq_norm = np.einsum("ij,ij->i", embedding, embedding)
    n, d = embedding.shape
    sq_error_factor = 2 * gamma(d + 3)
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
                norms = sq_norm[i0:i1, None] + sq_norm[None, j0:j1]
                dist = np.sqrt(np.clip(norms - 2 * dots, 0, None))
                unsure_i, unsure_j = np.nonzero(sq_error_factor * norms > tolerance * dist)
                for k0 in range(0, len(unsure_i), block_size):  # exact: from the differences
                    rows, cols = unsure_i[k0:k0 + block_size], unsure_j[k0:k0 + block_size]
                    diff = embedding[i0 + rows] - embedding[j0 + cols]
                    dist[rows, cols] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
                error = np.abs(dist - class_dist[i0:i1, j0:j1])
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


def compute_class_embedding(hierarchy, classes, method=DEFAULT_METHOD, num_dim=None, norm=False,
                            memory_limit=None):
    """Embed `classes` of `hierarchy` with `method`; returns (embedding, target).

    target: the n x n dissimilarity matrix, or, where approx_sim with `num_dim` on a rooted tree does not
    fit in memory as a dense matrix, the sparse similarity factor F (F F^T = 1 - dissimilarities) that it
    was computed from instead (tree_embedding); `embedding_deviation` takes either.
    ValueError before any computation where `num_dim` does not suit the method or the memory
    needed is more than `memory_limit` bytes (default: what the machine has free, `available_memory()`).
    """
    entry = get_method(method)
    classes = list(classes)
    check_num_dim(method, num_dim, len(classes))
    tree = tree_embedding.is_rooted_tree(hierarchy)
    try:
        check_memory(method, len(classes), memory_limit, tree)
    except ValueError:
        if not (tree and method == "approx_sim" and num_dim is not None):
            raise
        embedding, factor = _approx_sim_on_tree(hierarchy, classes, num_dim, memory_limit)
        return _normalized(embedding) if norm else embedding, factor
    class_dist = hierarchy.lcs_height_matrix(classes)
    # A class is at distance 0 from itself, as in the original (it filled only the off-diagonal pairs);
    # lcs_height(c, c) is the height of c, not 0, where a listed class is an inner node.
    np.fill_diagonal(class_dist, 0.0)
    try:
        embedding = entry.embed(class_dist, num_dim)
    except np.linalg.LinAlgError:
        if entry.kind == SIMILARITY:
            raise ValueError(hierarchy.where() + "the class similarity matrix is not positive definite (possible "
                             "when the hierarchy is not a tree), so no exact unit-sphere embedding exists: use "
                             "--method approx_sim or a tree (e.g. a mintree)") from None
        raise ValueError(hierarchy.where() + "the class dissimilarities are not Euclidean (the hyperspheres do not "
                         "intersect): use --method mds or a tree") from None
    return _normalized(embedding) if norm else embedding, class_dist


def _normalized(embedding):
    return embedding / np.maximum(np.linalg.norm(embedding, axis=1, keepdims=True), 1e-12)
