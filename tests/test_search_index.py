"""search.index against brute force: faiss float search vs numpy argsort, binary codes vs a popcount loop,
PQ / IVF-PQ vs an exhaustive search of their decoded vectors; the file format and its errors."""

import json

import numpy as np
import pytest

pytest.importorskip("faiss")

from search import codes  # noqa: E402
from search.index import INDEX_VERSION, build_index, load_index, save_index  # noqa: E402


def stable_top(similarities, k):
    """Reference ranking: similarity descending, ties by index (numpy stable argsort)."""
    return np.argsort(-similarities, axis=1, kind="stable")[:, :k]


@pytest.mark.parametrize("top", [1, 7, 50, 300, 500])
def test_float_search_equals_numpy_stable_argsort_with_ties(top):
    # small integer features: dot products are exact in float32 and tie often
    rng = np.random.default_rng(0)
    database = rng.integers(-2, 3, size=(500, 6)).astype(np.float32)
    queries = rng.integers(-2, 3, size=(25, 6)).astype(np.float32)
    index = build_index(database, normalize=False)
    result = index.search(queries, top)
    expected = stable_top(queries @ database.T, top)
    np.testing.assert_array_equal(result.indices, expected)
    np.testing.assert_array_equal(result.similarities, np.take_along_axis(queries @ database.T, expected, axis=1))


def test_normalized_float_search_is_cosine_ranking():
    rng = np.random.default_rng(1)
    database, queries = rng.standard_normal((400, 12)), rng.standard_normal((10, 12))
    result = build_index(database).search(queries, 20)
    unit = lambda a: a / np.linalg.norm(a, axis=1, keepdims=True)  # noqa: E731
    cosine = unit(queries) @ unit(database).T
    np.testing.assert_array_equal(result.indices, stable_top(cosine, 20))
    np.testing.assert_allclose(result.similarities, np.take_along_axis(cosine, result.indices, axis=1), atol=1e-5)


def test_binary_search_equals_slow_popcount_ranking():
    rng = np.random.default_rng(2)
    database, queries = rng.standard_normal((300, 16)), rng.standard_normal((8, 16))
    index = build_index(database, codes="binary")
    assert index.code_bytes == 2 and index.memory_bytes() == 600
    result = index.search(queries, 40)
    db_bytes, q_bytes = codes.pack_bits(database), codes.pack_bits(queries)
    for q in range(len(queries)):
        hamming = [sum(bin(int(a) ^ int(b)).count("1") for a, b in zip(q_bytes[q], image)) for image in db_bytes]
        expected = sorted(range(len(database)), key=lambda j: (hamming[j], j))[:40]
        assert result.indices[q].tolist() == expected
        np.testing.assert_allclose(result.similarities[q], [1 - 2 * hamming[j] / 16 for j in expected])


@pytest.mark.parametrize("kind", ["pq", "ivfpq"])
def test_quantized_search_equals_exhaustive_search_of_decoded_vectors(kind):
    rng = np.random.default_rng(3)
    database = rng.standard_normal((2000, 16)).astype(np.float32)
    queries = rng.standard_normal((15, 16)).astype(np.float32)
    index = build_index(database, codes=kind, num_bytes=4, nlist=8, normalize=False)
    assert index.code_bytes == 4
    if kind == "ivfpq":
        index.faiss_index.make_direct_map()
    decoded = index.faiss_index.reconstruct_n(0, len(database))
    result = index.search(queries, 30, nprobe=8)  # all cells: exhaustive
    similarities = queries @ decoded.T
    np.testing.assert_array_equal(result.indices, stable_top(similarities, 30))
    np.testing.assert_allclose(result.similarities, np.take_along_axis(similarities, result.indices, axis=1),
                               atol=1e-4)


def test_save_and_load_keep_everything(tmp_path):
    rng = np.random.default_rng(4)
    database = rng.standard_normal((300, 8))
    for kind in ("float", "binary", "pq"):
        index = build_index(database, ids=["img{}".format(i) for i in range(300)], labels=list(range(300)),
                            paths=["/x/{}.jpg".format(i) for i in range(300)], codes=kind, num_bytes=2,
                            info={"feat": "f.pickle"})
        path = str(tmp_path / "{}.npz".format(kind))
        save_index(index, path)
        loaded = load_index(path)
        assert (loaded.codes, loaded.dim, loaded.ids[:2], loaded.labels[:2], loaded.paths[:1]) == (
            kind, 8, ["img0", "img1"], [0, 1], ["/x/0.jpg"])
        assert loaded.info["feat"] == "f.pickle" and loaded.info["codes"] == kind
        expected, got = index.search(database[:5], 10), loaded.search(database[:5], 10)
        np.testing.assert_array_equal(expected.indices, got.indices)


def test_file_of_another_version_is_refused(tmp_path):
    path = str(tmp_path / "index.npz")
    save_index(build_index(np.eye(8)), path)
    with np.load(path) as archive:
        arrays = dict(archive)
    arrays["version"] = np.array(INDEX_VERSION + 1)
    other = str(tmp_path / "other.npz")
    np.savez(other, **arrays)
    with pytest.raises(ValueError, match=r"other\.npz: index format version {}.*reads version {}".format(
            INDEX_VERSION + 1, INDEX_VERSION)):
        load_index(other)
    not_index = tmp_path / "not.npz"
    np.savez(str(not_index), feat=np.eye(3))
    with pytest.raises(ValueError, match="not.npz: not an index file"):
        load_index(str(not_index))
    (tmp_path / "garbage.npz").write_text(json.dumps({"a": 1}))
    with pytest.raises(ValueError, match="garbage.npz: not an index file"):
        load_index(str(tmp_path / "garbage.npz"))


def test_bad_queries_and_sizes():
    index = build_index(np.random.default_rng(5).standard_normal((300, 16)))
    with pytest.raises(ValueError, match="q.pickle have 8 dimensions.*16-dimensional"):
        index.search(np.ones((2, 8)), 5, what="q.pickle")
    with pytest.raises(ValueError, match=r"\b12\b.*multiple of 8"):
        build_index(np.ones((10, 12)), codes="binary")
    with pytest.raises(ValueError, match="12 bytes.*16"):
        build_index(np.ones((300, 16)), codes="pq", num_bytes=12)
    with pytest.raises(ValueError, match="unknown kind of codes 'lsh'"):
        build_index(np.ones((10, 8)), codes="lsh")
    with pytest.raises(ValueError, match="3 labels for an index of 300"):
        build_index(np.ones((300, 8)), labels=[1, 2, 3])


def test_mean_ahp_at_k_equals_the_metrics_package():
    """search.scores against metrics.hierarchical_precision (the original's ranked-list API) on full rankings
    of a database that does not hold the queries."""
    import metrics
    from class_hierarchy import ClassHierarchy
    from search import scores

    hierarchy = ClassHierarchy({0: [10], 1: [10], 2: [11], 3: [11], 10: [12], 11: [12]},
                               {10: [0, 1], 11: [2, 3], 12: [10, 11]})
    rng = np.random.default_rng(0)
    db_labels = rng.integers(0, 4, size=60)
    query_labels = rng.integers(0, 4, size=7)
    rankings = np.array([rng.permutation(60) for _ in range(7)])
    k = 25
    labels = {i: int(c) for i, c in enumerate(db_labels)}
    labels.update({100 + q: int(c) for q, c in enumerate(query_labels)})
    retrieved = {100 + q: list(r) for q, r in enumerate(rankings)}
    expected, _ = metrics.hierarchical_precision(hierarchy, retrieved, labels, ks=[1], compute_ahp=k,
                                                 ignore_qids=False)
    similarity = 1.0 - hierarchy.lcs_height_matrix([0, 1, 2, 3])
    got = scores.mean_ahp_at_k(query_labels, db_labels[rankings], similarity, np.bincount(db_labels, minlength=4), k)
    assert got == pytest.approx(expected["AHP@{} (LCS_HEIGHT)".format(k)], abs=1e-12)
    assert scores.overlap_at_k(rankings, rankings[:, ::-1], 30) == 0.0
    assert scores.overlap_at_k(rankings, rankings, 30) == 1.0


def test_binary_ivf_searching_all_cells_is_the_exact_hamming_search():
    rng = np.random.default_rng(6)
    database, queries = rng.standard_normal((1000, 16)), rng.standard_normal((10, 16))
    exact = build_index(database, codes="binary").search(queries, 50)
    index = build_index(database, codes="binary_ivf", nlist=8, nprobe=2)
    assert index.info["nlist"] == 8 and index.code_bytes == 2
    approximate = index.search(queries, 50)
    assert (approximate.indices >= -1).all()
    result = index.search(queries, 50, nprobe=8)
    np.testing.assert_array_equal(result.similarities, exact.similarities)
    # which of the images tied at the 50th place come is up to faiss's IVF; all above it are the same
    above = exact.similarities > exact.similarities[:, -1:]
    np.testing.assert_array_equal(result.indices[above], exact.indices[above])
    for sims, found in zip(result.similarities, result.indices):  # ordered by (similarity, row), no repeats
        keys = list(zip(-sims, found))
        assert keys == sorted(keys) and len(set(found)) == 50
