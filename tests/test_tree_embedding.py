"""approx_sim for trees too large for the n x n matrix: the sparse similarity factor and its eigenvectors."""

import random

import numpy as np
import pytest
import scipy.sparse

import class_embedding as ce
import error_bounds as eb
import tree_embedding as te
from class_hierarchy import ClassHierarchy
from conftest import assert_one_line_error, run_script
from test_class_hierarchy import DAG, from_edges, random_tree_edges


def per_pair_similarity(h, classes):
    """1 - lcs_height per pair with the original's scalar code; 1 for a class with itself."""
    return np.array([[1.0 if a == b else 1.0 - h.lcs_height(a, b) for b in classes] for a in classes])


def factor_error_bound(h, classes):
    """F F^T entries: at most depth products sqrt(w)^2 (each off by 2u relative) summed (gamma_depth), values <= 1;
    the per-pair reference: one division and one subtraction."""
    depth = max(h.depth(c) for c in classes) + 1
    return eb.gamma(depth) + 2 * depth * eb.U + 2 * eb.U


@pytest.mark.parametrize("seed", range(4))
def test_factor_reproduces_the_similarity_matrix(seed):
    h = from_edges(random_tree_edges(random.Random(seed), 80))
    leaves = h.leaves()
    inner = sorted(n for n in h.nodes if not h.is_leaf(n) and h.parents.get(n))[:3]
    for classes in (leaves, leaves[:10] + inner):  # inner nodes listed as classes: self-similarity 1 too
        factor = te.similarity_factor(h, classes)
        assert factor.nnz == te.factor_size(h, classes)
        gram = (factor @ factor.T).toarray()
        assert np.abs(gram - per_pair_similarity(h, classes)).max() <= factor_error_bound(h, classes)


def test_only_rooted_trees_take_the_sparse_path():
    assert te.is_rooted_tree(from_edges(random_tree_edges(random.Random(0), 30)))
    assert not te.is_rooted_tree(from_edges(DAG))
    assert not te.is_rooted_tree(from_edges([("a", "b"), ("c", "d")]))


@pytest.mark.parametrize("num_dim", [1, 5, 12])
def test_sparse_approx_sim_is_the_best_rank_d_approximation(num_dim):
    """Eckart-Young: the Frobenius error of E E^T is the norm of the discarded eigenvalues, as for the dense path."""
    h = from_edges(random_tree_edges(random.Random(7), 120))
    classes = h.leaves()
    sim = per_pair_similarity(h, classes)
    embedding = te.approx_sim_from_factor(te.similarity_factor(h, classes), num_dim)
    assert embedding.shape == (len(classes), num_dim)
    eigval = np.sort(np.linalg.eigvalsh(sim))[::-1]
    optimum = np.sqrt(np.sum(eigval[num_dim:] ** 2))
    n = len(classes)
    # both within the backward error of an eigen-decomposition (ARPACK runs to machine precision, tol=0)
    bound = 2 * np.sqrt(n) * (eb.eigh_backward_bound(sim) + eb.gamma(n) * np.linalg.norm(sim, 2))
    assert np.linalg.norm(embedding @ embedding.T - sim) == pytest.approx(optimum, abs=bound)
    dense = ce.sim_approx(sim, num_dim)
    assert np.linalg.norm(dense @ dense.T - sim) == pytest.approx(optimum, abs=bound)
    assert np.all(np.diff(np.linalg.norm(embedding, axis=0)) <= 0)  # dimensions by decreasing eigenvalue


def test_compute_class_embedding_takes_the_sparse_path_where_dense_does_not_fit():
    h = from_edges(random_tree_edges(random.Random(3), 90))
    classes = h.leaves()
    n = len(classes)
    limit = ce.memory_needed("approx_sim", n) - 1  # the dense path does not fit, the sparse one does
    embedding, target = ce.compute_class_embedding(h, classes, "approx_sim", 6, memory_limit=limit)
    assert scipy.sparse.issparse(target) and embedding.shape == (n, 6)
    dense, dist = ce.compute_class_embedding(h, classes, "approx_sim", 6)
    # the same optimum (subspaces may differ where eigenvalues tie)
    sim = 1 - dist
    assert np.linalg.norm(embedding @ embedding.T - sim) == pytest.approx(
        np.linalg.norm(dense @ dense.T - sim), abs=4 * np.sqrt(n) * eb.eigh_backward_bound(sim))
    # The deviation is estimated on 1,000,000 sampled pairs: with n^2 = 2,500 pairs all are seen (the max is
    # exact up to rounding), and the mean is within 5 standard errors of the full mean.
    errors = np.abs(embedding @ embedding.T - sim)
    max_dev, mean_dev = ce.embedding_deviation(embedding, target, "approx_sim")
    # rounding: the sampled targets come from F (factor_error_bound), the dot products from 6 terms, twice
    assert max_dev == pytest.approx(errors.max(), abs=factor_error_bound(h, classes) + 2 * eb.gamma(8))
    assert mean_dev == pytest.approx(errors.mean(), abs=5 * errors.std() / np.sqrt(te.NUM_SAMPLED_PAIRS))
    with pytest.raises(ValueError, match="approx_sim with --num_dim"):  # others say what would work
        ce.compute_class_embedding(h, classes, "unitsphere", memory_limit=ce.memory_needed("unitsphere", n) - 1)
    with pytest.raises(ValueError, match="even on a tree"):  # and the sparse path has its limit too
        ce.compute_class_embedding(h, classes, "approx_sim", 6, memory_limit=1000)


def test_dag_gets_no_sparse_path():
    h = from_edges(DAG)
    classes = h.leaves()
    with pytest.raises(ValueError, match="--class_list") as info:
        ce.compute_class_embedding(h, classes, "approx_sim", 2, memory_limit=1000)
    assert "approx_sim with --num_dim" not in str(info.value)


def test_cli_tree_too_large_for_a_dense_matrix(tmp_path):
    """Leaves enough for twice the free memory by every dense method: unitsphere fails upfront, naming the way
    out; approx_sim --num_dim 8 then computes it (deviation on sampled pairs)."""
    available = ce.available_memory()
    if available is None:
        pytest.skip("free memory unknown on this system")
    num_leaves = int((2 * available / min(m.bytes_per_pair for m in ce.METHODS.values())) ** 0.5) + 1
    groups = int(num_leaves ** 0.5)
    hierarchy = tmp_path / "big.txt"
    lines = ["r g{}\n".format(g) for g in range(groups)]
    lines += ["g{} c{}\n".format(i % groups, i) for i in range(num_leaves)]
    hierarchy.write_text("".join(lines))
    out = tmp_path / "e.npz"
    result = run_script("compute_class_embedding.py", "--hierarchy", hierarchy, "--str_ids", "--out", out, timeout=300)
    assert_one_line_error(result, "{:,} classes".format(num_leaves), "--method approx_sim with --num_dim")
    result = run_script("compute_class_embedding.py", "--hierarchy", hierarchy, "--str_ids", "--method", "approx_sim",
                        "--num_dim", "8", "--out", out, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "estimated on 1,000,000 random pairs" in result.stdout
    record = np.load(out)
    assert record["embedding"].shape == (num_leaves, 8)
    h = ClassHierarchy.from_file(str(hierarchy))
    assert record["ind2label"].tolist() == h.leaves()
