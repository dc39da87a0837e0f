"""The shipped Tiny ImageNet tree and class embedding are what our tools make of the dataset's wnids."""

import io
import os
import tarfile

import numpy as np
import pytest

import compute_class_embedding
import utils
import wordnet_hierarchy
from class_hierarchy import ClassHierarchy
import error_bounds as eb
from conftest import REPO_ROOT, SHARED_DATA_DIR, needs_wordnet
from taxonomy import wnids as wnid_lists

TARBALL = os.path.join(SHARED_DATA_DIR, 'tiny-imagenet-200.tar.gz')
TREE = os.path.join(REPO_ROOT, 'TinyImageNet-Hierarchy', 'tiny-imagenet.parent-child.txt')
NAMES = os.path.join(REPO_ROOT, 'TinyImageNet-Hierarchy', 'tiny-imagenet.names.txt')
EMBEDDING = os.path.join(REPO_ROOT, 'embeddings', 'tiny-imagenet.unitsphere.pickle')

needs_tarball = pytest.mark.skipif(not os.path.exists(TARBALL), reason='tiny-imagenet-200.tar.gz not available')


def tiny_imagenet_wnids():
    """The 200 wnids of wnids.txt in the tarball, read on their own (not through the tool)."""
    with tarfile.open(TARBALL) as archive:
        for member in archive:  # stops at the file, near the start, instead of scanning all 120,000 members
            if member.name == 'tiny-imagenet-200/wnids.txt':
                return archive.extractfile(member).read().decode().split()
    raise AssertionError('no tiny-imagenet-200/wnids.txt in ' + TARBALL)


@needs_wordnet
@needs_tarball
def test_tree_and_names_are_up_to_date(tmp_path):
    out, names = tmp_path / 'tree.txt', tmp_path / 'names.txt'
    wordnet_hierarchy.main([TARBALL, '--out', str(out), '--names_out', str(names)])
    with open(TREE) as f:
        assert out.read_text() == f.read()
    with open(NAMES) as f:
        assert names.read_text() == f.read()


@needs_tarball
def test_tree_is_over_the_datasets_wnids():
    classes = tiny_imagenet_wnids()
    assert len(classes) == len(set(classes)) == 200
    hierarchy = ClassHierarchy.from_file(TREE, id_type=str)
    assert hierarchy.is_tree() and hierarchy.roots() == ['n00001740']  # entity
    assert hierarchy.leaves() == sorted(classes)
    with open(NAMES) as f:
        names = dict(line.rstrip('\n').split(' ', 1) for line in f)
    assert set(names) == set(hierarchy.nodes)
    assert names['n02124075'] == 'Egyptian_cat' and names['n00001740'] == 'entity'


def test_shipped_embedding_is_reproducible(tmp_path):
    out = tmp_path / 'tiny.pickle'
    compute_class_embedding.main(['--hierarchy', TREE, '--str_ids', '--method', 'unitsphere', '--out', str(out)])
    shipped, regenerated = utils.load_class_embedding(EMBEDDING), utils.load_class_embedding(str(out))
    hierarchy = ClassHierarchy.from_file(TREE, id_type=str)
    assert shipped['ind2label'] == regenerated['ind2label'] == hierarchy.leaves()
    # the Gram matrix is the class similarity, 1 - LCS height / tree height, checked per pair with the scalar code
    labels, embedding = shipped['ind2label'], shipped['embedding']
    similarity = np.array([[1.0 - hierarchy.lcs_height(a, b) for b in labels] for a in labels])
    # two Cholesky factorizations of one matrix (another machine, another BLAS) differ within the perturbation
    # bound of their backward errors; tolerances from the error analysis (tests/error_bounds.py), not one machine
    residual = eb.gram_residual_bound(len(labels))
    assert np.linalg.norm(shipped['embedding'] - regenerated['embedding']) <= \
        eb.cholesky_factor_difference_bound(similarity, [residual, residual])
    np.testing.assert_allclose(embedding @ embedding.T, similarity, rtol=0, atol=eb.cholesky_gram_bound(len(labels)))


def test_class_list_from_an_archive(tmp_path):
    def make_archive(path, members):
        with tarfile.open(path, 'w:gz') as archive:
            for name, text in members:
                data = text.encode()
                info = tarfile.TarInfo(name)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))

    make_archive(tmp_path / 'ok.tar.gz', [('data/words.txt', 'x'), ('data/wnids.txt', 'n02084071\nn02121808\n'),
                                          ('data/train/wnids.txt', 'n00000001\n')])
    assert wnid_lists.read_class_list(str(tmp_path / 'ok.tar.gz')) == [
        ('n02084071', '{}:data/wnids.txt:1'.format(tmp_path / 'ok.tar.gz')),
        ('n02121808', '{}:data/wnids.txt:2'.format(tmp_path / 'ok.tar.gz'))]
    make_archive(tmp_path / 'bad.tar.gz', [('data/wnids.txt', 'n02084071\ndog\n')])
    with pytest.raises(ValueError, match=r"bad.tar.gz:data/wnids.txt:2: 'dog' is not a WordNet noun id"):
        wnid_lists.read_class_list(str(tmp_path / 'bad.tar.gz'))
    make_archive(tmp_path / 'none.tar.gz', [('data/train/wnids.txt', 'n02084071\n')])
    with pytest.raises(ValueError, match='none.tar.gz: no wnids.txt at the top of the archive'):
        wnid_lists.read_class_list(str(tmp_path / 'none.tar.gz'))
