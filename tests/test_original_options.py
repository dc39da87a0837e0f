"""The original release's command-line options, checked against every parser of its eight scripts.

Issue 11: a researcher who runs the original README's commands must get what the original gave. The
table below was written from the source of cvjena/semantic-embeddings at its last commit 0d41774
(2021-04-26), read with git (`add_argument` calls of each script, and `utils.add_lr_schedule_arguments`
for the scripts that call it), and checked against ../shared/reference/original-release/options.json
(which lists the same options, without the learning-rate schedule group). For every option it holds
what argparse makes of it: the action (store, store_true, append), the default (argparse's None where
the original gave none), nargs and const where given, and the choices (ours may offer more).

Every parser must have each option with the same default, nargs, const and action and a superset of
its choices. A deliberate difference is listed in DELIBERATE_DIFFERENCES with its reason. A script
that does not exist (yet) is skipped, saying so; a script must expose `build_parser()`.
"""

import argparse
import importlib.util
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# utils.ARCHITECTURES and utils.LR_SCHEDULES of the original.
ORIGINAL_ARCHITECTURES = [
    "simple", "resnet-32", "resnet-110", "resnet-110-fc", "resnet-110-wfc", "wrn-28-10", "densenet-100-12",
    "densenet-100-24", "densenet-bc-190-40", "pyramidnet-272-200", "pyramidnet-110-270", "resnet-50", "resnet-101",
    "resnet-152", "rn18", "rn34", "rn50", "rn101", "rn152", "rn200", "nasnet-a"]
ORIGINAL_LR_SCHEDULES = ["SGD", "SGDR", "CLR", "ResNet-Schedule"]

# script -> option -> what the original's add_argument gave (missing "default": argparse's None).
ORIGINAL_OPTIONS = {
    "compute_class_embedding.py": {
        "--class_list": {"default": None},
        "--hierarchy": {},
        "--is_a": {"action": "store_true", "default": False},
        "--method": {"default": "unitsphere", "choices": ["unitsphere", "approx_sim", "spheres", "mds"]},
        "--norm": {"action": "store_true", "default": False},
        "--num_dim": {"default": None},
        "--out": {},
        "--str_ids": {"action": "store_true", "default": False},
    },
    "evaluate_classification_accuracy.py": {
        "--C": {"default": 0.1},
        "--architecture": {"default": "simple", "choices": ORIGINAL_ARCHITECTURES},
        "--augmentation_epochs": {"default": 1},
        "--batch_size": {"default": 1},
        "--centroids": {"action": "append"},
        "--classes_from": {"default": None},
        "--data_root": {},
        "--dataset": {},
        "--hierarchy": {"default": None},
        "--is_a": {"action": "store_true", "default": False},
        "--label": {"action": "append"},
        "--layer": {"action": "append"},
        "--model": {"action": "append"},
        "--norm": {"action": "append"},
        "--prob_features": {"action": "append"},
        "--str_ids": {"action": "store_true", "default": False},
    },
    "evaluate_retrieval.py": {
        "--classes_from": {"default": None},
        "--clip_ahp": {"default": None},
        "--csv": {"default": None},
        "--data_root": {},
        "--dataset": {},
        "--feat": {"action": "append"},
        "--hierarchy": {},
        "--is_a": {"action": "store_true", "default": False},
        "--label": {"action": "append"},
        "--norm": {"action": "append"},
        "--plot_max": {"default": 250},
        "--prec_type": {"default": "LCS_HEIGHT", "choices": ["WUP", "LCS_HEIGHT"]},
        "--str_ids": {"action": "store_true", "default": False},
    },
    "learn_center_loss.py": {
        "--architecture": {"default": "simple", "choices": ORIGINAL_ARCHITECTURES},
        "--batch_size": {"default": 100},
        "--center_loss_weight": {"default": 0.1},
        "--centroids": {"default": None},
        "--class_list": {"default": None},
        "--clipgrad": {"default": 10.0},
        "--clr_max_lr": {"default": None},
        "--clr_min_lr": {"default": None},
        "--clr_step_len": {"default": None},
        "--data_root": {},
        "--dataset": {},
        "--embed_dim": {"default": 100},
        "--epochs": {"default": None},
        "--feature_dump": {"default": None},
        "--finetune": {"default": None},
        "--finetune_init": {"default": 3},
        "--gpu_merge": {"action": "store_true", "default": False},
        "--gpus": {"default": 1},
        "--log_dir": {"default": None},
        "--lr_schedule": {"default": "SGDR", "choices": ORIGINAL_LR_SCHEDULES},
        "--max_decay": {"default": 0.0},
        "--model_dump": {"default": None},
        "--nesterov": {"action": "store_true", "default": False},
        "--no_progress": {"action": "store_true", "default": False},
        "--queue_size": {"default": 100},
        "--read_workers": {"default": 8},
        "--sgd_lr": {"default": 0.1},
        "--sgd_min_lr": {"default": None},
        "--sgd_patience": {"default": None},
        "--sgd_schedule": {"default": None},
        "--sgdr_base_len": {"default": None},
        "--sgdr_max_lr": {"default": None},
        "--sgdr_mul": {"default": None},
        "--val_batch_size": {"default": None},
        "--weight_dump": {"default": None},
    },
    "learn_classifier.py": {
        "--architecture": {"default": "simple", "choices": ORIGINAL_ARCHITECTURES},
        "--batch_size": {"default": 100},
        "--class_list": {"default": None},
        "--clipgrad": {"default": 10.0},
        "--clr_max_lr": {"default": None},
        "--clr_min_lr": {"default": None},
        "--clr_step_len": {"default": None},
        "--data_root": {},
        "--dataset": {},
        "--epochs": {"default": None},
        "--feature_dump": {"default": None},
        "--finetune": {"default": None},
        "--finetune_init": {"default": 3},
        "--gpu_merge": {"action": "store_true", "default": False},
        "--gpus": {"default": 1},
        "--initial_epoch": {"default": 0},
        "--label_smoothing": {"default": 0.0},
        "--log_dir": {"default": None},
        "--lr_schedule": {"default": "SGDR", "choices": ORIGINAL_LR_SCHEDULES},
        "--max_decay": {"default": 0.0},
        "--model_dump": {"default": None},
        "--nesterov": {"action": "store_true", "default": False},
        "--no_progress": {"action": "store_true", "default": False},
        "--queue_size": {"default": 100},
        "--read_workers": {"default": 8},
        "--sgd_lr": {"default": 0.1},
        "--sgd_min_lr": {"default": None},
        "--sgd_patience": {"default": None},
        "--sgd_schedule": {"default": None},
        "--sgdr_base_len": {"default": None},
        "--sgdr_max_lr": {"default": None},
        "--sgdr_mul": {"default": None},
        "--snapshot": {"default": None},
        "--snapshot_best": {"default": None, "nargs": "?", "const": "val_loss"},
        "--top_k_acc": {"default": [], "nargs": "+"},
        "--val_batch_size": {"default": None},
        "--weight_dump": {"default": None},
    },
    "learn_devise.py": {
        "--architecture": {"default": "simple", "choices": ORIGINAL_ARCHITECTURES},
        "--batch_size": {"default": 100},
        "--data_root": {},
        "--dataset": {},
        "--embedding": {},
        "--feature_dump": {"default": None},
        "--ft_epochs": {"default": 75},
        "--ft_lr": {"default": 0.001},
        "--init_epochs": {"default": 25},
        "--init_lr": {"default": 0.01},
        "--init_weights": {"default": None},
        "--log_dir": {"default": None},
        "--margin": {"default": 0.1},
        "--max_decay": {"default": 0.0},
        "--model_dump": {"default": None},
        "--no_progress": {"action": "store_true", "default": False},
        "--queue_size": {"default": 100},
        "--read_workers": {"default": 8},
        "--val_batch_size": {"default": None},
        "--weight_dump": {"default": None},
    },
    "learn_image_embeddings.py": {
        "--architecture": {"default": "simple", "choices": ORIGINAL_ARCHITECTURES},
        "--batch_size": {"default": 100},
        "--clipgrad": {"default": 10.0},
        "--clr_max_lr": {"default": None},
        "--clr_min_lr": {"default": None},
        "--clr_step_len": {"default": None},
        "--cls_base": {"default": None},
        "--cls_weight": {"default": 0.0},
        "--data_root": {},
        "--dataset": {},
        "--embedding": {},
        "--epochs": {"default": None},
        "--feature_dump": {"default": None},
        "--finetune": {"default": None},
        "--finetune_init": {"default": 8},
        "--gpu_merge": {"action": "store_true", "default": False},
        "--gpus": {"default": 1},
        "--initial_epoch": {"default": 0},
        "--log_dir": {"default": None},
        "--loss": {"default": "inv_corr", "choices": ["mse", "inv_corr", "unnorm_corr", "softmax_corr"]},
        "--lr_schedule": {"default": "SGDR", "choices": ORIGINAL_LR_SCHEDULES},
        "--max_decay": {"default": 0.0},
        "--model_dump": {"default": None},
        "--nesterov": {"action": "store_true", "default": False},
        "--no_progress": {"action": "store_true", "default": False},
        "--queue_size": {"default": 100},
        "--read_workers": {"default": 8},
        "--sgd_lr": {"default": 0.1},
        "--sgd_min_lr": {"default": None},
        "--sgd_patience": {"default": None},
        "--sgd_schedule": {"default": None},
        "--sgdr_base_len": {"default": None},
        "--sgdr_max_lr": {"default": None},
        "--sgdr_mul": {"default": None},
        "--snapshot": {"default": None},
        "--snapshot_best": {"default": None, "nargs": "?", "const": "val_loss"},
        "--top_k_acc": {"default": [], "nargs": "+"},
        "--val_batch_size": {"default": None},
        "--weight_dump": {"default": None},
    },
    "learn_labelembedding.py": {
        "--alpha": {"default": 0.9},
        "--architecture": {"default": "simple", "choices": ORIGINAL_ARCHITECTURES},
        "--batch_size": {"default": 100},
        "--beta": {"default": 0.5},
        "--class_list": {"default": None},
        "--clipgrad": {"default": 10.0},
        "--clr_max_lr": {"default": None},
        "--clr_min_lr": {"default": None},
        "--clr_step_len": {"default": None},
        "--data_root": {},
        "--dataset": {},
        "--embed_dim": {"default": 100},
        "--epochs": {"default": None},
        "--feature_dump": {"default": None},
        "--finetune": {"default": None},
        "--finetune_init": {"default": 3},
        "--gpu_merge": {"action": "store_true", "default": False},
        "--gpus": {"default": 1},
        "--log_dir": {"default": None},
        "--lr_schedule": {"default": "SGDR", "choices": ORIGINAL_LR_SCHEDULES},
        "--max_decay": {"default": 0.0},
        "--model_dump": {"default": None},
        "--nesterov": {"action": "store_true", "default": False},
        "--no_progress": {"action": "store_true", "default": False},
        "--queue_size": {"default": 100},
        "--read_workers": {"default": 8},
        "--sgd_lr": {"default": 0.1},
        "--sgd_min_lr": {"default": None},
        "--sgd_patience": {"default": None},
        "--sgd_schedule": {"default": None},
        "--sgdr_base_len": {"default": None},
        "--sgdr_max_lr": {"default": None},
        "--sgdr_mul": {"default": None},
        "--tau": {"default": 2.0},
        "--val_batch_size": {"default": None},
        "--weight_dump": {"default": None},
    },
}

# (script, option, attribute) -> why ours differs on purpose.
DELIBERATE_DIFFERENCES = {
    ("evaluate_classification_accuracy.py", "--batch_size", "default"):
        "100 instead of 1: only the speed of feature extraction depends on it (the models run in inference "
        "mode), and the original's 1 had to divide the number of test images, which ours does not need.",
}

SCRIPTS = sorted(ORIGINAL_OPTIONS)

_ACTION_KINDS = {
    argparse._StoreAction: "store",
    argparse._StoreTrueAction: "store_true",
    argparse._StoreFalseAction: "store_false",
    argparse._AppendAction: "append",
    argparse._ExtendAction: "extend",
    argparse._StoreConstAction: "store_const",
}


def load_parser(script):
    """`build_parser()` of a script (imported by path), or a skip while the script does not exist."""
    path = os.path.join(REPO, script)
    if not os.path.isfile(path):
        pytest.skip("{} does not exist yet (an original script the project must provide)".format(script))
    spec = importlib.util.spec_from_file_location("_options_" + script[:-3], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert hasattr(module, "build_parser"), "{} must expose build_parser() for this test".format(script)
    return module.build_parser()


def action_kind(action):
    for cls in type(action).__mro__:
        if cls in _ACTION_KINDS:
            return _ACTION_KINDS[cls]
    return type(action).__name__


def mismatches(script, parser):
    """Every difference of `parser` from the original's options that is not a deliberate one."""
    actions = parser._option_string_actions
    found = []
    for option, original in sorted(ORIGINAL_OPTIONS[script].items()):
        if option not in actions:
            found.append("{}: missing".format(option))
            continue
        action = actions[option]
        expected_kind = original.get("action", "store")
        ours_kind = action_kind(action)
        # "extend" (--top_k_acc 1 --top_k_acc 5 accumulates) parses every command line "store" does the same way
        # for nargs="+" options given once.
        if ours_kind != expected_kind and not (expected_kind == "store" and ours_kind == "extend"
                                               and original.get("nargs") == "+"):
            found.append("{}: action {} instead of {}".format(option, ours_kind, expected_kind))
        checks = [("default", original.get("default"), action.default)]
        if expected_kind in ("store", "append"):
            checks.append(("nargs", original.get("nargs"), action.nargs))
            checks.append(("const", original.get("const"), action.const))
        for attribute, expected, ours in checks:
            if ours != expected and (script, option, attribute) not in DELIBERATE_DIFFERENCES:
                found.append("{}: {} {!r} instead of {!r}".format(option, attribute, ours, expected))
        if "choices" in original:
            missing = [c for c in original["choices"] if action.choices is None or c not in action.choices]
            if action.choices is None:
                found.append("{}: no choices (the original had {})".format(option, original["choices"]))
            elif missing:
                found.append("{}: choices lack {}".format(option, missing))
    return found


def test_the_table_matches_the_reference_file():
    """Our table against options.json (the reference copy of the original's option table)."""
    import json

    from conftest import reference_file

    with open(reference_file("original-release", "options.json")) as f:
        reference = json.load(f)
    assert sorted(reference) == SCRIPTS
    lr_group = {"--sgd_patience", "--sgd_lr", "--sgd_min_lr", "--sgd_schedule", "--sgdr_base_len", "--sgdr_mul",
                "--sgdr_max_lr", "--clr_step_len", "--clr_min_lr", "--clr_max_lr"}
    for script in SCRIPTS:
        ours = ORIGINAL_OPTIONS[script]
        assert set(reference[script]) == set(ours) - lr_group, script
        for option, spec in reference[script].items():
            for attribute in ("action", "default", "nargs", "const"):
                if attribute in spec or attribute in ours[option]:
                    assert ours[option].get(attribute) == spec.get(attribute), (script, option, attribute)
            if "choices" in spec:
                expected = spec["choices"]
                if isinstance(expected, str):  # "<expr:utils.ARCHITECTURES>"
                    expected = {"<expr:utils.ARCHITECTURES>": ORIGINAL_ARCHITECTURES,
                                "<expr:utils.LR_SCHEDULES>": ORIGINAL_LR_SCHEDULES}[expected]
                assert ours[option]["choices"] == expected, (script, option)


def test_deliberate_differences_name_real_options():
    for script, option, attribute in DELIBERATE_DIFFERENCES:
        assert option in ORIGINAL_OPTIONS[script] and attribute in ("default", "nargs", "const", "choices")


@pytest.mark.parametrize("script", SCRIPTS)
def test_parser_has_the_original_options(script):
    parser = load_parser(script)
    found = mismatches(script, parser)
    assert not found, "{} differs from the original release:\n  ".format(script) + "\n  ".join(found)


def test_the_check_finds_differences():
    """The comparison itself can fail: a parser with changed defaults, nargs, choices and a missing flag."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", type=str, required=True)
    parser.add_argument("--data_root", type=str, default=None)
    parser.add_argument("--hierarchy", type=str, required=True)
    parser.add_argument("--is_a", action="store_true")
    parser.add_argument("--str_ids", action="store", default=False)
    parser.add_argument("--classes_from", type=str, default=None)
    parser.add_argument("--feat", type=str, action="append")
    parser.add_argument("--label", type=str, nargs="+")
    parser.add_argument("--plot_max", type=int, default=100)
    parser.add_argument("--prec_type", type=str, default="LCS_HEIGHT", choices=["LCS_HEIGHT"])
    parser.add_argument("--clip_ahp", type=int, nargs="?", const=250, default=None)
    found = mismatches("evaluate_retrieval.py", parser)
    assert found == [
        "--clip_ahp: nargs '?' instead of None", "--clip_ahp: const 250 instead of None",
        "--csv: missing", "--label: action store instead of append", "--label: nargs '+' instead of None",
        "--norm: missing",
        "--plot_max: default 100 instead of 250", "--prec_type: choices lack ['WUP']",
        "--str_ids: action store instead of store_true"], found
