"""Class embeddings against their targets and against the original's slow iterative placement."""

import os
import pickle
import random
import subprocess
import sys

import numpy as np
import pytest

import class_embedding as ce
import error_bounds as eb
import compute_class_embedding as cce
import utils
from class_hierarchy import ClassHierarchy
from conftest import REPO_ROOT, assert_one_line_error, reference_file, run_script
from test_class_hierarchy import from_edges, random_tree_edges

# A small DAG whose similarity matrix over its leaves has a negative eigenvalue (found by search).
NOT_PD_DAG = [("n0", "n1"), ("n0", "n6"), ("n0", "n8"), ("n1", "n2"), ("n2", "n3"), ("n2", "n4"), ("n2", "n8"),
              ("n3", "n10"), ("n3", "n5"), ("n5", "n7"), ("n6", "n7"), ("n6", "n9")]


def iterative_unitsphere(class_sim):
    """The original release's placement: class c solves for its dot products with classes < c."""
    n = len(class_sim)
    emb = np.zeros((n, n))
    emb[0, 0] = 1.0
    for c in range(1, n):
        emb[c, :c] = np.linalg.solve(emb[:c, :c], class_sim[c, :c])
        emb[c, c] = np.sqrt(1.0 - np.sum(emb[c, :c] ** 2))
    return emb


def iterative_spheres(class_dist):
    """The original release's successive hypersphere intersections, class 0 at the origin."""
    n = len(class_dist)
    emb = np.zeros((n, n - 1))
    if n > 1:
        emb[1, 0] = class_dist[0, 1]
    for c in range(2, n):
        centers = emb[1:c, :c - 1]
        radii = class_dist[:c, c] ** 2
        b = (radii[0] - radii[1:] + np.sum(centers ** 2, axis=1)) / 2
        x = np.linalg.solve(centers, b)
        emb[c, :c - 1] = x
        emb[c, c - 1] = np.sqrt(radii[0] - np.sum(x ** 2))
    return emb


def pairwise_distances(emb):
    return np.sqrt(((emb[:, None, :] - emb[None, :, :]) ** 2).sum(-1))


def random_tree(seed, num_nodes=60):
    h = from_edges(random_tree_edges(random.Random(seed), num_nodes))
    return h, h.leaves()


def spheres_gram(dist):
    """The Gram matrix of the spheres placement (class 0 at the origin) of classes 1.., from the distances."""
    d_sq = dist ** 2
    return (d_sq[0, 1:, None] + d_sq[None, 0, 1:] - d_sq[1:, 1:]) / 2


def min_off_diagonal(matrix):
    return matrix[~np.eye(len(matrix), dtype=bool)].min()


def spheres_distance_bound(dist):
    """Distances of the spheres placement against the target: the Cholesky factor of the Gram matrix (rows of
    norm <= 1, entries rounded in 3 operations) reproduces it within the Gram bound; distances from it lose
    that / distance; the test's distances from differences add their own rounding."""
    n = len(dist)
    gram_error = eb.cholesky_gram_bound(n) + 4 * eb.U
    return eb.distance_from_gram_bound(gram_error, min_off_diagonal(dist)) + eb.difference_distance_bound(n, 1.0)


def mds_distance_bound(dist, num_dims):
    """Distances of a full-dimensional MDS embedding against the target: the eigen-decomposition's backward error
    on B = -1/2 J D^2 J (entries rounded in 5 operations), the dropped eigenvalues below eps |B|, and the Gram
    product, turned into distances as for spheres."""
    n = len(dist)
    d_sq = dist ** 2
    b = -0.5 * (d_sq - d_sq.mean(0) - d_sq.mean(1)[:, None] + d_sq.mean())
    norm_b = np.linalg.norm(b, 2)
    gram_error = (eb.eigh_backward_bound(b) + n * np.finfo(float).eps * norm_b + eb.gamma(n) * norm_b
                  + 8 * eb.U * d_sq.max())
    return (eb.distance_from_gram_bound(gram_error, min_off_diagonal(dist))
            + eb.difference_distance_bound(num_dims, dist.max()))


@pytest.mark.parametrize("seed", range(5))
def test_unitsphere_equals_iterative_placement_and_gram_is_target(seed):
    h, classes = random_tree(seed)
    sim = h.similarity_matrix(classes)
    n = len(classes)
    emb = cce.unitsphere_embedding(sim)
    assert np.abs(emb @ emb.T - sim).max() <= eb.cholesky_gram_bound(n)
    assert np.abs(np.linalg.norm(emb, axis=1) - 1).max() <= eb.unit_norm_bound(n)
    reference = iterative_unitsphere(sim)
    reference_residual = np.linalg.norm(reference @ reference.T - sim) + eb.gram_residual_bound(n)
    assert np.linalg.norm(emb - reference) <= eb.cholesky_factor_difference_bound(
        sim, [eb.gram_residual_bound(n), reference_residual])


@pytest.mark.parametrize("seed", range(5))
def test_spheres_equals_iterative_placement_and_distances_are_target(seed):
    h, classes = random_tree(seed)
    dist = h.lcs_height_matrix(classes)
    n = len(classes)
    emb = cce.hierarchical_class_embedding(dist)
    assert emb.shape == (n, n - 1)
    assert np.abs(pairwise_distances(emb) - dist).max() <= spheres_distance_bound(dist)
    gram = spheres_gram(dist)
    reference = iterative_spheres(dist)
    reference_residual = np.linalg.norm(reference[1:] @ reference[1:].T - gram) + eb.gram_residual_bound(n)
    assert np.linalg.norm(emb - reference) <= eb.cholesky_factor_difference_bound(
        gram, [eb.gram_residual_bound(n), reference_residual])


def test_approx_sim_full_rank_is_exact_and_low_rank_is_optimal():
    h, classes = random_tree(7)
    sim = h.similarity_matrix(classes)
    n = len(classes)
    full = cce.sim_approx(sim)
    norm = np.linalg.norm(sim, 2)
    assert np.abs(full @ full.T - sim).max() <= eb.eigh_backward_bound(sim) + eb.gamma(n) * norm
    eigval = np.sort(np.linalg.eigvalsh(sim))[::-1]
    for d in (1, 3, 8):
        emb = cce.sim_approx(sim, d)
        assert emb.shape == (n, d)
        # Eckart-Young: the Frobenius error of the best rank-d approximation is the discarded spectrum
        # (two eigen-decompositions, each within its backward error in the Frobenius norm).
        assert np.linalg.norm(emb @ emb.T - sim) == pytest.approx(
            np.sqrt(np.sum(eigval[d:] ** 2)), abs=2 * np.sqrt(n) * (eb.eigh_backward_bound(sim) + eb.gamma(n) * norm))


def test_mds_full_dimension_is_exact_and_matches_centred_gram():
    h, classes = random_tree(8)
    dist = h.lcs_height_matrix(classes)
    emb = cce.mds(dist, len(classes) - 1)
    assert np.abs(pairwise_distances(emb) - dist).max() <= mds_distance_bound(dist, emb.shape[1])
    # Independent check on a hand-made configuration: MDS recovers points up to rotation.
    points = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0], [1.0, 1.0]])
    points_dist = pairwise_distances(points)
    assert np.abs(pairwise_distances(cce.mds(points_dist, 2)) - points_dist).max() <= mds_distance_bound(points_dist, 2)


def deviation_bounds(emb, dist, kind, tolerance):
    """Per-pair error bound of embedding_deviation plus that of the dense reference (see its docstring)."""
    num_dims = emb.shape[1]
    if kind == ce.SIMILARITY:  # both: one matrix product each, then a subtraction from the same 1 - dist
        max_sq_norm = max(np.einsum("ij,ij->i", emb, emb).max(), 1.0)
        return 2 * eb.gamma(num_dims + 2) * max_sq_norm
    max_dist = pairwise_distances(emb).max()
    ours = tolerance + eb.gamma(num_dims + 3) * max_dist + 2 * eb.U
    return ours + eb.difference_distance_bound(num_dims, max_dist) + 2 * eb.U


def test_deviation_report_matches_dense_computation():
    h, classes = random_tree(9, 200)
    dist = h.lcs_height_matrix(classes)
    n = len(classes)
    for method in cce.METHODS:
        kind = ce.METHODS[method].kind
        emb = cce.embed_classes(dist, method, None if ce.METHODS[method].num_dim == "no" else 10)
        if kind == ce.SIMILARITY:
            error = np.abs(emb @ emb.T - (1 - dist))
        else:
            error = np.abs(pairwise_distances(emb) - dist)
        for tolerance in (1e-12, ce.DISTANCE_TOLERANCE):
            max_dev, mean_dev = cce.embedding_deviation(emb, dist, method, block_size=37, tolerance=tolerance)
            bound = deviation_bounds(emb, dist, kind, tolerance)
            assert max_dev == pytest.approx(error.max(), abs=bound), method
            # plus the rounding of summing n^2 non-negative terms, in both
            assert mean_dev == pytest.approx(error.mean(), abs=bound + 2 * eb.gamma(n * n) * error.mean()), method


@pytest.mark.parametrize("block_size", [1, 8])
def test_deviation_of_nearly_coincident_points_keeps_its_digits(block_size):
    """Issue 12, item 22: two classes 1e-9 apart, far from the origin, which the target puts 1 apart.
    |a|^2 + |b|^2 - 2 a.b cancels to rounding noise (about 1e-15 on a squared distance of 1e-18: a distance
    of ~3e-8, whatever the machine); the deviation must be 1 - 1e-9 within its error bound."""
    emb = np.full((2, 8), 1.0)
    emb[1, 0] += 1e-9
    dist = np.array([[0.0, 1.0], [1.0, 0.0]])
    exact_distance = np.sqrt(np.sum((emb[0] - emb[1]) ** 2))  # the stored points' own distance, from differences
    for tolerance in (1e-12, ce.DISTANCE_TOLERANCE):
        max_dev, mean_dev = ce.embedding_deviation(emb, dist, ce.DISTANCE, block_size=block_size, tolerance=tolerance)
        bound = deviation_bounds(emb, dist, ce.DISTANCE, tolerance)
        assert max_dev == pytest.approx(1 - exact_distance, abs=bound)
        assert mean_dev == pytest.approx((1 - exact_distance) / 2, abs=bound)


def test_methods_table():
    """Every entry embeds to at most max_dim(n) dimensions and, at full dimension, reproduces its kind of target."""
    h, classes = random_tree(10)
    dist = h.lcs_height_matrix(classes)
    n = len(classes)
    sim = 1 - dist
    bounds = {  # each method's error bound at full dimension (see the tests of the single algorithms)
        "unitsphere": eb.cholesky_gram_bound(n),
        "approx_sim": eb.eigh_backward_bound(sim) + eb.gamma(n) * np.linalg.norm(sim, 2),
        "spheres": spheres_distance_bound(dist),
        "mds": mds_distance_bound(dist, n - 1),
    }
    assert set(ce.METHODS) == set(bounds) | {"binary"}  # binary: approximate at any size (test_binary_codes.py)
    for name, entry in ce.METHODS.items():
        assert entry.kind in (ce.SIMILARITY, ce.DISTANCE) and entry.num_dim in ("no", "optional", "required")
        if entry.num_dim == "required":
            assert ce.embed_classes(dist, name, 8).shape == (n, 8) and entry.max_dim(n) is None
            continue
        emb = ce.embed_classes(dist, name)
        assert emb.shape[1] <= entry.max_dim(n)
        if entry.kind == ce.SIMILARITY:
            assert np.abs(emb @ emb.T - sim).max() <= bounds[name], name
        else:
            assert np.abs(pairwise_distances(emb) - dist).max() <= bounds[name], name
    with pytest.raises(ValueError, match="nosuch.*unitsphere"):
        ce.embed_classes(dist, "nosuch")


def test_script_reexports_the_library():
    for name in ("METHODS", "compute_class_embedding", "embed_classes", "embedding_deviation", "unitsphere_embedding",
                 "sim_approx", "hierarchical_class_embedding", "mds", "target_classes"):
        assert getattr(cce, name) is getattr(ce, name)


def test_help_is_wrapped():
    result = run_script("compute_class_embedding.py", "--help", env={"COLUMNS": "80"})
    assert result.returncode == 0
    assert max(len(line) for line in result.stdout.splitlines()) <= 80, result.stdout
    for name in ce.METHODS:  # every method is explained
        assert "\n  {} ".format(name) in result.stdout


def test_cifar100_reference_all_methods():
    h = ClassHierarchy.from_file(reference_file("cifar100", "cifar.parent-child.txt"), id_type=int)
    classes = h.leaves()
    assert classes == list(range(100))
    dist = h.lcs_height_matrix(classes)
    emb = cce.embed_classes(dist, "unitsphere")
    assert np.abs(emb @ emb.T - (1 - dist)).max() <= eb.cholesky_gram_bound(100)
    assert np.abs(pairwise_distances(cce.embed_classes(dist, "spheres")) - dist).max() <= spheres_distance_bound(dist)


def test_not_positive_definite_dag_is_reported():
    h = from_edges(NOT_PD_DAG)
    with pytest.raises(ValueError, match="approx_sim"):
        cce.compute_class_embedding(h, h.leaves(), "unitsphere")
    emb, dist = cce.compute_class_embedding(h, h.leaves(), "approx_sim")  # still works, approximately
    assert emb.shape[0] == len(h.leaves())


# --------------------------------------------------------------------------- command line and files

@pytest.fixture
def tree_file(tmp_path):
    path = tmp_path / "tree.txt"
    path.write_text("10 11\n10 12\n11 0\n11 1\n12 2\n12 3\n12 4\n")
    return path


@pytest.mark.parametrize("ext", [".pickle", ".npz"])
def test_cli_writes_original_format(tmp_path, tree_file, ext):
    out = tmp_path / ("emb" + ext)
    result = run_script("compute_class_embedding.py", "--hierarchy", tree_file, "--method", "unitsphere", "--out", out)
    assert result.returncode == 0, result.stderr
    assert "5-dimensional" in result.stdout and "Maximum deviation from target similarities" in result.stdout
    record = utils.load_class_embedding(str(out))
    assert record["ind2label"] == [0, 1, 2, 3, 4]
    h = ClassHierarchy.from_file(str(tree_file), id_type=int)
    assert np.abs(record["embedding"] @ record["embedding"].T - h.similarity_matrix(range(5))).max() \
        <= eb.cholesky_gram_bound(5)
    if ext == ".pickle":  # old tools read the file with plain pickle
        with open(out, "rb") as f:
            raw = pickle.load(f)
        assert set(raw) == {"embedding", "ind2label", "label2ind"} and raw["label2ind"][3] == 3


def test_cli_default_method_is_unitsphere_as_the_original(tmp_path):
    """The original README's first command (no --method) writes the unit-sphere embedding (issue 11)."""
    out = tmp_path / "e.pickle"
    result = run_script("compute_class_embedding.py", "--hierarchy", "Cifar-Hierarchy/cifar.parent-child.txt",
                        "--out", out)
    assert result.returncode == 0, result.stderr
    assert '100-dimensional semantic embeddings for 100 classes using the "unitsphere" method' in result.stdout
    record = utils.load_class_embedding(str(out))
    emb, labels = record["embedding"], record["ind2label"]
    assert labels == list(range(100))
    h = ClassHierarchy.from_file(os.path.join(REPO_ROOT, "Cifar-Hierarchy", "cifar.parent-child.txt"), id_type=int)
    # per pair, with the original's scalar lcs_height
    similarity = np.array([[1.0 - h.lcs_height(a, b) for b in labels] for a in labels])
    assert np.abs(emb @ emb.T - similarity).max() <= eb.cholesky_gram_bound(100)
    assert np.abs(np.linalg.norm(emb, axis=1) - 1).max() <= eb.unit_norm_bound(100)
    assert ce.DEFAULT_METHOD == "unitsphere" and cce.build_parser().get_default("method") == "unitsphere"


def test_cli_class_list_str_ids_is_a_and_norm(tmp_path):
    hierarchy = tmp_path / "isa.txt"
    hierarchy.write_text("dog mammal\ncat mammal\nmammal animal\nbird animal\nanimal thing\ncar thing\n")
    class_list = tmp_path / "classes.txt"
    class_list.write_text("cat some comment\n\nbird\ndog\n")
    out = tmp_path / "e.npz"
    result = run_script("compute_class_embedding.py", "--hierarchy", hierarchy, "--is_a", "--str_ids",
                        "--class_list", class_list, "--method", "approx_sim", "--num_dim", "2", "--norm",
                        "--out", out)
    assert result.returncode == 0, result.stderr
    record = utils.load_class_embedding(str(out))
    assert record["ind2label"] == ["cat", "bird", "dog"]
    assert record["embedding"].shape == (3, 2)
    assert np.allclose(np.linalg.norm(record["embedding"], axis=1), 1)


@pytest.mark.parametrize("content,args,fragments", [
    ("", [], ["empty"]),
    ("1 2\n3\n", [], ["line 2"]),
    ("1 2\na b\n", [], ["line 2", "--str_ids"]),
    ("1 2\n2 3\n3 1\n", [], ["cycle", "node"]),
    ("1 2\n2 2\n", [], ["self-loop"]),
    ("1 2\n1 3\n", ["--class_list", "LIST"], ["'7'", "line 2"]),
])
def test_cli_bad_input_one_line_errors(tmp_path, content, args, fragments):
    hierarchy = tmp_path / "h.txt"
    hierarchy.write_text(content)
    class_list = tmp_path / "list.txt"
    class_list.write_text("2\n7\n")
    args = [str(class_list) if a == "LIST" else a for a in args]
    if "--class_list" in args:
        args += ["--str_ids"]
    out = tmp_path / "out.pickle"
    out.write_bytes(b"precious")
    result = run_script("compute_class_embedding.py", "--hierarchy", hierarchy, "--out", out, *args)
    assert_one_line_error(result, *fragments)
    assert out.read_bytes() == b"precious"  # nothing already written is lost


@pytest.mark.parametrize("args,fragments", [
    (["--method", "approx_sim", "--num_dim", "50"], ["--num_dim 50", "5 classes at most 5 dimensions"]),
    (["--method", "mds", "--num_dim", "5"], ["--num_dim 5", "at most 4 dimensions"]),
    (["--num_dim", "3"], ["--num_dim 3 does not apply to --method unitsphere", "approx_sim"]),
    (["--method", "spheres", "--num_dim", "2"], ["does not apply to --method spheres", "use --method mds"]),
    (["--num_dim", "0"], ["--num_dim must be positive"]),
])
def test_cli_num_dim_that_cannot_be_given_is_an_error(tmp_path, tree_file, args, fragments):
    """Issue 12, item 5 (silently fewer dimensions before)."""
    out = tmp_path / "out.pickle"
    out.write_bytes(b"precious")
    assert_one_line_error(run_script("compute_class_embedding.py", "--hierarchy", tree_file, "--out", out, *args),
                          *fragments)
    assert out.read_bytes() == b"precious"


def test_num_dim_at_the_limit_is_accepted(tree_file):
    h = ClassHierarchy.from_file(str(tree_file), id_type=int)
    assert ce.compute_class_embedding(h, h.leaves(), "approx_sim", 5)[0].shape == (5, 5)
    assert ce.compute_class_embedding(h, h.leaves(), "mds", 4)[0].shape == (5, 4)
    assert ce.compute_class_embedding(h, h.leaves(), "unitsphere", 5)[0].shape == (5, 5)  # its own dimension


@pytest.mark.parametrize("name", ["e.npy", "e.xyz", "e"])
def test_cli_out_with_unknown_extension_is_an_error(tmp_path, tree_file, name):
    """Issue 12, item 6 (a pickle under any name before)."""
    result = run_script("compute_class_embedding.py", "--hierarchy", tree_file, "--out", tmp_path / name)
    assert_one_line_error(result, "--out", name, ".pickle or .npz")
    assert not (tmp_path / name).exists()


def test_cli_out_into_missing_directory_is_checked_first(tmp_path):
    """Issue 12, item 13: the output is checked before the hierarchy is even read (here: it does not exist)."""
    out = tmp_path / "no" / "such" / "dir" / "e.pickle"
    result = run_script("compute_class_embedding.py", "--hierarchy", tmp_path / "missing.txt", "--out", out)
    assert_one_line_error(result, "--out", "output directory does not exist")


def test_memory_need_is_reported_before_computing(tree_file, monkeypatch):
    """Issue 12, item 4: what the embedding would need, and what to do, before the n x n matrices exist."""
    h = ClassHierarchy.from_file(str(tree_file), id_type=int)
    monkeypatch.setattr(h, "lcs_height_matrix", lambda *a: pytest.fail("computed although it does not fit"))
    for method, entry in ce.METHODS.items():
        needed = ce.memory_needed(method, 5)
        assert needed == entry.bytes_per_pair * 25 + ce.MEMORY_MARGIN
        with pytest.raises(ValueError) as info:
            ce.compute_class_embedding(h, h.leaves(), method, 3 if entry.num_dim == "required" else None,
                                       memory_limit=needed - 1)
        message = str(info.value)
        assert "5 classes" in message and "--class_list" in message and "about 4 fit" in message


def test_cli_huge_tree_fails_upfront_with_what_it_needs(tmp_path):
    """A flat tree with enough leaves to need twice the memory this machine has free: one line within seconds."""
    available = ce.available_memory()
    if available is None:
        pytest.skip("free memory unknown on this system")
    num_leaves = int((2 * available / ce.METHODS["unitsphere"].bytes_per_pair) ** 0.5) + 1
    hierarchy = tmp_path / "huge.txt"
    hierarchy.write_text("".join("0 {}\n".format(i) for i in range(1, num_leaves + 1)))
    result = run_script("compute_class_embedding.py", "--hierarchy", hierarchy, "--out", tmp_path / "e.npz",
                        timeout=120)
    assert_one_line_error(result, "{:,} classes".format(num_leaves), "GB of memory", "--class_list")
    assert not (tmp_path / "e.npz").exists()


MEASURE_PEAKS = """
import random, resource, sys
import class_embedding as ce
import error_bounds as eb
from test_class_hierarchy import from_edges, random_tree_edges
h = from_edges(random_tree_edges(random.Random(0), int(sys.argv[1])))
classes = h.leaves()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for method in sys.argv[2:]:  # by increasing need: the high-water mark so far is this method's peak or less
    ce.compute_class_embedding(h, classes, method, 64 if ce.METHODS[method].num_dim == "required" else None)
    print(method, len(classes), (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024)
"""


def test_memory_model_is_an_upper_bound(tmp_path):
    """memory_needed bounds the measured peak (growth of the resident set) of each method, at 1,180 classes."""
    script = tmp_path / "peaks.py"
    script.write_text(MEASURE_PEAKS)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO_ROOT, os.path.join(REPO_ROOT, "tests")]),
               OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")  # BLAS threads fight over a busy machine's cores
    methods = sorted(ce.METHODS, key=lambda m: ce.METHODS[m].bytes_per_pair)
    result = subprocess.run([sys.executable, str(script), "2400", *methods], env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    for line in result.stdout.splitlines():
        method, num_classes, peak = line.split()
        assert int(peak) <= ce.memory_needed(method, int(num_classes)), line


def test_inner_node_classes_are_at_distance_zero_from_themselves(tmp_path, tree_file):
    """As in the original: a listed inner node (here 12, height 1) has similarity 1 with itself."""
    h = ClassHierarchy.from_file(str(tree_file), id_type=int)
    classes = [0, 12, 3]
    emb, dist = ce.compute_class_embedding(h, classes, "unitsphere")
    original = np.array([[0.0 if a == b else h.lcs_height(a, b) for b in classes] for a in classes])
    assert np.array_equal(dist, original)
    n = len(classes)
    assert np.abs(emb @ emb.T - (1 - original)).max() <= eb.cholesky_gram_bound(n)


def test_cli_binary_hierarchy_or_class_list_names_file_and_line(tmp_path, tree_file):
    """Issue 12, item 15: a binary file (here a PNG's first bytes after two good lines)."""
    binary = tmp_path / "picture.txt"
    binary.write_bytes(b"10 11\n10 12\n\x89PNG\r\n\x1a\n")
    out = tmp_path / "e.npz"
    assert_one_line_error(run_script("compute_class_embedding.py", "--hierarchy", binary, "--out", out),
                          str(binary), "line 3", "not a text file")
    assert_one_line_error(run_script("compute_class_embedding.py", "--hierarchy", tree_file, "--class_list", binary,
                                     "--out", out), str(binary), "line 3", "not a text file")
    assert not out.exists()


def test_cli_missing_hierarchy_file(tmp_path):
    result = run_script("compute_class_embedding.py", "--hierarchy", tmp_path / "nope.txt", "--out", tmp_path / "o.npz")
    assert_one_line_error(result, "nope.txt")


# --------------------------------------------------------------------------- safe loading

class Exploit(object):
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_restricted_unpickler_refuses_code(tmp_path):
    path = tmp_path / "evil.pickle"
    with open(path, "wb") as f:
        pickle.dump({"embedding": Exploit()}, f)
    with pytest.raises(ValueError, match="refusing"):
        utils.load_class_embedding(str(path))


def test_loads_python2_style_pickles(tmp_path):
    path = tmp_path / "old.pickle"
    emb = np.random.RandomState(0).rand(3, 3)
    with open(path, "wb") as f:
        pickle.dump({"embedding": emb, "ind2label": [5, 6, 7], "label2ind": {5: 0, 6: 1, 7: 2}}, f, protocol=2)
    record = utils.load_class_embedding(str(path))
    assert np.array_equal(record["embedding"], emb) and record["label2ind"] == {5: 0, 6: 1, 7: 2}


def test_python2_retry_that_fails_is_a_value_error(tmp_path):
    """A byte string that is not ASCII sends the loader to its latin-1 retry; a failure there is bad input too."""
    path = tmp_path / "old.pickle"
    for data in (b"\x80\x02U\x01\xff",  # protocol 2, SHORT_BINSTRING b'\xff', then cut off
                 b"\x80\x02U\x01\xffcos\nsystem\n."):  # ... then a forbidden global
        path.write_bytes(data)
        with pytest.raises(ValueError, match="cannot read pickle") as info:
            utils.load_class_embedding(str(path))
        assert str(path) in str(info.value)


def test_python2_codec_other_than_latin1_is_refused(tmp_path):
    path = tmp_path / "codec.pickle"
    path.write_bytes(b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00aX\x04\x00\x00\x00zlib\x86R.")
    with pytest.raises(ValueError, match="zlib"):
        utils.safe_pickle_load(str(path))


def test_damaged_dtype_flags_are_refused(tmp_path):
    """A flipped byte in a pickled dtype's flags makes float64 claim to hold object references."""
    path = tmp_path / "emb.pickle"
    utils.save_class_embedding(str(path), np.eye(3), [0, 1, 2])
    data = path.read_bytes()
    state = b"J\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t"  # (..., -1, -1, flags=0) of the dtype state
    assert data.count(state) == 1
    path.write_bytes(data.replace(state, state[:-2] + b"\xedt"))
    with pytest.raises(ValueError, match="dtype") as info:
        utils.load_class_embedding(str(path))
    assert str(path) in str(info.value)


@pytest.mark.parametrize("ext", [".npz", ".pickle"])
def test_truncated_files_name_the_file(tmp_path, ext):
    """Issue 12, items 1-2: a cut-off class embedding or feature file is one ValueError naming it."""
    good = tmp_path / ("good" + ext)
    utils.save_class_embedding(str(good), np.random.RandomState(0).rand(4, 3), [0, 1, 2, 3])
    features = tmp_path / ("feat" + ext)
    utils.save_features(str(features), np.ones((5, 2)))
    for source, load in ((good, utils.load_class_embedding), (features, utils.load_features)):
        data = source.read_bytes()
        for cut in (0, 1, len(data) // 3, len(data) // 2, len(data) - 1):
            path = tmp_path / ("cut" + ext)
            path.write_bytes(data[:cut])
            with pytest.raises(ValueError) as info:
                load(str(path))
            assert str(path) in str(info.value)


def test_npz_header_claiming_a_huge_array_is_refused_before_allocating(tmp_path):
    import io
    import zipfile

    def npy_bytes(array):
        buffer = io.BytesIO()
        np.save(buffer, array)
        return buffer.getvalue()

    # The .npy header is padded with spaces: the shape (4, 4) becomes (4000000, 4000000), 128 TB of
    # float64, at the same header length, in an archive with valid CRCs.
    new_shape = b"'shape': (4000000, 4000000), }"
    old_shape = b"'shape': (4, 4), }".ljust(len(new_shape))
    embedding = npy_bytes(np.eye(4))
    assert embedding.count(old_shape) == 1
    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("embedding.npy", embedding.replace(old_shape, new_shape))
        archive.writestr("ind2label.npy", npy_bytes(np.arange(4)))
    with pytest.raises(ValueError, match="claims shape") as info:
        utils.load_class_embedding(str(path))
    assert str(path) in str(info.value)


def test_object_array_npz_is_refused(tmp_path):
    """Issue 12, item 18."""
    path = tmp_path / "objects.npz"
    np.savez(str(path), embedding=np.array([[1.0, "a"]], dtype=object), ind2label=np.array([0]))
    with pytest.raises(ValueError, match="Python objects") as info:
        utils.load_class_embedding(str(path))
    assert str(path) in str(info.value)
    np.savez(str(path), feat=np.array([[1.0, None]], dtype=object))
    with pytest.raises(ValueError, match="Python objects"):
        utils.load_features(str(path))


@pytest.mark.parametrize("ext", [".npz", ".pickle"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_class_embedding_names_file_row_and_class(tmp_path, ext, bad):
    """Issue 12, item 16."""
    embedding = np.eye(4)
    embedding[2, 1] = bad
    path = tmp_path / ("emb" + ext)
    utils.save_class_embedding(str(path), embedding, [10, 11, 12, 13])
    with pytest.raises(ValueError) as info:
        utils.load_class_embedding(str(path))
    message = str(info.value)
    assert str(path) in message and "row 2 (class 12), column 1" in message and str(bad) in message


def test_class_embedding_content_errors(tmp_path):
    path = tmp_path / "e.pickle"
    cases = [({"embedding": [[1.0, 2.0], [3.0]]}, "not an array"),
             ({"embedding": np.array([["a", "b"]])}, "not numeric"),
             ({"embedding": np.ones(3)}, "shape"),
             ({"embedding": np.eye(2), "ind2label": [5, 5]}, "5 appears more than once"),
             ({"embedding": np.eye(2), "ind2label": [[1], [2]]}, "not a list of ids"),
             ({"embedding": np.eye(2), "ind2label": 7}, "labels are not readable"),
             ([1, 2], "expected a dict")]
    for record, message in cases:
        with open(path, "wb") as f:
            pickle.dump(record, f)
        with pytest.raises(ValueError, match=message) as info:
            utils.load_class_embedding(str(path))
        assert str(path) in str(info.value)


def test_feature_vectors_of_different_lengths_name_the_image(tmp_path):
    """Issue 12, item 17: the loader names the image whose vector has another length."""
    path = tmp_path / "f.pickle"
    with open(path, "wb") as f:
        pickle.dump({"feat": {0: np.ones(3), 1: np.ones(3), "img7": np.ones(4)}}, f)
    with pytest.raises(ValueError, match="image 'img7' has 4 values, that of image 0 has 3") as info:
        utils.load_features(str(path))
    assert str(path) in str(info.value)


def test_features_round_trip(tmp_path):
    feats = np.random.RandomState(0).rand(4, 3).astype(np.float32)
    for ext in (".pickle", ".npz"):
        utils.save_features(str(tmp_path / ("f" + ext)), feats)
        ids, loaded = utils.load_features(str(tmp_path / ("f" + ext)))
        assert ids == [0, 1, 2, 3] and np.array_equal(loaded, feats)


def test_atomic_write_keeps_old_file_on_error_and_uses_normal_permissions(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError):
        with utils.atomic_write(str(path), "w") as f:
            f.write("half")
            raise RuntimeError("boom")
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["out.txt"]
    with utils.atomic_write(str(path), "w") as f:
        f.write("new")
    umask = os.umask(0)
    os.umask(umask)
    assert path.read_text() == "new" and (os.stat(path).st_mode & 0o777) == (0o666 & ~umask)
