"""Pieces shared by the architecture builders: the image input and the output layer.

Keras is imported in the functions: the registry imports this module, and listing the
architectures must not start TensorFlow.
"""


def image_input(input_channels=None, input_shape=None, default_size=None):
    """An `Input` for channels-last images of any size by default.

    `input_shape` (H, W, C) wins if given; otherwise the spatial size is `default_size` (None:
    any height and width) and the channel count `input_channels` (default 3).
    """
    if input_shape is not None:
        input_shape = tuple(input_shape)
        if len(input_shape) != 3:
            raise ValueError("input_shape must be (height, width, channels), got {!r}".format(input_shape))
        if input_channels is not None and input_shape[-1] != input_channels:
            raise ValueError(
                "input_channels={} contradicts input_shape={!r}".format(input_channels, input_shape)
            )
    else:
        channels = 3 if input_channels is None else input_channels
        if not isinstance(channels, int) or channels < 1:
            raise ValueError("input_channels must be a positive int, got {!r}".format(input_channels))
        size = (None, None) if default_size is None else tuple(default_size)
        input_shape = size + (channels,)
    import keras

    return keras.Input(shape=input_shape, name="input")


def output_layer(num_outputs, activation=None, name=None, regularizer=None):
    """The final dense layer; named `prob` (softmax) or `embedding` unless `name` is given."""
    import keras

    if name is None:
        name = "prob" if activation == "softmax" else "embedding"
    return keras.layers.Dense(num_outputs, activation=activation, kernel_regularizer=regularizer, name=name)


def check_positive_int(value, what):
    """Raise ValueError naming `what` unless `value` is an int >= 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError("{} must be a positive int, got {!r}".format(what, value))
    return value
