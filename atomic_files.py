"""Atomic writes: nothing already on disk is lost or half-written on failure.

A module of its own (re-exported by `utils`), so that low-level modules such as `class_hierarchy`
can write files atomically without depending on `utils` and what it re-exports (the CLI helpers).
"""

import contextlib
import os
import tempfile

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path):
    """A temporary path beside `path` (same file name ending) that replaces `path` only if the block
    succeeds. For writers that need a file name (Keras, h5py); `atomic_write` gives a file object.
    The temporary name is `.tmp-<random>-<name>` (models.checkpoints cleans up such leftovers)."""
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
