"""Batches of P classes x K images, for losses that compare the samples of a batch (triplet mining).

With plain shuffled batches a class among many rarely has two images in one batch (200 classes,
batch 100: half the anchors have no positive), so triplet mining finds few triplets. Hermans et
al. (2017, "In Defense of the Triplet Loss") sample each batch as P classes drawn at random and K
images drawn at random from each of them; `pk_batch_order` does that. Classes with fewer than K
images contribute all of them and then repeats drawn at random. No Keras import.
"""

import numpy as np


def check_pk(batch_size, per_class, num_classes):
    """P = batch_size / per_class; ValueError naming the value unless it divides and P <= num_classes."""
    batch_size, per_class = int(batch_size), int(per_class)
    if per_class < 2:
        raise ValueError("images per class in a batch must be at least 2 (a positive for each anchor), got {}".format(
            per_class))
    if batch_size % per_class:
        raise ValueError("batch size {} is not a multiple of the images per class {}".format(batch_size, per_class))
    classes_per_batch = batch_size // per_class
    if classes_per_batch < 2:
        raise ValueError("batch size {} holds a single class of {} images: no negatives".format(batch_size, per_class))
    if classes_per_batch > num_classes:
        raise ValueError("batch size {} / {} images per class = {} classes per batch, but the data has only {}".format(
            batch_size, per_class, classes_per_batch, num_classes))
    return classes_per_batch


def pk_batch_order(labels, batch_size, per_class, num_batches, rng):
    """Sample positions for `num_batches` batches of `batch_size`, one after the other (a flat int array).

    Each batch: `batch_size // per_class` distinct classes drawn uniformly at random without
    replacement, then `per_class` images of each, drawn without replacement (with repeats only where
    a class has fewer images). `rng`: a `numpy.random.Generator`.
    """
    labels = np.asarray(labels)
    classes, inverse = np.unique(labels, return_inverse=True)
    members = [np.flatnonzero(inverse == c) for c in range(len(classes))]
    classes_per_batch = check_pk(batch_size, per_class, len(classes))
    order = np.empty((int(num_batches), classes_per_batch, int(per_class)), dtype=np.int64)
    for b in range(int(num_batches)):
        for slot, c in enumerate(rng.choice(len(classes), classes_per_batch, replace=False)):
            pool = members[c]
            if len(pool) >= per_class:
                order[b, slot] = rng.choice(pool, per_class, replace=False)
            else:
                extra = rng.choice(pool, per_class - len(pool), replace=True)
                order[b, slot] = rng.permutation(np.concatenate([pool, extra]))
    return order.reshape(-1)
