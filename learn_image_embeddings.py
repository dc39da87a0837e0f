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

# Flags of the training script that are not options of `models.training.train` (or differ in name).
_NOT_TRAIN_OPTIONS = ("gpu_merge", "no_progress", "is_a", "str_ids", "hierarchy", "image_size", "class_balance",
                      "test_split", "split_seed")


def build_parser():
    """The command line (imports no Keras: --help is instant)."""
    from datasets import available_datasets
    from models import ARCHITECTURES
    from models.methods import CLASSIFIER_HEAD, METHODS
    from models.schedules import LR_SCHEDULES, add_lr_schedule_arguments

    parser = cli.make_parser("Learns to map images onto class embeddings.")
    cli.add_dataset_arguments(parser, class_balance=True, dataset_names=available_datasets(), title="Data parameters")
    group = parser._action_groups[-1]
    cli.add_embedding_argument(group, onehot=True, help="Class embeddings: a file written by compute_class_embedding.py "
                               "(pickle or .npz)")
    cli.add_hierarchy_arguments(group, required=False,
                                help="A file of parent-child relationships of the class taxonomy, for the methods that "
                                     "need it ({}).".format(", ".join(n for n, m in METHODS.items() if m.needs_hierarchy)
                                                            or "none so far"))
    group = parser.add_argument_group("Training parameters")
    group.add_argument("--architecture", type=str, default="simple", choices=ARCHITECTURES, metavar="NAME",
                       help="Network architecture: {}.".format(", ".join(ARCHITECTURES)))
    group.add_argument("--architecture_kwargs", type=str, default=None, metavar="JSON",
                       help='Keyword arguments for building the architecture as a JSON object, e.g. '
                            '\'{"filters": [16, "ap", 32, "gap"]}\' for a small Plain net (quick experiments).')
    group.add_argument("--loss", type=str, default="inv_corr", choices=list(METHODS), metavar="METHOD",
                       help="Training method (loss, output layer, targets). " + " ".join(
                           "{}: {}".format(name, method.description) for name, method in METHODS.items()))
    for argument in (CLASSIFIER_HEAD.weight, *CLASSIFIER_HEAD.arguments):
        argument.add_to(group)
    group.add_argument("--lr_schedule", type=str, default="SGDR", choices=LR_SCHEDULES, metavar="SCHEDULE",
                       help="Learning rate schedule: {}.".format(", ".join(LR_SCHEDULES)))
    group.add_argument("--clipgrad", type=float, default=10.0, metavar="NORM",
                       help="Gradient norm clipping (0 disables it).")
    group.add_argument("--max_decay", type=float, default=0.0, metavar="FACTOR",
                       help="Learning rate decay at the end of training: inverse-time decay reaching this factor "
                            "(0 disables it).")
    group.add_argument("--nesterov", action="store_true", default=False,
                       help="Use Nesterov momentum instead of standard momentum.")
    group.add_argument("--epochs", type=int, default=None, metavar="N",
                       help="Number of training epochs (default: as suggested by the learning rate schedule).")
    group.add_argument("--batch_size", type=int, default=100, metavar="N", help="Batch size.")
    group.add_argument("--val_batch_size", type=int, default=None, metavar="N",
                       help="Validation batch size (default: --batch_size).")
    group.add_argument("--snapshot", type=str, default=None, metavar="FILE",
                       help="Model file (.keras) written after every epoch, with the optimizer state. If it exists, "
                            "training resumes from it.")
    group.add_argument("--snapshot_best", type=str, nargs="?", default=None, const="val_loss", metavar="METRIC",
                       help="Keep only the best-performing epoch in --snapshot, judged by this logged metric "
                            "(without a value: val_loss; e.g. val_max_sim_acc, val_prob_acc).")
    group.add_argument("--initial_epoch", type=int, default=0, metavar="EPOCH",
                       help="Epochs already trained, for resuming training from --snapshot.")
    group.add_argument("--finetune", type=str, default=None, metavar="FILE",
                       help="Pre-trained weights to be fine-tuned (loaded by layer name from a .keras or legacy .h5 "
                            "dump; a .weights.h5 file stores no layer names and is matched by layer type and order).")
    group.add_argument("--finetune_init", type=int, default=8, metavar="EPOCHS",
                       help="Number of initial epochs for training just the new layers before fine-tuning.")
    group.add_argument("--gpus", type=int, default=1, metavar="N", help="Number of GPUs (replicas) to be used.")
    group.add_argument("--read_workers", type=int, default=8, metavar="N",
                       help="Number of parallel data pre-processing workers.")
    group.add_argument("--queue_size", type=int, default=100, metavar="BATCHES", help="Maximum size of data queue.")
    group.add_argument("--gpu_merge", action="store_true", default=False,
                       help="Ignored (kept for old command lines): the distribution strategy merges the weights.")
    group.add_argument("--mixed_precision", nargs="?", const="auto", default=None,
                       choices=["auto", "mixed_float16", "mixed_bfloat16"],
                       help="Train with mixed precision (auto: bfloat16 on CPUs and on GPUs of compute capability 8.0 "
                            "or newer, float16 on older GPUs).")
    group.add_argument("--seed", type=int, default=None, metavar="SEED",
                       help="Seed of the weight initialization, data order and augmentation.")
    group = cli.add_output_arguments(parser, "model_dump", "weight_dump", "feature_dump", "log_dir",
                                     title="Output parameters")
    group.add_argument("--no_progress", action="store_true", default=False,
                       help="Do not display training progress, but just the final performance.")
    group.add_argument("--top_k_acc", type=int, nargs="+", action="extend", default=[], metavar="K",
                       help="Also report top-k accuracy for these values of k.")
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


def method_kwargs(args, parser=None):
    """The hyperparameters of the chosen method from the command line; UsageError for a method flag
    given that belongs only to other methods."""
    from models.methods import METHODS

    method = METHODS[args.loss]
    own = {argument.dest for argument in method.arguments}
    for name, other in METHODS.items():
        for argument in other.arguments:
            if argument.dest not in own and getattr(args, argument.dest, argument.default) != argument.default:
                raise cli.UsageError("{} belongs to --loss {}, not --loss {}".format(argument.flag, name, args.loss))
    return {dest: getattr(args, dest) for dest in own}


def train_options(args):
    """The keyword arguments of `models.training.train` given on the command line."""
    from models.schedules import SCHEDULES
    from models.training import parse_json_object

    schedule_names = {argument.dest for entry in SCHEDULES.values() for argument in entry.arguments}
    return dict(
        dataset=args.dataset, embedding=args.embedding, data_root=args.data_root,
        dataset_options=cli.dataset_kwargs(args), hierarchy=cli.hierarchy_from_args(args),
        architecture=args.architecture,
        architecture_kwargs=parse_json_object(args.architecture_kwargs, "--architecture_kwargs"),
        loss=args.loss, loss_kwargs=method_kwargs(args), cls_weight=args.cls_weight, cls_base=args.cls_base,
        lr_schedule=args.lr_schedule, schedule_kwargs={n: getattr(args, n) for n in schedule_names},
        sgd_lr=args.sgd_lr, clipgrad=args.clipgrad, max_decay=args.max_decay, nesterov=args.nesterov,
        epochs=args.epochs, batch_size=args.batch_size, val_batch_size=args.val_batch_size, snapshot=args.snapshot,
        snapshot_best=args.snapshot_best, initial_epoch=args.initial_epoch, finetune=args.finetune,
        finetune_init=args.finetune_init, gpus=args.gpus, read_workers=args.read_workers, queue_size=args.queue_size,
        mixed_precision=args.mixed_precision, seed=args.seed, log_dir=args.log_dir, top_k_acc=args.top_k_acc,
        verbose=0 if args.no_progress else 1, model_dump=args.model_dump, weight_dump=args.weight_dump,
        feature_dump=args.feature_dump,
    )


def check_args(args):
    """Reject bad values before anything expensive happens (ValueError naming the flag)."""
    from models.training import check_options

    options = train_options(args)
    check_options(**{k: options[k] for k in (
        "loss", "embedding", "cls_weight", "batch_size", "val_batch_size", "epochs", "initial_epoch", "finetune_init",
        "gpus", "read_workers", "queue_size", "top_k_acc", "model_dump", "weight_dump", "feature_dump", "snapshot",
        "snapshot_best", "finetune", "hierarchy")})
    return options


def run(args):
    """Train as the parsed command line says; returns the exit status (1 if a dump failed)."""
    options = check_args(args)
    from models.training import train

    result = train(dump_errors="report", **options)
    return 1 if result.failed_dumps else 0


def main(argv=None):
    with cli.cli_errors():
        args = build_parser().parse_args(argv)
        return run(args)


if __name__ == "__main__":
    sys.exit(main())
