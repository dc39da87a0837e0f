"""Turn a hand-written, indented class tree into the integer `parent child` file for training.

    python encode_hierarchy.py Cifar-Hierarchy/hierarchy.txt Cifar-Hierarchy/class_names.txt \\
        --out cifar.parent-child.txt [--names_out cifar.names.txt] [--plot hierarchy.png]
    python encode_hierarchy.py my_tree.txt my_classes.txt --str_ids --out my.parent-child.txt

The original release's command line works as well, also as Cifar-Hierarchy/encode_hierarchy.py (a
link to this script):

    python encode_hierarchy.py hierarchy.txt /data/cifar-100-python/meta [plot]

The formats are described in `taxonomy/indented.py`.
"""
from cli import cli_errors, make_parser
from taxonomy import indented
from taxonomy.files import write_edges, write_node_names

LEGACY_PLOT_WORDS = ('plot', 'true', 'yes', '1')


def encode_hierarchy_file(hierarchy_file, class_names_file, out, names_out=None, plot=None, str_ids=False):
    """Encode `hierarchy_file` with the classes of `class_names_file` into `out`.

    With `str_ids`, the node names themselves are the ids (for datasets whose class ids are names,
    such as a folder of class sub-directories), else classes are 0..n-1 and inner nodes n, n+1, ...
    Returns (edges, names of all node ids, number of classes).
    """
    hierarchy = indented.read_hierarchy(hierarchy_file)
    class_names = indented.read_class_names(class_names_file)
    if str_ids:
        edges = indented.name_edges(hierarchy, class_names, where=hierarchy_file)
        names = {name: name for name in hierarchy}
    else:
        edges, names = indented.encode_hierarchy(hierarchy, class_names, where=hierarchy_file)
    write_edges(out, edges)
    if names_out:
        write_node_names(names_out, names)
    if plot:
        from taxonomy.plot import plot_hierarchy
        plot_hierarchy(hierarchy, plot)
    return edges, names, len(class_names)


def build_parser():
    parser = make_parser('Encode an indented class tree (two dashes per level, as Cifar-Hierarchy/hierarchy.txt) '
                         'as integer "parent child" pairs: classes 0..n-1 in the order of the class list, '
                         'inner nodes n, n+1, ... in the order of the tree file.')
    parser.add_argument('hierarchy_file', help='indented tree (e.g. hierarchy.txt)')
    parser.add_argument('class_names', help='class names in label order: text file or CIFAR meta pickle')
    parser.add_argument('legacy_plot', nargs='?', default=None, metavar='plot',
                        help='"plot", "true", "yes" or "1" to also draw hierarchy.png (original interface)')
    parser.add_argument('--out', default='cifar.parent-child.txt',
                        help='output "parent child" file (default: %(default)s)')
    parser.add_argument('--str_ids', action='store_true',
                        help='write the node names as ids instead of integers (for classes named by their ids, '
                             'e.g. the folder names of --dataset folder; then compute_class_embedding.py --str_ids)')
    parser.add_argument('--names_out', default=None, metavar='FILE',
                        help='also write "id name" for every node (classes and inner nodes), e.g. for '
                             'plot_hierarchy.py --class_names')
    parser.add_argument('--plot', default=None, metavar='PNG', help='draw the tree into this PNG file')
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    plot_file = args.plot
    if args.legacy_plot is not None and args.legacy_plot.lower() in LEGACY_PLOT_WORDS:
        plot_file = plot_file or 'hierarchy.png'
    with cli_errors():
        edges, names, num_classes = encode_hierarchy_file(args.hierarchy_file, args.class_names, args.out,
                                             names_out=args.names_out, plot=plot_file, str_ids=args.str_ids)
    print('{} classes, {} nodes, {} edges written to {}'.format(num_classes, len(names), len(edges), args.out))


if __name__ == '__main__':
    main()
