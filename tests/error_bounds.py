"""Rounding-error bounds for the float64 computations the class-embedding tests compare.

Tolerances come from these bounds, not from what one machine happened to produce (another BLAS,
another blocking, FMA or not: results differ within the bounds, not bit for bit). References:
N. J. Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed. (2002), and the LAPACK
Users' Guide, section 4.7 (symmetric eigenproblem).

u = 2^-53 (unit roundoff), gamma_k = k u / (1 - k u).
"""

import numpy as np

U = np.finfo(np.float64).eps / 2


def gamma(k):
    """Bound on the relative error of a k-term sum or dot product, in any order (Higham 3.1)."""
    return k * U / (1 - k * U)


def cholesky_gram_bound(n):
    """|L L^T - A| entrywise, for the computed Cholesky factor L of A (n x n, unit diagonal: rows of norm 1),
    with L L^T formed in float64 too: gamma_(n+1) |L||L|^T (Higham, theorem 10.3) plus gamma_n for the
    product, each at most the product of two row norms (1), plus one rounding of the subtraction."""
    return gamma(n + 1) + gamma(n) + 2 * U


def unit_norm_bound(n):
    """| |l_i| - 1 | for a row of that factor: half of the diagonal's Gram bound, plus the norm's own rounding."""
    return (gamma(n + 1) + gamma(n)) / 2 + 2 * U


def eigh_backward_bound(a):
    """Backward error of LAPACK's symmetric eigen-decomposition: |A + E = Q L Q^T| with |E|_2 <= p(n) u |A|_2
    (LAPACK Users' Guide 4.7, p(n) "a modestly growing function of n"; we take p(n) = n, above what the
    guide's examples use), plus the loss of orthogonality of Q, of the same size: 3 n u |A|_2 for the entries
    of Q L Q^T - A."""
    n = len(a)
    return 3 * n * U * np.linalg.norm(a, 2)


def cholesky_factor_difference_bound(a, residuals):
    """Bound on |L1 - L2|_F for two computed Cholesky factors of A, each the exact factor of A + E_k with
    |E_k|_F <= residuals[k]: first-order perturbation theory (J.-G. Sun 1991),
    |dL|_F / |L|_2 <= kappa_2(A) |E|_F / (sqrt(2) |A|_2), doubled to cover the second-order terms."""
    norm_a = np.linalg.norm(a, 2)
    kappa = np.linalg.cond(a)
    return 2 * kappa * sum(residuals) / (np.sqrt(2) * norm_a) * np.sqrt(norm_a)


def gram_residual_bound(n):
    """|E|_F for the Cholesky factor of an n x n matrix whose factor rows have norm <= 1: n gamma_(n+1)."""
    return n * gamma(n + 1)


def distance_from_gram_bound(gram_error, min_distance):
    """Distances taken from a Gram matrix with entrywise error `gram_error`: d^2 = G_ii + G_jj - 2 G_ij is off
    by at most 4 gram_error, so d by at most 4 gram_error / d for d >= `min_distance`."""
    return 4 * gram_error / min_distance


def difference_distance_bound(num_dims, distance):
    """|a - b| computed from the differences: relative error gamma_(d+2) / 2 + u (Higham 3.1, one sqrt)."""
    return (gamma(num_dims + 2) / 2 + U) * distance
