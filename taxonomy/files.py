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
