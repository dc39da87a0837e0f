"""Pictures of class trees."""
import sys


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
