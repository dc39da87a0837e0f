"""What retrieve.py does, with plain arguments: an index and what is known about its classes, and the
answers to feature, image and concept queries as one JSON-able document.

    session = RetrievalSession("cifar10.index.npz", hierarchy=hierarchy, classes_from="embedding.pickle")
    queries, vectors = session.concept_query("vehicle")
    document = session.answer(queries, vectors, top=10)
    session.draw(queries, document, "vehicle.png")
"""

import os

import numpy as np

from search import concepts
from search.index import load_index
from search.query import (class_name, frame_values, index_ranking, predicted_classes, read_query_features,
                          result_records)


class RetrievalSession:
    """An index with the taxonomy, class embedding, node names and dataset that its queries may need.

    index_path - file of build_index.py; hierarchy - a `ClassHierarchy` or None (hierarchy_file: its name in
    errors); classes_from - class-embedding file (default: the one the index was built with, if it exists);
    names_file - node names (see `concepts.read_node_names`); wordnet - a `wordnet.WordNet` for lemmas and
    names of WordNet ids, or None; dataset, data_root - for image queries and pictures of in-memory datasets
    (default: the index's); nprobe - cells searched by IVF-PQ indexes.
    """

    def __init__(self, index_path, hierarchy=None, hierarchy_file=None, classes_from=None, names_file=None,
                 wordnet=None, dataset=None, data_root=None, nprobe=None):
        self.index_path = index_path
        self.index = load_index(index_path)
        info = self.index.info
        self.hierarchy = hierarchy
        self.hierarchy_file = hierarchy_file or "the taxonomy"
        stored = info.get("classes_from")
        self.classes_from = classes_from or (stored if stored and os.path.isfile(stored) else None)
        self.names = concepts.read_node_names(names_file, hierarchy) if names_file else None
        self.wordnet = wordnet
        self.dataset = dataset or info.get("dataset")
        self.data_root = data_root if dataset else (data_root or info.get("data_root"))
        self.nprobe = nprobe
        self._data = self._embedding = None

    # --- what queries may need ----------------------------------------------------------

    def embedding(self, purpose):
        if self._embedding is None:
            if not self.classes_from:
                raise ValueError("{} needs --classes_from (the class-embedding file)".format(purpose))
            import utils

            self._embedding = utils.load_class_embedding(self.classes_from)
        return self._embedding

    def data(self, purpose):
        if self._data is None:
            if not self.dataset:
                raise ValueError("{} needs --dataset (the index {} names none)".format(purpose, self.index_path))
            from search.images import load_dataset

            self._data = load_dataset(self.dataset, self.data_root, self.classes_from)
        return self._data

    def _class_id(self, text):
        return concepts.resolve_concept(text, self.hierarchy, self.names, self.wordnet, self.hierarchy_file) \
            if self.hierarchy is not None else text

    # --- queries: (list of query dicts, (M, D) vectors) ------------------------------------

    def feature_queries(self, path, ids=None):
        """Queries by the feature vectors of a feature file (optionally only the images `ids`). Images of the
        index's own feature file come with their picture and class."""
        ids, features = read_query_features(path, ids)
        own = os.path.abspath(path) == self.index.info.get("feat")
        row_of = {str(i): r for r, i in enumerate(self.index.ids)} if own else {}
        queries = []
        for image_id in ids:
            row = row_of.get(str(image_id))
            label = self.index.labels[row] if row is not None and self.index.labels is not None else None
            queries.append({"caption": "image {}".format(image_id), "id": image_id, "row": row, "class": label})
        return queries, features

    def image_queries(self, paths, model_path):
        """Queries by image files, embedded by the model with the dataset's test-time preprocessing."""
        from search.images import decode_image, embed_images

        pictures = [np.asarray(decode_image(p)) for p in paths]  # one-line error naming an undecodable file
        features = embed_images(paths, model_path, self.data("an image query"))
        queries = [{"caption": os.path.basename(p), "path": p, "picture": picture}
                   for p, picture in zip(paths, pictures)]
        return queries, features

    def concept_query(self, text, method="mean"):
        """A query by a concept of the taxonomy, its vector made from the class embeddings below it."""
        if self.hierarchy is None:
            raise ValueError("a concept query needs --hierarchy")
        node = concepts.resolve_concept(text, self.hierarchy, self.names, self.wordnet, self.hierarchy_file)
        embedding = self.embedding("a concept query")
        vector = concepts.concept_vector(self.hierarchy, node, embedding["embedding"], embedding["ind2label"], method)
        name = concepts.node_display_name(node, self.names, self.wordnet)
        caption = "concept {}".format(name if name == str(node) else "{} ({})".format(name, node))
        return [{"caption": caption, "concept": node, "concept_vector": method}], vector[None, :]

    # --- answers ------------------------------------------------------------------------------

    def answer(self, queries, features, top, query_classes=None, what="the query features"):
        """The document of results: {"index", "codes", "top", "queries": [{query, query_class, results}]}."""
        result = self.index.search(features, top, what=what, nprobe=self.nprobe)
        records = result_records(self.index, result, self.names, self.wordnet)
        classes = self._query_classes(queries, features, query_classes)
        entries = []
        for query, ranked, (cls, how) in zip(queries, records, classes):
            frames = frame_values(ranked, self.hierarchy, cls, query.get("concept"))
            for record, frame in zip(ranked, frames):
                record["frame"] = frame
            entry = {"query": query["caption"], "results": ranked}
            for key in ("id", "path", "concept", "concept_vector"):
                if query.get(key) is not None:
                    entry[key] = query[key]
            if cls is not None:
                entry.update(query_class=cls, query_class_name=class_name(cls, self.names, self.wordnet),
                             query_class_from=how)
            entries.append(entry)
        return {"index": self.index_path, "codes": self.index.codes, "top": int(top), "queries": entries}

    def _query_classes(self, queries, features, query_classes):
        """(class, where it came from) per query: given, known (an image of the index), predicted, or None."""
        if query_classes:
            if len(query_classes) not in (1, len(queries)):
                raise ValueError("--query_class given {} times for {} queries: once, or once per query".format(
                    len(query_classes), len(queries)))
            given = [self._class_id(c) for c in query_classes]
            return [(given[0] if len(given) == 1 else given[q], "given") for q in range(len(queries))]
        out = [(q.get("class"), "index") if q.get("class") is not None else (None, None) for q in queries]
        missing = [i for i, (c, _) in enumerate(out) if c is None and "concept" not in queries[i]]
        if missing and self.classes_from:
            embedding = self.embedding("predicting query classes")
            predicted = predicted_classes(np.asarray(features)[missing], embedding["embedding"],
                                          embedding["ind2label"])
            for i, cls in zip(missing, predicted):
                out[i] = (cls, "predicted")
        return out

    def draw(self, queries, document, path):
        """The result picture of `queries` and their `document` (from `answer`) into the PNG file `path`."""
        from search.grid import draw_results_grid
        from search.images import database_pictures

        data = None
        if self.index.paths is None and self.dataset:
            data = self.data("pictures of the results")
        grid_queries, grid_results = [], []
        for query, entry in zip(queries, document["queries"]):
            picture = query.get("picture")
            if picture is None and query.get("row") is not None:
                picture = database_pictures([query["row"]], self.index.paths, data)[0]
            caption = entry["query"]
            if entry.get("query_class") is not None:
                caption += "\nclass ({}): {}".format(entry["query_class_from"], entry["query_class_name"])
            grid_queries.append({"picture": picture, "caption": caption})
            pictures = database_pictures([r["row"] for r in entry["results"]], self.index.paths, data)
            grid_results.append([{"picture": pic, "frame": r["frame"],
                                  "caption": "{}\n{:.3f}".format((r["class_name"] or "")[:14], r["similarity"])}
                                 for pic, r in zip(pictures, entry["results"])])
        draw_results_grid(path, grid_queries, grid_results)

    # --- concept mAP ---------------------------------------------------------------------------

    def concept_map(self, methods=tuple(concepts.CONCEPT_VECTORS)):
        """Concept mAP of the index's images for every way of making concept vectors (see `concepts`)."""
        if self.hierarchy is None:
            raise ValueError("--concept_map needs --hierarchy")
        if self.index.labels is None:
            raise ValueError("{}: the index has no class labels (build it with --dataset or --labels)".format(
                self.index_path))
        unknown = [lbl for lbl in dict.fromkeys(self.index.labels) if lbl not in self.hierarchy.nodes]
        if unknown:
            raise ValueError("{}: class {!r} of the index is not in {}".format(self.index_path, unknown[0],
                                                                              self.hierarchy_file))
        embedding = self.embedding("--concept_map")
        results, nodes = concepts.concept_map(None, self.index.labels, self.hierarchy, embedding["embedding"],
                                              embedding["ind2label"], methods=methods,
                                              rank=index_ranking(self.index, self.nprobe))
        present = list(dict.fromkeys(self.index.labels))
        return {
            "index": self.index_path, "codes": self.index.codes, "images": self.index.num_images,
            "nodes": [{"node": n, "name": concepts.node_display_name(n, self.names, self.wordnet),
                       "classes": len(concepts.classes_below(self.hierarchy, n, present))} for n in nodes],
            "mAP": {m: results[m]["mAP"] for m in methods},
            "AP": {m: [results[m]["AP"][n] for n in nodes] for m in methods},
        }


def format_concept_map(document):
    """Text table: one row per inner node (name, classes below, AP per method), then the means."""
    methods = list(document["mAP"])
    width = max([len("concept")] + [len(str(n["name"])) for n in document["nodes"]])
    lines = ["Concept mAP of {} ({} codes, {} images, {} inner nodes)".format(
        document["index"], document["codes"], document["images"], len(document["nodes"])),
        "{:<{w}s}  {:>7s}  {}".format("concept", "classes", "  ".join("{:>8s}".format(m) for m in methods), w=width)]
    for i, node in enumerate(document["nodes"]):
        lines.append("{:<{w}s}  {:>7d}  {}".format(str(node["name"]), node["classes"], "  ".join(
            "{:>8.4f}".format(document["AP"][m][i]) for m in methods), w=width))
    lines.append("{:<{w}s}  {:>7s}  {}".format("mean (concept mAP)", "", "  ".join(
        "{:>8.4f}".format(document["mAP"][m]) for m in methods), w=width))
    return "\n".join(lines)


def format_document(document):
    from search.query import format_results

    return format_results([{"caption": e["query"] + ("  [{} class: {}]".format(
        e["query_class_from"], e["query_class_name"]) if e.get("query_class") is not None else "")}
        for e in document["queries"]], [e["results"] for e in document["queries"]])
