"""Class embeddings against their targets and against the original's slow iterative placement."""

import os
import pickle
import random

import numpy as np
import pytest

import class_embedding as ce
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


@pytest.mark.parametrize("seed", range(5))
def test_unitsphere_equals_iterative_placement_and_gram_is_target(seed):
    h, classes = random_tree(seed)
    sim = h.similarity_matrix(classes)
    emb = cce.unitsphere_embedding(sim)
    assert np.abs(emb @ emb.T - sim).max() < 1e-10
    assert np.abs(np.linalg.norm(emb, axis=1) - 1).max() < 1e-12
    assert np.abs(emb - iterative_unitsphere(sim)).max() < 1e-10


@pytest.mark.parametrize("seed", range(5))
def test_spheres_equals_iterative_placement_and_distances_are_target(seed):
    h, classes = random_tree(seed)
    dist = h.lcs_height_matrix(classes)
    emb = cce.hierarchical_class_embedding(dist)
    assert emb.shape == (len(classes), len(classes) - 1)
    assert np.abs(pairwise_distances(emb) - dist).max() < 1e-10
    assert np.abs(emb - iterative_spheres(dist)).max() < 1e-10


def test_approx_sim_full_rank_is_exact_and_low_rank_is_optimal():
    h, classes = random_tree(7)
    sim = h.similarity_matrix(classes)
    assert np.abs(cce.sim_approx(sim) @ cce.sim_approx(sim).T - sim).max() < 1e-10
    eigval = np.sort(np.linalg.eigvalsh(sim))[::-1]
    for d in (1, 3, 8):
        emb = cce.sim_approx(sim, d)
        assert emb.shape == (len(classes), d)
        # Eckart-Young: the Frobenius error of the best rank-d approximation is the discarded spectrum.
        assert np.linalg.norm(emb @ emb.T - sim) == pytest.approx(np.sqrt(np.sum(eigval[d:] ** 2)), rel=1e-9)


def test_mds_full_dimension_is_exact_and_matches_centred_gram():
    h, classes = random_tree(8)
    dist = h.lcs_height_matrix(classes)
    emb = cce.mds(dist, len(classes) - 1)
    assert np.abs(pairwise_distances(emb) - dist).max() < 1e-10
    # Independent check on a hand-made configuration: MDS recovers points up to rotation.
    points = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0], [1.0, 1.0]])
    assert np.abs(pairwise_distances(cce.mds(pairwise_distances(points), 2)) - pairwise_distances(points)).max() < 1e-10


def test_deviation_report_matches_dense_computation():
    h, classes = random_tree(9, 200)
    dist = h.lcs_height_matrix(classes)
    for method in cce.METHODS:
        emb = cce.embed_classes(dist, method, 10 if method in ("mds", "approx_sim") else None)
        if method in ("unitsphere", "approx_sim"):
            error = np.abs(emb @ emb.T - (1 - dist))
        else:
            error = np.abs(pairwise_distances(emb) - dist)
        max_dev, mean_dev = cce.embedding_deviation(emb, dist, method, block_size=37)
        assert max_dev == pytest.approx(error.max(), abs=1e-12)
        assert mean_dev == pytest.approx(error.mean(), rel=1e-9)  # Gram-based distances round differently


def test_methods_table():
    """Every entry embeds to at most max_dim(n) dimensions and, at full dimension, reproduces its kind of target."""
    h, classes = random_tree(10)
    dist = h.lcs_height_matrix(classes)
    n = len(classes)
    assert set(ce.METHODS) == {"unitsphere", "approx_sim", "spheres", "mds"}
    for name, entry in ce.METHODS.items():
        assert entry.kind in (ce.SIMILARITY, ce.DISTANCE) and entry.num_dim in ("no", "optional", "required")
        emb = ce.embed_classes(dist, name)
        assert emb.shape[1] <= entry.max_dim(n)
        if entry.kind == ce.SIMILARITY:
            assert np.abs(emb @ emb.T - (1 - dist)).max() < 1e-10
        else:
            assert np.abs(pairwise_distances(emb) - dist).max() < 1e-10
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
    assert np.abs(emb @ emb.T - (1 - dist)).max() < 1e-10
    assert np.abs(pairwise_distances(cce.embed_classes(dist, "spheres")) - dist).max() < 1e-10


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
    assert np.abs(record["embedding"] @ record["embedding"].T - h.similarity_matrix(range(5))).max() < 1e-10
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
    assert np.abs(emb @ emb.T - similarity).max() < 1e-10
    assert np.abs(np.linalg.norm(emb, axis=1) - 1).max() < 1e-12
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
