"""Densely connected networks for CIFAR (Huang et al., CVPR 2017), as built by the original release.

DenseNet-L-k: 3 dense blocks of (L - 4) / 3 layers (half as many with bottlenecks, "-BC"), each
adding k feature maps; transitions (BN-act-1x1 conv-2x2 average pooling) compress the maps by
`1 - reduction`.
"""

import keras

from .common import check_positive_int, image_input, output_layer

_BN = dict(epsilon=1.1e-5)


def _bn_act(x, activation):
    x = keras.layers.BatchNormalization(**_BN)(x)
    return keras.layers.Activation(activation)(x)


def _conv(filters, kernel_size, regularizer=None):
    return keras.layers.Conv2D(filters, kernel_size, padding="same", use_bias=False,
                               kernel_initializer="he_normal", kernel_regularizer=regularizer)


def _dense_layer(x, growth_rate, bottleneck, dropout, activation, regularizer):
    y = _bn_act(x, activation)
    if bottleneck:
        y = _bn_act(_conv(4 * growth_rate, 1, regularizer)(y), activation)
    y = _conv(growth_rate, 3)(y)  # no weight decay on the 3x3 convs, as in the original
    if dropout:
        y = keras.layers.Dropout(dropout)(y)
    return keras.layers.Concatenate()([x, y])


def densenet(
    num_outputs,
    depth=100,
    growth_rate=12,
    bottleneck=False,
    reduction=0.0,
    initial_filters=None,
    num_blocks=3,
    dropout=0.0,
    weight_decay=1e-4,
    top_activation=None,
    activation="relu",
    input_channels=None,
    input_shape=None,
    name=None,
):
    """Builds a CIFAR DenseNet; `initial_filters` defaults to 2 * growth_rate (16 in the non-BC nets)."""
    check_positive_int(num_outputs, "num_outputs")
    check_positive_int(growth_rate, "growth_rate")
    if not isinstance(depth, int) or depth < 7 or (depth - 4) % 3:
        raise ValueError("densenet: depth must be 3N + 4 with N >= 1, got {!r}".format(depth))
    if not 0.0 <= reduction < 1.0:
        raise ValueError("densenet: reduction must lie in [0, 1), got {!r}".format(reduction))
    layers_per_block = (depth - 4) // 3 // (2 if bottleneck else 1)
    if layers_per_block < 1:
        raise ValueError("densenet: depth {} leaves no layers per block".format(depth))
    filters = initial_filters or 2 * growth_rate
    compression = 1.0 - reduction
    regularizer = keras.regularizers.l2(weight_decay) if weight_decay else None

    inputs = image_input(input_channels, input_shape)
    x = _conv(filters, 3, regularizer)(inputs)
    for block in range(num_blocks):
        for _ in range(layers_per_block):
            x = _dense_layer(x, growth_rate, bottleneck, dropout, activation, regularizer)
        filters += layers_per_block * growth_rate
        if block < num_blocks - 1:
            filters = int(filters * compression)
            x = _conv(filters, 1, regularizer)(_bn_act(x, activation))
            x = keras.layers.AveragePooling2D(2, padding="same")(x)
    x = _bn_act(x, activation)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = output_layer(num_outputs, top_activation)(x)
    return keras.Model(inputs, outputs, name=name or "densenet")
