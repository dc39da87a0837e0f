"""The Keras side of the learning-rate schedules: callbacks that set the rate, and SGD with inverse-time decay.

The schedules themselves (pure functions of the epoch or iteration, the table of schedules and their
command-line arguments) are in models/schedules.py, which imports no Keras; `get_lr_schedule` there
builds these callbacks.
"""

import keras
from keras import ops

from models.serialization import PACKAGE


class EpochLearningRate(keras.callbacks.LearningRateScheduler):
    """Sets the learning rate at the start of every epoch from `schedule(epoch, current_lr)`."""

    def __init__(self, schedule, name=None, verbose=0):
        super().__init__(schedule, verbose=verbose)
        self.name = name


class BatchLearningRate(keras.callbacks.Callback):
    """Sets the learning rate before every batch from `schedule(iteration)`.

    The iteration counts batches since epoch 0, so resuming at `initial_epoch` continues the schedule.
    """

    def __init__(self, schedule, name=None):
        super().__init__()
        self.schedule, self.name = schedule, name
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        steps = (self.params or {}).get("steps") or 0
        self.model.optimizer.learning_rate = self.schedule(self._epoch * steps + batch)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(ops.convert_to_numpy(self.model.optimizer.learning_rate))


@keras.saving.register_keras_serializable(package=PACKAGE)
class InverseTimeDecaySGD(keras.optimizers.SGD):
    """SGD whose step size is `learning_rate / (1 + decay * iterations)` (Keras 2's `decay`).

    The decay is applied inside the update step, so `learning_rate` stays the base rate that the
    schedule callbacks set and read, as in Keras 2.
    """

    def __init__(self, learning_rate=0.01, decay=0.0, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.decay = float(decay)

    def applied_learning_rate(self, step=None):
        """The step size of update `step` (0-based; default: the last one taken), decay included."""
        if step is None:
            step = max(int(ops.convert_to_numpy(self.iterations)) - 1, 0)
        return float(ops.convert_to_numpy(self.learning_rate)) / (1.0 + self.decay * step)

    def update_step(self, gradient, variable, learning_rate):
        if self.decay:
            step = ops.cast(self.iterations, "float32")
            learning_rate = ops.cast(learning_rate, "float32") / (1.0 + self.decay * step)
        return super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        config = super().get_config()
        config["decay"] = self.decay
        return config


class LogAppliedLearningRate(keras.callbacks.Callback):
    """Logs as `learning_rate` the step size the optimizer really used in the epoch's last step.

    Keras logs the optimizer's `learning_rate`, the base rate; `InverseTimeDecaySGD` (`--max_decay`)
    divides it by `1 + decay * step` inside the update. Put this callback after the schedule's and
    before TensorBoard's, which write and read the same logs.
    """

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self.model.optimizer is not None:
            logs["learning_rate"] = applied_learning_rate(self.model.optimizer)


def applied_learning_rate(optimizer):
    """The step size of the optimizer's last update (through a mixed-precision loss-scale wrapper)."""
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)
    if hasattr(optimizer, "applied_learning_rate"):
        return optimizer.applied_learning_rate()
    return float(ops.convert_to_numpy(optimizer.learning_rate))


class TensorBoard(keras.callbacks.TensorBoard):
    """Keras' TensorBoard callback, whose `learning_rate` curve shows the applied step size.

    Keras' own reads the optimizer's (base) `learning_rate` when it writes the epoch's scalars.
    """

    def _collect_learning_rate(self, logs):
        logs = super()._collect_learning_rate(logs)
        if "learning_rate" in logs:
            logs["learning_rate"] = applied_learning_rate(self.model.optimizer)
        return logs
