"""Shared command-line pieces of the scripts: argument groups, help layout, errors, class-id mapping.

- `add_dataset_arguments` / `dataset_kwargs`: --dataset, --data_root, the class subset flag of a
  script (--classes_from or --class_list), --image_size, --test_split, --split_seed and (training)
  --class_balance; the last four go to `datasets.get_data_generator` as plain keyword arguments.
- `add_hierarchy_arguments` / `load_hierarchy`: --hierarchy, --is_a, --str_ids.
- `add_embedding_argument`: a class-embedding file flag (--embedding, --centroids, ...).
- `add_output_arguments` / `check_output_paths`: the output-file flags, checked before any work.
- `class_ids`: the one mapping from class labels (values of `labels_test`, a model's output
  columns) to the class ids of the hierarchy.
- `UsageError`, `cli_errors`, `exit_with_error`: expected bad input ends in one line and exit 1;
  anything else keeps its traceback.
- `HelpFormatter`: wrapped paragraphs, "(default: ...)" only where it says something.

This module imports nothing heavy (no numpy at import time, no Keras): `--help` stays instant.
"""

import argparse
import contextlib
import os
import shutil
import sys
import textwrap

# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


class UsageError(ValueError):
    """Expected bad input (a flag value, a file's content): reported in one line, exit status 1.

    A ValueError, so that library callers catching ValueError see it too.
    """


# What `cli_errors` reports in one line. Library code signals bad input with ValueError (the project's
# convention) or UsageError; a missing or unreadable file raises OSError. Everything else (KeyError,
# TypeError, IndexError, ...) is a bug and keeps its traceback.
EXPECTED_ERRORS = (UsageError, ValueError, OSError)


def exit_with_error(message, code=1):
    """Print one line to stderr and exit: what the scripts do with bad input (no traceback)."""
    print("error: {}".format(message), file=sys.stderr)
    sys.exit(code)


def error_line(exc):
    """The first line of an exception's message (its type name where the message is empty)."""
    text = str(exc)
    return text.splitlines()[0] if text.strip() else type(exc).__name__


@contextlib.contextmanager
def cli_errors():
    """Turn expected bad input (`EXPECTED_ERRORS`) into a one-line error and exit 1."""
    try:
        yield
    except EXPECTED_ERRORS as e:
        exit_with_error(error_line(e))


def check_output_dir(path, flag):
    """ValueError naming `flag` unless the directory that `path` would be written to exists."""
    if path:
        directory = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(directory):
            raise UsageError("{} {}: the output directory does not exist ({})".format(flag, path, directory))


# ---------------------------------------------------------------------------
# Argument types
# ---------------------------------------------------------------------------


def str2bool(value):
    """argparse type for the original's boolean flags (`--norm yes`, `--prob_features 0`, ...)."""
    if value.lower() in ("yes", "true", "t", "y", "1"):
        return True
    if value.lower() in ("no", "false", "f", "n", "0"):
        return False
    raise argparse.ArgumentTypeError("Boolean value expected, got {!r}.".format(value))


def positive_int(value):
    """argparse type: an integer >= 1."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a positive integer, got {!r}".format(value)) from None
    if number < 1:
        raise argparse.ArgumentTypeError("expected a positive integer, got {}".format(number))
    return number


def fraction(value):
    """argparse type: a float strictly between 0 and 1."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a fraction between 0 and 1, got {!r}".format(value)) from None
    if not 0.0 < number < 1.0:
        raise argparse.ArgumentTypeError("expected a fraction between 0 and 1 (exclusive), got {}".format(value))
    return number


# ---------------------------------------------------------------------------
# Help layout
# ---------------------------------------------------------------------------

# Longest line of --help, also on wide terminals (long lines are hard to read).
MAX_HELP_WIDTH = 100


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Help that reads well.

    - Descriptions and epilogs are wrapped paragraph by paragraph; indented blocks (examples)
      and blank lines are kept as written.
    - "(default: X)" is added only to optional flags with a real default (not None, False or an
      empty list) whose help does not already talk about its default.
    """

    def __init__(self, prog, indent_increment=2, max_help_position=32, width=None):
        if width is None:
            width = min(shutil.get_terminal_size((MAX_HELP_WIDTH + 2, 24)).columns - 2, MAX_HELP_WIDTH)
        super().__init__(prog, indent_increment, max_help_position, width)

    def _fill_text(self, text, width, indent):
        paragraphs, current = [], []
        for line in textwrap.dedent(text).strip("\n").splitlines():
            if not line.strip() or line[:1].isspace():  # a paragraph break or a verbatim (indented) line
                if current:
                    paragraphs.append(textwrap.fill(" ".join(current), width, initial_indent=indent,
                                                    subsequent_indent=indent))
                    current = []
                paragraphs.append(indent + line.rstrip() if line.strip() else "")
            else:
                current.append(line.strip())
        if current:
            paragraphs.append(textwrap.fill(" ".join(current), width, initial_indent=indent, subsequent_indent=indent))
        return "\n".join(paragraphs)

    def _get_help_string(self, action):
        text = action.help or ""
        if "%(default)" in text or "default" in text.lower() or action.required:
            return text
        if action.default in (None, False, argparse.SUPPRESS) or action.default == []:
            return text
        if action.option_strings and action.nargs != 0:
            return text + " (default: %(default)s)"
        return text


def make_parser(description, **kwargs):
    """An `ArgumentParser` with `HelpFormatter` (the scripts' common set-up)."""
    kwargs.setdefault("formatter_class", HelpFormatter)
    return argparse.ArgumentParser(description=description, **kwargs)


# ---------------------------------------------------------------------------
# Argument groups shared by several scripts
# ---------------------------------------------------------------------------

# The dataset flags passed to `datasets.get_data_generator` as keyword arguments of the same name
# (only those given: the dataset's own defaults apply otherwise).
DATASET_KWARGS = ("image_size", "class_balance", "test_split", "split_seed")

CLASS_BALANCE_CHOICES = ("oversample",)

# Flags that restrict a dataset to a subset of classes, in the scripts of the original release.
CLASS_SUBSET_FLAGS = {
    "classes_from": dict(
        metavar="EMBEDDING",
        help='A class-embedding file (pickle or .npz, as written by compute_class_embedding.py) whose "ind2label" '
             "gives the classes to consider, in the order of the model's outputs."),
    "class_list": dict(
        metavar="FILE",
        help="A file with the ids of the classes to use (first word of every line), in this order."),
}


def add_dataset_arguments(parser, *, classes=None, data_root_required=False, image_options=True,
                          class_balance=False, dataset_names=None, title="Dataset"):
    """Add the dataset flags to `parser` as one group and return the group.

    classes - None, "classes_from" or "class_list": the script's flag restricting the classes.
    image_options - add --image_size, --test_split and --split_seed.
    class_balance - add --class_balance (training scripts).
    dataset_names - names to list in the help of --dataset (default: "see README.md").
    """
    group = parser.add_argument_group(title)
    names = ", ".join(dataset_names) if dataset_names else "see README.md"
    group.add_argument("--dataset", type=str, required=True, metavar="NAME",
                       help="Dataset name, case-insensitive ({}); \"folder\" for a folder of class "
                            "sub-directories.".format(names))
    group.add_argument("--data_root", type=str, required=data_root_required, default=None, metavar="DIR",
                       help="Root directory of the dataset" + ("." if data_root_required else
                                                               " (not needed for digits and Fashion-MNIST)."))
    if classes is not None:
        if classes not in CLASS_SUBSET_FLAGS:
            raise ValueError("classes must be one of {}, got {!r}".format(", ".join(CLASS_SUBSET_FLAGS), classes))
        group.add_argument("--" + classes, type=str, default=None, **CLASS_SUBSET_FLAGS[classes])
    if image_options:
        group.add_argument("--image_size", type=positive_int, default=None, metavar="PIXELS",
                           help="Side of the (square) network input for file datasets: images are resized and "
                                "cropped to it (default: the dataset's own size).")
        group.add_argument("--test_split", type=fraction, default=None, metavar="FRACTION",
                           help="For a folder without train/test sub-directories: the fraction of each class's "
                                "images held out for testing (stratified; written as list files beside the data "
                                "and reused).")
        group.add_argument("--split_seed", type=int, default=None, metavar="SEED",
                           help="Seed of the --test_split draw (default: 0).")
    if class_balance:
        group.add_argument("--class_balance", type=str, default=None, choices=CLASS_BALANCE_CHOICES,
                           help="Balance the classes of the training set: oversample draws the images of "
                                "smaller classes more often (default: no balancing).")
    return group


def dataset_kwargs(args):
    """The keyword arguments for `datasets.get_data_generator` given on the command line."""
    return {name: getattr(args, name) for name in DATASET_KWARGS if getattr(args, name, None) is not None}


def add_hierarchy_arguments(parser, *, required=True, help=None, title=None):
    """--hierarchy FILE, --is_a and --str_ids, into a new group `title` or into `parser` itself."""
    group = parser.add_argument_group(title) if title else parser
    group.add_argument("--hierarchy", type=str, required=required, default=None, metavar="FILE",
                       help=help or "A file of parent-child relationships of the class taxonomy (one pair per line).")
    group.add_argument("--is_a", action="store_true", default=False,
                       help="--hierarchy holds is-a (child parent) instead of parent-child pairs.")
    group.add_argument("--str_ids", action="store_true", default=False,
                       help="Class ids are strings (e.g. WordNet ids) instead of integers.")
    return group


def load_hierarchy(path, is_a=False, str_ids=False):
    """The `ClassHierarchy` in `path` (ids as strings with `str_ids`, integers otherwise)."""
    from class_hierarchy import ClassHierarchy

    return ClassHierarchy.from_file(path, is_a_relations=is_a, id_type=str if str_ids else int)


def hierarchy_from_args(args):
    """The hierarchy named by --hierarchy/--is_a/--str_ids, or None where --hierarchy was not given."""
    if not getattr(args, "hierarchy", None):
        return None
    return load_hierarchy(args.hierarchy, args.is_a, args.str_ids)


def add_embedding_argument(group, flag="--embedding", *, required=True, onehot=False, help=None):
    """A class-embedding file flag (pickle dump or .npz of compute_class_embedding.py)."""
    text = help or "Class-embedding file (pickle dump or .npz) written by compute_class_embedding.py"
    if onehot:
        text += ', or "onehot" for one-hot vectors'
    group.add_argument(flag, type=str, required=required, default=None,
                       metavar="EMBEDDING" if not onehot else "EMBEDDING|onehot", help=text + ".")


# name -> (metavar, help) of the output flags shared by several scripts.
OUTPUT_FLAGS = {
    "model_dump": ("FILE", "Write the trained model (definition and weights) to this file (.keras, or .h5 for the "
                           "legacy format)."),
    "weight_dump": ("FILE", "Write the trained weights (without the model definition) to this file (.weights.h5, "
                            "or .h5 for the legacy layout)."),
    "feature_dump": ("FILE", "Write the features of the test images to this file (pickle {'feat': {index: vector}}, "
                             "or .npz)."),
    "log_dir": ("DIR", "TensorBoard log directory."),
    "csv": ("FILE", "Write hierarchical precision at every k to this CSV file (k;label1;label2...)."),
    "json": ("FILE", "Write all metrics to this JSON file ({label: {metric: value}})."),
    "plot": ("FILE", "Draw the HP@k curves and the mean AHP per feature set into this image file (e.g. .png)."),
}


def add_output_arguments(parser, *names, title="Output", helps=None):
    """One group `title` with the output flags `names` (keys of OUTPUT_FLAGS); `helps` overrides texts."""
    group = parser.add_argument_group(title)
    for name in names:
        metavar, text = OUTPUT_FLAGS[name]
        group.add_argument("--" + name, type=str, default=None, metavar=metavar, help=(helps or {}).get(name, text))
    return group


def check_output_paths(args, *names):
    """UsageError naming the flag where an output file's directory does not exist (before any work)."""
    for name in names:
        path = getattr(args, name, None)
        if path and name != "log_dir":
            check_output_dir(path, "--" + name)


def nth(values, i, default=None):
    """The i-th value of a repeated flag (action="append"), or `default` where fewer were given."""
    return values[i] if values is not None and i < len(values) else default


def check_repeated(flag, values, target_flag, count):
    """UsageError when a repeated flag is given more often than the flag it belongs to."""
    if values is not None and len(values) > count:
        raise UsageError("{} given {} times for {} {}: one per {} at most".format(
            flag, len(values), count, target_flag, target_flag))


# ---------------------------------------------------------------------------
# Class labels -> class ids of the hierarchy
# ---------------------------------------------------------------------------


def class_ids(dataset, labels=None, hierarchy=None, source=None):
    """Hierarchy ids of class labels: the one mapping every script uses.

    A label is a value of a dataset's `labels_train`/`labels_test` and the index of a model's output
    column. Its class id (the node in the hierarchy) is given by the dataset, as in the original
    release (which used `data_generator.classes`); a dataset built with `classes=` (e.g. the
    `ind2label` of --classes_from) numbers those classes in that order.

    dataset - an object with `class_indices` ({class id: label}) or `classes` (class id of label i);
              or such a dict or list itself.
    labels - the labels to map; None: the id of every label 0..max label (a list, position = label).
    hierarchy - optional `ClassHierarchy`: UsageError naming the first id that is not one of its nodes.
    source - what to name in that error (e.g. the hierarchy file).

    Returns a list of class ids.
    """
    mapping = getattr(dataset, "class_indices", None)
    if mapping is None and not isinstance(dataset, (dict, list, tuple)):
        mapping = getattr(dataset, "classes", None)
        if mapping is None:
            raise TypeError("expected a dataset with class_indices or classes, got {!r}".format(type(dataset)))
    elif mapping is None:
        mapping = dataset
    if isinstance(mapping, dict):
        by_label = {int(label): cid for cid, label in mapping.items()}
    else:
        by_label = {i: cid for i, cid in enumerate(mapping) if cid is not None}  # None: a label no class has
    if labels is None:
        # Labels kept from a larger set (CIFAR-100-b: 50..99) leave gaps: those keep their own value.
        size = max(by_label, default=-1) + 1
        ids = [by_label.get(i, i) for i in range(size)]
    else:
        ids = []
        for label in labels:
            try:
                ids.append(by_label[int(label)])
            except KeyError:
                raise UsageError("class label {} is not one of the dataset's {} classes".format(
                    label, len(by_label))) from None
    if hierarchy is not None:
        nodes = hierarchy.nodes
        for cid in dict.fromkeys(by_label.values() if labels is None else ids):
            if cid not in nodes:
                raise UsageError("class {!r} is not in the hierarchy{}".format(
                    cid, " " + source if source else ""))
    return ids


def check_class_order(stored, expected, source, target="the dataset"):
    """UsageError when a file's class order (`stored`: class id of each label / output column, as saved with
    a model or its features) differs from `expected` (the dataset's), naming the first difference.

    Nothing is checked where `stored` is None (files of the original release carry no class order). Ids are
    compared as strings where one side is numeric text (class lists read from text files).
    """
    if stored is None:
        return
    stored, expected = list(stored), list(expected)

    def same(a, b):
        return a == b or str(a) == str(b)

    if len(stored) != len(expected):
        raise UsageError("{}: made for {} classes, but {} has {}".format(source, len(stored), target, len(expected)))
    for i, (a, b) in enumerate(zip(stored, expected)):
        if not same(a, b):
            where = next((j for j, c in enumerate(expected) if same(c, a)), None)
            detail = ("class {!r} is label {} there".format(a, where) if where is not None
                      else "class {!r} is not in {}".format(a, target))
            raise UsageError("{}: its classes are in another order than those of {}: label {} is {!r} in the file, "
                             "{!r} in {} ({})".format(source, target, i, a, b, target, detail))
