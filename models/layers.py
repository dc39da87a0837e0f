"""Custom layers of the model zoo, registered so that saved models load without `custom_objects`."""

import keras
from keras import ops

from models.serialization import PACKAGE



@keras.saving.register_keras_serializable(package=PACKAGE)
class ChannelPadding(keras.layers.Layer):
    """Zero-pads the channel (last) axis: the parameter-free shortcut of the CIFAR ResNets.

    Args:
        padding: int (the same number of zero channels before and after) or a pair
            `(before, after)`.
    """

    def __init__(self, padding=1, **kwargs):
        kwargs.pop("data_format", None)  # written by the original release; channels-last only here
        super().__init__(**kwargs)
        if isinstance(padding, int):
            padding = (padding, padding)
        padding = tuple(int(p) for p in padding)
        if len(padding) != 2 or min(padding) < 0:
            raise ValueError("ChannelPadding: padding must be one or two non-negative ints, got {!r}".format(padding))
        self.padding = padding
        self.input_spec = keras.layers.InputSpec(ndim=4)

    def call(self, inputs):
        return ops.pad(inputs, [[0, 0], [0, 0], [0, 0], list(self.padding)])

    def compute_output_shape(self, input_shape):
        channels = input_shape[-1]
        if channels is not None:
            channels += sum(self.padding)
        return tuple(input_shape[:-1]) + (channels,)

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}


def l2norm(x, epsilon=1e-12):
    """L2-normalizes `x` along the last axis (as `tf.nn.l2_normalize`: x / sqrt(max(|x|^2, eps)))."""
    squared_norm = ops.sum(ops.square(x), axis=-1, keepdims=True)
    return x * ops.rsqrt(ops.maximum(squared_norm, epsilon))


@keras.saving.register_keras_serializable(package=PACKAGE)
class L2Normalize(keras.layers.Layer):
    """L2-normalization along the last axis; the embedding output is followed by one named `l2norm`.

    Replaces the original `Lambda(utils.l2norm, name='l2norm')`, which could not be serialized
    portably; the layer is named `l2norm` unless given another name. Zero vectors stay zero (the
    squared norm is clipped at `epsilon`).
    """

    def __init__(self, epsilon=1e-12, **kwargs):
        kwargs.setdefault("name", "l2norm")
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def call(self, inputs):
        return l2norm(inputs, self.epsilon)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


def custom_objects():
    """Every custom layer by its plain class name (the names files of the original release use)."""
    return {"ChannelPadding": ChannelPadding, "L2Normalize": L2Normalize}


# Legacy HDF5 models of the original release name the layer plain `ChannelPadding`; register that
# name too so that they load without `custom_objects` as well.
keras.saving.get_custom_objects().update(custom_objects())
