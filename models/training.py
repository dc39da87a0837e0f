"""Training: fit, resume and the feature dump, with the pieces of the other modules re-exported.

The pieces live in models/distribute.py (devices, replicas, mixed precision), models/checkpoints.py
(model files, snapshots), models/heads.py (model assembly and compile) and models/methods.py (the
training methods); every name they had here is still importable from `models.training`.
"""

import dataclasses
import json
import os
import shutil
import sys

import numpy as np

import utils

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
    check_writable,
    read_class_ids,
    read_model_info,
    remove_stale_temp_files,
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

from models.heads import (  # noqa: F401 -- re-exported: moved to models/heads.py
    CLS_WEIGHT_DECAY,
    OUTPUT_HEADS,
    accuracy_log_key,
    build_embedding_model,
    check_loss,
    cls_model,
    compile_model,
    freeze_pretrained,
    has_cls_head,
    loss_and_metrics,
    make_targets,
    target_transform,
    transform_inputs,
    unfreeze,
)
from models.methods import CLASSIFIER_HEAD, CLASSIFICATION_LOSS, METHODS, MethodContext

LOSSES = tuple(METHODS)  # the names --loss accepts
EMBEDDING_LOSSES = tuple(name for name, method in METHODS.items() if not method.onehot_only)


# ---------------------------------------------------------------------------
# Training from Python: `train(...)`, step by step
# ---------------------------------------------------------------------------


@dataclasses.dataclass
class TrainingResult:
    """What `train` returns: the trained model, the Keras `History` of the main fit (None when no
    epoch was left to train), the test features (one row per test image, in the order of the
    dataset's `labels_test`), `model.evaluate` on the test set, the classification metrics printed
    at the end, and the class id of every output column / label (`class_ids[label]`)."""

    model: object
    history: object
    features: np.ndarray
    evaluation: dict
    accuracy: dict
    class_ids: list
    failed_dumps: int = 0  # dumps that could not be written (with dump_errors="report")


def parse_json_object(text, flag):
    """A JSON object given on the command line as a dict (`{}` for None); ValueError naming `flag`."""
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except ValueError as e:
        raise ValueError("{}: not valid JSON ({}): {}".format(flag, e, text)) from None
    if not isinstance(value, dict):
        raise ValueError("{} must be a JSON object, got {}".format(flag, text))
    return value


def check_options(*, loss="inv_corr", embedding="onehot", cls_weight=0.0, batch_size=100, val_batch_size=None,
                  epochs=None, initial_epoch=0, finetune_init=8, gpus=1, read_workers=8, queue_size=100, top_k_acc=(),
                  model_dump=None, weight_dump=None, feature_dump=None, snapshot=None, snapshot_best=None,
                  finetune=None, hierarchy=None):
    """ValueError naming the option for a bad value, before anything expensive happens."""
    method = METHODS[loss]
    for flag, value in (("batch_size", batch_size), ("gpus", gpus), ("read_workers", read_workers),
                        ("queue_size", queue_size)):
        if value < 1:
            raise ValueError("--{} must be at least 1, got {}".format(flag, value))
    if val_batch_size is not None and val_batch_size < 1:
        raise ValueError("--val_batch_size must be at least 1, got {}".format(val_batch_size))
    if epochs is not None and epochs < 1:
        raise ValueError("--epochs must be at least 1, got {}".format(epochs))
    if initial_epoch < 0 or finetune_init < 0:
        raise ValueError("--initial_epoch and --finetune_init must not be negative")
    check_epochs(initial_epoch, epochs)
    if cls_weight < 0:
        raise ValueError("--cls_weight must not be negative, got {}".format(cls_weight))
    onehot = str(embedding).lower() == "onehot"
    if method.onehot_only and not onehot:
        raise ValueError("--loss {} trains a softmax classifier on one-hot targets: use --embedding onehot, not "
                         "{}".format(loss, embedding))
    if cls_weight > 0 and not method.classifier_head:
        raise ValueError("--cls_weight {} adds a softmax classifier to an embedding; with --loss {} the model already "
                         "is one (leave --cls_weight out)".format(cls_weight, loss))
    if method.needs_hierarchy and hierarchy is None:
        raise ValueError("--loss {} needs the class hierarchy: pass --hierarchy FILE".format(loss))
    if any(k < 1 for k in top_k_acc):
        raise ValueError("--top_k_acc values must be at least 1, got {}".format(list(top_k_acc)))
    if snapshot_best and not snapshot:
        raise ValueError("--snapshot_best {} keeps the best epoch in the --snapshot file: give --snapshot "
                         "too".format(snapshot_best))
    for flag, path in (("model_dump", model_dump), ("snapshot", snapshot)):
        check_model_path(path, "--" + flag)
    check_weights_path(weight_dump)
    for flag, path in (("snapshot", snapshot), ("model_dump", model_dump), ("weight_dump", weight_dump),
                       ("feature_dump", feature_dump)):
        check_writable(path, "--" + flag)
    if finetune and not os.path.isfile(finetune):
        raise ValueError("--finetune {}: no such file".format(finetune))


def check_epochs(initial_epoch, epochs):
    """ValueError unless `initial_epoch` leaves an epoch to train (`epochs` None: not known yet)."""
    if epochs is not None and initial_epoch >= epochs:
        raise ValueError("--initial_epoch {} is not below --epochs {}: nothing left to train".format(
            initial_epoch, epochs))


def check_snapshot(snapshot, initial_epoch, class_ids):
    """The info stored in an existing `snapshot` (see models/model_info.py), checked against the run:
    ValueError unless it holds `initial_epoch` epochs and the same class order ({} without a snapshot)."""
    if not snapshot or not os.path.exists(snapshot):
        return {}
    info = read_model_info(snapshot)
    epoch = info.get("epoch")
    if epoch is not None and epoch != initial_epoch:
        raise ValueError("--snapshot {} holds the model after epoch {}: resume with --initial_epoch {} (not {}), or "
                         "remove the file to start afresh".format(snapshot, epoch, epoch, initial_epoch))
    if info.get("class_ids") is not None and list(info["class_ids"]) != list(class_ids):
        raise ValueError("--snapshot {}: its classes are not the dataset's (in this order); first difference at "
                         "output {}".format(snapshot, _first_difference(info["class_ids"], class_ids)))
    return info


def _first_difference(a, b):
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def load_targets(embedding, dataset, data_root=None, **dataset_options):
    """The class embeddings (identity for "onehot") and the dataset restricted to their classes.

    Returns `(embedding matrix, dataset object, onehot)`.
    """
    from datasets import get_data_generator

    if str(embedding).lower() == "onehot":
        data = get_data_generator(dataset, data_root, **dataset_options)
        return np.eye(data.num_classes, dtype=np.float32), data, True
    record = utils.load_class_embedding(embedding)
    data = get_data_generator(dataset, data_root, classes=record["ind2label"], **dataset_options)
    matrix = np.asarray(record["embedding"], dtype=np.float32)
    max_label = int(max(np.max(data.labels_train, initial=-1), np.max(data.labels_test, initial=-1)))
    if max_label >= len(matrix):
        raise ValueError("{}: {} class embeddings, but dataset {} has labels up to {}".format(
            embedding, len(matrix), dataset, max_label))
    return matrix, data, False


def make_sequences(data, transform, batch_size, val_batch_size=None, seed=None, read_workers=8, queue_size=100,
                   train_options=None):
    """Training and test batches `(x, targets)` made by the batch transform `transform`, for the replicas.

    `train_options`: further options of the training sequence (a method's `batch_sampler`, e.g. P x K batches).
    """
    from models.distribute import for_replicas

    loader_kwargs = {"workers": read_workers, "max_queue_size": queue_size}
    train_data = data.train_sequence(batch_size, batch_transform=transform, seed=seed, **loader_kwargs,
                                     **(train_options or {}))
    test_data = data.test_sequence(val_batch_size or batch_size, batch_transform=transform, **loader_kwargs)
    return for_replicas(train_data), for_replicas(test_data)


def build_or_resume(snapshot, method, context, method_kwargs, architecture, input_channels, architecture_kwargs=None,
                    cls_weight=0.0, cls_base=None):
    """The model from `snapshot` if that file exists, else a new one.

    Returns `(model, network top layer name or None, optimizer of the snapshot or None)`.
    """
    if snapshot and os.path.exists(snapshot):
        print("Resuming from snapshot {}".format(snapshot))
        model = load_model(snapshot)
        return model, None, getattr(model, "optimizer", None)
    try:
        model, network_top = build_embedding_model(method.network_outputs(context, **method_kwargs), architecture,
                                                   method.name, input_channels=input_channels, context=context,
                                                   method_kwargs=method_kwargs, **(architecture_kwargs or {}))
    except TypeError as e:  # an unknown --architecture_kwargs key reaches the builder as a keyword argument
        unknown = [key for key in (architecture_kwargs or {}) if "'{}'".format(key) in str(e)]
        if "unexpected keyword argument" not in str(e) or not unknown:
            raise
        raise ValueError("--architecture_kwargs: {} takes no argument {!r}".format(architecture, unknown[0])) from None
    if cls_weight > 0:
        model = cls_model(model, context.num_classes, cls_base)
    return model, network_top, None


def pretrain_new_layers(model, finetune, finetune_init, network_top, train_data, test_data, compile_kwargs, verbose):
    """`--finetune`: load weights by layer name, then train only the new layers for `finetune_init` epochs."""
    print("Loading pre-trained weights from {}".format(finetune))
    pretrained = load_weights_by_name(model, finetune)
    print("Pre-trained weights loaded into {} layers".format(len(pretrained)))
    if finetune_init > 0:
        trainable = freeze_pretrained(model, pretrained, ("embedding", CLASSIFIER_HEAD.name, network_top))
        print("Pre-training new layers: {}".format(", ".join(trainable)))
        compile_model(model, **compile_kwargs)
        model.fit(train_data, validation_data=test_data, epochs=finetune_init, verbose=verbose,
                  callbacks=[SyncReplicaStatistics()])
        unfreeze(model)
        print("Full model training")


def monitor_mode(metric):
    """'max' for accuracies, 'min' for losses (as Keras' ModelCheckpoint decides in mode 'auto')."""
    return "max" if "acc" in metric or metric.startswith("fmeasure") else "min"


def make_callbacks(schedule_callbacks, log_dir=None, initial_epoch=0, snapshot=None, snapshot_best=None,
                   snapshot_info=None, resumed_info=None):
    """Replica sync first (snapshots must see it), then the schedule, TensorBoard and the snapshot.

    snapshot_info: stored in every snapshot (class order); resumed_info: the info of the snapshot
    resumed from (its best value of `snapshot_best`, so that only a better epoch replaces it).
    """
    from models import lr_callbacks

    # The logged learning rate (progress bar, TensorBoard) is the one the updates used (--max_decay).
    callbacks = [SyncReplicaStatistics(), *schedule_callbacks, lr_callbacks.LogAppliedLearningRate()]
    if log_dir:
        if os.path.isdir(log_dir) and initial_epoch == 0:
            shutil.rmtree(log_dir, ignore_errors=True)
        callbacks.append(lr_callbacks.TensorBoard(log_dir=log_dir, write_graph=False))  # logs the applied rate
    if snapshot:
        monitor = snapshot_best or None
        resumed_info = resumed_info or {}
        best = resumed_info.get("best") if monitor and resumed_info.get("monitor") == monitor else None
        callbacks.append(AtomicModelCheckpoint(snapshot, monitor=monitor, mode=monitor_mode(monitor or ""),
                                               info=snapshot_info, best=best))
    return callbacks


def evaluate(model, data, method, embedding, test_data, batch_size, read_workers=8, verbose=1, feature_layer=None):
    """Print the final evaluation and the classification metrics.

    `feature_layer`: a function `model -> tensor` (or a layer name) giving the test features instead of
    the model's features output (e.g. the penultimate layer of a classifier, as learn_classifier.py).
    Returns `(test features, model.evaluate results, classification metrics)`.
    """
    from metrics import classification_metrics

    results = model.evaluate(test_data, verbose=0, return_dict=True, callbacks=[SyncReplicaStatistics()])
    print_evaluation(results)
    inputs = data.test_sequence(batch_size, workers=read_workers)
    predictions = model.predict(for_replicas(inputs, inputs_only=True), verbose=verbose)
    if has_cls_head(model):
        features, scores = predictions[0][: data.num_test], predictions[1][: data.num_test]
    else:
        features = predictions[: data.num_test]
        scores = method_class_scores(model, data, method, features, embedding, batch_size, read_workers, verbose)
    if feature_layer is not None:
        import keras

        layer = feature_layer(model) if callable(feature_layer) else model.get_layer(feature_layer).output
        features = keras.Model(model.inputs, layer).predict(for_replicas(inputs, inputs_only=True), verbose=0)
        features = features[: data.num_test]
    accuracy = classification_metrics(np.asarray(data.labels_test), scores)
    for name, value in accuracy.items():
        print("{}: {:.4f}".format(name, value))
    return features, results, accuracy


def save_outputs(model, features, model_dump=None, weight_dump=None, feature_dump=None, info=None):
    """Write the requested dumps; a failing one is reported and the others are still written.

    `info` (class order, epochs) is stored in the model dump; its `class_ids` in the feature dump too.

    Returns the number of dumps that failed.
    """
    jobs = [
        (weight_dump, "model weights", lambda p: save_weights(model, p)),
        (model_dump, "model", lambda p: save_model(model, p, info)),
        (feature_dump, "test features",
         lambda p: is_chief() and utils.save_features(p, features, class_ids=(info or {}).get("class_ids"))),
    ]
    failed = 0
    for path, what, save in jobs:
        if not path:
            continue
        try:
            save(path)
        except Exception as e:  # noqa: BLE001 -- report and keep the other outputs
            print("error: could not write the {} to {}: {}".format(what, path, e), file=sys.stderr)
            failed += 1
    return failed


def train(dataset, embedding="onehot", *, data_root=None, dataset_options=None, hierarchy=None,
          architecture="simple", architecture_kwargs=None, loss="inv_corr", loss_kwargs=None, cls_weight=0.0,
          cls_base=None, lr_schedule="SGDR", schedule_kwargs=None, sgd_lr=0.1, clipgrad=10.0, max_decay=0.0,
          nesterov=False, epochs=None, batch_size=100, val_batch_size=None, snapshot=None, snapshot_best=None,
          initial_epoch=0, finetune=None, finetune_init=8, gpus=1, read_workers=8, queue_size=100,
          mixed_precision=None, seed=None, log_dir=None, top_k_acc=(), verbose=1, model_dump=None,
          weight_dump=None, feature_dump=None, feature_layer=None, dump_errors="raise"):
    """Train a model as `learn_image_embeddings.py` does; every option is the flag of the same name.

    dataset, data_root, dataset_options: the dataset (`datasets.get_data_generator` name, root directory
        and keyword arguments such as `image_size`, `class_balance`).
    embedding: a class-embedding file (compute_class_embedding.py) or "onehot".
    hierarchy: a `class_hierarchy.ClassHierarchy`, for the methods that need one.
    loss, loss_kwargs: the training method (`models.methods.METHODS`) and its hyperparameters by name
        (its `arguments`; missing ones take their defaults).
    schedule_kwargs: the arguments of the learning-rate schedule by name (e.g. `sgdr_base_len`).
    snapshot, snapshot_best: the snapshot file written after every epoch (resumed from when it exists);
        with `snapshot_best` (a log key such as 'val_loss') only the best epoch is kept.
    verbose: Keras progress output (0 or 1).
    feature_layer: where the test features come from instead of the features output (see `evaluate`).
    dump_errors: "raise" (default) or "report": a failing dump is printed and the others still written
        (the script's behaviour; `TrainingResult` is returned either way).

    Returns a `TrainingResult`.
    """
    import keras

    from models.schedules import get_lr_schedule, inverse_time_decay

    method = METHODS[loss]
    method_kwargs = method.hyperparameters(loss_kwargs)
    top_k_acc = tuple(top_k_acc or ())
    check_options(loss=loss, embedding=embedding, cls_weight=cls_weight, batch_size=batch_size,
                  val_batch_size=val_batch_size, epochs=epochs, initial_epoch=initial_epoch,
                  finetune_init=finetune_init, gpus=gpus, read_workers=read_workers, queue_size=queue_size,
                  top_k_acc=top_k_acc, model_dump=model_dump, weight_dump=weight_dump, feature_dump=feature_dump,
                  snapshot=snapshot, snapshot_best=snapshot_best, finetune=finetune, hierarchy=hierarchy)
    if seed is not None:
        keras.utils.set_random_seed(seed)
    scope = configure_devices(gpus)
    set_mixed_precision(mixed_precision)

    if snapshot:
        for name in remove_stale_temp_files(snapshot):
            print("Removed {}, left by an interrupted snapshot write".format(name))
    matrix, data, onehot = load_targets(embedding, dataset, data_root, **(dataset_options or {}))
    context = MethodContext(embedding=matrix, onehot=onehot, hierarchy=hierarchy,
                            class_ids=tuple(dataset_class_ids(data, hierarchy)), top_k=top_k_acc)
    schedule, suggested_epochs = get_lr_schedule(lr_schedule, data.num_train, batch_size, schedule_kwargs)
    epochs = epochs or suggested_epochs
    check_epochs(initial_epoch, epochs)
    resumed_info = check_snapshot(snapshot, initial_epoch, context.class_ids)
    info = {"class_ids": list(context.class_ids), "loss": loss}
    compile_kwargs = dict(embedding=context, loss=loss, cls_weight=cls_weight, nesterov=nesterov, clipgrad=clipgrad,
                          loss_kwargs=method_kwargs, lr=sgd_lr)

    with scope:  # the one model, built and trained on all replicas
        transform = target_transform(loss, context, cls_head=cls_weight > 0, loss_kwargs=method_kwargs)
        sampler_options = method.batch_sampler(**method_kwargs) if method.batch_sampler else None
        train_data, test_data = make_sequences(data, transform, batch_size, val_batch_size, seed, read_workers,
                                               queue_size, sampler_options)
        model, network_top, previous_optimizer = build_or_resume(
            snapshot, method, context, method_kwargs, architecture, data.num_channels, architecture_kwargs,
            cls_weight, cls_base)
        if verbose:
            model.summary()
        if finetune and network_top is not None:
            pretrain_new_layers(model, finetune, finetune_init, network_top, train_data, test_data, compile_kwargs,
                                verbose)

        decay = inverse_time_decay(max_decay, data.num_train // batch_size, epochs)
        compile_model(model, decay=decay, **compile_kwargs)
        if previous_optimizer is not None:
            if copy_optimizer_state(previous_optimizer, model):
                step = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
                print("Optimizer state restored (step {})".format(step))
            else:
                print("Note: no matching optimizer state in the snapshot; the optimizer starts afresh.")

        # Epoch e of the run sees the data order and augmentations of the sequence's epoch e, also when
        # resumed (the sequence shuffles by its seed and epoch; Keras' own shuffle would draw anew).
        start_at_epoch(train_data, initial_epoch)
        history = model.fit(train_data, validation_data=test_data, epochs=epochs, initial_epoch=initial_epoch,
                            callbacks=make_callbacks(schedule, log_dir, initial_epoch, snapshot, snapshot_best,
                                                     info, resumed_info),
                            verbose=verbose, shuffle=False)
        features, results, accuracy = evaluate(model, data, method, matrix, test_data,
                                               val_batch_size or batch_size, read_workers, verbose, feature_layer)

    failed = save_outputs(model, features, model_dump, weight_dump, feature_dump, dict(info, epoch=epochs))
    if failed and dump_errors == "raise":
        raise OSError("{} of the requested dumps could not be written".format(failed))
    return TrainingResult(model, history, features, results, accuracy, list(context.class_ids), failed)


def start_at_epoch(sequence, epoch):
    """Let the batch sequence (or the one a replica wrapper holds) continue from `epoch`."""
    inner = getattr(sequence, "sequence", sequence)
    if hasattr(inner, "set_epoch"):
        inner.set_epoch(epoch)


def dataset_class_ids(data, hierarchy=None):
    """The class id of every label of `data` (checked against `hierarchy` where given)."""
    import cli

    return cli.class_ids(data, hierarchy=hierarchy)


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


def class_centroids(features, labels, num_classes):
    """(num_classes, dim) mean of the L2-normalized feature rows of each class (zeros for an absent class)."""
    features = np.asarray(features, dtype=np.float64)
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    unit = features / np.where(norms > 0, norms, 1.0)
    labels = np.asarray(labels, dtype=np.intp)
    sums = np.zeros((num_classes, unit.shape[1]))
    np.add.at(sums, labels, unit)
    return sums / np.maximum(np.bincount(labels, minlength=num_classes), 1)[:, None]


def method_class_scores(model, data, method, features, embedding, batch_size, read_workers=8, verbose=1):
    """Class scores of the test `features` as `method.similarity` says: against the class targets `embedding`,
    or ("centroids", for methods trained without class targets) the dot product with the class centroids of the
    model's features of the unaugmented training images (-inf for a class without training images)."""
    if method.similarity != "centroids":
        return class_scores(features, embedding, dot_prod_sim=method.similarity == "dot")
    inputs = data.train_sequence(batch_size, shuffle=False, augment=False, oversample=False, repeats=1,
                                 workers=read_workers)
    train_features = model.predict(for_replicas(inputs, inputs_only=True), verbose=verbose)[: data.num_train]
    scores = class_scores(features, class_centroids(train_features, data.labels_train, data.num_classes))
    scores[:, np.bincount(data.labels_train, minlength=data.num_classes) == 0] = -np.inf
    return scores


def print_evaluation(results, file=sys.stdout):
    """Print `model.evaluate(..., return_dict=True)` one metric a line."""
    width = max((len(k) for k in results), default=0)
    print("Final evaluation on the test set:", file=file)
    for name, value in results.items():
        print("  {:{}s} {:.4f}".format(name, width, float(np.asarray(value))), file=file)
