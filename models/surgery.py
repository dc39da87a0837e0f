"""Cutting a trained model at its top dense layer, as the original release's baseline trainers did:
learn_devise.py --init_weights puts a new linear layer on the input of a model's last layer, and
learn_classifier.py dumps the features that enter the classifier's last layer (before the
batch normalization in front of it, where there is one)."""

import keras


def _producer(tensor):
    """The layer whose output `tensor` is."""
    return tensor._keras_history.operation


def top_dense_layer(model):
    """The last Dense layer on the path to the model's (first) output, followed back from the output
    past activations, normalizations and other single-input layers; ValueError if there is none."""
    layer = _producer(model.outputs[0])
    while not isinstance(layer, keras.layers.Dense):
        if isinstance(layer, keras.layers.InputLayer) or isinstance(layer.input, (list, tuple)):
            raise ValueError("model {!r} has no dense layer at its top".format(model.name))
        layer = _producer(layer.input)
    return layer


def replace_top(model, dim, name="embedding"):
    """`model` with its top dense layer (and what follows it) replaced by a new linear layer of `dim`
    units named `name`, on the same input (the original's `Dense(dim)(model.layers[-1].input)`)."""
    output = keras.layers.Dense(dim, name=name, dtype="float32")(top_dense_layer(model).input)
    return keras.Model(model.inputs[:1], output, name=model.name)


def penultimate_features(model):
    """The tensor entering the top dense layer, or the input of the batch normalization feeding it:
    the features learn_classifier.py dumped (`model.layers[-2]`, or `[-3]` after a normalization)."""
    features = top_dense_layer(model).input
    layer = _producer(features)
    if isinstance(layer, keras.layers.BatchNormalization):
        features = layer.input
    return features
