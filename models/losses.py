"""Losses for learning image embeddings (all in `keras.ops`, so any Keras backend works).

The plain functions have the signatures of the original release (`y_true, y_pred`) and return one
value per sample. `devise_ranking_loss` returns a serializable Keras loss object. The Keras
metrics live in models/keras_metrics.py (importable from here as before).
"""

import keras
from keras import ops

from models.serialization import PACKAGE, as_float32, check_embedding

# ---------------------------------------------------------------------------
# Sample-wise losses
# ---------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package=PACKAGE)
def squared_distance(y_true, y_pred):
    """Squared Euclidean distance between corresponding rows of `y_true` and `y_pred`."""
    y_true, y_pred = as_float32(y_true, y_pred)
    return ops.sum(ops.square(y_pred - y_true), axis=-1)


@keras.saving.register_keras_serializable(package=PACKAGE)
def mean_distance(y_true, y_pred):
    """Euclidean distance between corresponding rows of `y_true` and `y_pred`."""
    return ops.sqrt(squared_distance(y_true, y_pred))


@keras.saving.register_keras_serializable(package=PACKAGE)
def inv_correlation(y_true, y_pred):
    """1 minus the dot product of corresponding rows: the cosine loss for L2-normalized outputs."""
    y_true, y_pred = as_float32(y_true, y_pred)
    return 1.0 - ops.sum(y_true * y_pred, axis=-1)


@keras.saving.register_keras_serializable(package=PACKAGE)
class DeviseRankingLoss(keras.losses.Loss):
    """The hinge rank loss of DeViSE (Frome et al., 2013) against all class embeddings.

    `sum_j max(0, margin - <y_true, y_pred> + <e_j, y_pred>) - margin`: the sum runs over all
    classes including the true one, whose term is exactly `margin`, hence the subtraction.
    The class embeddings are not part of the config (they grow with the classes); a loss loaded
    from a model file has none and raises if called, until the model is compiled again.
    """

    def __init__(self, embedding=None, margin=0.1, name="devise_ranking_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.embedding = None if embedding is None else check_embedding(embedding)
        self.margin = float(margin)

    def call(self, y_true, y_pred):
        if self.embedding is None:
            raise ValueError("this DeViSE loss was loaded from a model file, which does not store the class "
                             "embeddings: compile the model again with them")
        y_true, y_pred = as_float32(y_true, y_pred)
        true_sim = ops.sum(y_true * y_pred, axis=-1, keepdims=True)
        other_sim = ops.matmul(y_pred, ops.transpose(ops.convert_to_tensor(self.embedding)))
        return ops.sum(ops.relu(self.margin - true_sim + other_sim), axis=-1) - self.margin

    def get_config(self):
        config = super().get_config()
        config.update(margin=self.margin)
        return config


def devise_ranking_loss(embedding, margin=0.1):
    """The ranking loss used by DeViSE, for the given class embeddings (rows) and margin."""
    return DeviseRankingLoss(embedding, margin)


# The Keras metrics, importable from here as before (models/keras_metrics.py).
_METRIC_NAMES = ("TIE_TOLERANCE", "NearestEmbeddingAccuracy", "TopKAccuracy", "nearest_embedding_accuracy",
                 "nn_accuracy", "top_k_acc", "top_k_accuracy")


def __getattr__(name):
    if name in _METRIC_NAMES:
        from models import keras_metrics

        return getattr(keras_metrics, name)
    raise AttributeError("module 'models.losses' has no attribute {!r}".format(name))
