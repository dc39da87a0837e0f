"""Our own taxonomies: the WordNet reader, the mintree, the tree encoders and the shipped trees."""

import itertools
import json
import os
import pickle
import random
import subprocess
import sys

import pytest

import derive_cifar_hierarchy
import encode_hierarchy
import wordnet
import wordnet_hierarchy as ilsvrc_tool
from class_hierarchy import ClassHierarchy
from conftest import REPO_ROOT, assert_one_line_error, needs_wordnet, reference_file, run_script
from taxonomy import cifar, indented



# ----------------------------------------------------------------------------------------------- WordNet

SYNTHETIC_DATA_NOUN = """\
  1 This software and database is being provided to you, the LICENSEE, by  
  2 Princeton University under the following license.  
00000001 03 n 01 entity 0 002 ~ 00000002 n 0000 ~ 00000003 n 0000 | the root  
00000002 03 n 02 animal 0 beast 0 002 @ 00000001 n 0000 ~ 00000004 n 0000 | a living thing  
00000003 03 n 01 pet 0 002 @ 00000001 n 0000 + 00000009 v 0101 | an animal kept at home  
00000004 05 n 03 dog 0 domestic_dog 0 Canis_familiaris 0 003 @ 00000002 n 0000 @ 00000003 n 0000 @ 00000007 v 0000 | barks  
00000005 18 n 01 Lassie 0 001 @i 00000004 n 0000 | a famous dog  
"""


def test_parser_on_a_synthetic_database(tmp_path):
    (tmp_path / 'data.noun').write_text(SYNTHETIC_DATA_NOUN)
    wn = wordnet.WordNet.load(str(tmp_path))
    assert len(wn) == 5
    assert wn.lemmas['n00000004'] == ('dog', 'domestic_dog', 'Canis_familiaris')
    assert wn.lemmas['n00000002'] == ('animal', 'beast')  # w_cnt is hexadecimal: '02'
    assert wn.hypernyms('n00000004') == ('n00000002', 'n00000003')  # the verb pointer is ignored
    assert wn.hypernyms('n00000001') == ()
    assert wn.hypernyms('n00000005') == ('n00000004',)  # instance hypernym
    assert wn.hypernyms('n00000005', include_instances=False) == ()
    assert wn.glosses['n00000005'] == 'a famous dog'
    assert wn.hypernym_paths('n00000005') == [('n00000001', 'n00000002', 'n00000004', 'n00000005'),
                                              ('n00000001', 'n00000003', 'n00000004', 'n00000005')]
    assert wn.ancestors('n00000005') == {'n00000001', 'n00000002', 'n00000003', 'n00000004'}
    with pytest.raises(ValueError, match='n00000099'):
        wn.hypernyms('n00000099')


def test_parser_names_a_malformed_line(tmp_path):
    (tmp_path / 'data.noun').write_text(SYNTHETIC_DATA_NOUN + '00000006 03 n 01 cut 0 009 @ 00000001 n\n')
    with pytest.raises(ValueError, match=r'data.noun:8: malformed'):
        wordnet.WordNet.load(str(tmp_path))
    with pytest.raises(OSError):
        wordnet.WordNet.load(str(tmp_path / 'missing'))


def test_wordnet_known_synsets(wn):
    assert len(wn) == 82115  # noun synsets in WordNet 3.0
    assert wn.name('n02084071') == 'dog'
    assert wn.hypernyms('n02084071') == ('n02083346', 'n01317541')  # canine, domestic_animal
    assert wn.name('n02083346') == 'canine'
    assert wn.name('n01317541') == 'domestic_animal'
    assert wn.hypernyms(wordnet.ROOT_WNID) == ()
    assert wn.name(wordnet.ROOT_WNID) == 'entity'
    assert wn.synsets('Dog')[0] == 'n02084071'  # most frequent sense first, case-insensitive
    assert wn.synsets('lawn mower') == ('n03649909',)
    einstein = wn.synsets('Einstein')[0]
    assert wn.name(wn.hypernyms(einstein)[0]) == 'physicist'  # an instance hypernym (@i)
    assert wn.hypernyms(einstein, include_instances=False) == ()
    for path in wn.hypernym_paths('n02084071'):
        assert path[0] == wordnet.ROOT_WNID and path[-1] == 'n02084071'
        assert all(parent in wn.hypernyms(child) for parent, child in zip(path[:-1], path[1:]))
    assert len(wn.hypernym_paths('n02084071')) == 2


# ----------------------------------------------------------------------------------------------- mintree

def brute_force_paths(node, parents):
    """All root paths by plain recursion, parents in the given order (depth first)."""
    if not parents.get(node):
        return [(node,)]
    return [path + (node,) for parent in parents[node] for path in brute_force_paths(parent, parents)]


def reference_mintree(classes, parents):
    """The mintree rule spelled out with sets: a slow, independent re-implementation."""
    paths = {c: brute_force_paths(c, parents) for c in classes}
    edges, nodes = set(), set()

    def is_tree(edge_set):
        return len({child for _, child in edge_set}) == len(edge_set)

    for c in classes:
        if len(paths[c]) == 1:
            edges |= set(zip(paths[c][0][:-1], paths[c][0][1:]))
            nodes |= set(paths[c][0])
    for c in classes:
        if len(paths[c]) > 1:
            options = []
            for j, path in enumerate(paths[c]):
                new_edges = edges | set(zip(path[:-1], path[1:]))
                if is_tree(new_edges):
                    options.append((len(nodes | set(path)) - len(nodes), len(path), j, new_edges, path))
            _, _, _, edges, path = min(options, key=lambda o: o[:3])
            nodes |= set(path)
    tree = {child: parent for parent, child in edges}
    tree.update({n: None for n in nodes if n not in tree})
    return tree


#          r
#    /   /   \   \
#   a    b    t   q
#  /|\  /|\   |\
# x y j z w k s t2      m has parents (j, k)
HAND_DAG = {
    'a': ['r'], 'b': ['r'], 't': ['r'], 'q': ['r'],
    'x': ['a'], 'y': ['a'], 'j': ['a'], 'z': ['b'], 'w': ['b'], 'k': ['b'], 's': ['t'], 't2': ['t'],
    'm': ['j', 'k'],
    'c1': ['x'],         # unique path r-a-x
    'c2': ['z', 'y'],    # both add 2 nodes, both 4 long: the first parent (z) wins
    'c3': ['w'],         # unique path r-b-w: puts b into the tree
    'c4': ['q', 'x'],    # via q adds 2 nodes, via x (longer) only 1: x wins
    'c5': ['s', 'a'],    # via a adds 1 node, via t-s 3: a wins
    'c6': ['x', 'b'],    # both add 1 node: the shorter path r-b-c6 wins
    'c7': ['m'],         # r-a-j-m adds 3 nodes, r-b-k-m 2 (k comes with c9): k wins, m hangs below k
    'c10': ['j', 't2'],  # via j adds 2 nodes, via t-t2 3: j wins
    'c8': ['m'],         # r-a-j-m-c8 and r-b-k-m-c8 both add 1 node and are equally long, but the
                         # first would give m a second parent: k
    'c9': ['k'],         # unique path r-b-k (listed last, but unique paths go first)
}
HAND_CLASSES = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c10', 'c8', 'c9']
HAND_TREE = {'r': None, 'a': 'r', 'b': 'r', 'x': 'a', 'j': 'a', 'z': 'b', 'w': 'b', 'k': 'b', 'm': 'k',
             'c1': 'x', 'c2': 'z', 'c3': 'w', 'c4': 'x', 'c5': 'a', 'c6': 'b', 'c7': 'm', 'c8': 'm', 'c9': 'k',
             'c10': 'j'}


def test_mintree_hand_example():
    assert wordnet.build_mintree(HAND_CLASSES, HAND_DAG) == HAND_TREE
    assert reference_mintree(HAND_CLASSES, HAND_DAG) == HAND_TREE


def test_mintree_hand_example_is_a_smallest_tree():
    """Brute force over every choice of one root path per class: no tree has fewer nodes."""
    all_paths = [brute_force_paths(c, HAND_DAG) for c in HAND_CLASSES]
    sizes = []
    for choice in itertools.product(*all_paths):
        edges = {e for path in choice for e in zip(path[:-1], path[1:])}
        if len({child for _, child in edges}) == len(edges):
            sizes.append(len({n for path in choice for n in path}))
    assert min(sizes) == len(HAND_TREE)


def random_dag(rng, num_nodes=14):
    parents = {}
    for node in range(1, num_nodes):
        parents[node] = rng.sample(range(node), k=min(node, rng.choice([1, 1, 2, 2, 3])))
    return parents


@pytest.mark.parametrize('seed', range(30))
def test_mintree_matches_reference_on_random_dags(seed):
    rng = random.Random(seed)
    parents = random_dag(rng)
    leaves = [n for n in parents if not any(n in ps for ps in parents.values())]
    classes = rng.sample(leaves, k=min(len(leaves), 5))
    tree = wordnet.build_mintree(classes, parents)
    assert tree == reference_mintree(classes, parents)
    # a tree whose root paths are root paths of the DAG
    assert wordnet.tree_roots(tree) == [0]
    for c in classes:
        path = [c]
        while tree[path[-1]] is not None:
            path.append(tree[path[-1]])
        assert tuple(reversed(path)) in brute_force_paths(c, parents)


def test_mintree_bad_input():
    with pytest.raises(ValueError, match='duplicate'):
        wordnet.build_mintree(['c1', 'c1'], HAND_DAG)
    with pytest.raises(ValueError, match='no classes'):
        wordnet.build_mintree([], HAND_DAG)
    with pytest.raises(ValueError, match='cycle'):
        wordnet.build_mintree(['c'], {'c': ['a'], 'a': ['b'], 'b': ['a']})


def tree_lcs(tree, a, b):
    ancestors = set()
    while a is not None:
        ancestors.add(a)
        a = tree[a]
    while b not in ancestors:
        b = tree[b]
    return b


def test_prune_hand_example():
    tree = {'r': None, 'a': 'r', 'b': 'a', 'c': 'b', 'd': 'b', 'e': 'r', 'f': 'e'}
    assert wordnet.prune_single_child_nodes(tree, keep=['c', 'd', 'f']) == \
        {'r': None, 'b': 'r', 'c': 'b', 'd': 'b', 'f': 'r'}
    # a single-child root goes too, and kept nodes stay even with a single child
    assert wordnet.prune_single_child_nodes({'r': None, 'a': 'r', 'b': 'a', 'c': 'a'}, keep=['b', 'c']) == \
        {'a': None, 'b': 'a', 'c': 'a'}
    assert wordnet.prune_single_child_nodes({'r': None, 'k': 'r', 'c': 'k'}, keep=['k', 'c']) == \
        {'k': None, 'c': 'k'}


@pytest.mark.parametrize('seed', range(20))
def test_prune_keeps_every_lcs(seed):
    rng = random.Random(seed)
    tree = {0: None}
    for node in range(1, 40):
        tree[node] = rng.randrange(node)
    leaves = [n for n in tree if n not in wordnet.tree_children(tree)]
    pruned = wordnet.prune_single_child_nodes(tree, keep=leaves)
    children = wordnet.tree_children(pruned)
    assert set(leaves) <= set(pruned)
    assert all(len(kids) >= 2 for kids in children.values())
    for a, b in itertools.combinations(leaves, 2):
        assert tree_lcs(pruned, a, b) == tree_lcs(tree, a, b)


# ----------------------------------------------------------------------------------------------- ILSVRC

def ilsvrc_classes():
    with open(reference_file('ilsvrc', 'imagenet_class_index.json')) as f:
        index = json.load(f)
    return [index[str(i)][0] for i in range(len(index))]


def read_tree(path):
    tree, nodes = {}, set()
    with open(path) as f:
        for line in f:
            parent, child = line.split()
            assert child not in tree, 'not a tree: {} has two parents'.format(child)
            tree[child] = parent
            nodes.add(parent)
    tree.update({node: None for node in nodes if node not in tree})
    return tree


def root_path(tree, node):
    path = [node]
    while tree[path[-1]] is not None:
        path.append(tree[path[-1]])
    return path[::-1]


# Where our mintree differs from the published one, and why. The differing classes have several root
# paths that add equally many nodes and are equally long; such ties go to the first path in the
# order of the parent lists. The published tree followed the (arbitrary, Python set) parent order
# of ImageNet's own DAG file, we follow WordNet's pointer order:
TIES_BROKEN_BY_PARENT_ORDER = {
    'n02504013': 'Indian_elephant',   # pachyderm vs. proboscidean
    'n02504458': 'African_elephant',
    'n03000684': 'chain_saw',         # tool > power_tool vs. machine > power_tool
    'n03876231': 'paintbrush',        # applicator vs. brush
    'n03995372': 'power_drill',
    'n04004767': 'printer',
    'n04149813': 'scoreboard',
    'n09835506': 'ballplayer',        # player vs. athlete
}
# Given ImageNet's DAG file (--graph), these two remain: the original processed the classes with
# several root paths in another order, so that tank and half_track had put military_vehicle into
# the tree before aircraft_carrier and submarine chose between ship > warship and military_vehicle >
# warship.
PROCESSING_ORDER = {'n02687172': 'aircraft_carrier', 'n04347754': 'submarine'}


def differing_classes(tree_file, classes):
    reference = read_tree(reference_file('ilsvrc', 'wordnet.parent-child.mintree.txt'))
    ours = read_tree(tree_file)
    assert len(ours) == len(reference) == 1785
    return {c for c in classes if root_path(ours, c) != root_path(reference, c)}


@needs_wordnet
def test_ilsvrc_mintree_against_the_published_one(tmp_path):
    classes = ilsvrc_classes()
    out, dag = tmp_path / 'mintree.txt', tmp_path / 'dag.txt'
    ilsvrc_tool.main([reference_file('ilsvrc', 'imagenet_class_index.json'), '--out', str(out), '--dag', str(dag)])
    hierarchy = ClassHierarchy.from_file(str(out), id_type=str)
    assert hierarchy.is_tree() and set(hierarchy.leaves()) == set(classes)
    differing = differing_classes(out, classes)
    assert differing == set(TIES_BROKEN_BY_PARENT_ORDER) | set(PROCESSING_ORDER)  # 990 of 1000 identical
    # the DAG we write is exactly the published ImageNet DAG restricted to the classes' ancestors
    with open(reference_file('ilsvrc', 'wordnet.parent-child.txt')) as f:
        published = {tuple(line.split()) for line in f}
    with open(dag) as f:
        ours = {tuple(line.split()) for line in f}
    assert ours <= published and len(ours) == 1937


def test_ilsvrc_mintree_from_the_published_dag(tmp_path):
    out = tmp_path / 'mintree.txt'
    ilsvrc_tool.main([reference_file('ilsvrc', 'imagenet_class_index.json'), '--out', str(out),
                      '--graph', reference_file('ilsvrc', 'wordnet.parent-child.txt')])
    assert differing_classes(out, ilsvrc_classes()) == set(PROCESSING_ORDER)  # 998 of 1000 identical


@needs_wordnet
def test_ilsvrc_tool_inputs(tmp_path):
    for wnid in ['n02084071', 'n02121808', 'n01503061']:  # dog, domestic cat, bird
        (tmp_path / 'train' / wnid).mkdir(parents=True)
    (tmp_path / 'train' / 'README').write_text('not a class')
    (tmp_path / 'classes.txt').write_text('# ILSVRC subset\nn02084071 dog\n\nn02121808\nn01503061 bird\n')
    outputs = []
    for source in [tmp_path / 'train', tmp_path / 'classes.txt']:
        out = tmp_path / (source.name + '.tree')
        ilsvrc_tool.main([str(source), '--out', str(out), '--prune'])
        outputs.append(out.read_text())
    assert outputs[0] == outputs[1]
    tree = read_tree(tmp_path / 'train.tree')
    assert sorted(n for n in tree if n not in set(tree.values())) == ['n01503061', 'n02084071', 'n02121808']
    # Dog and house cat are both carnivores and domestic animals in WordNet; both root paths add as
    # many nodes, so the shorter one wins (Cifar-Hierarchy/derive_hierarchy.py drops that link).
    assert tree['n02084071'] == tree['n02121808']
    assert wordnet.load_wordnet().name(tree['n02084071']) == 'domestic_animal'


@needs_wordnet
@pytest.mark.parametrize('content, fragments', [
    ('n02084071\nn99999999\n', ['classes.txt:2', 'n99999999', 'unknown class']),
    ('n02084071\nfoo\n', ['classes.txt:2', "'foo'", 'not a WordNet noun id']),
    ('n02084071\nn02084071\n', ['classes.txt:2', 'duplicate class n02084071']),
    ('# nothing\n\n', ['classes.txt', 'no classes listed']),
])
def test_ilsvrc_tool_bad_class_lists(tmp_path, capsys, content, fragments):
    classes = tmp_path / 'classes.txt'
    classes.write_text(content)
    out = tmp_path / 'out.txt'
    out.write_text('previous result\n')
    with pytest.raises(SystemExit) as exit_info:
        ilsvrc_tool.main([str(classes), '--out', str(out)])
    assert exit_info.value.code == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith('error:') and len(error.splitlines()) == 1
    for fragment in fragments:
        assert fragment in error
    assert out.read_text() == 'previous result\n'  # nothing half-written


@needs_wordnet
def test_ilsvrc_tool_script_error(tmp_path):
    (tmp_path / 'classes.txt').write_text('n02084071\nn00000000\n')
    result = run_script('ILSVRC/wordnet_hierarchy.py', tmp_path / 'classes.txt', '--out', tmp_path / 'out.txt')
    assert_one_line_error(result, 'classes.txt:2', 'n00000000')
    assert not (tmp_path / 'out.txt').exists()


@pytest.mark.parametrize('old_path, script', [
    ('Cifar-Hierarchy/encode_hierarchy.py', 'encode_hierarchy.py'),
    ('Cifar-Hierarchy/derive_hierarchy.py', 'derive_cifar_hierarchy.py'),
    ('ILSVRC/wordnet_hierarchy.py', 'wordnet_hierarchy.py'),
])
def test_tools_run_from_their_old_paths_without_path_hacks(tmp_path, old_path, script):
    """The old paths are links to the top-level scripts, which import the project without sys.path tricks."""
    assert os.path.realpath(os.path.join(REPO_ROOT, old_path)) == os.path.join(os.path.realpath(REPO_ROOT), script)
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    result = subprocess.run([sys.executable, os.path.join(REPO_ROOT, old_path), '--help'], cwd=str(tmp_path),
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith('usage: ')
    for path in [script, 'taxonomy']:
        full = os.path.join(REPO_ROOT, path)
        sources = [full] if os.path.isfile(full) else [os.path.join(full, f) for f in os.listdir(full) if f.endswith('.py')]
        for source in sources:
            with open(source) as f:
                assert 'sys.path' not in f.read(), source


# ----------------------------------------------------------------------------------------------- encoders

def test_hierarchy_text_round_trip():
    children = {'root': ['b', 'a'], 'b': ['b1', 'b2'], 'a': ['leaf-1'], 'b1': [], 'b2': [], 'leaf-1': []}
    text = indented.format_hierarchy({k: v for k, v in children.items() if v}, ['root'])
    assert text == 'root\n-- b\n---- b1\n---- b2\n-- a\n---- leaf-1\n'
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'h.txt')
        with open(path, 'w') as f:
            f.write(text)
        assert indented.read_hierarchy(path) == children
        edges, names = indented.encode_hierarchy(indented.read_hierarchy(path), ['b2', 'leaf-1', 'b1'])
    assert names == ['b2', 'leaf-1', 'b1', 'root', 'b', 'a']
    assert edges == [(3, 4), (3, 5), (4, 2), (4, 0), (5, 1)]


def test_encoder_reproduces_the_published_cifar_encoding(tmp_path):
    hierarchy = reference_file('cifar100', 'hierarchy.txt')
    # the published class_names.txt lists all 163 node ids, so encoding with it must give the same ids
    encode_hierarchy.main([hierarchy, reference_file('cifar100', 'class_names.txt'),
                  '--out', str(tmp_path / 'out.txt'), '--names_out', str(tmp_path / 'names.txt')])
    with open(reference_file('cifar100', 'cifar.parent-child.txt')) as f:
        published = sorted(f.read().split('\n'))
    assert sorted((tmp_path / 'out.txt').read_text().split('\n')) == published
    with open(reference_file('cifar100', 'class_names.txt')) as f:
        assert (tmp_path / 'names.txt').read_text() == f.read()


def test_encoder_reads_cifar_meta_pickles(tmp_path):
    meta = tmp_path / 'meta'
    names = [n.encode() for n in ['b2', 'leaf', 'b1']]
    with open(meta, 'wb') as f:
        pickle.dump({b'fine_label_names': names, b'coarse_label_names': [b'x']}, f, protocol=2)
    assert indented.read_class_names(str(meta)) == ['b2', 'leaf', 'b1']
    with open(meta, 'wb') as f:
        pickle.dump({'label_names': ['cat', 'dog']}, f, protocol=0)  # CIFAR-10 batches.meta
    assert indented.read_class_names(str(meta)) == ['cat', 'dog']
    (tmp_path / 'h.txt').write_text('root\n-- cat\n-- dog\n')
    encode_hierarchy.main([str(tmp_path / 'h.txt'), str(meta), 'plot', '--out', str(tmp_path / 'e.txt'),
                  '--plot', str(tmp_path / 'h.png')])
    assert (tmp_path / 'e.txt').read_text() == '2 0\n2 1\n'
    assert (tmp_path / 'h.png').read_bytes()[:4] == b'\x89PNG'


def test_encoder_with_names_as_ids(tmp_path, capsys):
    """--str_ids: the hand-written tree of class names for a dataset whose class ids are names (a folder)."""
    (tmp_path / 'h.txt').write_text('thing\n-- animal\n---- cougar_body\n---- cougar_face\n-- airplanes\n')
    (tmp_path / 'classes.txt').write_text('airplanes\ncougar_body\ncougar_face\n')
    encode_hierarchy.main([str(tmp_path / 'h.txt'), str(tmp_path / 'classes.txt'), '--str_ids',
                           '--out', str(tmp_path / 'tree.txt'), '--names_out', str(tmp_path / 'names.txt')])
    assert (tmp_path / 'tree.txt').read_text() == ('thing animal\nthing airplanes\n'
                                                  'animal cougar_body\nanimal cougar_face\n')
    hierarchy = ClassHierarchy.from_file(str(tmp_path / 'tree.txt'), id_type=str)
    assert sorted(hierarchy.leaves()) == ['airplanes', 'cougar_body', 'cougar_face']
    assert 'animal animal' in (tmp_path / 'names.txt').read_text()
    (tmp_path / 'h.txt').write_text('thing\n-- big animal\n---- cougar_body\n---- cougar_face\n-- airplanes\n')
    with pytest.raises(SystemExit):
        encode_hierarchy.main([str(tmp_path / 'h.txt'), str(tmp_path / 'classes.txt'), '--str_ids',
                               '--out', str(tmp_path / 'tree2.txt')])
    assert "node name 'big animal' contains whitespace" in capsys.readouterr().err


@pytest.mark.parametrize('text, fragments', [
    ('root\n-- a\n------ b\n', ['h.txt:3', 'deeper']),
    ('-- a\n', ['h.txt:1', 'must not be indented']),
    ('root\n--- a\n', ['h.txt:2', 'bad indentation']),
    ('root\n--a\n', ['h.txt:2', 'bad indentation']),
    ('root\n-- a\n-- a\n', ['h.txt:3', "duplicate node name 'a'"]),
    ('\n\n', ['h.txt', 'empty hierarchy']),
    ('root\n-- a\n', ["class 'b'", 'does not occur']),
])
def test_encoder_bad_hierarchy_files(tmp_path, capsys, text, fragments):
    (tmp_path / 'h.txt').write_text(text)
    (tmp_path / 'names.txt').write_text('a\nb\n')
    with pytest.raises(SystemExit):
        encode_hierarchy.main([str(tmp_path / 'h.txt'), str(tmp_path / 'names.txt'), '--out', str(tmp_path / 'o.txt')])
    error = capsys.readouterr().err.strip()
    assert error.startswith('error:') and len(error.splitlines()) == 1
    for fragment in fragments:
        assert fragment in error
    assert not (tmp_path / 'o.txt').exists()


@pytest.mark.parametrize('text, fragment', [
    ('0 a\n2 b\n', 'names.txt:2: expected index 1, got 2'),
    ('a\na\n', "names.txt:2: duplicate class name 'a'"),
    ('a b c\n', 'names.txt:1: expected one class name'),
    ('\n', 'no class names'),
])
def test_encoder_bad_class_lists(tmp_path, text, fragment):
    (tmp_path / 'names.txt').write_text(text)
    with pytest.raises(ValueError) as error:
        indented.read_class_names(str(tmp_path / 'names.txt'))
    assert fragment in str(error.value)


# ----------------------------------------------------------------------------------------------- shipped trees

CIFAR100_CLASSES = (
    'apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus butterfly camel '
    'can castle caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile cup dinosaur '
    'dolphin elephant flatfish forest fox girl hamster house kangaroo keyboard lamp lawn_mower leopard lion '
    'lizard lobster man maple_tree motorcycle mountain mouse mushroom oak_tree orange orchid otter palm_tree '
    'pear pickup_truck pine_tree plain plate poppy porcupine possum rabbit raccoon ray road rocket rose sea '
    'seal shark shrew skunk skyscraper snail snake spider squirrel streetcar sunflower sweet_pepper table tank '
    'telephone television tiger tractor train trout tulip turtle wardrobe whale willow_tree wolf woman worm'
).split()
CIFAR10_CLASSES = 'airplane automobile bird cat deer dog frog horse ship truck'.split()
FASHION_CLASSES = 'T-shirt/top Trouser Pullover Dress Coat Sandal Shirt Sneaker Bag Ankle_boot'.split()

SHIPPED = [
    ('Cifar-Hierarchy', 'class_names.txt', 'hierarchy.txt', 'cifar.parent-child.txt', CIFAR100_CLASSES),
    ('Cifar-Hierarchy', 'cifar10.class_names.txt', 'cifar10.hierarchy.txt', 'cifar10.parent-child.txt',
     CIFAR10_CLASSES),
    ('Fashion-MNIST-Hierarchy', 'class_names.txt', 'hierarchy.txt', 'fashion-mnist.parent-child.txt',
     FASHION_CLASSES),
]


@pytest.mark.parametrize('folder, names_file, hierarchy_file, encoded_file, classes', SHIPPED)
def test_shipped_trees(tmp_path, folder, names_file, hierarchy_file, encoded_file, classes):
    folder = os.path.join(REPO_ROOT, folder)
    assert indented.read_class_names(os.path.join(folder, names_file)) == classes
    # the encoded file is what the encoder makes of the readable tree
    encode_hierarchy.main([os.path.join(folder, hierarchy_file), os.path.join(folder, names_file),
                  '--out', str(tmp_path / 'encoded.txt')])
    with open(os.path.join(folder, encoded_file)) as f:
        assert (tmp_path / 'encoded.txt').read_text() == f.read()
    hierarchy = ClassHierarchy.from_file(os.path.join(folder, encoded_file), id_type=int)
    assert hierarchy.is_tree()
    assert sorted(hierarchy.leaves()) == list(range(len(classes)))
    assert len(hierarchy.roots()) == 1
    assert hierarchy.max_height >= 3
    assert all(len(hierarchy.children[n]) >= 2 for n in hierarchy.nodes if n >= len(classes))  # no chains


def test_cifar100_class_order_matches_the_published_one():
    with open(reference_file('cifar100', 'class_names.txt')) as f:
        published = [line.split()[1] for line in f][:100]
    assert published == CIFAR100_CLASSES


@needs_wordnet
@pytest.mark.parametrize('dataset, files', [
    ('cifar100', ['class_names.txt', 'hierarchy.txt', 'cifar.parent-child.txt', 'cifar.names.txt']),
    ('cifar10', ['cifar10.class_names.txt', 'cifar10.hierarchy.txt', 'cifar10.parent-child.txt', 'cifar10.names.txt']),
])
def test_derived_cifar_trees_are_up_to_date(tmp_path, dataset, files):
    derive_cifar_hierarchy.main(['--dataset', dataset, '--out_dir', str(tmp_path)])
    for name in files:
        with open(os.path.join(REPO_ROOT, 'Cifar-Hierarchy', name)) as f:
            assert (tmp_path / name).read_text() == f.read(), name


@needs_wordnet
def test_cifar_mapping_table(wn):
    for table in (cifar.CIFAR100_SYNSETS, cifar.CIFAR10_SYNSETS):
        for name, target in table.items():
            if isinstance(target, tuple):
                assert name == 'aquarium_fish' and wn.name(target[1]) == 'teleost_fish'
                continue
            lemmas = {lemma.lower() for lemma in wn.lemmas[target]}
            # the synset carries the class name (or its head word: maple_tree -> maple, keyboard ->
            # computer_keyboard, whale -> baleen_whale, girl -> female_child, ...)
            words = set(name.split('_')) | {name}
            assert lemmas & words or any(w in lemma for lemma in lemmas for w in words) or \
                name in ('automobile', 'girl'), (name, lemmas)
    hand = [n for n, t in cifar.CIFAR100_SYNSETS.items() if not cifar.is_first_sense(n, t, wn)]
    assert len(hand) == 27
    assert {'beaver', 'dolphin', 'seal', 'table', 'aquarium_fish', 'whale'} <= set(hand)
    assert not [n for n, t in cifar.CIFAR10_SYNSETS.items() if not cifar.is_first_sense(n, t, wn)]


@needs_wordnet
def test_cifar_tree_groups(wn):
    """A few groupings anyone would expect of a WordNet-derived CIFAR-100 tree."""
    hierarchy = indented.read_hierarchy(os.path.join(REPO_ROOT, 'Cifar-Hierarchy', 'hierarchy.txt'))
    parent = {child: p for p, kids in hierarchy.items() for child in kids}

    def ancestors(name):
        result = []
        while name in parent:
            name = parent[name]
            result.append(name)
        return result

    assert parent['maple_tree'] == parent['oak_tree'] == 'tree'
    assert parent['wolf'] == parent['fox'] == 'canine'
    assert 'carnivore' in ancestors('tiger') and 'carnivore' in ancestors('bear')
    assert 'fish' in ancestors('trout') and 'fish' in ancestors('shark') and 'fish' in ancestors('aquarium_fish')
    assert 'vehicle' in ancestors('bicycle') and 'vehicle' in ancestors('tank')
    assert 'furniture' in ancestors('chair') and 'furniture' in ancestors('lamp')
    assert 'person' in ancestors('girl') and 'person' in ancestors('man')
