"""Evaluate image retrieval with semantic measures: every test image queries all other test images.

Images are ranked by squared Euclidean distance of their features (or by dot product after L2
normalization with --norm yes) and scored with hierarchical precision P@k and its area AHP (class
similarities WUP and LCS_HEIGHT from --hierarchy) and with classical average precision AP; see
metrics.py for the definitions and the conventions of the original release, which we reproduce.

Feature files (--feat, repeatable): the original dump, a pickle of {'feat': {image index: vector}},
read safely, or an .npz with `feat` (and optionally `ids`); the image indices are those of the test
split of --dataset.

Example:
    python evaluate_retrieval.py --dataset CIFAR-100 --data_root /data/cifar-100-python \\
        --hierarchy Cifar-Hierarchy/cifar.parent-child.txt \\
        --feat feat_unitsphere.pickle --label "Unit sphere" --feat feat_softmax.pickle --label Softmax \\
        --clip_ahp 250 --csv hp.csv --json metrics.json --plot hp.png
"""

import argparse
import os
import zipfile
from collections import OrderedDict

import numpy as np

import metrics
import utils

# The k that the table always shows.
TABLE_KS = (1, 10, 50, 100)


def retrieval_ks(plot_max):
    """k = 1..plot_max, plus those of TABLE_KS beyond it (as the original script)."""
    ks = list(range(1, plot_max + 1))
    ks += [k for k in TABLE_KS if k > plot_max]
    return ks


def table_metrics(clip_ahp=None):
    """Columns of the printed table: P@1, 10, 50, 100 and AHP per similarity, then AP.

    (The original printed "AHP@250" whatever --clip_ahp was, and failed for other values.)
    """
    ahp = int(clip_ahp) if clip_ahp else True
    return [name for t in metrics.PREC_TYPES
            for name in ["P@{} ({})".format(k, t) for k in TABLE_KS] + [metrics.ahp_name(ahp, t)]] + ["AP"]


def format_performance(perf, columns):
    """The original's table: a header row, a rule, one row per feature set, values with 4 decimals."""
    name_width = max(len(label) for label in perf)
    lines = [" | ".join([" " * name_width] + ["{:^6s}".format(m) for m in columns]),
             "-" * (name_width + sum(3 + max(6, len(m)) for m in columns))]
    for label, results in perf.items():
        lines.append("{:{}s} | {}".format(label, name_width, " | ".join(
            "{:>{}.4f}".format(results[m], max(len(m), 6)) for m in columns)))
    return "\n".join(lines)


def write_csv(perf, path, prec_type="LCS_HEIGHT"):
    """HP@k per feature set, `k;label1;label2...` then one row per k (original format, ';'-separated)."""
    lines = ["k;" + ";".join(perf) + "\n"]
    k = 1
    while all("P@{} ({})".format(k, prec_type) in results for results in perf.values()):
        lines.append("{};{}\n".format(k, ";".join(str(results["P@{} ({})".format(k, prec_type)])
                                                  for results in perf.values())))
        k += 1
    with utils.atomic_write(path, "w") as f:
        f.writelines(lines)


def plot_performance(perf, path, kmax=250, prec_type="LCS_HEIGHT", clip_ahp=None):
    """HP@k curves up to kmax and the mean AHP per feature set as bars, into an image file."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_curve, ax_bar) = plt.subplots(1, 2, figsize=(12, 4.5))
    if kmax > 0:
        ks = np.arange(1, kmax + 1)
        min_prec = 1.0
        for label, results in perf.items():
            precs = [results["P@{} ({})".format(k, prec_type)] for k in ks]
            ax_curve.plot(ks, precs, label=label)
            min_prec = min(min_prec, np.nanmin(precs))
        ax_curve.set_xlim(0, kmax)
        min_prec = np.floor(min_prec * 20) / 20
        ax_curve.set_ylim(min_prec if min_prec >= 0.3 else 0, 1)
        ax_curve.legend(fontsize="x-small")
    ax_curve.set_xlabel("k")
    ax_curve.set_ylabel("Hierarchical Precision ({})".format(prec_type))
    ax_curve.grid()

    ahp_metric = metrics.ahp_name(int(clip_ahp) if clip_ahp else True, prec_type)
    for i, (label, results) in enumerate(perf.items()):
        mahp = results[ahp_metric]
        ax_bar.barh(i + 0.5, mahp, 0.8)
        ax_bar.text(0.01, i + 0.5, label, va="center", ha="left", color="white", fontsize="small")
        ax_bar.text(mahp - 0.01, i + 0.5, "{:.1%}".format(mahp), va="center", ha="right", color="white")
    ax_bar.set_xlabel("Mean " + ahp_metric)
    ax_bar.set_yticks([])
    ax_bar.grid(axis="x")
    fig.tight_layout()
    ext = os.path.splitext(path)[1].lstrip(".").lower() or "png"
    with utils.atomic_write(path, "wb") as f:
        fig.savefig(f, format=ext)
    plt.close(fig)


def load_feature_matrix(path, num_images, dataset):
    """Features of a dump as an (N, D) array in test-image order; ValueError naming the file otherwise."""
    try:
        ids, features = utils.load_features(path)
    except (zipfile.BadZipFile, EOFError) as e:
        raise ValueError("{}: cannot read the feature file: {}".format(path, e)) from None
    features = np.asarray(features)
    if features.ndim != 2:
        raise ValueError("{}: expected one feature vector per image, got an array of shape {}".format(
            path, features.shape))
    if len(ids) != num_images:
        raise ValueError("{}: {} feature vectors, but the test split of {} has {} images".format(
            path, len(ids), dataset, num_images))
    try:
        index = np.array([int(i) if isinstance(i, (int, np.integer)) and not isinstance(i, bool) else -1
                          for i in ids], dtype=np.int64)
    except OverflowError:
        index = np.full(len(ids), -1)
    bad = (index < 0) | (index >= num_images)
    if bad.any():
        raise ValueError("{}: image id {!r} is not an index of the {} test images".format(
            path, ids[int(np.flatnonzero(bad)[0])], num_images))
    if len(np.unique(index)) != num_images:
        counts = np.bincount(index, minlength=num_images)
        raise ValueError("{}: image {} has {} feature vectors".format(path, int(np.argmax(counts)), counts.max()))
    if not np.issubdtype(features.dtype, np.number):
        raise ValueError("{}: features are not numbers (dtype {})".format(path, features.dtype))
    ordered = np.empty_like(features)
    ordered[index] = features
    finite = np.isfinite(ordered).all(axis=1)
    if not finite.all():
        raise ValueError("{}: the feature vector of image {} contains NaN or inf".format(
            path, int(np.flatnonzero(~finite)[0])))
    return ordered


def build_parser():
    parser = argparse.ArgumentParser(
        description="Evaluates hierarchical precision of nearest neighbour search performed on different image "
                    "embeddings.", formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    group = parser.add_argument_group("Dataset")
    group.add_argument("--dataset", type=str, required=True, help="Training dataset (e.g. CIFAR-100, ILSVRC).")
    group.add_argument("--data_root", type=str, required=True, help="Root directory of the dataset.")
    group.add_argument("--hierarchy", type=str, required=True,
                       help="Path to a file containing parent-child relationships (one per line).")
    group.add_argument("--is_a", action="store_true", default=False,
                       help="If given, --hierarchy is assumed to contain is-a instead of parent-child relationships.")
    group.add_argument("--str_ids", action="store_true", default=False,
                       help="If given, class IDs are treated as strings instead of integers.")
    group.add_argument("--classes_from", type=str, default=None,
                       help="Optionally, a class-embedding file (pickle dump or .npz) whose \"ind2label\" specifies "
                            "the classes to be considered.")
    group = parser.add_argument_group("Features")
    group.add_argument("--feat", type=str, action="append", required=True,
                       help="Feature dump: a pickle file with a dictionary {'feat': {image index: vector}}, or an "
                            ".npz with 'feat' (and 'ids'). Repeat for several feature sets.")
    group.add_argument("--label", type=str, action="append", help="Label for the corresponding features.")
    group.add_argument("--norm", type=utils.str2bool, action="append",
                       help="Whether to L2-normalize the corresponding features or not (defaults to False).")
    group = parser.add_argument_group("Output")
    group.add_argument("--plot_max", type=int, default=250,
                       help="Compute (and plot) hierarchical precision up to this number of retrieved images.")
    group.add_argument("--prec_type", type=str, default="LCS_HEIGHT",
                       help="Measure for semantic similarity between classes used for --csv and --plot: "
                            + " or ".join(metrics.PREC_TYPES) + ".")
    group.add_argument("--clip_ahp", type=int, default=None, help="If given, clip ranking at this position for "
                                                                  "computing AHP.")
    group.add_argument("--csv", type=str, default=None,
                       help="Name of a CSV file where hierarchical precision at every k will be written to.")
    group.add_argument("--json", type=str, default=None, help="Name of a JSON file where all metrics are written to.")
    group.add_argument("--plot", type=str, default=None,
                       help="Name of an image file (e.g. .png) for the HP@k curves and the mean AHP bar chart.")
    return parser


def check_args(args):
    if args.prec_type not in metrics.PREC_TYPES:
        raise ValueError("unknown metric type {!r} for --prec_type: choose from {}".format(
            args.prec_type, ", ".join(metrics.PREC_TYPES)))
    if args.plot_max < 0:
        raise ValueError("--plot_max must be >= 0, got {}".format(args.plot_max))
    if args.clip_ahp is not None and args.clip_ahp < 0:
        raise ValueError("--clip_ahp must be a positive number of positions, got {}".format(args.clip_ahp))
    for flag, path in (("--csv", args.csv), ("--json", args.json), ("--plot", args.plot)):
        utils.check_output_dir(path, flag)


def load_test_labels(args):
    """Class ids (hierarchy nodes) of the test images of --dataset, mapped through --classes_from."""
    from datasets import get_data_generator

    embed_labels = utils.load_class_embedding(args.classes_from)["ind2label"] if args.classes_from else None
    data_generator = get_data_generator(args.dataset, args.data_root, classes=embed_labels)
    labels = np.asarray(data_generator.labels_test).tolist()  # Python ints (or strings)
    if embed_labels is not None:
        labels = [embed_labels[lbl] for lbl in labels]
    return labels


def main(argv=None):
    args = build_parser().parse_args(argv)
    with utils.cli_errors():
        check_args(args)
        from class_hierarchy import ClassHierarchy

        hierarchy = ClassHierarchy.from_file(args.hierarchy, is_a_relations=args.is_a,
                                             id_type=str if args.str_ids else int)
        labels = load_test_labels(args)
        ks = retrieval_ks(args.plot_max)
        if max(ks) > len(labels) - 1:
            raise ValueError("P@{} needs more than the {} test images of {}: lower --plot_max".format(
                max(ks), len(labels), args.dataset))
        clip_ahp = args.clip_ahp or None
        # All feature files are read and checked before the (long) evaluation starts.
        feature_sets = OrderedDict()
        for i, path in enumerate(args.feat):
            name = args.label[i] if args.label and i < len(args.label) else os.path.splitext(os.path.basename(path))[0]
            normalize = args.norm[i] if args.norm and i < len(args.norm) else False
            if name in feature_sets:
                raise ValueError("two feature sets are labelled {!r}: give distinct --label".format(name))
            feature_sets[name] = (load_feature_matrix(path, len(labels), args.dataset), normalize)
        evaluator = metrics.RetrievalEvaluator(hierarchy, labels)
        perf = OrderedDict()
        for name, (features, normalize) in feature_sets.items():
            perf[name] = evaluator.evaluate(features, ks=ks, compute_ahp=clip_ahp or True, compute_ap=True,
                                            norm=normalize, progress=True, desc=name)
        print()
        print(format_performance(perf, table_metrics(clip_ahp)))
        print()
        if args.csv:
            write_csv(perf, args.csv, args.prec_type)
        if args.json:
            utils.write_metrics_json(perf, args.json)
        if args.plot:
            plot_performance(perf, args.plot, args.plot_max, args.prec_type, clip_ahp)
    return perf


if __name__ == "__main__":
    main()
