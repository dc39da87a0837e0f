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
    `argparse`'s `choices=ARCHITECTURES` accepts those names as the original scripts did.
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
# Each is called as builder(num_outputs, top_activation=, include_top=, activation=,
# input_channels=, name=, **builder_kwargs); imports are lazy so that listing names is cheap.


def _plain(num_outputs, include_top, top_activation, **kwargs):
    from .plainnet import plain_net

    return plain_net(num_outputs, final_activation=top_activation, **kwargs)


def _cifar_resnet(blocks, filters, num_outputs, **kwargs):
    from .cifar_resnet import cifar_resnet

    kwargs.setdefault("blocks_per_stage", blocks)
    kwargs.setdefault("filters", filters)
    return cifar_resnet(num_outputs, **kwargs)


_REGISTERED = {
    "simple": Architecture(_plain, description="Plain-11: sequential CNN with 11 trainable layers"),
    "resnet-32": Architecture(
        functools.partial(_cifar_resnet, 5, (16, 32, 64)), top_only_for_classification=True,
        description="CIFAR ResNet-32 (dense top only with classification=True)",
    ),
    "resnet-110": Architecture(
        functools.partial(_cifar_resnet, 18, (16, 32, 64)), top_only_for_classification=True,
        description="CIFAR ResNet-110 (dense top only with classification=True)",
    ),
    "resnet-110-fc": Architecture(
        functools.partial(_cifar_resnet, 18, (16, 32, 64)),
        description="CIFAR ResNet-110, always with a dense layer after the pooling",
    ),
    "resnet-110-wfc": Architecture(
        functools.partial(_cifar_resnet, 18, (32, 64, 128)),
        description="CIFAR ResNet-110 with twice the channels, always with a dense top",
    ),
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
