"""Architectures taken from `keras.applications` (random initialization, weights=None)."""

import keras

from .common import check_positive_int, image_input, output_layer

_APPLICATIONS = {
    "resnet-50": "ResNet50",
    "resnet-101": "ResNet101",
    "resnet-152": "ResNet152",
    "nasnet-a": "NASNetLarge",
}

# NASNet-A needs a fixed input size; the original used 224x224.
_FIXED_SIZE = {"nasnet-a": (224, 224)}


def application_network(
    num_outputs,
    application,
    top_activation=None,
    top_name=None,
    input_channels=None,
    input_shape=None,
    name=None,
):
    """The convolutional part of a keras.applications network + global average pooling (`avg_pool`)
    + a dense layer of `num_outputs` units (`top_name`)."""
    check_positive_int(num_outputs, "num_outputs")
    if application not in _APPLICATIONS:
        raise ValueError("unknown application {!r}; available: {}".format(application, ", ".join(_APPLICATIONS)))
    inputs = image_input(input_channels, input_shape, default_size=_FIXED_SIZE.get(application))
    factory = getattr(keras.applications, _APPLICATIONS[application])
    base = factory(include_top=False, weights=None, input_tensor=inputs, pooling=None)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(base.output)
    outputs = output_layer(num_outputs, top_activation, name=top_name)(x)
    return keras.Model(inputs, outputs, name=name or application)
