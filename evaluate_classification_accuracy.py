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
of predicted and true class), Mistake Severity and Hierarchical Distance@k (LCA heights in edges,
see metrics/hierarchical.py). `--crm` ranks the classes by their expected LCA height under the
predicted probabilities (conditional risk minimization, Karthik et al. 2021) instead of by score.

Class column i of a model is the dataset's class i: the dataset's class ids (restricted to and
ordered as the `ind2label` of `--classes_from` where given) name the hierarchy nodes, as in the
original release.

From Python: `class_scores(data, model_path, ...)` gives a model's (N, C) class scores,
`evaluate_classification(scores, labels, hierarchy, class_ids, crm=...)` the metrics.
"""

import os
import sys
from collections import OrderedDict

import numpy as np

import cli
import utils


# ---------------------------------------------------------------------------
# Scores of a model (Keras is imported only here)
# ---------------------------------------------------------------------------


def feature_model(path, layer=None):
    """The model in `path`, cut at `layer` (name or index; default: its first output)."""
    import keras

    if not os.path.isfile(path):
        raise cli.UsageError("--model {}: no such file".format(path))
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as e:  # noqa: BLE001 -- any reason a file is not a loadable model
        raise cli.UsageError("--model {}: cannot load model: {}".format(path, cli.error_line(e))) from None
    if layer is None:
        return keras.Model(model.inputs, model.outputs[0])
    try:
        target = model.layers[int(layer)]
    except IndexError:
        raise cli.UsageError("--layer {}: {} has {} layers".format(layer, path, len(model.layers))) from None
    except ValueError:
        try:
            target = model.get_layer(layer)
        except ValueError:
            raise cli.UsageError("--layer {}: no such layer in {}".format(layer, path)) from None
    return keras.Model(model.inputs, target.output)


def output_width(model):
    """Values per image of a model's output (its last axis; all axes but the batch one for other shapes)."""
    shape = tuple(model.outputs[0].shape)[1:]
    return int(np.prod(shape)) if all(d is not None for d in shape) else None


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


def model_class_ids(path):
    """The class order stored in a model file by this project's training (class id of every output column),
    or None for files without it (the original's, the previous version's)."""
    from models.model_info import read_class_ids

    return read_class_ids(path)


def load_centroids(path, num_classes=None):
    """Class embeddings of a --centroids file as float64 (C, D); UsageError naming the file and row."""
    try:
        centroids = np.asarray(utils.load_class_embedding(path)["embedding"])
    except ValueError as e:
        raise cli.UsageError("--centroids {}".format(cli.error_line(e))) from None
    if not np.issubdtype(centroids.dtype, np.number):
        raise cli.UsageError("--centroids {}: the embedding is not numeric (dtype {})".format(path, centroids.dtype))
    centroids = centroids.astype(np.float64)
    finite = np.isfinite(centroids).all(axis=1)
    if not finite.all():
        raise cli.UsageError("--centroids {}: the embedding of class index {} contains NaN or inf".format(
            path, int(np.flatnonzero(~finite)[0])))
    if num_classes is not None and len(centroids) != num_classes:
        raise cli.UsageError("--centroids {}: {} class embeddings, but the dataset has {} classes".format(
            path, len(centroids), num_classes))
    return centroids


def centroid_scores(data, model, batch_size, centroids):
    """Negative squared Euclidean distance of the test features to every class embedding (rows of `centroids`)."""
    features = predict(model, test_set_inputs(data, batch_size), "Test features").reshape(data.num_test, -1)
    return -(np.sum(features**2, 1)[:, None] - 2 * features @ centroids.T + np.sum(centroids**2, 1)[None, :])


def class_scores(data, model_path, layer=None, prob_features=False, centroids=None, normalize=False, batch_size=100,
                 augmentation_epochs=1, C=0.1, desc="Predicting"):
    """(N, C) class scores of the test images of `data` by the model in `model_path`, higher is better.

    prob_features - the layer's outputs are the class scores (one per class of `data`);
    centroids - else: a (C, D) array or class-embedding file, scores = -squared distance to each row;
    else a linear SVM on the layer's features (normalize: L2 instead of max-abs scaling).
    Raises UsageError before predicting when the layer's width does not fit.
    """
    model = feature_model(model_path, layer)
    width = output_width(model)
    where = "--model {}{}".format(model_path, " --layer {}".format(layer) if layer is not None else "")
    if prob_features:
        if width is not None and width != data.num_classes:
            raise cli.UsageError("{}: the layer gives {} class scores, but the dataset has {} classes".format(
                where, width, data.num_classes))
        return predict(model, test_set_inputs(data, batch_size), desc).reshape(data.num_test, -1)
    if centroids is not None:
        if isinstance(centroids, str):
            centroids = load_centroids(centroids, data.num_classes)
        if width is not None and width != centroids.shape[1]:
            raise cli.UsageError("{}: the layer gives {}-d features, but the class embeddings are {}-d".format(
                where, width, centroids.shape[1]))
        return centroid_scores(data, model, batch_size, centroids)
    return svm_scores(data, model, batch_size, normalize, augmentation_epochs, C)


# ---------------------------------------------------------------------------
# Metrics (plain arguments)
# ---------------------------------------------------------------------------


def evaluate_classification(scores, labels, hierarchy=None, class_ids=None, crm=False, distance_ks=None):
    """Classification metrics of (N, C) `scores` for the true class indices `labels`.

    hierarchy - a `ClassHierarchy` for the hierarchical metrics; class_ids - its node of every class index.
    crm - rank the classes by expected LCA height under `scores` (softmax probabilities) instead of by score.
    distance_ks - the k of "Hierarchical Distance@k" (default 1, 5, 20 up to the number of classes).
    """
    import metrics

    if crm:
        if hierarchy is None:
            raise cli.UsageError("--crm ranks classes by their expected LCA height: it needs --hierarchy")
        from metrics.hierarchical import crm_scores, lca_heights

        ids = list(range(np.shape(scores)[1])) if class_ids is None else list(class_ids)
        scores = crm_scores(scores, lca_heights(hierarchy, ids))
    extra = {} if distance_ks is None else {"distance_ks": distance_ks}
    return metrics.classification_metrics(labels, scores, hierarchy, class_ids, **extra)


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


def table_columns(perf):
    """The original's four columns, then every further metric in the order of first appearance."""
    from metrics import CLASSIFICATION_METRICS

    columns = list(CLASSIFICATION_METRICS)
    for results in perf.values():
        columns += [m for m in results if m not in columns]
    return columns


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

# Flags given once per --model (the i-th belongs to the i-th model).
PER_MODEL_FLAGS = ("layer", "label", "norm", "prob_features", "centroids")


def build_parser():
    from models import ARCHITECTURES

    parser = cli.make_parser(
        "Trains a linear SVM on different image embeddings (or uses class scores or the nearest class embedding) and "
        "evaluates flat and hierarchical accuracy.")
    group = cli.add_dataset_arguments(parser, classes="classes_from")
    cli.add_hierarchy_arguments(group, required=False,
                                help="A file of parent-child relationships of the class taxonomy (one pair per "
                                     "line); needed for the hierarchical metrics and --crm.")
    group.add_argument("--augmentation_epochs", type=int, default=1, metavar="N",
                       help="Number of augmented passes over the training images for the SVM.")
    group.add_argument("--C", type=float, default=0.1, metavar="WEIGHT", help="Weight of the error in the SVM loss.")
    group.add_argument("--batch_size", type=int, default=100, metavar="N", help="Batch size for feature extraction.")
    group = parser.add_argument_group("Features")
    group.add_argument("--architecture", type=str, default="simple", choices=ARCHITECTURES, metavar="NAME",
                       help="Ignored: kept for old command lines (custom layers are registered).")
    group.add_argument("--model", type=str, action="append", required=True, metavar="FILE",
                       help="A saved Keras model used for extracting image features (repeatable).")
    group.add_argument("--layer", type=str, action="append", metavar="NAME|INDEX",
                       help="Layer to extract features from (default: the model's first output).")
    group.add_argument("--label", type=str, action="append", metavar="NAME",
                       help="Name of the corresponding --model in the table (default: its file name).")
    group.add_argument("--norm", type=cli.str2bool, action="append", metavar="yes|no",
                       help="Whether to L2-normalize the corresponding features for the SVM (default: no).")
    group.add_argument("--prob_features", type=cli.str2bool, action="append", metavar="yes|no",
                       help="Whether to use the extracted features as class probabilities instead of training an SVM.")
    group.add_argument("--centroids", type=str, action="append", metavar="EMBEDDING",
                       help='A class-embedding file (pickle dump with an item "embedding", or .npz) of class centroids '
                            "for nearest-neighbour classification of the corresponding --model.")
    group = parser.add_argument_group("Hierarchy-aware metrics")
    group.add_argument("--crm", action="store_true", default=False,
                       help="Rank the classes by expected LCA height under the predicted probabilities (conditional "
                            "risk minimization); needs --hierarchy and --prob_features yes.")
    group.add_argument("--distance_ks", type=int, nargs="+", default=None, metavar="K",
                       help="The k of Hierarchical Distance@k (default: 1, 5 and 20, those up to the number of "
                            "classes).")
    cli.add_output_arguments(parser, "json")
    return parser


def check_args(args):
    """UsageError naming the flag for bad values, before any file is read."""
    if args.batch_size < 1 or args.augmentation_epochs < 1:
        raise cli.UsageError("--batch_size and --augmentation_epochs must be at least 1")
    if args.C <= 0:
        raise cli.UsageError("--C must be positive, got {}".format(args.C))
    for flag in PER_MODEL_FLAGS:
        cli.check_repeated("--" + flag, getattr(args, flag), "--model", len(args.model))
    if args.crm:
        if not args.hierarchy:
            raise cli.UsageError("--crm ranks classes by their expected LCA height: it needs --hierarchy")
        for i, path in enumerate(args.model):
            if not cli.nth(args.prob_features, i, False):
                raise cli.UsageError("--crm needs class probabilities: give --prob_features yes for --model {}".format(
                    path))
    if args.distance_ks is not None:
        if not args.hierarchy:
            raise cli.UsageError("--distance_ks needs --hierarchy")
        bad = [k for k in args.distance_ks if k < 1]
        if bad:
            raise cli.UsageError("--distance_ks {}: k must be at least 1".format(bad[0]))
    for path in args.model:
        if not os.path.isfile(path):
            raise cli.UsageError("--model {}: no such file".format(path))
    cli.check_output_paths(args, "json")


def run(args):
    """The script on parsed arguments: scores of every model, the table, --json. Returns {label: metrics}."""
    from datasets import get_data_generator

    check_args(args)
    embed_labels = utils.load_class_embedding(args.classes_from)["ind2label"] if args.classes_from else None
    hierarchy = cli.hierarchy_from_args(args)
    data = get_data_generator(args.dataset, args.data_root, classes=embed_labels, **cli.dataset_kwargs(args))
    class_ids = cli.class_ids(data, hierarchy=hierarchy, source="--hierarchy {}".format(args.hierarchy))
    if args.distance_ks is not None and max(args.distance_ks) > data.num_classes:
        raise cli.UsageError("--distance_ks {}: k exceeds the {} classes of {}".format(
            max(args.distance_ks), data.num_classes, args.dataset))
    # Every model's class order and every centroid file are checked before the first model runs.
    for path in args.model:
        cli.check_class_order(model_class_ids(path), class_ids, "--model {}".format(path), "--dataset {}".format(
            args.dataset))
    centroids = [load_centroids(path, data.num_classes) if path else None
                 for path in (cli.nth(args.centroids, i) for i in range(len(args.model)))]
    labels = np.asarray(data.labels_test)

    perf = OrderedDict()
    for i, path in enumerate(args.model):
        label = cli.nth(args.label, i) or os.path.splitext(os.path.basename(path))[0]
        print("-- {} --".format(label), file=sys.stderr)
        scores = class_scores(data, path, cli.nth(args.layer, i), cli.nth(args.prob_features, i, False), centroids[i],
                              cli.nth(args.norm, i, False), args.batch_size, args.augmentation_epochs, args.C)
        perf[label] = evaluate_classification(scores, labels, hierarchy, class_ids, args.crm, args.distance_ks)

    print_performance(perf, table_columns(perf))
    if args.json:
        utils.write_metrics_json(perf, args.json)
    return perf


def main(argv=None):
    args = build_parser().parse_args(argv)
    with cli.cli_errors():
        run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
