"""Wide Residual Networks (Zagoruyko & Komodakis, BMVC 2016), as built by the original release.

The original used a port of titu1994's Keras WRN; its structure is kept so that weights line up:
each stage opens with a conv-BN-act-conv block whose shortcut is a 1x1 convolution, continues
with pre-activation blocks (BN-act-conv-BN-act-conv) and ends with BN-act.
"""

import keras

from .common import check_positive_int, image_input, output_layer

# Keras' BatchNormalization momentum is the weight of the *old* running statistics; the original
# passed Torch's value 0.1 unchanged, so its running statistics follow the latest batches closely.
# Kept for fidelity with the original models.
_BN = dict(momentum=0.1, epsilon=1e-5, gamma_initializer="uniform")


def _bn_act(x, activation):
    x = keras.layers.BatchNormalization(**_BN)(x)
    return keras.layers.Activation(activation)(x)


def _conv(filters, kernel_size=3, strides=1):
    return keras.layers.Conv2D(filters, kernel_size, strides=strides, padding="same",
                               kernel_initializer="he_normal", use_bias=False)


def _expand_block(x, filters, strides, activation):
    y = _bn_act(_conv(filters, strides=strides)(x), activation)
    y = _conv(filters)(y)
    shortcut = _conv(filters, 1, strides)(x)
    return keras.layers.Add()([y, shortcut])


def _residual_block(x, filters, activation, dropout):
    y = _conv(filters)(_bn_act(x, activation))
    if dropout > 0:
        y = keras.layers.Dropout(dropout)(y)
    y = _conv(filters)(_bn_act(y, activation))
    return keras.layers.Add()([x, y])


def wide_resnet(
    num_outputs,
    depth=28,
    width=10,
    dropout=0.0,
    top_activation=None,
    activation="relu",
    input_channels=None,
    input_shape=None,
    name=None,
):
    """Builds WRN-`depth`-`width`: 3 stages of (depth - 4) / 6 blocks with 16k, 32k, 64k channels."""
    check_positive_int(num_outputs, "num_outputs")
    check_positive_int(width, "width")
    if not isinstance(depth, int) or depth < 10 or (depth - 4) % 6:
        raise ValueError("wide_resnet: depth must be 6N + 4 with N >= 1, got {!r}".format(depth))
    blocks = (depth - 4) // 6

    inputs = image_input(input_channels, input_shape)
    x = _bn_act(_conv(16)(inputs), activation)
    for stage, base in enumerate((16, 32, 64)):
        x = _expand_block(x, base * width, 2 if stage > 0 else 1, activation)
        for _ in range(blocks - 1):
            x = _residual_block(x, base * width, activation, dropout)
        x = _bn_act(x, activation)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = output_layer(num_outputs, top_activation)(x)
    return keras.Model(inputs, outputs, name=name or "wrn-{}-{}".format(depth, width))
