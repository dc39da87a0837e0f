#!/usr/bin/env python
"""Learns to map image features onto class embeddings with DeViSE (Frome et al., NIPS 2013): a
baseline of the original release.

A thin command line over `models.devise.train_devise` with the training method `devise`: the
network's linear output `embedding` (the dimension of --embedding, whose rows are scaled to unit
length) is trained with the hinge rank loss (--margin) by Adagrad. With --init_weights (a trained
model, e.g. of learn_classifier.py), its last layer is replaced by the new linear layer, which is
first trained alone for --init_epochs (--init_lr); then the whole network is fine-tuned for
--ft_epochs (--ft_lr, decayed by --max_decay). Without --init_weights only the fine-tuning phase runs,
from scratch.

Example:

    python learn_devise.py --dataset CIFAR-100 --data_root /data/cifar-100-python \\
        --embedding embeddings/cifar100.unitsphere.pickle --architecture resnet-110-wfc \\
        --init_weights cifar100-classifier.keras \\
        --model_dump cifar100-devise.keras --feature_dump cifar100-devise-features.pickle

evaluate_classification_accuracy.py scores the model with `--layer embedding --centroids EMBEDDING`,
evaluate_retrieval.py its feature dump.
"""

import sys

import cli
import training_cli

METHOD = "devise"


def build_parser():
    """The command line (imports no Keras: --help is instant)."""
    from datasets import available_datasets

    parser = cli.make_parser("Learns to map image features onto word embeddings of labels using DeViSE.")
    group = cli.add_dataset_arguments(parser, dataset_names=available_datasets(), title="Data parameters")
    cli.add_embedding_argument(group, help="Class embeddings: a file written by compute_class_embedding.py "
                                           "(pickle or .npz); the dataset is restricted to its classes")
    group = parser.add_argument_group("Training parameters")
    training_cli.add_architecture_arguments(group)
    group.add_argument("--init_weights", type=str, default=None, metavar="MODEL",
                       help="A trained model file to start from: its last layer is replaced by the linear map onto "
                            "the class embeddings.")
    group.add_argument("--init_epochs", type=int, default=25, metavar="EPOCHS",
                       help="Epochs of training the new linear layer alone, the rest of --init_weights fixed.")
    group.add_argument("--ft_epochs", type=int, default=75, metavar="EPOCHS",
                       help="Epochs of fine-tuning the whole network.")
    group.add_argument("--init_lr", type=float, default=0.01, metavar="LR",
                       help="Adagrad learning rate of the --init_epochs.")
    group.add_argument("--ft_lr", type=float, default=0.001, metavar="LR",
                       help="Adagrad learning rate of the --ft_epochs.")
    training_cli.add_batch_size_arguments(group)
    training_cli.add_max_decay_argument(group)
    training_cli.add_method_arguments(group, METHOD)  # --margin
    training_cli.add_reader_arguments(group)
    training_cli.add_seed_argument(group)
    training_cli.add_output_arguments(parser)
    return parser


def run(args):
    from models.devise import train_devise
    from models.training import parse_json_object

    result = train_devise(
        args.dataset, args.embedding, data_root=args.data_root, dataset_options=cli.dataset_kwargs(args),
        architecture=args.architecture,
        architecture_kwargs=parse_json_object(args.architecture_kwargs, "--architecture_kwargs"),
        init_weights=args.init_weights, init_epochs=args.init_epochs, ft_epochs=args.ft_epochs,
        init_lr=args.init_lr, ft_lr=args.ft_lr, margin=args.margin, max_decay=args.max_decay,
        batch_size=args.batch_size, val_batch_size=args.val_batch_size, read_workers=args.read_workers,
        queue_size=args.queue_size, seed=args.seed, log_dir=args.log_dir, top_k_acc=args.top_k_acc,
        verbose=0 if args.no_progress else 1, model_dump=args.model_dump, weight_dump=args.weight_dump,
        feature_dump=args.feature_dump, dump_errors="report")
    return 1 if result.failed_dumps else 0


def main(argv=None):
    with cli.cli_errors():
        return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
