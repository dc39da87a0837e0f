"""The class embeddings shipped in embeddings/ are what compute_class_embedding.py makes of our trees."""

import os

import numpy as np
import pytest

import compute_class_embedding
import error_bounds as eb
import utils
from class_hierarchy import ClassHierarchy
from conftest import REPO_ROOT

# embedding file -> (hierarchy file, number of classes); the commands are listed in embeddings/README.md
SHIPPED_EMBEDDINGS = {
    'cifar100.unitsphere.pickle': ('Cifar-Hierarchy/cifar.parent-child.txt', 100),
    'cifar10.unitsphere.pickle': ('Cifar-Hierarchy/cifar10.parent-child.txt', 10),
    'fashion-mnist.unitsphere.pickle': ('Fashion-MNIST-Hierarchy/fashion-mnist.parent-child.txt', 10),
}


@pytest.mark.parametrize('embedding_file', sorted(SHIPPED_EMBEDDINGS))
def test_shipped_embedding_is_reproducible(tmp_path, capsys, embedding_file):
    hierarchy_file, num_classes = SHIPPED_EMBEDDINGS[embedding_file]
    out = tmp_path / embedding_file
    compute_class_embedding.main(['--hierarchy', os.path.join(REPO_ROOT, hierarchy_file),
                                  '--method', 'unitsphere', '--out', str(out)])
    shipped = utils.load_class_embedding(os.path.join(REPO_ROOT, 'embeddings', embedding_file))
    regenerated = utils.load_class_embedding(str(out))
    assert shipped['ind2label'] == regenerated['ind2label'] == list(range(num_classes))
    assert shipped['label2ind'] == {i: i for i in range(num_classes)}
    assert shipped['embedding'].shape == (num_classes, num_classes)
    # Two Cholesky factorizations of the same matrix (another machine, another BLAS): each is the exact factor
    # of a matrix within its backward error, so they differ by at most the perturbation bound.
    hierarchy = ClassHierarchy.from_file(os.path.join(REPO_ROOT, hierarchy_file), id_type=int)
    similarity = hierarchy.similarity_matrix(shipped['ind2label'])
    residual = eb.gram_residual_bound(num_classes)
    assert np.linalg.norm(shipped['embedding'] - regenerated['embedding']) <= \
        eb.cholesky_factor_difference_bound(similarity, [residual, residual])


@pytest.mark.parametrize('embedding_file', sorted(SHIPPED_EMBEDDINGS))
def test_shipped_embedding_gram_matrix_is_the_class_similarity(embedding_file):
    hierarchy_file, num_classes = SHIPPED_EMBEDDINGS[embedding_file]
    hierarchy = ClassHierarchy.from_file(os.path.join(REPO_ROOT, hierarchy_file), id_type=int)
    record = utils.load_class_embedding(os.path.join(REPO_ROOT, 'embeddings', embedding_file))
    embedding, labels = record['embedding'], record['ind2label']
    # per pair, with the original's scalar lcs_height (not the matrix code the embedding is built from)
    similarity = np.array([[1.0 - hierarchy.lcs_height(a, b) for b in labels] for a in labels])
    np.testing.assert_allclose(embedding @ embedding.T, similarity, rtol=0, atol=eb.cholesky_gram_bound(num_classes))
    np.testing.assert_allclose(np.linalg.norm(embedding, axis=1), 1.0, rtol=0, atol=eb.unit_norm_bound(num_classes))
    assert similarity.min() == 0.0  # classes in different top-level branches are orthogonal
