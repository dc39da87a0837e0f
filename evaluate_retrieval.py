"""Evaluate image retrieval with semantic measures: every test image queries all other test images.

Images are ranked by squared Euclidean distance of their features (or by dot product after L2
normalization with --norm yes) and scored with hierarchical precision P@k and its area AHP (class
similarities WUP and LCS_HEIGHT from --hierarchy) and with classical average precision AP; see
metrics.py for the definitions and the conventions of the original release, which we reproduce.

--binary ranks by the Hamming distance of the features' signs, --pq M by product-quantized features of M
bytes (faiss); the same metrics, ties by image index; the memory per image is printed.

Feature files (--feat, repeatable): the original dump, a pickle of {'feat': {image index: vector}},
read safely, or an .npz with `feat` (and optionally `ids`); the image indices are those of the test
split of --dataset.

From Python: `evaluate_retrieval(features, labels, hierarchy, ...)` scores one feature matrix,
`load_test_labels(dataset, data_root, classes_from)` gives the class ids of a dataset's test images.

Example:
    python evaluate_retrieval.py --dataset CIFAR-100 --data_root /data/cifar-100-python \\
        --hierarchy Cifar-Hierarchy/cifar.parent-child.txt \\
        --feat feat_unitsphere.pickle --label "Unit sphere" --feat feat_softmax.pickle --label Softmax \\
        --clip_ahp 250 --csv hp.csv --json metrics.json --plot hp.png
"""

import os
import zipfile
from collections import OrderedDict

import numpy as np

import cli
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
        raise cli.UsageError("{}: cannot read the feature file: {}".format(path, e)) from None
    except ValueError as e:
        # e.g. numpy's "all input arrays must have the same shape" for vectors of different lengths
        if path in str(e):
            raise
        raise cli.UsageError("{}: {}".format(path, e)) from None
    features = np.asarray(features)
    if features.ndim != 2:
        raise cli.UsageError("{}: expected one feature vector per image, got an array of shape {}".format(
            path, features.shape))
    if len(ids) != num_images:
        raise cli.UsageError("{}: {} feature vectors, but the test split of {} has {} images".format(
            path, len(ids), dataset, num_images))
    try:
        index = np.array([int(i) if isinstance(i, (int, np.integer)) and not isinstance(i, bool) else -1
                          for i in ids], dtype=np.int64)
    except OverflowError:
        index = np.full(len(ids), -1)
    bad = (index < 0) | (index >= num_images)
    if bad.any():
        raise cli.UsageError("{}: image id {!r} is not an index of the {} test images".format(
            path, ids[int(np.flatnonzero(bad)[0])], num_images))
    if len(np.unique(index)) != num_images:
        counts = np.bincount(index, minlength=num_images)
        raise cli.UsageError("{}: image {} has {} feature vectors".format(path, int(np.argmax(counts)), counts.max()))
    if not np.issubdtype(features.dtype, np.number):
        raise cli.UsageError("{}: features are not numbers (dtype {})".format(path, features.dtype))
    ordered = np.empty_like(features)
    ordered[index] = features
    finite = np.isfinite(ordered).all(axis=1)
    if not finite.all():
        raise cli.UsageError("{}: the feature vector of image {} contains NaN or inf".format(
            path, int(np.flatnonzero(~finite)[0])))
    return ordered


# ---------------------------------------------------------------------------
# Library functions (plain arguments)
# ---------------------------------------------------------------------------


def load_test_set(dataset, data_root=None, classes_from=None, hierarchy=None, hierarchy_file=None, **dataset_kwargs):
    """`(image_classes, class_order)` of the test split of `dataset`: the class id (hierarchy node) of every
    test image, in image-index order, and the class id of every label (the order of a model's outputs).

    classes_from - optional class-embedding file: the dataset is restricted to its `ind2label` classes,
                   numbered in that order (as the model was trained).
    hierarchy - optional `ClassHierarchy`: UsageError naming a class that is not in it (`hierarchy_file`).
    dataset_kwargs - further arguments of `datasets.get_data_generator` (image_size, test_split, ...).
    """
    from datasets import load_labels  # labels and class list only: no image decoding, no deep-learning framework

    embed_labels = utils.load_class_embedding(classes_from)["ind2label"] if classes_from else None
    labels, ids_by_label = load_labels(dataset, data_root, split="test", classes=embed_labels, **dataset_kwargs)
    image_classes = cli.class_ids(ids_by_label, np.asarray(labels).tolist(), hierarchy, hierarchy_file)
    return image_classes, cli.class_ids(ids_by_label)


def load_test_labels(dataset, data_root=None, classes_from=None, hierarchy=None, hierarchy_file=None,
                     **dataset_kwargs):
    """The class id (hierarchy node) of every test image of `dataset`, in image-index order (see `load_test_set`)."""
    return load_test_set(dataset, data_root, classes_from, hierarchy, hierarchy_file, **dataset_kwargs)[0]


def check_feature_class_order(path, class_order, dataset="the dataset"):
    """UsageError when the feature dump `path` stores a class order (the model's) other than `class_order`."""
    cli.check_class_order(utils.load_feature_class_ids(path), class_order, "--feat {}".format(path),
                          "the test split of {}".format(dataset))


def check_retrieval_size(num_images, ks, clip_ahp=None, dataset="the test set"):
    """UsageError, before any computation, when `num_images` are too few for the cut-off points."""
    if num_images <= max(TABLE_KS):
        raise cli.UsageError(
            "{} has {} images, but retrieval scores P@{} of every image against all others: it needs at least {} "
            "test images".format(dataset, num_images, max(TABLE_KS), max(TABLE_KS) + 1))
    kmax = max(list(ks) + [clip_ahp or 0])
    if kmax > num_images - 1:
        flag = "--clip_ahp" if clip_ahp and clip_ahp == kmax else "--plot_max"
        raise cli.UsageError("{} {} needs more than the {} images of {}: use at most {}".format(
            flag, kmax, num_images, dataset, num_images - 1))


def _float_vectors(features, normalize, pq_bytes, seed):
    return features, normalize


def _binary_vectors(features, normalize, pq_bytes, seed):
    from search.codes import sign_codes

    # +-1 codes ranked by squared Euclidean distance = 4 x Hamming distance, exact in float32 (search.codes).
    return sign_codes(features), False


def _pq_vectors(features, normalize, pq_bytes, seed):
    from search.pq import pq_reconstruct

    if normalize:  # quantize the unit vectors that would be ranked
        features = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    return pq_reconstruct(features, pq_bytes, seed=seed), normalize


# How the features are ranked: name -> (vectors to rank and whether to L2-normalize them, bytes per image of
# the stored representation for a D-dimensional feature and --pq M).
RANKINGS = OrderedDict([
    ("float", (_float_vectors, lambda dim, pq_bytes: 4 * dim)),
    ("binary", (_binary_vectors, lambda dim, pq_bytes: (dim + 7) // 8)),
    ("pq", (_pq_vectors, lambda dim, pq_bytes: pq_bytes)),
])


def check_ranking(ranking, dim, pq_bytes=None, what="features"):
    """UsageError naming the value unless features of `dim` dimensions can be ranked as `ranking`."""
    if ranking not in RANKINGS:
        raise cli.UsageError("unknown ranking {!r}: choose from {}".format(ranking, ", ".join(RANKINGS)))
    if ranking == "pq":
        from search.pq import check_pq

        if pq_bytes is None:
            raise cli.UsageError("PQ ranking needs a code size in bytes (--pq M)")
        try:
            check_pq(dim, pq_bytes)
        except ValueError as e:
            raise cli.UsageError("--pq {} for {}: {}".format(pq_bytes, what, e)) from None


def bytes_per_image(ranking, dim, pq_bytes=None):
    """Memory of one image's stored representation: 4 D (float32), ceil(D / 8) (sign bits) or M (PQ)."""
    return RANKINGS[ranking][1](dim, pq_bytes)


def evaluate_retrieval(features, labels, hierarchy, plot_max=250, clip_ahp=None, norm=False, compute_ap=True,
                       ranking="float", pq_bytes=None, seed=0, evaluator=None, progress=False, desc=None):
    """Retrieval metrics of `features` (every image a query against all others), as the script computes them.

    features - (N, D) array, row i the feature vector of image i.
    labels - class id (hierarchy node) of every image; hierarchy - a `ClassHierarchy`.
    plot_max - P@k for k = 1..plot_max (plus 1, 10, 50, 100); clip_ahp - K for AHP@K (None: the full AHP).
    norm - L2-normalize and rank by dot product; evaluator - a `metrics.RetrievalEvaluator` of `labels` to reuse.
    ranking - "float": the features; "binary": the signs of the features, by Hamming distance; "pq": the
              features product-quantized to `pq_bytes` bytes (faiss, k-means with `seed`), queries quantized too.
              Equal distances are ranked by image index in every case.

    Returns an ordered dict {metric name: mean over the queries}, names as `table_metrics` and the CSV use.
    """
    if clip_ahp is not None and clip_ahp < 1:
        raise cli.UsageError("clip_ahp must be a positive number of positions, got {}".format(clip_ahp))
    ks = retrieval_ks(plot_max)
    check_retrieval_size(len(labels), ks, clip_ahp)
    features = np.asarray(features)
    check_ranking(ranking, features.shape[-1], pq_bytes)
    vectors, norm = RANKINGS[ranking][0](features, norm, pq_bytes, seed)
    evaluator = evaluator or metrics.RetrievalEvaluator(hierarchy, labels)
    return evaluator.evaluate(vectors, ks=ks, compute_ahp=clip_ahp or True, compute_ap=compute_ap, norm=norm,
                              progress=progress, desc=desc)


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def build_parser():
    parser = cli.make_parser(
        "Evaluates hierarchical precision of nearest neighbour search performed on different image embeddings: "
        "every test image queries all others.")
    group = cli.add_dataset_arguments(parser, classes="classes_from")
    cli.add_hierarchy_arguments(group, required=True)
    group = parser.add_argument_group("Features")
    group.add_argument("--feat", type=str, action="append", required=True, metavar="FILE",
                       help="Feature dump: a pickle file with a dictionary {'feat': {image index: vector}}, or an "
                            ".npz with 'feat' (and 'ids'). Repeat for several feature sets.")
    group.add_argument("--label", type=str, action="append", metavar="NAME",
                       help="Name of the corresponding --feat in the table (default: its file name).")
    group.add_argument("--norm", type=cli.str2bool, action="append", metavar="yes|no",
                       help="Whether to L2-normalize the corresponding --feat and rank by dot product (default: no).")
    group = parser.add_argument_group("Compressed features (ranked with the same metrics; ties by image index)")
    codes = group.add_mutually_exclusive_group()
    codes.add_argument("--binary", action="store_true", default=False,
                       help="Rank by the Hamming distance of the features' signs (one bit per dimension).")
    codes.add_argument("--pq", type=cli.positive_int, default=None, metavar="M",
                       help="Rank product-quantized features of M bytes per image (faiss; 8-bit sub-quantizers "
                            "trained on the features themselves, queries quantized too).")
    group = cli.add_output_arguments(parser, "csv", "json", "plot")
    group.add_argument("--plot_max", type=int, default=250, metavar="K",
                       help="Compute (and plot) hierarchical precision up to this number of retrieved images.")
    group.add_argument("--prec_type", type=str, default="LCS_HEIGHT", choices=metrics.PREC_TYPES,
                       help="Measure for semantic similarity between classes used for --csv and --plot.")
    group.add_argument("--clip_ahp", type=int, default=None, metavar="K",
                       help="Compute AHP over the first K positions of each ranking (AHP@K) instead of all.")
    return parser


def check_args(args):
    """UsageError naming the flag for bad values, before any file is read."""
    if args.plot_max < 0:
        raise cli.UsageError("--plot_max must be >= 0, got {}".format(args.plot_max))
    if args.clip_ahp is not None and args.clip_ahp < 1:
        raise cli.UsageError("--clip_ahp must be a positive number of positions, got {}".format(args.clip_ahp))
    for flag in ("label", "norm"):
        cli.check_repeated("--" + flag, getattr(args, flag), "--feat", len(args.feat))
    cli.check_output_paths(args, "csv", "json", "plot")


def feature_set_names(feat_paths, labels=None):
    """The table name of every --feat: its --label, or its file name; UsageError for duplicates."""
    names = []
    for i, path in enumerate(feat_paths):
        name = cli.nth(labels, i) or os.path.splitext(os.path.basename(path))[0]
        if name in names:
            raise cli.UsageError("two feature sets are labelled {!r}: give distinct --label".format(name))
        names.append(name)
    return names


def main(argv=None):
    args = build_parser().parse_args(argv)
    with cli.cli_errors():
        check_args(args)
        names = feature_set_names(args.feat, args.label)
        hierarchy = cli.load_hierarchy(args.hierarchy, args.is_a, args.str_ids)
        labels, class_order = load_test_set(args.dataset, args.data_root, args.classes_from, hierarchy,
                                            "--hierarchy " + args.hierarchy, **cli.dataset_kwargs(args))
        check_retrieval_size(len(labels), retrieval_ks(args.plot_max), args.clip_ahp,
                             "the test split of " + args.dataset)
        # All feature files are read and checked before the (long) evaluation starts.
        feature_sets = OrderedDict(
            (name, (load_feature_matrix(path, len(labels), args.dataset), cli.nth(args.norm, i, False)))
            for i, (name, path) in enumerate(zip(names, args.feat)))
        ranking = "binary" if args.binary else "pq" if args.pq else "float"
        for path, (features, _) in zip(args.feat, feature_sets.values()):
            check_feature_class_order(path, class_order, args.dataset)
            check_ranking(ranking, features.shape[1], args.pq, path)
        evaluator = metrics.RetrievalEvaluator(hierarchy, labels)
        perf = OrderedDict(
            (name, evaluate_retrieval(features, labels, hierarchy, args.plot_max, args.clip_ahp, normalize,
                                      ranking=ranking, pq_bytes=args.pq, evaluator=evaluator, progress=True,
                                      desc=name))
            for name, (features, normalize) in feature_sets.items())
        print()
        print(format_performance(perf, table_metrics(args.clip_ahp)))
        print()
        if ranking != "float":
            for name, (features, _) in feature_sets.items():
                print("Memory per image of {}: {} bytes ({}; float32 features: {} bytes)".format(
                    name, bytes_per_image(ranking, features.shape[1], args.pq),
                    "sign bits" if ranking == "binary" else "PQ codes", 4 * features.shape[1]))
            print()
        if args.csv:
            write_csv(perf, args.csv, args.prec_type)
        if args.json:
            utils.write_metrics_json(perf, args.json)
        if args.plot:
            plot_performance(perf, args.plot, args.plot_max, args.prec_type, args.clip_ahp)
    return perf


if __name__ == "__main__":
    main()
