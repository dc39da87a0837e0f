"""An index of image features on faiss, with image ids, class labels and image paths, in one file.

Kinds of codes (`CODE_KINDS`, name -> how the faiss index is built and queried):

- ``float``: the features as they are (L2-normalized unless `normalize=False`), exact inner product
  (`faiss.IndexFlatIP`); 4 D bytes per image.
- ``binary``: the sign of each component as one bit (`search.codes.pack_bits`), exact Hamming distance
  (`faiss.IndexBinaryFlat`); D / 8 bytes per image (D a multiple of 8). Similarity 1 - 2 hamming / D, the
  cosine of the +-1 codes.
- ``binary_ivf``: the same bits in an inverted file of `nlist` cells (binary k-means) of which `nprobe` are
  searched (`faiss.IndexBinaryIVF`): approximate, sub-linear; with nprobe = nlist it is the exact search.
- ``pq``: product quantization to M bytes (`faiss.IndexPQ`, inner product of the unquantized query with
  the decoded database vectors: asymmetric); M bytes per image.
- ``ivfpq``: the same codes in an inverted file of `nlist` k-means cells of which `nprobe` are searched
  (`faiss.IndexIVFPQ`): sub-linear search for large databases, approximate.

Rankings are by similarity, ties broken by image index (row in the index) as in the rest of the project:
exact float search returns the top k in no defined order among equal similarities, so we fetch more than k
when the similarity at position k continues beyond, and sort by (similarity descending, index); faiss's
exact binary search orders by (distance, id) itself; approximate kinds sort the k they find.

The file is a numpy archive (no pickle) holding `format`, `version`, `codes`, the serialized faiss index,
`ids` and, where known, `labels` and `paths`, and `info` (JSON: the options it was built with and where
the features came from). `load_index` refuses files of another `version` with a one-line ValueError.
"""

import json
import os
import zipfile
from collections import namedtuple

import numpy as np

from search import codes as binary_codes
from search.pq import as_float32_features, check_pq, faiss_module

INDEX_FORMAT = "semantic-embeddings image index"
INDEX_VERSION = 1

# Training vectors for PQ / IVF k-means: a seeded random subset of the database of at most this size.
MAX_TRAIN_POINTS = 65536

SearchResult = namedtuple("SearchResult", ["similarities", "indices"])


# ---------------------------------------------------------------------------
# Kinds of codes: a table of builders and query encoders
# ---------------------------------------------------------------------------


def _train_subset(features, seed):
    if len(features) <= MAX_TRAIN_POINTS:
        return features
    rng = np.random.default_rng(seed)
    return features[np.sort(rng.choice(len(features), MAX_TRAIN_POINTS, replace=False))]


def _build_float(features, options):
    index = faiss_module().IndexFlatIP(features.shape[1])
    index.add(features)
    return index


def _build_binary(features, options):
    num_bits = binary_codes.check_num_bits(features.shape[1], "feature dimension (bits of the binary codes)")
    index = faiss_module().IndexBinaryFlat(num_bits)
    index.add(binary_codes.pack_bits(features))
    return index


def _default_nlist(num_images):
    return max(1, min(int(4 * np.sqrt(num_images)), num_images // 39))


def _build_binary_ivf(features, options):
    faiss = faiss_module()
    num_bits = binary_codes.check_num_bits(features.shape[1], "feature dimension (bits of the binary codes)")
    packed = binary_codes.pack_bits(features)
    nlist = int(options.get("nlist") or _default_nlist(len(features)))
    if len(features) < nlist:
        raise ValueError("a binary IVF of {} cells needs at least {} images, got {}".format(nlist, nlist, len(features)))
    index = faiss.IndexBinaryIVF(faiss.IndexBinaryFlat(num_bits), num_bits, nlist)
    index.cp.seed = options["seed"]
    index.cp.min_points_per_centroid = 1
    index.train(_train_subset(packed, options["seed"]))
    index.add(packed)
    index.nprobe = int(options.get("nprobe") or 16)
    options["nlist"] = nlist
    return index


def _build_pq(features, options):
    faiss = faiss_module()
    num_sub = check_pq(features.shape[1], options["bytes"])
    if len(features) < 256:
        raise ValueError("PQ codes need at least 256 images to train their centroids, got {}".format(len(features)))
    index = faiss.IndexPQ(features.shape[1], num_sub, 8, faiss.METRIC_INNER_PRODUCT)
    index.pq.cp.seed = options["seed"]
    index.pq.cp.min_points_per_centroid = 1
    index.train(_train_subset(features, options["seed"]))
    index.add(features)
    return index


def _build_ivfpq(features, options):
    faiss = faiss_module()
    d = features.shape[1]
    num_sub = check_pq(d, options["bytes"])
    nlist = options.get("nlist") or _default_nlist(len(features))
    if len(features) < max(256, nlist):
        raise ValueError("IVF-PQ with {} cells needs at least {} images to train, got {}".format(
            nlist, max(256, nlist), len(features)))
    quantizer = faiss.IndexFlatIP(d)
    index = faiss.IndexIVFPQ(quantizer, d, int(nlist), num_sub, 8, faiss.METRIC_INNER_PRODUCT)
    index.cp.seed = options["seed"]
    index.cp.min_points_per_centroid = 1
    index.pq.cp.seed = options["seed"]
    index.pq.cp.min_points_per_centroid = 1
    index.train(_train_subset(features, options["seed"]))
    index.add(features)
    index.nprobe = int(options.get("nprobe") or 16)
    options["nlist"] = int(nlist)
    return index


def _float_queries(index, queries):
    return queries


def _binary_queries(index, queries):
    return binary_codes.pack_bits(queries)


def _hamming_to_similarity(index, distances):
    return binary_codes.code_similarity(distances, index.d).astype(np.float32)


def _inner_product(index, distances):
    return distances


# ties: how equal similarities are ordered. "extend": fetch beyond k until the k-th similarity is strictly
# above the last fetched, then sort by (similarity, row): the exact stable top k (exact float search).
# "faiss": faiss already orders by (distance, id), also at the k-th place (binary flat search; tested).
# "sort": the k found are sorted by (similarity, row); which of equal candidates at the k-th place are found
# is up to faiss (approximate kinds: their top k is approximate anyway).
CodeKind = namedtuple("CodeKind", ["build", "encode_queries", "to_similarity", "binary", "ties", "description"])

CODE_KINDS = {
    "float": CodeKind(_build_float, _float_queries, _inner_product, False, "extend",
                      "float features, exact inner product (faiss IndexFlatIP)"),
    "binary": CodeKind(_build_binary, _binary_queries, _hamming_to_similarity, True, "faiss",
                       "signs as packed bits, exact Hamming distance (faiss IndexBinaryFlat)"),
    "binary_ivf": CodeKind(_build_binary_ivf, _binary_queries, _hamming_to_similarity, True, "sort",
                           "signs as packed bits in an inverted file, Hamming distance (faiss IndexBinaryIVF)"),
    "pq": CodeKind(_build_pq, _float_queries, _inner_product, False, "sort",
                   "product quantization, --bytes per image (faiss IndexPQ)"),
    "ivfpq": CodeKind(_build_ivfpq, _float_queries, _inner_product, False, "sort",
                      "product quantization in an inverted file (faiss IndexIVFPQ)"),
}


def check_code_kind(codes):
    if codes not in CODE_KINDS:
        raise ValueError("unknown kind of codes {!r}: choose from {}".format(codes, ", ".join(CODE_KINDS)))
    return CODE_KINDS[codes]


# ---------------------------------------------------------------------------
# The index
# ---------------------------------------------------------------------------


def l2_normalize(features, what="features"):
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ValueError("{}: vector {} is zero and cannot be L2-normalized".format(
            what, int(np.flatnonzero(norms[:, 0] == 0)[0])))
    return (features / norms).astype(np.float32)


def _plain_list(values):
    return [v.item() if isinstance(v, np.generic) else v for v in values]


class ImageIndex:
    """A faiss index of image features with the id, class label and path of every indexed image.

    faiss_index - a faiss index (binary for `codes == "binary"`) holding one entry per image, in row order.
    codes - a name from `CODE_KINDS`; dim - dimension of the features it was built from.
    ids - image id per row (the ids of the feature file); labels, paths - per row, or None.
    normalize - queries are L2-normalized (as the indexed features were).
    info - JSON-able dict: options and sources it was built with.
    """

    def __init__(self, faiss_index, codes, dim, ids, labels=None, paths=None, normalize=True, info=None):
        self.kind = check_code_kind(codes)
        self.faiss_index = faiss_index
        self.codes = codes
        self.dim = int(dim)
        self.ids = _plain_list(ids)
        self.labels = None if labels is None else _plain_list(labels)
        self.paths = None if paths is None else [str(p) for p in paths]
        self.normalize = bool(normalize)
        self.info = dict(info or {})
        self.source = None  # the file it was read from (load_index), named in errors
        for name, values in (("ids", self.ids), ("labels", self.labels), ("paths", self.paths)):
            if values is not None and len(values) != faiss_index.ntotal:
                raise ValueError("{} {} for an index of {} images".format(len(values), name, faiss_index.ntotal))

    @property
    def num_images(self):
        return int(self.faiss_index.ntotal)

    @property
    def code_bytes(self):
        """Bytes of the codes of one image (faiss's code size)."""
        return int(self.faiss_index.code_size)

    def prepare_queries(self, queries, what="query features"):
        """Queries as the index compares them: float32, L2-normalized where the index is; ValueError naming
        `what` when their dimension differs from the index's."""
        queries = as_float32_features(queries, what)
        if queries.shape[1] != self.dim:
            raise ValueError("{} have {} dimensions, but the index{} was built from {}-dimensional features".format(
                what, queries.shape[1], " " + self.source if self.source else "", self.dim))
        if self.normalize and not self.kind.binary:
            queries = l2_normalize(queries, what)
        return queries

    def search(self, queries, top, what="query features", nprobe=None):
        """The `top` most similar images of each query: SearchResult(similarities (M, k), indices (M, k)).

        Indices are rows of the index (`ids[i]`, `labels[i]`, `paths[i]`); k = min(top, num_images) (IVF
        may find fewer: missing places have index -1 and similarity NaN). Ties by index.
        """
        queries = self.prepare_queries(queries, what)
        if isinstance(top, bool) or int(top) != top or top < 1:
            raise ValueError("--top must be a positive number of images, got {!r}".format(top))
        if nprobe is not None and hasattr(self.faiss_index, "nprobe"):
            self.faiss_index.nprobe = int(nprobe)
            self._gpu_index = None
        encoded = self.kind.encode_queries(self.faiss_index, queries)
        return _stable_search(self, encoded, min(int(top), self.num_images), self._searcher())

    def _searcher(self):
        """The faiss index to search: a copy on the GPUs when faiss-gpu sees any (float, PQ, IVF-PQ)."""
        if getattr(self, "_gpu_index", None) is None:
            self._gpu_index = self.faiss_index
            faiss = faiss_module()
            if not self.kind.binary and hasattr(faiss, "index_cpu_to_all_gpus") and faiss.get_num_gpus() > 0:
                self._gpu_index = faiss.index_cpu_to_all_gpus(self.faiss_index)
        return self._gpu_index

    def memory_bytes(self):
        """Bytes of the codes of all images (without ids, labels, paths and codebooks)."""
        return self.num_images * self.code_bytes


def _stable_search(index, encoded, k, searcher):
    """faiss search with ties broken by row as the kind's `ties` says (see `CodeKind`)."""
    n = index.num_images
    m = len(encoded)
    similarities = np.full((m, k), np.nan, dtype=np.float32)
    indices = np.full((m, k), -1, dtype=np.int64)
    pending = np.arange(m)
    extend = index.kind.ties == "extend"
    fetch = min(n, k + max(16, k // 4)) if extend else k
    while len(pending):
        distances, found = searcher.search(encoded[pending], fetch)
        sims = index.kind.to_similarity(index.faiss_index, distances).astype(np.float32)
        sims[found < 0] = -np.inf
        done = (fetch >= n) | (sims[:, k - 1] > sims[:, fetch - 1]) | (found[:, fetch - 1] < 0) | (not extend)
        rows = np.flatnonzero(done)
        order = np.lexsort((np.where(found[rows] < 0, n, found[rows]), -sims[rows]), axis=1)[:, :k]
        top_sims = np.take_along_axis(sims[rows], order, axis=1)
        top_found = np.take_along_axis(found[rows], order, axis=1)
        top_sims[top_found < 0] = np.nan
        similarities[pending[rows]] = top_sims
        indices[pending[rows]] = top_found
        pending = pending[~done]
        fetch = min(n, 4 * fetch)
    return SearchResult(similarities, indices)


def build_index(features, ids=None, labels=None, paths=None, codes="float", num_bytes=16, normalize=True,
                nlist=None, nprobe=16, seed=0, info=None):
    """An `ImageIndex` of `features` (N, D).

    codes - a name from `CODE_KINDS`; num_bytes - code size of "pq" / "ivfpq"; normalize - L2-normalize the
    features (and later the queries) first: similarity = cosine ("binary" ignores it: signs do not change);
    nlist / nprobe - cells of "ivfpq" / "binary_ivf" and how many are searched (default nlist about 4 sqrt(N));
    seed - of the k-means training of "pq" / "ivfpq"; ids, labels, paths - per image (ids default 0..N-1).
    """
    kind = check_code_kind(codes)
    features = as_float32_features(features)
    if len(features) == 0:
        raise ValueError("no features to index")
    ids = list(range(len(features))) if ids is None else list(ids)
    if not kind.binary and normalize:
        features = l2_normalize(features)
    options = {"bytes": int(num_bytes) if num_bytes is not None else None, "seed": int(seed), "nlist": nlist,
               "nprobe": nprobe}
    faiss_index = kind.build(features, options)
    info = dict(info or {})
    info.update(codes=codes, normalize=bool(normalize), seed=int(seed))
    if codes in ("pq", "ivfpq"):
        info["bytes"] = int(num_bytes)
    if codes in ("ivfpq", "binary_ivf"):
        info.update(nlist=options["nlist"], nprobe=int(faiss_index.nprobe))
    return ImageIndex(faiss_index, codes, features.shape[1], ids, labels, paths, normalize, info)


# ---------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------


def _id_array(values):
    values = _plain_list(values)
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
        return np.asarray(values, dtype=np.int64)
    return np.asarray([str(v) for v in values])


def save_index(index, path):
    """Write `index` to `path` (a numpy archive, see the module docstring), atomically."""
    import utils

    faiss = faiss_module()
    serialize = faiss.serialize_index_binary if index.kind.binary else faiss.serialize_index
    arrays = {
        "format": np.array(INDEX_FORMAT),
        "version": np.array(INDEX_VERSION),
        "codes": np.array(index.codes),
        "dim": np.array(index.dim),
        "normalize": np.array(index.normalize),
        "faiss": serialize(index.faiss_index),
        "ids": _id_array(index.ids),
        "info": np.array(json.dumps(index.info)),
    }
    if index.labels is not None:
        arrays["labels"] = _id_array(index.labels)
    if index.paths is not None:
        arrays["paths"] = np.asarray(index.paths, dtype=str)
    with utils.atomic_write(path) as f:
        np.savez(f, **arrays)


def load_index(path):
    """Read an index written by `save_index`; ValueError naming the file if it is none or of another version."""
    if not os.path.isfile(path):
        raise ValueError("{}: no such index file".format(path))
    try:
        with np.load(path, allow_pickle=False) as archive:
            data = {name: archive[name] for name in archive.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        raise ValueError("{}: not an index file written by build_index.py ({})".format(path, e)) from None
    if "format" not in data or str(data["format"]) != INDEX_FORMAT or "version" not in data:
        raise ValueError("{}: not an index file written by build_index.py".format(path))
    version = int(data["version"])
    if version != INDEX_VERSION:
        raise ValueError("{}: index format version {}, but this program reads version {}: rebuild the index with "
                         "build_index.py".format(path, version, INDEX_VERSION))
    codes = str(data["codes"])
    kind = check_code_kind(codes)
    faiss = faiss_module()
    deserialize = faiss.deserialize_index_binary if kind.binary else faiss.deserialize_index
    faiss_index = deserialize(data["faiss"])
    index = ImageIndex(faiss_index, codes, int(data["dim"]), data["ids"].tolist(),
                       data["labels"].tolist() if "labels" in data else None,
                       data["paths"].tolist() if "paths" in data else None,
                       bool(data["normalize"]), json.loads(str(data["info"])))
    index.source = path
    return index
