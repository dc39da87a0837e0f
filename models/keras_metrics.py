"""Keras metrics of the embedding models: accuracy of the nearest class embedding, top-k accuracy.

All in `keras.ops` (any backend). The factories `nn_accuracy` and `top_k_acc` have the signatures
of the original release's `utils`; they return serializable metric objects, so a compiled model
saved to `.keras` loads again with its metrics. (Moved from models/losses.py, which re-exports them.)
"""

import keras
import numpy as np
from keras import ops

from models.serialization import PACKAGE, as_float32, check_embedding, check_k

# Two similarities closer than this count as a tie; a tie with the true class counts as a hit,
# as in the original release (it compared with an absolute tolerance of 1e-6).
TIE_TOLERANCE = 1e-6


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
    y_true, y_pred = as_float32(y_true, y_pred)
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
    y_true, y_pred = as_float32(y_true, y_pred)
    return _rank_hit(y_pred, ops.argmax(y_true, axis=-1), k, tolerance)


@keras.saving.register_keras_serializable(package=PACKAGE)
class NearestEmbeddingAccuracy(keras.metrics.MeanMetricWrapper):
    """Mean of `nearest_embedding_accuracy`: classification by the nearest class embedding.

    The class embeddings are not part of the config (they grow with the classes: a saved model
    would hold them in JSON, once per metric). A metric loaded from a model file has none and
    raises if used; compile the model again with the class embeddings to evaluate it. Configs of
    older files that hold them still load.
    """

    def __init__(self, embedding=None, dot_prod_sim=False, k=1, name=None, dtype=None):
        embedding = None if embedding is None else check_embedding(embedding)
        k = check_k(k)
        if name is None:
            name = "max_sim_acc" if dot_prod_sim else "nn_accuracy"  # the original's metric names
            if k > 1:
                name = "{}{}".format(name, k)  # max_sim_acc5, as the original
        super().__init__(_nearest_embedding_accuracy_or_error, name=name, dtype=dtype, embedding=embedding,
                         dot_prod_sim=bool(dot_prod_sim), k=k)
        self.embedding, self.dot_prod_sim, self.k = embedding, bool(dot_prod_sim), k

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "dot_prod_sim": self.dot_prod_sim, "k": self.k}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _nearest_embedding_accuracy_or_error(y_true, y_pred, embedding, dot_prod_sim=False, k=1):
    if embedding is None:
        raise ValueError("this nearest-embedding accuracy was loaded from a model file, which does not store the "
                         "class embeddings: compile the model again with them (models.heads.compile_model)")
    return nearest_embedding_accuracy(y_true, y_pred, embedding, dot_prod_sim, k)


@keras.saving.register_keras_serializable(package=PACKAGE)
class TopKAccuracy(keras.metrics.MeanMetricWrapper):
    """Mean of `top_k_accuracy` for one-hot targets and class scores (named acc5 etc., as the original)."""

    def __init__(self, k=5, name=None, dtype=None):
        k = check_k(k)
        super().__init__(top_k_accuracy, name=name or "acc{}".format(k), dtype=dtype, k=k)
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
