"""Build a tree-shaped class taxonomy ("mintree") for classes that are WordNet noun synsets (wnids).

    python wordnet_hierarchy.py classes.txt --out wordnet.parent-child.mintree.txt
    python wordnet_hierarchy.py /data/imagenet/train --out tree.txt --dag dag.txt
    python wordnet_hierarchy.py tiny-imagenet-200.tar.gz --out tiny.parent-child.txt --names_out tiny.names.txt

Also reachable as ILSVRC/wordnet_hierarchy.py (a link to this script). The output has one
`parent child` pair of wnids per line, for `compute_class_embedding.py --str_ids`. The class-list
formats and the algorithm are described in `taxonomy/wnids.py`; for class *names* rather than wnids
use `taxonomy_from_names.py`.
"""
import wordnet
from cli import cli_errors, make_parser
from taxonomy import wnids as wnid_lists
from taxonomy.files import write_edges, write_node_names


def build_wordnet_tree(classes_path, out, dag=None, prune=False, instances=False,
                       wordnet_dir=wordnet.DEFAULT_WORDNET_DIR, graph=None, names_out=None):
    """Write the mintree over the classes listed in `classes_path` to `out` (and the DAG to `dag`,
    "wnid first-lemma" for every node to `names_out`).

    Returns (wnids of the classes, the tree as dict node -> parent, parents function).
    """
    if names_out and graph:
        raise ValueError('--names_out needs WordNet for the names, not a --graph file')
    classes = wnid_lists.read_class_list(classes_path)
    wnids = [wnid for wnid, _ in classes]
    if graph:
        dag_parents = wnid_lists.read_parent_child_graph(graph)
        known = set(dag_parents) | {p for ps in dag_parents.values() for p in ps}
        wnid_lists.check_classes(classes, known, graph)
        parents_of = dag_parents
    else:
        wn = wordnet.load_wordnet(wordnet_dir)
        wnid_lists.check_classes(classes, wn.lemmas, 'WordNet 3.0 nouns')
        parents_of = wnid_lists.wordnet_parents(wn, instances)
    tree = wnid_lists.derive_tree(wnids, parents_of, prune=prune)
    write_edges(out, wordnet.tree_edges(tree, sort_key=str))
    if dag:
        write_edges(dag, sorted(wordnet.dag_edges(wnids, parents_of)))
    if names_out:
        names = wnid_lists.node_names(tree, wn)
        write_node_names(names_out, {node: names[node] for node in sorted(tree)})
    return wnids, tree, parents_of


def build_parser():
    parser = make_parser('Build a tree-shaped class taxonomy ("mintree") over WordNet synsets.')
    parser.add_argument('classes',
                        help='class list: text file with one wnid per line, JSON class index, a directory with '
                             'one sub-directory per wnid, or a tar archive with a wnids.txt at its top')
    parser.add_argument('--out', default='wordnet.parent-child.mintree.txt',
                        help='output file for the tree, one "parent child" pair per line '
                             '(default: %(default)s)')
    parser.add_argument('--dag', default=None, metavar='FILE',
                        help='also write the full is-a DAG over the classes and all their ancestors')
    parser.add_argument('--names_out', default=None, metavar='FILE',
                        help='also write "wnid name" (the first lemma) for every node, e.g. for '
                             'plot_hierarchy.py --class_names')
    parser.add_argument('--prune', action='store_true',
                        help='remove inner nodes with a single child (the original ILSVRC mintree keeps them)')
    parser.add_argument('--instances', action='store_true',
                        help='also follow instance hypernyms (@i); ImageNet\'s own hierarchy does not')
    parser.add_argument('--wordnet', default=wordnet.DEFAULT_WORDNET_DIR, metavar='DIR',
                        help='WordNet 3.0 database directory with data.noun (default: %(default)s)')
    parser.add_argument('--graph', default=None, metavar='FILE',
                        help='read the is-a DAG from this "parent child" file instead of WordNet '
                             '(e.g. ImageNet\'s wordnet.parent-child.txt; its line order breaks ties)')
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    with cli_errors():
        wnids, tree, parents_of = build_wordnet_tree(
            args.classes, args.out, dag=args.dag, prune=args.prune, instances=args.instances,
            wordnet_dir=args.wordnet, graph=args.graph, names_out=args.names_out)
        num_ambiguous = sum(len(wordnet.root_paths(w, parents_of)) > 1 for w in wnids)
    print('{} classes ({} with several root paths): tree of {} nodes written to {}'.format(
        len(wnids), num_ambiguous, len(tree), args.out))
    if args.dag:
        num_edges = len(wordnet.dag_edges(wnids, parents_of))
        print('is-a DAG with {} edges written to {}'.format(num_edges, args.dag))


if __name__ == '__main__':
    main()
