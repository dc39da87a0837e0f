"""Flat and hierarchical classification metrics of the paper, and the hierarchy-aware metrics of the field."""

from collections import OrderedDict

import numpy as np

from .hierarchical import HIERARCHICAL_DISTANCE_KS, check_distance_ks, hierarchical_mistake_metrics, lca_heights

CLASSIFICATION_METRICS = ("Accuracy", "Top-5 Accuracy", "Avg. Accuracy", "Hierarchical Accuracy")


def classification_metrics(true_labels, scores, hierarchy=None, class_ids=None, distance_ks=None):
    """Flat and hierarchical classification accuracy, mistake severity and hierarchical distance@k.

    true_labels - (N,) class indices in [0, C).
    scores - (N, C) class scores, higher is better (ties go to the lower class index), or (N,) predicted
             class indices (then there is no "Top-5 Accuracy").
    hierarchy - a `ClassHierarchy`; if given, "Hierarchical Accuracy" is the mean of
                1 - lcs_height(predicted class, true class) over the images.
    class_ids - hierarchy id of each class index (the original's ind2label); default: the index itself.
    distance_ks - the k of "Hierarchical Distance@k" (hierarchy only); default: those of 1, 5, 20 up to the
                  number of classes (1 only for predicted class indices); a k above it raises ValueError.

    Returns an ordered dict with "Accuracy", "Top-5 Accuracy" (scores only), "Avg. Accuracy" (the mean of
    the per-class accuracies over the classes present in true_labels) and, with a hierarchy,
    "Hierarchical Accuracy", "Mistake Severity" (NaN without mistakes) and "Hierarchical Distance@k" (see
    `metrics.hierarchical` for their definitions, from LCA heights in edges).
    """
    y_true = np.asarray(true_labels)
    scores = np.asarray(scores)
    if y_true.ndim != 1 or len(y_true) == 0:
        raise ValueError("true_labels must be a non-empty 1-D array, got shape {}".format(y_true.shape))
    if not np.issubdtype(y_true.dtype, np.integer):
        raise ValueError("true_labels must be class indices (integers), got dtype {}".format(y_true.dtype))
    if scores.ndim not in (1, 2) or len(scores) != len(y_true):
        raise ValueError("scores of shape {} do not match {} labels".format(scores.shape, len(y_true)))
    if scores.ndim == 2:
        num_classes = scores.shape[1]
        if np.isnan(scores).any():
            raise ValueError("scores of image {} contain NaN".format(int(np.flatnonzero(np.isnan(scores).any(1))[0])))
        ranking = np.argsort(-scores, axis=1, kind="stable")
        top5 = ranking[:, :5]
        y_pred = top5[:, 0]
    else:
        if not np.issubdtype(scores.dtype, np.integer):
            raise ValueError("1-D scores must be predicted class indices (integers), got dtype {}".format(scores.dtype))
        y_pred, top5 = scores, None
        ranking = y_pred[:, None]
        num_classes = int(max(y_true.max(), y_pred.max())) + 1 if class_ids is None else len(class_ids)
    if class_ids is not None and len(class_ids) != num_classes:
        raise ValueError("{} class ids for {} classes".format(len(class_ids), num_classes))
    for name, values in (("true label", y_true), ("prediction", y_pred)):
        bad = (values < 0) | (values >= num_classes)
        if bad.any():
            raise ValueError("{} {} of image {} is not a class index in [0, {})".format(
                name, values[bad][0], int(np.flatnonzero(bad)[0]), num_classes))

    perf = OrderedDict()
    correct = y_pred == y_true
    perf["Accuracy"] = float(np.mean(correct))
    if top5 is not None:
        perf["Top-5 Accuracy"] = float(np.mean(np.any(top5 == y_true[:, None], axis=1)))
    present = np.unique(y_true)
    per_class = np.bincount(y_true, weights=correct, minlength=num_classes)[present] / np.bincount(y_true)[present]
    perf["Avg. Accuracy"] = float(np.mean(per_class))
    if hierarchy is not None:
        ids = list(range(num_classes)) if class_ids is None else list(class_ids)
        used = np.unique(np.concatenate((y_true, y_pred)))
        lcs_height = hierarchy.lcs_height_matrix([ids[i] for i in used])
        position = np.searchsorted(used, np.stack((y_pred, y_true)))
        perf["Hierarchical Accuracy"] = float(np.mean(1.0 - lcs_height[position[0], position[1]]))
        perf.update(_mistake_metrics(hierarchy, ids, y_true, ranking, distance_ks))
    return perf


def _mistake_metrics(hierarchy, ids, y_true, ranking, distance_ks):
    """Mistake severity and hierarchical distance@k, with the LCA heights of only the classes that occur."""
    num_classes = len(ids)
    if distance_ks is None:
        distance_ks = [k for k in HIERARCHICAL_DISTANCE_KS if k <= min(num_classes, ranking.shape[1])]
    distance_ks = check_distance_ks(distance_ks, num_classes)
    ranking = ranking[:, :max(distance_ks, default=1)]
    used = np.unique(np.concatenate((y_true, ranking.ravel())))
    heights = lca_heights(hierarchy, [ids[i] for i in used])
    return hierarchical_mistake_metrics(np.searchsorted(used, y_true), np.searchsorted(used, ranking), heights,
                                        distance_ks)
