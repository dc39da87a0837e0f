"""Class taxonomies: lowest common subsumers, Wu-Palmer similarity and LCS heights.

The per-pair methods follow the original release exactly (roots have depth 1, the depth of a node
is the length of its longest root path, the LCS of two nodes is their deepest common hypernym).
The `*_matrix` methods compute the same values for all pairs of a list of classes at once and are
what the embedding and evaluation code uses: 8,142 iNaturalist classes take a few seconds.
"""

import collections
import io
import os

import numpy as np


class HierarchyError(ValueError):
    """A hierarchy file or a requested class is invalid."""


class ClassHierarchy(object):
    """A class taxonomy (a tree or a DAG) given by parent and child lists."""

    def __init__(self, parents, children):
        """parents - dict mapping a node id to the list of its parents.
        children - dict mapping a node id to the list of its children.
        """
        self.parents = parents
        self.children = children
        self.source = None  # the file it was read from (named in errors), set by `from_file`
        self.nodes = set(self.parents.keys()) | set(self.children.keys())
        if not self.nodes:
            raise HierarchyError("the hierarchy has no nodes")
        self._topo_order = self._topological_order()
        self._depths = {False: {}, True: {}}
        self._hyp_depth_cache = {False: {}, True: {}}
        self._hyp_dist_cache = {}
        self._lcs_cache = {}
        self._wup_cache = {}
        self._lcs_rank = None
        self._compute_heights()
        self.max_height = max(self.heights.values())

    # ------------------------------------------------------------------ structure

    def _topological_order(self):
        """Nodes ordered so that every parent comes before its children; raises on cycles."""
        for node, parents in self.parents.items():
            if node in parents:
                raise HierarchyError("self-loop: node {!r} is its own parent".format(node))
        num_parents = {node: len(set(self.parents.get(node, ()))) for node in self.nodes}
        queue = collections.deque(sorted((n for n, k in num_parents.items() if k == 0), key=_sort_key))
        order = []
        while queue:
            node = queue.popleft()
            order.append(node)
            for child in dict.fromkeys(self.children.get(node, ())):
                num_parents[child] -= 1
                if num_parents[child] == 0:
                    queue.append(child)
        if len(order) < len(self.nodes):
            raise HierarchyError("cycle in the hierarchy through node {!r}".format(self._node_on_cycle(order)))
        return order

    def _node_on_cycle(self, acyclic_nodes):
        """A node that lies on a cycle (following parents from a node left over by Kahn's algorithm)."""
        left = sorted(self.nodes - set(acyclic_nodes), key=_sort_key)
        node, seen = left[0], set()
        while node not in seen:
            seen.add(node)
            node = next(p for p in self.parents[node] if p not in acyclic_nodes)
        return node

    def _compute_heights(self):
        """Height of a node: length of its longest downward path to a leaf (leaves have height 0)."""
        self.heights = {}
        for node in reversed(self._topo_order):
            self.heights[node] = 1 + max((self.heights[c] for c in self.children.get(node, ())), default=-1)

    def is_tree(self):
        """Whether every node has at most one parent (WordNet, for example, does not)."""
        return all(len(parents) <= 1 for parents in self.parents.values())

    def is_leaf(self, id):
        return len(self.children.get(id, ())) == 0

    def leaves(self):
        """All nodes without children, sorted (ints numerically, strings lexicographically)."""
        return sorted((n for n in self.nodes if self.is_leaf(n)), key=_sort_key)

    def roots(self):
        return [n for n in self._topo_order if not self.parents.get(n)]

    # ------------------------------------------------------------------ per-pair (original interface)

    def depth(self, id, use_min_depth=False):
        """Depth of a node: 1 for roots, else 1 + the max (or min) depth of its parents."""
        depths = self._depths[use_min_depth]
        if id not in depths:
            if id not in self.nodes:
                raise KeyError(id)
            pick = min if use_min_depth else max
            for node in self._topo_order:
                parents = self.parents.get(node)
                depths[node] = 1 + pick(depths[p] for p in parents) if parents else 1
        return depths[id]

    def all_hypernym_depths(self, id, use_min_depth=False):
        """Dict mapping every hypernym of `id` (including `id` itself) to its depth."""
        cache = self._hyp_depth_cache[use_min_depth]
        if id not in cache:
            cache[id] = {h: self.depth(h, use_min_depth) for h in self._hypernyms(id)}
        return cache[id]

    def all_hypernym_distances(self, id):
        """Dict mapping every hypernym of `id` (including itself) to its distance in edges (shortest)."""
        if id not in self._hyp_dist_cache:
            distances = {id: 0}
            frontier = [id]
            while frontier:  # breadth-first search upwards gives the shortest distances
                next_frontier = []
                for node in frontier:
                    for parent in self.parents.get(node, ()):
                        if parent not in distances:
                            distances[parent] = distances[node] + 1
                            next_frontier.append(parent)
                frontier = next_frontier
            self._hyp_dist_cache[id] = distances
        return self._hyp_dist_cache[id]

    def _hypernyms(self, id):
        return self.all_hypernym_distances(id).keys()

    def root_paths(self, id):
        """All paths from `id` (excluded) to a root: lists starting with a direct parent, ending with a root."""
        paths = []
        for parent in self.parents.get(id, ()):
            parent_paths = self.root_paths(parent)
            paths.extend([[parent] + p for p in parent_paths] if parent_paths else [[parent]])
        return paths

    def lcs(self, a, b, use_min_depth=False):
        """Lowest common subsumer: the common hypernym of greatest depth (`None` if there is none).

        On a DAG, several common hypernyms can share the greatest depth; the original left that
        tie to set iteration order. We break it deterministically: the one of smallest height
        (the most specific), then the smallest id.
        """
        key = (a, b, use_min_depth)
        if key not in self._lcs_cache:
            depths = self.all_hypernym_depths(a, use_min_depth)
            common = depths.keys() & self._hypernyms(b)
            best = min(common, key=lambda h: (-depths[h], self.heights[h], _sort_key(h)), default=None)
            self._lcs_cache[key] = self._lcs_cache[(b, a, use_min_depth)] = best
        return self._lcs_cache[key]

    def shortest_path_length(self, a, b):
        """Length of the shortest path between `a` and `b` through a common hypernym (`None` if none)."""
        dist_a = self.all_hypernym_distances(a)
        dist_b = self.all_hypernym_distances(b)
        return min((dist_a[h] + dist_b[h] for h in dist_a.keys() & dist_b.keys()), default=None)

    def wup_similarity(self, a, b):
        """Wu-Palmer similarity 2 d(lcs) / (d(lcs) + spl(a, lcs) + d(lcs) + spl(b, lcs)), in (0, 1]."""
        if (a, b) not in self._wup_cache:
            lcs = self.lcs(a, b)
            ds = self.depth(lcs)
            d1 = ds + self.shortest_path_length(a, lcs)
            d2 = ds + self.shortest_path_length(b, lcs)
            self._wup_cache[(a, b)] = self._wup_cache[(b, a)] = (2.0 * ds) / (d1 + d2)
        return self._wup_cache[(a, b)]

    def lcs_height(self, a, b):
        """Height of the LCS of `a` and `b` divided by the height of the hierarchy: a dissimilarity in [0, 1]."""
        return self.heights[self.lcs(a, b)] / self.max_height

    # ------------------------------------------------------------------ all pairs, vectorized

    def _check_ids(self, ids):
        ids = list(ids)
        unknown = [i for i in ids if i not in self.nodes]
        if unknown:
            raise HierarchyError("{}class {!r} is not in the hierarchy".format(self.where(), unknown[0]))
        return ids

    def lcs_index_matrix(self, ids_a, ids_b=None):
        """LCS of every pair as indices into `self.node_list`, shape (len(ids_a), len(ids_b)).

        Every node's set of descendant classes is visited once, nodes in the order of the LCS
        rule (deepest first, then smallest height, then id): the first node that covers a pair
        is its LCS, exactly as `lcs()` decides it.
        """
        ids_a = self._check_ids(ids_a)
        ids_b = ids_a if ids_b is None else self._check_ids(ids_b)
        node_index, ranked_nodes = self._lcs_ranking()
        # Which of the classes each node subsumes.
        cover_a = self._covering_classes(ids_a)
        cover_b = cover_a if ids_b is ids_a else self._covering_classes(ids_b)
        result = np.full((len(ids_a), len(ids_b)), -1, dtype=np.int32)
        num_left = result.size
        for node in ranked_nodes:
            rows, cols = cover_a.get(node), cover_b.get(node)
            if rows is None or cols is None:
                continue
            if len(rows) == len(ids_a) and len(cols) == len(ids_b):
                block = result  # e.g. the root: no gather/scatter needed
                unset = block < 0
                block[unset] = node_index[node]
            else:
                block = result[np.ix_(rows, cols)]
                unset = block < 0
                if not unset.any():
                    continue
                block[unset] = node_index[node]
                result[np.ix_(rows, cols)] = block
            num_left -= int(np.count_nonzero(unset))
            if num_left == 0:
                break
        return result

    def _lcs_ranking(self):
        if self._lcs_rank is None:
            self.node_list = sorted(self.nodes, key=lambda n: (-self.depth(n), self.heights[n], _sort_key(n)))
            self._lcs_rank = {n: i for i, n in enumerate(self.node_list)}
        return self._lcs_rank, self.node_list

    def _covering_classes(self, ids):
        """Dict: node -> int array of positions in `ids` of the classes that have it as hypernym."""
        cover = collections.defaultdict(list)
        for i, c in enumerate(ids):
            for h in self._hypernyms(c):
                cover[h].append(i)
        return {h: np.asarray(v, dtype=np.intp) for h, v in cover.items()}

    def lcs_height_matrix(self, ids_a, ids_b=None):
        """`lcs_height(a, b)` for every pair, as a float64 array of shape (len(ids_a), len(ids_b))."""
        ids_a, ids_b = list(ids_a), None if ids_b is None else list(ids_b)
        lcs = self.lcs_index_matrix(ids_a, ids_b)
        heights = np.array([self.heights[n] for n in self.node_list], dtype=np.float64)
        self._check_common_hypernyms(lcs, ids_a, ids_b)
        dissimilarity = heights[lcs]
        dissimilarity /= self.max_height
        return dissimilarity

    def _check_common_hypernyms(self, lcs, ids_a, ids_b):
        """HierarchyError naming two classes without a common hypernym (several roots), if there are any."""
        if (lcs < 0).any():
            i, j = np.argwhere(lcs < 0)[0]
            ids_a = list(ids_a)
            ids_b = ids_a if ids_b is None else list(ids_b)
            roots = self.roots()
            raise HierarchyError("{}classes {!r} and {!r} share no common hypernym (the hierarchy has {} roots: {})".format(
                self.where(), ids_a[i], ids_b[j], len(roots), ", ".join(map(repr, roots[:5])) + (
                    ", ..." if len(roots) > 5 else "")))

    def where(self):
        """'FILE: ' for error messages about a hierarchy read from FILE, else ''."""
        return "{}: ".format(self.source) if self.source else ""

    def similarity_matrix(self, ids_a, ids_b=None):
        """Semantic similarity 1 - lcs_height for every pair (the target Gram matrix of class embeddings)."""
        return 1.0 - self.lcs_height_matrix(ids_a, ids_b)

    def wup_matrix(self, ids_a, ids_b=None):
        """`wup_similarity(a, b)` for every pair, as a float64 array of shape (len(ids_a), len(ids_b))."""
        ids_a = self._check_ids(ids_a)
        ids_b = ids_a if ids_b is None else self._check_ids(ids_b)
        lcs = self.lcs_index_matrix(ids_a, ids_b)
        self._check_common_hypernyms(lcs, ids_a, ids_b)
        depth = np.array([self.depth(n) for n in self.node_list], dtype=np.float64)
        ds = depth[lcs]
        d1 = ds + self._path_lengths_to(ids_a, lcs)
        d2 = ds + self._path_lengths_to(ids_b, lcs.T).T
        return 2.0 * ds / (d1 + d2)

    def _path_lengths_to(self, ids, node_indices):
        """shortest_path_length(ids[i], node_list[node_indices[i, j]]) for hypernyms of ids[i]."""
        out = np.empty(node_indices.shape, dtype=np.float64)
        row = np.zeros(len(self.node_list), dtype=np.float64)
        is_tree = self.is_tree()
        for i, c in enumerate(ids):
            dist = self.all_hypernym_distances(c)
            hyps = [self._lcs_rank[h] for h in dist]
            if is_tree:  # the only path to a hypernym is the way up
                row[hyps] = list(dist.values())
            else:
                row[hyps] = [self.shortest_path_length(c, h) for h in dist]
            out[i] = row[node_indices[i]]
        return out

    # ------------------------------------------------------------------ retrieval metrics

    def hierarchical_precision(self, retrieved, labels, ks=[1, 10, 50, 100], compute_ahp=False, compute_ap=False,
                               ignore_qids=True, all_ids=None):
        """Mean hierarchical precision (and AHP, AP) of ranked retrieval lists; see `metrics.hierarchical_precision`."""
        import metrics  # imported here: metrics depends on this module

        return metrics.hierarchical_precision(self, retrieved, labels, ks=ks, compute_ahp=compute_ahp,
                                              compute_ap=compute_ap, ignore_qids=ignore_qids, all_ids=all_ids)

    # ------------------------------------------------------------------ files

    def save(self, filename, is_a_relations=False):
        """Write the hierarchy as `parent child` lines (or `child parent` with `is_a_relations`)."""
        from atomic_files import atomic_write  # not utils: it re-exports cli, which imports this module

        with atomic_write(filename, "w") as f:
            if is_a_relations:
                for child, parents in self.parents.items():
                    f.writelines("{} {}\n".format(child, p) for p in parents)
            else:
                for parent, children in self.children.items():
                    f.writelines("{} {}\n".format(parent, c) for c in children)

    @classmethod
    def from_file(cls, rel_file, is_a_relations=False, id_type=str):
        """Read a hierarchy from lines of `parent child` tuples (or `child parent` with `is_a_relations`).

        Blank lines are skipped. Raises `HierarchyError` naming the file and line for malformed
        lines, ids that `id_type` cannot parse, self-loops, cycles and empty files.
        """
        parents, children = {}, {}
        for line_number, line in enumerate(read_text_lines(rel_file), start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 2:
                raise HierarchyError("{}, line {}: expected two ids, got {!r}".format(
                    rel_file, line_number, line.strip()))
            try:
                parent, child = (id_type(field) for field in fields)
            except ValueError:
                raise HierarchyError("{}, line {}: ids {!r} are not of type {} (use --str_ids for string ids)".format(
                    rel_file, line_number, line.strip(), id_type.__name__)) from None
            if is_a_relations:
                parent, child = child, parent
            if parent == child:
                raise HierarchyError("{}, line {}: self-loop on {!r}".format(rel_file, line_number, parent))
            parents.setdefault(child, []).append(parent)
            children.setdefault(parent, []).append(child)
        if not parents:
            raise HierarchyError("{}: the hierarchy file is empty".format(rel_file))
        try:
            hierarchy = cls(parents, children)
        except HierarchyError as e:
            raise HierarchyError("{}: {}".format(rel_file, e)) from None
        hierarchy.source = rel_file
        return hierarchy

    def read_class_list(self, path, id_type=str):
        """Class ids from the first word of each non-empty line of `path`, checked against the hierarchy."""
        ids = []
        for line_number, line in enumerate(read_text_lines(path), start=1):
            fields = line.split()
            if not fields:
                continue
            try:
                cid = id_type(fields[0])
            except ValueError:
                raise HierarchyError("{}, line {}: class id {!r} is not of type {}".format(
                    path, line_number, fields[0], id_type.__name__)) from None
            if cid not in self.nodes:
                raise HierarchyError("{}, line {}: class {!r} is not in the hierarchy".format(
                    path, line_number, cid))
            ids.append(cid)
        if not ids:
            raise HierarchyError("{}: the class list is empty".format(path))
        return list(dict.fromkeys(ids))


def read_text_lines(path):
    """The lines of the text file `path` (UTF-8, universal newlines), or HierarchyError naming the
    line of the first byte that cannot be text (a binary file given by mistake)."""
    with open(path, "rb") as f:
        data = f.read()
    nul = data.find(b"\0")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        if nul < 0 or nul > e.start:
            raise HierarchyError("{}, line {}: not a text file (byte 0x{:02x} is not UTF-8)".format(
                path, data.count(b"\n", 0, e.start) + 1, data[e.start])) from None
    if nul >= 0:
        raise HierarchyError("{}, line {}: not a text file (a NUL byte)".format(path, data.count(b"\n", 0, nul) + 1))
    return io.StringIO(text, newline=None)


def _sort_key(node):
    """Sort ints numerically and everything else by its string, without comparing ints to strings."""
    return (0, node, "") if isinstance(node, (int, np.integer)) else (1, 0, str(node))
