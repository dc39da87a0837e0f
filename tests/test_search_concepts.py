"""search.concepts: concept vectors, AP and concept mAP against hand computations; name resolution."""

import os

import numpy as np
import pytest

from class_hierarchy import ClassHierarchy
from search import concepts


def tree(edges):
    parents, children = {}, {}
    for parent, child in edges:
        parents.setdefault(child, []).append(parent)
        children.setdefault(parent, []).append(child)
    return ClassHierarchy(parents, children)


# root -> A (a1, a2), B (b1, Y (y1, y2, y3))
EDGES = [("root", "A"), ("root", "B"), ("A", "a1"), ("A", "a2"), ("B", "b1"), ("B", "Y"),
         ("Y", "y1"), ("Y", "y2"), ("Y", "y3")]
CLASSES = ["a1", "a2", "b1", "y1", "y2", "y3"]


def test_average_precision_by_hand():
    # relevant at ranks 1, 3, 6: (1/1 + 2/3 + 3/6) / 3
    assert concepts.average_precision([1, 0, 1, 0, 0, 1]) == pytest.approx((1 + 2 / 3 + 3 / 6) / 3)
    assert concepts.average_precision([0, 0]) == 0.0
    assert concepts.average_precision([1, 1, 0]) == 1.0


def test_concept_vectors_by_hand():
    hierarchy, embedding = tree(EDGES), np.eye(6)
    mean_b = concepts.concept_vector(hierarchy, "B", embedding, CLASSES, "mean")
    np.testing.assert_allclose(mean_b, [0, 0, 0.5, 0.5, 0.5, 0.5], atol=1e-7)
    # balanced: b1 and Y weigh the same: mean(e_b1, (e_y1 + e_y2 + e_y3) / sqrt(3)), normalized
    balanced_b = concepts.concept_vector(hierarchy, "B", embedding, CLASSES, "balanced")
    expected = np.array([0, 0, 1, 1 / np.sqrt(3), 1 / np.sqrt(3), 1 / np.sqrt(3)])
    np.testing.assert_allclose(balanced_b, expected / np.linalg.norm(expected), atol=1e-7)
    # minimax of orthonormal classes: the same similarity 1/sqrt(n) to each of them
    np.testing.assert_allclose(concepts.concept_vector(hierarchy, "B", embedding, CLASSES, "minimax"),
                               [0, 0, 0.5, 0.5, 0.5, 0.5], atol=1e-6)
    # medoid: the class nearest to the mean; here all tie: the first of them
    np.testing.assert_allclose(concepts.concept_vector(hierarchy, "B", embedding, CLASSES, "medoid"), embedding[2])
    skewed = embedding.copy()
    skewed[4] = [0, 0, 0, 0.6, 0.8, 0]  # y2 and y3 lean towards y1: y1 is nearest to B's mean
    skewed[5] = [0, 0, 0, 0.6, 0, 0.8]  # (mean . y1 = 2.2, . y2 = . y3 = 1.96, . b1 = 1, up to a factor)
    np.testing.assert_allclose(concepts.concept_vector(hierarchy, "B", skewed, CLASSES, "medoid"), skewed[3])
    # a class is its own (normalized) embedding
    np.testing.assert_allclose(concepts.concept_vector(hierarchy, "y2", 3 * embedding, CLASSES, "mean"), embedding[4])
    with pytest.raises(ValueError, match="unknown concept vector 'median'"):
        concepts.concept_vector(hierarchy, "B", embedding, CLASSES, "median")
    with pytest.raises(ValueError, match="no class of the class embedding below"):
        concepts.concept_vector(hierarchy, "A", embedding[2:], CLASSES[2:], "mean")


def test_minimax_against_sampled_unit_vectors():
    rng = np.random.default_rng(0)
    hierarchy = tree([("r", "c{}".format(i)) for i in range(5)])
    names = ["c{}".format(i) for i in range(5)]
    samples = rng.standard_normal((200000, 3))
    samples /= np.linalg.norm(samples, axis=1, keepdims=True)
    for _ in range(3):
        embedding = rng.standard_normal((5, 3)) + [1.5, 0, 0]
        unit = embedding / np.linalg.norm(embedding, axis=1, keepdims=True)
        v = concepts.concept_vector(hierarchy, "r", embedding, names, "minimax")
        best_sampled = (samples @ unit.T).min(axis=1).max()
        assert (unit @ v).min() >= best_sampled - 1e-6  # no sampled direction does better
        assert (unit @ v).min() <= best_sampled + 1e-2  # and the sampling comes close to it
        mean = concepts.concept_vector(hierarchy, "r", embedding, names, "mean")
        assert (unit @ v).min() >= (unit @ mean).min() - 1e-9


def test_concept_map_by_hand():
    hierarchy = tree(EDGES)
    embedding = np.eye(6)
    # images on the axes of their classes, one image moved towards another class: the ranking for a
    # concept is then known by hand
    labels = ["a1", "a2", "b1", "y1", "a1"]
    features = np.array([
        [1, 0, 0, 0, 0, 0],
        [0, 1, 0, 0, 0, 0],
        [0, 0, 1, 0, 0, 0],
        [0, 0, 0, 1, 0, 0],
        [0.6, 0, 0.8, 0, 0, 0],   # an a1 image that looks like b1
    ], dtype=float)
    results, nodes = concepts.concept_map(features, labels, hierarchy, embedding, CLASSES, methods=["mean"])
    # root covers every image and is left out; Y covers only y1 (a proper subset): scored
    assert set(nodes) == {"A", "B", "Y"}
    # A = (e_a1 + e_a2)/sqrt2: images 0, 1 (0.707), 4 (0.424), then 2, 3 (0): relevant 0, 1, 4 -> AP 1
    assert results["mean"]["AP"]["A"] == pytest.approx(1.0)
    # B = (e_b1 + e_y1 + e_y2 + e_y3)/2: image 2 (0.5), 3 (0.5), 4 (0.4), 0, 1 (0): relevant 2, 3 -> AP 1
    assert results["mean"]["AP"]["B"] == pytest.approx(1.0)
    # Y = (e_y1 + e_y2 + e_y3)/sqrt3: image 3 (0.577), then 0, 1, 2, 4 all 0 -> AP 1
    assert results["mean"]["AP"]["Y"] == pytest.approx(1.0)
    # a b1 image that looks like a1 comes before the misplaced a1 image in the ranking for A
    features2 = np.vstack([features, [0.8, 0, 0.6, 0, 0, 0]])
    labels2 = labels + ["b1"]
    results2, _ = concepts.concept_map(features2, labels2, hierarchy, embedding, CLASSES, methods=["mean"],
                                       nodes=["A"])
    # A scores: img0 .7071, img1 .7071, img2 0, img3 0, img4 .4243, img5 .5657 -> ranking 0, 1, 5, 4, 2, 3
    # relevant (a*) = 0, 1, 4 -> precisions 1/1, 2/2, 3/4 -> AP = (1 + 1 + 0.75) / 3
    assert results2["mean"]["AP"]["A"] == pytest.approx((1 + 1 + 0.75) / 3)
    assert results2["mean"]["mAP"] == pytest.approx((1 + 1 + 0.75) / 3)


def test_resolve_concept_by_id_name_and_suggestions(tmp_path):
    hierarchy = ClassHierarchy({1: [10], 2: [10], 0: [11], 11: [10]}, {10: [1, 2, 11], 11: [0]})
    names_file = tmp_path / "names.txt"
    names_file.write_text("0 airplane\n1 automobile\n2 bird\n10 whole\n11 motor vehicle\n")
    names = concepts.read_node_names(str(names_file), hierarchy)
    assert names[11] == "motor vehicle"
    assert concepts.resolve_concept("11", hierarchy, names) == 11
    assert concepts.resolve_concept("Motor_Vehicle", hierarchy, names) == 11
    assert concepts.resolve_concept("bird", hierarchy, names) == 2
    with pytest.raises(ValueError, match=r"concept 'motor vehicel' is not in tax.txt; close names: motor vehicle"):
        concepts.resolve_concept("motor vehicel", hierarchy, names, where="tax.txt")
    plain = tmp_path / "classes.txt"
    plain.write_text("airplane\nautomobile\n")
    assert concepts.read_node_names(str(plain), hierarchy) == {0: "airplane", 1: "automobile"}


@pytest.mark.skipif(not os.path.isfile("/usr/share/wordnet/data.noun"), reason="WordNet 3.0 not installed")
def test_wordnet_lemma_resolves_to_its_node():
    import wordnet

    wn = wordnet.load_wordnet()
    dog, canine, cat, feline = "n02084071", "n02083346", "n02121620", "n02120997"
    hierarchy = tree([("n02075296", canine), ("n02075296", feline), (canine, dog), (feline, cat)])
    assert concepts.resolve_concept("dog", hierarchy, wordnet=wn) == dog
    assert concepts.resolve_concept("canine", hierarchy, wordnet=wn) == canine
    assert concepts.node_display_name(feline, wordnet=wn) == "feline"
    with pytest.raises(ValueError, match="close names: .*dog"):
        concepts.resolve_concept("dgo", hierarchy, wordnet=wn)


def test_concept_similarity():
    hierarchy = tree(EDGES)
    assert concepts.concept_similarity(hierarchy, "B", "y2") == 1.0
    # lcs(A, y1) = root, the highest node: similarity 0
    assert concepts.concept_similarity(hierarchy, "A", "y1") == 0.0
    # lcs(Y, b1) = B of height 2 in a tree of height 3
    assert concepts.concept_similarity(hierarchy, "Y", "b1") == pytest.approx(1 - 2 / 3)
