"""From an is-a DAG to a tree, and plain tree helpers (no WordNet needed).

A DAG is given as a function (or dict) mapping a node to its *ordered* sequence of parents; roots
have no parents. Trees are dicts mapping each node to its single parent (None for the root).
These functions are also available from the module `wordnet`, where they were first defined.
"""


def _parents_function(parents_of):
    if callable(parents_of):
        return parents_of
    return lambda node: parents_of.get(node, ())


def root_paths(node, parents_of, _memo=None):
    """All paths ``(root, ..., node)`` of a DAG, in the order of the parent sequences (depth first).

    Raises ValueError if the ancestors of ``node`` contain a cycle.
    """
    parents_of = _parents_function(parents_of)
    memo = {} if _memo is None else _memo
    in_progress = set()
    stack = [(node, False)]
    while stack:  # iterative post-order, so that deep hierarchies do not hit the recursion limit
        current, expanded = stack.pop()
        if current in memo:
            continue
        parents = tuple(parents_of(current))
        if expanded:
            in_progress.discard(current)
            memo[current] = [path + (current,) for parent in parents for path in memo[parent]]
        elif not parents:
            memo[current] = [(current,)]
        elif current in in_progress:
            raise ValueError('cycle in the is-a graph through {!r}'.format(current))
        else:
            in_progress.add(current)
            stack.append((current, True))
            stack.extend((p, False) for p in reversed(parents) if p not in memo)
    return memo[node]


def dag_edges(nodes, parents_of):
    """Set of (parent, child) edges of the DAG spanned by the given nodes and all their ancestors."""
    parents_of = _parents_function(parents_of)
    edges, seen, stack = set(), set(), list(nodes)
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        for parent in parents_of(node):
            edges.add((parent, node))
            stack.append(parent)
    return edges


def build_mintree(classes, parents_of):
    """Choose one root path per class so that together they form a tree, greedily keeping it small.

    This is the "mintree" of the original release (Barz & Denzler, WACV 2019): first all classes that
    have a unique root path in the DAG are added; the other classes then follow in the given order, each
    with the root path that fits the tree built so far (no node gets a second parent) and adds the
    fewest new nodes. Ties go to the shorter path, then to the first path in the order of the parent
    sequences. (The greedy choice always finds a fitting path: the tree path of the deepest node already
    in the tree, extended by the new rest of the path.)

    Returns a dict node -> parent (None for the root) over the classes and all chosen ancestors.
    """
    classes = list(classes)
    seen = set()
    for c in classes:
        if c in seen:
            raise ValueError('duplicate class: {!r}'.format(c))
        seen.add(c)
    if not classes:
        raise ValueError('no classes given')
    memo = {}
    paths = {c: root_paths(c, parents_of, memo) for c in classes}
    tree = {}

    def new_nodes(path):
        """Number of nodes the path adds, or None if it would give a node already in the tree a second parent."""
        count = 0
        for i, node in enumerate(path):
            if node not in tree:
                count += 1
            elif tree[node] != (path[i - 1] if i > 0 else None):
                return None
        return count

    def add(path):
        for i, node in enumerate(path):
            tree[node] = path[i - 1] if i > 0 else None

    for c in classes:
        if len(paths[c]) == 1:
            add(paths[c][0])
    for c in classes:
        if len(paths[c]) > 1:
            candidates = [(cost, len(path), j) for j, path in enumerate(paths[c])
                          for cost in [new_nodes(path)] if cost is not None]
            _, _, best = min(candidates)
            add(paths[c][best])
    return tree


def prune_single_child_nodes(tree, keep=()):
    """Remove every node that has exactly one child and is not in ``keep`` (its child takes its place).

    Chains like ``placental > carnivore > feline > cat`` then only keep the nodes where the tree
    branches. A root with a single child is removed as well, so the child becomes the new root.
    """
    keep = set(keep)
    tree = dict(tree)
    children = tree_children(tree)
    for node in list(tree_preorder(tree)):
        if node in keep or len(children.get(node, ())) != 1:
            continue
        (child,) = children.pop(node)
        parent = tree.pop(node)
        tree[child] = parent
        if parent is not None:
            siblings = children[parent]
            siblings[siblings.index(node)] = child
    return tree


def tree_children(tree):
    """dict node -> list of children (in the insertion order of ``tree``)."""
    children = {}
    for node, parent in tree.items():
        if parent is not None:
            children.setdefault(parent, []).append(node)
    return children


def tree_roots(tree):
    return [node for node, parent in tree.items() if parent is None]


def tree_preorder(tree, sort_key=None):
    """Nodes of a tree (or forest) in depth-first pre-order; children sorted by ``sort_key`` if given."""
    children = tree_children(tree)
    order = []
    stack = list(reversed(sorted(tree_roots(tree), key=sort_key) if sort_key else tree_roots(tree)))
    while stack:
        node = stack.pop()
        order.append(node)
        kids = children.get(node, [])
        if sort_key:
            kids = sorted(kids, key=sort_key)
        stack.extend(reversed(kids))
    return order


def tree_edges(tree, sort_key=None):
    """(parent, child) pairs in breadth-first order, children sorted by ``sort_key`` if given."""
    children = tree_children(tree)
    edges, queue = [], sorted(tree_roots(tree), key=sort_key) if sort_key else tree_roots(tree)
    while queue:
        next_queue = []
        for node in queue:
            kids = children.get(node, [])
            if sort_key:
                kids = sorted(kids, key=sort_key)
            edges.extend((node, kid) for kid in kids)
            next_queue.extend(kids)
        queue = next_queue
    return edges
