"""Derive a class taxonomy for ImageNet-style classes (WordNet noun synsets) from WordNet 3.0.

WordNet is a DAG, not a tree: many synsets have several hypernyms (a dog is a canine and a
domestic animal). Semantic embeddings need a tree, so this tool builds the "mintree" of the original
release: all classes with a unique root path first, then, class by class, the root path that adds
the fewest new nodes to the tree built so far (see `wordnet.build_mintree`).

    python ILSVRC/wordnet_hierarchy.py classes.txt --out wordnet.parent-child.mintree.txt
    python ILSVRC/wordnet_hierarchy.py /data/imagenet/train --out tree.txt --dag dag.txt

The class list is a text file with one wnid per line (anything after the wnid on a line, e.g. the
names in ImageNet's LOC_synset_mapping.txt, is ignored), a JSON class index like
imagenet_class_index.json ({"0": ["n01440764", "tench"], ...}), or a directory whose
sub-directories are named by wnid. The output has one `parent child` pair of wnids per line, for
`compute_class_embedding.py --str_ids`.
"""
import argparse
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import wordnet  # noqa: E402
from utils import atomic_write, cli_errors  # noqa: E402

WNID_PATTERN = re.compile(r'^n\d{8}$')


# ----------------------------------------------------------------------------- class lists

def read_class_list(path):
    """Classes as a list of (wnid, where) pairs; ``where`` names the file and line for error messages."""
    if os.path.isdir(path):
        entries = sorted(name for name in os.listdir(path) if os.path.isdir(os.path.join(path, name)))
        classes = [(name, os.path.join(path, name)) for name in entries]
    elif path.lower().endswith('.json'):
        classes = _read_json_class_index(path)
    else:
        classes = []
        with open(path, encoding='utf-8') as f:
            for line_no, line in enumerate(f, start=1):
                fields = line.split('#', 1)[0].split()
                if fields:
                    classes.append((fields[0], '{}:{}'.format(path, line_no)))
    if not classes:
        raise ValueError('{}: no classes listed'.format(path))
    seen = {}
    for wnid, where in classes:
        if not WNID_PATTERN.match(wnid):
            raise ValueError('{}: {!r} is not a WordNet noun id (expected n + 8 digits)'.format(where, wnid))
        if wnid in seen:
            raise ValueError('{}: duplicate class {} (first at {})'.format(where, wnid, seen[wnid]))
        seen[wnid] = where
    return classes


def _read_json_class_index(path):
    with open(path, encoding='utf-8') as f:
        try:
            index = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError('{}: invalid JSON ({})'.format(path, e)) from None
    if not isinstance(index, dict):
        raise ValueError('{}: expected a JSON object {{"index": [wnid, name], ...}}'.format(path))
    classes = []
    for key, value in index.items():
        wnid = value[0] if isinstance(value, (list, tuple)) and value else value
        if not str(key).isdigit() or not isinstance(wnid, str):
            raise ValueError('{}: bad class index entry {!r}: {!r}'.format(path, key, value))
        classes.append((int(key), wnid, '{}[{!r}]'.format(path, key)))
    return [(wnid, where) for _, wnid, where in sorted(classes)]


# ----------------------------------------------------------------------------- is-a graphs

def read_parent_child_graph(path):
    """An is-a DAG from a `parent child` file: dict child -> parents in file order."""
    parents = {}
    with open(path, encoding='utf-8') as f:
        for line_no, line in enumerate(f, start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 2:
                raise ValueError('{}:{}: expected "parent child", got {!r}'.format(path, line_no, line.strip()))
            parent, child = fields
            parents.setdefault(child, []).append(parent)
    if not parents:
        raise ValueError('{}: no edges'.format(path))
    return parents


def wordnet_parents(wn, include_instances=False):
    return lambda wnid: wn.hypernyms(wnid, include_instances)


def check_classes(classes, known, source):
    for wnid, where in classes:
        if wnid not in known:
            raise ValueError('{}: unknown class {} (not in {})'.format(where, wnid, source))


def derive_tree(wnids, parents_of, prune=False):
    tree = wordnet.build_mintree(wnids, parents_of)
    if prune:
        tree = wordnet.prune_single_child_nodes(tree, keep=wnids)
    return tree


def write_edges(path, edges):
    with atomic_write(path, 'w') as f:
        for parent, child in edges:
            f.write('{} {}\n'.format(parent, child))


# ----------------------------------------------------------------------------- command line

def build_parser():
    parser = argparse.ArgumentParser(
        description='Build a tree-shaped class taxonomy ("mintree") over WordNet synsets.')
    parser.add_argument('classes',
                        help='class list: text file with one wnid per line, JSON class index, '
                             'or a directory with one sub-directory per wnid')
    parser.add_argument('--out', default='wordnet.parent-child.mintree.txt',
                        help='output file for the tree, one "parent child" pair per line '
                             '(default: %(default)s)')
    parser.add_argument('--dag', default=None, metavar='FILE',
                        help='also write the full is-a DAG over the classes and all their ancestors')
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
        classes = read_class_list(args.classes)
        wnids = [wnid for wnid, _ in classes]
        if args.graph:
            graph = read_parent_child_graph(args.graph)
            known = set(graph) | {p for ps in graph.values() for p in ps}
            check_classes(classes, known, args.graph)
            parents_of = graph
        else:
            wn = wordnet.load_wordnet(args.wordnet)
            check_classes(classes, wn.lemmas, 'WordNet 3.0 nouns')
            parents_of = wordnet_parents(wn, args.instances)
        tree = derive_tree(wnids, parents_of, prune=args.prune)
        write_edges(args.out, wordnet.tree_edges(tree, sort_key=str))
        num_ambiguous = sum(len(wordnet.root_paths(w, parents_of)) > 1 for w in wnids)
        print('{} classes ({} with several root paths): tree of {} nodes written to {}'.format(
            len(wnids), num_ambiguous, len(tree), args.out))
        if args.dag:
            edges = wordnet.dag_edges(wnids, parents_of)
            write_edges(args.dag, sorted(edges))
            print('is-a DAG with {} edges written to {}'.format(len(edges), args.dag))


if __name__ == '__main__':
    main()
