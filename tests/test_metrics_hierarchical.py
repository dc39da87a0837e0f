"""Mistake severity, hierarchical distance@k and CRM against brute-force loops and hand computations."""

import math
import os

import numpy as np
import pytest

import metrics
from class_hierarchy import ClassHierarchy
from conftest import REPO_ROOT

# Leaves 1..5; inner nodes 10, 11, 12 under the root 0. Heights: 12 -> 1, 10 -> 1, 11 -> 2, 0 -> 3.
TREE = "0 10\n0 11\n10 1\n10 2\n11 3\n11 12\n12 4\n12 5\n"
DAG = TREE + "10 5\n"
# Three classes: A = 1 under the root 0; B = 2 and C = 3 under M = 10. Heights: M 1, root 2.
THREE = "0 1\n0 10\n10 2\n10 3\n"


def hierarchy_from(tmp_path, text, name="h.txt"):
    path = tmp_path / name
    path.write_text(text)
    return ClassHierarchy.from_file(str(path), id_type=int)


@pytest.fixture(scope="module")
def cifar100():
    return ClassHierarchy.from_file(os.path.join(REPO_ROOT, "Cifar-Hierarchy", "cifar.parent-child.txt"), id_type=int)


def brute_height(hierarchy, a, b):
    """Height in edges of the LCS, by the per-pair definition."""
    return hierarchy.heights[hierarchy.lcs(a, b)]


def brute_ranking(score_row):
    """Classes by descending score, ties by ascending index, by a Python sort."""
    return sorted(range(len(score_row)), key=lambda c: (-score_row[c], c))


def brute_metrics(hierarchy, ids, y_true, scores, ks):
    """Mistake severity and hierarchical distance@k by loops over images and ranked classes."""
    mistakes, distances = [], {k: [] for k in ks}
    for t, row in zip(y_true, scores):
        ranking = brute_ranking(row)
        if ranking[0] != t:
            mistakes.append(brute_height(hierarchy, ids[t], ids[ranking[0]]))
        for k in ks:
            distances[k].append(sum(brute_height(hierarchy, ids[t], ids[c]) for c in ranking[:k]) / k)
    out = {"Mistake Severity": sum(mistakes) / len(mistakes) if mistakes else math.nan}
    out.update({"Hierarchical Distance@{}".format(k): sum(v) / len(v) for k, v in distances.items()})
    return out


@pytest.mark.parametrize("text", [TREE, DAG])
def test_lca_heights_match_per_pair_definition(tmp_path, text):
    hierarchy = hierarchy_from(tmp_path, text)
    ids = [1, 2, 3, 4, 5, 10, 12]
    heights = metrics.lca_heights(hierarchy, ids)
    expected = [[brute_height(hierarchy, a, b) for b in ids] for a in ids]
    np.testing.assert_array_equal(heights, expected)
    np.testing.assert_array_equal(metrics.lca_heights(hierarchy, ids[:2], ids), heights[:2])
    assert heights[0, 2] == 3 and heights[0, 1] == 1 and heights[3, 4] == 1  # hand: root 3, node 10 and 12: 1


def test_lca_heights_on_cifar100_tree(cifar100):
    ids = sorted(cifar100.leaves())
    heights = metrics.lca_heights(cifar100, ids)
    rng = np.random.default_rng(1)
    for a, b in rng.integers(0, len(ids), size=(300, 2)):
        assert heights[a, b] == brute_height(cifar100, ids[a], ids[b])
    assert (np.diag(heights) == 0).all() and (heights + np.eye(len(ids)) >= 1).all()


@pytest.mark.parametrize("num_classes", [100, 12])
def test_classification_metrics_match_brute_force(cifar100, num_classes):
    rng = np.random.default_rng(num_classes)
    ids = rng.permutation(sorted(cifar100.leaves()))[:num_classes].tolist()  # class index -> hierarchy id
    n = 120
    y_true = rng.integers(0, num_classes, size=n)
    scores = rng.integers(0, 4, size=(n, num_classes)).astype(np.float32)  # many ties
    scores[np.arange(n), y_true] += rng.integers(0, 3, size=n)  # some right, some wrong
    perf = metrics.classification_metrics(y_true, scores, cifar100, class_ids=ids)
    ks = [k for k in (1, 5, 20) if k <= num_classes]
    expected = brute_metrics(cifar100, ids, y_true, scores, ks)
    assert list(perf)[4:] == list(expected)
    for name, value in expected.items():
        assert perf[name] == pytest.approx(value, rel=1e-12), name
    assert perf["Accuracy"] == pytest.approx(np.mean([brute_ranking(r)[0] == t for t, r in zip(y_true, scores)]))


def test_predicted_indices_give_severity_and_distance_at_1(cifar100):
    rng = np.random.default_rng(3)
    ids = sorted(cifar100.leaves())[:30]
    y_true = rng.integers(0, 30, size=60)
    y_pred = np.where(rng.random(60) < 0.5, y_true, rng.integers(0, 30, size=60))
    perf = metrics.classification_metrics(y_true, y_pred, cifar100, class_ids=ids)
    assert list(perf)[-2:] == ["Mistake Severity", "Hierarchical Distance@1"]
    wrong = [brute_height(cifar100, ids[t], ids[p]) for t, p in zip(y_true, y_pred) if t != p]
    assert perf["Mistake Severity"] == pytest.approx(np.mean(wrong))
    assert perf["Hierarchical Distance@1"] == pytest.approx(np.sum(wrong) / 60)
    with pytest.raises(ValueError, match="k=5 exceeds the 1 ranked classes"):
        metrics.classification_metrics(y_true, y_pred, cifar100, class_ids=ids, distance_ks=[5])


def test_no_mistakes_gives_nan_severity_and_zero_distance(tmp_path):
    tree = hierarchy_from(tmp_path, TREE)
    y_true = np.array([0, 1, 2, 3, 4])
    perf = metrics.classification_metrics(y_true, np.eye(5), tree, class_ids=[1, 2, 3, 4, 5])
    assert math.isnan(perf["Mistake Severity"])
    assert perf["Hierarchical Distance@1"] == 0.0
    # Top-5 of 5 classes: the mean height of the true class to all classes.
    heights = metrics.lca_heights(tree, [1, 2, 3, 4, 5])
    assert perf["Hierarchical Distance@5"] == pytest.approx(heights.mean())
    assert "Hierarchical Distance@20" not in perf


def test_bad_k_and_shapes_raise(tmp_path):
    tree = hierarchy_from(tmp_path, TREE)
    scores = np.eye(5)
    with pytest.raises(ValueError, match="k=20 exceeds the 5 classes"):
        metrics.classification_metrics(np.arange(5), scores, tree, class_ids=[1, 2, 3, 4, 5], distance_ks=[1, 20])
    with pytest.raises(ValueError, match="k=0 is not a positive integer"):
        metrics.classification_metrics(np.arange(5), scores, tree, class_ids=[1, 2, 3, 4, 5], distance_ks=[0])
    heights = metrics.lca_heights(tree, [1, 2, 3, 4, 5])
    with pytest.raises(ValueError, match="true label 7"):
        metrics.mistake_severity([7], [0], heights)


# ---------------------------------------------------------------------------
# Conditional risk minimization
# ---------------------------------------------------------------------------


def test_crm_hand_computed_changes_the_top1_prediction(tmp_path):
    three = hierarchy_from(tmp_path, THREE)
    heights = metrics.lca_heights(three, [1, 2, 3])
    np.testing.assert_array_equal(heights, [[0, 2, 2], [2, 0, 1], [2, 1, 0]])
    p = np.array([[0.4, 0.3, 0.3]])
    # Risks: A 0.3*2 + 0.3*2 = 1.2; B 0.4*2 + 0.3*1 = 1.1; C 0.4*2 + 0.3*1 = 1.1 (a tie: B, the lower index, first).
    scores = metrics.crm_scores(p, heights)
    np.testing.assert_allclose(scores, [[-1.2, -1.1, -1.1]], rtol=1e-15)
    assert metrics.rank_classes(p)[0].tolist() == [0, 1, 2]
    assert metrics.rank_classes(scores)[0].tolist() == [1, 2, 0]
    plain = metrics.classification_metrics([1], p, three, class_ids=[1, 2, 3])
    crm = metrics.classification_metrics([1], scores, three, class_ids=[1, 2, 3])
    assert plain["Accuracy"] == 0.0 and plain["Mistake Severity"] == 2.0
    assert crm["Accuracy"] == 1.0 and math.isnan(crm["Mistake Severity"])


def test_crm_matches_double_loop(cifar100):
    rng = np.random.default_rng(5)
    ids = sorted(cifar100.leaves())[::3]
    c = len(ids)
    p = rng.dirichlet(np.full(c, 0.2), size=40)
    heights = metrics.lca_heights(cifar100, ids)
    scores = metrics.crm_scores(p.astype(np.float32), heights)
    p32 = p.astype(np.float32).astype(np.float64)
    for n in range(len(p)):
        for j in range(c):
            risk = sum(p32[n, i] * brute_height(cifar100, ids[i], ids[j]) for i in range(c))
            assert scores[n, j] == pytest.approx(-risk, rel=1e-12, abs=1e-12)
    # CRM changes some top-1 predictions, never to a class of higher expected LCA height than the argmax's.
    crm_top, plain_top = metrics.rank_classes(scores, 1)[:, 0], metrics.rank_classes(p, 1)[:, 0]
    assert (crm_top != plain_top).any()
    rows = np.arange(len(p))
    assert (scores[rows, crm_top] >= scores[rows, plain_top]).all()


def test_crm_of_one_hot_probabilities_ranks_by_height_then_index(cifar100):
    ids = sorted(cifar100.leaves())[:25]
    heights = metrics.lca_heights(cifar100, ids)
    p = np.eye(25)[[3, 17]]
    ranking = metrics.rank_classes(metrics.crm_scores(p, heights))
    for row, t in zip(ranking, [3, 17]):
        assert row.tolist() == sorted(range(25), key=lambda j: (brute_height(cifar100, ids[t], ids[j]), j))


def test_crm_rejects_non_probabilities():
    heights = np.array([[0.0, 1.0], [1.0, 0.0]])
    with pytest.raises(ValueError, match="image 1 sum to 3"):
        metrics.crm_scores([[0.5, 0.5], [1.0, 2.0]], heights)
    with pytest.raises(ValueError, match="image 0 are negative"):
        metrics.crm_scores([[-0.5, 1.5]], heights)
    with pytest.raises(ValueError, match=r"shape \(3, 3\) for 2 classes"):
        metrics.crm_scores([[0.5, 0.5]], np.zeros((3, 3)))
