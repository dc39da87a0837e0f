"""ResNets for ImageNet-sized inputs (He et al., CVPR 2016): `rn18` ... `rn200`.

Our own implementation replacing the `keras-resnet` package the original release used, with the
same layout: a 7x7/2 stem with 3x3/2 max pooling, four stages, a 1x1 projection shortcut on the
first block of every stage, and the stride on the first convolution of a block.
"""

import keras

from .common import check_positive_int, image_input, output_layer

# depth -> (bottleneck blocks?, blocks per stage)
RESNET_LAYOUTS = {
    18: (False, (2, 2, 2, 2)),
    34: (False, (3, 4, 6, 3)),
    50: (True, (3, 4, 6, 3)),
    101: (True, (3, 4, 23, 3)),
    152: (True, (3, 8, 36, 3)),
    200: (True, (3, 24, 36, 3)),
}

_BN = dict(epsilon=1e-5)


def _conv_bn(x, filters, kernel_size, strides, name, activation=None):
    x = keras.layers.Conv2D(filters, kernel_size, strides=strides, padding="same", use_bias=False,
                            kernel_initializer="he_normal", name=name + "_conv")(x)
    x = keras.layers.BatchNormalization(name=name + "_bn", **_BN)(x)
    if activation:
        x = keras.layers.Activation(activation, name=name + "_act")(x)
    return x


def _block(x, filters, strides, bottleneck, project, activation, name):
    out_filters = 4 * filters if bottleneck else filters
    if bottleneck:
        y = _conv_bn(x, filters, 1, strides, name + "_1", activation)
        y = _conv_bn(y, filters, 3, 1, name + "_2", activation)
        y = _conv_bn(y, out_filters, 1, 1, name + "_3")
    else:
        y = _conv_bn(x, filters, 3, strides, name + "_1", activation)
        y = _conv_bn(y, filters, 3, 1, name + "_2")
    shortcut = _conv_bn(x, out_filters, 1, strides, name + "_proj") if project else x
    x = keras.layers.Add(name=name + "_add")([y, shortcut])
    return keras.layers.Activation(activation, name=name + "_out")(x)


def imagenet_resnet(
    num_outputs,
    depth=50,
    base_filters=64,
    top_activation=None,
    top_name=None,
    activation="relu",
    input_channels=None,
    input_shape=None,
    name=None,
):
    """Builds ResNet-`depth` (18, 34, 50, 101, 152 or 200); `base_filters` scales all widths."""
    check_positive_int(num_outputs, "num_outputs")
    check_positive_int(base_filters, "base_filters")
    if depth not in RESNET_LAYOUTS:
        raise ValueError("imagenet_resnet: depth must be one of {}, got {!r}".format(sorted(RESNET_LAYOUTS), depth))
    bottleneck, layout = RESNET_LAYOUTS[depth]

    inputs = image_input(input_channels, input_shape)
    x = _conv_bn(inputs, base_filters, 7, 2, "conv1", activation)
    x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name="pool1")(x)
    for stage, blocks in enumerate(layout):
        filters = base_filters * 2 ** stage
        for block in range(blocks):
            strides = 2 if stage > 0 and block == 0 else 1
            # keras-resnet projects on the first block of every stage, also the unstrided first one
            x = _block(x, filters, strides, bottleneck, block == 0, activation,
                       "conv{}_block{}".format(stage + 2, block + 1))
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = output_layer(num_outputs, top_activation, name=top_name)(x)
    return keras.Model(inputs, outputs, name=name or "rn{}".format(depth))
