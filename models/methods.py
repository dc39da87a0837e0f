"""The training methods: one table, `METHODS`, from the name given to `--loss` to everything that differs.

A method says
- how its training targets are made from the class labels (`targets`: a function returning one
  target row per class, e.g. the class embedding, one-hot vectors, hierarchy-derived soft labels,
  binary codes; or None for the integer labels themselves),
- which output layer follows the network's `embedding` layer (`head`: a key of
  `models.heads.OUTPUT_HEADS`, or None),
- its loss and its metrics (factories taking a `MethodContext` and the method's hyperparameters),
- the metric its headline accuracy is logged as (`monitor`), how test features score the classes
  (`similarity`) and how the training batches are drawn (`batch_sampler`),
- its own command-line hyperparameters (`arguments`: `Argument`s, added to the parser of every
  training script generically and passed to `targets`/`loss` as plain keyword arguments).

Adding a method = one `register_method(TrainingMethod(...))` call below + its loss function (in
models/losses.py) + its test. Nothing else: the scripts list it under `--loss`, add its arguments
under "Parameters for --loss NAME", build its head, targets, loss and metrics from this entry.
Example (a hypothetical method with one hyperparameter)::

    def _my_loss(context, my_margin):
        from models import losses
        return losses.MyLoss(context.embedding, margin=my_margin)

    register_method(TrainingMethod(
        name="my_loss",
        description="My loss against all class embeddings (needs L2-normalized outputs).",
        targets=class_embedding_targets,
        head="l2norm",
        loss=_my_loss,
        metrics=_nearest_embedding_metrics(dot_product=True),
        monitor="max_sim_acc",
        arguments=(Argument("--my_margin", float, 0.1, "Margin of my loss.", metavar="MARGIN"),),
    ))

The context holds what the data set and the class-embedding file give: the class-embedding matrix
(`embedding`, the identity for `--embedding onehot`), whether it is one-hot, the class hierarchy
and the dataset's class ids where the script has them (`hierarchy`, `class_ids`), and the top-k
values to report. Methods that need a hierarchy set `needs_hierarchy=True`.

The auxiliary classifier head of the original (`--cls_weight`, `--cls_base`: ReLU -> BN -> softmax
`prob`, trained with cross-entropy on one-hot targets beside the embedding loss) is the entry
`CLASSIFIER_HEAD`; a method that is itself a classifier sets `classifier_head=False`.

Several outputs: a method may set `outputs` instead of `head`: `(context, features, **hyperparameters)`
-> `[features, class scores (prob), *training-only outputs]` built after the network's `embedding`
(the feature dump and final evaluation read the first two, as with the classifier head); `targets`,
`loss`, `metrics` and `loss_weights` then give one entry per output (targets None: the labels).

This module imports neither Keras nor TensorFlow (the loss and metric factories import them when
called), so `--help` of the training scripts stays instant.
"""

import dataclasses
import importlib
from typing import Any, Callable, Optional

import numpy as np

# ---------------------------------------------------------------------------
# Entries
# ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Argument:
    """One command-line hyperparameter of a method: `--flag` (`type`, `default`), passed to the
    method's `targets` and `loss` as the keyword argument `dest` (the flag without dashes)."""

    flag: str
    type: Callable = float
    default: Any = None
    help: str = ""
    metavar: Optional[str] = None
    choices: Optional[tuple] = None

    def __post_init__(self):
        if not self.flag.startswith("--") or not self.dest.isidentifier():
            raise ValueError("an Argument's flag must look like --name_of_value, got {!r}".format(self.flag))

    @property
    def dest(self):
        return self.flag[2:].replace("-", "_")

    def add_to(self, group):
        """Add the flag to an argparse parser or argument group."""
        group.add_argument(self.flag, type=self.type, default=self.default, metavar=self.metavar,
                           choices=self.choices, help=self.help)


@dataclasses.dataclass(frozen=True)
class MethodContext:
    """What a method's factories may use besides its own hyperparameters.

    embedding: (num_classes, dim) class-embedding matrix (rows in label order); the identity for
        one-hot targets.
    onehot: whether `embedding` is the identity of `--embedding onehot`.
    hierarchy: the class hierarchy (`class_hierarchy.ClassHierarchy`) where the script has one.
    class_ids: the hierarchy id of each label (label order) where the script has them.
    top_k: the k of the top-k accuracies to report besides top-1.
    """

    embedding: Any
    onehot: bool = False
    hierarchy: Any = None
    class_ids: Optional[tuple] = None
    top_k: tuple = ()

    @property
    def num_classes(self):
        return len(self.embedding)


@dataclasses.dataclass(frozen=True)
class TrainingMethod:
    """One training method (see the module docstring)."""

    name: str
    description: str
    targets: Callable  # (context, **hyperparameters) -> (num_classes, dim) array, or None for the labels
    head: Optional[str]  # key of models.heads.OUTPUT_HEADS; None: the model ends at the network's top
    loss: Callable  # (context, **hyperparameters) -> Keras loss (function, Loss object or name)
    metrics: Callable  # (context, **hyperparameters) -> list of Keras metrics
    monitor: str  # name of the headline accuracy metric (logged as val_<monitor>)
    similarity: str = "dot"  # "dot" or negative "distance" to the targets, or "centroids" (training.class_centroids)
    batch_sampler: Optional[Callable] = None  # (**hyperparameters) -> train_sequence options; None: shuffled samples
    arguments: tuple = ()  # Argument entries: the method's own hyperparameters
    onehot_only: bool = False  # needs --embedding onehot
    classifier_head: bool = True  # whether --cls_weight may add the classifier head
    needs_hierarchy: bool = False
    output_dim: Optional[Callable] = None  # (context, **hyperparameters) -> network output size; default: dim
    # Methods with several outputs (see "Several outputs" in the module docstring): (context, features tensor,
    # **hyperparameters) -> [features, class scores, *training-only outputs]; `head` is then None.
    outputs: Optional[Callable] = None
    loss_weights: Optional[Callable] = None  # (context, **hyperparameters) -> one weight per output

    def __post_init__(self):
        if self.similarity not in ("dot", "distance", "centroids"):
            raise ValueError("{}: similarity {!r} is not dot, distance or centroids".format(self.name, self.similarity))
        if self.outputs is not None and (self.head is not None or self.classifier_head):
            raise ValueError("{}: a method with several outputs has no head and no classifier head".format(self.name))

    def hyperparameters(self, values=None, *, ignore_unknown=False):
        """The method's keyword arguments: `values` (a mapping) over the defaults of `arguments`.

        ValueError for a key the method does not take, unless `ignore_unknown` (then the other keys
        are dropped: handy with every flag of a parsed command line).
        """
        values = dict(values or {})
        known = {argument.dest: argument.default for argument in self.arguments}
        unknown = sorted(set(values) - set(known))
        if unknown and not ignore_unknown:
            raise ValueError("--loss {} takes no argument {} (it takes: {})".format(
                self.name, ", ".join(map(repr, unknown)), ", ".join(sorted(known)) or "none"))
        return {name: values.get(name, default) if values.get(name) is not None else default
                for name, default in known.items()}

    def network_outputs(self, context, **hyperparameters):
        """Width of the network's `embedding` layer for this method."""
        if self.output_dim is not None:
            return int(self.output_dim(context, **hyperparameters))
        return int(np.shape(context.embedding)[1])


@dataclasses.dataclass(frozen=True)
class AuxiliaryHead:
    """An extra output trained beside the method's own (the original's `--cls_weight` classifier)."""

    name: str  # the output layer's name (and the prefix of its metrics in the logs)
    weight: Argument  # its loss weight; the head exists when the value is > 0
    arguments: tuple  # further flags of the head
    targets: Callable  # (context) -> (num_classes, dim) array
    loss: Callable  # (context) -> Keras loss
    metrics: Callable  # (context) -> list of Keras metrics
    monitor: str


class MethodRegistry(dict):
    """name -> TrainingMethod; unknown names raise a ValueError that lists the known ones."""

    def __getitem__(self, name):
        try:
            return super().__getitem__(name)
        except KeyError:
            raise ValueError("unknown loss {!r}; choose from {}".format(name, ", ".join(self))) from None

    def arguments(self):
        """Every method's `Argument`s, each flag once (methods may share a flag with the same definition)."""
        seen = {}
        for method in self.values():
            for argument in method.arguments:
                seen.setdefault(argument.flag, (method.name, argument))
        return seen


METHODS = MethodRegistry()


def register_method(method):
    """Add `method` to `METHODS`; ValueError for a taken name or a flag defined differently elsewhere."""
    if method.name in METHODS:
        raise ValueError("training method {!r} is registered twice".format(method.name))
    reserved = {argument.flag for argument in (CLASSIFIER_HEAD.weight, *CLASSIFIER_HEAD.arguments)}
    for argument in method.arguments:
        owner, other = METHODS.arguments().get(argument.flag, (None, argument))
        if argument.flag in reserved or other != argument:
            raise ValueError("{}: flag {} is already defined differently (by {})".format(
                method.name, argument.flag, owner or "the classifier head"))
    METHODS[method.name] = method
    return method


def get_method(name):
    """The `TrainingMethod` registered as `name` (ValueError listing the names otherwise)."""
    return METHODS[name]


# ---------------------------------------------------------------------------
# Targets: one row per class
# ---------------------------------------------------------------------------


def class_embedding_targets(context, **_):
    """The class embeddings (one-hot vectors for `--embedding onehot`)."""
    return np.asarray(context.embedding, dtype=np.float32)


def onehot_targets(context, **_):
    """One-hot vectors of the classes."""
    return np.eye(context.num_classes, dtype=np.float32)


def label_targets(context, **_):
    """The integer class labels themselves (for losses that compare the samples of a batch)."""
    return None


class ClassTargets:
    """Batch transform `(x, y) -> (x, targets)`: row `y` of each per-class target table.

    `tables` holds one (num_classes, dim) array per model output (None: the labels as they are).
    A plain object of numpy arrays, so it works in worker threads and processes.
    """

    def __init__(self, tables):
        self.tables = [None if t is None else np.asarray(t, dtype=np.float32) for t in tables]
        if not self.tables:
            raise ValueError("ClassTargets needs at least one target table")

    def __call__(self, x, y):
        y = np.asarray(y, dtype=np.intp)
        targets = tuple(y if table is None else table[y] for table in self.tables)
        return x, targets[0] if len(targets) == 1 else targets


# ---------------------------------------------------------------------------
# Metric and loss factories (Keras imported when they are called)
# ---------------------------------------------------------------------------


def _nearest_embedding_metrics(dot_product):
    """Accuracy of the nearest class embedding (max_sim_acc, max_sim_acc5, ... by dot product;
    nn_accuracy, nn_accuracy5, ... by distance); with one-hot targets the plain accuracy (acc,
    acc5, ...), as the original named them."""

    def metrics(context, **_):
        from models import keras_metrics

        if context.onehot:
            return classification_metrics(context)
        return [keras_metrics.nn_accuracy(context.embedding, dot_prod_sim=dot_product, k=k)
                for k in (1, *context.top_k)]

    return metrics


def classification_metrics(context, **_):
    """Accuracy (`acc`) and top-k accuracy (`acc5`, ...) of class scores against one-hot targets."""
    import keras

    from models import keras_metrics

    return [keras.metrics.CategoricalAccuracy(name="acc")] + [keras_metrics.top_k_acc(k) for k in context.top_k]


def _loss_function(name):
    def loss(context, **_):
        from models import losses

        return getattr(losses, name)

    return loss


def _categorical_crossentropy(context, **_):
    return "categorical_crossentropy"


# ---------------------------------------------------------------------------
# The classifier head of the original (--cls_weight) and the methods
# ---------------------------------------------------------------------------

CLASSIFIER_HEAD = AuxiliaryHead(
    name="prob",
    weight=Argument("--cls_weight", float, 0.0, "If positive, a classification layer is added (ReLU, batch "
                    "normalization, softmax) and trained with cross-entropy with this weight beside the embedding "
                    "loss.", metavar="WEIGHT"),
    arguments=(Argument("--cls_base", str, None, "Name or index of the layer the classification layer starts from "
                        "(default: the model's output).", metavar="LAYER"),),
    targets=onehot_targets,
    loss=_categorical_crossentropy,
    metrics=classification_metrics,
    monitor="prob_acc",
)

register_method(TrainingMethod(
    name="mse",
    description="Squared Euclidean distance to the class embedding, for distance-based embeddings.",
    targets=class_embedding_targets, head=None, loss=_loss_function("squared_distance"),
    metrics=_nearest_embedding_metrics(dot_product=False), monitor="nn_accuracy", similarity="distance",
))
register_method(TrainingMethod(
    name="inv_corr",
    description="1 minus the dot product with the class embedding, on L2-normalized outputs (the cosine loss).",
    targets=class_embedding_targets, head="l2norm", loss=_loss_function("inv_correlation"),
    metrics=_nearest_embedding_metrics(dot_product=True), monitor="max_sim_acc",
))
register_method(TrainingMethod(
    name="unnorm_corr",
    description="As inv_corr, without the L2 normalization.",
    targets=class_embedding_targets, head=None, loss=_loss_function("inv_correlation"),
    metrics=_nearest_embedding_metrics(dot_product=True), monitor="max_sim_acc",
))
register_method(TrainingMethod(
    name="softmax_corr",
    description="As inv_corr, with a softmax instead of the L2 normalization.",
    targets=class_embedding_targets, head="softmax", loss=_loss_function("inv_correlation"),
    metrics=classification_metrics, monitor="acc",
))
def _smoothed_onehot_targets(context, label_smoothing=0.0, **_):
    """One-hot vectors, smoothed as the original's learn_classifier.py (see models.target_distributions)."""
    if not label_smoothing:
        return onehot_targets(context)
    from models.target_distributions import smoothed_onehot_matrix

    return smoothed_onehot_matrix(context.num_classes, label_smoothing)


register_method(TrainingMethod(
    name="crossentropy",
    description="A plain softmax classifier (output layer prob) trained with categorical cross-entropy: the "
                "classification baseline; needs --embedding onehot.",
    targets=_smoothed_onehot_targets, head="prob", loss=_categorical_crossentropy,
    metrics=classification_metrics, monitor="acc", onehot_only=True, classifier_head=False,
    arguments=(Argument("--label_smoothing", float, 0.0, "Label smoothing as the original's learn_classifier.py: "
                        "the true class gets 1 - EPS, every other class EPS / (classes - 1).", metavar="EPS"),),
))

CLASSIFICATION_LOSS = "crossentropy"  # the classification baseline of the scripts (BASELINE_LOSS)


# ---------------------------------------------------------------------------
# Hierarchy-aware classifiers (Bertinetto et al., "Making Better Mistakes", CVPR 2020)
# ---------------------------------------------------------------------------


def hierarchy_of(context, method_name):
    """`(hierarchy, class_ids)` of the context; ValueError naming --hierarchy where the script gave none."""
    if context.hierarchy is None:
        raise ValueError("--loss {} needs the class hierarchy: pass --hierarchy FILE".format(method_name))
    if context.class_ids is None:
        raise ValueError("--loss {}: the hierarchy ids of the dataset's classes are unknown".format(method_name))
    return context.hierarchy, list(context.class_ids)


def _hxe_loss(context, hxe_alpha):
    from models.hierarchical_losses import hxe_loss

    return hxe_loss(*hierarchy_of(context, "hxe"), hxe_alpha)


register_method(TrainingMethod(
    name="hxe",
    description="Hierarchical cross-entropy of Bertinetto et al. (CVPR 2020): the softmax classifier prob, its "
                "class probability factorized along the tree path, -log p(node | parent) weighted by "
                "exp(-alpha * depth of the node); needs --embedding onehot and a tree --hierarchy.",
    targets=onehot_targets, head="prob", loss=_hxe_loss,
    metrics=classification_metrics, monitor="acc", onehot_only=True, classifier_head=False, needs_hierarchy=True,
    arguments=(Argument("--hxe_alpha", float, 0.1, "Decay of the HXE edge weights with the depth (>= 0; 0: "
                        "cross-entropy; larger: coarser mistakes preferred; the paper sweeps 0.1-0.9).",
                        metavar="ALPHA"),),
))


def _soft_label_targets(context, soft_labels_beta):
    from models.target_distributions import soft_label_matrix

    return soft_label_matrix(*hierarchy_of(context, "soft_labels"), soft_labels_beta)


register_method(TrainingMethod(
    name="soft_labels",
    description="Soft labels of Bertinetto et al. (CVPR 2020): the softmax classifier prob trained with "
                "cross-entropy against targets proportional to exp(-beta * LCA height / its maximum); needs "
                "--embedding onehot and --hierarchy.",
    targets=_soft_label_targets, head="prob", loss=_categorical_crossentropy,
    metrics=classification_metrics, monitor="acc", onehot_only=True, classifier_head=False, needs_hierarchy=True,
    arguments=(Argument("--soft_labels_beta", float, 10.0, "Hardness of the soft labels (>= 0; 0: uniform, larger: "
                        "closer to one-hot; the paper sweeps 4-30).", metavar="BETA"),),
))


# ---------------------------------------------------------------------------
# Metric learning: triplet loss with online mining (issue 15)
# ---------------------------------------------------------------------------


def _triplet_loss(context, triplet_margin, miner, **_):
    from models.triplet import TripletLoss

    return TripletLoss(triplet_margin, miner)


def _triplet_metrics(context, triplet_margin, miner, **_):
    from models.triplet import ActiveTripletFraction, BatchRecallAtOne

    return [ActiveTripletFraction(triplet_margin, miner), BatchRecallAtOne()]


register_method(TrainingMethod(
    name="triplet",
    description="Triplet loss with online mining in batches of P classes x K images (--miner: semi_hard as "
                "FaceNet, batch_hard as Hermans et al. 2017, or all valid triplets) on L2-normalized outputs, "
                "squared Euclidean distance; targets are the class labels, so --embedding only sets the output "
                "size (e.g. the bits of binary codes). Logs the fraction of active triplets and the in-batch "
                "Recall@1; the final accuracy is that of the nearest class centroid of the training features.",
    targets=label_targets, head="l2norm", loss=_triplet_loss, metrics=_triplet_metrics, monitor="recall_at_1",
    similarity="centroids", batch_sampler=lambda per_class, **_: {"per_class": per_class},  # P x K batches
    arguments=(
        Argument("--triplet_margin", float, 0.2, "Margin of the triplet loss (squared distances on the unit "
                 "sphere lie in [0, 4]; FaceNet used 0.2).", metavar="MARGIN"),
        Argument("--miner", str, "semi_hard", "Which triplets of a batch the loss uses.",
                 choices=("batch_hard", "semi_hard", "all")),
        Argument("--per_class", int, 4, "K: images per class in a training batch (P = --batch_size / K).", metavar="K"),
    ),
))


# ---------------------------------------------------------------------------
# The original release's baselines learn_devise.py, learn_center_loss.py, learn_labelembedding.py (their
# factories live beside their losses in models/devise.py, models/center_loss.py, models/label_embedding.py)
# ---------------------------------------------------------------------------


def _from(module, name):  # a factory that imports `models.<module>` (which imports Keras) when called
    return lambda *args, **kwargs: getattr(importlib.import_module("models." + module), name)(*args, **kwargs)


def _several(*entries):  # one entry per output ([features, prob, own output]); callables are factories
    return lambda context, **kw: [entry(context, **kw) if callable(entry) else entry for entry in entries]


register_method(TrainingMethod(
    name="devise",
    description="DeViSE (Frome et al. 2013) as learn_devise.py: the linear output x, unit-length class embeddings e, "
                "hinge rank loss sum over classes j != y of max(0, margin - <e_y, x> + <e_j, x>).",
    targets=_from("devise", "unit_class_embedding"), head=None, loss=_from("devise", "method_loss"),
    metrics=_from("devise", "method_metrics"), monitor="max_sim_acc",
    arguments=(Argument("--margin", float, 0.1, "Margin of the hinge rank loss.", metavar="MARGIN"),),
))
EMBED_DIM = Argument("--embed_dim", int, 100, "Size of the network's embedding layer (the image features; fixed "
                     "class centers of a class-embedding file have their own).", metavar="DIM")
register_method(TrainingMethod(
    name="center_loss",
    description="Softmax + center loss (Wen et al. 2016) as learn_center_loss.py: classifier prob plus |x - c_y|^2 / 2 "
                "to class centers, learned (--embedding onehot) or fixed (a class-embedding file).",
    targets=_several(label_targets, onehot_targets, onehot_targets), head=None, classifier_head=False,
    loss=_several(None, _categorical_crossentropy, _from("center_loss", "method_loss")),
    metrics=_several([], classification_metrics, []), loss_weights=_from("center_loss", "method_loss_weights"),
    monitor="prob_acc", output_dim=_from("center_loss", "method_output_dim"),
    outputs=_from("center_loss", "method_outputs"),
    arguments=(EMBED_DIM, Argument("--center_loss_weight", float, 0.1, "Weight of the center loss (the softmax "
                                   "loss has weight 1).", metavar="WEIGHT")),
))
register_method(TrainingMethod(
    name="label_embedding",
    description="Label embedding network (Sun et al. 2017) as learn_labelembedding.py: classifier prob trained on "
                "labels and a learned label embedding's soft targets; needs --embedding onehot.",
    targets=_several(label_targets, onehot_targets, onehot_targets), head=None, classifier_head=False,
    loss=_several(None, None, _from("label_embedding", "method_loss")),
    metrics=_several([], classification_metrics, []), loss_weights=lambda context, **_: [0.0, 0.0, 1.0],
    monitor="prob_acc", onehot_only=True, output_dim=lambda context, embed_dim, **_: embed_dim,
    outputs=_from("label_embedding", "method_outputs"),
    arguments=(EMBED_DIM,
               Argument("--tau", float, 2.0, "Softmax temperature of the second classifier's outputs, the targets "
                        "of the label embedding.", metavar="TAU"),
               Argument("--alpha", float, 0.9, "Bound of the second classifier's probability of the true class "
                        "(more is penalized).", metavar="ALPHA"),
               Argument("--beta", float, 0.5, "Weight of the cross-entropy with the labels; the soft targets of "
                        "the label embedding get 1 - beta.", metavar="BETA")),
))
