"""Hierarchy-aware classification losses of Bertinetto et al., "Making Better Mistakes: Leveraging Class
Hierarchies with Deep Networks" (CVPR 2020), as their code (github.com/fiveai/making-better-mistakes)
computes them, in `keras.ops` (any Keras backend).

Hierarchical cross-entropy (HXE), `better_mistakes/model/losses.py` (`HierarchicalLLLoss`,
`HierarchicalCrossEntropyLoss`) with the weights of `better_mistakes/trees.py`
(`get_exponential_weighting(hierarchy, alpha, normalize=True)`, as `scripts/start_training.py` builds
them). On the tree spanned by the classes (the classes are its leaves), with the flat softmax
probabilities p of the classes and P(n) = sum of p(c) over the classes c below node n (P(c) = p(c)):

    HXE(p, y) = sum over the edges (n -> parent(n)) of the path from the leaf y up to the root of
                -lambda(n) * log(P(n) / P(parent(n))),
    lambda(n) = exp(-alpha * depth(n)) / Z,   Z = sum over ALL nodes m of the tree of exp(-alpha * depth(m)),

depth = number of edges from the root (their `len(treeposition)`; the root has depth 0 and its own
weight enters Z only). The paper calls this the "height" of the node (eq. 4, "information is
discounted down the hierarchy"); the code measures it from the root, as here: a larger alpha gives
the coarse edges near the root more weight. P(root) is the sum of all probabilities (1 up to
rounding), as in their last denominator. A term whose numerator P(n) is exactly 0 (underflow)
counts 0, as their `idx = num != 0`. The loss of a batch is the mean over its samples (their
`torch.mean`). alpha = 0 gives -log p(y) / (number of nodes).

HXE needs a tree: every node above a class has one parent, the classes share one root and no class
lies below another class. Nodes of the hierarchy above none of the classes are left out (their code
builds the tree over exactly the dataset's classes).

The soft labels of the paper live in `models.target_distributions` (they are targets for the plain
categorical cross-entropy).
"""

import keras
import numpy as np
from keras import ops

from class_hierarchy import HierarchyError
from models.serialization import PACKAGE
from models.target_distributions import check_non_negative


# ---------------------------------------------------------------------------
# The tree over the classes
# ---------------------------------------------------------------------------


def class_tree(hierarchy, class_ids):
    """The tree spanned by `class_ids` in `hierarchy` (a `ClassHierarchy`), as index arrays.

    Returns `(node_parent, class_nodes)`: `node_parent[n]` is the index of the parent of node n
    (-1 for the root), nodes numbered root first, parents before children; `class_nodes[i]` is
    the node index of class `class_ids[i]`. Raises `HierarchyError` (a ValueError) naming the class
    or node for classes missing from the hierarchy, nodes with several parents, several roots and
    classes that are ancestors of other classes.
    """
    class_ids = list(class_ids)
    if len(class_ids) < 2:
        raise HierarchyError("a hierarchical loss needs at least 2 classes, got {}".format(len(class_ids)))
    if len(set(class_ids)) != len(class_ids):
        raise HierarchyError("duplicate class ids in the class list")
    parent = {}
    for cid in class_ids:
        if cid not in hierarchy.nodes:
            raise HierarchyError("class {!r} is not in the hierarchy".format(cid))
        node = cid
        while node not in parent:
            parents = list(dict.fromkeys(hierarchy.parents.get(node, ())))
            if len(parents) > 1:
                raise HierarchyError("the hierarchy is not a tree: node {!r} (above class {!r}) has {} parents ({}); "
                                     "hierarchical cross-entropy needs a tree".format(
                                         node, cid, len(parents), ", ".join(map(repr, parents))))
            parent[node] = parents[0] if parents else None
            if parent[node] is None:
                break
            node = parent[node]
    roots = [n for n, p in parent.items() if p is None]
    if len(roots) > 1:
        raise HierarchyError("the classes lie below {} different roots ({}); hierarchical cross-entropy needs "
                             "one root".format(len(roots), ", ".join(map(repr, sorted(roots, key=str)[:5]))))
    class_set = set(class_ids)
    for cid in class_ids:
        node = parent[cid]
        while node is not None:
            if node in class_set:
                raise HierarchyError("class {!r} lies below class {!r} in the hierarchy; hierarchical "
                                     "cross-entropy needs the classes at the leaves".format(cid, node))
            node = parent[node]
    # Number the nodes root first, each parent before its children (breadth-first from the root).
    children = {}
    for node, p in parent.items():
        if p is not None:
            children.setdefault(p, []).append(node)
    order = [roots[0]]
    for node in order:
        order.extend(children.get(node, ()))
    index = {node: i for i, node in enumerate(order)}
    node_parent = np.array([-1 if parent[n] is None else index[parent[n]] for n in order], dtype=np.int64)
    class_nodes = np.array([index[c] for c in class_ids], dtype=np.int64)
    return node_parent, class_nodes


def node_depths(node_parent):
    """Edges from the root of every node (parents come before their children in `node_parent`)."""
    depth = np.zeros(len(node_parent), dtype=np.int64)
    for n, p in enumerate(node_parent):
        if p >= 0:
            depth[n] = depth[p] + 1
    return depth


def hxe_edge_weights(node_parent, alpha):
    """lambda(n) = exp(-alpha * depth(n)) / Z for every node (Z: the sum over all nodes, root included)."""
    weights = np.exp(-float(alpha) * node_depths(node_parent).astype(np.float64))
    return weights / weights.sum()


def hxe_tables(node_parent, class_nodes, alpha):
    """The arrays `HierarchicalCrossEntropy` computes with.

    Returns `(membership, numerator, denominator, weight)`:
    - membership (classes, nodes): 1 where the class lies below (or is) the node, so P = p @ membership;
    - numerator, denominator (classes, max path length): for class c, the node of the j-th edge of its
      path upwards and that node's parent (padding: the root, whose P(root)/P(root) contributes 0);
    - weight (classes, max path length): lambda of the edge's lower node, 0 on padding.
    """
    node_parent = np.asarray(node_parent, dtype=np.int64)
    class_nodes = np.asarray(class_nodes, dtype=np.int64)
    num_nodes, num_classes = len(node_parent), len(class_nodes)
    lam = hxe_edge_weights(node_parent, alpha)
    paths = []
    for node in class_nodes:
        path = []
        while node_parent[node] >= 0:
            path.append(int(node))
            node = node_parent[node]
        paths.append(path)
    length = max(1, max(len(p) for p in paths))
    root = int(np.flatnonzero(node_parent < 0)[0])
    membership = np.zeros((num_classes, num_nodes), dtype=np.float32)
    numerator = np.full((num_classes, length), root, dtype=np.int32)
    denominator = np.full((num_classes, length), root, dtype=np.int32)
    weight = np.zeros((num_classes, length), dtype=np.float32)
    for c, path in enumerate(paths):
        membership[c, root] = 1.0
        membership[c, path] = 1.0
        numerator[c, : len(path)] = path
        denominator[c, : len(path)] = node_parent[path]
        weight[c, : len(path)] = lam[path]
    return membership, numerator, denominator, weight


# ---------------------------------------------------------------------------
# The loss
# ---------------------------------------------------------------------------


def class_indices_from_targets(y_true, num_classes):
    """Integer class indices from one-hot (or soft) target rows, or from integer labels of shape (B,) / (B, 1)."""
    if len(y_true.shape) >= 2 and y_true.shape[-1] == num_classes:
        return ops.argmax(y_true, axis=-1)
    return ops.cast(ops.reshape(y_true, (-1,)), "int32")


def hierarchical_cross_entropy(y_true, y_pred, membership, numerator, denominator, weight):
    """HXE of each sample (see the module docstring) for class probabilities `y_pred`.

    `y_true`: one-hot rows or integer class indices; the tables come from `hxe_tables`.
    """
    probs = ops.cast(y_pred, "float32")
    classes = class_indices_from_targets(y_true, membership.shape[0])
    node_prob = ops.matmul(probs, ops.convert_to_tensor(membership))  # P(n), (B, nodes)
    num = ops.take_along_axis(node_prob, ops.take(ops.convert_to_tensor(numerator), classes, axis=0), axis=1)
    den = ops.take_along_axis(node_prob, ops.take(ops.convert_to_tensor(denominator), classes, axis=0), axis=1)
    lam = ops.take(ops.convert_to_tensor(weight), classes, axis=0)
    positive = num > 0
    # Where the numerator is 0 the term is 0; the placeholders 1 keep log and its gradient finite.
    ratio = ops.where(positive, num, 1.0) / ops.where(positive, den, 1.0)
    return ops.sum(lam * ops.where(positive, -ops.log(ratio), 0.0), axis=-1)


@keras.saving.register_keras_serializable(package=PACKAGE)
class HierarchicalCrossEntropy(keras.losses.Loss):
    """Hierarchical cross-entropy (Bertinetto et al. 2020) on class probabilities (a softmax output).

    `node_parent`, `class_nodes`: the tree as `class_tree` returns it; `alpha`: the decay of the
    edge weights with the depth. Stored in the config, so a saved model loads with its loss.
    Use `hxe_loss(hierarchy, class_ids, alpha)` to build it from a `ClassHierarchy`.
    """

    def __init__(self, node_parent, class_nodes, alpha=0.1, name="hierarchical_cross_entropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.alpha = check_hxe_alpha(alpha)
        self.node_parent = [int(p) for p in node_parent]
        self.class_nodes = [int(c) for c in class_nodes]
        self.tables = hxe_tables(self.node_parent, self.class_nodes, self.alpha)

    def call(self, y_true, y_pred):
        return hierarchical_cross_entropy(y_true, y_pred, *self.tables)

    def get_config(self):
        config = super().get_config()
        config.update(node_parent=self.node_parent, class_nodes=self.class_nodes, alpha=self.alpha)
        return config


def check_hxe_alpha(alpha):
    return check_non_negative(alpha, "--hxe_alpha")


def hxe_loss(hierarchy, class_ids, alpha):
    """`HierarchicalCrossEntropy` for the classes `class_ids` (hierarchy ids, in class-index order)."""
    alpha = check_hxe_alpha(alpha)
    node_parent, class_nodes = class_tree(hierarchy, class_ids)
    return HierarchicalCrossEntropy(node_parent, class_nodes, alpha)
