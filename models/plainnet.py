"""Plain-11: a strictly sequential CNN with 11 trainable layers (Barz & Denzler, 2018).

Conv layers apply their activation before batch normalization, as in the original release.
"""

import keras

from .common import check_positive_int, image_input, output_layer

# 'ap'/'mp': 2x2 average/max pooling; 'gap': global average pooling; 'fcN': dense layer of N units;
# an int: 3x3 convolution with that many filters.
PLAIN11_FILTERS = (64, 64, "ap", 128, 128, 128, "ap", 256, 256, 256, "ap", 512, "gap", "fc512")


def plain_net(
    num_outputs,
    filters=PLAIN11_FILTERS,
    activation="relu",
    final_activation=None,
    weight_decay=5e-4,
    pool_size=(2, 2),
    input_channels=None,
    input_shape=None,
    name=None,
):
    """Builds Plain-11 (or another plain network described by `filters`).

    Layer names follow the original (`conv1`, `bn1`, `ap3`, ..., `avg_pool`, `fc14`, then
    `embedding` or `prob`), prefixed with `name + '_'` when a name is given.
    """
    check_positive_int(num_outputs, "num_outputs")
    if not filters or not isinstance(filters[0], int):
        raise ValueError("plain_net: filters must start with a number of conv filters, got {!r}".format(filters))
    prefix = "" if name is None else name + "_"
    regularizer = keras.regularizers.l2(weight_decay) if weight_decay else None

    def conv_bn(x, units, index):
        x = keras.layers.Conv2D(
            units, 3, padding="same", activation=activation, kernel_regularizer=regularizer,
            name="{}conv{}".format(prefix, index),
        )(x)
        return keras.layers.BatchNormalization(name="{}bn{}".format(prefix, index))(x)

    inputs = image_input(input_channels, input_shape)
    x = conv_bn(inputs, filters[0], 1)
    flat = False
    for index, spec in enumerate(filters[1:], start=2):
        if spec == "ap":
            x = keras.layers.AveragePooling2D(pool_size, padding="same", name="{}ap{}".format(prefix, index))(x)
        elif spec == "mp":
            x = keras.layers.MaxPooling2D(pool_size, padding="same", name="{}mp{}".format(prefix, index))(x)
        elif spec == "gap":
            x = keras.layers.GlobalAveragePooling2D(name=prefix + "avg_pool")(x)
            flat = True
        elif isinstance(spec, str) and spec.startswith("fc"):
            if not flat:
                x = keras.layers.Flatten(name=prefix + "flatten")(x)
                flat = True
            x = keras.layers.Dense(
                int(spec[2:]), activation=activation, kernel_regularizer=regularizer,
                name="{}fc{}".format(prefix, index),
            )(x)
            x = keras.layers.BatchNormalization(name="{}bn{}".format(prefix, index))(x)
        elif isinstance(spec, int):
            x = conv_bn(x, spec, index)
        else:
            raise ValueError("plain_net: unknown layer spec {!r} in filters".format(spec))
    if not flat:
        x = keras.layers.Flatten(name=prefix + "flatten")(x)
    top_name = prefix + ("prob" if final_activation == "softmax" else "embedding")
    outputs = output_layer(num_outputs, final_activation, name=top_name)(x)
    return keras.Model(inputs, outputs, name=name or "plainnet")
