"""The model zoo: every architecture of the original release in one registry.

    from models import ARCHITECTURES, build_network
    model = build_network(100, 'resnet-110-fc', input_channels=3)

Custom layers (`ChannelPadding`, `L2Normalize`) are registered serializable: saved models load
without `custom_objects`; `get_custom_objects` stays for code written against the original.
"""

from .layers import ChannelPadding, L2Normalize, l2norm
from .layers import custom_objects as _custom_objects
from .registry import ARCHITECTURES, Architecture, ArchitectureRegistry, build_network


def get_custom_objects(architecture=None):
    """Custom objects for `keras.models.load_model` (not needed any more: all are registered)."""
    return _custom_objects()


__all__ = [
    "ARCHITECTURES",
    "Architecture",
    "ArchitectureRegistry",
    "ChannelPadding",
    "L2Normalize",
    "build_network",
    "get_custom_objects",
    "l2norm",
]
