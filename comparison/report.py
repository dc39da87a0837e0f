"""The outputs of a comparison: `<name>.json` (setup and every row's metrics and HP@k curve), `<name>.md`
(the table) and the pictures: top-1 error against mistake severity, one point per method (the hierarchy
set only), and the HP@k curves."""

import math
import os

import utils

from .runner import json_safe, write_json


def _percent(value):
    return "{:.2f}%".format(100 * value)


def _two(value):
    return "{:.3f}".format(value)


def _seconds(value):
    return "{:.0f}".format(value)


# (column title, metric name ("{ahp}": the AHP of the run's cutoff; "train_seconds": the training time),
#  format, better: "min"/"max"/None)
HIERARCHY_COLUMNS = (
    ("Top-1 error", "Top-1 Error", _percent, "min"),
    ("Mistake severity", "Mistake Severity", _two, "min"),
    ("HD@1", "Hierarchical Distance@1", _two, "min"),
    ("HD@5", "Hierarchical Distance@5", _two, "min"),
    ("HD@20", "Hierarchical Distance@20", _two, "min"),
    ("mAHP@{k}", "{ahp}", _percent, "max"),
    ("P@10", "P@10 (LCS_HEIGHT)", _percent, "max"),
    ("mAP", "AP", _percent, "max"),
    ("training (s)", "train_seconds", _seconds, None),
)
HASHING_COLUMNS = (
    ("code", "code", str, None),
    ("bytes / image", "Bytes per Image", lambda v: "{:.0f}".format(v), None),
    ("mAHP@{k}", "{ahp}", _percent, "max"),
    ("P@10", "P@10 (LCS_HEIGHT)", _percent, "max"),
    ("mAP", "AP", _percent, "max"),
    ("training (s)", "train_seconds", _seconds, None),
)
# name -> (columns, title, whether the error-vs-severity picture is drawn)
REPORTS = {
    "benchmark": (HIERARCHY_COLUMNS, "Hierarchy-aware methods on Tiny ImageNet", True),
    "hashing": (HASHING_COLUMNS, "Compact codes (semantic binary codes, triplet hashing) on Tiny ImageNet", False),
}


def cell_value(row, metric, cutoff):
    if "metrics" not in row:  # a plain {metric: value} record
        row = {"metrics": row}
    if metric == "train_seconds":
        value = None if row.get("crm") else row.get("train_seconds")
    elif metric == "code":  # what is ranked: float features or the bits of their signs
        dim = row["metrics"].get("Dimensions")
        value = None if dim is None else "{} bits".format(dim) if row.get("ranking") == "binary" else "{}-d float".format(dim)
    else:
        value = row["metrics"].get(metric.format(ahp="AHP@{} (LCS_HEIGHT)".format(cutoff)))
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def markdown_table(rows, columns, cutoff):
    """The rows as a Markdown table; the best value of each column in bold ('-' where a row has none)."""
    best = {}
    for title, metric, _, better in columns:
        values = [cell_value(r, metric, cutoff) for r in rows]
        values = [v for v in values if v is not None]
        if better and len(values) > 1:
            best[title] = min(values) if better == "min" else max(values)
    titles = [title.format(k=cutoff) for title, *_ in columns]
    lines = ["| Method | " + " | ".join(titles) + " |", "|---|" + "---:|" * len(columns)]
    for row in rows:
        cells = []
        for title, metric, fmt, _ in columns:
            value = cell_value(row, metric, cutoff)
            text = "-" if value is None else fmt(value)
            cells.append("**{}**".format(text) if value is not None and best.get(title) == value else text)
        lines.append("| {} | {} |".format(row["label"], " | ".join(cells)))
    return "\n".join(lines)


def setup_lines(setup):
    lines = ["- data: {data} ({classes} classes, {train_images} training / {test_images} test images, "
             "{image_size}x{image_size})".format(**setup),
             "- every model: {}".format(setup["budget"]),
             "- command: `{}`".format(setup["command"]),
             "- wall time of this invocation: {:.0f} s; training time of all models: {:.0f} s".format(
                 setup["wall_seconds"], setup["train_seconds_total"]),
             "- machine: {}".format(setup["machine"])]
    for name, point in setup.get("chance", {}).items():
        lines.append("- without a model, {}{}: top-1 error {}, mistake severity {}".format(
            name, " ({})".format(point["class"]) if point.get("class") else "", _percent(point["Top-1 Error"]),
            "-" if cell_value(point, "Mistake Severity", None) is None else _two(point["Mistake Severity"])))
    lines += ["- note: {}".format(note) for note in setup.get("notes", [])]
    return lines


def write_report(out_dir, name, rows, setup, cutoff):
    """Write `<name>.json` and `<name>.md` (and the pictures) for `rows`; returns the written paths."""
    columns, title, severity_plot = REPORTS[name]
    if "classes" in setup and "epochs" in setup.get("budget_settings", {}):
        title = "{} ({} classes, {} epoch{})".format(title, setup["classes"], setup["budget_settings"]["epochs"],
                                                     "s" if setup["budget_settings"]["epochs"] != 1 else "")
    written = [os.path.join(out_dir, name + ".json"), os.path.join(out_dir, name + ".md")]
    write_json(written[0], json_safe({"setup": setup, "cutoff": cutoff, "rows": rows}))
    text = ["# {}".format(title), ""] + setup_lines(setup) + ["", markdown_table(rows, columns, cutoff), "",
                                                               METRIC_NOTES[name].format(k=cutoff), ""]
    with utils.atomic_write(written[1], "w") as f:
        f.write("\n".join(text))
    prefix = "" if name == "benchmark" else name + "_"
    curves = [r for r in rows if r.get("hp_curve")]
    if curves:
        written.append(os.path.join(out_dir, prefix + "hp_curves.png"))
        plot_hp_curves(written[-1], curves, cutoff, title)
    if severity_plot and any(r["metrics"].get("Mistake Severity") is not None for r in rows):
        written.append(os.path.join(out_dir, "error_vs_severity.png"))
        plot_error_vs_severity(written[-1], rows, title, json_safe(setup.get("chance", {})))
    return written


METRIC_NOTES = {
    "benchmark": (
        "Top-1 error of the class predictions (`prob` layer; nearest class embedding for the embeddings "
        "without a head; CRM: least expected LCA height under the softmax probabilities). Mistake severity: "
        "mean LCA height (edges of the Tiny ImageNet tree) of the top-1 mistakes; HD@k: mean LCA height of "
        "the top k classes. mAHP@{k}, P@10 (LCS_HEIGHT) and mAP: retrieval, every test image querying all "
        "others by the Euclidean distance of the model's test features: the class probabilities of softmax, "
        "label smoothing, HXE and soft labels, the embedding layer of the others, and for the penultimate row "
        "the features entering the softmax model's last layer (what the original learn_classifier.py "
        "dumped). Bold: the best of a column."),
    "hashing": (
        "Retrieval of every test image against all others: float features by Euclidean distance, codes by "
        "the Hamming distance of the features' signs (one bit per dimension), ties by image index. "
        "mAHP@{k} and P@10 with the LCS_HEIGHT similarity; mAP = classical average precision."),
}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path):
    import matplotlib.pyplot as plt

    with utils.atomic_write(path) as f:
        fig.savefig(f, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def plot_hp_curves(path, rows, cutoff, title):
    """HP@k for k = 1..cutoff of every row with a curve; mAHP in the legend."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    styles = ["-", "--", "-.", ":"]
    for i, row in enumerate(rows):
        curve = row["hp_curve"]
        ahp = row["metrics"].get("AHP@{} (LCS_HEIGHT)".format(cutoff))
        label = row["label"] if ahp is None else "{} ({:.1%})".format(row["label"], ahp)
        ax.plot(range(1, len(curve) + 1), curve, styles[(i // 10) % len(styles)], label=label, linewidth=1.8)
    ax.set_xlabel("k (number of retrieved images)")
    ax.set_ylabel("hierarchical precision HP@k (LCS_HEIGHT)")
    ax.set_title("{}\nHP@k (legend: mAHP@{})".format(title, cutoff), fontsize=9)
    ax.set_xlim(1, cutoff)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=7)
    _save(fig, path)


def plot_error_vs_severity(path, rows, title, chance=None):
    """Top-1 error (x) against mistake severity (y), one point per row (legend beside the plot, so that close
    points stay readable); an arrow from a model to its CRM row; `chance` ({name: {"Mistake Severity": ...}}):
    dashed lines of the severities reached without a model."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8.4, 4.8))
    points = {}
    for row in rows:
        error, severity = row["metrics"].get("Top-1 Error"), row["metrics"].get("Mistake Severity")
        if error is None or severity is None:
            continue
        marker = "x" if row.get("crm") else "o"
        ax.scatter(100 * error, severity, marker=marker, s=50, color=plt.cm.tab20(len(points) % 20), zorder=3,
                   label=row["label"])
        points[row["key"]] = (100 * error, severity)
    for key, (x, y) in points.items():
        if key.endswith("+crm") and key[:-4] in points:
            x0, y0 = points[key[:-4]]
            ax.annotate("", (x, y), (x0, y0), arrowprops=dict(arrowstyle="->", color="grey", lw=0.8))
    for name, point in (chance or {}).items():
        if point.get("Mistake Severity") is not None:
            ax.axhline(point["Mistake Severity"], color="grey", linestyle="--", linewidth=0.8)
            ax.annotate(name, (0.01, point["Mistake Severity"]), xycoords=("axes fraction", "data"), fontsize=7,
                        color="grey", va="bottom")
    ax.set_xlabel("top-1 error (%)")
    ax.set_ylabel("mistake severity (mean LCA height of the mistakes)")
    ax.set_title("{}\nlower left is better; x = CRM at test time (arrow from its model)".format(title), fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=7)
    _save(fig, path)
