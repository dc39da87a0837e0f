"""Softmax + center loss (Wen et al., "A Discriminative Feature Learning Approach for Deep Face
Recognition", ECCV 2016) as the original release's learn_center_loss.py trains it, in `keras.ops`.

The original (cvjena/semantic-embeddings 0d41774, learn_center_loss.py, `center_loss_model`):

- the network's `embedding` output x (--embed_dim values) feeds a classifier ReLU -> BN
  (`embedding_bn`) -> Dense softmax (`prob`), trained with categorical cross-entropy (weight 1);
- the class centers c_j are the weights of an `Embedding(num_classes, dim)` layer (`cls_centroids`,
  Keras' default initializer: uniform in [-0.05, 0.05]), looked up with the labels fed as a second
  model input; the center loss of a sample is |x - c_y|^2 / 2 (`center_loss`), weighted by
  --center_loss_weight (Keras averages it over the batch);
- the centers are learned by the same SGD optimizer as the network (plain gradient descent on the
  weighted loss, no separate center learning rate as Wen et al.'s alpha), or, with --centroids,
  fixed to the given class embeddings (`trainable = False`).

Here the centers live in the layer `CenterDistances` (named `center_loss`), which outputs the half
squared distance of x to EVERY center, (batch, classes); the loss `center_loss` picks the column of
the true class with the one-hot target. Loss and gradients are those of the original (the other
columns get no gradient), but the model needs no label input, so it is a single-input model that the
evaluation scripts run as any other.
"""

import keras
import numpy as np
from keras import ops

from models.serialization import PACKAGE, as_float32, check_embedding

# Keras 2's default initializer of an Embedding layer ("uniform"), which the original's centers had.
CENTER_INITIALIZER_RANGE = 0.05


def half_squared_distances(features, centers):
    """(batch, classes) matrix of |x_i - c_j|^2 / 2 (the center loss against every class)."""
    features, centers = as_float32(features, centers)
    cross = ops.matmul(features, ops.transpose(centers))
    return 0.5 * (ops.sum(ops.square(features), axis=-1, keepdims=True) - 2.0 * cross
                  + ops.expand_dims(ops.sum(ops.square(centers), axis=-1), 0))


@keras.saving.register_keras_serializable(package=PACKAGE)
class CenterDistances(keras.layers.Layer):
    """Holds the class centers (weight `centers`, classes x dim) and outputs |x - c_j|^2 / 2 for every j.

    `num_classes`: the number of centers. `fixed_centers`: a (classes, dim) array of given centers
    (e.g. a class embedding), which stay fixed (the layer is not trainable); otherwise the centers are
    drawn uniformly from [-0.05, 0.05] and learned. The values of fixed centers are weights of the
    layer (saved with the model), not part of its config.
    """

    def __init__(self, num_classes, fixed_centers=None, **kwargs):
        kwargs.setdefault("name", "center_loss")
        fixed = kwargs.pop("fixed", fixed_centers is not None)
        super().__init__(**kwargs)
        self.num_classes = int(num_classes)
        if self.num_classes < 1:
            raise ValueError("CenterDistances: num_classes must be positive, got {}".format(num_classes))
        self._initial_centers = None if fixed_centers is None else check_embedding(fixed_centers)
        if self._initial_centers is not None and len(self._initial_centers) != self.num_classes:
            raise ValueError("CenterDistances: {} fixed centers for {} classes".format(
                len(self._initial_centers), self.num_classes))
        self.fixed = bool(fixed)
        if self.fixed:
            self.trainable = False

    def build(self, input_shape):
        dim = int(input_shape[-1])
        if self._initial_centers is not None:
            if self._initial_centers.shape[1] != dim:
                raise ValueError("CenterDistances: the fixed centers have {} dimensions, the features {}".format(
                    self._initial_centers.shape[1], dim))
            initializer = keras.initializers.Constant(self._initial_centers)
        else:
            initializer = keras.initializers.RandomUniform(-CENTER_INITIALIZER_RANGE, CENTER_INITIALIZER_RANGE)
        self.centers = self.add_weight(shape=(self.num_classes, dim), initializer=initializer, name="centers",
                                       trainable=not self.fixed)

    def call(self, inputs):
        return half_squared_distances(inputs, self.centers)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.num_classes,)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "fixed": self.fixed}


@keras.saving.register_keras_serializable(package=PACKAGE)
def center_loss(y_true, y_pred):
    """|x - c_y|^2 / 2 of each sample: the column of the true class (one-hot `y_true`) of the
    `CenterDistances` output `y_pred`."""
    y_true, y_pred = as_float32(y_true, y_pred)
    return ops.sum(y_true * y_pred, axis=-1)


def center_loss_outputs(features, num_classes, fixed_centers=None):
    """The layers the original put after the network's `embedding` output.

    Returns `[features, prob, center distances]`: the softmax classifier ReLU -> BN (`embedding_bn`)
    -> Dense softmax (`prob`) and the `CenterDistances` layer (`center_loss`).
    """
    x = keras.layers.Activation("relu", name="embedding_relu")(features)
    x = keras.layers.BatchNormalization(name="embedding_bn")(x)
    prob = keras.layers.Dense(num_classes, activation="softmax", name="prob", dtype="float32")(x)
    distances = CenterDistances(num_classes, fixed_centers, name="center_loss", dtype="float32")(features)
    return [features, prob, distances]


def check_center_loss_weight(weight):
    weight = float(weight)
    if not np.isfinite(weight) or weight < 0:
        raise ValueError("--center_loss_weight must be a non-negative number, got {!r}".format(weight))
    return weight


# The factories of the training method "center_loss" (models/methods.py).


def method_output_dim(context, embed_dim, **_):
    """--embed_dim for learned centers (one-hot context); the dimension of fixed centers otherwise."""
    return embed_dim if context.onehot else np.shape(context.embedding)[1]


def method_outputs(context, features, **_):
    return center_loss_outputs(features, context.num_classes, None if context.onehot else context.embedding)


def method_loss(context, center_loss_weight, **_):
    check_center_loss_weight(center_loss_weight)
    return center_loss


def method_loss_weights(context, center_loss_weight, **_):
    """[features: none, softmax cross-entropy: 1, center loss: --center_loss_weight]."""
    return [0.0, 1.0, check_center_loss_weight(center_loss_weight)]
