"""What a comparison trains and how it scores it: tables, not if-chains.

`METHOD_SETS` maps a set name to its `Compared` entries. An entry names a training method of the project's
registry (`models.methods.METHODS`: the `--loss` of learn_image_embeddings.py), the class embedding it is
trained onto, its hyperparameters, how its classes are predicted (`classify`) and how its test features
are ranked for retrieval (`ranking`). Entries that share a `model` key share one trained model (e.g. the
float features and the signs of the semantic model). Every model of a comparison is trained with the same
`Budget`: network, input size, schedule, epochs, batch size and seed (so the same data order).

Hyperparameters follow the papers' code where it states them:
- HXE: alpha = 0.1 (fiveai/making-better-mistakes, experiments/hxe_tieredimagenet_alpha0.1.sh: the
  smallest alpha of their tiered-ImageNet sweep 0.1-0.6, the ImageNet subset closest to Tiny ImageNet);
- soft labels: beta = 10 (the middle of their tiered-ImageNet sweep 4, 5, 10, 15, 20, 30);
- label smoothing: 0.1 (Szegedy et al. 2016; the original release's learn_classifier.py has no default);
- DeViSE margin 0.1, center loss weight 0.1 with a 100-d embedding, label embedding tau 2, alpha 0.9,
  beta 0.5: the defaults of the original release's scripts (cvjena/semantic-embeddings 0d41774);
- semantic embeddings: the cosine loss onto the unit-sphere class embedding (`inv_corr`), with and
  without the classification head of weight 0.1 (the paper's setting);
- triplet: margin 0.2 (FaceNet), batch-hard mining (Hermans et al. 2017), 64-d output.
"""

import dataclasses
import hashlib
import json
from collections import OrderedDict
from typing import Optional

# The network of every model: a 7-layer plain CNN (Plain-11's layer types; 0.18 M parameters with 200
# outputs), the demo's network. At 32x32 one epoch of Tiny ImageNet's 100,000 training images took 233-452 s
# per model on the shared 2-core machine (RESULTS.md).
SMALL_NET = {"filters": [32, 32, "ap", 64, 64, "ap", 128, "gap", "fc128"]}


@dataclasses.dataclass(frozen=True)
class Budget:
    """The training settings every model of a comparison shares (models.training.train options)."""

    epochs: int = 1
    image_size: int = 32
    architecture: str = "simple"
    architecture_kwargs: str = json.dumps(SMALL_NET)  # JSON text: hashable and printable as given
    batch_size: int = 100
    lr: float = 0.1
    max_decay: float = 0.1  # inverse-time decay of the learning rate to lr * max_decay at the end
    lr_schedule: str = "SGD"
    clipgrad: float = 10.0
    seed: int = 0
    read_workers: int = 2

    def __post_init__(self):
        # Messages name the flags of hierarchy_benchmark.py (the fields' names).
        for name in ("epochs", "image_size", "batch_size", "read_workers"):
            if getattr(self, name) < 1:
                raise ValueError("--{} must be at least 1, got {}".format(name, getattr(self, name)))
        if not self.lr > 0 or not 0 <= self.max_decay <= 1:
            raise ValueError("--lr must be positive and --max_decay in [0, 1] (0: no decay), got {} and {}".format(
                self.lr, self.max_decay))
        try:
            kwargs = json.loads(self.architecture_kwargs)
        except ValueError as e:
            raise ValueError("--architecture_kwargs: not valid JSON ({}): {}".format(e, self.architecture_kwargs)) from None
        if not isinstance(kwargs, dict):
            raise ValueError("--architecture_kwargs must be a JSON object, got {}".format(self.architecture_kwargs))

    def train_options(self):
        """Keyword arguments of `models.training.train` for these settings."""
        return dict(architecture=self.architecture, architecture_kwargs=json.loads(self.architecture_kwargs),
                    epochs=self.epochs, batch_size=self.batch_size, sgd_lr=self.lr, max_decay=self.max_decay,
                    lr_schedule=self.lr_schedule, clipgrad=self.clipgrad, seed=self.seed,
                    read_workers=self.read_workers, dataset_options={"image_size": self.image_size})

    def fingerprint(self):
        """A short hash of the settings: a model trained with other settings is not reused."""
        return hashlib.sha1(json.dumps(dataclasses.asdict(self), sort_keys=True).encode()).hexdigest()[:12]

    def describe(self):
        return ("{} {}, {}x{} input, {} epoch(s), batch {}, SGD lr {} with inverse-time decay to {} x lr, "
                "gradient clipping {}, seed {}").format(self.architecture, self.architecture_kwargs,
                                                         self.image_size, self.image_size, self.epochs,
                                                         self.batch_size, self.lr, self.max_decay, self.clipgrad,
                                                         self.seed)


@dataclasses.dataclass(frozen=True)
class Compared:
    """One row of a comparison.

    key: the row's id (file names of its scores); model: the id of the trained model (default: key);
    label: the row's name in tables and plots; loss: a `models.methods.METHODS` name;
    embedding: "onehot" or a key of `comparison.data.EMBEDDINGS` (unitsphere, binary16, ...);
    loss_kwargs: the method's hyperparameters (as (name, value) pairs); cls_weight: the classifier head;
    classify: "prob" (the probabilities of the layer `prob`), "embedding" (the class scores of the test
        features against the method's targets, by its similarity) or None (retrieval only);
    crm: also score conditional risk minimization on the probabilities (a second row, key + "+crm");
    ranking: how the test features are ranked for retrieval ("float"; "binary": the Hamming distance of
        their signs), None for no retrieval scores (CRM rows have the features of their base row);
    features: where the retrieval features come from: None for the model's feature dump (the features output:
        class probabilities for the classifiers, the embedding for the others), or a key of
        `comparison.runner.FEATURE_SOURCES` (e.g. "penultimate": the features entering the top dense layer).
    """

    key: str
    label: str
    loss: str
    embedding: str = "onehot"
    loss_kwargs: tuple = ()
    cls_weight: float = 0.0
    classify: Optional[str] = "prob"
    crm: bool = False
    ranking: Optional[str] = "float"
    model: Optional[str] = None
    features: Optional[str] = None

    def __post_init__(self):
        if self.classify not in ("prob", "embedding", None):
            raise ValueError("{}: classify must be 'prob', 'embedding' or None, got {!r}".format(self.key, self.classify))
        if self.crm and self.classify != "prob":
            raise ValueError("{}: CRM needs class probabilities (classify='prob')".format(self.key))
        if self.ranking not in ("float", "binary", None):
            raise ValueError("{}: ranking must be 'float', 'binary' or None, got {!r}".format(self.key, self.ranking))

    @property
    def model_key(self):
        return self.model or self.key

    def model_settings(self):
        """What defines the trained model (entries with the same model key must agree on it)."""
        return {"loss": self.loss, "embedding": self.embedding, "loss_kwargs": dict(self.loss_kwargs),
                "cls_weight": self.cls_weight}


HIERARCHY_SET = (
    Compared("softmax", "Softmax (cross-entropy)", "crossentropy", crm=True),
    # Retrieval with the features the original's learn_classifier.py dumped (those entering the classifier).
    Compared("softmax_penultimate", "Softmax, penultimate features", "crossentropy", classify=None,
             model="softmax", features="penultimate"),
    Compared("label_smoothing", "Label smoothing 0.1", "crossentropy", loss_kwargs=(("label_smoothing", 0.1),),
             crm=True),
    Compared("hxe", "HXE (alpha 0.1)", "hxe", loss_kwargs=(("hxe_alpha", 0.1),), crm=True),
    Compared("soft_labels", "Soft labels (beta 10)", "soft_labels", loss_kwargs=(("soft_labels_beta", 10.0),),
             crm=True),
    Compared("semantic", "Semantic embeddings", "inv_corr", embedding="unitsphere", classify="embedding"),
    Compared("semantic_cls", "Semantic embeddings + cls. head", "inv_corr", embedding="unitsphere",
             cls_weight=0.1),
    Compared("devise", "DeViSE", "devise", embedding="unitsphere", loss_kwargs=(("margin", 0.1),),
             classify="embedding"),
    Compared("center_loss", "Center loss", "center_loss", loss_kwargs=(("embed_dim", 100),
                                                                      ("center_loss_weight", 0.1))),
    Compared("label_embedding", "Label embedding", "label_embedding",
             loss_kwargs=(("embed_dim", 100), ("tau", 2.0), ("alpha", 0.9), ("beta", 0.5))),
)

# Issue 15: compact codes. The semantic model's float features and their signs share the model of the
# hierarchy set's "semantic" row; binary class codes of B bits (compute_class_embedding.py --method binary
# --num_dim B) as targets of the cosine loss, ranked by the Hamming distance of the features' signs.
HASHING_SET = (
    Compared("semantic_float", "Semantic embeddings, float", "inv_corr", embedding="unitsphere",
             classify=None, model="semantic"),
    Compared("semantic_signs", "Semantic embeddings, signs", "inv_corr", embedding="unitsphere",
             classify=None, ranking="binary", model="semantic"),
) + tuple(
    Compared("binary{}".format(bits), "Semantic binary codes ({} bits)".format(bits), "inv_corr",
             embedding="binary{}".format(bits), classify=None, ranking="binary")
    for bits in (16, 32, 64)
) + (
    # The triplet loss compares the images of a batch; its --embedding only sets the output size.
    Compared("triplet64", "Triplet (batch-hard), signs", "triplet", embedding="size64",
             loss_kwargs=(("triplet_margin", 0.2), ("miner", "batch_hard")), classify=None, ranking="binary"),
    Compared("triplet64_float", "Triplet (batch-hard), float", "triplet", embedding="size64",
             loss_kwargs=(("triplet_margin", 0.2), ("miner", "batch_hard")), classify=None, model="triplet64"),
)

METHOD_SETS = OrderedDict([("hierarchy", HIERARCHY_SET), ("hashing", HASHING_SET)])


def select(names):
    """The entries of a comma-separated list of set names ("hierarchy", "hashing", "all") and row keys.

    ValueError naming an unknown name (and listing the known ones)."""
    every = OrderedDict((c.key, c) for entries in METHOD_SETS.values() for c in entries)
    chosen = OrderedDict()
    for name in [n.strip() for n in str(names).split(",") if n.strip()]:
        if name == "all":
            chosen.update(every)
        elif name in METHOD_SETS:
            chosen.update((c.key, c) for c in METHOD_SETS[name])
        elif name in every:
            chosen[name] = every[name]
        else:
            raise ValueError("unknown method or set {!r}; choose from all, {}, {}".format(
                name, ", ".join(METHOD_SETS), ", ".join(every)))
    if not chosen:
        raise ValueError("no methods chosen (got {!r})".format(names))
    return list(chosen.values())


def check_models(entries):
    """ValueError where two entries share a model key but disagree on how that model is trained."""
    settings = {}
    for entry in entries:
        first = settings.setdefault(entry.model_key, (entry.key, entry.model_settings()))
        if first[1] != entry.model_settings():
            raise ValueError("rows {} and {} share the model {!r} but train it differently".format(
                first[0], entry.key, entry.model_key))


def models_to_train(entries):
    """{model key: the first entry of that model}, in table order."""
    check_models(entries)
    models = OrderedDict()
    for entry in entries:
        models.setdefault(entry.model_key, entry)
    return models
