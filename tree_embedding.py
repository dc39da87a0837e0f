"""approx_sim for trees too large for an n x n similarity matrix.

In a tree with one root, the similarity 1 - height(LCS)/height(root) of two classes is a sum over the
nodes they share on their way up: every node a below the root adds w_a = (height(parent of a) -
height(a)) / height(root). So the similarity matrix is F F^T for a sparse F with a row per class and
a column per node, sqrt(w_a) where the class lies below a (a listed inner node also gets a column of
its own, sqrt(height / height(root)), so that it has similarity 1 with itself). The best rank-d
approximation of F F^T (what approx_sim computes) is U_d S_d from the top d singular triplets of F,
which sparse Lanczos (ARPACK) finds in memory that grows with n times the depth and n times d, not n^2:
a random 200,000-node tree (100,120 leaves) at 64 dimensions takes 0.3 GB and 20 s instead of 560 GB.
"""

import array

import numpy as np
import scipy.sparse
import scipy.sparse.linalg

# Pairs on which the deviation of a large embedding is estimated (seconds for any n).
NUM_SAMPLED_PAIRS = 1_000_000


def is_rooted_tree(hierarchy):
    """Whether `hierarchy` is a tree with a single root (the sum over shared nodes above holds)."""
    return hierarchy.is_tree() and len(hierarchy.roots()) == 1


def factor_size(hierarchy, classes):
    """Number of non-zeros of `similarity_factor(hierarchy, classes)`, without building it."""
    return sum(hierarchy.depth(c) - 1 + (0 if hierarchy.is_leaf(c) else 1) for c in classes)


def memory_needed(num_nonzeros, num_classes, num_dim):
    """Peak bytes of the sparse path: building the factor (row, column, value: 24 bytes per non-zero, and as
    much again while it is converted to CSR), then the factor and its transpose (12 bytes per non-zero each)
    with ARPACK's 2 d + 1 Lanczos vectors and three n x d copies of the eigenvectors (ARPACK's, scipy's, the
    result), plus a few vectors: (5 d + 6) n floats (measured: 278 MB against this model's 322 MB for
    100,120 classes, 1.26 million non-zeros, d = 64)."""
    return 48 * num_nonzeros + 8 * num_classes * (5 * num_dim + 6)


def similarity_factor(hierarchy, classes):
    """Sparse CSR matrix F (one row per class) with F F^T = the class similarity matrix of a rooted tree
    (ones on the diagonal, as compute_class_embedding uses it)."""
    heights, height = hierarchy.heights, hierarchy.max_height
    # array.array, not lists: 8 bytes per entry instead of a Python object each (1.3 million for 100,000 classes)
    columns, rows, cols, values = {}, array.array("q"), array.array("q"), array.array("d")
    for row, cls in enumerate(classes):
        node = cls
        while hierarchy.parents.get(node):
            parent = hierarchy.parents[node][0]
            rows.append(row)
            cols.append(columns.setdefault(node, len(columns)))
            values.append((heights[parent] - heights[node]) / height)
            node = parent
        if heights[cls] > 0:  # an inner node listed as a class: its own column completes its self-similarity
            rows.append(row)
            cols.append(columns.setdefault((cls,), len(columns)))  # a tuple is never a node id
            values.append(heights[cls] / height)
    return scipy.sparse.csr_matrix((np.sqrt(np.frombuffer(values)), (np.frombuffer(rows, dtype=np.int64),
                                                                    np.frombuffer(cols, dtype=np.int64))),
                                   shape=(len(classes), max(len(columns), 1)))


def approx_sim_from_factor(factor, num_dim, seed=0):
    """n x num_dim embedding whose Gram matrix is the best rank-num_dim approximation of S = F F^T (dimensions
    by decreasing eigenvalue, as sim_approx): the top eigenpairs of S by ARPACK (Lanczos) to machine precision,
    S applied as F (F^T x), from a seeded start vector."""
    n = factor.shape[0]
    if num_dim >= n:
        raise ValueError("--num_dim {}: the sparse path for large trees needs fewer dimensions than the {:,} "
                         "classes".format(num_dim, n))
    factor = factor.tocsr()
    transposed = factor.T.tocsr()
    similarity = scipy.sparse.linalg.LinearOperator((n, n), matvec=lambda x: factor @ (transposed @ x),
                                                    dtype=np.float64)
    start = np.random.default_rng(seed).standard_normal(n)
    eigval, eigvec = scipy.sparse.linalg.eigsh(similarity, k=num_dim, which="LA", v0=start, tol=0)
    order = np.argsort(eigval)[::-1]
    embedding = eigvec[:, order]
    embedding *= np.sqrt(np.clip(eigval[order], 0, None))[None, :]
    return embedding


def sampled_deviation(embedding, factor, num_pairs=NUM_SAMPLED_PAIRS, seed=0, chunk=100_000):
    """(max, mean) absolute deviation of the dot products of `embedding` from F F^T on `num_pairs` pairs drawn
    uniformly with replacement (the diagonal included, as in the full mean): an unbiased estimate of the mean;
    the max is the largest seen."""
    rng = np.random.default_rng(seed)
    n = embedding.shape[0]
    max_dev, sum_dev = 0.0, 0.0
    for start in range(0, num_pairs, chunk):
        size = min(chunk, num_pairs - start)
        i, j = rng.integers(n, size=size), rng.integers(n, size=size)
        target = np.asarray(factor[i].multiply(factor[j]).sum(axis=1)).ravel()
        error = np.abs(np.einsum("ij,ij->i", embedding[i], embedding[j]) - target)
        max_dev = max(max_dev, float(error.max()))
        sum_dev += float(error.sum())
    return max_dev, sum_dev / num_pairs
