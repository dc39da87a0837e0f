"""Losses and metrics for learning image embeddings (all in `keras.ops`, so any Keras backend works).

The plain functions have the signatures of the original release (`y_true, y_pred`) and return one
value per sample. The factories `nn_accuracy`, `top_k_acc` and `devise_ranking_loss` return
serializable Keras objects, so a compiled model saved to `.keras` loads again with its metrics.
"""

import keras
import numpy as np
from keras import ops

PACKAGE = "semantic_embeddings"

# Two similarities closer than this count as a tie; a tie with the true class counts as a hit,
# as in the original release (it compared with an absolute tolerance of 1e-6).
TIE_TOLERANCE = 1e-6


def _as_float32(*tensors):
    # Mixed-precision outputs arrive as float16/bfloat16: compare in float32.
    return [ops.cast(t, "float32") for t in tensors]


# ---------------------------------------------------------------------------
# Sample-wise losses
# ---------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package=PACKAGE)
def squared_distance(y_true, y_pred):
    """Squared Euclidean distance between corresponding rows of `y_true` and `y_pred`."""
    y_true, y_pred = _as_float32(y_true, y_pred)
    return ops.sum(ops.square(y_pred - y_true), axis=-1)


@keras.saving.register_keras_serializable(package=PACKAGE)
def mean_distance(y_true, y_pred):
    """Euclidean distance between corresponding rows of `y_true` and `y_pred`."""
    return ops.sqrt(squared_distance(y_true, y_pred))


@keras.saving.register_keras_serializable(package=PACKAGE)
def inv_correlation(y_true, y_pred):
    """1 minus the dot product of corresponding rows: the cosine loss for L2-normalized outputs."""
    y_true, y_pred = _as_float32(y_true, y_pred)
    return 1.0 - ops.sum(y_true * y_pred, axis=-1)


LOSSES = {
    "squared_distance": squared_distance,
    "mean_distance": mean_distance,
    "inv_correlation": inv_correlation,
}


def _check_embedding(embedding):
    """Class embeddings as a float32 (num_classes, dim) array; ValueError for anything else."""
    array = np.asarray(embedding, dtype=np.float32)
    if array.ndim != 2 or array.shape[0] < 1 or array.shape[1] < 1:
        raise ValueError("class embeddings must be a non-empty 2-D array, got shape {}".format(array.shape))
    if not np.all(np.isfinite(array)):
        raise ValueError("class embeddings contain NaN or infinite values")
    return array


def _check_k(k):
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError("k must be a positive integer, got {!r}".format(k))
    return int(k)


@keras.saving.register_keras_serializable(package=PACKAGE)
class DeviseRankingLoss(keras.losses.Loss):
    """The hinge rank loss of DeViSE (Frome et al., 2013) against all class embeddings.

    `sum_j max(0, margin - <y_true, y_pred> + <e_j, y_pred>) - margin`: the sum runs over all
    classes including the true one, whose term is exactly `margin`, hence the subtraction.
    """

    def __init__(self, embedding, margin=0.1, name="devise_ranking_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.embedding = _check_embedding(embedding)
        self.margin = float(margin)

    def call(self, y_true, y_pred):
        y_true, y_pred = _as_float32(y_true, y_pred)
        true_sim = ops.sum(y_true * y_pred, axis=-1, keepdims=True)
        other_sim = ops.matmul(y_pred, ops.transpose(ops.convert_to_tensor(self.embedding)))
        return ops.sum(ops.relu(self.margin - true_sim + other_sim), axis=-1) - self.margin

    def get_config(self):
        config = super().get_config()
        config.update(embedding=self.embedding.tolist(), margin=self.margin)
        return config


def devise_ranking_loss(embedding, margin=0.1):
    """The ranking loss used by DeViSE, for the given class embeddings (rows) and margin."""
    return DeviseRankingLoss(embedding, margin)


# ---------------------------------------------------------------------------
# Sample-wise accuracies
# ---------------------------------------------------------------------------


def _rank_hit(scores, true_index, k, tolerance):
    """1.0 where fewer than k classes score higher (by more than `tolerance`) than the true class."""
    true_score = ops.take_along_axis(scores, ops.expand_dims(true_index, -1), axis=-1)
    num_better = ops.sum(ops.cast(scores > true_score + tolerance, "int32"), axis=-1)
    return ops.cast(num_better < k, "float32")


@keras.saving.register_keras_serializable(package=PACKAGE)
def nearest_embedding_accuracy(y_true, y_pred, embedding, dot_prod_sim=False, k=1, tolerance=TIE_TOLERANCE):
    """Whether the class embedding `y_true` is among the k class embeddings nearest to `y_pred`.

    `embedding` holds the class embeddings as rows and `y_true` must be one of them. Nearness is
    the dot product if `dot_prod_sim` (L2-normalized features), else the Euclidean distance.
    """
    y_true, y_pred = _as_float32(y_true, y_pred)
    centroids = ops.convert_to_tensor(np.asarray(embedding, dtype=np.float32))
    # The true class is the row that y_true equals: the nearest one, at distance zero.
    true_index = ops.argmin(
        ops.sum(ops.square(ops.expand_dims(y_true, 1) - ops.expand_dims(centroids, 0)), axis=-1), axis=-1
    )
    sim = ops.matmul(y_pred, ops.transpose(centroids))
    if dot_prod_sim:
        scores = sim
    else:
        # Negative squared distance up to the per-sample constant |y_pred|^2, which cannot change
        # the ranking; the true class is scored within the same matrix, so the comparison is exact.
        scores = 2.0 * sim - ops.expand_dims(ops.sum(ops.square(centroids), axis=-1), 0)
    return _rank_hit(scores, true_index, k, tolerance)


@keras.saving.register_keras_serializable(package=PACKAGE)
def top_k_accuracy(y_true, y_pred, k=5, tolerance=TIE_TOLERANCE):
    """Whether the class of the one-hot `y_true` is among the k highest scores in `y_pred`."""
    y_true, y_pred = _as_float32(y_true, y_pred)
    return _rank_hit(y_pred, ops.argmax(y_true, axis=-1), k, tolerance)


@keras.saving.register_keras_serializable(package=PACKAGE)
class NearestEmbeddingAccuracy(keras.metrics.MeanMetricWrapper):
    """Mean of `nearest_embedding_accuracy`: classification by the nearest class embedding."""

    def __init__(self, embedding, dot_prod_sim=False, k=1, name=None, dtype=None):
        embedding = _check_embedding(embedding)
        k = _check_k(k)
        if name is None:
            name = "max_sim_acc" if dot_prod_sim else "nn_accuracy"  # the original's metric names
            if k > 1:
                name = "{}_top{}".format(name, k)
        super().__init__(
            nearest_embedding_accuracy, name=name, dtype=dtype, embedding=embedding, dot_prod_sim=bool(dot_prod_sim), k=k
        )
        self.embedding, self.dot_prod_sim, self.k = embedding, bool(dot_prod_sim), k

    def get_config(self):
        return {
            "name": self.name,
            "dtype": self.dtype,
            "embedding": self.embedding.tolist(),
            "dot_prod_sim": self.dot_prod_sim,
            "k": self.k,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package=PACKAGE)
class TopKAccuracy(keras.metrics.MeanMetricWrapper):
    """Mean of `top_k_accuracy` for one-hot targets and class scores."""

    def __init__(self, k=5, name=None, dtype=None):
        k = _check_k(k)
        super().__init__(top_k_accuracy, name=name or "top{}_acc".format(k), dtype=dtype, k=k)
        self.k = k

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "k": self.k}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def nn_accuracy(embedding, dot_prod_sim=False, k=1):
    """Metric: accuracy of assigning each sample to the class with the nearest embedding.

    - embedding: 2-D array whose rows are the class embeddings.
    - dot_prod_sim: rank classes by dot product (L2-normalized features), else by Euclidean distance.
    - k: count a sample as correct if its class is among the k nearest ones.
    """
    return NearestEmbeddingAccuracy(embedding, dot_prod_sim=dot_prod_sim, k=k)


def top_k_acc(k):
    """Metric: top-k accuracy of class scores (e.g. the softmax `prob` head) against one-hot targets."""
    return TopKAccuracy(k)
