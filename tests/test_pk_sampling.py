"""P classes x K images per batch (datasets.pk_sampling) checked batch by batch."""

import collections

import numpy as np
import pytest

from datasets.pk_sampling import pk_batch_order


def test_every_batch_holds_p_classes_of_k_images():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), [8, 8, 8, 8, 8, 8, 8, 8, 3, 1])  # classes 8 and 9 smaller than K
    order = pk_batch_order(labels, batch_size=12, per_class=4, num_batches=200, rng=rng)
    assert order.shape == (2400,)
    counts = collections.Counter()
    for batch in order.reshape(200, 12):
        by_class = collections.defaultdict(list)
        for position in batch:
            by_class[labels[position]].append(position)
        assert len(by_class) == 3 and all(len(v) == 4 for v in by_class.values())
        for c, positions in by_class.items():
            members = set(np.flatnonzero(labels == c))
            assert set(positions) <= members
            # Without repeats where the class has K images; all of a smaller class's images are there.
            assert len(set(positions)) == min(4, len(members))
            counts[c] += 1
    # Classes drawn uniformly: 200 batches x 3 of 10 classes = 60 each on average.
    assert all(35 <= counts[c] <= 85 for c in range(10)), counts


def test_deterministic_for_a_seed():
    labels = np.arange(30) % 5
    first = pk_batch_order(labels, 6, 2, 10, np.random.default_rng(1))
    np.testing.assert_array_equal(first, pk_batch_order(labels, 6, 2, 10, np.random.default_rng(1)))


@pytest.mark.parametrize("batch_size, per_class, fragment", [
    (10, 4, "not a multiple"), (8, 1, "at least 2"), (4, 4, "single class"), (24, 2, "only 5"),
])
def test_bad_values(batch_size, per_class, fragment):
    with pytest.raises(ValueError, match=fragment):
        pk_batch_order(np.arange(30) % 5, batch_size, per_class, 1, np.random.default_rng(0))


def triplet_training_sequence(per_class, batch_size, seed):
    """The training sequence `models.training.train` builds for `--loss triplet` on digits (10 classes)."""
    from datasets import get_data_generator
    from models import training
    from models.heads import target_transform
    from models.methods import METHODS, MethodContext

    method = METHODS["triplet"]
    hyperparameters = method.hyperparameters({"per_class": per_class})
    transform = target_transform("triplet", MethodContext(embedding=np.eye(10)), loss_kwargs=hyperparameters)
    train_data, _ = training.make_sequences(get_data_generator("digits"), transform, batch_size, seed=seed,
                                            read_workers=1, train_options=method.batch_sampler(**hyperparameters))
    return train_data


def epoch_batches(sequence, count=None):
    return [sequence[i] for i in range(count or len(sequence))]


def test_triplet_training_sequence_is_p_classes_of_k_images_and_replays_an_epoch():
    pytest.importorskip("keras")
    from models.methods import METHODS

    triplet = METHODS["triplet"]
    assert triplet.hyperparameters()["per_class"] == 4 and triplet.batch_sampler(**triplet.hyperparameters()) == {
        "per_class": 4}
    sequence = triplet_training_sequence(per_class=3, batch_size=15, seed=7)  # P = 5 classes x K = 3 images
    labels = sequence.labels
    assert len(sequence) == int(np.ceil(len(labels) / 15))  # the epoch keeps its number of batches
    first = epoch_batches(sequence)
    seen = collections.Counter()
    for idx, (x, y) in enumerate(first):
        assert len(x) == 15
        np.testing.assert_array_equal(y, labels[sequence.batch_indices(idx)])  # targets: the labels themselves
        blocks = np.asarray(y).reshape(5, 3)
        assert (blocks == blocks[:, :1]).all() and len(set(blocks[:, 0])) == 5  # 5 distinct classes, 3 images each
        positions = sequence.batch_indices(idx).reshape(5, 3)
        assert all(len(set(row)) == 3 for row in positions)  # digits has >= 3 images per class: no repeats
        seen.update(blocks[:, 0].tolist())
    assert set(seen) == set(range(10))
    plain = sequence.data_generator.compose_batch(sequence.batch_indices(0), train=True)
    assert not np.array_equal(first[0][0], plain)  # augmented: the replay below covers the augmentation too

    sequence.on_epoch_end()  # epoch 1 of the uninterrupted run: a new P x K order
    second = epoch_batches(sequence, 5)
    assert any(not np.array_equal(a[1], b[1]) for a, b in zip(first, second))
    # A fresh sequence (resume) replays an epoch exactly: order and augmentation, from (seed, epoch) alone.
    resumed = triplet_training_sequence(per_class=3, batch_size=15, seed=7)
    resumed.set_epoch(1)
    for (xa, ya), (xb, yb) in zip(second, epoch_batches(resumed, 5)):
        np.testing.assert_array_equal(ya, yb)
        np.testing.assert_array_equal(xa, xb)
    resumed.set_epoch(0)
    for (xa, ya), (xb, yb) in zip(first, epoch_batches(resumed)):
        np.testing.assert_array_equal(ya, yb)
        np.testing.assert_array_equal(xa, xb)
    other_seed = triplet_training_sequence(per_class=3, batch_size=15, seed=8)
    assert any(not np.array_equal(a[1], b[1]) for a, b in zip(first, epoch_batches(other_seed, 5)))


def test_triplet_training_sequence_bad_batch_size():
    pytest.importorskip("keras")
    with pytest.raises(ValueError, match="25 classes per batch, but the data has only 10"):
        triplet_training_sequence(per_class=4, batch_size=100, seed=0)
    with pytest.raises(ValueError, match="not a multiple"):
        triplet_training_sequence(per_class=4, batch_size=30, seed=0)
