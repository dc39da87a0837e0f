"""plot_hierarchy.py: the drawn tree, its layouts (checked against the taxonomy) and the picture files."""

import math
import os
import random
import xml.etree.ElementTree as ElementTree

import pytest
from PIL import Image

import plot_hierarchy
from conftest import REPO_ROOT, assert_one_line_error, run_script
from taxonomy import plot
from taxonomy.files import read_node_names


def random_tree(num_nodes, seed, chain_bias=0.3):
    """children dict of a random rooted tree (node 0 the root); chain_bias makes single-child chains likely."""
    rng = random.Random(seed)
    children = {0: []}
    for node in range(1, num_nodes):
        parent = node - 1 if rng.random() < chain_bias else rng.randrange(node)
        children[parent].append(node)
        children[node] = []
    return {n: kids for n, kids in children.items() if kids}


def brute_force_leaves(children, node):
    """The leaves below a node by plain recursion."""
    kids = children.get(node, [])
    return [node] if not kids else [leaf for kid in kids for leaf in brute_force_leaves(children, kid)]


def parent_map(children):
    return {child: parent for parent, kids in children.items() for child in kids}


@pytest.mark.parametrize('seed', range(8))
@pytest.mark.parametrize('collapse_chains', [False, True])
def test_display_tree_shows_every_leaf_exactly_once(seed, collapse_chains):
    children = random_tree(60 + 20 * seed, seed)
    leaves = brute_force_leaves(children, 0)
    root, extra = plot.display_tree(children, [0], collapse_chains=collapse_chains)
    assert extra == []
    shown = root.display_leaves()
    assert sorted(n.node for n in shown) == sorted(leaves)  # each leaf once, nothing else at the rim
    assert not any(n.collapsed for n in shown)
    parents = parent_map(children)
    all_nodes = set(children) | set(parents)
    merged = [member for n in root.walk() for member in n.chain]
    assert sorted(merged) == sorted(all_nodes)  # every node drawn or merged into a chain, once
    for n in root.walk():
        assert n.chain[-1] == n.node
        assert all(parents[b] == a for a, b in zip(n.chain, n.chain[1:]))  # a chain is a path down the tree
        assert sorted(n.leaves) == sorted(brute_force_leaves(children, n.node))
        if collapse_chains:
            assert len(n.children) != 1
        else:
            assert len(n.chain) == 1


@pytest.mark.parametrize('seed', range(6))
@pytest.mark.parametrize('budget', [1, 5, 17, 40])
def test_leaf_budget(seed, budget):
    children = random_tree(150, seed)
    leaves = brute_force_leaves(children, 0)
    root, _ = plot.display_tree(children, [0], max_leaves=budget)
    shown = root.display_leaves()
    assert len(shown) <= budget
    covered = [leaf for n in shown for leaf in n.leaves]
    assert sorted(covered) == sorted(leaves)  # every leaf under exactly one shown node
    for n in shown:
        assert n.collapsed == (n.node not in leaves)
        assert sorted(n.leaves) == sorted(brute_force_leaves(children, n.node))
    if budget >= len(leaves):
        assert not any(n.collapsed for n in shown)


def test_leaf_budget_opens_the_largest_subtrees_first():
    #        r
    #    /       \
    #   a         b
    # a1..a6     b1 b2
    children = {'r': ['a', 'b'], 'a': ['a%d' % i for i in range(1, 7)], 'b': ['b1', 'b2']}
    root, _ = plot.display_tree(children, ['r'], max_leaves=7)  # opening a (6 leaves) fits: 6 + 1
    assert [(n.node, n.collapsed) for n in root.display_leaves()] == [('a%d' % i, False) for i in range(1, 7)] + [
        ('b', True)]
    root, _ = plot.display_tree(children, ['r'], max_leaves=4)  # a does not fit, b does
    assert [(n.node, n.collapsed) for n in root.display_leaves()] == [('a', True), ('b1', False), ('b2', False)]
    assert plot.node_label(root.display_leaves()[0], {'a': 'alpha'}) == 'alpha (6)'


def test_dag_forest_and_chains():
    # two roots; x has two parents (p, q); a chain r1 > c1 > c2 > {d, e}
    children = {'r1': ['c1'], 'c1': ['c2'], 'c2': ['d', 'e'], 'r2': ['p', 'q'], 'p': ['x'], 'q': ['x', 'y']}
    root, extra = plot.display_tree(children, ['r1', 'r2'])
    assert root.node is None and [n.node for n in root.children] == ['c2', 'r2']
    assert root.children[0].chain == ('r1', 'c1', 'c2')
    assert extra == [('q', 'x')]  # x is drawn once, below p; the second is-a link is drawn dashed
    assert sorted(n.node for n in root.display_leaves()) == ['d', 'e', 'x', 'y']


@pytest.mark.parametrize('seed', range(5))
def test_layouts_against_the_tree(seed):
    children = random_tree(120, seed)
    root, _ = plot.display_tree(children, [0], sort_key=str)
    shown = root.display_leaves()
    depth = {root: 0}
    for n in root.walk():
        for c in n.children:
            depth[c] = depth[n] + 1

    position = plot.layout_dendrogram(root)
    assert set(position) == set(root.walk())
    assert [position[leaf][1] for leaf in shown] == list(range(len(shown)))  # one row per leaf, in order
    assert {position[leaf][0] for leaf in shown} == {max(depth.values())}  # leaves aligned
    for n in root.walk():
        if n.children:
            rows = [position[c][1] for c in n.children]
            assert position[n][0] == depth[n] and all(position[n][0] < position[c][0] for c in n.children)
            assert min(rows) <= position[n][1] <= max(rows)

    polar = plot.layout_radial(root)
    assert set(polar) == set(root.walk())
    angles = [polar[leaf][0] for leaf in shown]
    assert angles == sorted(angles) and len(set(angles)) == len(angles)
    assert 0 <= angles[0] and angles[-1] < 2 * math.pi
    assert math.isclose(angles[1] - angles[0], 2 * math.pi / len(shown))
    assert {polar[leaf][1] for leaf in shown} == {float(max(depth.values()))}
    assert polar[root] == (polar[root][0], 0.0)
    for n in root.walk():
        for c in n.children:
            assert polar[n][1] < polar[c][1]


def test_a_thousand_leaves():
    children = {'root': ['g%d' % g for g in range(40)]}
    for g in range(40):
        children['g%d' % g] = ['g%d_%d' % (g, i) for i in range(25)]
    root, _ = plot.display_tree(children, ['root'])
    assert len(root.display_leaves()) == 1000
    assert plot.choose_layout('auto', 1000) == 'radial' and plot.choose_layout('auto', 100) == 'dendrogram'
    assert len(plot.layout_radial(root)) == 1041


# ----------------------------------------------------------------------------------------------- pictures

SMALL_TREE = '0 10\n0 11\n10 1\n10 2\n11 12\n12 3\n12 4\n12 5\n'  # 11 > 12 is a chain
SMALL_NAMES = '0 thing\n10 animal\n11 artifact\n12 vehicle\n1 cat\n2 dog\n3 bus\n4 car\n5 bike\n'


@pytest.mark.parametrize('layout', ['dendrogram', 'radial'])
def test_png_and_svg(tmp_path, layout):
    (tmp_path / 'tree.txt').write_text(SMALL_TREE)
    (tmp_path / 'names.txt').write_text(SMALL_NAMES)
    for ext in ('png', 'svg'):
        out = tmp_path / 'tree.{}'.format(ext)
        plot_hierarchy.main(['--hierarchy', str(tmp_path / 'tree.txt'), '--class_names', str(tmp_path / 'names.txt'),
                             '--out', str(out), '--layout', layout, '--inner_labels', 'all'])
        if ext == 'png':
            with Image.open(out) as image:
                assert image.format == 'PNG' and min(image.size) > 100
        else:
            svg = ElementTree.parse(out).getroot()
            assert svg.tag.endswith('svg')
            texts = [''.join(t.itertext()).strip() for t in svg.iter() if t.tag.endswith('}text')]
            for name in ['cat', 'dog', 'bus', 'car', 'bike', 'animal', 'vehicle']:
                assert texts.count(name) == 1, (name, texts)  # every class exactly once
            assert 'artifact' not in texts  # merged into its only child, vehicle


def test_original_command_line(tmp_path):
    (tmp_path / 'tree.txt').write_text('thing animal\nanimal n02084071\nanimal n02121808\n')
    (tmp_path / 'names.txt').write_text('n02084071 dog\nn02121808 house cat\n')
    result = run_script('plot_hierarchy.py', '--hierarchy', tmp_path / 'tree.txt', '--str_ids',
                        '--class_names', tmp_path / 'names.txt', '--out', tmp_path / 'tree.svg')
    assert result.returncode == 0, result.stderr
    assert '2 leaves (2 shown' in result.stdout and 'house cat' in (tmp_path / 'tree.svg').read_text()
    (tmp_path / 'isa.txt').write_text('1 0\n2 0\n')  # --is_a: child parent
    result = run_script('plot_hierarchy.py', '--hierarchy', tmp_path / 'isa.txt', '--is_a', '--out', tmp_path / 'x.png')
    assert result.returncode == 0, result.stderr


def test_bad_input(tmp_path):
    (tmp_path / 'tree.txt').write_text(SMALL_TREE)
    result = run_script('plot_hierarchy.py', '--hierarchy', tmp_path / 'tree.txt', '--out', tmp_path / 'tree.gif')
    assert_one_line_error(result, 'tree.gif', '.png')
    (tmp_path / 'names.txt').write_text('0 thing\ncat x\n')
    result = run_script('plot_hierarchy.py', '--hierarchy', tmp_path / 'tree.txt', '--class_names',
                        tmp_path / 'names.txt', '--out', tmp_path / 'tree.png')
    assert_one_line_error(result, 'names.txt:2', "'cat' is not an integer", '--str_ids')
    assert not (tmp_path / 'tree.png').exists()


def test_read_node_names(tmp_path):
    (tmp_path / 'a.txt').write_text('apple\n\nbee\n')
    assert read_node_names(str(tmp_path / 'a.txt'), int) == {0: 'apple', 1: 'bee'}
    with pytest.raises(ValueError, match='"id name" lines are needed'):
        read_node_names(str(tmp_path / 'a.txt'), str)
    (tmp_path / 'b.txt').write_text('n1 water lily\nn2 lotus\n')
    assert read_node_names(str(tmp_path / 'b.txt'), str) == {'n1': 'water lily', 'n2': 'lotus'}
    (tmp_path / 'c.txt').write_text('1 one\ntwo\n')
    with pytest.raises(ValueError, match=r'c.txt:2: expected "id name"'):
        read_node_names(str(tmp_path / 'c.txt'), int)


@pytest.mark.parametrize('picture, hierarchy, names, leaves', [
    ('Cifar-Hierarchy/cifar100-tree.png', 'Cifar-Hierarchy/cifar.parent-child.txt', 'Cifar-Hierarchy/cifar.names.txt',
     100),
    ('TinyImageNet-Hierarchy/tiny-imagenet-tree.png', 'TinyImageNet-Hierarchy/tiny-imagenet.parent-child.txt',
     'TinyImageNet-Hierarchy/tiny-imagenet.names.txt', 200),
])
def test_shipped_pictures(picture, hierarchy, names, leaves):
    """The pictures in the repository exist, are small, and show every class once (checked on the layout)."""
    path = os.path.join(REPO_ROOT, picture)
    assert os.path.getsize(path) < 500 * 1024
    with Image.open(path) as image:
        assert image.format == 'PNG'
    str_ids = 'Tiny' in picture
    from cli import load_hierarchy
    tree = load_hierarchy(os.path.join(REPO_ROOT, hierarchy), str_ids=str_ids)
    root, _ = plot.display_tree(tree.children, tree.roots())
    assert sorted(n.node for n in root.display_leaves()) == sorted(tree.leaves()) and len(tree.leaves()) == leaves
    assert set(read_node_names(os.path.join(REPO_ROOT, names), str if str_ids else int)) == set(tree.nodes)
