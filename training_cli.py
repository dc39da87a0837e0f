"""Command-line pieces of the original release's baseline trainers (learn_classifier.py,
learn_center_loss.py, learn_labelembedding.py, learn_devise.py): their training and output flags,
the flags of a training method from the registry, and the mapping of a parsed command line onto
the keyword arguments of `models.training.train`.

Imports no Keras: `--help` of the scripts is instant.
"""

import cli

def add_training_arguments(parser, *, finetune_init, snapshot=True, title="Training parameters"):
    """The SGD training flags of the original's learn_classifier.py / learn_center_loss.py /
    learn_labelembedding.py (their --finetune_init default differs from learn_image_embeddings.py's),
    plus --architecture_kwargs, --mixed_precision and --seed. Returns the group."""
    from models.schedules import LR_SCHEDULES

    group = parser.add_argument_group(title)
    add_architecture_arguments(group)
    group.add_argument("--lr_schedule", type=str, default="SGDR", choices=LR_SCHEDULES, metavar="SCHEDULE",
                       help="Learning rate schedule: {}.".format(", ".join(LR_SCHEDULES)))
    group.add_argument("--clipgrad", type=float, default=10.0, metavar="NORM",
                       help="Gradient norm clipping (0 disables it).")
    add_max_decay_argument(group)
    group.add_argument("--nesterov", action="store_true", default=False,
                       help="Use Nesterov momentum instead of standard momentum.")
    group.add_argument("--epochs", type=int, default=None, metavar="N",
                       help="Number of training epochs (default: as suggested by the learning rate schedule).")
    add_batch_size_arguments(group)
    if snapshot:
        group.add_argument("--snapshot", type=str, default=None, metavar="FILE",
                           help="Model file (.keras) written after every epoch, with the optimizer state. If it "
                                "exists, training resumes from it.")
        group.add_argument("--snapshot_best", type=str, nargs="?", default=None, const="val_loss", metavar="METRIC",
                           help="Keep only the best-performing epoch in --snapshot, judged by this logged metric "
                                "(without a value: val_loss; e.g. val_prob_acc).")
        group.add_argument("--initial_epoch", type=int, default=0, metavar="EPOCH",
                           help="Epochs already trained, for resuming training from --snapshot.")
    group.add_argument("--finetune", type=str, default=None, metavar="FILE",
                       help="Pre-trained weights to be fine-tuned (loaded by layer name from a .keras or legacy .h5 "
                            "dump).")
    group.add_argument("--finetune_init", type=int, default=finetune_init, metavar="EPOCHS",
                       help="Number of initial epochs for training just the new layers before fine-tuning.")
    group.add_argument("--gpus", type=int, default=1, metavar="N", help="Number of GPUs (replicas) to be used.")
    add_reader_arguments(group)
    group.add_argument("--gpu_merge", action="store_true", default=False,
                       help="Ignored (kept for old command lines): the distribution strategy merges the weights.")
    group.add_argument("--mixed_precision", nargs="?", const="auto", default=None,
                       choices=["auto", "mixed_float16", "mixed_bfloat16"],
                       help="Train with mixed precision (auto: bfloat16 on CPUs and recent GPUs, float16 on older "
                            "GPUs).")
    add_seed_argument(group)
    return group


def add_architecture_arguments(group):
    from models import ARCHITECTURES

    group.add_argument("--architecture", type=str, default="simple", choices=ARCHITECTURES, metavar="NAME",
                       help="Network architecture: {}.".format(", ".join(ARCHITECTURES)))
    group.add_argument("--architecture_kwargs", type=str, default=None, metavar="JSON",
                       help='Keyword arguments for building the architecture as a JSON object, e.g. '
                            '\'{"filters": [16, "ap", 32, "gap"]}\' for a small Plain net (quick experiments).')


def add_max_decay_argument(group):
    group.add_argument("--max_decay", type=float, default=0.0, metavar="FACTOR",
                       help="Learning rate decay at the end of training: inverse-time decay reaching this factor "
                            "(0 disables it).")


def add_batch_size_arguments(group):
    group.add_argument("--batch_size", type=int, default=100, metavar="N", help="Batch size.")
    group.add_argument("--val_batch_size", type=int, default=None, metavar="N",
                       help="Validation batch size (default: --batch_size).")


def add_reader_arguments(group):
    group.add_argument("--read_workers", type=int, default=8, metavar="N",
                       help="Number of parallel data pre-processing workers.")
    group.add_argument("--queue_size", type=int, default=100, metavar="BATCHES", help="Maximum size of data queue.")


def add_seed_argument(group):
    group.add_argument("--seed", type=int, default=None, metavar="SEED",
                       help="Seed of the weight initialization, data order and augmentation.")


def add_output_arguments(parser, *, top_k=True):
    """--model_dump, --weight_dump, --feature_dump, --log_dir, --no_progress (and --top_k_acc)."""
    group = cli.add_output_arguments(parser, "model_dump", "weight_dump", "feature_dump", "log_dir",
                                     title="Output parameters")
    group.add_argument("--no_progress", action="store_true", default=False,
                       help="Do not display training progress, but just the final performance.")
    if top_k:
        group.add_argument("--top_k_acc", type=int, nargs="+", action="extend", default=[], metavar="K",
                           help="Also report top-k accuracy for these values of k.")
    return group


def add_method_arguments(group, method, flags=None):
    """The command-line hyperparameters of the training method `method` (its registry `arguments`,
    or only those in `flags`) into `group`."""
    from models.methods import METHODS

    for argument in METHODS[method].arguments:
        if flags is None or argument.flag in flags:
            argument.add_to(group)


def method_kwargs(args, method):
    """The hyperparameters of the training method `method` given on the command line."""
    from models.methods import METHODS

    return {argument.dest: getattr(args, argument.dest) for argument in METHODS[method].arguments
            if hasattr(args, argument.dest)}


def train_options(args, *, embedding, loss, dataset_options=None, **extra):
    """The keyword arguments of `models.training.train` for a parsed command line of one of the
    trainers: `embedding` and `loss` as the script decides, the rest from its flags (flags a
    script lacks keep the defaults of `train`). `extra` overrides or adds options."""
    from models.schedules import SCHEDULES
    from models.training import parse_json_object

    schedule_names = {argument.dest for entry in SCHEDULES.values() for argument in entry.arguments}
    options = dict(
        dataset=args.dataset, embedding=embedding, data_root=args.data_root,
        dataset_options={**cli.dataset_kwargs(args), **(dataset_options or {})},
        architecture=args.architecture,
        architecture_kwargs=parse_json_object(args.architecture_kwargs, "--architecture_kwargs"),
        loss=loss, loss_kwargs=method_kwargs(args, loss),
        lr_schedule=args.lr_schedule, schedule_kwargs={n: getattr(args, n) for n in schedule_names},
        sgd_lr=args.sgd_lr, clipgrad=args.clipgrad, max_decay=args.max_decay, nesterov=args.nesterov,
        epochs=args.epochs, batch_size=args.batch_size, val_batch_size=args.val_batch_size,
        finetune=args.finetune, finetune_init=args.finetune_init, gpus=args.gpus, read_workers=args.read_workers,
        queue_size=args.queue_size, mixed_precision=args.mixed_precision, seed=args.seed, log_dir=args.log_dir,
        verbose=0 if args.no_progress else 1, model_dump=args.model_dump, weight_dump=args.weight_dump,
        feature_dump=args.feature_dump,
    )
    for name in ("snapshot", "snapshot_best", "initial_epoch", "top_k_acc"):
        if hasattr(args, name):
            options[name] = getattr(args, name)
    options.update(extra)
    return options


def run_training(options):
    """`models.training.train(**options)` as a script runs it; returns the exit status (1 if a dump failed)."""
    from models.training import train

    result = train(dump_errors="report", **options)
    return 1 if result.failed_dumps else 0
