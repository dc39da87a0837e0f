#!/usr/bin/env python
"""Helpers of the demo (`make demo`, `scripts/demo.sh`): a class-balanced Fashion-MNIST subset, and the
report comparing semantic embeddings with classification features.

    python demo_report.py subset --source /usr/share/datasets/fashion-mnist --out DIR \\
        --train_per_class 1000 --test_per_class 500
    python demo_report.py report --dataset Fashion-MNIST --data_root DIR \\
        --hierarchy Fashion-MNIST-Hierarchy/fashion-mnist.parent-child.txt \\
        --metrics retrieval.json --metrics accuracy.json --hp_csv hp.csv \\
        --feat "Semantic Embeddings=sem.pickle" --feat "Classification=cls.pickle" --out demo-output

`report` writes `summary.json`, `summary.md`, `hp_curves.png` and `retrieval_examples.png`. Its figures
are read from the outputs of the evaluation scripts, never recomputed: the `--json` files of
evaluate_retrieval.py and evaluate_classification_accuracy.py (`--metrics`) and the HP@k curves of
`evaluate_retrieval.py --csv` (`--hp_csv`); the features only choose the example images.
"""

import gzip
import json
import os
import sys

import numpy as np

import cli
import utils

# The figures the summary reports per method, in this order (names as evaluate_retrieval.py writes them).
# The five columns of README's demo table (all "higher is better" fractions); AP is shown as mAP there.
SUMMARY_METRICS = ("AHP@250 (LCS_HEIGHT)", "P@10 (LCS_HEIGHT)", "Accuracy", "Hierarchical Accuracy", "AP")
COLUMN_NAMES = {"AP": "mAP", "Hierarchical Accuracy": "Hierarchical Acc."}

# Width in pixels of the coloured frame around each retrieved image.
TILE_BORDER = 3

FASHION_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


# ---------------------------------------------------------------------------
# A class-balanced subset of Fashion-MNIST, in its own IDX layout
# ---------------------------------------------------------------------------


def write_idx(path, array):
    """Write a uint8 array as a gzip-compressed IDX file (magic 0x0803 for images, 0x0801 for labels)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    with utils.atomic_write(path) as f:
        with gzip.GzipFile(fileobj=f, mode="wb", mtime=0) as gz:
            gz.write(header + array.tobytes())


def first_per_class(labels, per_class):
    """Indices of the first `per_class` samples of every class, in their original order."""
    labels = np.asarray(labels)
    if per_class is None:
        return np.arange(len(labels))
    keep = np.zeros(len(labels), dtype=bool)
    for c in np.unique(labels):
        keep[np.flatnonzero(labels == c)[:per_class]] = True
    return np.flatnonzero(keep)


def write_fashion_mnist_subset(source, out_dir, train_per_class=None, test_per_class=None):
    """Copy the first N images per class of each Fashion-MNIST split from `source` to `out_dir`.

    Returns the number of training and test images written.
    """
    from datasets.fashion_mnist import load_fashion_mnist

    for name, value in (("train_per_class", train_per_class), ("test_per_class", test_per_class)):
        if value is not None and value < 1:
            raise ValueError("{} must be positive, got {}".format(name, value))
    X_train, y_train, X_test, y_test = load_fashion_mnist(source)
    os.makedirs(out_dir, exist_ok=True)
    sizes = []
    for split, images, labels, per_class in (("train", X_train, y_train, train_per_class),
                                              ("test", X_test, y_test, test_per_class)):
        keep = first_per_class(labels, per_class)
        image_file, label_file = FASHION_MNIST_FILES[split]
        write_idx(os.path.join(out_dir, image_file), images[keep, :, :, 0])
        write_idx(os.path.join(out_dir, label_file), labels[keep])
        sizes.append(len(keep))
    return tuple(sizes)


# ---------------------------------------------------------------------------
# Summary: the paper's headline figures per method
# ---------------------------------------------------------------------------


def load_metrics_json(path):
    """`{label: {metric: value}}` from a JSON file of evaluate_retrieval.py / evaluate_classification_accuracy.py."""
    try:
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError("{}: cannot read metrics JSON ({})".format(path, e)) from None
    if not isinstance(record, dict) or not all(isinstance(v, dict) for v in record.values()):
        raise ValueError("{}: expected an object {{label: {{metric: value}}}}".format(path))
    return record


def read_hp_csv(path):
    """HP@k curves from the CSV of `evaluate_retrieval.py --csv`: `(ks, {label: values})`.

    The format of the original release: a header `k;label1;label2...`, then one row `k;value1;value2...`
    per k = 1, 2, ... (';'-separated).
    """
    try:
        with open(path, encoding="utf-8") as f:
            rows = [line.rstrip("\n").split(";") for line in f if line.strip()]
    except (OSError, UnicodeDecodeError) as e:
        raise cli.UsageError("{}: cannot read the HP@k curves ({})".format(path, e)) from None
    if not rows or rows[0][0] != "k" or len(rows[0]) < 2:
        raise cli.UsageError("{}: expected a header 'k;label...' as evaluate_retrieval.py --csv writes".format(path))
    labels = rows[0][1:]
    try:
        values = np.array([[float(v) for v in row] for row in rows[1:]], dtype=np.float64)
    except ValueError:
        raise cli.UsageError("{}: a value is not a number".format(path)) from None
    if values.size == 0 or values.shape[1] != len(labels) + 1:
        raise cli.UsageError("{}: expected {} values per row after the header".format(path, len(labels) + 1))
    ks = values[:, 0].astype(int)
    if not np.array_equal(ks, np.arange(1, len(ks) + 1)):
        raise cli.UsageError("{}: the rows are not k = 1, 2, ...".format(path))
    return ks, {label: values[:, i + 1] for i, label in enumerate(labels)}


def build_summary(*metric_tables, labels=None, metrics=SUMMARY_METRICS):
    """Merge `{label: {metric: value}}` tables into `{label: {metric: value}}` restricted to `metrics`.

    labels - the methods to report, in this order (default: those of the first table).
    Raises a ValueError naming the first label/metric found in none of the tables.
    """
    if labels is None:
        labels = list(metric_tables[0]) if metric_tables else []
    summary = {}
    for label in labels:
        row = {}
        for metric in metrics:
            values = [t[label][metric] for t in metric_tables if metric in t.get(label, {})]
            if not values:
                raise ValueError("no value of {!r} for {!r} in the evaluation results".format(metric, label))
            row[metric] = float(values[0])
        summary[label] = row
    return summary


def summary_markdown(summary, caption=None):
    """The summary as a Markdown table, values in percent with two decimals, best value in bold."""
    labels = list(summary)
    metrics = list(next(iter(summary.values()))) if summary else []
    best = {m: max(summary[lbl][m] for lbl in labels) for m in metrics}
    header = " | ".join(COLUMN_NAMES.get(m, m) for m in metrics)
    lines = ["| Method | " + header + " |", "|---|" + "---:|" * len(metrics)]
    for label in labels:
        cells = []
        for m in metrics:
            text = "{:.2f}%".format(100 * summary[label][m])
            cells.append("**{}**".format(text) if len(labels) > 1 and summary[label][m] == best[m] else text)
        lines.append("| {} | {} |".format(label, " | ".join(cells)))
    if caption:
        lines = [caption, ""] + lines
    return "\n".join(lines) + "\n"


def write_summary(out_dir, summary, caption=None):
    """Write `summary.json` and `summary.md` into `out_dir` (atomically); returns their paths."""
    json_path, md_path = os.path.join(out_dir, "summary.json"), os.path.join(out_dir, "summary.md")
    with utils.atomic_write(json_path, "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    with utils.atomic_write(md_path, "w") as f:
        f.write(summary_markdown(summary, caption))
    return json_path, md_path


# ---------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------


def pick_queries(labels, num_queries=6, seed=0):
    """Query images: one random image from each of `num_queries` classes spread evenly over the classes."""
    labels = np.asarray(labels)
    classes = np.unique(labels)
    if num_queries < 1:
        raise ValueError("num_queries must be positive, got {}".format(num_queries))
    rng = np.random.default_rng(seed)
    picked = classes[np.unique(np.linspace(0, len(classes) - 1, min(num_queries, len(classes))).round().astype(int))]
    return np.array([rng.choice(np.flatnonzero(labels == c)) for c in picked], dtype=np.intp)


def top_results(features, queries, k=10):
    """The k nearest images of each query by squared Euclidean distance (as evaluate_retrieval.py ranks,
    ties by image index), the query itself left out: (len(queries), k) indices."""
    from metrics import rank_by_distance

    features = np.asarray(features, dtype=np.float64)
    if k >= len(features):
        raise ValueError("k={} needs more than {} images".format(k, len(features)))
    q = features[queries]
    distances = (q * q).sum(1)[:, None] + (features * features).sum(1)[None, :] - 2 * q @ features.T
    ranking = rank_by_distance(distances, top=k + 1)
    return np.stack([row[row != query][:k] for row, query in zip(ranking, queries)])


def class_similarity_matrix(hierarchy, class_ids):
    """(C, C) class similarity 1 - height(lcs) / height(root) of the classes `class_ids` (label order)."""
    return 1.0 - hierarchy.lcs_height_matrix(list(class_ids))


def _matplotlib():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def as_rgb(images):
    """Images (N, H, W), (N, H, W, 1) or (N, H, W, 3) -> float RGB in [0, 1], (N, H, W, 3).

    Scaled by the largest value (255 for photos; the digits' grey values only go up to 16).
    """
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    return images.astype(np.float32) / max(float(images.max(initial=0)), 1e-12)


def retrieval_mosaic(images, rows, frame_colors, border=TILE_BORDER, gap=6, group_size=None):
    """One RGB canvas holding rows of framed tiles (faster and crisper than one axes per image).

    images - (N, H, W, 3) floats; rows - list of lists of image indices (None leaves a blank slot);
    frame_colors - same shape as rows, RGB triples or None (white frame);
    gap - white pixels between the first column (the query) and the others, and after every
    `group_size` rows.
    Returns the canvas and the (x, y) top-left corner of every tile, per row.
    """
    h, w = images.shape[1:3]
    tile_h, tile_w = h + 2 * border, w + 2 * border
    group_size = group_size or len(rows)
    width = max(len(r) for r in rows) * (tile_w + 2) + gap
    height = len(rows) * (tile_h + 2) + (len(rows) - 1) // group_size * gap
    canvas = np.ones((height, width, 3), dtype=np.float32)
    corners = []
    for r, (row, colors) in enumerate(zip(rows, frame_colors)):
        y = r * (tile_h + 2) + r // group_size * gap
        corners.append([])
        for c, (index, color) in enumerate(zip(row, colors)):
            x = c * (tile_w + 2) + (gap if c > 0 else 0)  # a gap between the query column and the results
            corners[-1].append((x, y))
            if index is None:
                continue
            canvas[y:y + tile_h, x:x + tile_w] = color if color is not None else (1.0, 1.0, 1.0)
            canvas[y + border:y + border + h, x + border:x + border + w] = images[index]
    return canvas, corners


def plot_retrieval_examples(path, images, labels, class_names, similarity, results_by_method, queries, k=10):
    """Grid of the top-k results of each method for each query, each framed by its class similarity.

    images - (N, H, W[, C]) uint8 test images; labels - (N,) class indices; class_names - name per index;
    similarity - (C, C) class similarities; results_by_method - {method: (Q, >=k) result indices}.
    """
    plt = _matplotlib()
    from matplotlib import colors

    cmap, norm = plt.get_cmap("RdYlGn"), colors.Normalize(0, 1)
    methods = list(results_by_method)
    rows, frames, notes = [], [], []
    for qi, query in enumerate(queries):
        for mi, method in enumerate(methods):
            results = list(results_by_method[method][qi][:k])
            sims = [similarity[labels[query], labels[r]] for r in results]
            rows.append([query if mi == 0 else None] + results)
            frames.append([None] + [cmap(norm(s))[:3] for s in sims])
            notes.append((method, float(np.mean(sims)), qi, mi))
    canvas, corners = retrieval_mosaic(as_rgb(images), rows, frames, gap=max(6, images.shape[1] // 3),
                                       group_size=len(methods))

    tile_h = np.shape(images)[1] + 2 * TILE_BORDER
    fig_w = 3.5 + canvas.shape[1] / 40.0
    fig, ax = plt.subplots(figsize=(fig_w, 0.9 + canvas.shape[0] / 40.0))
    ax.imshow(canvas, interpolation="nearest")
    ax.set_axis_off()
    for (method, mean_sim, qi, mi), row_corners in zip(notes, corners):
        x0, y0 = row_corners[1]
        ax.text(-2, y0 + tile_h / 2, method, ha="right", va="center", fontsize=7)
        ax.text(canvas.shape[1] + 2, y0 + tile_h / 2, "mean\nsim. {:.2f}".format(mean_sim), ha="left",
                va="center", fontsize=6)
        if mi == 0:
            query = queries[qi]
            qx, qy = row_corners[0]
            ax.text(qx, qy - 1, str(class_names[labels[query]]), ha="left", va="bottom", fontsize=6,
                    clip_on=False)
    ax.set_title("Top-{} results per query (query left); frame colour = class similarity to the query,\n"
                 "1 - height(LCS)/height(root): green = same class, red = unrelated".format(k), fontsize=8)
    fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, shrink=0.4, pad=0.08,
                 label="class similarity")
    _save_figure(fig, path)


def _save_figure(fig, path):
    import matplotlib.pyplot as plt

    with utils.atomic_write(path) as f:
        fig.savefig(f, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def plot_hp_curves(path, curves, title="Hierarchical precision at k"):
    """HP@k curves of several methods: curves = {method: (ks, values)}; AHP in the legend if given as a
    third element."""
    plt = _matplotlib()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for method, curve in curves.items():
        ks, values = curve[0], curve[1]
        label = method if len(curve) < 3 else "{} (mAHP@{} = {:.2%})".format(method, int(max(ks)), curve[2])
        ax.plot(ks, values, label=label, linewidth=2)
    ax.set_xlabel("k (number of retrieved images)")
    ax.set_ylabel("mean hierarchical precision HP@k (LCS_HEIGHT)")
    ax.set_title(title)
    ax.set_xlim(1, max(max(c[0]) for c in curves.values()))
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best")
    _save_figure(fig, path)


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def _label_value(text, flag):
    label, sep, value = text.rpartition("=")
    if not sep or not label or not value:
        raise ValueError("{} {!r}: expected LABEL=PATH".format(flag, text))
    return label, value


def build_parser():
    parser = cli.make_parser("Helpers of the demo: data subset and report.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("subset", help="write the first N images per class of Fashion-MNIST as IDX files",
                       formatter_class=cli.HelpFormatter)
    p.add_argument("--source", default="/usr/share/datasets/fashion-mnist", metavar="DIR", help="Fashion-MNIST directory")
    p.add_argument("--out", required=True, metavar="DIR", help="directory to write the four IDX .gz files to")
    p.add_argument("--train_per_class", type=int, default=None, metavar="N",
                   help="training images per class (default: all)")
    p.add_argument("--test_per_class", type=int, default=None, metavar="N", help="test images per class (default: all)")

    p = sub.add_parser("report", help="summary.json/.md, hp_curves.png and retrieval_examples.png",
                       formatter_class=cli.HelpFormatter)
    p.add_argument("--dataset", required=True, metavar="NAME", help="dataset name (as for the other scripts)")
    p.add_argument("--data_root", default=None, metavar="DIR", help="dataset root directory")
    cli.add_hierarchy_arguments(p, required=True)
    p.add_argument("--classes_from", default=None, metavar="EMBEDDING",
                   help="class embedding file whose ind2label gives the hierarchy id of each class index")
    p.add_argument("--feat", action="append", default=[], metavar="LABEL=PATH",
                   help="test features of a method (repeatable; the first is drawn first)")
    p.add_argument("--metrics", action="append", default=[], metavar="JSON",
                   help="{label: {metric: value}} JSON from evaluate_retrieval.py or "
                        "evaluate_classification_accuracy.py (repeatable)")
    p.add_argument("--hp_csv", required=True, metavar="CSV",
                   help="HP@k curves (LCS_HEIGHT) from evaluate_retrieval.py --csv")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.add_argument("--num_queries", type=int, default=6, metavar="N", help="query images in retrieval_examples.png")
    p.add_argument("--top_k", type=int, default=10, metavar="K", help="results per query in retrieval_examples.png")
    p.add_argument("--plot_max", type=int, default=250, metavar="K",
                   help="last k of the HP@k curves (the legend gives AHP@plot_max where --metrics has it)")
    p.add_argument("--caption", default=None, metavar="TEXT", help="line above the Markdown table")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="seed of the query choice")
    return parser


def hp_curves(csv_ks, csv_curves, labels, metric_tables=(), plot_max=None, prec_type="LCS_HEIGHT"):
    """{method: (ks, HP@k values[, AHP@plot_max])} for plot_hp_curves, from read_hp_csv's output.

    The AHP of the legend is looked up in `metric_tables` ({label: {metric: value}}) under
    "AHP@{plot_max} ({prec_type})"; left out where none has it. UsageError for a method the CSV lacks.
    """
    last = len(csv_ks) if plot_max is None else min(plot_max, len(csv_ks))
    curves = {}
    for label in labels:
        if label not in csv_curves:
            raise cli.UsageError("no HP@k curve of {!r} in the CSV (it has {})".format(label, ", ".join(csv_curves)))
        curve = (csv_ks[:last], csv_curves[label][:last])
        ahp = [t[label]["AHP@{} ({})".format(last, prec_type)] for t in metric_tables
               if "AHP@{} ({})".format(last, prec_type) in t.get(label, {})]
        curves[label] = curve + ((ahp[0],) if ahp and ahp[0] is not None else ())
    return curves


def run_report(args):
    if not args.feat:
        raise cli.UsageError("give at least one --feat LABEL=PATH")
    if args.num_queries < 1 or args.top_k < 1 or args.plot_max < 1:
        raise cli.UsageError("--num_queries, --top_k and --plot_max must be positive")
    features = {}
    for item in args.feat:
        label, path = _label_value(item, "--feat")
        features[label] = utils.load_features(path)[1]
    tables = [load_metrics_json(path) for path in args.metrics]
    summary = build_summary(*tables, labels=list(features))
    csv_ks, csv_curves = read_hp_csv(args.hp_csv)
    curves = hp_curves(csv_ks, csv_curves, list(features), tables, args.plot_max)

    from datasets import get_data_generator  # imports keras: only after the cheap checks

    classes = utils.load_class_embedding(args.classes_from)["ind2label"] if args.classes_from else None
    hierarchy = cli.load_hierarchy(args.hierarchy, args.is_a, args.str_ids)
    data = get_data_generator(args.dataset, args.data_root, classes=classes)
    labels = np.asarray(data.labels_test)
    for label, feat in features.items():
        if len(feat) != len(labels):
            raise cli.UsageError("--feat {}: {} feature vectors, but {} has {} test images".format(
                label, len(feat), args.dataset, len(labels)))
    class_ids = cli.class_ids(data, hierarchy=hierarchy, source=args.hierarchy)
    names = [str(n) for n in getattr(data, "label_names", class_ids)]

    os.makedirs(args.out, exist_ok=True)
    written = list(write_summary(args.out, summary, args.caption))
    written.append(os.path.join(args.out, "hp_curves.png"))
    plot_hp_curves(written[-1], curves, title="{}: hierarchical precision at k".format(args.dataset))

    queries = pick_queries(labels, args.num_queries, args.seed)
    results = {label: top_results(feat, queries, args.top_k) for label, feat in features.items()}
    written.append(os.path.join(args.out, "retrieval_examples.png"))
    plot_retrieval_examples(written[-1], data.X_test, labels, names, class_similarity_matrix(hierarchy, class_ids),
                            results, queries, args.top_k)

    print(summary_markdown(summary, args.caption))
    for path in written:
        print("Wrote {}".format(path))
    return 0


def main(argv=None):
    args = build_parser().parse_args(argv)
    with cli.cli_errors():
        if args.command == "subset":
            num_train, num_test = write_fashion_mnist_subset(args.source, args.out, args.train_per_class,
                                                             args.test_per_class)
            print("Wrote {} training and {} test images to {}".format(num_train, num_test, args.out))
            return 0
        return run_report(args)


if __name__ == "__main__":
    sys.exit(main())
