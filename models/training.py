"""The pieces behind `learn_image_embeddings.py`: model heads, compilation, devices, snapshots, I/O.

Model structure (as the original release): the network's `embedding` layer, then, by `--loss`,
an L2 normalization named `l2norm` (`inv_corr`), a softmax named `softmax` (`softmax_corr`) or
nothing (`mse`, `unnorm_corr`). With `--cls_weight > 0` a classifier head ReLU -> BN -> Dense
softmax named `prob` (L2 weight decay 5e-4) is added and the model has the two outputs
`[embedding, prob]`. `crossentropy` (ours; the original trained it with a separate
`learn_classifier.py`) is the plain softmax classifier of the paper's baselines: the network's
dense top has one unit per class, followed by a softmax named `prob`, trained with categorical
cross-entropy on one-hot targets.
"""

import sys

import keras
import numpy as np

from models import L2Normalize, build_network
from models import losses as L
from models.distribute import (  # noqa: F401 -- re-exported: moved to models/distribute.py
    ReplicaPaddedBatches,
    SyncReplicaStatistics,
    configure_devices,
    for_replicas,
    gpu_compute_capability,
    is_chief,
    num_replicas,
    set_mixed_precision,
    sync_replica_variables,
)
from models.checkpoints import (  # noqa: F401 -- re-exported: moved to models/checkpoints.py
    MODEL_EXTENSIONS,
    AtomicModelCheckpoint,
    check_model_path,
    check_weights_path,
    copy_optimizer_state,
    load_model,
    load_weights_by_name,
    save_model,
    save_weights,
)
from models.schedules import InverseTimeDecaySGD

EMBEDDING_LOSSES = ("mse", "inv_corr", "unnorm_corr", "softmax_corr")
CLASSIFICATION_LOSS = "crossentropy"  # needs one-hot targets (`--embedding onehot`)
LOSSES = EMBEDDING_LOSSES + (CLASSIFICATION_LOSS,)
CLS_WEIGHT_DECAY = 5e-4


# ---------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------


def check_loss(loss):
    if loss not in LOSSES:
        raise ValueError("unknown loss {!r}; choose from {}".format(loss, ", ".join(LOSSES)))
    return loss


def build_embedding_model(embedding_dim, architecture, loss="inv_corr", input_channels=None, **network_kwargs):
    """The network mapping images onto `embedding_dim` values, followed by the head of `loss`.

    Returns `(model, network_top)`: the model and the name of the network's own last layer.
    """
    check_loss(loss)
    model = build_network(embedding_dim, architecture, input_channels=input_channels, **network_kwargs)
    if model.output.shape[-1] != embedding_dim:
        # resnet-32/-110 end at their pooled features unless built for classification (as the original).
        raise ValueError("architecture {!r} outputs {} features, but the embedding has {} dimensions; use an "
                         "architecture with a dense top (e.g. resnet-110-fc, resnet-110-wfc, simple)".format(
                             architecture, model.output.shape[-1], embedding_dim))
    network_top = model.layers[-1].name
    if loss == "inv_corr":
        outputs = L2Normalize(name="l2norm", dtype="float32")(model.output)
    elif loss == "softmax_corr":
        outputs = keras.layers.Activation("softmax", name="softmax", dtype="float32")(model.output)
    elif loss == CLASSIFICATION_LOSS:
        outputs = keras.layers.Activation("softmax", name="prob", dtype="float32")(model.output)
    else:
        return model, network_top
    return keras.Model(model.inputs, outputs, name=model.name), network_top


def cls_model(embed_model, num_classes, cls_base=None):
    """Append the classifier head to `embed_model`: outputs `[embedding, prob]`.

    `cls_base` names (or indexes) the layer the head starts from; default: the model's output.
    """
    if cls_base is None:
        base = embed_model.output
    else:
        try:
            layer = embed_model.layers[int(cls_base)]
        except ValueError:
            layer = _get_layer(embed_model, cls_base, "--cls_base")
        except IndexError:
            raise ValueError("--cls_base {}: the model has {} layers".format(cls_base, len(embed_model.layers))) from None
        base = layer.output
    x = keras.layers.Activation("relu", name="cls_relu")(base)
    x = keras.layers.BatchNormalization(name="cls_bn")(x)
    prob = keras.layers.Dense(
        num_classes, activation="softmax", kernel_regularizer=keras.regularizers.l2(CLS_WEIGHT_DECAY),
        name="prob", dtype="float32",
    )(x)
    return keras.Model(embed_model.inputs, [embed_model.output, prob], name=embed_model.name)


def _get_layer(model, name, what):
    try:
        return model.get_layer(name)
    except ValueError:
        raise ValueError("{} {!r}: no such layer in the model".format(what, name)) from None


def has_cls_head(model):
    return len(model.outputs) > 1


def make_targets(X, y, embedding, num_classes=None):
    """Batch transform: class labels -> class embeddings (and one-hot vectors for the `prob` head)."""
    targets = embedding[np.asarray(y, dtype=np.intp)]
    if num_classes is None:
        return X, targets
    return X, (targets, keras.utils.to_categorical(y, num_classes).astype(np.float32))


transform_inputs = make_targets  # the original's name


def loss_and_metrics(loss, embedding, top_k=()):
    """The embedding loss of `--loss` and its metrics (accuracy, plus top-k for every k in `top_k`)."""
    check_loss(loss)
    if loss == "mse":
        return L.squared_distance, [L.nn_accuracy(embedding, dot_prod_sim=False, k=k) for k in (1, *top_k)]
    if loss in ("softmax_corr", CLASSIFICATION_LOSS):
        accuracy = [keras.metrics.CategoricalAccuracy(name="acc")] + [L.top_k_acc(k) for k in top_k]
        return (L.inv_correlation if loss == "softmax_corr" else "categorical_crossentropy"), accuracy
    return L.inv_correlation, [L.nn_accuracy(embedding, dot_prod_sim=True, k=k) for k in (1, *top_k)]


def compile_model(model, embedding, loss="inv_corr", cls_weight=0.0, lr=0.1, decay=0.0, nesterov=False,
                  clipgrad=10.0, top_k=()):
    """Compile with SGD (momentum 0.9, norm clipping, inverse-time decay) and the losses of `--loss`."""
    embed_loss, embed_metrics = loss_and_metrics(loss, embedding, top_k)
    optimizer = InverseTimeDecaySGD(
        learning_rate=lr, decay=decay, momentum=0.9, nesterov=nesterov, clipnorm=clipgrad if clipgrad > 0 else None
    )
    if has_cls_head(model):
        prob_metrics = [keras.metrics.CategoricalAccuracy(name="acc")] + [L.top_k_acc(k) for k in top_k]
        model.compile(
            optimizer=optimizer,
            loss=[embed_loss, "categorical_crossentropy"],
            loss_weights=[1.0, cls_weight],
            metrics=[embed_metrics, prob_metrics],
        )
    else:
        model.compile(optimizer=optimizer, loss=embed_loss, metrics=embed_metrics)
    return model


def accuracy_log_key(model, loss):
    """The log key of the headline validation accuracy (monitored by `--snapshot_best`)."""
    if has_cls_head(model):
        return "val_prob_acc"
    name = {"mse": "nn_accuracy", "softmax_corr": "acc", CLASSIFICATION_LOSS: "acc"}.get(loss, "max_sim_acc")
    return "val_" + name


def freeze_pretrained(model, pretrained_layers, new_layers=("embedding", "prob")):
    """Freeze the layers that got pre-trained weights, except `new_layers`; returns the trainable names."""
    pretrained, new = set(pretrained_layers), set(new_layers)
    trainable = []
    for layer in model.layers:
        layer.trainable = layer.name in new or layer.name not in pretrained
        if layer.trainable and layer.weights:
            trainable.append(layer.name)
    return trainable


def unfreeze(model):
    for layer in model.layers:
        layer.trainable = True


# ---------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------


def class_scores(features, embedding, dot_prod_sim=True):
    """Score of every class for every feature row: dot product with the class embeddings, or the
    negative squared Euclidean distance to them (`dot_prod_sim=False`)."""
    features = np.asarray(features, dtype=np.float64)
    embedding = np.asarray(embedding, dtype=np.float64)
    sim = features @ embedding.T
    if dot_prod_sim:
        return sim
    return 2 * sim - (embedding**2).sum(axis=1)[None, :] - (features**2).sum(axis=1)[:, None]


def print_evaluation(results, file=sys.stdout):
    """Print `model.evaluate(..., return_dict=True)` one metric a line."""
    width = max((len(k) for k in results), default=0)
    print("Final evaluation on the test set:", file=file)
    for name, value in results.items():
        print("  {:{}s} {:.4f}".format(name, width, float(np.asarray(value))), file=file)
