"""Draw a class taxonomy to a PNG, SVG or PDF file (matplotlib; readable from 10 to 1,000 leaves).

    python plot_hierarchy.py --hierarchy Cifar-Hierarchy/cifar.parent-child.txt \\
        --class_names Cifar-Hierarchy/cifar.names.txt --out cifar100-tree.png
    python plot_hierarchy.py --hierarchy TinyImageNet-Hierarchy/tiny-imagenet.parent-child.txt --str_ids \\
        --class_names TinyImageNet-Hierarchy/tiny-imagenet.names.txt --out tiny-imagenet-tree.svg

The original release's options (--hierarchy, --is_a, --str_ids, --class_names, --out) keep their
meaning; it drew SVG with graphviz, this draws with matplotlib. How: `taxonomy/plot.py`.
"""
from cli import add_hierarchy_arguments, cli_errors, load_hierarchy, make_parser, positive_int
from taxonomy import plot
from taxonomy.files import read_node_names

DESCRIPTION = """\
Creates a graphical visualization of a class taxonomy (a tree or a DAG) as PNG, SVG or PDF, by the
ending of --out. Chains of single-child nodes are merged into their lowest node; up to 150 leaves
are drawn left to right, one row each, more around a circle (--layout); --max_leaves shows the
smallest subtrees as single nodes "name (number of leaves)". A DAG is drawn as its spanning tree
(first parent), its other is-a links dashed."""


def build_parser():
    parser = make_parser(DESCRIPTION)
    add_hierarchy_arguments(parser, help='A file of parent-child (or, with --is_a, child-parent) relationships, one '
                                         'pair per line.')
    parser.add_argument('--class_names', default=None, metavar='FILE',
                        help='Names to show: "id name" per line (as written by encode_hierarchy.py --names_out, '
                             'wordnet_hierarchy.py --names_out or taxonomy_from_names.py), or one name per line '
                             'for the integer ids 0, 1, ... Nodes without a name show their id.')
    parser.add_argument('--out', required=True, metavar='FILE', help='The picture: a .png, .svg or .pdf file.')
    parser.add_argument('--layout', choices=plot.LAYOUTS, default='auto',
                        help='dendrogram (left to right), radial (around a circle), or auto: dendrogram up to '
                             '{} leaves (default: auto)'.format(plot.DENDROGRAM_MAX_LEAVES))
    parser.add_argument('--max_leaves', type=positive_int, default=None, metavar='N',
                        help='Show at most N leaves: the smallest subtrees are drawn as one node (default: all).')
    parser.add_argument('--keep_chains', action='store_true',
                        help='Draw every node of single-child chains instead of merging them.')
    parser.add_argument('--inner_labels', choices=plot.INNER_LABELS, default='auto',
                        help='Names of inner nodes: all, none, or auto: all in a dendrogram, around a circle those '
                             'with at least 1/40 of the leaves below them; names that would overlap a more important '
                             'one are left out (default: auto)')
    parser.add_argument('--title', default=None, help='A title above the picture.')
    parser.add_argument('--font_size', type=float, default=None, metavar='POINTS',
                        help='Font size of the leaf names (default: 8, or 7 and 5 around a circle).')
    parser.add_argument('--dpi', type=positive_int, default=100, help='Resolution of PNG files.')
    return parser


def plot_hierarchy_file(hierarchy_file, out, is_a=False, str_ids=False, class_names=None, **options):
    """Read a hierarchy (and names) and draw it; returns (the drawn tree's root, the layout used)."""
    hierarchy = load_hierarchy(hierarchy_file, is_a, str_ids)
    names = read_node_names(class_names, str if str_ids else int) if class_names else None
    return plot.draw_tree(hierarchy.children, hierarchy.roots(), out, names=names, **options)


def main(argv=None):
    args = build_parser().parse_args(argv)
    with cli_errors():
        root, layout = plot_hierarchy_file(
            args.hierarchy, args.out, is_a=args.is_a, str_ids=args.str_ids, class_names=args.class_names,
            layout=args.layout, collapse_chains=not args.keep_chains, max_leaves=args.max_leaves,
            inner_labels=args.inner_labels, title=args.title, font_size=args.font_size, dpi=args.dpi)
    shown = root.display_leaves()
    print('{} leaves ({} shown, {} drawn as subtrees), {} layout: wrote {}'.format(
        len(root.leaves), len(shown), sum(n.collapsed for n in shown), layout, args.out))


if __name__ == '__main__':
    main()
