"""The original's `datasets.common` names, kept importable: they live in `base`, `arrays`, `files` and
`sequence` now. `DataSequence` (a Keras `PyDataset`) is imported on first use, so importing this
module does not import Keras."""

from .arrays import ArrayDatasetGenerator, TinyDatasetGenerator, channel_stats_uint8, select_classes  # noqa: F401
from .base import (  # noqa: F401
    DatasetGenerator, check_classes_present, flow, normalize_class_list, read_class_list, restrict_classes)
from .files import FileDatasetGenerator  # noqa: F401


def __getattr__(name):
    if name == "DataSequence":
        from .sequence import DataSequence

        return DataSequence
    raise AttributeError("module {!r} has no attribute {!r}".format(__name__, name))
