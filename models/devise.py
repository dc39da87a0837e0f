"""DeViSE (Frome et al., "DeViSE: A Deep Visual-Semantic Embedding Model", NIPS 2013) as the original
release's learn_devise.py trains it: the training method "devise" and its two Adagrad phases.

The original (cvjena/semantic-embeddings 0d41774, learn_devise.py and utils.devise_ranking_loss):

- the class embeddings are scaled to unit length before anything (targets, loss, metric);
- the model is the network with a linear output `embedding` of the embedding's dimension, or, with
  --init_weights, a trained model (e.g. a classifier) whose last layer is replaced by a new linear
  layer `embedding` on that layer's input;
- loss (`models.losses.DeviseRankingLoss`): sum over all classes j of max(0, margin - <e_y, x> +
  <e_j, x>) minus margin (the true class's own term is exactly the margin), per sample;
- metric: the accuracy of the most similar class embedding (dot product, `max_sim_acc`);
- with --init_weights and --init_epochs > 0, first only the new layer is trained for init_epochs
  with Adagrad(init_lr); then the whole network for ft_epochs with Adagrad(ft_lr), its learning rate
  decayed as lr / (1 + decay * step) with decay = (1 / max_decay - 1) / (steps per epoch * ft_epochs)
  when --max_decay > 0. Without --init_weights only the second phase runs (from scratch).

Keras 2's Adagrad, which the original used, starts its accumulators at 0 and divides by
sqrt(sum g^2) + 1e-7; Keras 3's `Adagrad(initial_accumulator_value=0)` divides by sqrt(sum g^2 + 1e-7).
"""

import keras
import numpy as np

# Keras 2's Adagrad accumulators started at zero (Keras 3's default is 0.1).
ADAGRAD_INITIAL_ACCUMULATOR = 0.0


# ---------------------------------------------------------------------------
# The factories of the training method "devise" (models/methods.py)
# ---------------------------------------------------------------------------


def unit_class_embedding(context, **_):
    """The class embeddings scaled to unit length (the targets); ValueError for an all-zero row."""
    embedding = np.asarray(context.embedding, dtype=np.float32)
    norms = np.linalg.norm(embedding, axis=-1, keepdims=True)
    if not np.all(norms > 0):
        raise ValueError("class {} has an all-zero embedding, which DeViSE cannot scale to unit length".format(
            int(np.argmin(norms))))
    return embedding / norms


def check_margin(margin):
    margin = float(margin)
    if not np.isfinite(margin) or margin < 0:
        raise ValueError("--margin must be a non-negative number, got {!r}".format(margin))
    return margin


def method_loss(context, margin, **_):
    from models.losses import DeviseRankingLoss

    return DeviseRankingLoss(unit_class_embedding(context), check_margin(margin))


def method_metrics(context, **_):
    from models.keras_metrics import nn_accuracy

    embedding = unit_class_embedding(context)
    return [nn_accuracy(embedding, dot_prod_sim=True, k=k) for k in (1, *context.top_k)]


# ---------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------


def load_init_model(path, dim):
    """The model in `path` (any saved model) with a new linear `embedding` layer of `dim` units on top."""
    import os

    if not os.path.isfile(path):
        raise ValueError("--init_weights {}: no such file".format(path))
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as e:  # noqa: BLE001 -- any unreadable file: one line naming it
        raise ValueError("--init_weights {}: cannot load the model: {}".format(path, e)) from None
    from models.surgery import replace_top

    return replace_top(model, dim)


def adagrad(learning_rate, decay=0.0):
    """Adagrad as the original's keras.optimizers.Adagrad(lr, decay): lr / (1 + decay * step)."""
    if decay > 0:
        learning_rate = keras.optimizers.schedules.InverseTimeDecay(learning_rate, decay_steps=1, decay_rate=decay)
    return keras.optimizers.Adagrad(learning_rate=learning_rate,
                                    initial_accumulator_value=ADAGRAD_INITIAL_ACCUMULATOR)


def check_devise_options(init_epochs, ft_epochs, init_lr, ft_lr, margin, max_decay):
    """ValueError naming the flag for a value learn_devise.py cannot use."""
    for flag, value in (("--init_epochs", init_epochs), ("--ft_epochs", ft_epochs)):
        if value < 0:
            raise ValueError("{} must not be negative, got {}".format(flag, value))
    for flag, value in (("--init_lr", init_lr), ("--ft_lr", ft_lr)):
        if not value > 0:
            raise ValueError("{} must be positive, got {}".format(flag, value))
    if not 0 <= max_decay <= 1:
        raise ValueError("--max_decay must be in (0, 1] (or 0 to disable it), got {}".format(max_decay))
    check_margin(margin)


# ---------------------------------------------------------------------------
# Training: the two phases
# ---------------------------------------------------------------------------


def train_devise(dataset, embedding, *, data_root=None, dataset_options=None, architecture="simple",
                 architecture_kwargs=None, init_weights=None, init_epochs=25, ft_epochs=75, init_lr=0.01,
                 ft_lr=0.001, margin=0.1, max_decay=0.0, batch_size=100, val_batch_size=None, read_workers=8,
                 queue_size=100, seed=None, log_dir=None, top_k_acc=(), verbose=1, model_dump=None,
                 weight_dump=None, feature_dump=None, dump_errors="raise"):
    """Train DeViSE as learn_devise.py; every option is the flag of the same name.

    embedding: a class-embedding file (compute_class_embedding.py); the dataset is restricted to its
        classes, in its order.
    Returns a `models.training.TrainingResult` (history: that of the last phase that ran).
    """
    from models import training
    from models.heads import build_embedding_model, compile_model, target_transform
    from models.methods import METHODS, MethodContext
    from models.schedules import inverse_time_decay

    check_devise_options(init_epochs, ft_epochs, init_lr, ft_lr, margin, max_decay)
    training.check_options(loss="devise", embedding=embedding, batch_size=batch_size, val_batch_size=val_batch_size,
                           read_workers=read_workers, queue_size=queue_size, top_k_acc=tuple(top_k_acc),
                           model_dump=model_dump, weight_dump=weight_dump, feature_dump=feature_dump)
    if str(embedding).lower() == "onehot":
        raise ValueError("--embedding: DeViSE maps images onto class embeddings; give a file written by "
                         "compute_class_embedding.py, not onehot")
    if seed is not None:
        keras.utils.set_random_seed(seed)
    method = METHODS["devise"]
    loss_kwargs = {"margin": margin}
    matrix, data, _ = training.load_targets(embedding, dataset, data_root, **(dataset_options or {}))
    context = MethodContext(embedding=matrix, class_ids=tuple(training.dataset_class_ids(data)),
                            top_k=tuple(top_k_acc))
    unit_embedding = unit_class_embedding(context)
    dim = unit_embedding.shape[1]

    with training.configure_devices(1):
        train_data, test_data = training.make_sequences(
            data, target_transform("devise", context, loss_kwargs=loss_kwargs), batch_size, val_batch_size, seed,
            read_workers, queue_size)
        if init_weights:
            print("Initializing with model {}".format(init_weights))
            model = load_init_model(init_weights, dim)
        else:
            model, _ = build_embedding_model(dim, architecture, "devise", input_channels=data.num_channels,
                                             **(architecture_kwargs or {}))
        if verbose:
            model.summary()
        compile_kwargs = dict(embedding=context, loss="devise", loss_kwargs=loss_kwargs)
        history = None
        if init_weights and init_epochs > 0:
            print("Pre-training linear transformation")
            for layer in model.layers[:-1]:
                layer.trainable = False
            compile_model(model, optimizer=adagrad(init_lr), **compile_kwargs)
            history = model.fit(train_data, validation_data=test_data, epochs=init_epochs, verbose=verbose)
            for layer in model.layers:
                layer.trainable = True
        if ft_epochs > 0:
            print("Fine-tuning all layers")
            decay = inverse_time_decay(max_decay, data.num_train // batch_size, ft_epochs)
            compile_model(model, optimizer=adagrad(ft_lr, decay), **compile_kwargs)
            history = model.fit(train_data, validation_data=test_data, epochs=ft_epochs, verbose=verbose,
                                callbacks=training.make_callbacks([], log_dir))
        elif model.optimizer is None:
            compile_model(model, optimizer=adagrad(ft_lr), **compile_kwargs)
        features, results, accuracy = training.evaluate(model, data, method, unit_embedding, test_data,
                                                        val_batch_size or batch_size, read_workers, verbose)

    failed = training.save_outputs(model, features, model_dump, weight_dump, feature_dump)
    if failed and dump_errors == "raise":
        raise OSError("{} of the requested dumps could not be written".format(failed))
    return training.TrainingResult(model, history, features, results, accuracy, list(context.class_ids), failed)
