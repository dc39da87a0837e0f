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

    def update_step(self, gradient, variable, learning_rate):
        if self.decay:
            step = ops.cast(self.iterations, "float32")
            learning_rate = ops.cast(learning_rate, "float32") / (1.0 + self.decay * step)
        return super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        config = super().get_config()
        config["decay"] = self.decay
        return config
