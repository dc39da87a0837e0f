"""A small reader for the noun part of WordNet 3.0 (no nltk needed).

It parses the Princeton database files ``data.noun`` (synsets, lemmas and pointers) and, on
demand, ``index.noun`` (lemma -> synsets in sense-frequency order). Synsets are named by their
ImageNet-style *wnid*: ``'n'`` followed by the 8-digit byte offset of the synset in ``data.noun``,
e.g. ``n02084071`` is ``dog, domestic_dog, Canis_familiaris``.

Only is-a relations are kept: hypernyms (pointer ``@``) and instance hypernyms (``@i``). The
file format is described in WordNet's ``wndb(5)`` manual page.

    >>> wn = load_wordnet()  # cached WordNet.load()
    >>> wn.hypernyms('n02084071')
    ('n02083346', 'n01317541')
    >>> wn.name('n02083346')
    'canine'
"""
import os
from functools import cached_property

DEFAULT_WORDNET_DIR = '/usr/share/wordnet'
ROOT_WNID = 'n00001740'  # entity: the single root of the WordNet 3.0 noun hierarchy


def offset_to_wnid(offset):
    return 'n{:08d}'.format(int(offset))


def _is_license_line(line):
    # The database files start with a license header whose lines begin with two spaces.
    return line.startswith('  ')


class WordNet:
    """Is-a graph and lemmas of WordNet noun synsets, keyed by wnid."""

    def __init__(self, lemmas, hypernyms, instance_hypernyms, glosses=None, wordnet_dir=None):
        self.lemmas = lemmas                          # wnid -> tuple of lemma names (first = head word)
        self._hypernyms = hypernyms                   # wnid -> tuple of wnids ('@')
        self._instance_hypernyms = instance_hypernyms # wnid -> tuple of wnids ('@i')
        self.glosses = glosses or {}
        self.wordnet_dir = wordnet_dir

    # ---------------------------------------------------------------- loading

    @classmethod
    def load(cls, wordnet_dir=DEFAULT_WORDNET_DIR):
        """Read ``<wordnet_dir>/data.noun``; raises OSError/ValueError naming the file on failure."""
        path = os.path.join(wordnet_dir, 'data.noun')
        lemmas, hypernyms, instance_hypernyms, glosses = {}, {}, {}, {}
        with open(path, encoding='utf-8') as f:
            for line_no, line in enumerate(f, start=1):
                if _is_license_line(line) or not line.strip():
                    continue
                try:
                    wnid, words, hyper, inst, gloss = _parse_data_line(line)
                except (ValueError, IndexError) as e:
                    raise ValueError('{}:{}: malformed WordNet data line ({})'.format(path, line_no, e)) from None
                lemmas[wnid] = words
                glosses[wnid] = gloss
                if hyper:
                    hypernyms[wnid] = hyper
                if inst:
                    instance_hypernyms[wnid] = inst
        if not lemmas:
            raise ValueError('{}: no synsets found'.format(path))
        return cls(lemmas, hypernyms, instance_hypernyms, glosses, wordnet_dir=wordnet_dir)

    # ---------------------------------------------------------------- synsets

    def __contains__(self, wnid):
        return wnid in self.lemmas

    def __len__(self):
        return len(self.lemmas)

    def check(self, wnid):
        """Return wnid if it is a known noun synset, else raise ValueError."""
        if wnid not in self.lemmas:
            raise ValueError('unknown WordNet noun synset: {!r}'.format(wnid))
        return wnid

    def name(self, wnid):
        """Head lemma of the synset, e.g. 'dog' for n02084071."""
        return self.lemmas[self.check(wnid)][0]

    def hypernyms(self, wnid, include_instances=True):
        """Direct is-a parents of a synset (hypernyms, then instance hypernyms)."""
        self.check(wnid)
        parents = self._hypernyms.get(wnid, ())
        if include_instances:
            parents = parents + self._instance_hypernyms.get(wnid, ())
        return parents

    def hypernym_paths(self, wnid, include_instances=True):
        """All paths from a root down to wnid, each a tuple ``(root, ..., wnid)``.

        Paths are listed in the order of the hypernym pointers in the database, depth first.
        """
        self.check(wnid)
        return list(root_paths(wnid, lambda w: self.hypernyms(w, include_instances)))

    def ancestors(self, wnid, include_instances=True):
        """All synsets above wnid (not including wnid itself)."""
        seen, stack = set(), [self.check(wnid)]
        while stack:
            for parent in self.hypernyms(stack.pop(), include_instances):
                if parent not in seen:
                    seen.add(parent)
                    stack.append(parent)
        return seen

    def is_a_edges(self, wnids, include_instances=True):
        """Set of (parent, child) edges of the is-a DAG spanned by wnids and all their ancestors."""
        return dag_edges([self.check(w) for w in wnids], lambda w: self.hypernyms(w, include_instances))

    # ---------------------------------------------------------------- lemmas

    @cached_property
    def _sense_index(self):
        """lemma (lower case, spaces as '_') -> wnids ordered by sense frequency, from index.noun."""
        if self.wordnet_dir is None:
            raise ValueError('no WordNet directory known to read index.noun from')
        path = os.path.join(self.wordnet_dir, 'index.noun')
        index = {}
        with open(path, encoding='utf-8') as f:
            for line_no, line in enumerate(f, start=1):
                if _is_license_line(line) or not line.strip():
                    continue
                fields = line.split()
                try:
                    synset_cnt, ptr_cnt = int(fields[2]), int(fields[3])
                    offsets = fields[6 + ptr_cnt:6 + ptr_cnt + synset_cnt]
                    index[fields[0]] = tuple(offset_to_wnid(o) for o in offsets)
                except (ValueError, IndexError):
                    raise ValueError('{}:{}: malformed WordNet index line'.format(path, line_no)) from None
        return index

    def synsets(self, lemma):
        """Noun synsets of a word (case-insensitive, spaces or underscores), most frequent sense first."""
        return self._sense_index.get(lemma.strip().lower().replace(' ', '_'), ())


def _parse_data_line(line):
    """Split one data.noun line into (wnid, lemmas, hypernyms, instance hypernyms, gloss)."""
    data, _, gloss = line.partition('|')
    fields = data.split()
    wnid = offset_to_wnid(fields[0])
    word_count = int(fields[3], 16)  # w_cnt is a 2-digit hexadecimal number
    words = tuple(fields[4 + 2 * i] for i in range(word_count))
    pos = 4 + 2 * word_count
    pointer_count = int(fields[pos])
    if len(fields) < pos + 1 + 4 * pointer_count:
        raise ValueError('expected {} pointers'.format(pointer_count))
    hypernyms, instance_hypernyms = [], []
    for i in range(pos + 1, pos + 1 + 4 * pointer_count, 4):
        symbol, offset, target_pos = fields[i], fields[i + 1], fields[i + 2]
        if target_pos != 'n':
            continue
        if symbol == '@':
            hypernyms.append(offset_to_wnid(offset))
        elif symbol == '@i':
            instance_hypernyms.append(offset_to_wnid(offset))
    return wnid, words, tuple(hypernyms), tuple(instance_hypernyms), gloss.strip()


_cache = {}


def load_wordnet(wordnet_dir=DEFAULT_WORDNET_DIR):
    """Shared, cached :class:`WordNet` instance per directory (parsing takes about a second)."""
    key = os.path.abspath(wordnet_dir)
    if key not in _cache:
        _cache[key] = WordNet.load(wordnet_dir)
    return _cache[key]


# ------------------------------------------------------------------------------------------------
# From an is-a DAG to a tree
#
# A DAG is given as a function (or dict) mapping a node to its *ordered* sequence of parents; roots
# have no parents. Trees are dicts mapping each node to its single parent (None for the root).
# ------------------------------------------------------------------------------------------------


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
