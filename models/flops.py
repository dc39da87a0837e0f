"""Counting the multiply-adds of a model, for throughput figures (achieved FLOP/s)."""

import math

import keras


def _spatial_size(shape):
    dims = shape[1:-1]
    if any(d is None for d in dims):
        raise ValueError("forward_flops needs a fixed input size; got output shape {}".format(tuple(shape)))
    return math.prod(dims)


def _layer_flops(layer):
    """FLOPs (2 per multiply-add) of one forward pass of `layer` for one image."""
    if isinstance(layer, keras.layers.SeparableConv2D):
        kh, kw = layer.kernel_size
        cin = layer.input.shape[-1]
        out = _spatial_size(layer.output.shape)
        depthwise = kh * kw * cin * layer.depth_multiplier * out
        pointwise = cin * layer.depth_multiplier * layer.filters * out
        return 2 * (depthwise + pointwise)
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        kh, kw = layer.kernel_size
        cin = layer.input.shape[-1]
        return 2 * kh * kw * cin * layer.depth_multiplier * _spatial_size(layer.output.shape)
    if isinstance(layer, keras.layers.Conv2D):
        kh, kw = layer.kernel_size
        cin = layer.input.shape[-1] // layer.groups
        return 2 * kh * kw * cin * layer.filters * _spatial_size(layer.output.shape)
    if isinstance(layer, keras.layers.Dense):
        return 2 * layer.input.shape[-1] * layer.units * math.prod(layer.output.shape[1:-1])
    return 0


def forward_flops(model):
    """FLOPs of one image's forward pass through the convolutions and dense layers of `model`.

    Normalization, activations, pooling and additions are left out (a few percent at most in
    these networks). A training step costs about three times this (forward + two backward
    products). The model must have a fixed input size (build it with `input_shape=`).
    """
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            total += forward_flops(layer)
        else:
            total += _layer_flops(layer)
    return total
