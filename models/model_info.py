"""What travels with a model file besides Keras' own content: the class order and the epoch.

A `.keras` file is a zip archive; the project adds the entry `semantic_embeddings.json` (Keras
ignores it). A legacy `.h5` file gets the same JSON as the root attribute `semantic_embeddings`.
Keys: `class_ids` (the class id of every output column / label, in order), `epoch` (epochs trained
when the file was written), `loss` (the training method). Files of other tools simply lack it.

This module imports no Keras: evaluation scripts read a model's class order without TensorFlow.
"""

import json
import os
import zipfile

INFO_ENTRY = "semantic_embeddings.json"
H5_ATTRIBUTE = "semantic_embeddings"


def _is_h5(path):
    return path.lower().endswith((".h5", ".hdf5"))


def write_model_info(path, info):
    """Add `info` (a JSON-serializable dict) to the model file `path` written by Keras."""
    text = json.dumps(info)
    if _is_h5(path):
        import h5py

        with h5py.File(path, "a") as f:
            f.attrs[H5_ATTRIBUTE] = text
        return
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(INFO_ENTRY, text)


def read_model_info(path):
    """The project's info stored in the model file `path` ({} for files without it).

    ValueError naming the file when it is missing or not a model file.
    """
    if not os.path.isfile(path):
        raise ValueError("{}: no such model file".format(path))
    try:
        if _is_h5(path):
            import h5py

            with h5py.File(path, "r") as f:
                text = f.attrs.get(H5_ATTRIBUTE)
            if isinstance(text, bytes):
                text = text.decode("utf-8")
        else:
            with zipfile.ZipFile(path) as archive:
                text = archive.read(INFO_ENTRY).decode("utf-8") if INFO_ENTRY in archive.namelist() else None
        info = json.loads(text) if text else {}
    except (OSError, zipfile.BadZipFile, ValueError, KeyError) as e:
        raise ValueError("{}: cannot read the model file ({})".format(path, e)) from None
    if not isinstance(info, dict):
        raise ValueError("{}: damaged {} entry".format(path, INFO_ENTRY))
    return info


def read_class_ids(path):
    """The class id of every output column (label) of the model in `path`, in order; None when the
    file does not say (files of the previous version, or not written by this project)."""
    class_ids = read_model_info(path).get("class_ids")
    return None if class_ids is None else list(class_ids)
