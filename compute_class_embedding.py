"""Compute class embeddings whose geometry reproduces the semantic similarity of classes in a taxonomy.

Similarity of two classes: 1 - height(LCS) / height(root); dissimilarity: height(LCS) / height(root).

Methods:
  unitsphere  n classes on the unit sphere in n dimensions, dot products = similarities exactly
              (the original's iterative placement is the Cholesky factorization of the similarity matrix)
  approx_sim  best rank-d approximation of the similarity matrix (eigen-decomposition)
  spheres     n classes in n-1 dimensions, Euclidean distances = dissimilarities exactly
              (successive hypersphere intersections = Cholesky factorization of the centred Gram matrix)
  mds         classical multidimensional scaling of the dissimilarities to d dimensions

Example:
  python compute_class_embedding.py --hierarchy Cifar-Hierarchy/cifar.parent-child.txt \\
      --method unitsphere --out embeddings/cifar100.unitsphere.pickle
"""

import argparse
import time

import numpy as np
import scipy.linalg

from class_hierarchy import ClassHierarchy
import utils

METHODS = ("spheres", "mds", "unitsphere", "approx_sim")


# ---------------------------------------------------------------------------
# Embedding algorithms (numeric core: no argument checks beyond what numpy does)
# ---------------------------------------------------------------------------


def unitsphere_embedding(class_sim):
    """n-by-n embedding on the unit sphere with `E @ E.T == class_sim` (lower-triangular rows).

    Class c is placed so that its dot products with classes 0..c-1 match and its norm is 1;
    that is a forward substitution per row, i.e. exactly the Cholesky factor of `class_sim`.
    Raises `np.linalg.LinAlgError` if `class_sim` is not positive definite.
    """
    class_sim = np.array(class_sim, dtype=np.float64)  # a private copy that LAPACK may overwrite
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


def embed_classes(class_dist, method, num_dim=None):
    """Dispatch to the embedding `method` for the dissimilarity matrix `class_dist`."""
    if method == "unitsphere":
        return unitsphere_embedding(1.0 - class_dist)
    if method == "approx_sim":
        return sim_approx(1.0 - class_dist, num_dim)
    if method == "spheres":
        return hierarchical_class_embedding(class_dist)
    if method == "mds":
        return mds(class_dist, num_dim or len(class_dist) - 1)
    raise ValueError("unknown method {!r}; choose one of {}".format(method, ", ".join(METHODS)))


def embedding_deviation(embedding, class_dist, method, block_size=1024):
    """(max, mean) absolute deviation from the target similarities (dot products) or distances.

    Works on blocks of the lower triangle (the deviation is symmetric) and skips the all-zero
    columns of a block, so the lower-triangular unitsphere/spheres embeddings cost about a sixth of
    a full product and memory stays at a few blocks even for 8,142 classes.
    """
    embedding = np.asarray(embedding, dtype=np.float64)
    similarity = method in ("unitsphere", "approx_sim")
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
            if similarity:
                error = np.abs(dots - (1.0 - class_dist[i0:i1, j0:j1]))
            else:
                dist_sq = sq_norm[i0:i1, None] + sq_norm[None, j0:j1] - 2 * dots
                error = np.abs(np.sqrt(np.clip(dist_sq, 0, None)) - class_dist[i0:i1, j0:j1])
                if i0 == j0:
                    np.fill_diagonal(error, 0.0)  # rounding makes sqrt(tiny) noticeable; d(x, x) is 0
            max_dev = max(max_dev, float(error.max()))
            sum_dev += float(error.sum()) * (1 if i0 == j0 else 2)
    return max_dev, sum_dev / (n * n)


def target_classes(hierarchy, class_list=None, id_type=int):
    """The classes to embed: those listed in `class_list` (file order) or all leaves (sorted)."""
    if class_list is not None:
        return hierarchy.read_class_list(class_list, id_type=id_type)
    return hierarchy.leaves()


def compute_class_embedding(hierarchy, classes, method="unitsphere", num_dim=None, norm=False):
    """Embed `classes` of `hierarchy` with `method`; returns (embedding, dissimilarity matrix)."""
    class_dist = hierarchy.lcs_height_matrix(classes)
    try:
        embedding = embed_classes(class_dist, method, num_dim)
    except np.linalg.LinAlgError:
        if method == "unitsphere":
            raise ValueError("the class similarity matrix is not positive definite (possible when the hierarchy is "
                             "not a tree), so no exact unit-sphere embedding exists: use --method approx_sim or "
                             "a tree (e.g. a mintree)") from None
        raise ValueError("the class dissimilarities are not Euclidean (the hyperspheres do not intersect): "
                         "use --method mds or a tree") from None
    if norm:
        embedding = embedding / np.maximum(np.linalg.norm(embedding, axis=1, keepdims=True), 1e-12)
    return embedding, class_dist


def build_parser():
    parser = argparse.ArgumentParser(
        description="Computes embeddings of n classes so that their dot products (or distances) correspond to "
                    "their semantic similarity (dissimilarity) 1 - height(LCS)/height(root) in a given hierarchy.",
        formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--hierarchy", type=str, required=True,
                        help="Path to a file containing parent-child or is-a relationships (one per line).")
    parser.add_argument("--is_a", action="store_true", default=False,
                        help="If given, --hierarchy is assumed to contain is-a (child parent) instead of parent-child "
                             "relationships.")
    parser.add_argument("--str_ids", action="store_true", default=False,
                        help="If given, class IDs are treated as strings instead of integers.")
    parser.add_argument("--class_list", type=str, default=None,
                        help="Path to a file containing the IDs of the classes to compute embeddings for (as first "
                             "words per line).\nIf not given, all leaf nodes in the hierarchy (sorted) are the target "
                             "classes.")
    parser.add_argument("--out", type=str, required=True,
                        help="Output file: .pickle (dict with keys 'embedding', 'ind2label', 'label2ind', as the "
                             "original) or .npz (the same as a numpy archive, no pickle).")
    parser.add_argument("--method", type=str, default="spheres", choices=METHODS,
                        help='Which algorithm to use for computing class embeddings:\n'
                             '- "spheres": (n-1)-dimensional embeddings whose Euclidean distances equal the semantic '
                             'dissimilarities (successive intersections of hyperspheres).\n'
                             '- "mds": embeddings of arbitrary dimensionality approximating the dissimilarities as '
                             'Euclidean distances (classical multidimensional scaling).\n'
                             '- "unitsphere": n-dimensional L2-normalized embeddings whose dot products equal the '
                             'semantic similarities.\n'
                             '- "approx_sim": embeddings of arbitrary dimensionality whose dot products best '
                             'approximate the semantic similarities.\nDefault: "spheres"')
    parser.add_argument("--num_dim", type=int, default=None,
                        help='Number of embedding dimensions for the "mds" and "approx_sim" methods.')
    parser.add_argument("--norm", action="store_true", default=False,
                        help="L2-normalize the resulting class embeddings (useful after approx_sim or mds with a "
                             "reduced --num_dim).")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    with utils.cli_errors():
        if args.num_dim is not None and args.num_dim < 1:
            raise ValueError("--num_dim must be positive, got {}".format(args.num_dim))
        id_type = str if args.str_ids else int
        start_time = time.time()
        hierarchy = ClassHierarchy.from_file(args.hierarchy, is_a_relations=args.is_a, id_type=id_type)
        classes = target_classes(hierarchy, args.class_list, id_type)
        embedding, class_dist = compute_class_embedding(hierarchy, classes, args.method, args.num_dim, args.norm)
        elapsed = time.time() - start_time
        print('Computed {}-dimensional semantic embeddings for {} classes using the "{}" method in {:.2f} seconds.'
              .format(embedding.shape[1], embedding.shape[0], args.method, elapsed))
        max_dev, mean_dev = embedding_deviation(embedding, class_dist, args.method)
        target = "similarities" if args.method in ("unitsphere", "approx_sim") else "distances"
        print("Maximum deviation from target {}: {:.3g}".format(target, max_dev))
        print("Average deviation from target {}: {:.3g}".format(target, mean_dev))
        utils.save_class_embedding(args.out, embedding, classes)
        print("Wrote {}".format(args.out))


if __name__ == "__main__":
    main()
