"""Answering queries against an `ImageIndex`: query features from files, class names, the ranked results
as records (printed, written as JSON, drawn), and the frames of the result picture.
"""

import json
import zipfile

import numpy as np

from search.concepts import concept_similarity, node_display_name


def read_query_features(path, ids=None):
    """(ids, features (M, D)) of a feature file (the formats of evaluate_retrieval.py: a pickle
    {'feat': {id: vector}} or an .npz with `feat` and `ids`), optionally only the images `ids`
    (matched as given or as integers). ValueError naming the file or the id."""
    import utils

    try:
        file_ids, features = utils.load_features(path)
    except (zipfile.BadZipFile, EOFError) as e:
        raise ValueError("{}: cannot read the feature file: {}".format(path, e)) from None
    features = np.asarray(features)
    if features.ndim != 2 or len(features) == 0:
        raise ValueError("{}: expected one feature vector per image, got an array of shape {}".format(
            path, features.shape))
    if not np.issubdtype(features.dtype, np.number):
        raise ValueError("{}: features are not numbers (dtype {})".format(path, features.dtype))
    file_ids = [i.item() if isinstance(i, np.generic) else i for i in file_ids]
    if ids is None:
        return file_ids, features
    position = {str(i): p for p, i in enumerate(file_ids)}
    rows = []
    for image_id in ids:
        if str(image_id) not in position:
            raise ValueError("{}: no image with id {!r}".format(path, image_id))
        rows.append(position[str(image_id)])
    return [file_ids[r] for r in rows], features[rows]


def class_name(label, names=None, wordnet=None):
    return None if label is None else node_display_name(label, names, wordnet)


def result_records(index, result, names=None, wordnet=None):
    """Per query, the list of its results as dicts: rank (1-based), row, id, class, class_name, path, similarity."""
    records = []
    for sims, rows in zip(result.similarities, result.indices):
        ranked = []
        for rank, (sim, row) in enumerate(zip(sims, rows), start=1):
            if row < 0:
                continue
            label = index.labels[row] if index.labels is not None else None
            ranked.append({
                "rank": rank,
                "row": int(row),
                "id": index.ids[row],
                "class": label,
                "class_name": class_name(label, names, wordnet),
                "path": index.paths[row] if index.paths is not None else None,
                "similarity": float(sim),
            })
        records.append(ranked)
    return records


def frame_values(records, hierarchy=None, query_class=None, concept=None):
    """Per result, the similarity its frame shows: to a concept, the concept similarity of the result's class
    (1 below the concept, else 1 - height(lcs) / height(root)); to a query of known class, the class
    similarity 1 - height(lcs) / height(root); otherwise the result's similarity to the query, clipped to [0, 1]."""
    values = []
    for record in records:
        label = record["class"]
        if hierarchy is not None and label is not None and label in hierarchy.nodes:
            if concept is not None:
                values.append(concept_similarity(hierarchy, concept, label))
                continue
            if query_class is not None and query_class in hierarchy.nodes:
                values.append(1.0 - hierarchy.lcs_height(query_class, label))
                continue
        values.append(float(np.clip(record["similarity"], 0.0, 1.0)))
    return values


def predicted_classes(features, embedding, ind2label):
    """The class whose (normalized) embedding is most similar to each (normalized) feature vector."""
    features = np.asarray(features, dtype=np.float64)
    features = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    embedding = np.asarray(embedding, dtype=np.float64)
    embedding = embedding / np.maximum(np.linalg.norm(embedding, axis=1, keepdims=True), 1e-12)
    return [ind2label[i] for i in np.argmax(features @ embedding.T, axis=1)]


def format_results(queries, records):
    """Text: per query a header line and one line per result (rank, similarity, class, id, path)."""
    lines = []
    for query, ranked in zip(queries, records):
        lines.append("Query: {}".format(query["caption"]))
        lines.append("  {:>4s}  {:>10s}  {:<28s}  {:<10s}  {}".format("rank", "similarity", "class", "id", "path"))
        for r in ranked:
            cls = "" if r["class"] is None else (
                str(r["class"]) if r["class_name"] in (None, str(r["class"])) else "{} ({})".format(
                    r["class_name"], r["class"]))
            lines.append("  {:>4d}  {:>10.4f}  {:<28s}  {:<10s}  {}".format(
                r["rank"], r["similarity"], cls[:28], str(r["id"])[:10], r["path"] or ""))
    return "\n".join(lines)


def write_json(path, document):
    """`document` as JSON (NaN -> null), atomically."""
    import utils

    def clean(value):
        if isinstance(value, float) and not np.isfinite(value):
            return None
        if isinstance(value, dict):
            return {str(k): clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        if isinstance(value, np.generic):
            return clean(value.item())
        return value

    with utils.atomic_write(path, "w") as f:
        json.dump(clean(document), f, indent=2)
        f.write("\n")


def index_ranking(index, nprobe=None):
    """A function (query vector (D,)) -> all rows of `index` ranked for it (ties by row); rows an IVF search
    does not reach come last, in row order. For scoring concept queries through the index's codes."""
    def rank(vector):
        found = index.search(np.asarray(vector)[None, :], index.num_images, nprobe=nprobe).indices[0]
        found = found[found >= 0]
        if len(found) < index.num_images:
            missing = np.setdiff1d(np.arange(index.num_images), found)
            found = np.concatenate([found, missing])
        return found

    return rank
