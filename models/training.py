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

import contextlib
import os
import shutil
import sys
import tempfile
import warnings

import keras
import numpy as np

import utils
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
from models.schedules import InverseTimeDecaySGD

EMBEDDING_LOSSES = ("mse", "inv_corr", "unnorm_corr", "softmax_corr")
CLASSIFICATION_LOSS = "crossentropy"  # needs one-hot targets (`--embedding onehot`)
LOSSES = EMBEDDING_LOSSES + (CLASSIFICATION_LOSS,)
MODEL_EXTENSIONS = (".keras", ".h5", ".hdf5")
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
# Saving and loading
# ---------------------------------------------------------------------------


def check_model_path(path, what="--model_dump"):
    """ValueError unless Keras can write a model to `path` (`.keras`, or legacy `.h5`)."""
    if path and not path.lower().endswith(MODEL_EXTENSIONS):
        raise ValueError("{} {}: the file name must end with .keras (or .h5 for the legacy format)".format(what, path))
    utils.check_output_dir(path, what)


def check_weights_path(path, what="--weight_dump"):
    if path and not path.lower().endswith((".h5", ".hdf5")):
        raise ValueError("{} {}: the file name must end with .weights.h5 (or .h5)".format(what, path))
    utils.check_output_dir(path, what)


def save_model(model, path):
    """Save `model` atomically (temporary file beside `path`, then rename); `.h5` = legacy HDF5."""
    if not is_chief():
        # Every worker takes part in saving (collective ops); only the chief keeps the file.
        tmp_dir = tempfile.mkdtemp()
        try:
            model.save(os.path.join(tmp_dir, os.path.basename(path)))
        finally:
            shutil.rmtree(tmp_dir, ignore_errors=True)
        return
    with utils.atomic_path(path) as tmp_path, _quiet_h5_warning():
        model.save(tmp_path)


def save_weights(model, path):
    """Save the weights atomically: `.weights.h5` in the Keras 3 layout, other `.h5` in the legacy one.

    Both load by `model.load_weights(path)`; legacy files also by layer name (`--finetune`).
    """
    if not is_chief():
        return
    with utils.atomic_path(path) as tmp_path:
        if path.lower().endswith(".weights.h5"):
            model.save_weights(tmp_path)
        else:
            from keras.src.legacy.saving import legacy_h5_format  # no public writer for the legacy layout

            import h5py

            with h5py.File(tmp_path, "w") as h5:
                legacy_h5_format.save_weights_to_hdf5_group(h5, model)


@contextlib.contextmanager
def _quiet_h5_warning():
    # Keras logs a deprecation warning for every .h5 save; the user asked for that format.
    from absl import logging as absl_logging

    level = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.ERROR)
    try:
        yield
    finally:
        absl_logging.set_verbosity(level)


class AtomicModelCheckpoint(keras.callbacks.Callback):
    """Save the model after every epoch, atomically: a crash mid-save leaves the old snapshot intact.

    With `monitor`, save only when that log value improves (`mode` 'max' or 'min').
    """

    def __init__(self, path, monitor=None, mode="max", verbose=0):
        super().__init__()
        check_model_path(path, "snapshot")
        self.path, self.monitor, self.mode, self.verbose = path, monitor, mode, verbose
        self.best = None

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor:
            value = (logs or {}).get(self.monitor)
            if value is None:
                warnings.warn("snapshot_best: {!r} not in the logs; nothing saved".format(self.monitor), stacklevel=2)
                return
            if self.best is not None and not (value > self.best if self.mode == "max" else value < self.best):
                return
            self.best = value
        save_model(self.model, self.path)
        if self.verbose:
            print("\nEpoch {}: saved model to {}".format(epoch + 1, self.path))


def load_model(path):
    """Load a saved model (compiled if possible, so that its optimizer state comes along)."""
    if not os.path.isfile(path):
        raise ValueError("{}: no such model file".format(path))
    try:
        return keras.models.load_model(path, compile=True)
    except Exception as e:  # noqa: BLE001 -- any compile problem: fall back to the bare model
        warnings.warn("{}: loading without optimizer state ({})".format(path, e), stacklevel=2)
        try:
            return keras.models.load_model(path, compile=False)
        except Exception as e2:  # noqa: BLE001
            raise ValueError("{}: cannot load model: {}".format(path, e2)) from None


def copy_optimizer_state(source_optimizer, model):
    """Give the freshly compiled `model.optimizer` the state (step, momenta) of `source_optimizer`.

    Returns True on success; False (state left fresh) if the two do not match variable for variable.
    """
    if source_optimizer is None or not getattr(source_optimizer, "built", False):
        return False
    target = model.optimizer
    if not target.built:
        target.build(model.trainable_variables)
    source_vars, target_vars = source_optimizer.variables, target.variables
    if len(source_vars) != len(target_vars) or any(s.shape != t.shape for s, t in zip(source_vars, target_vars)):
        return False
    for s, t in zip(source_vars, target_vars):
        t.assign(s.value)
    return True


def load_weights_by_name(model, path):
    """Load the weights of layers with the same name and weight shapes from a model or weight file.

    Returns the names of the layers that received weights.
    """
    if not os.path.isfile(path):
        raise ValueError("{}: no such file with pre-trained weights".format(path))
    lower = path.lower()
    if lower.endswith(".keras"):
        source = keras.models.load_model(path, compile=False)
        return _transfer_by_name(source, model)
    if lower.endswith(".weights.h5"):
        return _load_weights_file(model, path)
    if lower.endswith((".h5", ".hdf5")):
        return _load_legacy_h5_by_name(model, path)
    raise ValueError("{}: pre-trained weights must be a .keras, .weights.h5 or .h5 file".format(path))


def _load_weights_file(model, path):
    """A Keras 3 `.weights.h5` file names its layers by class (`conv2d_3`), not by layer name, so Keras
    matches them by type and order, skipping shape mismatches. Report the layers whose weights changed."""
    before = [layer.get_weights() for layer in model.layers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras lists every skipped layer with its full weight values
        model.load_weights(path, skip_mismatch=True)
    loaded = [layer.name for layer, old in zip(model.layers, before)
              if any(not np.array_equal(a, b) for a, b in zip(old, layer.get_weights()))]
    print("note: {}: a .weights.h5 file holds no layer names; its weights were matched by layer type and order "
          "({} layers loaded). A .keras model dump is matched by layer name.".format(path, len(loaded)),
          file=sys.stderr)
    return loaded


def _transfer_by_name(source, target):
    source_layers = {layer.name: layer for layer in _all_layers(source)}
    loaded = []
    for layer in target.layers:
        other = source_layers.get(layer.name)
        if other is None or not layer.weights:
            continue
        weights = other.get_weights()
        if len(weights) == len(layer.weights) and all(w.shape == v.shape for w, v in zip(weights, layer.weights)):
            layer.set_weights(weights)
            loaded.append(layer.name)
    return loaded


def _all_layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)
        else:
            yield layer


def _load_legacy_h5_by_name(model, path):
    import h5py

    with h5py.File(path, "r") as f:
        group = f["model_weights"] if "model_weights" in f else f
        names = [n.decode("utf8") if isinstance(n, bytes) else n for n in group.attrs.get("layer_names", [])]
    model.load_weights(path, by_name=True, skip_mismatch=True)
    return [layer.name for layer in model.layers if layer.name in names and layer.weights]


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
