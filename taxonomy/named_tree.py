"""A WordNet class tree whose leaves are a dataset's class names (not synsets).

Given the synset of every class (`taxonomy.names.match_classes`), the tree is the WordNet "mintree"
over the distinct synsets (`wordnet.build_mintree`, instance synsets reached through their instance
hypernyms), and then every class becomes a leaf:

- a synset with exactly one class and nothing else below it in the tree is replaced by the class
  (the class name takes the synset's place);
- a synset shared by several classes (`cougar_body`, `cougar_face`), or one that lies above another
  class's synset (`chair` above `wheelchair`), stays an inner node, and its classes become leaves
  directly below it.

Inner nodes are named by their wnid (a wnid that is also a class name gets the suffix `.synset`).
No class is lost: `class_name_tree` checks that the leaves are exactly the classes.
"""
from taxonomy.trees import build_mintree, prune_single_child_nodes, tree_children

SYNSET_SUFFIX = '.synset'


def class_name_tree(class_synsets, parents_of, prune=False):
    """The tree over class names: dict node -> parent (None for the root), and dict inner node -> wnid.

    class_synsets - list of (class name, wnid) pairs in class order; several classes may share a wnid.
    parents_of    - the is-a DAG: function (or dict) wnid -> ordered parents.
    prune         - remove inner nodes with a single child (chains such as placental > carnivore).
    """
    names = [name for name, _ in class_synsets]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError('duplicate class name {!r}'.format(duplicates[0]))
    classes_of = {}
    for name, wnid in class_synsets:
        classes_of.setdefault(wnid, []).append(name)
    synset_tree = build_mintree(list(classes_of), parents_of)
    synset_children = tree_children(synset_tree)

    class_names = set(names)
    node_id = {wnid: wnid + SYNSET_SUFFIX if wnid in class_names else wnid for wnid in synset_tree}
    replaced = {wnid: classes[0] for wnid, classes in classes_of.items()
                if len(classes) == 1 and not synset_children.get(wnid)}
    for wnid, name in replaced.items():
        node_id[wnid] = name

    tree = {}
    for wnid, parent in synset_tree.items():
        tree[node_id[wnid]] = None if parent is None else node_id[parent]
    for wnid, classes in classes_of.items():
        if wnid not in replaced:
            for name in classes:
                tree[name] = node_id[wnid]
    if prune:
        tree = prune_single_child_nodes(tree, keep=names)
    check_leaves(tree, names)
    synset_of = {node_id[wnid]: wnid for wnid in synset_tree if wnid not in replaced and node_id[wnid] in tree}
    return tree, synset_of


def check_leaves(tree, class_names):
    """Fail loudly (an internal error, not bad input) unless the leaves of `tree` are exactly the classes."""
    has_children = set(tree_children(tree))
    leaves = {node for node in tree if node not in has_children}
    if leaves != set(class_names):
        missing, extra = sorted(set(class_names) - leaves), sorted(leaves - set(class_names))
        raise RuntimeError('tree leaves differ from the classes: missing {}, extra {}'.format(missing, extra))


def node_names(tree, synset_of, wn):
    """Readable names of all nodes: class names for classes, the first lemma of a synset otherwise."""
    return {node: wn.name(synset_of[node]) if node in synset_of else node for node in tree}
