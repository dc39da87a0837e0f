"""ResNets for CIFAR (He et al., CVPR 2016, section 4.2): 3 stages of `n` basic blocks, 6n+2 layers.

Shortcuts are parameter-free (option A of the paper): 2x2 average pooling where the stride is 2
and zero channels padded on both sides where the width grows.
"""

import keras

from .common import check_positive_int, image_input, output_layer
from .layers import ChannelPadding


def _basic_block(x, in_filters, out_filters, prefix, stride, activation, regularizer):
    """conv-BN-act-conv-BN plus the shortcut, then act. Layer names as in the original release."""
    y = keras.layers.Conv2D(
        out_filters, 3, strides=stride, padding="same", kernel_regularizer=regularizer, name="res{}x".format(prefix)
    )(x)
    y = keras.layers.BatchNormalization(name="bn{}x".format(prefix))(y)
    y = keras.layers.Activation(activation)(y)
    y = keras.layers.Conv2D(out_filters, 3, padding="same", kernel_regularizer=regularizer, name="res{}y".format(prefix))(y)
    y = keras.layers.BatchNormalization(name="bn{}y".format(prefix))(y)

    shortcut = x
    if stride > 1:
        # 'same' equals the original 'valid' on even sizes and keeps odd sizes aligned with the conv.
        shortcut = keras.layers.AveragePooling2D(stride, padding="same", name="avg{}".format(prefix))(shortcut)
    if out_filters > in_filters:
        extra = out_filters - in_filters
        shortcut = ChannelPadding((extra // 2, extra - extra // 2), name="pad{}".format(prefix))(shortcut)
    x = keras.layers.Add()([y, shortcut])
    return keras.layers.Activation(activation)(x)


def cifar_resnet(
    num_outputs,
    blocks_per_stage=5,
    filters=(16, 32, 64),
    include_top=True,
    top_activation=None,
    activation="relu",
    weight_decay=2e-4,
    input_channels=None,
    input_shape=None,
    name=None,
):
    """Builds a CIFAR ResNet with `blocks_per_stage` basic blocks in each of `len(filters)` stages.

    ResNet-32: 5 blocks, ResNet-110: 18 blocks. Ends in global average pooling (`avg_pool`), so any
    input size works (8x8 digits too), followed by a dense layer of `num_outputs` units (named
    `embedding`, or `prob` with a softmax) if `include_top`; without the top the output is the
    `filters[-1]`-dimensional pooled feature and `num_outputs` is unused.
    """
    check_positive_int(num_outputs, "num_outputs")
    check_positive_int(blocks_per_stage, "blocks_per_stage")
    regularizer = keras.regularizers.l2(weight_decay) if weight_decay else None

    inputs = image_input(input_channels, input_shape)
    x = keras.layers.Conv2D(filters[0], 3, padding="same", kernel_regularizer=regularizer, name="conv0")(inputs)
    x = keras.layers.BatchNormalization(name="bn0")(x)
    x = keras.layers.Activation(activation)(x)
    in_filters = filters[0]
    for stage, out_filters in enumerate(filters, start=1):
        for block in range(1, blocks_per_stage + 1):
            stride = 2 if stage > 1 and block == 1 else 1
            prefix = "{}-{}".format(stage, block)
            x = _basic_block(x, in_filters, out_filters, prefix, stride, activation, regularizer)
            in_filters = out_filters
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if include_top:
        x = output_layer(num_outputs, top_activation, regularizer=regularizer)(x)
    depth = 2 * len(filters) * blocks_per_stage + 2
    return keras.Model(inputs, x, name=name or "cifar-resnet{}".format(depth))
