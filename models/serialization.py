"""What the modules registering objects with Keras share; imports no Keras (see models/__init__.py).

The registering modules (layers, keras_metrics, losses, lr_callbacks) import only this module from
the project at import time, so that Keras can register any of them while another is half-imported.
"""

import numpy as np

# The package name under which every serializable object of the project is registered
# ("semantic_embeddings>L2Normalize"); model files store it, so it never changes.
PACKAGE = "semantic_embeddings"


def as_float32(*tensors):
    """The tensors cast to float32: mixed-precision outputs arrive as float16/bfloat16."""
    from keras import ops

    return [ops.cast(t, "float32") for t in tensors]


def check_embedding(embedding):
    """Class embeddings as a float32 (num_classes, dim) array; ValueError for anything else."""
    array = np.asarray(embedding, dtype=np.float32)
    if array.ndim != 2 or array.shape[0] < 1 or array.shape[1] < 1:
        raise ValueError("class embeddings must be a non-empty 2-D array, got shape {}".format(array.shape))
    if not np.all(np.isfinite(array)):
        raise ValueError("class embeddings contain NaN or infinite values")
    return array


def check_k(k):
    """`k` of a top-k accuracy as an int; ValueError unless it is a positive integer."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError("k must be a positive integer, got {!r}".format(k))
    return int(k)
