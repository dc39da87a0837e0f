"""Semantic binary class codes (--method binary) against brute force and against the reference algorithm."""

import itertools
import random
from fractions import Fraction

import numpy as np
import pytest

import binary_codes
import class_embedding as ce
import error_bounds as eb
import utils
from conftest import assert_one_line_error, run_script
from test_class_hierarchy import from_edges, random_tree_edges


def small_tree(seed, num_nodes=70):
    h = from_edges(random_tree_edges(random.Random(seed), num_nodes))
    return h, h.leaves()


def exact_similarity(h, classes):
    """1 - height(LCS)/height(root) as exact fractions, pair by pair (a class with itself: 1)."""
    return [[Fraction(1) if a == b else 1 - Fraction(h.heights[h.lcs(a, b)], h.max_height) for b in classes]
            for a in classes]


def l1_objective(signs, class_sim):
    return np.abs(signs @ signs.T / signs.shape[1] - class_sim).sum()


def l2_objective(signs, class_sim):
    return ((signs @ signs.T / signs.shape[1] - class_sim) ** 2).sum()


@pytest.mark.parametrize("num_bits", [8, 13, 32])
def test_codes_are_exactly_plus_minus_one_over_sqrt_bits(num_bits):
    h, classes = small_tree(0)
    codes, _ = ce.compute_class_embedding(h, classes, "binary", num_bits)
    assert codes.shape == (len(classes), num_bits)
    value = 1.0 / np.sqrt(num_bits)
    assert set(np.unique(codes).tolist()) <= {-value, value}
    assert np.array_equal(np.abs(codes), np.full(codes.shape, value))


def test_reported_deviation_equals_brute_force():
    """embedding_deviation on the codes against Hamming distances counted bit by bit, in exact arithmetic."""
    h, classes = small_tree(1)
    num_bits = 16
    codes, dist = ce.compute_class_embedding(h, classes, "binary", num_bits)
    bits = codes > 0
    target = exact_similarity(h, classes)
    n = len(classes)
    errors = []
    for i, j in itertools.product(range(n), repeat=2):
        hamming = sum(bits[i, k] != bits[j, k] for k in range(num_bits))
        errors.append(abs(1 - Fraction(2 * hamming, num_bits) - target[i][j]))
    max_dev, mean_dev = ce.embedding_deviation(codes, dist, "binary", block_size=7)
    # The dot products of +-1/sqrt(B) entries (one matrix product: gamma_B) against 1 - height/H (two
    # roundings): see tests/error_bounds.py.
    bound = eb.gamma(num_bits + 2) + 3 * eb.U
    assert max_dev == pytest.approx(float(max(errors)), abs=bound)
    exact_mean = float(sum(errors) / len(errors))
    assert mean_dev == pytest.approx(exact_mean, abs=bound + 2 * eb.gamma(n * n) * exact_mean)


@pytest.mark.parametrize("seed", range(3))
def test_beats_the_sign_of_a_random_rotation_on_a_small_tree(seed):
    """At least 20% closer to the target similarities than the best of 10 random rotations' signs."""
    h, classes = small_tree(seed)
    sim = h.similarity_matrix(classes)
    np.fill_diagonal(sim, 1.0)
    num_bits = 16
    codes, dist = ce.compute_class_embedding(h, classes, "binary", num_bits)
    _, ours = ce.embedding_deviation(codes, dist, "binary")
    start = ce.sim_approx(sim, num_bits)
    references = []
    for rotation_seed in range(10):
        reference = binary_codes.sign_of_random_rotation(start, num_bits, rotation_seed) / np.sqrt(num_bits)
        references.append(ce.embedding_deviation(reference, dist, "binary")[1])
    assert ours <= 0.8 * min(references), (ours, references)


def test_refined_codes_are_a_local_minimum_of_both_losses():
    """No single bit flip lowers the loss the descent minimized (checked by flipping every bit)."""
    h, classes = small_tree(4, 50)
    sim = h.similarity_matrix(classes)
    np.fill_diagonal(sim, 1.0)
    num_bits = 12
    start = binary_codes.itq_codes(ce.sim_approx(sim, num_bits), num_bits, seed=0)
    for loss, objective in (("l2", l2_objective), ("l1", l1_objective)):
        codes, sweeps = binary_codes.refine_codes(start, sim, loss)
        assert sweeps < 100  # converged, not cut off
        assert objective(codes, sim) <= objective(start, sim)
        best = objective(codes, sim)
        # Rounding of an objective: n^2 terms, each from a dot product (gamma_B) and a subtraction, at most 2 in
        # size (4 squared), summed (gamma_(n^2)); twice, for the two objectives compared. A real improvement is
        # far larger: the terms lie on a grid of 1 / lcm(B/2, height) (squares: on its square).
        n = len(classes)
        rounding = 2 * (n * n * (eb.gamma(num_bits) + eb.U) * 4 + eb.gamma(n * n) * best)
        for i, k in itertools.product(range(n), range(num_bits)):
            flipped = codes.copy()
            flipped[i, k] = -flipped[i, k]
            assert objective(flipped, sim) >= best - rounding, (loss, i, k)


def test_itq_loses_less_than_the_rotation_it_starts_from():
    h, classes = small_tree(5)
    sim = h.similarity_matrix(classes)
    num_bits = 16
    embedding = ce.sim_approx(sim, num_bits)
    rotation = binary_codes.random_rotation(num_bits, np.random.default_rng(0))
    assert np.allclose(rotation @ rotation.T, np.eye(num_bits), atol=4 * num_bits * eb.U)

    def quantization_loss(codes):  # min over rotations of ||codes - V R||_F: the Procrustes problem
        s = np.linalg.svd(embedding.T @ codes, compute_uv=False)
        return (codes ** 2).sum() + (embedding ** 2).sum() - 2 * s.sum()

    itq = binary_codes.itq_codes(embedding, num_bits, seed=0)
    assert quantization_loss(itq) < quantization_loss(binary_codes.signs(embedding @ rotation))


def test_deterministic_for_a_seed():
    h, classes = small_tree(6)
    first, _ = ce.compute_class_embedding(h, classes, "binary", 24)
    second, _ = ce.compute_class_embedding(h, classes, "binary", 24)
    assert np.array_equal(first, second)


def test_more_bits_than_classes():
    h, classes = small_tree(7, 20)
    codes, dist = ce.compute_class_embedding(h, classes, "binary", 4 * len(classes))
    assert codes.shape == (len(classes), 4 * len(classes))


@pytest.fixture
def tree_file(tmp_path):
    path = tmp_path / "tree.txt"
    path.write_text("10 11\n10 12\n11 0\n11 1\n12 2\n12 3\n12 4\n")
    return path


def test_cli_writes_binary_codes(tmp_path, tree_file):
    out = tmp_path / "codes.npz"
    result = run_script("compute_class_embedding.py", "--hierarchy", tree_file, "--method", "binary", "--num_dim", "8",
                        "--out", out)
    assert result.returncode == 0, result.stderr
    assert "8-dimensional" in result.stdout and "deviation from target similarities" in result.stdout
    codes = utils.load_class_embedding(str(out))["embedding"]
    assert codes.shape == (5, 8) and np.array_equal(np.abs(codes), np.full((5, 8), 1 / np.sqrt(8)))


def test_cli_binary_without_num_dim_is_an_error(tmp_path, tree_file):
    out = tmp_path / "codes.npz"
    assert_one_line_error(run_script("compute_class_embedding.py", "--hierarchy", tree_file, "--method", "binary",
                                     "--out", out), "--method binary needs --num_dim")
    assert not out.exists()
