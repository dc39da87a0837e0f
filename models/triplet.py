"""Triplet loss with online mining (`models.miners`) and the fraction of active triplets as a metric.

Distance: the squared Euclidean distance of the L2-normalized embeddings, d(x, y) = |x - y|^2 =
2 - 2 <x, y> in [0, 4], as FaceNet (Schroff et al. 2015) and TensorFlow's `triplet_semihard_loss`
use it: it is smooth everywhere (the plain Euclidean distance has an infinite derivative where two
embeddings coincide, e.g. two augmentations of similar images), and on the unit sphere it is an
affine function of the cosine similarity the rest of this project ranks by, so a margin means the
same at every distance. `squared=False` gives the Euclidean distance of Hermans et al. (2017).

Targets: the class of each sample, as integer labels of shape (B,) or (B, 1), or as one row per
sample (one-hot vectors or any class-specific target vector): two samples are of the same class
when their rows are equal.

The batch loss is a scalar (mining couples the samples of a batch); rows with sample weight 0 (the
padding of `ReplicaPaddedBatches`) take no part in mining. Under data parallelism every replica
mines within its share of the batch. The memory of `semi_hard` and `all` grows with B^3
(B = 256: 64 MB in float32).
"""

import keras
import numpy as np
from keras import ops

from models.serialization import PACKAGE
from models.miners import MINER_FUNCTIONS, check_miner, pair_masks, reduce_triplets


def pairwise_distances(embeddings, squared=True):
    """(B, B) distances between the rows: squared Euclidean, or Euclidean with `squared=False`."""
    x = ops.cast(embeddings, "float32")
    sq_norms = ops.sum(ops.square(x), axis=1)
    dist = ops.expand_dims(sq_norms, 1) + ops.expand_dims(sq_norms, 0) - 2.0 * ops.matmul(x, ops.transpose(x))
    # Rounding can make the expansion slightly negative, and the diagonal must be exactly 0.
    size = ops.shape(x)[0]
    dist = ops.maximum(dist, 0.0) * (1.0 - ops.eye(size, dtype="float32"))
    if squared:
        return dist
    zero = dist <= 0
    # sqrt's derivative at 0 is infinite: take the root of a placeholder there and put 0 back.
    return ops.where(zero, 0.0, ops.sqrt(ops.where(zero, 1.0, dist)))


def same_class_matrix(y_true):
    """(B, B) booleans: whether samples i and j have the same class (labels, or equal target rows)."""
    if len(y_true.shape) == 1 or (len(y_true.shape) == 2 and y_true.shape[-1] == 1):
        labels = ops.reshape(y_true, (-1,))
        return ops.equal(ops.expand_dims(labels, 1), ops.expand_dims(labels, 0))
    rows = ops.reshape(y_true, (ops.shape(y_true)[0], -1))
    return ops.all(ops.equal(ops.expand_dims(rows, 1), ops.expand_dims(rows, 0)), axis=-1)


def _row_mask(sample_weight, batch_size):
    if sample_weight is None:
        return ops.ones((batch_size,), dtype="bool")
    return ops.reshape(ops.cast(sample_weight, "float32"), (-1,)) > 0


def triplet_statistics(y_true, y_pred, margin, miner, squared=True, sample_weight=None):
    """`(loss, num_active, num_mined)` of one batch (see `models.miners`)."""
    distance = pairwise_distances(y_pred, squared)
    row_mask = _row_mask(sample_weight, ops.shape(distance)[0])
    losses, mined = MINER_FUNCTIONS[miner](distance, same_class_matrix(y_true), row_mask, margin)
    return reduce_triplets(losses, mined, miner)


def check_margin(margin):
    margin = float(margin)
    if not np.isfinite(margin) or margin <= 0:
        raise ValueError("--triplet_margin must be a positive number, got {!r}".format(margin))
    return margin


@keras.saving.register_keras_serializable(package=PACKAGE)
class TripletLoss(keras.losses.Loss):
    """Triplet loss of a batch: mean hinge max(0, d(a, p) - d(a, n) + margin) over the mined triplets."""

    def __init__(self, margin=0.2, miner="semi_hard", squared=True, name="triplet_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.margin = check_margin(margin)
        self.miner = check_miner(miner)
        self.squared = bool(squared)

    def __call__(self, y_true, y_pred, sample_weight=None):
        # Not `Loss.__call__`: that would weight a per-sample vector, while mining needs the whole batch.
        return triplet_statistics(y_true, y_pred, self.margin, self.miner, self.squared, sample_weight)[0]

    def call(self, y_true, y_pred):
        return triplet_statistics(y_true, y_pred, self.margin, self.miner, self.squared)[0]

    def get_config(self):
        config = super().get_config()
        config.update(margin=self.margin, miner=self.miner, squared=self.squared)
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class ActiveTripletFraction(keras.metrics.Metric):
    """Fraction of the mined triplets with a positive loss, per batch (0 for a batch without triplets).

    The logged value is the mean of the batches' fractions (over the epoch so far).
    """

    def __init__(self, margin=0.2, miner="semi_hard", squared=True, name="active_triplets", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.margin = check_margin(margin)
        self.miner = check_miner(miner)
        self.squared = bool(squared)
        self.fraction_sum = self.add_variable(shape=(), initializer="zeros", name="fraction_sum")
        self.batches = self.add_variable(shape=(), initializer="zeros", name="batches")

    def update_state(self, y_true, y_pred, sample_weight=None):
        _, num_active, num_mined = triplet_statistics(y_true, y_pred, self.margin, self.miner, self.squared,
                                                      sample_weight)
        self.fraction_sum.assign_add(ops.cast(ops.divide_no_nan(num_active, num_mined), self.fraction_sum.dtype))
        self.batches.assign_add(ops.cast(1.0, self.batches.dtype))

    def result(self):
        return ops.divide_no_nan(self.fraction_sum, self.batches)

    def reset_state(self):
        self.fraction_sum.assign(0.0)
        self.batches.assign(0.0)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "margin": self.margin, "miner": self.miner,
                "squared": self.squared}


def batch_recall_at_one(y_true, y_pred, squared=True, sample_weight=None):
    """`(hits, eligible)`: samples whose nearest other sample in the batch is of their class.

    Eligible: samples with another sample of their class in the batch. A tie between the nearest
    same-class and the nearest other-class sample counts as a hit (as the project's accuracies do).
    """
    distance = pairwise_distances(y_pred, squared)
    size = ops.shape(distance)[0]
    row_mask = _row_mask(sample_weight, size)
    positive, negative = pair_masks(same_class_matrix(y_true), row_mask)
    far = ops.max(distance) + 1.0
    nearest_positive = ops.min(ops.where(positive, distance, far), axis=1)
    nearest_negative = ops.min(ops.where(negative, distance, far), axis=1)
    eligible = ops.any(positive, axis=1)
    hits = ops.logical_and(eligible, nearest_positive <= nearest_negative)
    return ops.sum(ops.cast(hits, "float32")), ops.sum(ops.cast(eligible, "float32"))


@keras.saving.register_keras_serializable(package=PACKAGE)
class BatchRecallAtOne(keras.metrics.Metric):
    """Leave-one-out 1-NN accuracy inside each batch (Recall@1), over all batches so far: an accuracy
    for embeddings trained without class embeddings (the monitor of the triplet method)."""

    def __init__(self, squared=True, name="recall_at_1", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.squared = bool(squared)
        self.hits = self.add_variable(shape=(), initializer="zeros", name="hits")
        self.eligible = self.add_variable(shape=(), initializer="zeros", name="eligible")

    def update_state(self, y_true, y_pred, sample_weight=None):
        hits, eligible = batch_recall_at_one(y_true, y_pred, self.squared, sample_weight)
        self.hits.assign_add(ops.cast(hits, self.hits.dtype))
        self.eligible.assign_add(ops.cast(eligible, self.eligible.dtype))

    def result(self):
        return ops.divide_no_nan(self.hits, self.eligible)

    def reset_state(self):
        self.hits.assign(0.0)
        self.eligible.assign(0.0)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "squared": self.squared}
