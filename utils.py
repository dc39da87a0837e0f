"""Shared helpers: safe reading of old pickles, class-embedding files, atomic writes.

Model building (`ARCHITECTURES`, `build_network`), losses and schedules are re-exported
further below so that code written against the original `utils` module keeps working.
"""

import contextlib
import io
import json
import math
import os
import pickle
import tempfile

import numpy as np

# ---------------------------------------------------------------------------
# Errors for the command line: moved to cli.py, re-exported for old imports
# ---------------------------------------------------------------------------

from cli import UsageError, check_output_dir, cli_errors, exit_with_error, str2bool  # noqa: E402,F401


# ---------------------------------------------------------------------------
# Atomic writes: nothing already on disk is lost or half-written on failure
# ---------------------------------------------------------------------------


_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path):
    """A temporary path beside `path` (same file name ending) that replaces `path` only if the block
    succeeds. For writers that need a file name (Keras, h5py); `atomic_write` gives a file object."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp_path = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix="-" + os.path.basename(path))
    os.close(fd)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp_path)
        raise


@contextlib.contextmanager
def atomic_write(path, mode="wb"):
    """Open a temporary file beside `path`; rename it onto `path` only if the block succeeds."""
    with atomic_path(path) as tmp_path, open(tmp_path, mode) as f:
        yield f
        f.flush()
        os.fsync(f.fileno())


# ---------------------------------------------------------------------------
# Restricted unpickling of old files
# ---------------------------------------------------------------------------

# The only globals an embedding or feature pickle of the original release needs: numpy arrays,
# numpy scalars and dtypes. Everything else (os.system, builtins.eval, ...) is refused.
_SAFE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "complex"),
    ("builtins", "slice"),
    ("collections", "OrderedDict"),
    ("_codecs", "encode"),  # used by Python 2 pickles of numpy arrays
}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that admits only numpy arrays, numpy scalars and plain containers."""

    def find_class(self, module, name):
        if (module, name) in _SAFE_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            "refusing to load {}.{}: only numpy arrays and plain containers are allowed".format(module, name)
        )


def safe_pickle_load(path):
    """Load a pickle file through `RestrictedUnpickler` (also reads Python 2 pickles)."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        return RestrictedUnpickler(io.BytesIO(data)).load()
    except UnicodeDecodeError:
        return RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError, TypeError) as e:
        raise ValueError("{}: cannot read pickle: {}".format(path, e)) from None


# ---------------------------------------------------------------------------
# Class-embedding files: the original pickle dict, or the same as a numpy archive
# ---------------------------------------------------------------------------


def _label_array(labels):
    """Labels as a numpy array that round-trips through .npz without pickling."""
    labels = list(labels)
    if all(isinstance(l, (int, np.integer)) for l in labels):
        return np.asarray(labels, dtype=np.int64)
    return np.asarray([str(l) for l in labels])


def save_class_embedding(path, embedding, ind2label):
    """Write class embeddings to `path` (`.pickle`/`.pkl`: the original dict; `.npz`: numpy archive).

    Both hold `embedding` (one row per class), `ind2label` (the class id of each row) and,
    in the pickle, `label2ind` (the inverse mapping), exactly as the original release did.
    """
    embedding = np.asarray(embedding)
    ind2label = [l.item() if isinstance(l, np.generic) else l for l in ind2label]
    if embedding.ndim != 2 or embedding.shape[0] != len(ind2label):
        raise ValueError(
            "embedding of shape {} does not match {} class labels".format(embedding.shape, len(ind2label))
        )
    ext = os.path.splitext(path)[1].lower()
    with atomic_write(path) as f:
        if ext == ".npz":
            np.savez(f, embedding=embedding, ind2label=_label_array(ind2label))
        else:
            record = {
                "embedding": embedding,
                "ind2label": ind2label,
                "label2ind": {lbl: i for i, lbl in enumerate(ind2label)},
            }
            pickle.dump(record, f, protocol=4)


def load_class_embedding(path):
    """Read a class-embedding file written by `save_class_embedding` or by the original release.

    Returns a dict with `embedding` (float ndarray, one row per class), `ind2label` (list) and
    `label2ind` (dict). Pickles are read through the restricted unpickler.
    """
    if not os.path.isfile(path):
        raise ValueError("{}: no such embedding file".format(path))
    if os.path.splitext(path)[1].lower() == ".npz":
        try:
            with np.load(path, allow_pickle=False) as archive:
                embedding = archive["embedding"]
                ind2label = archive["ind2label"].tolist()
        except (KeyError, ValueError, OSError) as e:
            raise ValueError("{}: not a class-embedding archive ({})".format(path, e)) from None
    else:
        record = safe_pickle_load(path)
        if not isinstance(record, dict) or "embedding" not in record:
            raise ValueError("{}: not a class-embedding file (expected a dict with 'embedding')".format(path))
        embedding = np.asarray(record["embedding"])
        if "ind2label" in record:
            ind2label = list(record["ind2label"])
        elif "label2ind" in record:
            ind2label = [lbl for lbl, _ in sorted(record["label2ind"].items(), key=lambda kv: kv[1])]
        else:
            ind2label = list(range(len(embedding)))
    if embedding.ndim != 2 or len(ind2label) != embedding.shape[0]:
        raise ValueError("{}: embedding shape {} does not match {} labels".format(path, embedding.shape, len(ind2label)))
    return {
        "embedding": embedding,
        "ind2label": ind2label,
        "label2ind": {lbl: i for i, lbl in enumerate(ind2label)},
    }


# ---------------------------------------------------------------------------
# Feature dumps: {'feat': {image_id: vector}} (pickle) or an .npz with `feat` (+ optional `ids`)
# ---------------------------------------------------------------------------


def save_features(path, features, ids=None):
    """Write image features in the original dump layout `{'feat': {index: vector}}` or as `.npz`."""
    features = np.asarray(features)
    ids = list(range(len(features))) if ids is None else list(ids)
    with atomic_write(path) as f:
        if os.path.splitext(path)[1].lower() == ".npz":
            np.savez(f, feat=features, ids=_label_array(ids))
        else:
            pickle.dump({"feat": {i: v for i, v in zip(ids, features)}}, f, protocol=4)


def load_features(path):
    """Read a feature dump; returns `(ids, features)` with features as a 2-D float array."""
    if not os.path.isfile(path):
        raise ValueError("{}: no such feature file".format(path))
    if os.path.splitext(path)[1].lower() == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            if "feat" not in archive:
                raise ValueError("{}: no array named 'feat' in the archive".format(path))
            feat = archive["feat"]
            ids = archive["ids"].tolist() if "ids" in archive else list(range(len(feat)))
        return ids, np.asarray(feat)
    record = safe_pickle_load(path)
    if not isinstance(record, dict) or "feat" not in record:
        raise ValueError("{}: not a feature dump (expected a dict with 'feat')".format(path))
    feat = record["feat"]
    if isinstance(feat, dict):
        ids = list(feat.keys())
        return ids, np.stack([np.asarray(feat[i]).ravel() for i in ids]) if ids else np.zeros((0, 0))
    feat = np.asarray(feat)
    return list(range(len(feat))), feat


def write_metrics_json(perf, path):
    """Evaluation results `{label: {metric name: value}}` as JSON; NaN (a 0/0 of a metric's
    definition) becomes null. Written atomically."""
    clean = {label: {m: (None if isinstance(v, float) and math.isnan(v) else v) for m, v in results.items()}
             for label, results in perf.items()}
    with atomic_write(path, "w") as f:
        json.dump(clean, f, indent=2)
        f.write("\n")


# ---------------------------------------------------------------------------
# Lazy re-exports: model zoo (models/), losses, metrics and schedules, as the original `utils`
# exported them. Lazy, so that scripts which only need the I/O above never import Keras.
# To re-export a name, add it to `_LAZY_EXPORTS` (name -> module).
# ---------------------------------------------------------------------------

_LAZY_EXPORTS = {
    "ARCHITECTURES": "models",
    "L2Normalize": "models",
    "build_network": "models",
    "get_custom_objects": "models",
    "l2norm": "models",
}


def __getattr__(name):
    module_name = _LAZY_EXPORTS.get(name)
    if module_name is None:
        raise AttributeError("module 'utils' has no attribute {!r}".format(name))
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY_EXPORTS))


# Losses, metrics and learning-rate schedules of the original `utils` (models/losses.py, models/schedules.py).
_LAZY_EXPORTS.update({
    name: "models.losses"
    for name in ("inv_correlation", "squared_distance", "mean_distance", "devise_ranking_loss", "nn_accuracy", "top_k_acc")
})
_LAZY_EXPORTS.update({
    name: "models.schedules" for name in ("LR_SCHEDULES", "get_lr_schedule", "add_lr_schedule_arguments")
})
