"""Model assembly: the network, the output head of the training method, the classifier head; compile.

Model structure (as the original release): the network's `embedding` layer, then the output layer
of the method (`TrainingMethod.head`, a key of `OUTPUT_HEADS`): an L2 normalization named `l2norm`
(`inv_corr`), a softmax named `softmax` (`softmax_corr`) or `prob` (`crossentropy`, the plain
softmax classifier of the paper's baselines), or nothing (`mse`, `unnorm_corr`). With
`--cls_weight > 0` the classifier head ReLU -> BN -> Dense softmax named `prob` (L2 weight decay
5e-4) is added and the model has the two outputs `[embedding, prob]`.
"""

import keras
import numpy as np

from models.methods import CLASSIFIER_HEAD, METHODS, ClassTargets, MethodContext
from models.registry import build_network
from models.lr_callbacks import InverseTimeDecaySGD

CLS_WEIGHT_DECAY = 5e-4

# name -> function(tensor) -> output tensor: the output layers a method may put after the network.
OUTPUT_HEADS = {
    # Keras' own layer (the same x / |x| as the original's l2norm), so that a model file loads without
    # this project; files of the previous version hold `L2Normalize` (models/layers.py), which stays.
    "l2norm": lambda x: keras.layers.UnitNormalization(name="l2norm", dtype="float32")(x),
    "softmax": lambda x: keras.layers.Activation("softmax", name="softmax", dtype="float32")(x),
    "prob": lambda x: keras.layers.Activation("softmax", name="prob", dtype="float32")(x),
}


def check_loss(loss):
    """`loss` if it names a training method; ValueError listing the names otherwise."""
    METHODS[loss]
    return loss


def as_context(embedding, top_k=(), onehot=False):
    """A `MethodContext` from a class-embedding matrix (or the context itself)."""
    if isinstance(embedding, MethodContext):
        return embedding
    return MethodContext(embedding=np.asarray(embedding, dtype=np.float32), onehot=bool(onehot), top_k=tuple(top_k))


def build_embedding_model(embedding_dim, architecture, loss="inv_corr", input_channels=None, context=None,
                          method_kwargs=None, **network_kwargs):
    """The network mapping images onto `embedding_dim` values, followed by the head of `loss`.

    A method with several outputs (`TrainingMethod.outputs`) builds them from `context` (a
    `MethodContext`) and its hyperparameters `method_kwargs`.
    Returns `(model, network_top)`: the model and the name of the network's own last layer.
    """
    method = METHODS[loss]
    head = method.head
    model = build_network(embedding_dim, architecture, input_channels=input_channels, **network_kwargs)
    if model.output.shape[-1] != embedding_dim:
        # resnet-32/-110 end at their pooled features unless built for classification (as the original).
        raise ValueError("architecture {!r} outputs {} features, but the embedding has {} dimensions; use an "
                         "architecture with a dense top (e.g. resnet-110-fc, resnet-110-wfc, simple)".format(
                             architecture, model.output.shape[-1], embedding_dim))
    network_top = model.layers[-1].name
    if method.outputs is not None:
        if context is None:
            raise ValueError("--loss {} builds its outputs for the classes: pass the method context".format(loss))
        outputs = method.outputs(context, model.output, **method.hyperparameters(method_kwargs))
        return keras.Model(model.inputs, outputs, name=model.name), network_top
    if head is None:
        return model, network_top
    return keras.Model(model.inputs, OUTPUT_HEADS[head](model.output), name=model.name), network_top


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
        name=CLASSIFIER_HEAD.name, dtype="float32",
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
    tables = [embedding] if num_classes is None else [embedding, np.eye(num_classes, dtype=np.float32)]
    return ClassTargets(tables)(X, y)


transform_inputs = make_targets  # the original's name


def target_transform(loss, context, cls_head=False, loss_kwargs=None):
    """The batch transform `(x, y) -> (x, targets)` for a model trained with `loss` (and the classifier head)."""
    method = METHODS[loss]
    targets = method.targets(context, **method.hyperparameters(loss_kwargs))
    tables = list(targets) if method.outputs is not None else [targets]  # one table per output
    if cls_head:
        tables.append(CLASSIFIER_HEAD.targets(context))
    return ClassTargets(tables)


def loss_and_metrics(loss, embedding, top_k=(), loss_kwargs=None):
    """The loss of the method `loss` and its metrics (accuracy, plus top-k for every k in `top_k`)."""
    method = METHODS[loss]
    context = as_context(embedding, top_k)
    hyperparameters = method.hyperparameters(loss_kwargs)
    return method.loss(context, **hyperparameters), method.metrics(context, **hyperparameters)


def compile_model(model, embedding, loss="inv_corr", cls_weight=0.0, lr=0.1, decay=0.0, nesterov=False,
                  clipgrad=10.0, top_k=(), loss_kwargs=None, optimizer=None):
    """Compile with SGD (momentum 0.9, norm clipping, inverse-time decay) and the losses of `--loss`.

    `embedding`: the class-embedding matrix or a `MethodContext`; `loss_kwargs`: the method's
    hyperparameters (its `arguments`, by name). `optimizer`: a Keras optimizer to use instead of
    that SGD (`lr`, `decay`, `nesterov` and `clipgrad` are then unused), e.g. DeViSE's Adagrad.
    """
    context = as_context(embedding, top_k)
    embed_loss, embed_metrics = loss_and_metrics(loss, context, loss_kwargs=loss_kwargs)
    if optimizer is None:
        optimizer = InverseTimeDecaySGD(
            learning_rate=lr, decay=decay, momentum=0.9, nesterov=nesterov, clipnorm=clipgrad if clipgrad > 0 else None
        )
    method = METHODS[loss]
    if method.outputs is not None:  # one loss, weight and list of metrics per output
        weights = method.loss_weights(context, **method.hyperparameters(loss_kwargs)) if method.loss_weights else None
        model.compile(optimizer=optimizer, loss=embed_loss, loss_weights=weights, metrics=embed_metrics)
    elif has_cls_head(model):
        model.compile(
            optimizer=optimizer,
            loss=[embed_loss, CLASSIFIER_HEAD.loss(context)],
            loss_weights=[1.0, cls_weight],
            metrics=[embed_metrics, CLASSIFIER_HEAD.metrics(context)],
        )
    else:
        model.compile(optimizer=optimizer, loss=embed_loss, metrics=embed_metrics)
    return model


def accuracy_log_key(model, loss):
    """The log key of the headline validation accuracy."""
    if has_cls_head(model) and METHODS[loss].outputs is None:
        return "val_" + CLASSIFIER_HEAD.monitor
    return "val_" + METHODS[loss].monitor


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
