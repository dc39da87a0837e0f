"""The shared command-line module: errors, help layout, argument groups, class-id mapping."""

import argparse
import os
import re
import subprocess
import sys

import pytest

import cli
import utils

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


def _run_code(code):
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)


@pytest.mark.parametrize("raise_", ["cli.UsageError('--x 5: too big')", "ValueError('--x 5: too big')",
                                    "FileNotFoundError('--x 5: too big')"])
def test_expected_errors_give_one_line_and_exit_1(raise_):
    result = _run_code("import cli\nwith cli.cli_errors():\n    raise {}\n".format(raise_))
    assert result.returncode == 1
    assert result.stderr == "error: --x 5: too big\n"


def test_multi_line_message_gives_its_first_line():
    result = _run_code("import cli\nwith cli.cli_errors():\n    raise ValueError('first\\nsecond')\n")
    assert result.returncode == 1 and result.stderr == "error: first\n"


@pytest.mark.parametrize("exc", ["KeyError('P@10 (WUP)')", "TypeError('bug')", "IndexError('bug')"])
def test_internal_errors_keep_their_traceback(exc):
    result = _run_code("import cli\nwith cli.cli_errors():\n    raise {}\n".format(exc))
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert not result.stderr.startswith("error:")


def test_usage_error_is_a_value_error_and_utils_is_file_io_only():
    assert issubclass(cli.UsageError, ValueError)
    for name in ("UsageError", "cli_errors", "exit_with_error", "str2bool", "check_output_dir"):
        assert not hasattr(utils, name)  # utils (file I/O) does not depend on cli


def test_check_output_dir(tmp_path):
    cli.check_output_dir(str(tmp_path / "a.json"), "--json")
    cli.check_output_dir(None, "--json")
    with pytest.raises(cli.UsageError, match=r"--json .*missing.*does not exist"):
        cli.check_output_dir(str(tmp_path / "missing" / "a.json"), "--json")


def test_str2bool():
    assert [cli.str2bool(v) for v in ("yes", "True", "1", "n", "0", "false")] == [True, True, True, False, False, False]
    with pytest.raises(argparse.ArgumentTypeError):
        cli.str2bool("maybe")


@pytest.mark.parametrize("func,good,bad", [(cli.positive_int, [("3", 3)], ["0", "-1", "x"]),
                                           (cli.fraction, [("0.2", 0.2)], ["0", "1", "1.5", "x"])])
def test_argument_types(func, good, bad):
    for text, value in good:
        assert func(text) == value
    for text in bad:
        with pytest.raises(argparse.ArgumentTypeError):
            func(text)


# ---------------------------------------------------------------------------
# Help layout
# ---------------------------------------------------------------------------


def _help(parser):
    return parser.format_help()


def _parser():
    parser = cli.make_parser("A long description that goes on and on about what this script does. " * 4
                             + "\n\nExample:\n    python x.py --dataset CIFAR-100 --data_root /data/cifar-100-python "
                             "--a_very_long_flag value\n")
    cli.add_dataset_arguments(parser, classes="classes_from", class_balance=True)
    cli.add_hierarchy_arguments(parser, required=False, title="Hierarchy")
    group = parser.add_argument_group("Other")
    group.add_argument("--epochs", type=int, default=None,
                       help="Number of epochs (default: as suggested by the learning rate schedule).")
    group.add_argument("--plot_max", type=int, default=250, help="Last k.")
    group.add_argument("--flag", action="store_true", default=False, help="A switch.")
    group.add_argument("--many", action="append", help="Repeatable.")
    cli.add_output_arguments(parser, "csv", "json")
    return parser


def test_help_wraps_and_states_defaults_once(monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")  # a wide terminal: lines still end at MAX_HELP_WIDTH
    text = _help(_parser())
    lines = text.splitlines()
    example = "    python x.py --dataset CIFAR-100 --data_root /data/cifar-100-python --a_very_long_flag value"
    assert example in lines  # indented blocks are kept verbatim
    assert max(len(line) for line in lines if line != example) <= cli.MAX_HELP_WIDTH
    assert "(default: None)" not in text
    assert "(default: False)" not in text
    flat = " ".join(text.split())
    assert "(default: as suggested by the learning rate schedule)." in flat
    # No flag states its default twice.
    for entry in text.split("\n  --")[1:]:
        assert entry.count("default") <= 1, entry
    assert "Last k. (default: 250)" in flat


def test_help_metavars_say_what_a_value_is():
    text = " ".join(_help(_parser()).split())
    for shown in ("--dataset NAME", "--data_root DIR", "--classes_from EMBEDDING", "--image_size PIXELS",
                  "--test_split FRACTION", "--split_seed SEED", "--hierarchy FILE", "--csv FILE", "--json FILE",
                  "--class_balance {oversample}"):
        assert shown in text, shown


def test_required_flag_has_no_default_in_help():
    parser = cli.make_parser("x")
    parser.add_argument("--out", type=str, required=True, default="x.pickle", help="Output.")
    assert "default" not in _help(parser)


# ---------------------------------------------------------------------------
# Argument groups
# ---------------------------------------------------------------------------


def test_dataset_kwargs_only_those_given():
    parser = _parser()
    args = parser.parse_args(["--dataset", "folder", "--data_root", "d"])
    assert cli.dataset_kwargs(args) == {}
    args = parser.parse_args(["--dataset", "folder", "--image_size", "64", "--class_balance", "oversample",
                              "--test_split", "0.2", "--split_seed", "3"])
    assert cli.dataset_kwargs(args) == {"image_size": 64, "class_balance": "oversample", "test_split": 0.2,
                                        "split_seed": 3}


@pytest.mark.parametrize("argv", [["--image_size", "0"], ["--test_split", "1.0"], ["--class_balance", "under"]])
def test_dataset_flags_reject_bad_values(argv, capsys):
    with pytest.raises(SystemExit) as info:
        _parser().parse_args(["--dataset", "x"] + argv)
    assert info.value.code == 2
    assert argv[0] in capsys.readouterr().err


def test_class_list_flag_and_no_image_options():
    parser = argparse.ArgumentParser()
    cli.add_dataset_arguments(parser, classes="class_list", image_options=False, data_root_required=True)
    args = parser.parse_args(["--dataset", "x", "--data_root", "r", "--class_list", "c.txt"])
    assert args.class_list == "c.txt" and not hasattr(args, "image_size") and cli.dataset_kwargs(args) == {}
    with pytest.raises(ValueError):
        cli.add_dataset_arguments(argparse.ArgumentParser(), classes="nosuch")


def test_check_output_paths(tmp_path):
    parser = _parser()
    args = parser.parse_args(["--dataset", "x", "--csv", str(tmp_path / "a.csv"),
                              "--json", str(tmp_path / "no" / "b.json")])
    with pytest.raises(cli.UsageError, match="--json"):
        cli.check_output_paths(args, "csv", "json")
    cli.check_output_paths(args, "csv")


def test_load_hierarchy(tmp_path):
    path = tmp_path / "h.txt"
    path.write_text("10 1\n10 2\n")
    args = _parser().parse_args(["--dataset", "x", "--hierarchy", str(path)])
    hierarchy = cli.hierarchy_from_args(args)
    assert hierarchy.nodes == {10, 1, 2}
    assert cli.load_hierarchy(str(path), str_ids=True).nodes == {"10", "1", "2"}
    assert cli.hierarchy_from_args(_parser().parse_args(["--dataset", "x"])) is None


def test_check_repeated():
    cli.check_repeated("--label", ["a"], "--feat", 1)
    cli.check_repeated("--label", None, "--feat", 1)
    with pytest.raises(cli.UsageError, match="--norm given 2 times for 1 --feat"):
        cli.check_repeated("--norm", [True, False], "--feat", 1)


# ---------------------------------------------------------------------------
# Class labels -> hierarchy ids
# ---------------------------------------------------------------------------


class _Dataset:
    def __init__(self, classes, class_indices):
        self.classes, self.class_indices = classes, class_indices


class _Hierarchy:
    nodes = {"n1", "n2", "n3", "root"}


def test_class_ids_follow_the_dataset_numbering():
    # Classes numbered in a requested order (e.g. the ind2label of --classes_from).
    data = _Dataset(["n3", "n1"], {"n3": 0, "n1": 1})
    assert cli.class_ids(data) == ["n3", "n1"]
    assert cli.class_ids(data, [1, 1, 0]) == ["n1", "n1", "n3"]
    # Without class_indices: `classes` gives the id of label i; a dict or list works directly.
    assert cli.class_ids(["a", "b"], [1]) == ["b"]
    assert cli.class_ids({"a": 1, "b": 0}) == ["b", "a"]


def test_class_ids_of_kept_labels():
    # CIFAR-100-b keeps its labels 50..99: class id = label, gaps map to themselves.
    data = _Dataset([50, 51], {50: 50, 51: 51})
    assert cli.class_ids(data, [51, 50]) == [51, 50]
    assert cli.class_ids(data)[50:] == [50, 51]


def test_class_ids_bad_input():
    data = _Dataset(["n1", "x"], {"n1": 0, "x": 1})
    with pytest.raises(cli.UsageError, match="class label 2 is not one of the dataset's 2 classes"):
        cli.class_ids(data, [2])
    with pytest.raises(cli.UsageError, match=r"class 'x' is not in the hierarchy h\.txt"):
        cli.class_ids(data, [0, 1], hierarchy=_Hierarchy(), source="h.txt")
    with pytest.raises(cli.UsageError, match="'x'"):
        cli.class_ids(data, hierarchy=_Hierarchy())
    assert cli.class_ids(data, [0], hierarchy=_Hierarchy()) == ["n1"]


def test_cli_imports_nothing_heavy():
    result = _run_code("import sys, cli\nprint(sorted(m for m in ('numpy', 'keras', 'tensorflow', 'jax') "
                       "if m in sys.modules))")
    assert result.stdout.strip() == "[]", result.stdout + result.stderr


# ---------------------------------------------------------------------------
# The help of the scripts built on this module
# ---------------------------------------------------------------------------

_HELP_PROBE = (
    "import contextlib, io, runpy, sys\n"
    "sys.argv = [sys.argv[1], *sys.argv[2:], '--help']\n"
    "out = io.StringIO()\n"
    "with contextlib.redirect_stdout(out):\n"
    "    try:\n"
    "        runpy.run_path(sys.argv[0], run_name='__main__')\n"
    "    except SystemExit:\n"
    "        pass\n"
    "print(out.getvalue())\n"
    "print('FRAMEWORKS', sorted(m for m in ('keras', 'tensorflow', 'jax', 'torch') if m in sys.modules))\n"
)


@pytest.mark.parametrize("argv", [["evaluate_retrieval.py"], ["evaluate_classification_accuracy.py"],
                                  ["demo_report.py", "report"], ["demo_report.py", "subset"]])
def test_script_help_reads_well_and_starts_no_framework(argv):
    result = subprocess.run([sys.executable, "-c", _HELP_PROBE, os.path.join(ROOT, argv[0])] + argv[1:], cwd=ROOT,
                            capture_output=True, text=True, env=dict(os.environ, COLUMNS="200"))
    assert result.returncode == 0, result.stderr
    text, _, frameworks = result.stdout.rpartition("FRAMEWORKS ")
    assert frameworks.strip() == "[]", frameworks
    assert text.startswith("usage:")
    assert "(default: None)" not in text and "(default: False)" not in text
    assert max(len(line) for line in text.splitlines()) <= cli.MAX_HELP_WIDTH
    for entry in text.split("\n  --")[1:]:
        assert entry.count("default") <= 1, entry
        head = re.split(r"\s{2,}", entry.splitlines()[0])[0].split()  # "csv FILE"
        if len(head) > 1:  # the metavar says what a value is, not just the flag's name in capitals
            assert head[1] != head[0].upper(), entry


def test_check_class_order():
    cli.check_class_order(None, ["a", "b"], "m.keras")
    cli.check_class_order(["a", "b"], ["a", "b"], "m.keras")
    cli.check_class_order(["1", "2"], [1, 2], "m.keras")  # numeric ids read from a text file
    with pytest.raises(cli.UsageError, match=r"^m\.keras: its classes are in another order than those of --dataset "
                                              r"folder: label 0 is 'b' in the file, 'a' in --dataset folder \(class "
                                              r"'b' is label 1 there\)$"):
        cli.check_class_order(["b", "a"], ["a", "b"], "m.keras", "--dataset folder")
    with pytest.raises(cli.UsageError, match="class 'x' is not in the dataset"):
        cli.check_class_order(["a", "x"], ["a", "b"], "f.npz")
    with pytest.raises(cli.UsageError, match="f.npz: made for 3 classes, but the dataset has 2"):
        cli.check_class_order(["a", "b", "c"], ["a", "b"], "f.npz")
