"""Label embedding network (Sun et al., "Label Embedding Network: Learning Label Representation for
Soft Training of Deep Networks", 2017) as the original release's learn_labelembedding.py trains it,
in `keras.ops` (any Keras backend).

The original (cvjena/semantic-embeddings 0d41774, learn_labelembedding.py, `labelembed_model` and
`labelembed_loss`): after the network's `embedding` output, h = BN(ReLU(embedding)) (`embedding_bn`);
two linear classifiers o1 = Dense(h) (`prob`, logits) and o2 = Dense(stop_gradient(h)) (`out2`); a
learned label embedding E (classes x classes, initialized with the identity, `labelembeddings`) whose
row E_y is looked up with the label. With softmax(v) written p(v), log_softmax written ls, and
K.epsilon() = 1e-7, the loss of a sample of class y is

    L_o1_y   = -log(clip(p(o1)_y, eps, 1 - eps))                       (Keras' sparse cross-entropy)
    L_o1_emb = -sum_k stop_gradient(p(E_y))_k * ls(o1)_k                (o1 learns the soft targets)
    L_o2_y   = -log(clip(p(o2)_y, eps, 1 - eps))
    L_emb_o2 = -sum_k stop_gradient(p(o2 / tau))_k * ls(E_y)_k * m * B / (sum_batch(m) + 1e-8)
               with m = [argmax(o2) == y] (stop-gradient): E_y learns from o2's tempered output, on
               the samples o2 classifies correctly, rescaled to the batch size B
    L_re     = max(0, p(o2)_y - alpha)                                 (keeps o2 from over-confidence)

    loss = beta * L_o1_y + (1 - beta) * L_o1_emb + L_o2_y + L_emb_o2 + L_re,

averaged over the batch. Defaults tau = 2, alpha = 0.9, beta = 0.5.

Here the model needs no label input: the layer `LabelEmbeddingTerms` (named `labelembed_loss`, holding
E as its weight `label_embeddings`) outputs, for every candidate class j, what the loss needs, stacked
as (batch, 4, classes): o1, o2, ls(o1) . p(E_j) (stop-gradient on p(E)) and p(o2 / tau) . ls(E_j)
(stop-gradient on p(o2 / tau)). The loss `LabelEmbeddingLoss` takes the true class's column with the
one-hot target. Loss and gradients are the original's; the classifier's class scores are output as
probabilities `prob` = softmax(o1) (the logits layer is `prob_logits`), the same ranking as the
original's `prob` logits.
"""

import keras
import numpy as np
from keras import ops

from models.serialization import PACKAGE, as_float32

# Keras' backend epsilon: the original's sparse_categorical_crossentropy clipped probabilities to it.
EPSILON = 1e-7
# Added to the number of correctly classified samples of a batch (the original's 1e-8).
MASK_EPSILON = 1e-8


def check_label_embedding_parameters(tau, alpha, beta):
    """(tau, alpha, beta) as floats; ValueError naming the flag for a value the loss cannot use."""
    tau, alpha, beta = float(tau), float(alpha), float(beta)
    if not np.isfinite(tau) or tau <= 0:
        raise ValueError("--tau must be a positive number, got {!r}".format(tau))
    for flag, value in (("--alpha", alpha), ("--beta", beta)):
        if not np.isfinite(value):
            raise ValueError("{} must be a finite number, got {!r}".format(flag, value))
    return tau, alpha, beta


@keras.saving.register_keras_serializable(package=PACKAGE)
class StopGradient(keras.layers.Layer):
    """The input, without a gradient flowing back through it (the original's Lambda(K.stop_gradient))."""

    def call(self, inputs):
        return ops.stop_gradient(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package=PACKAGE)
class LabelEmbeddingTerms(keras.layers.Layer):
    """Holds the label embedding E (weight `label_embeddings`, identity-initialized) and outputs the
    per-class terms of the label-embedding loss for the logits `[o1, o2]`: (batch, 4, classes)."""

    def __init__(self, num_classes, tau=2.0, **kwargs):
        kwargs.setdefault("name", "labelembed_loss")
        super().__init__(**kwargs)
        self.num_classes = int(num_classes)
        if self.num_classes < 2:
            raise ValueError("LabelEmbeddingTerms: needs at least 2 classes, got {}".format(num_classes))
        self.tau, _, _ = check_label_embedding_parameters(tau, 0.0, 0.0)

    def build(self, input_shape):
        self.label_embeddings = self.add_weight(shape=(self.num_classes, self.num_classes),
                                                initializer=keras.initializers.Identity(), name="label_embeddings")

    def call(self, inputs):
        out1, out2 = as_float32(*inputs)
        embeddings = ops.cast(self.label_embeddings, "float32")
        soft_targets = ops.stop_gradient(ops.softmax(embeddings, axis=-1))  # p(E_j), (classes, classes)
        o1_vs_embeddings = ops.matmul(ops.log_softmax(out1, axis=-1), ops.transpose(soft_targets))
        tempered = ops.stop_gradient(ops.softmax(out2 / self.tau, axis=-1))
        embeddings_vs_o2 = ops.matmul(tempered, ops.transpose(ops.log_softmax(embeddings, axis=-1)))
        return ops.stack([out1, out2, o1_vs_embeddings, embeddings_vs_o2], axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], 4, self.num_classes)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "tau": self.tau}


def _clipped_log_probability(logits, onehot):
    probability = ops.sum(ops.softmax(logits, axis=-1) * onehot, axis=-1)
    return ops.log(ops.clip(probability, EPSILON, 1.0 - EPSILON))


def label_embedding_loss(y_true, terms, alpha=0.9, beta=0.5):
    """Per-sample label-embedding loss (module docstring) from one-hot `y_true` and the
    `LabelEmbeddingTerms` output `terms` (batch, 4, classes)."""
    y_true, terms = as_float32(y_true, terms)
    out1, out2, o1_vs_embeddings, embeddings_vs_o2 = (terms[:, i, :] for i in range(4))
    loss_o1_y = -_clipped_log_probability(out1, y_true)
    loss_o1_emb = -ops.sum(o1_vs_embeddings * y_true, axis=-1)
    loss_o2_y = -_clipped_log_probability(out2, y_true)
    correct = ops.cast(ops.equal(ops.argmax(out2, axis=-1), ops.argmax(y_true, axis=-1)), "float32")
    correct = ops.stop_gradient(correct)
    batch_size = ops.cast(ops.shape(correct)[0], "float32")
    loss_emb_o2 = -ops.sum(embeddings_vs_o2 * y_true, axis=-1) * correct * (batch_size / (ops.sum(correct)
                                                                                          + MASK_EPSILON))
    loss_re = ops.relu(ops.sum(ops.softmax(out2, axis=-1) * y_true, axis=-1) - alpha)
    return beta * loss_o1_y + (1.0 - beta) * loss_o1_emb + loss_o2_y + loss_emb_o2 + loss_re


@keras.saving.register_keras_serializable(package=PACKAGE)
class LabelEmbeddingLoss(keras.losses.Loss):
    """The label-embedding loss of Sun et al. as the original computed it (module docstring)."""

    def __init__(self, alpha=0.9, beta=0.5, name="labelembed_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        _, self.alpha, self.beta = check_label_embedding_parameters(1.0, alpha, beta)

    def call(self, y_true, y_pred):
        return label_embedding_loss(y_true, y_pred, self.alpha, self.beta)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "beta": self.beta}


def label_embedding_outputs(features, num_classes, tau=2.0):
    """The layers the original put after the network's `embedding` output.

    Returns `[features, prob, terms]`: h = BN(ReLU(features)) (`embedding_bn`), the classifier logits
    o1 (`prob_logits`) and their softmax (`prob`), the second classifier o2 (`out2`) on
    stop_gradient(h), and the `LabelEmbeddingTerms` of (o1, o2) (`labelembed_loss`).
    """
    h = keras.layers.Activation("relu", name="embedding_relu")(features)
    h = keras.layers.BatchNormalization(name="embedding_bn")(h)
    out1 = keras.layers.Dense(num_classes, name="prob_logits", dtype="float32")(h)
    prob = keras.layers.Activation("softmax", name="prob", dtype="float32")(out1)
    out2 = keras.layers.Dense(num_classes, name="out2", dtype="float32")(StopGradient(name="out2_stop_gradient")(h))
    terms = LabelEmbeddingTerms(num_classes, tau, name="labelembed_loss", dtype="float32")([out1, out2])
    return [features, prob, terms]


# The factories of the training method "label_embedding" (models/methods.py).


def method_outputs(context, features, tau, **_):
    return label_embedding_outputs(features, context.num_classes, tau)


def method_loss(context, tau, alpha, beta, **_):
    check_label_embedding_parameters(tau, alpha, beta)
    return LabelEmbeddingLoss(alpha, beta)
