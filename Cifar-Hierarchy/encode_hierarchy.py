"""Turn a human-readable, indented class tree into the integer `parent child` file for training.

The tree file has one node name per line; the depth of a node is given by leading dashes, two per
level, followed by a space (the format of the original release's Cifar-Hierarchy/hierarchy.txt):

    entity
    -- organism
    ---- bear
    ---- fox
    -- artifact
    ---- bicycle

Classes get the ids 0..n-1 in the order of the class list; inner nodes get the following ids in the
order in which the tree file introduces them. Usage (the original command line still works):

    python encode_hierarchy.py hierarchy.txt class_names.txt --out cifar.parent-child.txt
    python encode_hierarchy.py hierarchy.txt /data/cifar-100-python/meta [plot]

The class list is a text file with one name per line (optionally `index name`, as in the node-name
list this script writes with --names_out) or the `meta` / `batches.meta` pickle of the CIFAR
datasets (fine labels of CIFAR-100, labels of CIFAR-10).
"""
import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from utils import atomic_write, cli_errors, safe_pickle_load  # noqa: E402

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


def save_edges(path, edges):
    with atomic_write(path, 'w') as f:
        for parent, child in edges:
            f.write('{} {}\n'.format(parent, child))


def save_node_names(path, names):
    with atomic_write(path, 'w') as f:
        for i, name in enumerate(names):
            f.write('{} {}\n'.format(i, name))


# ----------------------------------------------------------------------------- plotting

def plot_hierarchy(hierarchy, path):
    """Draw the tree left to right into a PNG file (leaves in file order, one row each)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    children = hierarchy
    has_parent = {child for kids in hierarchy.values() for child in kids}
    roots = [n for n in hierarchy if n not in has_parent]
    x, y, rows = {}, {}, [0]

    def place(node, depth):  # post-order: a parent sits at the mean height of its children
        x[node] = depth
        for child in children[node]:
            place(child, depth + 1)
        if children[node]:
            y[node] = sum(y[c] for c in children[node]) / len(children[node])
        else:
            y[node], rows[0] = rows[0], rows[0] + 1

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(hierarchy)))
    for root in roots:
        place(root, 0)
    fig, ax = plt.subplots(figsize=(3 + 2.2 * max(x.values()), 1 + 0.22 * rows[0]))
    for parent, kids in children.items():
        for child in kids:
            ax.plot([x[parent], x[parent] + 0.5, x[parent] + 0.5, x[child]],
                    [y[parent], y[parent], y[child], y[child]], color='0.6', linewidth=0.8)
    for node in hierarchy:
        ax.text(x[node], y[node], node, fontsize=7, va='center', ha='left' if not children[node] else 'center',
                bbox=None if not children[node] else dict(boxstyle='round', fc='#eaeaea', ec='0.5', lw=0.5))
    ax.set_xlim(-0.5, max(x.values()) + 1.5)
    ax.set_ylim(rows[0], -1)
    ax.axis('off')
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ----------------------------------------------------------------------------- command line

def build_parser():
    parser = argparse.ArgumentParser(description='Encode an indented class tree as integer "parent child" pairs.')
    parser.add_argument('hierarchy_file', help='indented tree (e.g. hierarchy.txt)')
    parser.add_argument('class_names', help='class names in label order: text file or CIFAR meta pickle')
    parser.add_argument('legacy_plot', nargs='?', default=None, metavar='plot',
                        help='"plot", "true", "yes" or "1" to also draw hierarchy.png (original interface)')
    parser.add_argument('--out', default='cifar.parent-child.txt',
                        help='output "parent child" file (default: %(default)s)')
    parser.add_argument('--names_out', default=None, metavar='FILE',
                        help='also write "index name" for every node id (classes and inner nodes)')
    parser.add_argument('--plot', default=None, metavar='PNG', help='draw the tree into this PNG file')
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    plot_file = args.plot
    if args.legacy_plot is not None and args.legacy_plot.lower() in ('plot', 'true', 'yes', '1'):
        plot_file = plot_file or 'hierarchy.png'
    with cli_errors():
        hierarchy = read_hierarchy(args.hierarchy_file)
        class_names = read_class_names(args.class_names)
        edges, names = encode_hierarchy(hierarchy, class_names, where=args.hierarchy_file)
        save_edges(args.out, edges)
        if args.names_out:
            save_node_names(args.names_out, names)
        if plot_file:
            plot_hierarchy(hierarchy, plot_file)
    print('{} classes, {} nodes, {} edges written to {}'.format(len(class_names), len(names), len(edges), args.out))


if __name__ == '__main__':
    main()
