"""The report step of scripts/own_data.sh: demo_report.py's summary and pictures for any dataset.

`demo_report.py report` draws the test images of in-memory datasets (`X_test`) and builds the dataset
with its defaults; a folder of image files has no `X_test`, and its split and input size are options
(`--test_split`, `--split_seed`, `--image_size`). This step takes those options too and reads the test
images as the models saw them (the dataset's own resizing and central crop, not normalized); everything
else is demo_report's (summary table, HP@k curves, retrieval examples).

    python -m comparison.own_data --dataset folder --data_root photos --image_size 64 \\
        --hierarchy taxonomy.parent-child.txt --str_ids --classes_from class_embedding.pickle \\
        --feat "Semantic Embeddings=semantic.features.pickle" --feat "Classification=baseline.features.pickle" \\
        --metrics retrieval.json --metrics accuracy.json --hp_csv hp.csv --out OUT
"""

import os
import sys

import numpy as np

import cli
import utils

TEST_IMAGE_BATCH = 256


def test_images(data):
    """uint8 (N, H, W, 3) test images of a dataset in test-label order: `X_test` where the dataset holds its
    images, else its files read with its own resizing and central crop (not normalized)."""
    images = getattr(data, "X_test", None)
    if images is not None:
        return np.asarray(images)
    files = list(data.test_img_files)
    batches = [data.compose_batch(files[i:i + TEST_IMAGE_BATCH], cropsize=data.cropsize, normalize=False)
               for i in range(0, len(files), TEST_IMAGE_BATCH)]
    return np.clip(np.concatenate(batches), 0, 255).astype(np.uint8)


def write_report(dataset, data_root, dataset_kwargs, hierarchy, classes_from, features, metric_files, hp_csv,
                 out_dir, caption=None, num_queries=6, top_k=10, plot_max=250, seed=0):
    """summary.json, summary.md, hp_curves.png and retrieval_examples.png in `out_dir`, as demo_report.py.

    features: {method label: feature file}; metric_files: --json files of the evaluation scripts;
    dataset_kwargs: image_size, test_split, split_seed as the models were trained with.
    Returns the written paths.
    """
    import demo_report as D

    loaded = {label: utils.load_features(path)[1] for label, path in features.items()}
    tables = [D.load_metrics_json(path) for path in metric_files]
    # The demo table's five columns, with AHP@K at this run's K.
    summary_metrics = ("AHP@{} (LCS_HEIGHT)".format(plot_max),) + D.SUMMARY_METRICS[1:]
    summary = D.build_summary(*tables, labels=list(loaded), metrics=summary_metrics)
    csv_ks, csv_curves = D.read_hp_csv(hp_csv)
    curves = D.hp_curves(csv_ks, csv_curves, list(loaded), tables, plot_max)

    from datasets import get_data_generator

    classes = utils.load_class_embedding(classes_from)["ind2label"] if classes_from else None
    data = get_data_generator(dataset, data_root, classes=classes, **dataset_kwargs)
    labels = np.asarray(data.labels_test)
    for label, feat in loaded.items():
        if len(feat) != len(labels):
            raise cli.UsageError("--feat {}: {} feature vectors, but {} has {} test images".format(
                label, len(feat), dataset, len(labels)))
    class_ids = cli.class_ids(data, hierarchy=hierarchy)
    names = [str(n) for n in getattr(data, "label_names", class_ids)]

    os.makedirs(out_dir, exist_ok=True)
    written = list(D.write_summary(out_dir, summary, caption))
    written.append(os.path.join(out_dir, "hp_curves.png"))
    D.plot_hp_curves(written[-1], curves, title="{}: hierarchical precision at k".format(
        os.path.basename(os.path.normpath(data_root)) if data_root else dataset))
    queries = D.pick_queries(labels, num_queries, seed)
    results = {label: D.top_results(feat, queries, top_k) for label, feat in loaded.items()}
    written.append(os.path.join(out_dir, "retrieval_examples.png"))
    D.plot_retrieval_examples(written[-1], test_images(data), labels, names,
                              D.class_similarity_matrix(hierarchy, class_ids), results, queries, top_k)
    print(D.summary_markdown(summary, caption))
    return written


def build_parser():
    parser = cli.make_parser("The summary and pictures of scripts/own_data.sh (demo_report.py's, for any dataset).")
    group = cli.add_dataset_arguments(parser, classes="classes_from")
    cli.add_hierarchy_arguments(group, required=True)
    group = parser.add_argument_group("Results")
    group.add_argument("--feat", action="append", required=True, metavar="LABEL=PATH",
                       help="Test features of a method (repeatable; the first is drawn first).")
    group.add_argument("--metrics", action="append", default=[], metavar="JSON",
                       help="{label: {metric: value}} JSON of evaluate_retrieval.py or evaluate_classification_accuracy.py.")
    group.add_argument("--hp_csv", required=True, metavar="CSV", help="HP@k curves of evaluate_retrieval.py --csv.")
    group.add_argument("--plot_max", type=cli.positive_int, default=250, metavar="K", help="Last k of the HP@k curves.")
    group.add_argument("--out", required=True, metavar="DIR", help="Output folder.")
    group.add_argument("--caption", default=None, metavar="TEXT", help="Line above the Markdown table.")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    with cli.cli_errors():
        features = {}
        for item in args.feat:
            label, sep, path = item.rpartition("=")
            if not sep or not label or not path:
                raise cli.UsageError("--feat {!r}: expected LABEL=PATH".format(item))
            features[label] = path
        hierarchy = cli.hierarchy_from_args(args)
        for path in write_report(args.dataset, args.data_root, cli.dataset_kwargs(args), hierarchy, args.classes_from,
                                 features, args.metrics, args.hp_csv, args.out, args.caption, plot_max=args.plot_max):
            print("Wrote {}".format(path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
