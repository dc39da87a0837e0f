"""`run_comparison(...)`: a whole comparison with plain arguments (what hierarchy_benchmark.py runs)."""

import os
import platform
import time
from collections import OrderedDict

from . import data as comparison_data
from .methods import METHOD_SETS, models_to_train, select
from .report import write_report
from .runner import Scorer, score_rows, train_all

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The class tree of Tiny ImageNet (WordNet ids), relative to the repository.
DEFAULT_HIERARCHY = os.path.join("TinyImageNet-Hierarchy", "tiny-imagenet.parent-child.txt")

# QUICK: a few classes, one short epoch (what the test runs; minutes on 2 cores).
QUICK_SUBSET = {"classes": 10, "train_per_class": 100, "test_per_class": 30}
QUICK_EPOCHS = 1


def report_of(entry_key):
    """The report a row belongs to: "benchmark" (the hierarchy set) or "hashing"."""
    for name, entries in METHOD_SETS.items():
        if any(entry.key == entry_key for entry in entries):
            return "benchmark" if name == "hierarchy" else name
    raise ValueError("row {!r} belongs to no method set".format(entry_key))


def split_available(entries):
    """(entries whose class-embedding method exists, notes about the others)."""
    kept, notes = [], []
    for entry in entries:
        method = comparison_data.EMBEDDINGS[entry.embedding][0] if entry.embedding != "onehot" else None
        if not comparison_data.embedding_method_available(method):
            notes.append("{} skipped: compute_class_embedding.py has no method {!r} yet".format(entry.label, method))
        else:
            kept.append(entry)
    return kept, notes


def machine_description():
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return "{}, {} CPU cores, load average {:.1f} at the start".format(platform.node() or platform.machine(),
                                                                       os.cpu_count(), load)


def run_comparison(data_root, out_dir, methods="hierarchy", budget=None, classes=None, train_per_class=None,
                   test_per_class=None, hierarchy_file=DEFAULT_HIERARCHY, dry_run=False, command=None,
                   verbose=2, log=print):
    """Train (or reuse) and score every chosen method on Tiny ImageNet with one `Budget`; write the reports.

    data_root: the tiny-imagenet-200 folder or its .tar.gz; out_dir: the output folder (reused: trained
    models are not trained again); methods: set names and row keys (`comparison.methods.select`);
    classes / train_per_class / test_per_class: train on a subset (written to out_dir/data).
    Returns 0, or 1 if a model could not be trained (the others are reported).
    """
    import cli
    from comparison.methods import Budget

    start, machine = time.time(), machine_description()
    budget = budget or Budget()
    entries, notes = split_available(select(methods))
    models = models_to_train(entries)
    if hierarchy_file == DEFAULT_HIERARCHY and not os.path.isfile(hierarchy_file):
        hierarchy_file = os.path.join(REPO_ROOT, DEFAULT_HIERARCHY)
    hierarchy = cli.load_hierarchy(hierarchy_file, False, True)
    subset = any(v is not None for v in (classes, train_per_class, test_per_class))
    log("Comparison of {} rows ({} models) in {}; every model: {}".format(len(entries), len(models), out_dir,
                                                                          budget.describe()))
    for note in notes:
        log("note: " + note)
    if dry_run:
        for key, entry in models.items():
            log("  model {}: --loss {} --embedding {}{}{}".format(
                key, entry.loss, entry.embedding, "".join(" --{} {}".format(k, v) for k, v in entry.loss_kwargs),
                " --cls_weight {}".format(entry.cls_weight) if entry.cls_weight else ""))
        return 0
    os.makedirs(out_dir, exist_ok=True)
    if subset:
        data_root = comparison_data.write_subset(data_root, os.path.join(out_dir, "data"), classes, train_per_class,
                                                 test_per_class)
    scorer = Scorer(data_root, budget.image_size, hierarchy)  # reads the data and checks the classes first
    embedding_paths = {name: comparison_data.prepare_embedding(name, hierarchy, scorer.classes,
                                                               os.path.join(out_dir, "embeddings"))
                       for name in OrderedDict.fromkeys(e.embedding for e in entries) if name != "onehot"}

    records, failed = train_all(models, budget, data_root, hierarchy, embedding_paths, out_dir, log, verbose)
    notes += ["training of {} failed (see logs/{}.log)".format(key, key) for key in failed]
    rows = score_rows(entries, scorer, out_dir, embedding_paths, log)

    by_report = OrderedDict()
    for row in rows:
        by_report.setdefault(report_of(row["key"].replace("+crm", "")), []).append(row)
    for name, report_rows in by_report.items():
        models_here = OrderedDict.fromkeys(r["model"] for r in report_rows)
        setup = {"data": data_root, "classes": len(scorer.classes), "train_images": scorer.data.num_train,
                 "test_images": scorer.data.num_test, "image_size": budget.image_size, "budget": budget.describe(),
                 "budget_settings": budget.__dict__, "command": command or "hierarchy_benchmark.py",
                 "wall_seconds": time.time() - start, "machine": machine, "notes": notes,
                 "train_seconds_total": sum(records[m]["train_seconds"] for m in models_here if m in records)}
        if name == "benchmark":
            setup["chance"] = scorer.chance_levels()
        for path in write_report(out_dir, name, report_rows, setup, scorer.cutoff):
            log("Wrote {}".format(path))
    log("Done in {:.0f} s".format(time.time() - start))
    return 1 if failed else 0
