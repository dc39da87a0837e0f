#!/usr/bin/env python
"""Learns an image classifier: the softmax classification baseline of the original release.

A thin command line over `models.training.train` with the training method `crossentropy` (a
softmax output `prob` on one-hot targets, smoothed with --label_smoothing as the original:
1 - EPS for the true class, EPS / (classes - 1) for the others). As the original's
learn_classifier.py, --feature_dump holds the features entering the classifier's last layer (before
the batch normalization in front of it, where there is one), not the class probabilities.

Example (CIFAR-100):

    python learn_classifier.py --dataset CIFAR-100 --data_root /data/cifar-100-python \\
        --architecture resnet-110-wfc --model_dump cifar100-classifier.keras \\
        --feature_dump cifar100-classifier-features.pickle

Score it with `evaluate_classification_accuracy.py --layer prob --prob_features yes` and the
features with `evaluate_retrieval.py`.
"""

import sys

import cli
import training_cli

METHOD = "crossentropy"


def build_parser():
    """The command line (imports no Keras: --help is instant)."""
    from datasets import available_datasets
    from models.schedules import add_lr_schedule_arguments

    parser = cli.make_parser("Learns an image classifier (softmax, cross-entropy): the classification baseline.")
    cli.add_dataset_arguments(parser, classes="class_list", class_balance=True, dataset_names=available_datasets(),
                              title="Data parameters")
    group = training_cli.add_training_arguments(parser, finetune_init=3)
    training_cli.add_method_arguments(group, METHOD)  # --label_smoothing
    training_cli.add_output_arguments(parser)
    add_lr_schedule_arguments(parser)
    return parser


def run(args):
    from models.surgery import penultimate_features

    dataset_options = {"classes": args.class_list} if args.class_list else {}
    return training_cli.run_training(training_cli.train_options(
        args, embedding="onehot", loss=METHOD, dataset_options=dataset_options, feature_layer=penultimate_features))


def main(argv=None):
    with cli.cli_errors():
        return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
