"""One registry of every architecture by its original name, and `build_network`.

Adding an architecture = adding one `Architecture` entry to `_REGISTERED` below.
"""

import collections.abc
import dataclasses
import functools
import warnings

from .common import check_positive_int

ACTIVATION_SUFFIXES = {"-selu": "selu"}


@dataclasses.dataclass(frozen=True)
class Architecture:
    """How to build one named architecture.

    builder(num_outputs, include_top=, top_activation=, [activation=,] input_channels=, name=,
        **kwargs) returns the keras.Model.
    family: 'cifar' names the top layer `prob` only when it has a softmax; 'imagenet' names it
        `prob` whenever `classification=True` (both as in the original release).
    top_only_for_classification: True for `resnet-32`/`resnet-110`, which end at the pooled
        features (no dense layer, `num_outputs` unused) unless `classification=True`.
    supports_activation: whether the `-selu` suffix may be appended.
    description: one line for listings.
    """

    builder: collections.abc.Callable
    family: str = "cifar"
    top_only_for_classification: bool = False
    supports_activation: bool = True
    description: str = ""


class ArchitectureRegistry(collections.abc.Mapping):
    """Read-only mapping name -> `Architecture`, in registration order.

    Iterating lists the base names (what `--help` shows); membership and lookup also accept an
    activation suffix (`resnet-32-selu`) on architectures that support one, so that
    `argparse`'s `choices=ARCHITECTURES` accepts those names too (the original's list did not,
    although its `build_network` understood them).
    """

    def __init__(self, entries):
        self._entries = dict(entries)

    def split(self, name):
        """`name` -> (base name, activation). Raises ValueError for an unknown name."""
        if not isinstance(name, str):
            raise ValueError("architecture name must be a string, got {!r}".format(name))
        if name in self._entries:
            return name, "relu"
        for suffix, activation in ACTIVATION_SUFFIXES.items():
            if name.lower().endswith(suffix):
                base = name[: -len(suffix)]
                if base in self._entries:
                    if not self._entries[base].supports_activation:
                        raise ValueError("architecture {!r} does not support the {!r} suffix".format(base, suffix))
                    return base, activation
        raise ValueError(
            "unknown network architecture {!r}; available: {}".format(name, ", ".join(self._entries))
        )

    def __getitem__(self, name):
        try:
            return self._entries[self.split(name)[0]]
        except ValueError as e:
            raise KeyError(str(e)) from None

    def __contains__(self, name):
        try:
            self.split(name)
        except ValueError:
            return False
        return True

    def __iter__(self):
        return iter(self._entries)

    def __len__(self):
        return len(self._entries)

    def __repr__(self):
        return "ArchitectureRegistry({})".format(list(self._entries))


# --- builders: thin adapters from the uniform call to each family's function -------------------
# Each is called as builder(num_outputs, include_top=, top_activation=, [activation=,]
# input_channels=, name=, **builder_kwargs); the architecture's own settings are bound with
# functools.partial as keywords, so that builder_kwargs may override them (e.g. in tests).
# Imports are lazy so that listing the names stays cheap.


def _plain(num_outputs, include_top, top_activation, **kwargs):
    from .plainnet import plain_net

    return plain_net(num_outputs, final_activation=top_activation, **kwargs)


def _cifar_resnet(num_outputs, **kwargs):
    from .cifar_resnet import cifar_resnet

    return cifar_resnet(num_outputs, **kwargs)


def _wide_resnet(num_outputs, include_top, **kwargs):
    from .wide_resnet import wide_resnet

    return wide_resnet(num_outputs, **kwargs)


def _densenet(num_outputs, include_top, **kwargs):
    from .densenet import densenet

    return densenet(num_outputs, **kwargs)


def _pyramidnet(num_outputs, include_top, **kwargs):
    from .pyramidnet import pyramidnet

    return pyramidnet(num_outputs, **kwargs)


def _imagenet_resnet(num_outputs, include_top, **kwargs):
    from .imagenet_resnet import imagenet_resnet

    return imagenet_resnet(num_outputs, **kwargs)


def _application(num_outputs, include_top, **kwargs):
    from .applications import application_network

    return application_network(num_outputs, **kwargs)


def _cifar(builder, description, top_only_for_classification=False, **settings):
    return Architecture(functools.partial(builder, **settings), description=description,
                        top_only_for_classification=top_only_for_classification)


def _imagenet(builder, description, supports_activation=True, **settings):
    return Architecture(functools.partial(builder, **settings), family="imagenet",
                        supports_activation=supports_activation, description=description)


_REGISTERED = {
    # CIFAR-sized inputs (any size works: all end in global average pooling)
    "simple": _cifar(_plain, "Plain-11: sequential CNN with 11 trainable layers"),
    "resnet-32": _cifar(_cifar_resnet, "CIFAR ResNet-32 (dense top only with classification=True)",
                        top_only_for_classification=True, blocks_per_stage=5, filters=(16, 32, 64)),
    "resnet-110": _cifar(_cifar_resnet, "CIFAR ResNet-110 (dense top only with classification=True)",
                         top_only_for_classification=True, blocks_per_stage=18, filters=(16, 32, 64)),
    "resnet-110-fc": _cifar(_cifar_resnet, "CIFAR ResNet-110, always with a dense layer after the pooling",
                            blocks_per_stage=18, filters=(16, 32, 64)),
    "resnet-110-wfc": _cifar(_cifar_resnet, "CIFAR ResNet-110 with twice the channels, always with a dense top",
                             blocks_per_stage=18, filters=(32, 64, 128)),
    "wrn-28-10": _cifar(_wide_resnet, "Wide Residual Network, depth 28, width 10", depth=28, width=10),
    # The plain DenseNets start with 16 maps and do not compress; DenseNet-BC starts with 2k, compresses by 0.5
    "densenet-100-12": _cifar(_densenet, "DenseNet, depth 100, growth rate 12",
                              depth=100, growth_rate=12, bottleneck=False, reduction=0.0, initial_filters=16),
    "densenet-100-24": _cifar(_densenet, "DenseNet, depth 100, growth rate 24",
                              depth=100, growth_rate=24, bottleneck=False, reduction=0.0, initial_filters=16),
    "densenet-bc-190-40": _cifar(_densenet, "DenseNet-BC, depth 190, growth rate 40",
                                 depth=190, growth_rate=40, bottleneck=True, reduction=0.5),
    "pyramidnet-272-200": _cifar(_pyramidnet, "PyramidNet with bottlenecks, depth 272, alpha 200",
                                 depth=272, alpha=200, bottleneck=True),
    "pyramidnet-110-270": _cifar(_pyramidnet, "PyramidNet with basic blocks, depth 110, alpha 270",
                                 depth=110, alpha=270, bottleneck=False),
    # ImageNet-sized inputs
    "resnet-50": _imagenet(_application, "ResNet-50 from keras.applications", False, application="resnet-50"),
    "resnet-101": _imagenet(_application, "ResNet-101 from keras.applications", False, application="resnet-101"),
    "resnet-152": _imagenet(_application, "ResNet-152 from keras.applications", False, application="resnet-152"),
    "rn18": _imagenet(_imagenet_resnet, "ResNet-18 (our implementation)", depth=18),
    "rn34": _imagenet(_imagenet_resnet, "ResNet-34 (our implementation)", depth=34),
    "rn50": _imagenet(_imagenet_resnet, "ResNet-50 (our implementation)", depth=50),
    "rn101": _imagenet(_imagenet_resnet, "ResNet-101 (our implementation)", depth=101),
    "rn152": _imagenet(_imagenet_resnet, "ResNet-152 (our implementation)", depth=152),
    "rn200": _imagenet(_imagenet_resnet, "ResNet-200 (our implementation)", depth=200),
    "nasnet-a": _imagenet(_application, "NASNet-A (large) from keras.applications, 224x224 input", False,
                          application="nasnet-a"),
}

ARCHITECTURES = ArchitectureRegistry(_REGISTERED)


def build_network(num_outputs, architecture, classification=False, no_softmax=False, input_channels=None,
                  name=None, **kwargs):
    """Builds a CNN by architecture name (see `ARCHITECTURES`).

    Args:
        num_outputs: number of units of the final dense layer (embedding dimensions or classes).
        architecture: a name from `ARCHITECTURES`, optionally with the suffix `-selu` to use SELU
            instead of ReLU activations (for architectures that support it).
        classification: if True, the final layer has a softmax activation and, on the ImageNet
            architectures, is named `prob`; otherwise it has no activation and is named
            `embedding`. `resnet-32` and `resnet-110` only get their final dense layer with
            `classification=True`: without it they end at the global average pooling
            (64 features, `num_outputs` unused), exactly like the original release
            (use `resnet-110-fc` for an embedding layer).
        no_softmax: together with `classification=True`, leave the final layer without an
            activation (logits). On the CIFAR architectures that layer is then named
            `embedding`, on the ImageNet ones `prob`, as in the original release.
        input_channels: number of image channels (default 3). The input takes any height and
            width unless the builder needs a fixed size (`nasnet-a`: 224x224).
        name: name of the model.
        **kwargs: passed on to the architecture's builder (e.g. `input_shape`, `weight_decay`,
            or smaller widths/depths for quick tests).

    Returns:
        keras.Model mapping images (channels last) to `num_outputs` values.
    """
    check_positive_int(num_outputs, "num_outputs")
    base, activation = ARCHITECTURES.split(architecture)
    spec = ARCHITECTURES[base]
    top_activation = "softmax" if classification and not no_softmax else None
    include_top = bool(classification) or not spec.top_only_for_classification
    if not include_top:
        warnings.warn(
            "{} without classification ends at the pooled features; num_outputs={} is unused "
            "(use resnet-110-fc for an embedding layer)".format(base, num_outputs),
            stacklevel=2,
        )
    if spec.family == "imagenet":
        kwargs.setdefault("top_name", "prob" if classification else "embedding")
    if activation != "relu" or spec.supports_activation:
        kwargs["activation"] = activation
    return spec.builder(num_outputs, include_top=include_top, top_activation=top_activation,
                        input_channels=input_channels, name=name, **kwargs)
