"""Class lists of WordNet ids and the tree-shaped taxonomy ("mintree") over them.

WordNet is a DAG, not a tree: many synsets have several hypernyms (a dog is a canine and a
domestic animal). Semantic embeddings need a tree, so `derive_tree` builds the "mintree" of the
original release: all classes with a unique root path first, then, class by class, the root path
that adds the fewest new nodes to the tree built so far (see `wordnet.build_mintree`).

A class list is a text file with one wnid per line (anything after the wnid on a line, e.g. the
names in ImageNet's LOC_synset_mapping.txt, and `#` comments are ignored), a JSON class index like
imagenet_class_index.json ({"0": ["n01440764", "tench"], ...}), a directory whose
sub-directories are named by wnid, or a tar archive with such a text file named wnids.txt at its
top (as tiny-imagenet-200.tar.gz: tiny-imagenet-200/wnids.txt).
"""
import json
import os
import re
import tarfile

import wordnet

WNID_PATTERN = re.compile(r'^n\d{8}$')
ARCHIVE_ENDINGS = ('.tar', '.tar.gz', '.tgz')


# ----------------------------------------------------------------------------- class lists

def read_class_list(path):
    """Classes as a list of (wnid, where) pairs; ``where`` names the file and line for error messages."""
    if os.path.isdir(path):
        entries = sorted(name for name in os.listdir(path) if os.path.isdir(os.path.join(path, name)))
        classes = [(name, os.path.join(path, name)) for name in entries]
    elif path.lower().endswith('.json'):
        classes = _read_json_class_index(path)
    elif path.lower().endswith(ARCHIVE_ENDINGS):
        name, lines = _read_archived_list(path)
        classes = _parse_wnid_lines(lines, '{}:{}'.format(path, name))
    else:
        with open(path, encoding='utf-8') as f:
            classes = _parse_wnid_lines(f, path)
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


def _parse_wnid_lines(lines, where):
    classes = []
    for line_no, line in enumerate(lines, start=1):
        fields = line.split('#', 1)[0].split()
        if fields:
            classes.append((fields[0], '{}:{}'.format(where, line_no)))
    return classes


def _read_archived_list(path, list_name='wnids.txt'):
    """(member name, lines) of the `wnids.txt` at the top of a tar archive (Tiny ImageNet's layout).

    Only the archive's members up to that file are read, not the whole archive.
    """
    with tarfile.open(path) as archive:
        for member in archive:
            if member.isfile() and os.path.basename(member.name) == list_name and member.name.count('/') <= 1:
                return member.name, archive.extractfile(member).read().decode('utf-8').splitlines()
    raise ValueError('{}: no {} at the top of the archive'.format(path, list_name))


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


def node_names(tree, wn):
    """dict node -> the first lemma of its synset, for every node of a tree of wnids."""
    return {node: wn.name(node) for node in tree}
