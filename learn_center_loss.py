#!/usr/bin/env python
"""Learns image embeddings with softmax + center loss (Wen et al., ECCV 2016): a baseline of the
original release.

A thin command line over `models.training.train` with the training method `center_loss`
(models/center_loss.py): after the network's `embedding` layer (--embed_dim values) a softmax
classifier `prob` (ReLU, batch normalization `embedding_bn`, dense softmax) trained with
cross-entropy (weight 1), plus the center loss |x - c_y|^2 / 2 (weight --center_loss_weight). The
class centers are learned, or fixed to the class embeddings of --centroids (whose classes and
dimension are then used; --class_list and --embed_dim are ignored, as in the original).

Example:

    python learn_center_loss.py --dataset CIFAR-100 --data_root /data/cifar-100-python \\
        --architecture resnet-110-wfc --embed_dim 100 --center_loss_weight 0.1 \\
        --model_dump cifar100-center-loss.keras --feature_dump cifar100-center-loss-features.pickle

The feature dump holds the `embedding` outputs (for evaluate_retrieval.py);
evaluate_classification_accuracy.py scores the model with `--layer prob --prob_features yes`.
"""

import sys

import cli
import training_cli

METHOD = "center_loss"


def build_parser():
    """The command line (imports no Keras: --help is instant)."""
    from datasets import available_datasets
    from models.schedules import add_lr_schedule_arguments

    parser = cli.make_parser("Learns image embeddings using softmax + center loss (Wen et al.).")
    cli.add_dataset_arguments(parser, classes="class_list", class_balance=True, dataset_names=available_datasets(),
                              title="Data parameters")
    group = parser.add_argument_group("Center loss parameters")
    training_cli.add_method_arguments(group, METHOD, ["--embed_dim"])
    cli.add_embedding_argument(group, "--centroids", required=False,
                               help="Fixed class centers instead of learned ones: a class-embedding file written by "
                                    "compute_class_embedding.py (its classes and dimension are used)")
    training_cli.add_method_arguments(group, METHOD, ["--center_loss_weight"])
    training_cli.add_training_arguments(parser, finetune_init=3)
    training_cli.add_output_arguments(parser)
    add_lr_schedule_arguments(parser)
    return parser


def run(args):
    from models.center_loss import check_center_loss_weight

    if args.embed_dim < 1:
        raise cli.UsageError("--embed_dim must be at least 1, got {}".format(args.embed_dim))
    check_center_loss_weight(args.center_loss_weight)
    if args.centroids and args.class_list:
        print("Note: --class_list is ignored; the classes are those of --centroids {}".format(args.centroids))
    dataset_options = {"classes": args.class_list} if args.class_list and not args.centroids else {}
    return training_cli.run_training(training_cli.train_options(
        args, embedding=args.centroids or "onehot", loss=METHOD, dataset_options=dataset_options))


def main(argv=None):
    with cli.cli_errors():
        return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
