#!/usr/bin/env python
"""Compares hierarchy-aware training methods on Tiny ImageNet with one network, schedule, budget and seed.

Trains every method of the chosen set (`--methods`; the tables are in comparison/methods.py) with the
same settings, scores each with top-1 error, mistake severity, hierarchical distance@1/5/20 (classes) and
mAHP@250, P@10 and mAP (retrieval), and writes OUT/benchmark.json, OUT/benchmark.md,
OUT/error_vs_severity.png and OUT/hp_curves.png (the "hashing" set: OUT/hashing.json, .md and
OUT/hashing_hp_curves.png). Models already trained in OUT are not trained again, so an interrupted run
resumes. `scripts/hierarchy_benchmark.sh` is the one command around it.

From Python: `comparison.benchmark.run_comparison(data_root, out_dir, methods, budget, ...)`.
"""

import shlex
import sys

import cli


def build_parser():
    from comparison.benchmark import DEFAULT_HIERARCHY, QUICK_EPOCHS, QUICK_SUBSET
    from comparison.methods import METHOD_SETS, SMALL_NET, Budget

    defaults = Budget()
    parser = cli.make_parser(
        "Trains every method of a comparison on Tiny ImageNet with the same network, schedule, epochs and seed, "
        "scores them (classification and retrieval) and writes OUT/benchmark.json, benchmark.md and the pictures.")
    group = parser.add_argument_group("Data")
    group.add_argument("--data_root", required=True, metavar="DIR",
                       help="The tiny-imagenet-200 folder (or its .tar.gz archive) in the dataset's own layout.")
    group.add_argument("--hierarchy", default=DEFAULT_HIERARCHY, metavar="FILE",
                       help="Parent-child file of the class tree (WordNet ids; the default is the repository's).")
    group.add_argument("--classes", type=cli.positive_int, default=None, metavar="N",
                       help="Train and test on N classes spread over wnids.txt only (a subset written to OUT/data).")
    group.add_argument("--train_per_class", type=cli.positive_int, default=None, metavar="N",
                       help="Use only the first N training images of each class.")
    group.add_argument("--test_per_class", type=cli.positive_int, default=None, metavar="N",
                       help="Use only the first N test (val) images of each class.")
    group.add_argument("--quick", action="store_true",
                       help="A smoke run in minutes: --classes {classes} --train_per_class {train_per_class} "
                            "--test_per_class {test_per_class} and {epochs} epoch, unless given.".format(
                                epochs=QUICK_EPOCHS, **QUICK_SUBSET))
    group = parser.add_argument_group("Methods and budget (the same for every model)")
    group.add_argument("--methods", default="hierarchy", metavar="NAMES",
                       help="Comma-separated method sets ({}, all) or row keys ({}).".format(
                           ", ".join(METHOD_SETS), ", ".join(c.key for s in METHOD_SETS.values() for c in s)))
    group.add_argument("--epochs", type=cli.positive_int, default=None, metavar="N",
                       help="Training epochs of every model (default: {}).".format(defaults.epochs))
    group.add_argument("--image_size", type=cli.positive_int, default=defaults.image_size, metavar="PIXELS",
                       help="Input size (Tiny ImageNet's 64x64 images resized once).")
    group.add_argument("--architecture", default=defaults.architecture, metavar="NAME",
                       help="Network architecture (as learn_image_embeddings.py).")
    group.add_argument("--architecture_kwargs", default=defaults.architecture_kwargs, metavar="JSON",
                       help="Keyword arguments of the architecture (default: {}).".format(SMALL_NET))
    group.add_argument("--batch_size", type=cli.positive_int, default=defaults.batch_size, metavar="N",
                       help="Batch size.")
    group.add_argument("--lr", type=float, default=defaults.lr, metavar="LR",
                       help="Initial learning rate of SGD (decayed by inverse time to --max_decay x LR at the end).")
    group.add_argument("--max_decay", type=float, default=defaults.max_decay, metavar="FACTOR",
                       help="Learning rate at the end relative to the initial one.")
    group.add_argument("--seed", type=int, default=defaults.seed, metavar="SEED",
                       help="Seed of weights, data order and augmentation (the same for every model).")
    group = parser.add_argument_group("Output")
    group.add_argument("--out", required=True, metavar="DIR", help="Output folder (models, logs, scores, reports).")
    group.add_argument("--dry_run", action="store_true", help="Print what would be trained and stop.")
    group.add_argument("--quiet", action="store_true", help="No Keras progress lines in the training logs.")
    group.add_argument("--command", default=None, metavar="TEXT",
                       help="The command to record in the reports (default: this script's command line).")
    return parser


def budget_from_args(args):
    from comparison.benchmark import QUICK_EPOCHS
    from comparison.methods import Budget

    epochs = args.epochs or (QUICK_EPOCHS if args.quick else Budget().epochs)
    return Budget(epochs=epochs, image_size=args.image_size, architecture=args.architecture,
                  architecture_kwargs=args.architecture_kwargs, batch_size=args.batch_size, lr=args.lr,
                  max_decay=args.max_decay, seed=args.seed)


def subset_from_args(args):
    from comparison.benchmark import QUICK_SUBSET

    chosen = {name: getattr(args, name) for name in QUICK_SUBSET}
    if args.quick:
        chosen = {name: value if value is not None else QUICK_SUBSET[name] for name, value in chosen.items()}
    return chosen


def main(argv=None):
    args = build_parser().parse_args(argv)
    with cli.cli_errors():
        from comparison.benchmark import run_comparison

        command = args.command or " ".join(shlex.quote(a) for a in ["python", "hierarchy_benchmark.py"] +
                                           list(sys.argv[1:] if argv is None else argv))
        return run_comparison(args.data_root, args.out, args.methods, budget_from_args(args),
                              hierarchy_file=args.hierarchy, dry_run=args.dry_run, command=command,
                              verbose=0 if args.quiet else 2, **subset_from_args(args))


if __name__ == "__main__":
    sys.exit(main())
