"""Concept queries: a class or an inner node of the taxonomy as a query vector, and its score.

A concept (a node of the class hierarchy) is turned into a vector of the class-embedding space from the
embeddings of the classes below it. Ways to do that (`CONCEPT_VECTORS`, name -> function):

- ``mean``: the normalized mean of the (unit) class embeddings below the node: the unit vector with the
  largest *summed* cosine similarity to them (the sum v . sum(e_i) is largest for v along sum(e_i)).
- ``balanced``: the normalized mean of the vectors of the node's children, recursively (a class: its
  embedding): every branch counts the same, however many classes it holds.
- ``minimax``: the unit vector with the largest *smallest* cosine similarity to the classes below: the
  centre of the smallest spherical cap holding them, the normalized min-norm point of their convex hull
  (if p minimizes |p| over the hull, then e_i . p >= |p|^2 for every class i; and any unit v has
  min_i v . e_i <= v . p <= |p|).
- ``medoid``: the embedding of the one class below the node that is most similar to the ``mean`` vector
  (first in embedding order on ties): a typical member instead of an aggregate, the baseline the others are
  compared with.

Scoring (`concept_map`): for every inner node, the database images are ranked by their similarity to the
node's vector (ties by image index) and the average precision of finding the images of the classes below
the node is computed; concept mAP is the mean over inner nodes. Nodes whose classes cover the whole
database (such as the root) are left out: their AP is 1 for any ranking.
"""

import difflib
import re
from collections import OrderedDict

import numpy as np

WNID_PATTERN = re.compile(r"^n\d{8}$")


# ---------------------------------------------------------------------------
# Taxonomy helpers
# ---------------------------------------------------------------------------


def descendants(hierarchy, node):
    """`node` and every node below it."""
    seen, stack = {node}, [node]
    while stack:
        for child in hierarchy.children.get(stack.pop(), ()):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return seen


def inner_nodes(hierarchy):
    """Nodes with children, by depth (roots first), then by id."""
    inner = [n for n in hierarchy.nodes if hierarchy.children.get(n)]
    return sorted(inner, key=lambda n: (hierarchy.depth(n), str(n)))


def classes_below(hierarchy, node, class_ids):
    """The ids of `class_ids` that are `node` or lie below it, in the order of `class_ids`."""
    below = descendants(hierarchy, node)
    return [c for c in class_ids if c in below]


# ---------------------------------------------------------------------------
# Concept vectors
# ---------------------------------------------------------------------------


def _unit(v):
    norm = np.linalg.norm(v)
    return v / norm if norm > 0 else v


def _unit_rows(embedding):
    embedding = np.asarray(embedding, dtype=np.float64)
    norms = np.linalg.norm(embedding, axis=1, keepdims=True)
    return embedding / np.where(norms > 0, norms, 1.0)


def _mean_vector(hierarchy, node, class_vectors):
    rows = [class_vectors[c] for c in classes_below(hierarchy, node, list(class_vectors))]
    return _unit(np.mean(rows, axis=0))


def _balanced_vector(hierarchy, node, class_vectors, _memo=None):
    memo = {} if _memo is None else _memo
    if node not in memo:
        parts = [_balanced_vector(hierarchy, child, class_vectors, memo)
                 for child in dict.fromkeys(hierarchy.children.get(node, ()))]
        parts = [p for p in parts if p is not None]
        if node in class_vectors:  # a class that is also an inner node counts as one more branch
            parts.append(class_vectors[node])
        memo[node] = _unit(np.mean(parts, axis=0)) if parts else None
    return memo[node]


def _project_to_simplex(w):
    """Euclidean projection of a vector onto {w >= 0, sum(w) = 1} (sort-based)."""
    u = np.sort(w)[::-1]
    cumulative = np.cumsum(u) - 1.0
    k = np.arange(1, len(w) + 1)
    rho = np.flatnonzero(u - cumulative / k > 0)[-1]
    return np.maximum(w - cumulative[rho] / (rho + 1.0), 0.0)


def min_norm_point(points, iterations=3000, tol=1e-12):
    """The point of smallest norm in the convex hull of the rows of `points` (accelerated projected
    gradient on the simplex weights). Returns (point, weights)."""
    points = np.asarray(points, dtype=np.float64)
    gram = points @ points.T
    lipschitz = 2.0 * max(np.linalg.eigvalsh(gram)[-1], 1e-12)
    w = np.full(len(points), 1.0 / len(points))
    y, t = w.copy(), 1.0
    value = w @ gram @ w
    for _ in range(iterations):
        w_next = _project_to_simplex(y - 2.0 * gram @ y / lipschitz)
        t_next = (1.0 + np.sqrt(1.0 + 4.0 * t * t)) / 2.0
        y = w_next + (t - 1.0) / t_next * (w_next - w)
        new_value = w_next @ gram @ w_next
        if new_value > value:  # restart the momentum when the objective goes up
            y, t_next = w_next.copy(), 1.0
        w, t = w_next, t_next
        if abs(value - new_value) <= tol * max(value, 1e-300):
            value = new_value
            break
        value = new_value
    return w @ points, w


def _minimax_vector(hierarchy, node, class_vectors):
    rows = np.array([class_vectors[c] for c in classes_below(hierarchy, node, list(class_vectors))])
    if len(rows) == 1:
        return rows[0]
    point, _ = min_norm_point(rows)
    if np.linalg.norm(point) < 1e-9:  # the classes surround the origin: no cap smaller than a hemisphere
        return _unit(rows.mean(axis=0))
    return _unit(point)


def _medoid_vector(hierarchy, node, class_vectors):
    rows = np.array([class_vectors[c] for c in classes_below(hierarchy, node, list(class_vectors))])
    return rows[int(np.argmax(rows @ _mean_vector(hierarchy, node, class_vectors)))]


CONCEPT_VECTORS = OrderedDict([
    ("mean", _mean_vector),
    ("balanced", _balanced_vector),
    ("minimax", _minimax_vector),
    ("medoid", _medoid_vector),
])


def concept_vector(hierarchy, node, embedding, ind2label, method="mean"):
    """Unit vector (D,) for the concept `node` from the class embeddings (rows of `embedding`, class ids
    `ind2label`) of the classes below it, made by `method` (a name from `CONCEPT_VECTORS`)."""
    if method not in CONCEPT_VECTORS:
        raise ValueError("unknown concept vector {!r}: choose from {}".format(method, ", ".join(CONCEPT_VECTORS)))
    if node not in hierarchy.nodes:
        raise ValueError("concept {!r} is not in the taxonomy".format(node))
    class_vectors = OrderedDict(zip(ind2label, _unit_rows(embedding)))
    if not classes_below(hierarchy, node, list(class_vectors)):
        raise ValueError("concept {!r} has no class of the class embedding below it".format(node))
    return CONCEPT_VECTORS[method](hierarchy, node, class_vectors).astype(np.float32)


# ---------------------------------------------------------------------------
# Names: node ids, node-name lists, WordNet lemmas
# ---------------------------------------------------------------------------


def read_node_names(path, hierarchy=None):
    """{node id: name} from a text file of `index name` lines (encode_hierarchy.py --names_out) or of
    plain names, one per line, for the ids 0, 1, ... (a class-name list). Ids become ints where the
    hierarchy's nodes are ints."""
    int_ids = hierarchy is None or all(isinstance(n, (int, np.integer)) for n in hierarchy.nodes)
    names = OrderedDict()
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            fields = line.split(None, 1)
            if not fields:
                continue
            if len(fields) == 2 and fields[0].lstrip("-").isdigit():
                node, name = fields[0], fields[1].strip()
            elif len(fields) == 2 and hierarchy is not None and fields[0] in hierarchy.nodes:
                node, name = fields[0], fields[1].strip()
            else:
                node, name = str(len(names)), line.strip()
            names[int(node) if int_ids and node.lstrip("-").isdigit() else node] = name
    if not names:
        raise ValueError("{}: no node names".format(path))
    return names


def _normal_name(text):
    return str(text).strip().lower().replace(" ", "_")


def node_display_name(node, names=None, wordnet=None):
    """A human-readable name of a node: from `names`, else the WordNet lemma of a wnid, else the id."""
    if names and node in names:
        return names[node]
    if wordnet is not None and isinstance(node, str) and node in wordnet:
        return wordnet.name(node)
    return str(node)


def resolve_concept(text, hierarchy, names=None, wordnet=None, where="the taxonomy"):
    """The node meant by `text`: a node id, a name of `names` ({id: name}), or, for WordNet ids, a lemma
    (`dog` -> the first of its synsets, by sense frequency, that is in the taxonomy). ValueError naming
    `text` and the closest names otherwise."""
    candidates = [text]
    if str(text).lstrip("-").isdigit():
        candidates.append(int(text))
    for candidate in candidates:
        if candidate in hierarchy.nodes:
            return candidate
    wanted = _normal_name(text)
    if names:
        for node, name in names.items():
            if _normal_name(name) == wanted and node in hierarchy.nodes:
                return node
    if wordnet is not None:
        for wnid in wordnet.synsets(wanted):
            if wnid in hierarchy.nodes:
                return wnid
    known = {}
    for node in hierarchy.nodes:
        known[str(node)] = node
        known[node_display_name(node, names, wordnet)] = node
    close = difflib.get_close_matches(str(text), list(known), n=5, cutoff=0.6)
    close += [k for k in difflib.get_close_matches(wanted, [_normal_name(k) for k in known], n=5, cutoff=0.6)
              if k not in close]
    hint = "; close names: {}".format(", ".join(close[:5])) if close else ""
    raise ValueError("concept {!r} is not in {}{}".format(text, where, hint))


def concept_similarity(hierarchy, node, class_id):
    """Class similarity of an image of `class_id` to the concept `node`: 1 if the class lies below the node,
    else 1 - height(lcs(node, class)) / height(root) (the LCS_HEIGHT similarity of the project)."""
    if class_id in descendants(hierarchy, node):
        return 1.0
    return 1.0 - hierarchy.lcs_height(node, class_id)


# ---------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------


def average_precision(relevant_ranked):
    """AP of a ranking given as the relevance (bools) of its images in ranked order: the mean over the
    relevant images of the precision at their positions; 0 if none is relevant."""
    relevant_ranked = np.asarray(relevant_ranked, dtype=bool)
    positions = np.flatnonzero(relevant_ranked)
    if len(positions) == 0:
        return 0.0
    return float(np.mean(np.arange(1, len(positions) + 1) / (positions + 1.0)))


def rank_by_similarity(similarities):
    """Image indices by similarity descending, ties by index (stable)."""
    return np.argsort(-np.asarray(similarities, dtype=np.float64), kind="stable")


def concept_map(features, labels, hierarchy, embedding, ind2label, methods=tuple(CONCEPT_VECTORS), nodes=None,
                normalize=True, rank=None):
    """Concept mAP of each way of making concept vectors.

    features - (N, D) image features in the class-embedding space (None when `rank` is given); labels - class
               id per image.
    nodes - the concepts to score (default: every inner node whose classes do not cover all images).
    rank - function (query vector (D,)) -> ranked image indices (default: exact, by dot product with the
           L2-normalized features (`normalize`), ties by index); give the search of an index to score it.
    Returns {method: {"mAP": float, "AP": {node: AP}}} and the list of nodes scored.
    """
    labels = [lbl.item() if isinstance(lbl, np.generic) else lbl for lbl in labels]
    if features is not None:
        features = np.asarray(features, dtype=np.float64)
        if normalize:
            features = _unit_rows(features)
    if features is not None and len(labels) != len(features):
        raise ValueError("{} labels for {} feature vectors".format(len(labels), len(features)))
    present = list(OrderedDict.fromkeys(labels))
    if nodes is None:
        nodes = []
        for node in inner_nodes(hierarchy):
            below = set(classes_below(hierarchy, node, present))
            if below and below != set(present) and classes_below(hierarchy, node, list(ind2label)):
                nodes.append(node)
    if rank is None:
        def rank(vector):
            return rank_by_similarity(features @ vector)
    labels_array = np.empty(len(labels), dtype=object)
    labels_array[:] = labels
    results = OrderedDict()
    for method in methods:
        aps = OrderedDict()
        for node in nodes:
            below = descendants(hierarchy, node)
            relevant = np.array([lbl in below for lbl in labels])
            ranked = np.asarray(rank(concept_vector(hierarchy, node, embedding, ind2label, method)))
            aps[node] = average_precision(relevant[ranked])
        results[method] = {"mAP": float(np.mean(list(aps.values()))) if aps else float("nan"), "AP": aps}
    return results, list(nodes)
