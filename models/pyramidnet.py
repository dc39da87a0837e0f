"""Deep Pyramidal Residual Networks for CIFAR (Han et al., CVPR 2017).

The width grows linearly by alpha / (3n) channels per block; shortcuts are parameter-free
(average pooling where strided, zero channels appended where the width grows).
"""

import keras

from .common import check_positive_int, image_input, output_layer
from .layers import ChannelPadding


def _conv(filters, kernel_size, regularizer, strides=1, name=None):
    return keras.layers.Conv2D(filters, kernel_size, strides=strides, padding="same",
                               kernel_initializer="glorot_normal", kernel_regularizer=regularizer, name=name)


def _shortcut(x, channels, stride):
    if stride > 1:
        x = keras.layers.AveragePooling2D(stride, padding="same")(x)
    missing = channels - x.shape[-1]
    if missing > 0:
        x = ChannelPadding((0, missing))(x)
    return x


def _block(x, channels, stride, bottleneck, activation, regularizer):
    bn = keras.layers.BatchNormalization
    act = keras.layers.Activation
    y = bn()(x)
    if bottleneck:
        y = act(activation)(bn()(_conv(channels, 1, regularizer)(y)))
        y = act(activation)(bn()(_conv(channels, 3, regularizer, stride)(y)))
        y = bn()(_conv(4 * channels, 1, regularizer)(y))
        out_channels = 4 * channels
    else:
        y = act(activation)(bn()(_conv(channels, 3, regularizer, stride)(y)))
        y = bn()(_conv(channels, 3, regularizer)(y))
        out_channels = channels
    return keras.layers.Add()([y, _shortcut(x, out_channels, stride)])


def pyramidnet(
    num_outputs,
    depth=272,
    alpha=200,
    bottleneck=True,
    weight_decay=2e-4,
    top_activation=None,
    activation="relu",
    input_channels=None,
    input_shape=None,
    name=None,
):
    """Builds PyramidNet-`depth` with widening factor `alpha` (n = (depth-2)/9 bottleneck blocks or
    (depth-2)/6 basic blocks per stage)."""
    check_positive_int(num_outputs, "num_outputs")
    blocks = (depth - 2) // (9 if bottleneck else 6) if isinstance(depth, int) else 0
    if blocks < 1:
        raise ValueError("pyramidnet: depth {!r} is too small".format(depth))
    if not alpha or alpha < 0:
        raise ValueError("pyramidnet: alpha must be positive, got {!r}".format(alpha))
    regularizer = keras.regularizers.l2(weight_decay) if weight_decay else None
    step = float(alpha) / (3 * blocks)

    inputs = image_input(input_channels, input_shape)
    x = _conv(16, 3, regularizer, name="conv0")(inputs)
    x = keras.layers.BatchNormalization(name="bn0")(x)
    width = 16.0
    for stage in range(3):
        for block in range(blocks):
            width += step
            stride = 2 if stage > 0 and block == 0 else 1
            x = _block(x, int(round(width)), stride, bottleneck, activation, regularizer)
    x = keras.layers.BatchNormalization(name="bn4")(x)
    x = keras.layers.Activation(activation, name="act4")(x)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = output_layer(num_outputs, top_activation, regularizer=regularizer)(x)
    return keras.Model(inputs, outputs, name=name or "pyramidnet-{}-{}".format(depth, alpha))
