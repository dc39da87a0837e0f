"""Class names -> WordNet synsets -> a tree whose leaves are the class names (taxonomy_from_names.py)."""

import os
import subprocess
import sys

import pytest

import taxonomy_from_names
import wordnet
from class_hierarchy import ClassHierarchy
from conftest import REPO_ROOT, assert_one_line_error, needs_wordnet, run_script
from taxonomy import named_tree, names



# ----------------------------------------------------------------------------------------------- morphology

# A tiny database: entity > animal > {mouse, box, ass, wolf}; 'boxful' and 'mice_cage' for the special rules.
SYNTHETIC_DATA = """\
  1 license header
00000001 03 n 01 entity 0 000 | the root  
00000002 05 n 01 animal 0 001 @ 00000001 n 0000 | a living thing  
00000003 05 n 01 mouse 0 001 @ 00000002 n 0000 | a rodent  
00000004 06 n 01 box 0 001 @ 00000001 n 0000 | a container  
00000005 05 n 01 ass 0 001 @ 00000002 n 0000 | a donkey  
00000006 05 n 01 wolf 0 001 @ 00000002 n 0000 | a canine  
00000007 06 n 01 boxful 0 001 @ 00000001 n 0000 | as much as a box holds  
00000008 06 n 01 fly 0 001 @ 00000002 n 0000 | an insect  
00000009 06 n 01 flies 0 001 @ 00000001 n 0000 | a theatre loft  
"""
SYNTHETIC_INDEX = """\
  1 license header
animal n 1 1 @ 1 0 00000002  
ass n 1 1 @ 1 0 00000005  
box n 1 1 @ 1 0 00000004  
boxful n 1 1 @ 1 0 00000007  
entity n 1 0 1 0 00000001  
flies n 1 1 @ 1 0 00000009  
fly n 1 1 @ 1 0 00000008  
mouse n 1 1 @ 1 0 00000003  
wolf n 1 1 @ 1 0 00000006  
"""
SYNTHETIC_EXC = "mice mouse\nwolves wolf\n"


@pytest.fixture
def tiny_wn(tmp_path):
    (tmp_path / 'data.noun').write_text(SYNTHETIC_DATA)
    (tmp_path / 'index.noun').write_text(SYNTHETIC_INDEX)
    (tmp_path / 'noun.exc').write_text(SYNTHETIC_EXC)
    return wordnet.WordNet.load(str(tmp_path))


@pytest.mark.parametrize('word, bases', [
    ('mouse', ['mouse']),              # a lemma as it is
    ('mice', ['mouse']),               # the exception list
    ('Mice', ['mouse']),               # case
    ('wolves', ['wolf']),              # exception, not the rule ('wolve' is no lemma anyway)
    ('animals', ['animal']),           # -s
    ('boxes', ['box']),                # -xes (and -s: 'boxe' is no lemma)
    ('boxesful', ['boxful']),          # -ful: the part before it is reduced
    ('flies', ['flies', 'fly']),       # a lemma itself comes first, then the rule -ies -> -y
    ('asses', ['ass']),                # -ses -> -s ('asse' of the -s rule is no lemma)
    ('ass', ['ass']),                  # ends in 'ss': no rule applies ('as' is not tried)
    ('ox', []),                        # two letters: no rule
    ('cats', []),                      # nothing known
])
def test_morphy_by_hand(tiny_wn, word, bases):
    assert tiny_wn.morphy(word) == bases


def test_lookup_and_is_word(tiny_wn):
    assert tiny_wn.lookup('Mice') == [('mouse', ('n00000003',))]
    assert tiny_wn.lookup('flies') == [('flies', ('n00000009',)), ('fly', ('n00000008',))]
    assert tiny_wn.is_word('wolves') and not tiny_wn.is_word('lilly')


@needs_wordnet
@pytest.mark.parametrize('word, base', [
    ('airplanes', 'airplane'), ('Faces', 'face'), ('Motorbikes', 'motorbike'), ('geese', 'goose'),
    ('butterflies', 'butterfly'), ('soccer balls', 'soccer_ball'), ('churches', 'church'), ('women', 'woman'),
    ('policemen', 'policeman'), ('attorneys_general', 'attorney_general'), ('glass', 'glass'),
])
def test_morphy_on_wordnet(wn, word, base):
    assert wn.morphy(word)[0] == base


# ----------------------------------------------------------------------------------------------- matching names

def test_split_name_and_variants():
    assert names.split_name('WindsorChair') == ['windsor', 'chair']
    assert names.split_name('BACKGROUND_Google') == ['background', 'google']
    assert names.split_name(' in-line skate.v2 ') == ['in', 'line', 'skate', 'v2']
    assert names.split_name('crème_brûlée') == ['crème', 'brûlée']
    assert names.phrase_variants(['wild', 'cat']) == ['wild_cat', 'wildcat', 'wild-cat']
    assert names.phrase_variants(['in', 'line', 'skate'])[:3] == ['in_line_skate', 'inlineskate', 'in-line-skate']
    assert 'in-line_skate' in names.phrase_variants(['in', 'line', 'skate'])


@needs_wordnet
@pytest.mark.parametrize('name, kind, lemma, wnid', [
    ('airplanes', 'morphology', 'airplane', 'n02691156'),       # a plural
    ('Faces', 'morphology', 'face', 'n05600637'),               # capitalized and plural
    ('Snoopy', 'exact', 'snoopy', 'n09604868'),                 # an instance synset
    ('WindsorChair', 'exact', 'windsor_chair', 'n04590933'),    # camel case
    ('wild_cat', 'variant', 'wildcat', 'n04584639'),            # written together (first sense: an oil well)
    ('t_shirt', 'variant', 't-shirt', 'n03595614'),             # hyphenated
    ('cougar_body', 'part', 'cougar', 'n02125311'),             # the most specific part
    ('crocodile_head', 'part', 'crocodile', 'n01697178'),
    ('aquarium_fish', 'part', 'fish', 'n02512053'),
    ('n02084071', 'wnid', 'dog', 'n02084071'),
])
def test_match_name(wn, name, kind, lemma, wnid):
    match = names.match_name(name, wn)
    assert (match.kind, match.lemma, match.wnid) == (kind, lemma, wnid)
    assert match.wnid == match.senses[0]  # the first sense by default
    assert match.wnid in wn.synsets(lemma)


@needs_wordnet
def test_match_name_rules(wn):
    maple = names.match_name('maple_tree', wn)  # the maple that is a tree, not maple wood (its first sense)
    assert maple.kind == 'part' and 'n13104059' in wn.ancestors(maple.wnid) and maple.wnid != maple.senses[0]
    faces = names.match_name('Faces', wn)
    assert faces.ambiguous and len(faces.alternatives) == len(faces.senses) - 1 == 12
    assert 'sense 1 of 13' in names.describe_match(faces, wn)
    lilly = names.match_name('water_lilly', wn)  # a misspelling is not a kind of water
    assert lilly.wnid is None and "'lilly'" in lilly.note
    assert names.match_name('xyzzy', wn).kind == 'unmatched'
    assert names.match_name('___', wn).kind == 'unmatched'


@needs_wordnet
def test_match_classes_with_overrides(wn, tmp_path):
    override = tmp_path / 'override.txt'
    override.write_text('# fixes\nwater_lilly n11714853  # water lily\n\nLeopards n02128385\n')
    matches = names.match_classes(['Leopards', 'water_lilly', 'airplanes'], wn, names.read_overrides(str(override), wn))
    assert [(m.kind, m.wnid) for m in matches] == [('override', 'n02128385'), ('override', 'n11714853'),
                                                   ('morphology', 'n02691156')]
    assert matches[0].note.endswith('override.txt:4')
    with pytest.raises(names.UnmatchedClassesError) as error:
        names.match_classes(['airplanes', 'water_lilly', 'xyzzy'], wn)
    assert error.value.names == ['water_lilly', 'xyzzy'] and '--override' in str(error.value)


@needs_wordnet
@pytest.mark.parametrize('content, fragment', [
    ('airplanes\n', 'override.txt:1: expected "class_name wnid"'),
    ('airplanes n1234\n', "override.txt:1: 'n1234' is not a WordNet noun id"),
    ('airplanes n00000000\n', 'override.txt:1: n00000000 is not a synset'),
    ('airplanes n02691156\nairplanes n02691156\n', "override.txt:2: a second override for 'airplanes'"),
])
def test_bad_override_files(wn, tmp_path, content, fragment):
    (tmp_path / 'override.txt').write_text(content)
    with pytest.raises(ValueError) as error:
        names.read_overrides(str(tmp_path / 'override.txt'), wn)
    assert fragment in str(error.value)


@needs_wordnet
def test_override_for_an_unknown_class(wn, tmp_path):
    (tmp_path / 'override.txt').write_text('boat n02858304\n')
    overrides = names.read_overrides(str(tmp_path / 'override.txt'), wn)
    with pytest.raises(ValueError, match=r"override.txt:1: override for 'boat', which is not one of the 1 classes"):
        names.match_classes(['airplanes'], wn, overrides)


def test_read_class_names(tmp_path):
    for split, classes in [('train', ['b', 'a']), ('test', ['a', 'b'])]:
        for c in classes:
            (tmp_path / 'data' / split / c).mkdir(parents=True)
    (tmp_path / 'data' / 'train' / '.cache').mkdir()
    (tmp_path / 'data' / 'train' / 'notes.txt').write_text('')
    assert names.read_class_names(str(tmp_path / 'data')) == ['a', 'b']
    (tmp_path / 'flat' / 'cat').mkdir(parents=True)
    (tmp_path / 'flat' / 'Windsor chair').mkdir()
    with pytest.raises(ValueError, match="class name 'Windsor chair' contains whitespace"):
        names.read_class_names(str(tmp_path / 'flat'))
    (tmp_path / 'list.txt').write_text('cat\ndog\n')
    assert names.read_class_names(str(tmp_path / 'list.txt')) == ['cat', 'dog']
    (tmp_path / 'empty').mkdir()
    with pytest.raises(ValueError, match='no class sub-directories'):
        names.read_class_names(str(tmp_path / 'empty'))


# ----------------------------------------------------------------------------------------------- the tree

#   r
#   ├── animal
#   │   ├── cat ── lion                        (cat has one parent, lion two: cat and pet)
#   │   └── dog
#   └── pet ── lion
DAG = {'animal': ['r'], 'pet': ['r'], 'cat': ['animal'], 'dog': ['animal'], 'lion': ['cat', 'pet']}


def test_class_name_tree_by_hand():
    classes = [('lion_body', 'lion'), ('lion_face', 'lion'), ('house_cat', 'cat'), ('puppy', 'dog')]
    tree, synset_of = named_tree.class_name_tree(classes, DAG)
    # lion takes the path through cat (adds no node); two classes share it: both leaves below it;
    # cat lies above lion, so its class is a leaf below it; dog has one class, which takes its place.
    assert tree == {'r': None, 'animal': 'r', 'cat': 'animal', 'lion': 'cat', 'puppy': 'animal',
                    'lion_body': 'lion', 'lion_face': 'lion', 'house_cat': 'cat'}
    assert synset_of == {'r': 'r', 'animal': 'animal', 'cat': 'cat', 'lion': 'lion'}
    pruned, _ = named_tree.class_name_tree(classes, DAG, prune=True)
    assert pruned == {n: (None if n == 'animal' else p) for n, p in tree.items() if n != 'r'}  # r had one child


def test_class_name_tree_prunes_chains_and_renames_clashes():
    dag = {'a': ['r'], 'b': ['a'], 'c': ['a'], 'x': ['r'], 'y': ['x']}
    tree, synset_of = named_tree.class_name_tree([('b', 'b'), ('c', 'c'), ('y1', 'y'), ('a', 'a')], dag)
    # the class 'a' shares its name with the synset a, which is an inner node: the synset becomes 'a.synset'
    assert tree == {'r': None, 'a.synset': 'r', 'b': 'a.synset', 'c': 'a.synset', 'a': 'a.synset', 'x': 'r', 'y1': 'x'}
    assert synset_of['a.synset'] == 'a'
    pruned, synset_of = named_tree.class_name_tree([('b', 'b'), ('c', 'c'), ('y1', 'y'), ('a', 'a')], dag, prune=True)
    assert pruned == {'r': None, 'a.synset': 'r', 'b': 'a.synset', 'c': 'a.synset', 'a': 'a.synset', 'y1': 'r'}
    assert 'x' not in synset_of
    with pytest.raises(ValueError, match="duplicate class name 'b'"):
        named_tree.class_name_tree([('b', 'b'), ('b', 'c')], dag)


def test_check_leaves_is_loud():
    with pytest.raises(RuntimeError, match=r"missing \['b'\]"):
        named_tree.check_leaves({'r': None, 'a': 'r'}, ['a', 'b'])


# ----------------------------------------------------------------------------------------------- the command

SMALL_SET = ['airplanes', 'Faces', 'cougar_body', 'cougar_face', 'chair', 'wheelchair', 'Snoopy', 'water_lilly',
             'lotus']


@needs_wordnet
def test_taxonomy_from_a_folder(wn, tmp_path, capsys):
    for name in SMALL_SET:
        (tmp_path / 'photos' / name).mkdir(parents=True)
    out = tmp_path / 'photos.parent-child.txt'
    out.write_text('old\n')
    # an unmatched name: one line naming it and the override flag, nothing written
    with pytest.raises(SystemExit) as exit_info:
        taxonomy_from_names.main([str(tmp_path / 'photos'), '--out', str(out)])
    assert exit_info.value.code == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith('error:') and len(error.splitlines()) == 1
    assert "'water_lilly'" in error and '--override' in error
    assert out.read_text() == 'old\n' and not (tmp_path / 'photos.names.txt').exists()

    (tmp_path / 'override.txt').write_text('water_lilly n11714853\n')
    taxonomy_from_names.main([str(tmp_path / 'photos'), '--out', str(out), '--override', str(tmp_path / 'override.txt')])
    report = capsys.readouterr().out
    for line in ['airplanes -> n02691156 airplane (morphology: airplane)', 'Faces -> n05600637 face (morphology: face;',
                 'cougar_body -> n02125311 cougar (part: cougar', 'chair -> n03001627 chair (exact; sense 1 of 5;',
                 '9 classes -> 8 synsets (shared by several classes: 1, instances: 1, approximate matches: 2, '
                 'ambiguous: 3)']:
        assert line in report, line
    assert 'wheelchair ->' not in report  # unambiguous exact matches need no look

    hierarchy = ClassHierarchy.from_file(str(out), id_type=str)  # as compute_class_embedding.py --str_ids reads it
    assert hierarchy.is_tree() and len(hierarchy.roots()) == 1
    assert sorted(hierarchy.leaves()) == sorted(SMALL_SET)  # no class dropped
    parent = {node: hierarchy.parents[node][0] for node in hierarchy.nodes if hierarchy.parents.get(node)}
    assert parent['cougar_body'] == parent['cougar_face'] == 'n02125311'
    assert parent['chair'] == parent['wheelchair'] == 'n03001627'   # chair is the synset above wheelchair
    assert parent['water_lilly'] == parent['lotus'] == 'n11714853'  # water lily is the synset above lotus
    assert wn.is_instance('n09604868') and parent['Snoopy'] == 'n09587565'  # via its instance hypernym
    assert parent['airplanes'] != 'n02691156'  # a synset with a single class gives its place to the class

    node_names = dict(line.split(' ', 1) for line in (tmp_path / 'photos.names.txt').read_text().splitlines())
    assert set(node_names) == set(hierarchy.nodes)
    assert node_names['n02125311'] == 'cougar' and node_names['Faces'] == 'Faces'
    # the mapping file is a valid override file giving the same result
    mapping = tmp_path / 'photos.synsets.txt'
    assert names.read_overrides(str(mapping), wn)['Faces'][0] == 'n05600637'
    first = out.read_text()
    taxonomy_from_names.main([str(tmp_path / 'photos'), '--out', str(out), '--override', str(mapping)])
    assert out.read_text() == first


@needs_wordnet
def test_taxonomy_from_names_script(tmp_path):
    (tmp_path / 'classes.txt').write_text('airplanes\ncat\nxyzzy\nwater_lilly\n')
    result = run_script('taxonomy_from_names.py', tmp_path / 'classes.txt', '--out', tmp_path / 't.txt')
    assert_one_line_error(result, "2 class names: 'xyzzy', 'water_lilly'", 'override')
    (tmp_path / 'classes.txt').write_text('airplanes\ncat\ndog\n')
    result = run_script('taxonomy_from_names.py', tmp_path / 'classes.txt', '--out', tmp_path / 't.txt', '--prune')
    assert result.returncode == 0, result.stderr
    assert (tmp_path / 't.names.txt').exists() and (tmp_path / 't.synsets.txt').exists()
    hierarchy = ClassHierarchy.from_file(str(tmp_path / 't.txt'), id_type=str)
    assert sorted(hierarchy.leaves()) == ['airplanes', 'cat', 'dog']
    assert all(len(hierarchy.children.get(n, ())) != 1 for n in hierarchy.nodes)  # pruned: no chains


def test_help_texts():
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    for script, fragments in [('wordnet.py', ['WORD', 'morphology', 'taxonomy_from_names.py', 'example']),
                              ('taxonomy_from_names.py', ['--override', 'morphology', 'encode_hierarchy.py'])]:
        result = subprocess.run([sys.executable, os.path.join(REPO_ROOT, script), '--help'], env=env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        for fragment in fragments:
            assert fragment in result.stdout, (script, fragment)
        assert max(len(line) for line in result.stdout.splitlines()) <= 100


@needs_wordnet
def test_wordnet_lookup_command(capsys):
    wordnet.main(['airplanes', 'water_lilly', 'n04029125'])
    out = capsys.readouterr().out
    assert 'airplanes -> airplane: 1 noun sense' in out and 'n02691156  airplane, aeroplane, plane' in out
    assert 'water_lilly: no WordNet noun' in out
    assert 'instance of n03743902 memorial' in out
