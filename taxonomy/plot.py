"""Pictures of class trees that stay readable from 10 to 1,000 leaves (matplotlib, PNG/SVG/PDF).

Three steps, each a function that can be tested on its own:

1. `display_tree` turns the taxonomy into the tree that is drawn: a DAG is drawn as its spanning tree
   (first parent; the other is-a links are returned and drawn dashed), chains of single-child nodes
   are merged into their lowest node (WordNet's placental > carnivore > feline > cat becomes cat),
   and with a leaf budget the smallest subtrees are shown as one node "name (k)".
2. `layout_dendrogram` (left to right, one row per leaf, for up to about 150 leaves) or
   `layout_radial` (leaves around a circle, for more) gives every node a position.
3. `draw_tree` draws it.
"""
import heapq
import math
from dataclasses import dataclass, field

LAYOUTS = ('auto', 'dendrogram', 'radial')
INNER_LABELS = ('auto', 'all', 'none')
DENDROGRAM_MAX_LEAVES = 150  # beyond this, 'auto' draws a radial tree
RADIAL_HOLE = 0.25  # the radius of depth 0 as a fraction of the leaves' radius
FORMATS = ('png', 'svg', 'pdf')


@dataclass(eq=False)
class DisplayNode:
    """A node of the drawn tree (compared by identity)."""
    node: object                 # the taxonomy node shown: the lowest node of a merged chain
    chain: tuple                 # the taxonomy nodes merged into this one, top to bottom (ends with `node`)
    children: list = field(default_factory=list)
    leaves: tuple = ()           # the taxonomy's leaves below (the node itself for a leaf)
    collapsed: bool = False      # a whole subtree shown as one node, because of the leaf budget

    def walk(self):
        """This node and all below, depth first, children in order."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    def display_leaves(self):
        return [n for n in self.walk() if not n.children]


# ----------------------------------------------------------------------------- what is drawn

def display_tree(children, roots, collapse_chains=True, max_leaves=None, sort_key=None):
    """The drawn tree (a `DisplayNode`) and the is-a links left out of it (list of (parent, child)).

    children - dict node -> list of child nodes (a tree or a DAG); roots - the nodes without parents.
    Several roots get a common root whose node is None. sort_key orders the children (None: as given).
    """
    if max_leaves is not None and max_leaves < 1:
        raise ValueError('the leaf budget must be at least 1, got {}'.format(max_leaves))
    if not roots:
        raise ValueError('the taxonomy has no root')
    tree_children, extra_edges, seen = {}, [], set(roots)
    order = list(roots)
    for node in order:  # breadth first: a node keeps its first parent, later parents are extra edges
        kids = []
        for child in children.get(node, ()):
            if child in seen:
                extra_edges.append((node, child))
            else:
                seen.add(child)
                kids.append(child)
                order.append(child)
        tree_children[node] = sorted(kids, key=sort_key) if sort_key else kids
    top = roots[0] if len(roots) == 1 else None
    if top is None:
        tree_children[None] = sorted(roots, key=sort_key) if sort_key else list(roots)
    root = _build(top, tree_children, collapse_chains)
    if max_leaves is not None:
        _apply_leaf_budget(root, max_leaves)
    return root, extra_edges


def _build(top, tree_children, collapse_chains):
    """DisplayNodes for the subtree of `top`, merging single-child chains (iteratively: deep trees are fine)."""
    def chain_from(node):
        chain = [node]
        while collapse_chains and len(tree_children.get(chain[-1], ())) == 1:
            chain.append(tree_children[chain[-1]][0])
        return chain

    def make(node):
        chain = chain_from(node)
        return DisplayNode(chain[-1], tuple(chain))

    root = make(top)
    stack, post_order = [root], []
    while stack:
        current = stack.pop()
        post_order.append(current)
        current.children = [make(child) for child in tree_children.get(current.node, ())]
        stack.extend(current.children)
    for current in reversed(post_order):  # children before parents
        if current.children:
            current.leaves = tuple(leaf for child in current.children for leaf in child.leaves)
        else:
            current.leaves = (current.node,)
    return root


def _apply_leaf_budget(root, max_leaves):
    """Show at most `max_leaves` leaves: open the largest subtrees first, keep the rest as single nodes."""
    if len(root.leaves) <= max_leaves:
        return
    shown, counter = 1, 0  # the root alone
    heap, opened = [(-len(root.leaves), counter, root)], set()
    while heap:
        _, _, node = heapq.heappop(heap)
        if not node.children:
            continue
        if shown - 1 + len(node.children) > max_leaves:
            continue  # too big to open; a smaller subtree may still fit
        shown += len(node.children) - 1
        opened.add(node)
        for child in node.children:
            counter += 1
            heapq.heappush(heap, (-len(child.leaves), counter, child))
    for node in list(root.walk()):
        if node.children and node not in opened:
            node.children, node.collapsed = [], True


# ----------------------------------------------------------------------------- layouts

def _depths(root):
    depth = {root: 0}
    for node in root.walk():
        for child in node.children:
            depth[child] = depth[node] + 1
    return depth


def layout_dendrogram(root):
    """dict DisplayNode -> (x, y): x = depth (leaves aligned at the deepest level), y = leaf row (0, 1, ...).

    An inner node sits at the middle of its first and last child's rows.
    """
    depth = _depths(root)
    leaf_x = max(depth.values())
    position = {}
    for row, leaf in enumerate(root.display_leaves()):
        position[leaf] = (leaf_x, float(row))
    for node in reversed(list(root.walk())):
        if node.children:
            rows = [position[child][1] for child in node.children]
            position[node] = (depth[node], (rows[0] + rows[-1]) / 2)
    return position


def layout_radial(root):
    """dict DisplayNode -> (angle in radians, radius): leaves evenly around the circle at the outer radius.

    An inner node sits at the middle angle of its first and last child, at a radius that grows with its
    depth from RADIAL_HOLE of the outer radius (the root alone is at the centre), so that the levels
    near the root have room.
    """
    depth = _depths(root)
    outer = max(max(depth.values()), 1)
    leaves = root.display_leaves()
    position = {}
    for i, leaf in enumerate(leaves):
        position[leaf] = (2 * math.pi * i / len(leaves), float(outer))
    for node in reversed(list(root.walk())):
        if node.children:
            angles = [position[child][0] for child in node.children]
            radius = 0.0 if node is root else outer * (RADIAL_HOLE + (1 - RADIAL_HOLE) * depth[node] / outer)
            position[node] = ((angles[0] + angles[-1]) / 2, radius)
    return position


# ----------------------------------------------------------------------------- drawing

def node_label(display_node, names=None):
    label = str(display_node.node) if display_node.node is not None else ''
    if names and display_node.node in names:
        label = names[display_node.node]
    return '{} ({})'.format(label, len(display_node.leaves)) if display_node.collapsed else label


def choose_layout(layout, num_leaves):
    if layout not in LAYOUTS:
        raise ValueError('unknown layout {!r} (choose from {})'.format(layout, ', '.join(LAYOUTS)))
    if layout == 'auto':
        return 'dendrogram' if num_leaves <= DENDROGRAM_MAX_LEAVES else 'radial'
    return layout


def draw_tree(children, roots, path, names=None, layout='auto', collapse_chains=True, max_leaves=None,
              inner_labels='auto', title=None, font_size=None, dpi=100):
    """Draw a taxonomy into `path` (.png, .svg or .pdf); returns (display root, layout name)."""
    extension = path.rsplit('.', 1)[-1].lower()
    if extension not in FORMATS:
        raise ValueError('{}: cannot tell the picture format (use a file name ending in {})'.format(
            path, ', '.join('.' + f for f in FORMATS)))
    if inner_labels not in INNER_LABELS:
        raise ValueError('unknown inner_labels {!r} (choose from {})'.format(inner_labels, ', '.join(INNER_LABELS)))
    sort_key = (lambda n: str(names.get(n, n)).lower()) if names else (lambda n: str(n))
    root, extra_edges = display_tree(children, roots, collapse_chains, max_leaves, sort_key=sort_key)
    layout = choose_layout(layout, len(root.display_leaves()))

    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    draw = _draw_dendrogram if layout == 'dendrogram' else _draw_radial
    from utils import atomic_path
    with plt.rc_context({'svg.fonttype': 'none'}):  # SVG text stays text: searchable, and smaller
        fig = draw(plt, root, extra_edges, names, inner_labels, font_size)
        if title:
            fig.suptitle(title)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=dpi, format=extension)
            if extension == 'png':
                _to_palette_png(tmp)
    plt.close(fig)
    return root, layout


def _to_palette_png(path, colors=128):
    """Rewrite a PNG with a palette of `colors` colors: a third of the size for line drawings, same look."""
    from PIL import Image

    with Image.open(path) as image:
        palette_image = image.convert('RGB').quantize(colors=colors, dither=Image.Dither.NONE)
    palette_image.save(path, format='PNG', optimize=True)


def _show_inner_label(node, inner_labels, num_leaves):
    """Around a circle, 'auto' names only inner nodes with 1/40 of the leaves; overlapping names are dropped anyway."""
    if inner_labels == 'all':
        return True
    if inner_labels == 'none':
        return False
    return len(node.leaves) >= max(2, num_leaves / 40)


def _branch_colors(root):
    """A color per node: one per main branch, grey above them.

    The main branches are the children of the root, except that a child holding more than half of
    all leaves is split into its own children (repeatedly), so that one branch does not take all.
    """
    from matplotlib import colormaps
    branches, node, total = [], root, len(root.leaves)
    while True:
        big = max(node.children, key=lambda c: len(c.leaves), default=None)
        if big is None:
            break
        if big.children and len(big.leaves) > total / 2:
            branches.extend(c for c in node.children if c is not big)
            node = big
        else:
            branches.extend(node.children)
            break
    palette = [c for i, c in enumerate(colormaps['tab10'].colors) if i != 7]  # not its grey: grey is the trunk
    color = {n: '0.45' for n in root.walk()}
    order = {id(n): i for i, n in enumerate(root.walk())}
    for i, branch in enumerate(sorted(branches, key=lambda b: order[id(b)])):
        for n in branch.walk():
            color[n] = palette[i % len(palette)]
    return color


def _add_labels_without_overlap(fig, ax, labels):
    """Add text labels, most important first, dropping any that would overlap one already placed.

    labels - list of (priority, x, y, text, text keyword arguments); higher priority first.
    """
    renderer = fig.canvas.get_renderer()
    placed = []
    for _, x, y, text, kwargs in sorted(labels, key=lambda item: -item[0]):
        artist = ax.text(x, y, text, **kwargs)
        box = artist.get_window_extent(renderer).expanded(1.05, 1.1)
        if any(box.overlaps(other) for other in placed):
            artist.remove()
        else:
            placed.append(box)


def _draw_dendrogram(plt, root, extra_edges, names, inner_labels, font_size):
    from matplotlib.collections import LineCollection

    position = layout_dendrogram(root)
    leaves = root.display_leaves()
    font = font_size or 8
    color = _branch_colors(root)
    max_x = max(x for x, _ in position.values())
    longest = max(len(node_label(leaf, names)) for leaf in leaves)
    row_inches = font * 1.45 / 72
    width = 1.5 + 1.25 * max_x + longest * font * 0.55 / 72
    fig, ax = plt.subplots(figsize=(width, 0.6 + row_inches * len(leaves)))
    segments, colors = [], []
    for node in root.walk():
        if node.children:
            x, _ = position[node]
            ys = [position[child][1] for child in node.children]
            segments.append([(x, ys[0]), (x, ys[-1])])
            colors.append(color[node])
            for child in node.children:
                segments.append([(x, position[child][1]), position[child]])
                colors.append(color[child])
    ax.add_collection(LineCollection(segments, colors=colors, linewidths=0.9))
    _draw_extra_edges(ax, extra_edges, root, position)
    inner = []
    for node in root.walk():
        x, y = position[node]
        if not node.children:
            ax.text(x + 0.08, y, node_label(node, names), fontsize=font, va='center', ha='left', color='0.1',
                    fontweight='bold' if node.collapsed else 'normal')
        elif node.node is not None and inner_labels != 'none':
            inner.append((len(node.leaves), x, y, node_label(node, names),
                          dict(fontsize=font * 0.85, va='center', ha='center',
                               bbox=dict(boxstyle='round,pad=0.2', fc='#f0f0f0', ec=color[node], lw=0.6))))
    ax.set_xlim(-0.6, max_x + 0.1 + longest * font * 0.55 / 72 / 1.25)
    ax.set_ylim(len(leaves) - 0.5, -0.5)
    _add_labels_without_overlap(fig, ax, inner)
    ax.axis('off')
    fig.subplots_adjust(left=0.01, right=0.99, top=0.99, bottom=0.01)
    return fig


def _draw_radial(plt, root, extra_edges, names, inner_labels, font_size):
    from matplotlib.collections import LineCollection

    position = layout_radial(root)
    leaves = root.display_leaves()
    font = font_size or (7 if len(leaves) <= 400 else 5)
    color = _branch_colors(root)
    outer = max(r for _, r in position.values())
    longest = max(len(node_label(leaf, names)) for leaf in leaves)
    label_inches = longest * font * 0.55 / 72
    ring_inches = max(3.0, len(leaves) * font * 1.35 / 72 / (2 * math.pi))  # leaf labels do not overlap
    size = 2 * (ring_inches + label_inches) + 0.6
    fig, ax = plt.subplots(figsize=(size, size))
    unit = ring_inches / outer  # inches per depth level

    def xy(angle, radius):
        return radius * math.cos(angle), radius * math.sin(angle)

    segments, colors = [], []
    for node in root.walk():
        if not node.children:
            continue
        _, radius = position[node]
        angles = [position[child][0] for child in node.children]
        steps = max(2, int(abs(angles[-1] - angles[0]) / 0.02))
        segments.append([xy(angles[0] + (angles[-1] - angles[0]) * i / steps, radius) for i in range(steps + 1)])
        colors.append(color[node])
        for child in node.children:
            angle, child_radius = position[child]
            segments.append([xy(angle, radius), xy(angle, child_radius)])
            colors.append(color[child])
    ax.add_collection(LineCollection(segments, colors=colors, linewidths=0.8))
    _draw_extra_edges(ax, extra_edges, root, {n: xy(*p) for n, p in position.items()})
    inner = []
    for node in root.walk():
        angle, radius = position[node]
        if not node.children:
            degrees = math.degrees(angle) % 360
            flip = 90 < degrees < 270
            ax.text(*xy(angle, radius + 0.1 / unit), node_label(node, names), fontsize=font,
                    rotation=degrees + 180 if flip else degrees, rotation_mode='anchor',
                    ha='right' if flip else 'left', va='center', color='0.1',
                    fontweight='bold' if node.collapsed else 'normal')
        elif node.node is not None and _show_inner_label(node, inner_labels, len(leaves)):
            inner.append((len(node.leaves), *xy(angle, radius), node_label(node, names),
                          dict(fontsize=font * 0.9, ha='center', va='center',
                               bbox=dict(boxstyle='round,pad=0.2', fc='#f4f4f4', ec=color[node], lw=0.6))))
    limit = outer + (label_inches + 0.3) / unit
    ax.set_xlim(-limit, limit)
    ax.set_ylim(-limit, limit)
    ax.set_aspect('equal')
    fig.subplots_adjust(left=0, right=1, top=1, bottom=0)
    _add_labels_without_overlap(fig, ax, inner)
    ax.axis('off')
    return fig


def _draw_extra_edges(ax, extra_edges, root, position):
    """The is-a links of a DAG that the spanning tree leaves out, dashed, between the nodes that show them."""
    shown = {}
    for node in root.walk():
        for member in node.chain:
            shown[member] = node
        if node.collapsed:
            for leaf in node.leaves:
                shown.setdefault(leaf, node)
    for parent, child in extra_edges:
        if parent in shown and child in shown and shown[parent] is not shown[child]:
            (x0, y0), (x1, y1) = position[shown[parent]], position[shown[child]]
            ax.plot([x0, x1], [y0, y1], color='0.6', linestyle='--', linewidth=0.6)


def plot_hierarchy(hierarchy, path):
    """Draw an indented tree as `taxonomy.indented.read_hierarchy` returns it (encode_hierarchy.py's plot)."""
    has_parent = {child for kids in hierarchy.values() for child in kids}
    draw_tree(hierarchy, [n for n in hierarchy if n not in has_parent], path)
