"""ClassHierarchy against hand-computed values and an independent brute-force reference."""

import itertools
import random

import numpy as np
import pytest

from class_hierarchy import ClassHierarchy, HierarchyError
from conftest import reference_file

# root
# |-- animal
# |   |-- mammal -- dog, cat
# |   `-- bird
# `-- vehicle -- car -- sedan, suv
TREE = [("root", "animal"), ("root", "vehicle"), ("animal", "mammal"), ("animal", "bird"),
        ("mammal", "dog"), ("mammal", "cat"), ("vehicle", "car"), ("car", "sedan"), ("car", "suv")]

# A DAG: x, z have two parents each; a and b are both deepest common hypernyms of c1 and c4.
DAG = [("r", "a"), ("r", "b"), ("a", "x"), ("b", "x"), ("a", "y"), ("x", "c1"), ("y", "c2"), ("b", "c3"),
       ("a", "z"), ("b", "z"), ("z", "c4")]


def from_edges(edges):
    parents, children = {}, {}
    for p, c in edges:
        parents.setdefault(c, []).append(p)
        children.setdefault(p, []).append(c)
    return ClassHierarchy(parents, children)


# --------------------------------------------------------------------------- brute-force reference

def brute_root_paths(edges, node):
    """All root paths of `node` (node first), by plain recursion over the edge list."""
    ps = [p for p, c in edges if c == node]
    return [[node]] if not ps else [[node] + path for p in ps for path in brute_root_paths(edges, p)]


def brute_depth(edges, node):
    return max(len(path) for path in brute_root_paths(edges, node))  # roots: 1


def brute_height(edges, node):
    cs = [c for p, c in edges if p == node]
    return 0 if not cs else 1 + max(brute_height(edges, c) for c in cs)


def brute_up_distance(edges, a, h):
    """Shortest number of upward edges from `a` to its hypernym `h`."""
    return min(path.index(h) for path in brute_root_paths(edges, a) if h in path)


def brute_lcs(edges, a, b):
    hyp_a = {n for path in brute_root_paths(edges, a) for n in path}
    hyp_b = {n for path in brute_root_paths(edges, b) for n in path}
    common = sorted(hyp_a & hyp_b)
    # deepest; ties: smallest height, then smallest id (the documented rule)
    return min(common, key=lambda h: (-brute_depth(edges, h), brute_height(edges, h), h))


def brute_lcs_height(edges, a, b):
    nodes = {n for e in edges for n in e}
    return brute_height(edges, brute_lcs(edges, a, b)) / max(brute_height(edges, n) for n in nodes)


def brute_wup(edges, a, b):
    lcs = brute_lcs(edges, a, b)

    def spl(x, y):  # shortest path via a common hypernym
        hyp_x = {n for p in brute_root_paths(edges, x) for n in p}
        hyp_y = {n for p in brute_root_paths(edges, y) for n in p}
        return min(brute_up_distance(edges, x, h) + brute_up_distance(edges, y, h) for h in hyp_x & hyp_y)

    ds = brute_depth(edges, lcs)
    return 2.0 * ds / (ds + spl(a, lcs) + ds + spl(b, lcs))


def random_tree_edges(rng, num_nodes):
    names = ["n{}".format(i) for i in range(num_nodes)]
    return [(names[rng.randrange(i)], names[i]) for i in range(1, num_nodes)]


def random_dag_edges(rng, num_nodes, extra_edges):
    edges = set(random_tree_edges(rng, num_nodes))
    for _ in range(extra_edges):
        i, j = sorted(rng.sample(range(num_nodes), 2))
        edges.add(("n{}".format(i), "n{}".format(j)))  # parent has a smaller index: stays acyclic
    return sorted(edges)


# --------------------------------------------------------------------------- hand-computed

def test_tree_structure_hand_computed():
    h = from_edges(TREE)
    assert h.is_tree()
    assert h.max_height == 3
    assert h.heights["mammal"] == 1 and h.heights["animal"] == 2 and h.heights["dog"] == 0
    assert [h.depth(n) for n in ("root", "animal", "mammal", "dog", "bird")] == [1, 2, 3, 4, 3]
    assert h.leaves() == ["bird", "cat", "dog", "sedan", "suv"]
    assert h.root_paths("dog") == [["mammal", "animal", "root"]]
    assert h.all_hypernym_distances("dog") == {"dog": 0, "mammal": 1, "animal": 2, "root": 3}
    assert h.all_hypernym_depths("bird") == {"bird": 3, "animal": 2, "root": 1}


def test_tree_lcs_wup_hand_computed():
    h = from_edges(TREE)
    assert h.lcs("dog", "cat") == "mammal" and h.lcs("dog", "bird") == "animal" and h.lcs("dog", "suv") == "root"
    assert h.lcs_height("dog", "cat") == pytest.approx(1 / 3)
    assert h.lcs_height("dog", "bird") == pytest.approx(2 / 3)
    assert h.lcs_height("dog", "sedan") == 1.0
    assert h.lcs_height("dog", "dog") == 0.0
    assert h.wup_similarity("dog", "cat") == pytest.approx(2 * 3 / (4 + 4))
    assert h.wup_similarity("dog", "bird") == pytest.approx(2 * 2 / (4 + 3))
    assert h.wup_similarity("dog", "sedan") == pytest.approx(2 * 1 / (4 + 4))
    assert h.shortest_path_length("dog", "bird") == 3


def test_dag_hand_computed():
    h = from_edges(DAG)
    assert not h.is_tree()
    assert h.depth("x") == 3 and h.depth("x", use_min_depth=True) == 3 and h.depth("c3") == 3
    assert h.depth("c4") == 4
    assert sorted(map(tuple, h.root_paths("c1"))) == [("x", "a", "r"), ("x", "b", "r")]
    assert h.lcs("c1", "c2") == "a"
    assert h.lcs("c1", "c3") == "b"
    assert h.lcs("c1", "c4") == "a"  # a and b tie on depth and height: smallest id
    # wup(c1, c3): lcs b at depth 2; c1 -> x -> b is 2 edges, c3 -> b is 1.
    assert h.wup_similarity("c1", "c3") == pytest.approx(4 / 7)


# --------------------------------------------------------------------------- against brute force

@pytest.mark.parametrize("seed", range(6))
def test_per_pair_and_matrices_match_brute_force(seed):
    rng = random.Random(seed)
    edges = random_tree_edges(rng, 25) if seed % 2 == 0 else random_dag_edges(rng, 25, 10)
    h = from_edges(edges)
    nodes = sorted(h.nodes)
    lcs_height = h.lcs_height_matrix(nodes)
    wup = h.wup_matrix(nodes)
    for (i, a), (j, b) in itertools.product(enumerate(nodes), repeat=2):
        assert h.lcs(a, b) == brute_lcs(edges, a, b)
        expected = brute_lcs_height(edges, a, b)
        # the values are one correctly rounded division of the same integers in each: exactly equal
        assert h.lcs_height(a, b) == expected
        assert lcs_height[i, j] == h.lcs_height(a, b)
        assert wup[i, j] == brute_wup(edges, a, b)
        assert wup[i, j] == h.wup_similarity(a, b)


def test_rectangular_matrices():
    h = from_edges(TREE)
    a, b = ["dog", "suv"], ["cat", "bird", "sedan"]
    assert np.array_equal(h.lcs_height_matrix(a, b), [[h.lcs_height(x, y) for y in b] for x in a])
    # one correctly rounded division of the same integers either way: exactly equal
    assert np.array_equal(h.wup_matrix(a, b), [[h.wup_similarity(x, y) for y in b] for x in a])


@pytest.mark.parametrize("name,id_type", [("cifar100/cifar.parent-child.txt", int),
                                          ("ilsvrc/wordnet.parent-child.mintree.txt", str),
                                          ("ilsvrc/wordnet.parent-child.txt", str)])
def test_published_taxonomies_matrices_equal_per_pair(name, id_type):
    h = ClassHierarchy.from_file(reference_file(*name.split("/")), id_type=id_type)
    classes = h.leaves()
    rng = random.Random(1)
    if len(classes) > 1000:  # the full WordNet DAG: the ILSVRC classes are a sample of its leaves
        classes = sorted(rng.sample(classes, 400))
    lcs_height, wup = h.lcs_height_matrix(classes), h.wup_matrix(classes)
    for _ in range(2000):
        i, j = rng.randrange(len(classes)), rng.randrange(len(classes))
        assert lcs_height[i, j] == h.lcs_height(classes[i], classes[j])
        assert wup[i, j] == h.wup_similarity(classes[i], classes[j])
    assert np.array_equal(lcs_height, lcs_height.T) and np.all(np.diag(lcs_height) == 0)


def test_nabirds_is_a_and_inaturalist_load():
    nab = ClassHierarchy.from_file(reference_file("nabirds", "hierarchy.txt"), is_a_relations=True)
    assert nab.is_tree() and len(nab.leaves()) == 555
    inat = ClassHierarchy.from_file(reference_file("inaturalist", "hierarchy_inat.txt"))
    assert len(inat.leaves()) == 8142


def test_save_round_trip(tmp_path):
    h = from_edges(DAG)
    for is_a in (False, True):
        path = tmp_path / "h{}.txt".format(is_a)
        h.save(str(path), is_a_relations=is_a)
        h2 = ClassHierarchy.from_file(str(path), is_a_relations=is_a)
        assert {k: sorted(v) for k, v in h2.parents.items()} == {k: sorted(v) for k, v in h.parents.items()}


# --------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("content,message", [
    ("", "empty"),
    ("\n\n", "empty"),
    ("1 2\n3\n", "line 2"),
    ("1 2\n3 4 5\n", "line 2"),
    ("1 2\n2 x\n", "line 2"),
    ("1 2\n2 2\n", "self-loop"),
    ("1 2\n2 3\n3 1\n3 4\n", "cycle"),
])
def test_bad_hierarchy_files(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_text(content)
    with pytest.raises(HierarchyError, match=message) as info:
        ClassHierarchy.from_file(str(path), id_type=int)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("content,line,fragment", [
    (b"1 2\n2 3\n\x89PNG\r\n\x1a\n\x00\x00", 3, "not UTF-8"),  # a PNG header on line 3
    (b"1 2\n2 3\n3 4\x00\n", 3, "NUL byte"),  # NUL bytes decode as UTF-8 but are no text
    (b"\x00\x01\x02\n\xff", 1, "NUL byte"),
])
def test_binary_file_names_the_file_and_line(tmp_path, content, line, fragment):
    path = tmp_path / "binary.txt"
    path.write_bytes(content)
    for read in (lambda: ClassHierarchy.from_file(str(path), id_type=int),
                 lambda: from_edges(TREE).read_class_list(str(path))):
        with pytest.raises(HierarchyError) as info:
            read()
        message = str(info.value)
        assert str(path) in message and "line {}:".format(line) in message and fragment in message


def test_text_files_with_bom_and_old_newlines_still_read(tmp_path):
    path = tmp_path / "h.txt"
    path.write_bytes(b"\xef\xbb\xbf1 2\r\n2 3\r3 4\n")  # UTF-8 byte-order mark, CRLF and CR newlines
    h = ClassHierarchy.from_file(str(path), id_type=int)
    assert h.parents == {2: [1], 3: [2], 4: [3]} and h.source == str(path)


def test_classes_without_common_hypernym_are_named(tmp_path):
    path = tmp_path / "forest.txt"
    path.write_text("1 2\n1 3\n7 8\n")
    h = ClassHierarchy.from_file(str(path), id_type=int)
    with pytest.raises(HierarchyError) as info:
        h.lcs_height_matrix([2, 3, 8])
    assert str(path) in str(info.value) and "2 and 8" in str(info.value) and "2 roots" in str(info.value)


def test_cycle_error_names_a_node_on_the_cycle(tmp_path):
    path = tmp_path / "cycle.txt"
    path.write_text("0 1\n1 2\n2 3\n3 1\n3 9\n")
    with pytest.raises(HierarchyError) as info:
        ClassHierarchy.from_file(str(path), id_type=int)
    assert any("node {}".format(n) in str(info.value) for n in (1, 2, 3))


def test_unknown_class_in_matrix_request():
    with pytest.raises(HierarchyError, match="'horse'"):
        from_edges(TREE).lcs_height_matrix(["dog", "horse"])


def test_hierarchical_precision_keeps_the_original_method_signature():
    h = from_edges(TREE)
    labels = {0: "dog", 1: "cat", 2: "bird", 3: "sedan"}
    retrieved = {0: [0, 2, 1, 3], 3: [3, 0, 1, 2]}
    means, per_query = h.hierarchical_precision(retrieved, labels, [1, 2], True, True)  # ks, compute_ahp, compute_ap
    # Query 0 (dog): ranking without itself is bird, cat, sedan; best order is cat, bird, sedan.
    sim = {("dog", "bird"): 1 - 2 / 3, ("dog", "cat"): 1 - 1 / 3}
    assert per_query["P@2 (LCS_HEIGHT)"][0] == pytest.approx(
        (sim["dog", "bird"] + sim["dog", "cat"]) / (sim["dog", "cat"] + sim["dog", "bird"]))
    assert per_query["P@1 (LCS_HEIGHT)"][0] == pytest.approx(sim["dog", "bird"] / sim["dog", "cat"])
    assert means["AP"] == pytest.approx(0.0)  # no other image of the same class
    assert set(means) >= {"AHP (WUP)", "AHP (LCS_HEIGHT)", "P@1 (WUP)"}
