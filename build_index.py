"""Build a search index of image features (faiss) for retrieve.py.

The index file holds the codes of every image (float features, binary codes or product-quantized codes),
the image ids of the feature file and, where known, the class of every image and its file path: from
--dataset (the feature ids are indices into its test split, as for evaluate_retrieval.py) or from
--labels / --paths (text files, one line per feature vector, in the order of the feature file).

Example:
    python build_index.py --feat feat.pickle --dataset CIFAR-10 --data_root /data/cifar-10-batches-py \\
        --classes_from embeddings/cifar10.unitsphere.pickle --out cifar10.index.npz
    python build_index.py --feat feat.pickle --codes binary --out cifar10.binary.index.npz
"""

import os

import numpy as np

import cli
from search.index import CODE_KINDS, build_index, save_index


def build_parser():
    parser = cli.make_parser(__doc__.split("\n\n")[0] + "\n\n" + __doc__.split("\n\n")[1])
    group = parser.add_argument_group("Features and index")
    group.add_argument("--feat", required=True, metavar="FEATURES",
                       help="Feature file: a pickle {'feat': {image id: vector}} or an .npz with 'feat' (and 'ids').")
    group.add_argument("--out", required=True, metavar="INDEX", help="The index file to write (.npz).")
    group.add_argument("--codes", default="float", choices=list(CODE_KINDS),
                       help="How images are stored: " + "; ".join(
                           "{}: {}".format(name, kind.description) for name, kind in CODE_KINDS.items()) + ".")
    group.add_argument("--bytes", type=cli.positive_int, default=16, metavar="M",
                       help="Code size in bytes per image for --codes pq and ivfpq (must divide the feature "
                            "dimension).")
    group.add_argument("--nlist", type=cli.positive_int, default=None, metavar="CELLS",
                       help="--codes ivfpq and binary_ivf: number of k-means cells (default: about 4 sqrt(number of images)).")
    group.add_argument("--nprobe", type=cli.positive_int, default=16, metavar="CELLS",
                       help="--codes ivfpq and binary_ivf: cells searched per query (retrieve.py --nprobe overrides it).")
    group.add_argument("--norm", type=cli.str2bool, default=True, metavar="yes|no",
                       help="L2-normalize features and queries (similarity = cosine). no: raw inner product.")
    group.add_argument("--seed", type=int, default=0, help="Seed of the k-means training of PQ codes.")
    group = cli.add_dataset_arguments(parser, classes="classes_from", image_options=False,
                                      title="Labels and paths from a dataset (optional)")
    group.description = ("The feature ids are indices into the test split of --dataset: the index stores the "
                          "class id of every image and, for file datasets, its path.")
    group = parser.add_argument_group("Labels and paths from files (optional, instead of --dataset)")
    group.add_argument("--labels", default=None, metavar="FILE",
                       help="Class id of every feature vector, one per line, in the order of the feature file.")
    group.add_argument("--paths", default=None, metavar="FILE",
                       help="Image file of every feature vector, one per line, in the order of the feature file.")
    # --dataset is optional here
    for action in parser._actions:
        if action.dest == "dataset":
            action.required = False
    return parser


def read_lines(path, count, flag, as_labels=False):
    """The non-empty lines of `path` (class ids: ints where all are integers); UsageError unless `count`."""
    if not os.path.isfile(path):
        raise cli.UsageError("{} {}: no such file".format(flag, path))
    with open(path, encoding="utf-8") as f:
        values = [line.strip() for line in f if line.strip()]
    if len(values) != count:
        raise cli.UsageError("{} {}: {} lines for {} feature vectors".format(flag, path, len(values), count))
    if as_labels and all(v.lstrip("-").isdigit() for v in values):
        values = [int(v) for v in values]
    return values


def build_index_file(feat, out, codes="float", num_bytes=16, nlist=None, nprobe=16, normalize=True, seed=0,
                     dataset=None, data_root=None, classes_from=None, labels_file=None, paths_file=None):
    """Build the index of the feature file `feat` and write it to `out`; returns the `ImageIndex`."""
    from search.query import read_query_features

    ids, features = read_query_features(feat)
    labels = paths = None
    info = {"feat": os.path.abspath(feat)}
    if dataset:
        from search.images import load_dataset, test_labels_and_paths

        data = load_dataset(dataset, data_root, classes_from)
        try:
            labels, paths = test_labels_and_paths(data, ids)
        except ValueError as e:
            raise cli.UsageError("{}: {} (of --dataset {})".format(feat, e, dataset)) from None
        info.update(dataset=dataset, data_root=os.path.abspath(data_root) if data_root else None,
                    classes_from=os.path.abspath(classes_from) if classes_from else None)
    if labels_file:
        labels = read_lines(labels_file, len(ids), "--labels", as_labels=True)
    if paths_file:
        paths = read_lines(paths_file, len(ids), "--paths")
    try:
        index = build_index(features, ids=ids, labels=labels, paths=paths, codes=codes, num_bytes=num_bytes,
                            normalize=normalize, nlist=nlist, nprobe=nprobe, seed=seed, info=info)
    except ValueError as e:
        raise cli.UsageError("{}: {}".format(feat, e)) from None
    save_index(index, out)
    return index


def main(argv=None):
    args = build_parser().parse_args(argv)
    with cli.cli_errors():
        cli.check_output_dir(args.out, "--out")
        if args.classes_from and not args.dataset:
            raise cli.UsageError("--classes_from needs --dataset (it maps the dataset's labels to class ids)")
        index = build_index_file(args.feat, args.out, args.codes, args.bytes, args.nlist, args.nprobe, args.norm,
                                 args.seed, args.dataset, args.data_root, args.classes_from, args.labels, args.paths)
    print("{} images of {} dimensions, {} codes of {} bytes per image ({:.1f} MB), labels: {}, paths: {} -> {}".format(
        index.num_images, index.dim, index.codes, index.code_bytes, index.memory_bytes() / 1e6,
        "yes" if index.labels is not None else "no", "yes" if index.paths is not None else "no", args.out))
    return index


if __name__ == "__main__":
    main()
