"""Compute class embeddings whose geometry reproduces the semantic similarity of classes in a taxonomy.

The command line over `class_embedding` (the methods table and the algorithms live there).

Example:
  python compute_class_embedding.py --hierarchy Cifar-Hierarchy/cifar.parent-child.txt \\
      --out embeddings/cifar100.unitsphere.pickle
"""

import argparse
import textwrap
import time

import numpy as np

from class_embedding import (  # noqa: F401  (re-exported: the names this script had as a library)
    DEFAULT_METHOD, METHODS, SIMILARITY, compute_class_embedding, embed_classes, embedding_deviation,
    hierarchical_class_embedding, mds, sim_approx, target_classes, unitsphere_embedding)
import cli
from tree_embedding import NUM_SAMPLED_PAIRS
import utils

HELP_WIDTH = 79


def _methods_epilog():
    lines = ["methods (--method):"]
    for name, entry in METHODS.items():
        lines.extend(textwrap.wrap(entry.summary, HELP_WIDTH, initial_indent="  {:<12}".format(name),
                                   subsequent_indent=" " * 14))
    return "\n".join(lines)


def build_parser():
    parser = cli.make_parser(
        "Computes embeddings of n classes so that their dot products (or distances) correspond to their "
        "semantic similarity (dissimilarity) 1 - height(LCS)/height(root) in a given hierarchy.",
        epilog=_methods_epilog())  # indented lines: kept as written by cli.HelpFormatter
    cli.add_hierarchy_arguments(parser)
    parser.add_argument("--class_list", type=str, default=None, metavar="FILE",
                        help="File with the ids of the classes to embed (first word per line, in this order). "
                             "Default: all leaves of the hierarchy, sorted.")
    parser.add_argument("--out", type=str, required=True, metavar="FILE",
                        help="Output file: .pickle (a dict with 'embedding', 'ind2label', 'label2ind', as the "
                             "original's) or .npz (the same as a numpy archive, no pickle).")
    parser.add_argument("--method", type=str, default=DEFAULT_METHOD, choices=list(METHODS), metavar="METHOD",
                        help="Embedding algorithm: {} (see below). Default: %(default)s, as the original's "
                             "since 2018.".format(", ".join(METHODS)))
    parser.add_argument("--num_dim", type=int, default=None, metavar="D",
                        help="Number of embedding dimensions, for the methods that take it ({}).".format(
                            ", ".join(name for name, entry in METHODS.items() if entry.num_dim != "no")))
    parser.add_argument("--norm", action="store_true", default=False,
                        help="L2-normalize the class embeddings (useful after approx_sim or mds with a reduced "
                             "--num_dim).")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    with cli.cli_errors():
        # Everything that can be checked without the hierarchy is checked before reading it.
        utils.class_embedding_format(args.out, "--out")
        cli.check_output_dir(args.out, "--out")
        if args.num_dim is not None and args.num_dim < 1:
            raise cli.UsageError("--num_dim must be positive, got {}".format(args.num_dim))
        start_time = time.time()
        hierarchy = cli.load_hierarchy(args.hierarchy, args.is_a, args.str_ids)
        classes = target_classes(hierarchy, args.class_list, str if args.str_ids else int)
        embedding, class_dist = compute_class_embedding(hierarchy, classes, args.method, args.num_dim, args.norm)
        elapsed = time.time() - start_time
        print('Computed {}-dimensional semantic embeddings for {} classes using the "{}" method in {:.2f} seconds.'
              .format(embedding.shape[1], embedding.shape[0], args.method, elapsed))
        max_dev, mean_dev = embedding_deviation(embedding, class_dist, args.method)
        target = "similarities" if METHODS[args.method].kind == SIMILARITY else "distances"
        if not isinstance(class_dist, np.ndarray):  # a large tree's sparse similarity factor: sampled pairs
            target += " (estimated on {:,} random pairs of classes)".format(NUM_SAMPLED_PAIRS)
        print("Maximum deviation from target {}: {:.3g}".format(target, max_dev))
        print("Average deviation from target {}: {:.3g}".format(target, mean_dev))
        utils.save_class_embedding(args.out, embedding, classes)
        print("Wrote {}".format(args.out))


if __name__ == "__main__":
    main()
