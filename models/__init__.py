"""The model zoo, the training methods and everything to train and save models.

    from models import ARCHITECTURES, build_network
    model = build_network(100, 'resnet-110-fc', input_channels=3)

Modules: `registry` (architectures), `methods` (training methods: targets, heads, losses,
metrics, arguments), `schedules` (learning-rate schedules), `heads` (model assembly, compile),
`losses`, `keras_metrics`, `layers`, `lr_callbacks`, `distribute` (devices), `checkpoints` (model
files), `training` (fit, resume, feature dump; `train` for Python callers).

`import models` does not import Keras, so scripts can list architectures and methods instantly.
The project's serializable objects (`ChannelPadding`, `L2Normalize`, the losses, metrics and
`InverseTimeDecaySGD`) are registered with Keras as soon as Keras is imported (at once if it
already is): after `import models`, `keras.models.load_model(path)` loads the project's models
with their optimizer, without `custom_objects`. `get_custom_objects` stays for code written
against the original.
"""

import importlib
import importlib.abc
import importlib.util
import sys

from .registry import ARCHITECTURES, Architecture, ArchitectureRegistry, build_network

# Modules whose import registers serializable classes and functions with Keras.
_REGISTERING_MODULES = ("layers", "keras_metrics", "losses", "lr_callbacks", "center_loss", "label_embedding",
                       "hierarchical_losses", "triplet")

# Names re-exported from the Keras-dependent modules, imported on first access.
_LAZY_NAMES = {"ChannelPadding": "layers", "L2Normalize": "layers", "l2norm": "layers"}


def register_serializables():
    """Import the modules that register the project's objects with Keras (imports Keras)."""
    for name in _REGISTERING_MODULES:
        importlib.import_module(__name__ + "." + name)


def get_custom_objects(architecture=None):
    """Custom objects for `keras.models.load_model` (not needed any more: all are registered)."""
    from .layers import custom_objects

    return custom_objects()


def __getattr__(name):
    if name in _LAZY_NAMES:
        value = getattr(importlib.import_module(__name__ + "." + _LAZY_NAMES[name]), name)
        globals()[name] = value
        return value
    raise AttributeError("module 'models' has no attribute {!r}".format(name))


class _RegisterWhenKerasLoads(importlib.abc.MetaPathFinder):
    """Runs `register_serializables` right after the first `import keras` of the process.

    Keras finds the project's classes only once they are registered; registering at `import
    models` would import Keras (and TensorFlow: seconds) for scripts that never build a model.
    """

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec("keras")
        if spec is not None and spec.loader is not None:
            spec.loader = _RegisteringLoader(spec.loader)
        return spec


class _RegisteringLoader(importlib.abc.Loader):
    """Keras' own loader, followed by `register_serializables`."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        register_serializables()

    def __getattr__(self, name):
        return getattr(self._loader, name)


if "keras" in sys.modules:
    register_serializables()
elif not any(isinstance(finder, _RegisterWhenKerasLoads) for finder in sys.meta_path):
    sys.meta_path.insert(0, _RegisterWhenKerasLoads())


__all__ = [
    "ARCHITECTURES",
    "Architecture",
    "ArchitectureRegistry",
    "ChannelPadding",
    "L2Normalize",
    "build_network",
    "get_custom_objects",
    "l2norm",
    "register_serializables",
]
