"""Model files: path checks, atomic saving of models and weights, snapshots, loading (also by layer name).

Used by `learn_image_embeddings.py` (through `models.training`, which re-exports every name).
"""

import contextlib
import os
import shutil
import sys
import tempfile
import warnings

import keras
import numpy as np

import atomic_files
import cli
from models.distribute import is_chief
from models.model_info import read_class_ids, read_model_info, write_model_info  # noqa: F401 -- re-exported

MODEL_EXTENSIONS = (".keras", ".h5", ".hdf5")


def check_model_path(path, what="--model_dump"):
    """ValueError unless Keras can write a model to `path` (`.keras`, or legacy `.h5`)."""
    if path and not path.lower().endswith(MODEL_EXTENSIONS):
        raise ValueError("{} {}: the file name must end with .keras (or .h5 for the legacy format)".format(what, path))
    cli.check_output_dir(path, what)


def check_weights_path(path, what="--weight_dump"):
    if path and not path.lower().endswith((".h5", ".hdf5")):
        raise ValueError("{} {}: the file name must end with .weights.h5 (or .h5)".format(what, path))
    cli.check_output_dir(path, what)


def save_model(model, path, info=None):
    """Save `model` atomically (temporary file beside `path`, then rename); `.h5` = legacy HDF5.

    `info`: a JSON-serializable dict stored in the file beside the model (see models/model_info.py;
    e.g. the class order), read back by `read_model_info`.
    """
    if not is_chief():
        # Every worker takes part in saving (collective ops); only the chief keeps the file.
        tmp_dir = tempfile.mkdtemp()
        try:
            model.save(os.path.join(tmp_dir, os.path.basename(path)))
        finally:
            shutil.rmtree(tmp_dir, ignore_errors=True)
        return
    with atomic_files.atomic_path(path) as tmp_path, _quiet_h5_warning():
        model.save(tmp_path)
        if info:
            write_model_info(tmp_path, info)


def check_writable(path, flag):
    """ValueError naming `flag` unless a file can be created in the directory of `path` (before training,
    not after the first epoch)."""
    if not path:
        return
    cli.check_output_dir(path, flag)
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, probe = tempfile.mkstemp(dir=directory, prefix=".tmp-write-check-")
    except OSError as e:
        raise ValueError("{} {}: cannot write to {} ({})".format(flag, path, directory, e.strerror or e)) from None
    os.close(fd)
    os.remove(probe)


def remove_stale_temp_files(path):
    """Remove the temporary files that an interrupted atomic write of `path` left beside it
    (`.tmp-*-<name>`, see `atomic_files.atomic_path`); returns their names."""
    directory, name = os.path.split(os.path.abspath(path))
    stale = [f for f in os.listdir(directory) if f.startswith(".tmp-") and f.endswith("-" + name)]
    for f in stale:
        with contextlib.suppress(OSError):
            os.remove(os.path.join(directory, f))
    return stale


def save_weights(model, path):
    """Save the weights atomically: `.weights.h5` in the Keras 3 layout, other `.h5` in the legacy one.

    Both load by `model.load_weights(path)`; legacy files also by layer name (`--finetune`).
    """
    if not is_chief():
        return
    with atomic_files.atomic_path(path) as tmp_path:
        if path.lower().endswith(".weights.h5"):
            model.save_weights(tmp_path)
        else:
            from keras.src.legacy.saving import legacy_h5_format  # no public writer for the legacy layout

            import h5py

            with h5py.File(tmp_path, "w") as h5:
                legacy_h5_format.save_weights_to_hdf5_group(h5, model)


@contextlib.contextmanager
def _quiet_h5_warning():
    # Keras logs a deprecation warning for every .h5 save; the user asked for that format.
    from absl import logging as absl_logging

    level = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.ERROR)
    try:
        yield
    finally:
        absl_logging.set_verbosity(level)


class AtomicModelCheckpoint(keras.callbacks.Callback):
    """Save the model after every epoch, atomically: a crash mid-save leaves the old snapshot intact.

    With `monitor`, save only when that log value improves (`mode` 'max' or 'min'), starting from
    `best` (the value of the snapshot a run resumes from). The file stores `info` plus the epoch
    count and, with `monitor`, the best value (see models/model_info.py).
    """

    def __init__(self, path, monitor=None, mode="max", verbose=0, info=None, best=None):
        super().__init__()
        check_model_path(path, "snapshot")
        self.path, self.monitor, self.mode, self.verbose = path, monitor, mode, verbose
        self.info, self.best = dict(info or {}), best

    def on_epoch_end(self, epoch, logs=None):
        info = dict(self.info, epoch=epoch + 1)
        if self.monitor:
            value = (logs or {}).get(self.monitor)
            if value is None:
                warnings.warn("snapshot_best: {!r} not in the logs; nothing saved".format(self.monitor), stacklevel=2)
                return
            value = float(value)
            if self.best is not None and not (value > self.best if self.mode == "max" else value < self.best):
                return
            self.best = value
            info.update(monitor=self.monitor, best=value)
        save_model(self.model, self.path, info)
        if self.verbose:
            print("\nEpoch {}: saved model to {}".format(epoch + 1, self.path))


def load_model(path):
    """Load a saved model (compiled if possible, so that its optimizer state comes along)."""
    if not os.path.isfile(path):
        raise ValueError("{}: no such model file".format(path))
    try:
        return keras.models.load_model(path, compile=True)
    except Exception as e:  # noqa: BLE001 -- any compile problem: fall back to the bare model
        warnings.warn("{}: loading without optimizer state ({})".format(path, e), stacklevel=2)
        try:
            return keras.models.load_model(path, compile=False)
        except Exception as e2:  # noqa: BLE001
            raise ValueError("{}: cannot load model: {}".format(path, e2)) from None


def copy_optimizer_state(source_optimizer, model):
    """Give the freshly compiled `model.optimizer` the state (step, momenta) of `source_optimizer`.

    Returns True on success; False (state left fresh) if the two do not match variable for variable.
    """
    if source_optimizer is None or not getattr(source_optimizer, "built", False):
        return False
    target = model.optimizer
    if not target.built:
        target.build(model.trainable_variables)
    source_vars, target_vars = source_optimizer.variables, target.variables
    if len(source_vars) != len(target_vars) or any(s.shape != t.shape for s, t in zip(source_vars, target_vars)):
        return False
    for s, t in zip(source_vars, target_vars):
        t.assign(s.value)
    return True


def load_weights_by_name(model, path):
    """Load the weights of layers with the same name and weight shapes from a model or weight file.

    Returns the names of the layers that received weights.
    """
    if not os.path.isfile(path):
        raise ValueError("{}: no such file with pre-trained weights".format(path))
    lower = path.lower()
    if lower.endswith(".keras"):
        source = keras.models.load_model(path, compile=False)
        return _transfer_by_name(source, model)
    if lower.endswith(".weights.h5"):
        return _load_weights_file(model, path)
    if lower.endswith((".h5", ".hdf5")):
        return _load_legacy_h5_by_name(model, path)
    raise ValueError("{}: pre-trained weights must be a .keras, .weights.h5 or .h5 file".format(path))


def _load_weights_file(model, path):
    """A Keras 3 `.weights.h5` file names its layers by class (`conv2d_3`), not by layer name, so Keras
    matches them by type and order, skipping shape mismatches. Report the layers whose weights changed."""
    before = [layer.get_weights() for layer in model.layers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras lists every skipped layer with its full weight values
        model.load_weights(path, skip_mismatch=True)
    loaded = [layer.name for layer, old in zip(model.layers, before)
              if any(not np.array_equal(a, b) for a, b in zip(old, layer.get_weights()))]
    print("note: {}: a .weights.h5 file holds no layer names; its weights were matched by layer type and order "
          "({} layers loaded). A .keras model dump is matched by layer name.".format(path, len(loaded)),
          file=sys.stderr)
    return loaded


def _transfer_by_name(source, target):
    source_layers = {layer.name: layer for layer in _all_layers(source)}
    loaded = []
    for layer in target.layers:
        other = source_layers.get(layer.name)
        if other is None or not layer.weights:
            continue
        weights = other.get_weights()
        if len(weights) == len(layer.weights) and all(w.shape == v.shape for w, v in zip(weights, layer.weights)):
            layer.set_weights(weights)
            loaded.append(layer.name)
    return loaded


def _all_layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)
        else:
            yield layer


def _load_legacy_h5_by_name(model, path):
    import h5py

    with h5py.File(path, "r") as f:
        group = f["model_weights"] if "model_weights" in f else f
        names = [n.decode("utf8") if isinstance(n, bytes) else n for n in group.attrs.get("layer_names", [])]
    model.load_weights(path, by_name=True, skip_mismatch=True)
    return [layer.name for layer in model.layers if layer.name in names and layer.weights]
