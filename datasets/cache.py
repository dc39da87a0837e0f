"""Where files derived from a dataset live (split lists, channel statistics, decoded image arrays).

Beside the data when its folder is writable, otherwise in a cache folder: `$SEMANTIC_EMBEDDINGS_CACHE`,
else `$XDG_CACHE_HOME/semantic-embeddings`, else `~/.cache/semantic-embeddings`, in a sub-folder named
after the data folder and a hash of its absolute path. A file found in either place is reused.

A folder without any write permission bit counts as read-only even for root (who could write there
anyway): shared, read-only data stays untouched.
"""

import hashlib
import json
import os
import stat

from utils import atomic_write


def cache_root():
    """The folder for derived files of read-only datasets."""
    explicit = os.environ.get("SEMANTIC_EMBEDDINGS_CACHE")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "semantic-embeddings")


def fallback_dir(data_dir):
    """The cache sub-folder of the dataset folder `data_dir`."""
    data_dir = os.path.abspath(data_dir)
    digest = hashlib.sha1(data_dir.encode("utf-8")).hexdigest()[:12]
    return os.path.join(cache_root(), "{}-{}".format(os.path.basename(data_dir.rstrip(os.sep)) or "root", digest))


def is_writable_dir(directory):
    """True if files may be written into `directory` (it has a write bit and the process may write)."""
    try:
        mode = os.stat(directory).st_mode
    except OSError:
        return False
    return stat.S_ISDIR(mode) and bool(mode & 0o222) and os.access(directory, os.W_OK)


def find_derived(data_dir, filename):
    """The existing derived file `filename` of the dataset folder `data_dir`, or None."""
    for directory in (data_dir, fallback_dir(data_dir)):
        path = os.path.join(directory, filename)
        if os.path.isfile(path):
            return path
    return None


def derived_path(data_dir, filename):
    """The path to read `filename` from if it exists, else to write it to (its folder created)."""
    existing = find_derived(data_dir, filename)
    if existing is not None:
        return existing
    directory = data_dir if is_writable_dir(data_dir) else fallback_dir(data_dir)
    os.makedirs(directory, exist_ok=True)
    return os.path.join(directory, filename)


def read_json(path):
    """A JSON object from `path`, or None if the file is missing or unreadable (a cache to recompute)."""
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def write_json(path, value):
    """Write a JSON object atomically."""
    with atomic_write(path, "w") as f:
        json.dump(value, f, indent=1)
        f.write("\n")


def fingerprint(items):
    """A short hash of a sequence of strings (e.g. the training file list a statistic was computed from)."""
    text = "".join("{}\n".format(item) for item in items)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()
