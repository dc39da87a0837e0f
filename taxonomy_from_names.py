"""A class taxonomy from a dataset's class names (e.g. its folder names), through WordNet 3.0.

    python taxonomy_from_names.py photos/ --out photos.parent-child.txt
    python taxonomy_from_names.py photos/ --out photos.parent-child.txt --override photos.synsets.txt
    python compute_class_embedding.py --hierarchy photos.parent-child.txt --str_ids --method unitsphere \\
        --out photos.unitsphere.pickle

Every class name is mapped to a WordNet noun synset (how: `taxonomy/names.py`), every name that is
ambiguous or not found as written is reported with what was chosen, and a tree whose leaves are the
class names is written (how: `taxonomy/named_tree.py`). Names without a synset stop the command
with an error listing them; map them in the override file. See --help.
"""
import os

import wordnet
from cli import check_output_dir, cli_errors, make_parser
from taxonomy import named_tree, names
from taxonomy.files import write_edges, write_node_names
from taxonomy.trees import tree_edges
from utils import atomic_write

DESCRIPTION = """\
Build a class taxonomy from class names with WordNet 3.0: map every name to a noun synset, then
write a tree whose leaves are exactly the class names, for compute_class_embedding.py --str_ids.

Names are matched as WordNet lemmas after splitting at underscores, hyphens, spaces and case
changes and reducing plurals with WordNet's morphology ("airplanes" -> airplane, "Faces" -> face);
then written together or hyphenated ("wild_cat" -> wildcat); then by their most specific part
("cougar_body" -> cougar, "maple_tree" -> the maple that is a tree). The first (most frequent)
sense is taken. Every ambiguous or approximate match is printed with what was chosen and the
alternatives; the full mapping is written to --mapping_out in the format of the override file,
so that it can be edited and passed back with --override. Names with no synset stop the command
with an error listing them.

Several classes may share a synset (they become sibling leaves below it), a class whose synset
lies above another class's becomes a leaf below its synset node, and instance synsets (Snoopy, the
Great Pyramid) are kept. The alternative to all this is a hand-written indented tree of the class
names, encoded with encode_hierarchy.py."""

EXAMPLES = """\
examples:
  python taxonomy_from_names.py photos/ --out photos.parent-child.txt
  python taxonomy_from_names.py classes.txt --override my.synsets.txt --prune --out my.tree.txt
  python wordnet.py water_lily          # find a wnid for the override file"""


def output_paths(out, names_out=None, mapping_out=None):
    """The names and mapping files beside `out` where not given: x.parent-child.txt -> x.names.txt, x.synsets.txt."""
    base = out[:-len('.parent-child.txt')] if out.endswith('.parent-child.txt') else os.path.splitext(out)[0]
    return names_out or base + '.names.txt', mapping_out or base + '.synsets.txt'


def taxonomy_from_names(class_names, out, names_out, mapping_out, overrides_file=None, prune=False,
                        wordnet_dir=wordnet.DEFAULT_WORDNET_DIR):
    """Match the names, write the tree, the node names and the mapping; returns (matches, tree)."""
    for path, flag in ((out, '--out'), (names_out, '--names_out'), (mapping_out, '--mapping_out')):
        check_output_dir(path, flag)
    wn = wordnet.load_wordnet(wordnet_dir)
    overrides = names.read_overrides(overrides_file, wn) if overrides_file else None
    matches = names.match_classes(class_names, wn, overrides)
    tree, synset_of = named_tree.class_name_tree([(m.name, m.wnid) for m in matches],
                                                 lambda w: wn.hypernyms(w, include_instances=True), prune=prune)
    write_edges(out, tree_edges(tree, sort_key=str))
    node_names = named_tree.node_names(tree, synset_of, wn)
    write_node_names(names_out, {node: node_names[node] for node in sorted(tree)})
    with atomic_write(mapping_out, 'w') as f:
        f.write('\n'.join(names.mapping_lines(matches, wn)) + '\n')
    return matches, tree


def summary_lines(matches, tree, wn):
    """The report: every match worth a look, then the shape of the tree."""
    lines = [names.describe_match(m, wn) for m in matches if names.needs_report(m)]
    shared = {}
    for m in matches:
        shared.setdefault(m.wnid, []).append(m.name)
    depth = {}
    for node in tree:
        d, n = 0, node
        while tree[n] is not None:
            n, d = tree[n], d + 1
        depth[node] = d
    class_names = [m.name for m in matches]
    lines.append('{} classes -> {} synsets (shared by several classes: {}, instances: {}, approximate matches: {}, '
                 'ambiguous: {}); tree of {} nodes, depth {}'.format(
                     len(matches), len(shared), sum(len(v) > 1 for v in shared.values()),
                     sum(wn.is_instance(w) for w in shared), sum(m.kind in ('variant', 'part') for m in matches),
                     sum(m.ambiguous for m in matches), len(tree), max(depth[c] for c in class_names)))
    return lines


def build_parser():
    parser = make_parser(DESCRIPTION, epilog=EXAMPLES)
    parser.add_argument('classes', metavar='CLASSES',
                        help='a folder of class sub-directories (its train/ sub-folder if it has one), or a file '
                             'with one class name per line (or "index name"), or a CIFAR meta pickle')
    parser.add_argument('--out', default='taxonomy.parent-child.txt', metavar='FILE',
                        help='the tree: one "parent child" pair per line, class names as leaves, wnids as inner '
                             'nodes (default: %(default)s)')
    parser.add_argument('--names_out', default=None, metavar='FILE',
                        help='"node name" for every node, for plot_hierarchy.py --class_names '
                             '(default: beside --out, X.parent-child.txt -> X.names.txt)')
    parser.add_argument('--mapping_out', default=None, metavar='FILE',
                        help='the chosen "name wnid" mapping with how each was found and its gloss, in the format '
                             'of --override (default: beside --out, X.synsets.txt)')
    parser.add_argument('--override', default=None, metavar='FILE',
                        help='a file of "class_name wnid" lines (# starts a comment) that fix the synset of '
                             'those classes')
    parser.add_argument('--prune', action='store_true',
                        help='remove inner nodes with a single child (a tree of branching points only)')
    parser.add_argument('--wordnet', default=wordnet.DEFAULT_WORDNET_DIR, metavar='DIR',
                        help='WordNet 3.0 database directory (default: %(default)s)')
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    names_out, mapping_out = output_paths(args.out, args.names_out, args.mapping_out)
    with cli_errors():
        class_names = names.read_class_names(args.classes)
        matches, tree = taxonomy_from_names(class_names, args.out, names_out, mapping_out,
                                            overrides_file=args.override, prune=args.prune, wordnet_dir=args.wordnet)
    print('\n'.join(summary_lines(matches, tree, wordnet.load_wordnet(args.wordnet))))
    print('wrote {} (tree), {} (node names) and {} (mapping, usable as --override)'.format(
        args.out, names_out, mapping_out))


if __name__ == '__main__':
    main()
