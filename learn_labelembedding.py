#!/usr/bin/env python
"""Trains a label embedding network (Sun et al., 2017): a baseline of the original release.

A thin command line over `models.training.train` with the training method `label_embedding`
(models/label_embedding.py, which states the loss): after the network's `embedding` layer
(--embed_dim values), a classifier `prob` trained on the labels (weight --beta) and on the soft
targets of a learned label embedding (weight 1 - beta); a second classifier `out2` on the same
(gradient-stopped) features trains the label embedding with its outputs at temperature --tau and is
kept from over-confidence by --alpha.

Example:

    python learn_labelembedding.py --dataset CIFAR-100 --data_root /data/cifar-100-python \\
        --architecture resnet-110-wfc --embed_dim 100 \\
        --model_dump cifar100-labelembedding.keras --feature_dump cifar100-labelembedding-features.pickle

The feature dump holds the `embedding` outputs (for evaluate_retrieval.py);
evaluate_classification_accuracy.py scores the model with `--layer prob --prob_features yes`.
"""

import sys

import cli
import training_cli

METHOD = "label_embedding"


def build_parser():
    """The command line (imports no Keras: --help is instant)."""
    from datasets import available_datasets
    from models.schedules import add_lr_schedule_arguments

    parser = cli.make_parser("Trains a label embedding network (Sun et al.).")
    cli.add_dataset_arguments(parser, classes="class_list", class_balance=True, dataset_names=available_datasets(),
                              title="Data parameters")
    training_cli.add_method_arguments(parser.add_argument_group("Label embedding parameters"), METHOD)
    training_cli.add_training_arguments(parser, finetune_init=3)
    training_cli.add_output_arguments(parser)
    add_lr_schedule_arguments(parser)
    return parser


def run(args):
    from models.label_embedding import check_label_embedding_parameters

    if args.embed_dim < 1:
        raise cli.UsageError("--embed_dim must be at least 1, got {}".format(args.embed_dim))
    check_label_embedding_parameters(args.tau, args.alpha, args.beta)
    dataset_options = {"classes": args.class_list} if args.class_list else {}
    return training_cli.run_training(training_cli.train_options(
        args, embedding="onehot", loss=METHOD, dataset_options=dataset_options))


def main(argv=None):
    with cli.cli_errors():
        return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
