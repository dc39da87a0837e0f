"""Files every taxonomy tool writes or reads: `parent child` edges and `id name` node names."""

from utils import atomic_write


def write_edges(path, edges):
    """One `parent child` pair per line (atomically: an old file survives a failure)."""
    with atomic_write(path, 'w') as f:
        for parent, child in edges:
            f.write('{} {}\n'.format(parent, child))


def write_node_names(path, names):
    """`id name` per line; `names` is a dict id -> name or a list (ids = positions)."""
    items = names.items() if isinstance(names, dict) else enumerate(names)
    with atomic_write(path, 'w') as f:
        for node, name in items:
            f.write('{} {}\n'.format(node, name))


def read_node_names(path, id_type=str):
    """dict node id -> name from `id name` lines (the name may contain spaces), as plot_hierarchy.py reads them.

    A file of bare names, one per line (like Cifar-Hierarchy/class_names.txt), gives the ids 0, 1, ...
    """
    entries = []
    with open(path, encoding='utf-8') as f:
        for line_no, line in enumerate(f, start=1):
            if line.strip():
                entries.append((line_no, line.strip().split(None, 1)))
    if not entries:
        raise ValueError('{}: no names'.format(path))
    if all(len(fields) == 1 for _, fields in entries):
        if id_type is not int:
            raise ValueError('{}: one name per line gives integer ids; "id name" lines are needed with string ids'
                             .format(path))
        return {i: fields[0] for i, (_, fields) in enumerate(entries)}
    names = {}
    for line_no, fields in entries:
        if len(fields) != 2:
            raise ValueError('{}:{}: expected "id name", got {!r}'.format(path, line_no, fields[0]))
        try:
            names[id_type(fields[0])] = fields[1]
        except ValueError:
            raise ValueError('{}:{}: id {!r} is not an integer (use --str_ids for string ids)'.format(
                path, line_no, fields[0])) from None
    return names
