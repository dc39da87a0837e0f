"""Shared helpers: safe reading of old pickles, class-embedding files, atomic writes.

Model building (`ARCHITECTURES`, `build_network`), losses and schedules are re-exported
further below so that code written against the original `utils` module keeps working.
"""

import codecs
import io
import json
import math
import os
import pickle
import struct
import zipfile
import zlib

import numpy as np

# ---------------------------------------------------------------------------
# Atomic writes: in atomic_files.py (class_hierarchy uses them without utils), re-exported
# ---------------------------------------------------------------------------

from atomic_files import atomic_path, atomic_write  # noqa: E402,F401


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


def _encode_latin1(text, encoding="latin1"):
    """`_codecs.encode` as Python 2 pickles of numpy arrays call it (their raw bytes as a latin-1
    string); any other codec (a damaged name, zlib, ...) is refused."""
    if not isinstance(encoding, str) or encoding.lower().replace("-", "").replace("_", "") not in ("latin1", "iso88591"):
        raise pickle.UnpicklingError("refusing to encode with codec {!r}".format(encoding))
    return codecs.encode(text, "latin1")


def _find_safe_class(unpickler_class):
    def find_class(self, module, name):
        if (module, name) == ("_codecs", "encode"):
            return _encode_latin1
        if (module, name) in _SAFE_GLOBALS:
            return unpickler_class.find_class(self, module, name)
        raise pickle.UnpicklingError(
            "refusing to load {}.{}: only numpy arrays and plain containers are allowed".format(module, name)
        )
    return find_class


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that admits only numpy arrays, numpy scalars and plain containers."""

    find_class = _find_safe_class(pickle.Unpickler)


class PythonRestrictedUnpickler(pickle._Unpickler):
    """`RestrictedUnpickler` on the pure-Python unpickler.

    Its memo is a dict; the C unpickler's is an array that a damaged memo index (LONG_BINPUT with
    a random 4-byte argument) makes it grow to that index: 2.8 GB and 4.6 s for one of the fuzz
    test's variants, and more than the machine has for others. About 8 times slower per object,
    which matters only for pickles of many objects (a feature dump with a vector per image).
    """

    find_class = _find_safe_class(pickle._Unpickler)

    def load_build(self):
        """BUILD, refusing a numpy dtype whose state would change its flags: damaged flags make a
        float64 dtype claim to hold object references, and numpy then fails deep inside (seen as
        SystemError and "get_clear_loop not set" in the fuzz test)."""
        state, instance = self.stack[-1], self.stack[-2]
        if isinstance(instance, np.dtype) and not (isinstance(state, tuple) and state and state[-1] == instance.flags):
            raise pickle.UnpicklingError("damaged numpy dtype state {!r}".format(state))
        pickle._Unpickler.load_build(self)

    dispatch = dict(pickle._Unpickler.dispatch)
    dispatch[pickle.BUILD[0]] = load_build


# Pickles up to this size go through `PythonRestrictedUnpickler` even where speed is asked for:
# they load in well under a second either way.
PYTHON_UNPICKLER_MAX_BYTES = 8 * 2 ** 20

# What a damaged pickle can raise inside the restricted unpickler and numpy's array reconstruction
# (bytes flipped or cut off: tests/test_fuzz_inputs.py). All of them mean "this file is not a valid
# pickle of arrays", never a bug of ours: the unpickler runs no code of ours but `find_class`.
_UNPICKLING_ERRORS = (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError, KeyError,
                      TypeError, ValueError, OverflowError, MemoryError, SystemError, NotImplementedError,
                      RecursionError, UnicodeError, struct.error, LookupError, SyntaxError)


def _describe(error):
    """'ErrorType: first line of the message' (some messages of damaged files span lines)."""
    lines = str(error).splitlines()
    return "{}: {}".format(type(error).__name__, lines[0][:200]) if lines else type(error).__name__


def safe_pickle_load(path, many_objects=False):
    """Load a pickle file through the restricted unpickler (also reads Python 2 pickles).

    A damaged or foreign file raises ValueError naming `path`, also when the Python 2 (latin-1)
    retry fails. `many_objects`: a large file of many small objects (a feature dump) goes through
    the C unpickler for speed; otherwise the pure-Python one reads it (see `PythonRestrictedUnpickler`).
    """
    with open(path, "rb") as f:
        data = f.read()
    fast = many_objects and len(data) > PYTHON_UNPICKLER_MAX_BYTES
    unpickler = RestrictedUnpickler if fast else PythonRestrictedUnpickler
    try:
        try:
            return unpickler(io.BytesIO(data)).load()
        except UnicodeDecodeError:  # Python 2 byte strings: numpy arrays of Python 2 need latin-1
            return unpickler(io.BytesIO(data), encoding="latin1").load()
    except _UNPICKLING_ERRORS as e:
        raise ValueError("{}: cannot read pickle: {}".format(path, _describe(e))) from None


# ---------------------------------------------------------------------------
# Numpy archives, read without pickle and without trusting their headers
# ---------------------------------------------------------------------------

# What zipfile and numpy's header parser raise for a damaged archive.
_NPZ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, ValueError, OverflowError, SyntaxError, TypeError,
               KeyError, NotImplementedError, UnicodeError, struct.error, RuntimeError, OSError)

_READ_CHUNK = 16 * 2 ** 20

_NPY_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def _read_npy_member(archive, member):
    """One array of an open .npz: the size its header claims is checked against the member's size
    before anything is allocated, object arrays are refused, and the member's CRC is verified."""
    with archive.open(member) as f:
        version = np.lib.format.read_magic(f)
        if version not in _NPY_HEADER_READERS:
            raise ValueError("unsupported .npy format version {}.{}".format(*version))
        shape, fortran_order, dtype = _NPY_HEADER_READERS[version](f)
        if dtype.hasobject:
            raise ValueError("{} holds Python objects (reading it would need pickle)".format(member))
        num_bytes = math.prod(shape) * dtype.itemsize
        stored = archive.getinfo(member).file_size - f.tell()
        if num_bytes != stored:
            raise ValueError("{}: its header claims shape {} of {} ({:,} bytes), the archive holds {:,} bytes".format(
                member, shape, dtype, num_bytes, stored))
        # Read straight into the array, in chunks: no second copy of a large embedding in memory.
        array = np.empty(math.prod(shape), dtype=dtype)
        raw = array.view(np.uint8).reshape(-1) if num_bytes else np.empty(0, np.uint8)
        position = 0
        while position < num_bytes:
            chunk = f.read(min(_READ_CHUNK, num_bytes - position))
            if not chunk:
                raise ValueError("{}: truncated".format(member))
            raw[position:position + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
            position += len(chunk)
        if f.read(1):  # reading to the end makes zipfile check the CRC
            raise ValueError("{}: longer than its header says".format(member))
    return array.reshape(shape[::-1]).T if fortran_order else array.reshape(shape)


def load_npz(path, required, optional=()):
    """Dict name -> array of the arrays `required` and those of `optional` present in the .npz `path`.

    Like `np.load(path, allow_pickle=False)`, but a damaged archive (bad zip structure, CRC, header,
    truncated data, object arrays) raises ValueError naming the file and the fault.
    """
    arrays = {}
    try:
        with zipfile.ZipFile(path) as archive:
            members = {name[:-len(".npy")]: name for name in archive.namelist() if name.endswith(".npy")}
            for key in tuple(required) + tuple(optional):
                if key in members:
                    arrays[key] = _read_npy_member(archive, members[key])
                elif key in required:
                    raise ValueError("no array named {!r} in the archive".format(key))
    except _NPZ_ERRORS as e:
        raise ValueError("{}: cannot read the .npz archive: {}".format(path, _describe(e))) from None
    return arrays


def _check_array(path, array, what, kinds, ndim):
    """`array` as an ndarray of one of the dtype `kinds` and `ndim` dimensions; ValueError naming `path` otherwise."""
    try:
        array = np.asarray(array)
    except (ValueError, TypeError) as e:  # e.g. rows of different lengths
        raise ValueError("{}: the {} is not an array ({})".format(path, what, _describe(e))) from None
    if array.dtype.kind not in kinds or array.dtype.hasobject:
        raise ValueError("{}: the {} is not numeric (dtype {})".format(path, what, array.dtype))
    if array.ndim != ndim:
        raise ValueError("{}: the {} has shape {}, expected {} dimensions".format(path, what, array.shape, ndim))
    return array


def _check_labels(path, labels, what="class labels"):
    """`labels` as a list of hashable, distinct ids; ValueError naming `path` otherwise."""
    try:
        labels = list(labels)
        index = {label: i for i, label in enumerate(labels)}
    except TypeError as e:
        raise ValueError("{}: the {} are not a list of ids ({})".format(path, what, _describe(e))) from None
    if len(index) != len(labels):
        seen = set()
        duplicate = next(label for label in labels if label in seen or seen.add(label))
        raise ValueError("{}: {} {!r} appears more than once".format(path, what[:-1], duplicate))
    return labels, index


# ---------------------------------------------------------------------------
# Class-embedding files: the original pickle dict, or the same as a numpy archive
# ---------------------------------------------------------------------------

# File name ending -> format of class-embedding files we write (reading takes any pickle too).
CLASS_EMBEDDING_FORMATS = {".pickle": "pickle", ".pkl": "pickle", ".npz": "npz"}


def class_embedding_format(path, flag="--out"):
    """'pickle' or 'npz' from the ending of `path`; ValueError naming `flag` for any other ending."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in CLASS_EMBEDDING_FORMATS:
        raise ValueError("{} {}: unknown file type {!r}; class embeddings are written as .pickle or .npz".format(
            flag, path, ext or "(none)"))
    return CLASS_EMBEDDING_FORMATS[ext]


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
    Any other file name ending raises ValueError (before anything is written).
    """
    file_format = class_embedding_format(path, "class-embedding file")
    embedding = np.asarray(embedding)
    ind2label = [l.item() if isinstance(l, np.generic) else l for l in ind2label]
    if embedding.ndim != 2 or embedding.shape[0] != len(ind2label):
        raise ValueError(
            "embedding of shape {} does not match {} class labels".format(embedding.shape, len(ind2label))
        )
    with atomic_write(path) as f:
        if file_format == "npz":
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

    Returns a dict with `embedding` (numeric ndarray, one row per class), `ind2label` (list) and
    `label2ind` (dict). Pickles are read through the restricted unpickler. A file that is damaged,
    not a class embedding, or holds NaN or infinite values raises ValueError naming the file.
    """
    if not os.path.isfile(path):
        raise ValueError("{}: no such embedding file".format(path))
    if os.path.splitext(path)[1].lower() == ".npz":
        arrays = load_npz(path, ("embedding", "ind2label"))
        embedding = arrays["embedding"]
        ind2label = _check_array(path, arrays["ind2label"], "label array ind2label", "iuU", 1).tolist()
    else:
        record = safe_pickle_load(path)
        if not isinstance(record, dict) or "embedding" not in record:
            raise ValueError("{}: not a class-embedding file (expected a dict with 'embedding')".format(path))
        embedding = record["embedding"]
        try:
            if "ind2label" in record:
                ind2label = list(record["ind2label"])
            elif "label2ind" in record:
                ind2label = [lbl for lbl, _ in sorted(record["label2ind"].items(), key=lambda kv: kv[1])]
            else:
                ind2label = list(range(len(embedding)))
        except (TypeError, AttributeError) as e:
            raise ValueError("{}: the class labels are not readable ({})".format(path, _describe(e))) from None
    embedding = _check_array(path, embedding, "class embedding", "fiu", 2)
    ind2label, label2ind = _check_labels(path, ind2label)
    if len(ind2label) != embedding.shape[0]:
        raise ValueError("{}: embedding shape {} does not match {} labels".format(path, embedding.shape, len(ind2label)))
    not_finite = ~np.isfinite(embedding)
    if not_finite.any():
        row, col = np.argwhere(not_finite)[0]
        raise ValueError("{}: the class embedding holds {} non-finite value(s), the first {} in row {} (class {!r}), "
                         "column {}".format(path, int(not_finite.sum()), embedding[row, col], row, ind2label[row], col))
    return {"embedding": embedding, "ind2label": ind2label, "label2ind": label2ind}


# ---------------------------------------------------------------------------
# Feature dumps: {'feat': {image_id: vector}} (pickle) or an .npz with `feat` (+ optional `ids`)
# ---------------------------------------------------------------------------


def save_features(path, features, ids=None, class_ids=None):
    """Write image features in the original dump layout `{'feat': {index: vector}}` or as `.npz`.

    `class_ids`: the class order of the model that computed them (class id of every label), stored as
    `class_ids` beside `feat` (readers of the original layout ignore it); see `load_feature_class_ids`.
    """
    features = np.asarray(features)
    ids = list(range(len(features))) if ids is None else list(ids)
    extra = {} if class_ids is None else {"class_ids": [c.item() if isinstance(c, np.generic) else c
                                                       for c in class_ids]}
    with atomic_write(path) as f:
        if os.path.splitext(path)[1].lower() == ".npz":
            np.savez(f, feat=features, ids=_label_array(ids),
                     **{k: _label_array(v) for k, v in extra.items()})
        else:
            pickle.dump({"feat": {i: v for i, v in zip(ids, features)}, **extra}, f, protocol=4)


def load_feature_class_ids(path):
    """The class order stored in a feature dump by `save_features(..., class_ids=...)`; None if absent."""
    if os.path.splitext(path)[1].lower() == ".npz":
        arrays = load_npz(path, ("feat",), ("class_ids",))
        return arrays["class_ids"].tolist() if "class_ids" in arrays else None
    record = safe_pickle_load(path, many_objects=True)
    class_ids = record.get("class_ids") if isinstance(record, dict) else None
    return None if class_ids is None else list(class_ids)


def load_features(path):
    """Read a feature dump; returns `(ids, features)` with features as a 2-D numeric array.

    A damaged file, one that is not a feature dump, or vectors of different lengths raise
    ValueError naming the file (and the image). NaN values are returned as they are.
    """
    if not os.path.isfile(path):
        raise ValueError("{}: no such feature file".format(path))
    if os.path.splitext(path)[1].lower() == ".npz":
        arrays = load_npz(path, ("feat",), ("ids",))
        feat = _check_array(path, arrays["feat"], "feature array", "fiub", 2)
        if "ids" not in arrays:
            return list(range(len(feat))), feat
        ids, _ = _check_labels(path, _check_array(path, arrays["ids"], "image id array", "iuU", 1).tolist(),
                               "image ids")
        if len(ids) != len(feat):
            raise ValueError("{}: {} image ids for {} feature vectors".format(path, len(ids), len(feat)))
        return ids, feat
    record = safe_pickle_load(path, many_objects=True)
    if not isinstance(record, dict) or "feat" not in record:
        raise ValueError("{}: not a feature dump (expected a dict with 'feat')".format(path))
    feat = record["feat"]
    if not isinstance(feat, dict):
        feat = _check_array(path, feat, "feature array", "fiub", 2)
        return list(range(len(feat))), feat
    ids = list(feat.keys())
    vectors = [_check_array(path, feat[i], "feature vector of image {!r}".format(i), "fiub", np.ndim(feat[i])).ravel()
               for i in ids]
    for i, vector in zip(ids, vectors):
        if len(vector) != len(vectors[0]):
            raise ValueError("{}: the feature vector of image {!r} has {} values, that of image {!r} has {}".format(
                path, i, len(vector), ids[0], len(vectors[0])))
    return ids, np.stack(vectors) if ids else np.zeros((0, 0))


def write_metrics_json(perf, path):
    """Evaluation results `{label: {metric name: value}}` as JSON; NaN (a 0/0 of a metric's
    definition) becomes null. Written atomically."""
    clean = {label: {m: (None if isinstance(v, float) and math.isnan(v) else v) for m, v in results.items()}
             for label, results in perf.items()}
    with atomic_write(path, "w") as f:
        json.dump(clean, f, indent=2)
        f.write("\n")
