"""The model zoo: every architecture builds, has the published size and depth, and trains.

References are independent of the builders: published parameter counts, closed-form parameter
counts written out layer by layer, the depth in the architecture's name, and numpy for the layers.
The slowest builds have `slow` in their names: deselect them with `-k "not slow"`.
"""

import argparse
import json
import os
import subprocess
import sys
import warnings

import keras
import numpy as np
import pytest

from models import ARCHITECTURES, ChannelPadding, L2Normalize, build_network, get_custom_objects, l2norm

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CIFAR = [name for name, spec in ARCHITECTURES.items() if spec.family == "cifar"]
IMAGENET = [name for name, spec in ARCHITECTURES.items() if spec.family == "imagenet"]

# Settings that shrink each CIFAR architecture for quick training steps (same code paths).
TINY = {
    "simple": dict(filters=(4, "ap", 8, "ap", 8, "gap", "fc8")),
    "resnet-32": dict(blocks_per_stage=2, filters=(4, 8, 16)),
    "resnet-110": dict(blocks_per_stage=2, filters=(4, 8, 16)),
    "resnet-110-fc": dict(blocks_per_stage=2, filters=(4, 8, 16)),
    "resnet-110-wfc": dict(blocks_per_stage=2, filters=(8, 16, 32)),
    "wrn-28-10": dict(depth=16, width=1),
    "densenet-100-12": dict(depth=13, growth_rate=3),
    "densenet-100-24": dict(depth=13, growth_rate=3),
    "densenet-bc-190-40": dict(depth=22, growth_rate=3),
    "pyramidnet-272-200": dict(depth=20, alpha=12),
    "pyramidnet-110-270": dict(depth=14, alpha=12),
}

_BUILT = {}


def full_model(name, num_outputs=10):
    """The real architecture with a classification top, built once per test session."""
    key = (name, num_outputs)
    if key not in _BUILT:
        _BUILT[key] = build_network(num_outputs, name, classification=True)
    return _BUILT[key]


def weighted_layers(model, kinds=(keras.layers.Conv2D, keras.layers.Dense)):
    return [layer for layer in model.layers if isinstance(layer, kinds)]


# --------------------------------------------------------------------------- registry


def test_registry_lists_every_original_name():
    expected = ["simple", "resnet-32", "resnet-110", "resnet-110-fc", "resnet-110-wfc", "wrn-28-10",
                "densenet-100-12", "densenet-100-24", "densenet-bc-190-40", "pyramidnet-272-200",
                "pyramidnet-110-270", "resnet-50", "resnet-101", "resnet-152", "rn18", "rn34", "rn50", "rn101",
                "rn152", "rn200", "nasnet-a"]
    assert list(ARCHITECTURES) == expected
    assert set(TINY) == set(CIFAR)


def test_selu_suffix_and_unknown_names():
    assert "resnet-110-fc-selu" in ARCHITECTURES and "simple-selu" in ARCHITECTURES
    assert "resnet-50-selu" not in ARCHITECTURES  # keras.applications nets have fixed activations
    assert "resnet-33" not in ARCHITECTURES and 42 not in ARCHITECTURES
    assert ARCHITECTURES.split("wrn-28-10-selu") == ("wrn-28-10", "selu")
    with pytest.raises(ValueError, match="resnet-33"):
        build_network(10, "resnet-33")
    with pytest.raises(ValueError, match="does not support"):
        build_network(10, "nasnet-a-selu")
    with pytest.raises(ValueError, match="num_outputs"):
        build_network(0, "simple")
    with pytest.raises(ValueError, match="input_channels"):
        build_network(10, "simple", input_channels=0)


def test_argparse_choices_accept_registry_names():
    parser = argparse.ArgumentParser()
    parser.add_argument("--architecture", choices=ARCHITECTURES)
    assert parser.parse_args(["--architecture", "resnet-32-selu"]).architecture == "resnet-32-selu"
    with pytest.raises(SystemExit):
        parser.parse_args(["--architecture", "resnet-33"])


def test_selu_replaces_every_relu():
    model = build_network(5, "resnet-32-selu", classification=True, **TINY["resnet-32"])
    activations = {layer.get_config()["activation"] for layer in model.layers
                   if isinstance(layer, keras.layers.Activation)}
    assert activations == {"selu"}
    plain = build_network(5, "simple-selu", **TINY["simple"])
    assert {l.get_config()["activation"] for l in weighted_layers(plain)[:-1]} == {"selu"}


# --------------------------------------------------------------------------- custom layers


def test_channel_padding_matches_numpy():
    x = np.random.default_rng(0).normal(size=(2, 3, 5, 4)).astype("float32")
    layer = ChannelPadding((1, 3))
    expected = np.pad(x, [(0, 0), (0, 0), (0, 0), (1, 3)])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x)), expected)
    assert layer.compute_output_shape((None, 3, 5, 4)) == (None, 3, 5, 8)
    assert ChannelPadding(2).padding == (2, 2)
    # the config the original release wrote (with data_format) still deserializes
    old = ChannelPadding.from_config({"padding": [1, 3], "data_format": "channels_last", "name": "pad2-1"})
    assert old.padding == (1, 3) and old.name == "pad2-1"
    with pytest.raises(ValueError, match="padding"):
        ChannelPadding((1, -1))


def test_l2_normalize_matches_numpy_and_keeps_zero_vectors():
    x = np.random.default_rng(1).normal(size=(4, 7)).astype("float32")
    x[2] = 0.0
    expected = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-6)
    layer = L2Normalize()
    assert layer.name == "l2norm"
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(l2norm(x)), expected, rtol=1e-5, atol=1e-7)


def test_custom_objects_stay_available_for_old_code():
    assert get_custom_objects("resnet-110-fc")["ChannelPadding"] is ChannelPadding
    assert get_custom_objects("simple")["L2Normalize"] is L2Normalize


# --------------------------------------------------------------------------- sizes and depths


def _resnet_params(channels, blocks, filters, classes):
    """Closed-form parameter count of a CIFAR ResNet: 3x3 convs with bias, BN (4 per channel), dense top."""
    count = 9 * channels * filters[0] + filters[0] + 4 * filters[0]
    width = filters[0]
    for f in filters:
        for _ in range(blocks):
            count += (9 * width * f + f + 4 * f) + (9 * f * f + f + 4 * f)
            width = f
    return count + width * classes + classes


def _plain11_params(channels, classes):
    convs = [(channels, 64), (64, 64), (64, 128), (128, 128), (128, 128), (128, 256), (256, 256), (256, 256),
             (256, 512)]
    count = sum(9 * a * b + b + 4 * b for a, b in convs)
    count += 512 * 512 + 512 + 4 * 512  # fc512 + BN
    return count + 512 * classes + classes


def _wrn_params(channels, depth, width, classes):
    blocks = (depth - 4) // 6
    count = 9 * channels * 16 + 4 * 16
    fin = 16
    for base in (16, 32, 64):
        f = base * width
        count += 9 * fin * f + 4 * f + 9 * f * f + fin * f  # expansion block with 1x1 shortcut conv
        count += (blocks - 1) * (4 * f + 9 * f * f + 4 * f + 9 * f * f)
        count += 4 * f  # BN closing the stage
        fin = f
    return count + fin * classes + classes


@pytest.mark.parametrize("name, channels, classes", [
    ("resnet-32", 3, 10), ("resnet-110", 3, 10), ("resnet-110-fc", 1, 7), ("resnet-110-wfc", 3, 10)])
def test_cifar_resnet_parameters_match_closed_form(name, channels, classes):
    blocks, filters = {"resnet-32": (5, (16, 32, 64)), "resnet-110": (18, (16, 32, 64)),
                       "resnet-110-fc": (18, (16, 32, 64)), "resnet-110-wfc": (18, (32, 64, 128))}[name]
    if channels == 3 and classes == 10:
        model = full_model(name)
    else:
        model = build_network(classes, name, classification=True, input_channels=channels)
    assert model.count_params() == _resnet_params(channels, blocks, filters, classes)


def test_plain11_and_wrn_parameters_match_closed_form():
    assert build_network(100, "simple", input_channels=1).count_params() == _plain11_params(1, 100)
    wrn = build_network(10, "wrn-28-10", depth=16, width=4)
    assert wrn.count_params() == _wrn_params(3, 16, 4, 10)


PUBLISHED = [  # (name, classes, published parameter count)
    ("resnet-32", 10, 0.46e6),
    ("resnet-110", 10, 1.7e6),
    ("wrn-28-10", 10, 36.5e6),
    ("densenet-bc-190-40", 10, 25.6e6),
    ("pyramidnet-272-200", 10, 26.0e6),
    ("resnet-50", 1000, 25.6e6),
]


@pytest.mark.parametrize("name, classes, published", PUBLISHED, ids=[p[0] for p in PUBLISHED])
def test_parameter_count_within_3_percent_of_published(name, classes, published):
    count = full_model(name, classes).count_params()
    assert abs(count - published) / published < 0.03, (name, count, published)


@pytest.mark.parametrize("name, depth", [
    ("simple", 11), ("resnet-32", 32), ("resnet-110", 110), ("resnet-110-wfc", 110),
    ("densenet-bc-190-40", 190), ("pyramidnet-272-200", 272), ("rn50", 50)])
def test_depth_in_the_name_counts_the_weighted_layers(name, depth):
    """Conv and dense layers on the main path (1x1 projection shortcuts not counted)."""
    model = full_model(name, 10)
    layers = [l for l in weighted_layers(model) if "proj" not in l.name]
    assert len(layers) == depth


def test_wrn_28_10_has_its_structure():
    wrn = full_model("wrn-28-10")
    convs = weighted_layers(wrn, keras.layers.Conv2D)
    assert len(convs) == 28 and max(c.filters for c in convs) == 640  # 25 main convs + 3 shortcuts


# --------------------------------------------------------------------------- tops and names


@pytest.mark.parametrize("name", ["simple", "resnet-110-fc", "wrn-28-10", "pyramidnet-110-270"])
def test_cifar_top_follows_classification_and_no_softmax(name):
    kwargs = TINY[name]
    x = np.random.default_rng(2).uniform(size=(3, 8, 8, 3)).astype("float32")
    embed = build_network(6, name, **kwargs)
    assert embed.layers[-1].name == "embedding" and embed.output.shape[-1] == 6
    assert embed.layers[-1].get_config()["activation"] == "linear"
    prob = build_network(6, name, classification=True, **kwargs)
    assert prob.layers[-1].name == "prob"
    np.testing.assert_allclose(keras.ops.convert_to_numpy(prob(x)).sum(axis=1), 1.0, rtol=1e-5)
    logits = build_network(6, name, classification=True, no_softmax=True, **kwargs)
    assert logits.layers[-1].name == "embedding"
    assert logits.layers[-1].get_config()["activation"] == "linear"


def test_resnet_32_and_110_have_a_dense_top_only_for_classification():
    with pytest.warns(UserWarning, match="num_outputs"):
        features = build_network(6, "resnet-32", **TINY["resnet-32"])
    assert features.layers[-1].name == "avg_pool" and features.output.shape[-1] == 16
    logits = build_network(6, "resnet-32", classification=True, no_softmax=True, **TINY["resnet-32"])
    assert logits.layers[-1].name == "embedding" and logits.output.shape[-1] == 6
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert build_network(6, "resnet-110-fc", **TINY["resnet-110-fc"]).output.shape[-1] == 6


def test_imagenet_top_is_named_by_task():
    small = dict(base_filters=4)
    assert build_network(5, "rn18", **small).layers[-1].name == "embedding"
    logits = build_network(5, "rn18", classification=True, no_softmax=True, **small)
    assert logits.layers[-1].name == "prob"
    assert logits.layers[-1].get_config()["activation"] == "linear"
    assert build_network(5, "rn18", classification=True, **small).layers[-1].get_config()["activation"] == "softmax"


# --------------------------------------------------------------------------- inputs


@pytest.mark.parametrize("name", ["simple", "resnet-32"])
@pytest.mark.parametrize("shape", [(8, 8, 1), (28, 28, 1), (32, 32, 3), (7, 7, 3), (4, 4, 1)])
def test_small_nets_take_digits_mnist_and_cifar_sizes(name, shape):
    model = full_model(name, 10) if shape[-1] == 3 else build_network(10, name, classification=True,
                                                                       input_channels=shape[-1])
    x = np.random.default_rng(3).uniform(size=(2,) + shape).astype("float32")
    y = keras.ops.convert_to_numpy(model(x, training=False))
    assert y.shape == (2, 10) and np.all(np.isfinite(y))


def test_input_shape_and_channels_are_validated():
    model = build_network(3, "simple", input_shape=(16, 16, 2), **TINY["simple"])
    assert tuple(model.input.shape) == (None, 16, 16, 2)
    with pytest.raises(ValueError, match="contradicts"):
        build_network(3, "simple", input_channels=3, input_shape=(16, 16, 2))


# --------------------------------------------------------------------------- training


@pytest.mark.parametrize("name", CIFAR)
def test_cifar_architectures_take_a_training_step(name):
    model = build_network(4, name, classification=True, input_channels=1, **TINY[name])
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="categorical_crossentropy", run_eagerly=True)
    rng = np.random.default_rng(4)
    x = rng.uniform(size=(4, 8, 8, 1)).astype("float32")
    y = np.eye(4, dtype="float32")[[0, 1, 2, 3]]
    kernels = [layer.kernel for layer in weighted_layers(model)]
    before = [keras.ops.convert_to_numpy(k).copy() for k in kernels]
    loss = model.train_on_batch(x, y)
    assert np.isfinite(loss)
    unchanged = [k.path for k, b in zip(kernels, before) if np.array_equal(keras.ops.convert_to_numpy(k), b)]
    assert not unchanged


# --------------------------------------------------------------------------- every architecture builds

IMAGENET_SMALL = {"rn18": dict(base_filters=4), "rn34": dict(base_filters=4), "rn50": dict(base_filters=4)}
SLOW = ["resnet-101", "resnet-152", "rn101", "rn152", "rn200", "nasnet-a"]


# name -> (weighted layers on the main path, width of the pooled features)
REMAINING_CIFAR = {
    "densenet-100-12": (100, 16 + 3 * 32 * 12),  # no compression: every map reaches the pooling
    "densenet-100-24": (100, 16 + 3 * 32 * 24),
    "pyramidnet-110-270": (110, 16 + 270),
}


@pytest.mark.parametrize("name", sorted(REMAINING_CIFAR))
def test_remaining_cifar_architectures_build(name):
    model = build_network(100, name)
    depth, pooled = REMAINING_CIFAR[name]
    assert len(weighted_layers(model)) == depth
    assert model.get_layer("avg_pool").output.shape[-1] == pooled
    x = np.zeros((1, 8, 8, 3), "float32")
    assert model(x, training=False).shape == (1, 100)


@pytest.mark.parametrize("name", sorted(IMAGENET_SMALL))
def test_imagenet_resnets_build_and_run(name):
    model = build_network(7, name, input_channels=1, **IMAGENET_SMALL[name])
    x = np.random.default_rng(5).uniform(size=(2, 32, 32, 1)).astype("float32")
    assert model(x, training=False).shape == (2, 7)


@pytest.mark.parametrize("name", SLOW)
def test_slow_large_imagenet_architectures_build(name):
    model = build_network(10, name, classification=True)
    assert model.output.shape[-1] == 10 and model.layers[-1].name == "prob"
    assert model.get_layer("avg_pool") is not None
    if name == "nasnet-a":
        assert tuple(model.input.shape) == (None, 224, 224, 3)


# --------------------------------------------------------------------------- serialization, JAX

_JAX_CHECK = r"""
import json, sys
import numpy as np, keras
import models  # registers the custom layers, as every script does
saved, probe = sys.argv[1], sys.argv[2]
x = np.load(probe)
loaded = keras.models.load_model(saved, compile=False)  # no custom_objects
out = {"backend": keras.backend.backend(), "loaded": keras.ops.convert_to_numpy(loaded(x)).tolist()}
loaded.compile(optimizer=keras.optimizers.SGD(0.05), loss=lambda t, p: -keras.ops.sum(t * p, axis=-1))
out["loss"] = float(loaded.train_on_batch(x, keras.ops.one_hot(np.arange(len(x)), loaded.output.shape[-1])))
print(json.dumps(out))
"""


def test_slow_saved_model_loads_without_custom_objects_in_a_fresh_jax_process(tmp_path):
    """Saved with TensorFlow, loaded and trained a step with JAX (ChannelPadding, L2Normalize inside)."""
    # the smallest net with ChannelPadding: each variable shape costs JAX a compilation
    net = build_network(6, "resnet-110-fc", input_channels=1, blocks_per_stage=1, filters=(4, 8, 16))
    model = keras.Model(net.inputs, L2Normalize()(net.output))
    x = np.random.default_rng(6).uniform(size=(3, 8, 8, 1)).astype("float32")
    expected = keras.ops.convert_to_numpy(model(x))
    np.testing.assert_allclose(np.linalg.norm(expected, axis=1), 1.0, rtol=1e-5)
    path = str(tmp_path / "model.keras")
    model.save(path)
    np.save(tmp_path / "x.npy", x)
    script = tmp_path / "check.py"
    script.write_text(_JAX_CHECK)
    env = dict(os.environ, KERAS_BACKEND="jax", PYTHONPATH=REPO_ROOT, TF_CPP_MIN_LOG_LEVEL="3",
               JAX_PLATFORMS="cpu")
    result = subprocess.run([sys.executable, str(script), path, str(tmp_path / "x.npy")], cwd=str(tmp_path),
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["backend"] == "jax"
    np.testing.assert_allclose(np.array(out["loaded"]), expected, rtol=1e-4, atol=1e-5)
    assert np.isfinite(out["loss"])


# --------------------------------------------------------------------------- FLOPs (for the benchmark)


def test_forward_flops_by_hand_and_published():
    from models.flops import forward_flops

    inputs = keras.Input((8, 8, 4))
    x = keras.layers.Conv2D(6, 3, padding="same")(inputs)                 # 2 * 9*4*6 * 64
    x = keras.layers.Conv2D(8, 1, strides=2)(x)                           # 2 * 6*8 * 16
    x = keras.layers.SeparableConv2D(3, 3, padding="same")(x)             # 2 * (9*8 + 8*3) * 16
    x = keras.layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2)(x)  # 2 * 9*3*2 * 16
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(5)(x)                                    # 2 * 6*5
    model = keras.Model(inputs, outputs)
    expected = 2 * (9 * 4 * 6 * 64 + 6 * 8 * 16 + (9 * 8 + 8 * 3) * 16 + 9 * 3 * 2 * 16 + 6 * 5)
    assert forward_flops(model) == expected
    # ResNet-32 on 32x32 images: 69M multiply-adds (He et al. 2016 count 0.07 GFLOPs as multiply-adds)
    resnet = build_network(10, "resnet-32", classification=True, input_shape=(32, 32, 3))
    assert abs(forward_flops(resnet) / 2 - 69e6) / 69e6 < 0.03
    with pytest.raises(ValueError, match="fixed input size"):
        forward_flops(full_model("simple"))
