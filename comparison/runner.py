"""Training (resumable) and scoring of the rows of a comparison, in one process (one framework start-up).

Files under the output folder OUT:
- `models/<model>.keras`, `models/<model>.features.npz` (test features), `models/<model>.json` (what was
  trained, with which `Budget`, how long it took); `logs/<model>.log` (the training output).
  A model whose three files are there and whose record names the same settings and budget is not
  trained again, so an interrupted run resumes with the next model; one with other settings is an error.
- `scores/<row>.json`: the scores of a row, reused while the model's record is unchanged.
"""

import contextlib
import datetime
import gc
import json
import os
import sys
import time
import traceback

import numpy as np

import cli
import utils

TINY_IMAGENET = "TinyImageNet"
RETRIEVAL_CUTOFF = 250  # mAHP@250, the paper's main number (capped below the number of test images)


def read_json(path):
    """The JSON object in `path`, or None if the file is missing or unreadable (e.g. cut off)."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def write_json(path, obj):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with utils.atomic_write(path, "w") as f:
        json.dump(obj, f, indent=1, allow_nan=False)
        f.write("\n")


def json_safe(value):
    """NaN and inf (e.g. the Mistake Severity of a model without mistakes) as None, numpy numbers as floats."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def model_paths(out_dir, model_key):
    base = os.path.join(out_dir, "models", model_key)
    return {"model": base + ".keras", "features": base + ".features.npz", "record": base + ".json",
            "log": os.path.join(out_dir, "logs", model_key + ".log")}


def trained_record(entry, budget, out_dir):
    """The record of the entry's model if it was trained with these settings and its files are there;
    None if it is not (completely) there; ValueError if it was trained with other settings."""
    paths = model_paths(out_dir, entry.model_key)
    record = read_json(paths["record"])
    if record is None or not all(os.path.isfile(paths[k]) for k in ("model", "features")):
        return None
    if record.get("settings") != entry.model_settings() or record.get("budget_fingerprint") != budget.fingerprint():
        raise ValueError("{}: trained with other settings ({}, budget {}); remove the model's files or use another "
                         "output folder".format(paths["record"], record.get("settings"), record.get("budget")))
    return record


def train_model(entry, budget, data_root, hierarchy, embedding_path, out_dir, verbose=2):
    """Train the entry's model with `budget` unless it is already trained; returns its record.

    The training output goes to logs/<model>.log. Exceptions are raised (the caller decides whether
    the run goes on); nothing is recorded for a model whose training failed.
    """
    record = trained_record(entry, budget, out_dir)
    if record is not None:
        return dict(record, reused=True)
    import keras

    from models.training import train

    paths = model_paths(out_dir, entry.model_key)
    for path in paths.values():
        os.makedirs(os.path.dirname(path), exist_ok=True)
    start = time.time()
    with open(paths["log"], "w") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        try:
            result = train(TINY_IMAGENET, embedding_path or "onehot", data_root=data_root, hierarchy=hierarchy,
                           loss=entry.loss, loss_kwargs=dict(entry.loss_kwargs), cls_weight=entry.cls_weight,
                           verbose=verbose, model_dump=paths["model"], feature_dump=paths["features"],
                           **budget.train_options())
        except Exception:
            traceback.print_exc()
            raise
    seconds = time.time() - start
    record = {"model": entry.model_key, "settings": entry.model_settings(), "budget": budget.describe(),
              "budget_fingerprint": budget.fingerprint(), "train_seconds": round(seconds, 1),
              "test_accuracy_at_training": json_safe(dict(result.accuracy)),
              "trained_at": datetime.datetime.now().isoformat(timespec="seconds")}
    write_json(paths["record"], record)
    del result
    keras.backend.clear_session()
    gc.collect()
    return dict(record, reused=False)


class Scorer:
    """Scores of trained models on the test images of one dataset, all against one hierarchy.

    data_root, image_size: the Tiny ImageNet (or subset) the models were trained on; hierarchy: a
    `ClassHierarchy` holding every class; cutoff: K of mAHP@K (capped at the number of test images - 1).
    """

    def __init__(self, data_root, image_size, hierarchy, cutoff=RETRIEVAL_CUTOFF, batch_size=100):
        from datasets import get_data_generator

        self.data = get_data_generator(TINY_IMAGENET, data_root, image_size=image_size)
        self.hierarchy = hierarchy
        self.class_ids = cli.class_ids(self.data, hierarchy=hierarchy, source="(the Tiny ImageNet tree)")
        self.labels = np.asarray(self.data.labels_test)
        self.label_ids = [self.class_ids[label] for label in self.labels]
        self.cutoff = min(cutoff, len(self.labels) - 1)
        self.batch_size = batch_size
        self._evaluator = None

    @property
    def classes(self):
        return list(self.data.classes)

    def ahp_name(self):
        return "AHP@{} (LCS_HEIGHT)".format(self.cutoff)

    def class_scores(self, entry, model_path, features, embedding_path):
        """(N, C) class scores of the entry's model, columns in the dataset's class order."""
        if entry.classify == "prob":
            from evaluate_classification_accuracy import class_scores

            return class_scores(self.data, model_path, layer="prob", prob_features=True, batch_size=self.batch_size,
                                desc="Class scores of " + entry.key)
        from models.methods import METHODS, MethodContext
        from models.training import class_scores

        method = METHODS[entry.loss]
        matrix = (np.eye(len(self.class_ids), dtype=np.float32) if not embedding_path
                  else np.asarray(utils.load_class_embedding(embedding_path)["embedding"], dtype=np.float32))
        context = MethodContext(embedding=matrix, onehot=not embedding_path, hierarchy=self.hierarchy,
                                class_ids=tuple(self.class_ids))
        targets = method.targets(context, **method.hyperparameters(dict(entry.loss_kwargs)))
        return class_scores(features, targets, dot_prod_sim=method.similarity == "dot")

    def model_features(self, model_path, source):
        """(N, D) test features of a saved model at `FEATURE_SOURCES[source]`."""
        import keras

        from evaluate_classification_accuracy import predict, test_set_inputs

        model = keras.models.load_model(model_path, compile=False)
        cut = keras.Model(model.inputs, FEATURE_SOURCES[source](model))
        features = predict(cut, test_set_inputs(self.data, self.batch_size), "{} features".format(source))
        return features.reshape(len(self.labels), -1)

    def chance_levels(self):
        """Reference points without a model: guessing uniformly among the other classes, and always predicting
        the one class of least mean LCA height to the test images (the best constant guess).
        Returns {name: {"Top-1 Error", "Mistake Severity", "class" (the constant's id)}}."""
        from metrics.hierarchical import lca_heights

        heights = lca_heights(self.hierarchy, self.class_ids)
        num = len(self.class_ids)
        counts = np.bincount(self.labels, minlength=num).astype(float)
        mean_other = (heights.sum(1) / (num - 1)) if num > 1 else np.zeros(num)
        uniform = {"Top-1 Error": 1.0 - 1.0 / num, "Mistake Severity": float(counts @ mean_other / counts.sum())}
        constant = int(np.argmin(counts @ heights))  # least mean LCA height over the test images (HD@1)
        wrong = counts.sum() - counts[constant]
        best = {"Top-1 Error": float(wrong / counts.sum()), "class": self.class_ids[constant],
                "Mistake Severity": float(counts @ heights[:, constant] / wrong) if wrong else float("nan")}
        return {"uniform random guess": uniform, "best constant guess": best}

    def classification(self, scores, crm=False):
        from evaluate_classification_accuracy import evaluate_classification

        metrics = evaluate_classification(scores, self.labels, self.hierarchy, self.class_ids, crm=crm)
        return dict(metrics, **{"Top-1 Error": 1.0 - metrics["Accuracy"]})

    def retrieval(self, features, ranking="float"):
        """Retrieval metrics (P@k for k = 1..cutoff, mAHP@cutoff, AP) and the HP@k curve (LCS_HEIGHT)."""
        import metrics
        from evaluate_retrieval import bytes_per_image, evaluate_retrieval

        if self._evaluator is None:
            self._evaluator = metrics.RetrievalEvaluator(self.hierarchy, self.label_ids)
        perf = evaluate_retrieval(features, self.label_ids, self.hierarchy, plot_max=self.cutoff,
                                  clip_ahp=self.cutoff, ranking=ranking, evaluator=self._evaluator)
        curve = [perf["P@{} (LCS_HEIGHT)".format(k)] for k in range(1, self.cutoff + 1)]
        kept = {name: value for name, value in perf.items()
                if not name.startswith("P@") or name.split(" ")[0] in ("P@1", "P@10", "P@50", "P@100")}
        kept["Bytes per Image"] = bytes_per_image(ranking, np.shape(features)[1])
        kept["Dimensions"] = int(np.shape(features)[1])
        return kept, curve


def _penultimate(model):
    from models.surgery import penultimate_features

    return penultimate_features(model)


# How retrieval features other than the feature dump are taken from a trained model: name -> (model -> tensor).
FEATURE_SOURCES = {"penultimate": _penultimate}


def load_test_features(path, num_images):
    from evaluate_retrieval import load_feature_matrix

    return load_feature_matrix(path, num_images, TINY_IMAGENET)


def score_rows(entries, scorer, out_dir, embedding_paths, log=print):
    """Score every entry whose model is trained: its row (and, with `crm`, the CRM row). Scores of a row are
    reused from scores/<row>.json while its model's record is unchanged. Returns a list of row dicts."""
    rows = []
    for entry in entries:
        paths = model_paths(out_dir, entry.model_key)
        record = read_json(paths["record"])
        if record is None:
            continue
        stamp = {"trained_at": record.get("trained_at"), "cutoff": scorer.cutoff, "entry": repr(entry)}
        cache = os.path.join(out_dir, "scores", entry.key + ".json")
        cached = read_json(cache)
        if cached is not None and cached.get("stamp") == stamp:
            rows.extend(cached["rows"])
            continue
        log("Scoring {}".format(entry.label))
        features = (load_test_features(paths["features"], len(scorer.labels)) if entry.features is None
                    else scorer.model_features(paths["model"], entry.features))
        base = {"key": entry.key, "label": entry.label, "model": entry.model_key, "loss": entry.loss,
                "embedding": entry.embedding, "loss_kwargs": dict(entry.loss_kwargs), "cls_weight": entry.cls_weight,
                "train_seconds": record.get("train_seconds"), "ranking": entry.ranking, "crm": False}
        metrics, curve, crm_row = {}, None, None
        if entry.classify is not None:
            scores = scorer.class_scores(entry, paths["model"], features, embedding_paths.get(entry.embedding))
            metrics.update(scorer.classification(scores))
            if entry.crm:
                crm_row = dict(base, key=entry.key + "+crm", label=entry.label + " + CRM", crm=True, ranking=None,
                               metrics=json_safe(scorer.classification(scores, crm=True)), hp_curve=None)
        if entry.ranking is not None:
            retrieval, curve = scorer.retrieval(features, entry.ranking)
            metrics.update(retrieval)
        new_rows = [dict(base, metrics=json_safe(metrics), hp_curve=json_safe(curve))]
        if crm_row is not None:
            new_rows.append(crm_row)
        write_json(cache, {"stamp": stamp, "rows": new_rows})
        rows.extend(new_rows)
    return rows


def train_all(models, budget, data_root, hierarchy, embedding_paths, out_dir, log=print, verbose=2):
    """Train every model of `models` ({model key: entry}) in order; a failure is reported and the next model
    trained. Returns ({model key: record}, [model keys that failed])."""
    records, failed = {}, []
    for number, (key, entry) in enumerate(models.items(), 1):
        paths = model_paths(out_dir, key)
        prefix = "[{}/{}] {}".format(number, len(models), key)
        if trained_record(entry, budget, out_dir) is not None:  # ValueError: trained with other settings
            log("{}: already trained ({}), not trained again".format(prefix, paths["model"]))
        else:
            log("{}: training ({}, log: {})".format(prefix, entry.loss, paths["log"]))
        try:
            record = train_model(entry, budget, data_root, hierarchy, embedding_paths.get(entry.embedding), out_dir,
                                 verbose=verbose)
        except Exception as e:  # noqa: BLE001 -- one failed model must not stop a long comparison
            log("{}: training failed: {} (traceback in {})".format(prefix, cli.error_line(e), paths["log"]))
            failed.append(key)
            continue
        records[key] = record
        if not record["reused"]:
            accuracy = record["test_accuracy_at_training"].get("Accuracy")
            log("{}: {:.0f} s{}".format(prefix, record["train_seconds"], ", test accuracy {:.2%}".format(accuracy)
                                        if accuracy is not None and entry.classify is not None else ""))
        sys.stdout.flush()
    return records, failed
