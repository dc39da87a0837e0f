#!/usr/bin/env python
"""Evaluates flat and hierarchical classification accuracy of one or more trained models.

For each `--model` (with its `--layer`, `--label`, ...; the i-th of each repeated flag belongs
to the i-th model), test images are classified in one of three ways:

- `--prob_features yes`: the layer's outputs are class scores (e.g. the softmax layer `prob`);
- `--centroids FILE`: the nearest class embedding in FILE (e.g. for the `l2norm` layer);
- otherwise a linear SVM is trained on the layer's features of the training images
  (`--augmentation_epochs` augmented passes, error weight `--C`).

The table shows Accuracy, Top-5 Accuracy, Avg. Accuracy (the mean of the per-class accuracies)
and, with `--hierarchy`, Hierarchical Accuracy (mean of 1 - height of the lowest common subsumer
of predicted and true class).
"""

import argparse
import os
import sys
from collections import OrderedDict

import numpy as np

import utils


def build_parser():
    from models import ARCHITECTURES

    parser = argparse.ArgumentParser(
        description="Trains a linear SVM on different image embeddings (or uses class scores or the nearest class "
                    "embedding) and evaluates flat and hierarchical accuracy.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    group = parser.add_argument_group("Dataset")
    group.add_argument("--dataset", type=str, required=True, help="Training dataset.")
    group.add_argument("--data_root", type=str, default=None, help="Root directory of the dataset.")
    group.add_argument("--hierarchy", type=str, default=None,
                       help="Path to a file containing parent-child relationships (one per line); needed for "
                            "Hierarchical Accuracy.")
    group.add_argument("--is_a", action="store_true", default=False,
                       help="If given, --hierarchy is assumed to contain is-a instead of parent-child relationships.")
    group.add_argument("--str_ids", action="store_true", default=False,
                       help="If given, class IDs are treated as strings instead of integers.")
    group.add_argument("--classes_from", type=str, default=None,
                       help='Optionally, a path to a pickle dump containing a dictionary with item "ind2label" '
                            "specifying the classes to be considered.")
    group.add_argument("--augmentation_epochs", type=int, default=1, help="Number of training image augmentations.")
    group.add_argument("--C", type=float, default=0.1, help="Weight of the error in SVM loss.")
    group.add_argument("--batch_size", type=int, default=100, help="Batch size for feature extraction.")
    group = parser.add_argument_group("Features")
    group.add_argument("--architecture", type=str, default="simple", choices=ARCHITECTURES,
                       help="Type of network architecture (kept for old command lines: custom layers are registered).")
    group.add_argument("--model", type=str, action="append", required=True,
                       help="Path to a keras model dump used for extracting image features.")
    group.add_argument("--layer", type=str, action="append",
                       help="Name or index of the layer to extract features from (default: the model's first output).")
    group.add_argument("--label", type=str, action="append", help="Label for the corresponding features.")
    group.add_argument("--norm", type=utils.str2bool, action="append",
                       help="Whether to L2-normalize the corresponding features or not (defaults to False).")
    group.add_argument("--prob_features", type=utils.str2bool, action="append",
                       help="Whether to use the extracted features as class probabilities instead of training an SVM.")
    group.add_argument("--centroids", type=str, action="append",
                       help='Optionally, a pickle dump containing a dictionary with an item "embedding" referring to '
                            "a numpy array of class centroids for performing nearest-neighbor classification.")
    group = parser.add_argument_group("Output")
    group.add_argument("--json", type=str, default=None,
                       help="Name of a JSON file where all metrics are written to ({label: {metric: value}}).")
    return parser


def nth(values, i, default=None):
    """The i-th value of a repeated flag, or `default` where fewer were given."""
    return values[i] if values is not None and i < len(values) else default


def feature_model(path, layer=None):
    """The model in `path`, cut at `layer` (name or index; default: its first output)."""
    import keras

    if not os.path.isfile(path):
        raise ValueError("--model {}: no such file".format(path))
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as e:  # noqa: BLE001 -- any reason a file is not a loadable model
        raise ValueError("--model {}: cannot load model: {}".format(path, e)) from None
    if layer is None:
        return keras.Model(model.inputs, model.outputs[0])
    try:
        target = model.layers[int(layer)]
    except IndexError:
        raise ValueError("--layer {}: {} has {} layers".format(layer, path, len(model.layers))) from None
    except ValueError:
        try:
            target = model.get_layer(layer)
        except ValueError:
            raise ValueError("--layer {}: no such layer in {}".format(layer, path)) from None
    return keras.Model(model.inputs, target.output)


def predict(model, sequence, desc):
    """Outputs of `model` for every batch of `sequence`, with a progress bar on stderr."""
    import keras
    from tqdm import tqdm

    class Progress(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.bar = tqdm(total=len(sequence), desc=desc, file=sys.stderr, leave=False)

        def on_predict_batch_end(self, batch, logs=None):
            self.bar.update(1)

        def on_predict_end(self, logs=None):
            self.bar.close()

    return np.asarray(model.predict(sequence, verbose=0, callbacks=[Progress()]))


def test_set_inputs(data, batch_size):
    return data.test_sequence(batch_size, shuffle=False, augment=False, batch_transform=_inputs_only)


def _inputs_only(x, y):
    return (x,)


def svm_scores(data, model, batch_size, normalize=False, augmentation_epochs=1, C=0.1):
    """Decision values of a LinearSVC trained on the features of the training images."""
    from sklearn.svm import LinearSVC

    train = data.train_sequence(batch_size, shuffle=False, augment=augmentation_epochs > 1,
                                repeats=augmentation_epochs, batch_transform=_inputs_only)
    X_train = predict(model, train, "Training features").reshape(len(train.labels) * augmentation_epochs, -1)
    X_test = predict(model, test_set_inputs(data, batch_size), "Test features").reshape(data.num_test, -1)
    if normalize:
        X_train = X_train / np.maximum(1e-12, np.linalg.norm(X_train, axis=-1, keepdims=True))
        X_test = X_test / np.maximum(1e-12, np.linalg.norm(X_test, axis=-1, keepdims=True))
    else:
        scale = np.maximum(1e-8, np.abs(X_train).max(axis=0, keepdims=True))
        X_train, X_test = X_train / scale, X_test / scale
    print("Training SVM...", file=sys.stderr)
    svm = LinearSVC(C=C, random_state=0)
    svm.fit(X_train, np.tile(data.labels_train, augmentation_epochs))
    return _scores_for_all_classes(svm.decision_function(X_test), svm.classes_, data.num_classes)


def _scores_for_all_classes(decision, svm_classes, num_classes):
    """Decision values as (N, num_classes) scores; classes without training images score -inf."""
    decision = np.asarray(decision, dtype=np.float64)
    if decision.ndim == 1:  # binary problem: one value, positive for svm_classes[1]
        decision = np.stack([-decision, decision], axis=1)
    scores = np.full((len(decision), num_classes), -np.inf)
    scores[:, np.asarray(svm_classes, dtype=np.intp)] = decision
    return scores


def centroid_scores(data, model, batch_size, centroids_path):
    """Negative squared Euclidean distance of the test features to every class embedding."""
    centroids = np.asarray(utils.load_class_embedding(centroids_path)["embedding"], dtype=np.float64)
    features = predict(model, test_set_inputs(data, batch_size), "Test features").reshape(data.num_test, -1)
    if features.shape[1] != centroids.shape[1]:
        raise ValueError("--centroids {}: {}-d class embeddings, but the layer gives {}-d features".format(
            centroids_path, centroids.shape[1], features.shape[1]))
    return -(np.sum(features**2, 1)[:, None] - 2 * features @ centroids.T + np.sum(centroids**2, 1)[None, :])


def probability_scores(data, model, batch_size):
    scores = predict(model, test_set_inputs(data, batch_size), "Predicting").reshape(data.num_test, -1)
    if scores.shape[1] < data.num_classes:
        raise ValueError("the layer gives {} class scores, but the dataset has {} classes".format(
            scores.shape[1], data.num_classes))
    return scores


def print_performance(perf, metrics):
    """The original's table: one row per model, one column per metric ('--' where not available)."""
    name_len = max(len(label) for label in perf)
    print()
    print(" | ".join([" " * name_len] + ["{:^6s}".format(metric) for metric in metrics]))
    print("-" * (name_len + sum(3 + max(6, len(metric)) for metric in metrics)))
    for label, results in perf.items():
        cells = ["{:>{}.4f}".format(results[m], max(len(m), 6)) if m in results else "{:>{}s}".format("--", max(len(m), 6))
                 for m in metrics]
        print("{:{}s} | {}".format(label, name_len, " | ".join(cells)))
    print()


def run(args):
    from class_hierarchy import ClassHierarchy
    from datasets import get_data_generator
    from metrics import CLASSIFICATION_METRICS, classification_metrics

    if args.batch_size < 1 or args.augmentation_epochs < 1:
        raise ValueError("--batch_size and --augmentation_epochs must be at least 1")
    if args.C <= 0:
        raise ValueError("--C must be positive, got {}".format(args.C))
    utils.check_output_dir(args.json, "--json")
    embed_labels = utils.load_class_embedding(args.classes_from)["ind2label"] if args.classes_from else None
    data = get_data_generator(args.dataset, args.data_root, classes=embed_labels)
    hierarchy = None
    if args.hierarchy:
        hierarchy = ClassHierarchy.from_file(args.hierarchy, is_a_relations=args.is_a,
                                             id_type=str if args.str_ids else int)
    labels = np.asarray(data.labels_test)

    perf = OrderedDict()
    for i, path in enumerate(args.model):
        label = nth(args.label, i) or os.path.splitext(os.path.basename(path))[0]
        print("-- {} --".format(label), file=sys.stderr)
        model = feature_model(path, nth(args.layer, i))
        if nth(args.prob_features, i, False):
            scores = probability_scores(data, model, args.batch_size)
        elif nth(args.centroids, i):
            scores = centroid_scores(data, model, args.batch_size, nth(args.centroids, i))
        else:
            scores = svm_scores(data, model, args.batch_size, nth(args.norm, i, False), args.augmentation_epochs, args.C)
        perf[label] = classification_metrics(labels, scores, hierarchy, embed_labels)

    print_performance(perf, CLASSIFICATION_METRICS)
    if args.json:
        utils.write_metrics_json(perf, args.json)
    return perf


def main(argv=None):
    with utils.cli_errors():
        run(build_parser().parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
