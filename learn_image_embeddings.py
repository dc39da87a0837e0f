#!/usr/bin/env python
"""Learns to map images onto class embeddings (Barz & Denzler, WACV 2019; cosine loss, WACV 2020).

Example (CIFAR-100, embedding + classification objective):

    python learn_image_embeddings.py --dataset CIFAR-100 --data_root /data/cifar-100-python \\
        --embedding embeddings/cifar100.unitsphere.pickle --architecture resnet-110-fc \\
        --cls_weight 0.1 --model_dump cifar100-embedding.keras --feature_dump cifar100-features.pickle

Classification baselines, same script: a softmax classifier trained with cross-entropy
(`--embedding onehot --loss crossentropy`, the "Softmax" rows of the paper's tables), or the
original's cosine loss on one-hot vectors (`--embedding onehot`; `--loss softmax_corr` for a
softmax before the cosine loss).

Several devices: `--gpus N` trains N replicas of one model (TensorFlow: `MirroredStrategy`;
JAX: `keras.distribution.DataParallel`); without GPUs the CPU is split into N devices. Several
machines (TensorFlow): set `TF_CONFIG` on every machine, e.g.
`TF_CONFIG='{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker",
"index": 0}}'`, and start the same command on each; `MultiWorkerMirroredStrategy` is used and
worker 0 writes the outputs. JAX: set `KERAS_DISTRIBUTION_JOB_ADDRESSES`,
`KERAS_DISTRIBUTION_NUM_PROCESSES` and `KERAS_DISTRIBUTION_PROCESS_ID` (see
`keras.distribution.initialize`).

A run resumes from `--snapshot` (written atomically after every epoch, with the optimizer state)
when that file exists: pass the epoch to continue from as `--initial_epoch`.

From Python: `models.training.train(dataset=..., embedding=..., architecture=..., ...)` (the same
options as keyword arguments) returns the model, its history and the test features.
"""

import sys

import cli
import training_cli


def build_parser():
    """The command line (imports no Keras: --help is instant)."""
    from datasets import available_datasets
    from models.methods import CLASSIFIER_HEAD, METHODS
    from models.schedules import add_lr_schedule_arguments

    parser = cli.make_parser("Learns to map images onto class embeddings.")
    group = cli.add_dataset_arguments(parser, class_balance=True, dataset_names=available_datasets(),
                                      title="Data parameters")
    cli.add_embedding_argument(group, onehot=True, help="Class embeddings: a file written by compute_class_embedding.py "
                               "(pickle or .npz)")
    cli.add_hierarchy_arguments(group, required=False,
                                help="A file of parent-child relationships of the class taxonomy, for the methods that "
                                     "need it ({}).".format(", ".join(n for n, m in METHODS.items() if m.needs_hierarchy)
                                                            or "none so far"))
    group = training_cli.add_training_arguments(parser, finetune_init=8)
    group.add_argument("--loss", type=str, default="inv_corr", choices=list(METHODS), metavar="METHOD",
                       help="Training method (loss, output layer, targets). " + " ".join(
                           "{}: {}".format(name, method.description) for name, method in METHODS.items()))
    for argument in (CLASSIFIER_HEAD.weight, *CLASSIFIER_HEAD.arguments):
        argument.add_to(group)
    training_cli.add_output_arguments(parser)
    add_lr_schedule_arguments(parser)
    add_method_arguments(parser, METHODS)
    return parser


def add_method_arguments(parser, methods):
    """One group "Parameters for --loss NAME" per method with arguments (a flag shared by several
    methods is added once, with the first)."""
    added = set()
    for name, method in methods.items():
        arguments = [a for a in method.arguments if a.flag not in added]
        if not arguments:
            continue
        group = parser.add_argument_group("Parameters for --loss {}".format(name))
        for argument in arguments:
            argument.add_to(group)
            added.add(argument.flag)


def method_kwargs(args):
    """The hyperparameters of the chosen method from the command line; UsageError for a method flag
    given that belongs only to other methods."""
    from models.methods import METHODS

    own = {argument.dest for argument in METHODS[args.loss].arguments}
    for name, other in METHODS.items():
        for argument in other.arguments:
            if argument.dest not in own and getattr(args, argument.dest, argument.default) != argument.default:
                raise cli.UsageError("{} belongs to --loss {}, not --loss {}".format(argument.flag, name, args.loss))
    return {dest: getattr(args, dest) for dest in own}


def train_options(args):
    """The keyword arguments of `models.training.train` given on the command line."""
    return training_cli.train_options(args, embedding=args.embedding, loss=args.loss, loss_kwargs=method_kwargs(args),
                                      hierarchy=cli.hierarchy_from_args(args), cls_weight=args.cls_weight,
                                      cls_base=args.cls_base)


def check_args(args):
    """Reject bad values before anything expensive happens (ValueError naming the flag); returns the
    keyword arguments of `models.training.train`."""
    from models.training import check_options

    options = train_options(args)
    check_options(**{k: options[k] for k in (
        "loss", "embedding", "cls_weight", "batch_size", "val_batch_size", "epochs", "initial_epoch", "finetune_init",
        "gpus", "read_workers", "queue_size", "top_k_acc", "model_dump", "weight_dump", "feature_dump", "snapshot",
        "snapshot_best", "finetune", "hierarchy")})
    return options


def run(args):
    """Train as the parsed command line says; returns the exit status (1 if a dump failed)."""
    return training_cli.run_training(check_args(args))


def main(argv=None):
    with cli.cli_errors():
        args = build_parser().parse_args(argv)
        return run(args)


if __name__ == "__main__":
    sys.exit(main())
