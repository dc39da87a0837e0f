"""Derive the CIFAR-100 and CIFAR-10 class trees from WordNet 3.0 (the shipped Cifar-Hierarchy files).

Writes into --out_dir (default: Cifar-Hierarchy/)

    <prefix>class_names.txt      the class names in label order, one per line
    <prefix>hierarchy.txt        the tree, indented as encode_hierarchy.py reads it
    <out file>                   the integer "parent child" file (classes 0..n-1, inner nodes n+)
    <names file>                 "id name" for every node id (e.g. for plot_hierarchy.py --class_names)

Regenerate the shipped files with

    python derive_cifar_hierarchy.py --dataset cifar100
    python derive_cifar_hierarchy.py --dataset cifar10

(or as Cifar-Hierarchy/derive_hierarchy.py, a link to this script) and print the mapping table (first
WordNet sense or hand choice) with --show_mapping. The tables and the method: `taxonomy/cifar.py`.
"""
import os

import wordnet
from cli import cli_errors, make_parser
from taxonomy import cifar, indented
from taxonomy.files import write_edges, write_node_names
from utils import atomic_write

CIFAR_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'Cifar-Hierarchy')


def derive_cifar_files(dataset, out_dir, wn):
    """Write the four files of `dataset` into `out_dir`; returns (their paths, number of tree nodes)."""
    config = cifar.DATASETS[dataset]
    synsets = config['synsets']
    tree, names = cifar.derive_tree(synsets, wn)
    class_names = list(synsets)
    names_file = os.path.join(out_dir, config['prefix'] + 'class_names.txt')
    hierarchy_file = os.path.join(out_dir, config['prefix'] + 'hierarchy.txt')
    edges_file = os.path.join(out_dir, config['out'])
    node_names_file = os.path.join(out_dir, config['names'])
    with atomic_write(names_file, 'w') as f:
        f.write(''.join(name + '\n' for name in class_names))
    with atomic_write(hierarchy_file, 'w') as f:
        f.write(cifar.hierarchy_text(tree, names))
    edges, all_names = indented.encode_hierarchy(indented.read_hierarchy(hierarchy_file), class_names,
                                                 where=hierarchy_file)
    write_edges(edges_file, edges)
    write_node_names(node_names_file, all_names)
    return (names_file, hierarchy_file, edges_file, node_names_file), len(all_names)


def build_parser():
    parser = make_parser('Derive the CIFAR class trees from WordNet 3.0.')
    parser.add_argument('--dataset', choices=sorted(cifar.DATASETS), default='cifar100')
    parser.add_argument('--out_dir', default=CIFAR_DIR, metavar='DIR',
                        help='where to write the files (default: Cifar-Hierarchy/)')
    parser.add_argument('--wordnet', default=wordnet.DEFAULT_WORDNET_DIR, metavar='DIR',
                        help='WordNet 3.0 database directory (default: %(default)s)')
    parser.add_argument('--show_mapping', action='store_true', help='print the class -> synset table')
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    synsets = cifar.DATASETS[args.dataset]['synsets']
    with cli_errors():
        wn = wordnet.load_wordnet(args.wordnet)
        if args.show_mapping:
            print(cifar.mapping_table(synsets, wn))
        paths, num_nodes = derive_cifar_files(args.dataset, args.out_dir, wn)
    num_hand = sum(not cifar.is_first_sense(n, t, wn) for n, t in synsets.items())
    print('{}: {} classes ({} mapped by hand), {} nodes; wrote {}'.format(
        args.dataset, len(synsets), num_hand, num_nodes, ', '.join(paths)))


if __name__ == '__main__':
    main()
