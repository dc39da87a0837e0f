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
