"""Retrieval and classification metrics against a literal, slow reference and hand-computed cases."""

import math

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

import metrics
from class_hierarchy import ClassHierarchy
from conftest import reference_file

TOL = 1e-9

# Leaves 1..5; inner nodes 10, 11, 12 under the root 0. Heights: 12 -> 1, 10 -> 1, 11 -> 2, 0 -> 3.
TREE = """
0 10
0 11
10 1
10 2
11 3
11 12
12 4
12 5
"""
# The same with a second parent for 5 (not a tree, as WordNet).
DAG = TREE + "10 5\n"


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    path = tmp_path_factory.mktemp("h") / "tree.txt"
    path.write_text(TREE)
    return ClassHierarchy.from_file(str(path), id_type=int)


@pytest.fixture(scope="module")
def dag(tmp_path_factory):
    path = tmp_path_factory.mktemp("h") / "dag.txt"
    path.write_text(DAG)
    return ClassHierarchy.from_file(str(path), id_type=int)


# ---------------------------------------------------------------------------
# The slow reference: the definitions, literally, one query at a time with Python lists
# ---------------------------------------------------------------------------


def slow_hierarchical_precision(hierarchy, retrieved, labels, ks, compute_ahp=False, compute_ap=False,
                                ignore_qids=True, all_ids=None):
    """Per-query loop following the original release's definitions (see metrics' module docstring)."""
    types = {"WUP": hierarchy.wup_similarity, "LCS_HEIGHT": lambda a, b: 1.0 - hierarchy.lcs_height(a, b)}
    values = {}
    best = {}
    for qid, ret in retrieved.items():
        lbl = labels[qid]
        ret = list(ret)
        if all_ids and len(ret) < len(all_ids):
            ret = ret + [i for i in all_ids if i not in ret]
        sims = {t: [f(lbl, labels[r]) for r in ret] for t, f in types.items()}
        if lbl not in best:  # the ideal ranking comes from the first query of each label
            best[lbl] = {t: np.cumsum(sorted(s, reverse=True)) for t, s in sims.items()}
        ideal = dict(best[lbl])
        if ignore_qids and qid in ret:
            q = ret.index(qid)
            for t in types:
                del sims[t][q]
                ideal[t] = np.concatenate((ideal[t][:q], ideal[t][q + 1:] - 1.0))
        for t, s in sims.items():
            for k in ks:
                values.setdefault("P@{} ({})".format(k, t), []).append(sum(s[:k]) / ideal[t][k - 1])
            if compute_ahp is True:
                curve = [sum(s[:i + 1]) / ideal[t][i] for i in range(len(s))]
                values.setdefault("AHP ({})".format(t), []).append(np.trapezoid(curve, dx=1.0 / len(s)))
            elif compute_ahp:
                K = compute_ahp
                curve = [sum(s[:i + 1]) / ideal[t][i] for i in range(K)]
                values.setdefault("AHP@{} ({})".format(K, t), []).append(np.trapezoid(curve, dx=1.0 / K))
        if compute_ap:
            kept = [r for r in ret if not ignore_qids or r != qid]
            relevant = [labels[r] == lbl for r in kept]
            values.setdefault("AP", []).append(
                average_precision_score(relevant, [-i for i in range(len(kept))]) if any(relevant) else 0.0)
    return {m: sum(v) / len(v) for m, v in values.items()}, values


def slow_rankings(features, norm=False):
    """All-pairs rankings by exact distances (float64 of exactly representable inputs), stable on ties."""
    x = np.asarray(features, dtype=np.float64)
    if norm:
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
    rankings = {}
    for q in range(len(x)):
        dist = -(x @ x[q]) if norm else ((x - x[q]) ** 2).sum(axis=1)
        rankings[q] = np.argsort(dist, kind="stable").tolist()
    return rankings


def assert_close(fast, slow):
    assert set(fast) == set(slow)
    for name in slow:
        both_nan = math.isnan(fast[name]) and math.isnan(slow[name])  # 0/0 ideal: NaN in the original too
        assert both_nan or math.isclose(fast[name], slow[name], rel_tol=0, abs_tol=TOL), (name, fast[name], slow[name])


# ---------------------------------------------------------------------------
# Hand-computed cases: checks of the reference itself and of the fast code
# ---------------------------------------------------------------------------


def test_hand_computed_case(tree):
    # Images 0..3 with classes 1, 1, 2, 3. Query 0 retrieves [1, 2, 3] (itself missing: appended at the end
    # through all_ids, then removed). LCS_HEIGHT similarities to class 1: class 1 -> 1, class 2 -> 1 - 1/3,
    # class 3 -> 0.
    labels = [1, 1, 2, 3]
    retrieved = {0: [1, 2, 3]}
    means, _ = metrics.hierarchical_precision(tree, retrieved, labels, ks=[1, 2, 3], compute_ahp=True,
                                              compute_ap=True, all_ids=[0, 1, 2, 3])
    # Ideal over all 4 images: [1, 1, 2/3, 0] -> cum [1, 2, 8/3, 8/3]; query at position 3 -> [1, 2, 8/3].
    assert means["P@1 (LCS_HEIGHT)"] == pytest.approx(1.0)
    assert means["P@2 (LCS_HEIGHT)"] == pytest.approx((1 + 2 / 3) / 2)
    assert means["P@3 (LCS_HEIGHT)"] == pytest.approx((5 / 3) / (8 / 3))
    curve = [1.0, (5 / 3) / 2, (5 / 3) / (8 / 3)]
    assert means["AHP (LCS_HEIGHT)"] == pytest.approx((sum(curve) - (curve[0] + curve[-1]) / 2) / 3)
    # WUP(1, 2) = 2 * depth(10) / (3 + 3) = 2/3 as well; WUP(1, 3) = 2 * 1 / (3 + 3) = 1/3.
    # Ideal [1, 1, 2/3, 1/3] -> cum [1, 2, 8/3, 3] -> [1, 2, 8/3] without the query.
    assert means["P@3 (WUP)"] == pytest.approx((1 + 2 / 3 + 1 / 3) / (8 / 3))
    assert means["AP"] == pytest.approx(1.0)

    # Images of classes 1, 5, 2, 4; query 3 (class 4) ranks itself second: [0, 3, 1, 2].
    # LCS_HEIGHT similarities to class 4: class 1 -> 0, class 4 -> 1, class 5 -> 1 - 1/3 (LCS 12), class 2 -> 0.
    labels = [1, 5, 2, 4]
    means, _ = metrics.hierarchical_precision(tree, {3: [0, 3, 1, 2]}, labels, ks=[1, 2, 3], compute_ap=True)
    # Ideal [1, 2/3, 0, 0] -> cum [1, 5/3, 5/3, 5/3]; query at position 1 -> concat([1], [5/3, 5/3] - 1).
    # The ranking without the query: 0, 2/3, 0.
    assert means["P@1 (LCS_HEIGHT)"] == 0.0
    assert means["P@2 (LCS_HEIGHT)"] == pytest.approx(1.0)
    assert means["P@3 (LCS_HEIGHT)"] == pytest.approx(1.0)
    assert means["AP"] == 0.0  # no other image of class 4


def test_slow_reference_matches_hand_case(tree):
    labels = [1, 1, 2, 3]
    slow, _ = slow_hierarchical_precision(tree, {0: [1, 2, 3]}, labels, [2], True, True, all_ids=[0, 1, 2, 3])
    assert slow["P@2 (LCS_HEIGHT)"] == pytest.approx((1 + 2 / 3) / 2)
    assert slow["AP"] == pytest.approx(1.0)


def test_self_similarity_quirk_with_inner_node_labels(tree):
    # Class 12 is an inner node (height 1): its LCS_HEIGHT self-similarity is 2/3, yet the original
    # subtracts 1.0 from the ideal curve when removing the query. Both codes must agree on that.
    labels = [12, 12, 4, 3, 1]
    rankings = {0: [0, 1, 2, 3, 4], 1: [2, 1, 0, 4, 3], 2: [3, 2, 4, 1, 0]}
    fast, _ = metrics.hierarchical_precision(tree, rankings, labels, ks=[1, 2, 3], compute_ahp=True, compute_ap=True)
    slow, _ = slow_hierarchical_precision(tree, rankings, labels, [1, 2, 3], True, True)
    assert_close(fast, slow)


# ---------------------------------------------------------------------------
# Explicit rankings: fast == slow on random cases
# ---------------------------------------------------------------------------


def random_case(rng, n, classes, absent_query=True, truncate=False):
    labels = rng.choice(classes, size=n).tolist()
    retrieved = {}
    for q in rng.permutation(n)[: n // 2].tolist():
        ranking = rng.permutation(n).tolist()
        if truncate:
            ranking = ranking[: rng.integers(n // 2, n)]
        retrieved[q] = ranking
    if absent_query:  # one query absent from its own ranking (the last: the first of a label sets the ideal)
        q = list(retrieved)[-1]
        retrieved[q] = [r for r in retrieved[q] if r != q]
    return labels, retrieved


@pytest.mark.parametrize("hierarchy_name", ["tree", "dag"])
@pytest.mark.parametrize("compute_ahp", [True, 7, False])
def test_hierarchical_precision_matches_slow_reference(request, hierarchy_name, compute_ahp):
    hierarchy = request.getfixturevalue(hierarchy_name)
    rng = np.random.default_rng(3)
    for trial in range(3):
        labels, retrieved = random_case(rng, 40, [1, 2, 3, 4, 5, 12], truncate=trial % 2 == 1)
        all_ids = list(range(40)) if trial % 2 == 1 else None
        for ignore_qids in (True, False):
            kwargs = dict(compute_ahp=compute_ahp, compute_ap=True, ignore_qids=ignore_qids, all_ids=all_ids)
            ks = [1, 3, 10, 20]
            fast, fast_per_query = metrics.hierarchical_precision(hierarchy, retrieved, labels, ks, **kwargs)
            slow, slow_values = slow_hierarchical_precision(hierarchy, retrieved, labels, ks, **kwargs)
            assert_close(fast, slow)
            for name, values in slow_values.items():
                np.testing.assert_allclose(list(fast_per_query[name].values()), values, rtol=0, atol=TOL)


def test_hierarchical_precision_accepts_generators_dict_labels_and_str_ids(tmp_path):
    path = tmp_path / "h.txt"
    path.write_text("\n".join(" ".join("n" + w for w in line.split()) for line in TREE.strip().splitlines()))
    hierarchy = ClassHierarchy.from_file(str(path))
    rng = np.random.default_rng(0)
    labels_list, retrieved = random_case(rng, 30, ["n1", "n2", "n3", "n4", "n5"])
    labels = {"img{}".format(i): lbl for i, lbl in enumerate(labels_list)}
    retrieved = {"img{}".format(q): ["img{}".format(r) for r in ret] for q, ret in retrieved.items()}
    all_ids = list(labels)
    fast, _ = metrics.hierarchical_precision(hierarchy, (item for item in retrieved.items()), labels, [1, 5],
                                             compute_ahp=True, compute_ap=True, all_ids=all_ids)
    slow, _ = slow_hierarchical_precision(hierarchy, retrieved, labels, [1, 5], True, True, all_ids=all_ids)
    assert_close(fast, slow)


def test_hierarchical_precision_metric_names_and_order(tree):
    labels, retrieved = random_case(np.random.default_rng(1), 20, [1, 2, 3])
    means, per_query = metrics.hierarchical_precision(tree, retrieved, labels, ks=[1, 10], compute_ahp=5,
                                                      compute_ap=True, all_ids=list(range(20)))
    assert list(means) == ["P@1 (WUP)", "P@1 (LCS_HEIGHT)", "P@10 (WUP)", "P@10 (LCS_HEIGHT)",
                           "AHP@5 (WUP)", "AHP@5 (LCS_HEIGHT)", "AP"]
    assert set(per_query["AP"]) == set(retrieved)


def test_hierarchical_precision_rejects_bad_input(tree):
    labels = [1, 2, 3]
    with pytest.raises(ValueError, match="cut-off point 5"):
        metrics.hierarchical_precision(tree, {0: [0, 1, 2]}, labels, ks=[5])
    with pytest.raises(ValueError, match="image 7"):
        metrics.hierarchical_precision(tree, {0: [0, 7, 2]}, labels, ks=[1])
    with pytest.raises(ValueError, match="positive integer"):
        metrics.hierarchical_precision(tree, {0: [0, 1, 2]}, labels, ks=[0])
    with pytest.raises(ValueError, match="not in the hierarchy"):
        metrics.hierarchical_precision(tree, {0: [0, 1]}, [1, 99], ks=[1])


# ---------------------------------------------------------------------------
# All queries from features: fast == slow on random features with many exact ties
# ---------------------------------------------------------------------------


def tied_features(rng, n, dim, dtype):
    """Small integers (exact in float32 distances), many duplicate rows: lots of exactly tied distances."""
    base = rng.integers(-2, 3, size=(n // 3, dim))
    features = base[rng.integers(0, len(base), size=n)]
    return features.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("clip_ahp", [None, 12])
def test_retrieval_metrics_match_slow_reference_with_ties(tree, dtype, clip_ahp):
    rng = np.random.default_rng(7)
    n = 90
    labels = rng.choice([1, 2, 3, 4, 5, 12], size=n).tolist()
    features = tied_features(rng, n, 3, dtype)
    ks = [1, 2, 5, 10, 30]
    # Small chunks: several chunks per class, so that the chunking is exercised.
    fast, per_query = metrics.retrieval_metrics(features, labels, tree, ks=ks, clip_ahp=clip_ahp, chunk_size=4,
                                                return_per_query=True)
    slow, slow_values = slow_hierarchical_precision(tree, slow_rankings(features), labels, ks,
                                                    compute_ahp=clip_ahp or True, compute_ap=True,
                                                    all_ids=list(range(n)))
    assert_close(fast, slow)
    np.testing.assert_allclose(per_query["AP"][list(range(n))], slow_values["AP"], rtol=0, atol=TOL)
    assert list(fast) == metrics.metric_names(ks, clip_ahp or True, True)


def test_retrieval_metrics_normalized_match_slow_reference(dag):
    rng = np.random.default_rng(11)
    n = 60
    # Vectors with 1 or 4 entries of +-1: norms 1 and 2, so normalization and dot products are exact.
    features = np.zeros((n, 6), dtype=np.float32)
    for i in range(n):
        idx = rng.choice(6, size=rng.choice([1, 4]), replace=False)
        features[i, idx] = rng.choice([-1.0, 1.0], size=len(idx))
    labels = rng.choice([1, 2, 3, 4, 5], size=n).tolist()
    fast = metrics.retrieval_metrics(features, labels, dag, ks=[1, 5, 20], norm=True, chunk_size=7)
    slow, _ = slow_hierarchical_precision(dag, slow_rankings(features, norm=True), labels, [1, 5, 20],
                                          compute_ahp=True, compute_ap=True, all_ids=list(range(n)))
    assert_close(fast, slow)


def test_top_k_path_without_ap_matches_full_path(tree):
    rng = np.random.default_rng(5)
    features = tied_features(rng, 80, 2, np.float32)
    labels = rng.choice([1, 2, 3, 4, 5], size=80).tolist()
    evaluator = metrics.RetrievalEvaluator(tree, labels)
    top_k = evaluator.evaluate(features, ks=[1, 4, 9], compute_ahp=9, compute_ap=False)
    full = evaluator.evaluate(features, ks=[1, 4, 9], compute_ahp=9, compute_ap=True, chunk_size=3)
    slow, _ = slow_hierarchical_precision(tree, slow_rankings(features), labels, [1, 4, 9], compute_ahp=9,
                                          all_ids=list(range(80)))
    assert_close(top_k, slow)
    assert_close({m: full[m] for m in slow}, slow)


def test_query_not_first_in_its_own_ranking(tree):
    # Duplicates of image 0 with lower index cannot exist, but an exact duplicate with a *lower* index
    # ranks before the query (ties by index): image 1 is a copy of image 0 and queries 1 finds 0 first.
    features = np.array([[0.0], [0.0], [1.0], [3.0]], dtype=np.float32)
    labels = [1, 2, 1, 2]
    fast, per_query = metrics.retrieval_metrics(features, labels, tree, ks=[1, 2], return_per_query=True)
    slow, values = slow_hierarchical_precision(tree, slow_rankings(features), labels, [1, 2], True, True,
                                               all_ids=[0, 1, 2, 3])
    assert slow_rankings(features)[1][:2] == [0, 1]
    assert_close(fast, slow)


def test_rank_by_distance_is_stable_and_handles_signed_zero():
    rng = np.random.default_rng(2)
    for dtype in (np.float32, np.float64):
        d = rng.integers(-3, 4, size=(20, 50)).astype(dtype)
        d[d == 0] = np.where(rng.random((d == 0).sum()) < 0.5, -0.0, 0.0)
        expected = np.argsort(d, axis=1, kind="stable")
        np.testing.assert_array_equal(metrics.rank_by_distance(d), expected)
        np.testing.assert_array_equal(metrics.rank_by_distance(d, top=7), expected[:, :7])
    with pytest.raises(ValueError, match="non-finite"):
        metrics.rank_by_distance(np.array([[0.0, np.inf]], dtype=np.float32))


def test_head_and_member_ranks_equal_a_stable_argsort():
    # Small integers: many ties, at the head's threshold and among the members; negative values too.
    rng = np.random.default_rng(3)
    distances = rng.integers(-3, 4, size=(40, 60)).astype(np.float32)
    members = np.sort(rng.choice(60, size=15, replace=False))
    expected = np.argsort(distances, axis=1, kind="stable")
    positions = np.argsort(expected, axis=1)  # position of every image in each ranking
    for top in (1, 7, 59, 60):
        ranking, member_ranks = metrics.ranking._rank_head_and_members(distances, members, top)
        np.testing.assert_array_equal(ranking, expected[:, :top])
        np.testing.assert_array_equal(member_ranks, positions[:, members])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_distances_equal_the_original_numexpr_expression_bit_for_bit(dtype):
    # The same expression on the same dot products. (BLAS may round a product of a block of rows
    # differently from the product of the full matrix, as the original computed it: not ours to fix.)
    import numexpr

    rng = np.random.default_rng(4)
    features = (rng.standard_normal((300, 20)) * 10.0 ** rng.uniform(-3, 3, size=(300, 1))).astype(dtype)
    queries = rng.permutation(300)[:77]
    sq_norms = np.sum(features ** 2, axis=-1)
    expected = numexpr.evaluate("A + B - 2 * C", {"A": sq_norms[queries, None], "B": sq_norms[None, :],
                                                  "C": np.dot(features[queries], features.T)})
    np.testing.assert_array_equal(metrics._DistanceBlocks(features, norm=False)(queries), expected)
    normalized = features / np.linalg.norm(features, axis=-1, keepdims=True)
    np.testing.assert_array_equal(metrics._DistanceBlocks(features, norm=True)(queries),
                                  -np.dot(normalized[queries], normalized.T))


def test_retrieval_metrics_reject_bad_features(tree):
    labels = [1, 2, 3]
    good = np.eye(3, dtype=np.float32)
    with pytest.raises(ValueError, match="feature vector 1 contains NaN"):
        metrics.retrieval_metrics(np.array([[0.0], [np.nan], [1.0]]), labels, tree, ks=[1])
    with pytest.raises(ValueError, match="2 feature vectors for 3"):
        metrics.retrieval_metrics(good[:2], labels, tree, ks=[1])
    with pytest.raises(ValueError, match="cut-off point 3"):
        metrics.retrieval_metrics(good, labels, tree, ks=[3])
    with pytest.raises(ValueError, match="unknown metric type 'FOO'"):
        metrics.retrieval_metrics(good, labels, tree, ks=[1], prec_types=["FOO"])
    with pytest.raises(ValueError, match="zero"):
        metrics.retrieval_metrics(np.zeros((3, 2)), labels, tree, ks=[1], norm=True)
    with pytest.raises(ValueError, match="too large"):
        metrics.retrieval_metrics(np.full((3, 2), 1e30, dtype=np.float32), labels, tree, ks=[1])


def test_similarity_rows_in_blocks_equal_full_matrix(tree):
    ids = [1, 2, 3, 4, 5, 12, 10]
    full = metrics._SimilarityRows(tree, ids, metrics.PREC_TYPES)
    blocked = metrics._SimilarityRows(tree, ids, metrics.PREC_TYPES, block=3, max_blocks=1)
    for c in [0, 6, 3, 1, 5]:
        for t in metrics.PREC_TYPES:
            np.testing.assert_array_equal(blocked(c)[t], full(c)[t])
            expected = [tree.wup_similarity(ids[c], b) if t == "WUP" else 1.0 - tree.lcs_height(ids[c], b) for b in ids]
            np.testing.assert_array_equal(full(c)[t], expected)


def test_real_cifar100_hierarchy_matches_slow_reference():
    hierarchy = ClassHierarchy.from_file(reference_file("cifar100", "cifar.parent-child.txt"), id_type=int)
    rng = np.random.default_rng(0)
    n = 150
    labels = rng.choice(100, size=n).tolist()
    features = (rng.integers(0, 4, size=(n, 4)) + np.array(labels)[:, None] // 20).astype(np.float32)
    fast = metrics.retrieval_metrics(features, labels, hierarchy, ks=[1, 10, 50], clip_ahp=40)
    slow, _ = slow_hierarchical_precision(hierarchy, slow_rankings(features), labels, [1, 10, 50], 40, True,
                                          all_ids=list(range(n)))
    assert_close(fast, slow)


# ---------------------------------------------------------------------------
# Classification metrics
# ---------------------------------------------------------------------------


def test_classification_metrics_hand_computed(tree):
    # Classes 0..2 are the hierarchy nodes 1, 2, 3.
    y_true = [0, 0, 1, 2]
    scores = np.array([
        [0.9, 0.1, 0.0],   # predicts 0: correct
        [0.2, 0.7, 0.1],   # predicts 1 (true 0): lcs(1, 2) = 10, height 1 -> similarity 2/3
        [0.3, 0.3, 0.4],   # predicts 2 (true 1): lcs(3, 2) = root -> similarity 0
        [0.5, 0.5, 0.5],   # all tied: predicts 0 (lower index wins), true 2: similarity 0
    ])
    perf = metrics.classification_metrics(y_true, scores, tree, class_ids=[1, 2, 3])
    # Only k = 1 of the hierarchical distances 1, 5, 20: there are 3 classes.
    assert list(perf) == ["Accuracy", "Top-5 Accuracy", "Avg. Accuracy", "Hierarchical Accuracy", "Mistake Severity",
                          "Hierarchical Distance@1"]
    assert perf["Accuracy"] == pytest.approx(1 / 4)
    assert perf["Top-5 Accuracy"] == 1.0  # only 3 classes
    assert perf["Avg. Accuracy"] == pytest.approx((1 / 2 + 0 + 0) / 3)
    assert perf["Hierarchical Accuracy"] == pytest.approx((1 + 2 / 3 + 0 + 0) / 4)
    # LCA heights in edges: lcs(1, 2) = 10 has height 1, lcs(1 or 2, 3) = root 0 has height 3.
    assert perf["Mistake Severity"] == pytest.approx((1 + 3 + 3) / 3)
    assert perf["Hierarchical Distance@1"] == pytest.approx((0 + 1 + 3 + 3) / 4)
    # Rankings [0 1 2], [1 0 2], [2 0 1], [0 1 2]: top-2 heights (0, 1), (1, 0), (3, 1), (3, 3).
    perf = metrics.classification_metrics(y_true, scores, tree, class_ids=[1, 2, 3], distance_ks=[2])
    assert perf["Hierarchical Distance@2"] == pytest.approx((1 / 2 + 1 / 2 + 4 / 2 + 6 / 2) / 4)
    assert "Hierarchical Distance@1" not in perf


def test_classification_metrics_top5_and_predictions():
    rng = np.random.default_rng(0)
    scores = rng.random((50, 8))
    y_true = rng.integers(0, 8, size=50)
    perf = metrics.classification_metrics(y_true, scores)
    ranks = [sorted(range(8), key=lambda c: -s[c]) for s in scores]
    assert perf["Top-5 Accuracy"] == pytest.approx(np.mean([t in r[:5] for t, r in zip(y_true, ranks)]))
    assert perf["Accuracy"] == pytest.approx(np.mean([t == r[0] for t, r in zip(y_true, ranks)]))
    per_class = [np.mean([r[0] == c for t, r in zip(y_true, ranks) if t == c]) for c in sorted(set(y_true))]
    assert perf["Avg. Accuracy"] == pytest.approx(np.mean(per_class))
    assert "Hierarchical Accuracy" not in perf
    preds = np.argmax(scores, axis=1)
    assert metrics.classification_metrics(y_true, preds)["Accuracy"] == perf["Accuracy"]
    with pytest.raises(ValueError, match="true label 9"):
        metrics.classification_metrics([9] + [0] * 49, scores)
