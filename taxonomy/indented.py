"""The hand-written indented class tree (``hierarchy.txt``) and its encoding as integer ids.

The tree file has one node name per line; the depth of a node is given by leading dashes, two per
level, followed by a space (the format of the original release's Cifar-Hierarchy/hierarchy.txt):

    entity
    -- organism
    ---- bear
    ---- fox
    -- artifact
    ---- bicycle

Classes get the ids 0..n-1 in the order of the class list; inner nodes get the following ids in the
order in which the tree file introduces them. The class list is a text file with one name per line
(optionally `index name`, as in the node-name lists `encode_hierarchy.py --names_out` writes) or the
`meta` / `batches.meta` pickle of the CIFAR datasets (fine labels of CIFAR-100, labels of CIFAR-10).
"""
import re

from utils import safe_pickle_load

INDENT = '--'
_LINE_PATTERN = re.compile(r'^(?:((?:--)+) )?([^\s-].*)$')


# ----------------------------------------------------------------------------- reading and writing trees

def read_hierarchy(path):
    """Read an indented tree file: dict node name -> list of child names, in file order."""
    hierarchy, stack = {}, []  # stack: the ancestors of the next line's node at the current depth
    with open(path, encoding='utf-8') as f:
        for line_no, line in enumerate(f, start=1):
            line = line.strip()
            if not line:
                continue
            where = '{}:{}'.format(path, line_no)
            match = _LINE_PATTERN.match(line)
            if match is None:
                raise ValueError('{}: bad indentation in {!r} (expected an even number of dashes, '
                                 'a space and the node name)'.format(where, line))
            level = len(match.group(1) or '') // len(INDENT)
            name = match.group(2).strip()
            if name in hierarchy:
                raise ValueError('{}: duplicate node name {!r}'.format(where, name))
            if level > len(stack):
                raise ValueError('{}: {!r} is indented deeper than one level below the line before'.format(
                    where, line) if hierarchy else '{}: the first node must not be indented'.format(where))
            del stack[level:]
            hierarchy[name] = []
            if stack:
                hierarchy[stack[-1]].append(name)
            stack.append(name)
    if not hierarchy:
        raise ValueError('{}: empty hierarchy'.format(path))
    return hierarchy


def format_hierarchy(children, roots):
    """The indented text of a tree given as dict node -> ordered children and the ordered roots."""
    lines, stack = [], [(root, 0) for root in reversed(roots)]
    while stack:
        node, level = stack.pop()
        lines.append('{}{}{}'.format(INDENT * level, ' ' if level else '', node))
        stack.extend((child, level + 1) for child in reversed(children.get(node, ())))
    return '\n'.join(lines) + '\n'


# ----------------------------------------------------------------------------- class lists and encoding

def read_class_names(path):
    """Class names in label order from a text list (`name` or `index name` lines) or a CIFAR meta pickle."""
    with open(path, 'rb') as f:
        # Pickles of protocol >= 2 start with PROTO (0x80), protocol-0 dicts with '(' or '}'.
        is_pickle = f.read(1) in (b'\x80', b'(', b'}')
    if is_pickle:
        return _cifar_meta_names(path)
    names = []
    with open(path, encoding='utf-8') as f:
        for line_no, line in enumerate(f, start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) == 2 and fields[0].isdigit():
                if int(fields[0]) != len(names):
                    raise ValueError('{}:{}: expected index {}, got {}'.format(path, line_no, len(names), fields[0]))
                fields = fields[1:]
            if len(fields) != 1:
                raise ValueError('{}:{}: expected one class name per line, got {!r}'.format(
                    path, line_no, line.strip()))
            if fields[0] in names:
                raise ValueError('{}:{}: duplicate class name {!r}'.format(path, line_no, fields[0]))
            names.append(fields[0])
    if not names:
        raise ValueError('{}: no class names'.format(path))
    return names


def _cifar_meta_names(path):
    meta = safe_pickle_load(path)
    for key in ('fine_label_names', 'label_names'):
        for k in (key, key.encode()):
            if isinstance(meta, dict) and k in meta:
                return [n.decode() if isinstance(n, bytes) else str(n) for n in meta[k]]
    raise ValueError('{}: not a CIFAR meta file (no fine_label_names or label_names)'.format(path))


def encode_hierarchy(hierarchy, class_names, where='the hierarchy'):
    """Integer ids for a named tree: returns (edges as (parent id, child id), names of all ids).

    Classes keep their index in ``class_names``; every other node is numbered after them, a parent
    before its children, in the order of ``hierarchy`` (as the original encoder did).
    """
    missing = [name for name in class_names if name not in hierarchy]
    if missing:
        raise ValueError('class {!r} does not occur in {}'.format(missing[0], where))
    ids = {name: i for i, name in enumerate(class_names)}
    names = list(class_names)

    def node_id(name):
        if name not in ids:
            ids[name] = len(names)
            names.append(name)
        return ids[name]

    edges = []
    for parent, children in hierarchy.items():
        parent_id = node_id(parent)
        edges.extend((parent_id, node_id(child)) for child in children)
    return edges, names


def name_edges(hierarchy, class_names, where='the hierarchy'):
    """The named tree as (parent name, child name) pairs, for classes whose ids are their names.

    Every class must occur in the tree, and no node name may contain whitespace (a `parent child`
    line could not be read back).
    """
    missing = [name for name in class_names if name not in hierarchy]
    if missing:
        raise ValueError('class {!r} does not occur in {}'.format(missing[0], where))
    spaced = [name for name in hierarchy if len(name.split()) != 1]
    if spaced:
        raise ValueError('{}: node name {!r} contains whitespace, which a "parent child" file of names cannot '
                         'hold (write it with underscores)'.format(where, spaced[0]))
    return [(parent, child) for parent, children in hierarchy.items() for child in children]
