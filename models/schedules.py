"""Learning-rate schedules of the original release, as Keras callbacks, plus inverse-time decay.

Every schedule is a pure function of the (absolute) epoch or iteration, so a run resumed with
`initial_epoch` continues exactly where the interrupted one stopped.

- SGD: constant learning rate reduced on plateaus of the validation loss, or the piecewise-constant
  schedule given by `--sgd_schedule "1:0.1,31:0.01,41:0.001,50"` (1-based epochs; a trailing
  number without `:lr` only sets the number of epochs).
- SGDR: cosine annealing with warm restarts (Loshchilov & Hutter); cycles of 12, 24, 48, ... epochs.
- CLR: triangular cyclical learning rate (Smith), updated after every batch.
- ResNet-Schedule: 0.01 for one warm-up epoch, 0.1 until epoch 80, 0.01 until 120, then 0.001.
"""

import bisect
import math

import keras
from keras import ops

from models.layers import PACKAGE

LR_SCHEDULES = ["SGD", "SGDR", "CLR", "ResNet-Schedule"]

SCHEDULE_DEFAULTS = {
    "sgd_patience": 10,
    "sgd_min_lr": 1e-4,
    "sgdr_base_len": 12,
    "sgdr_mul": 2,
    "sgdr_max_lr": 0.1,
    "sgdr_min_lr": 1e-6,
    "clr_step_len": 12,
    "clr_min_lr": 1e-5,
    "clr_max_lr": 0.1,
}

# Epochs suggested by each schedule when --epochs is not given.
SGD_PLATEAU_EPOCHS = 200
SGDR_NUM_CYCLES = 5
CLR_NUM_STEPS = 20
RESNET_EPOCHS = 164


# ---------------------------------------------------------------------------
# Learning rate as a function of the epoch / iteration
# ---------------------------------------------------------------------------


def sgdr_learning_rate(epoch, max_lr=0.1, min_lr=1e-6, base_len=12, mul=2):
    """Learning rate of SGDR in the 0-based `epoch`, exactly as the original callback set it.

    A cycle of length L starts at `max_lr`; its epoch i >= 1 uses
    `min_lr + (max_lr - min_lr) * (1 + cos(pi * (i + 1) / L)) / 2`, so the last epoch of each
    cycle runs at `min_lr`. Cycle lengths are base_len, base_len * mul, base_len * mul^2, ...
    """
    if epoch < 0:
        raise ValueError("epoch must be >= 0, got {}".format(epoch))
    cycle_len = base_len
    while epoch >= cycle_len:
        epoch -= cycle_len
        cycle_len *= mul
    if epoch == 0:
        return float(max_lr)
    return float(min_lr + 0.5 * (max_lr - min_lr) * (1 + math.cos(math.pi * (epoch + 1) / cycle_len)))


def sgdr_num_epochs(base_len=12, mul=2, num_cycles=SGDR_NUM_CYCLES):
    """Epochs of `num_cycles` SGDR cycles: 12 + 24 + 48 + 96 + 192 = 372 with the defaults."""
    return sum(base_len * mul**i for i in range(num_cycles))


def clr_learning_rate(iteration, min_lr=1e-5, max_lr=0.1, step_size=1):
    """Triangular cyclical learning rate in the 0-based training `iteration` (batch).

    Rises linearly from `min_lr` to `max_lr` over `step_size` iterations, falls back over the next
    `step_size`, and repeats.
    """
    cycle = math.floor(1 + iteration / (2 * step_size))
    x = abs(iteration / step_size - 2 * cycle + 1)
    return float(min_lr + (max_lr - min_lr) * max(0.0, 1 - x))


def resnet_learning_rate(epoch):
    """The hand-crafted schedule He et al. used for CIFAR ResNets (0-based epochs)."""
    if epoch >= 120:
        return 0.001
    if epoch >= 80:
        return 0.01
    if epoch >= 1:
        return 0.1
    return 0.01


def parse_sgd_schedule(text):
    """Parse `"1:0.1,31:0.01,41:0.001,50"` into sorted `(epoch0, lr or None)` pairs (0-based epochs).

    Raises ValueError naming the offending item.
    """
    points = []
    for item in str(text).split(","):
        parts = item.strip().split(":")
        try:
            if len(parts) > 2 or not parts[0]:
                raise ValueError
            epoch = int(parts[0])
            lr = float(parts[1]) if len(parts) == 2 else None
        except ValueError:
            raise ValueError("--sgd_schedule: cannot parse {!r} (expected EPOCH:LR or EPOCH)".format(item)) from None
        if epoch < 1 or (lr is not None and not (lr > 0 and math.isfinite(lr))):
            raise ValueError("--sgd_schedule: {!r} needs an epoch >= 1 and a positive learning rate".format(item))
        points.append((epoch - 1, lr))
    points.sort(key=lambda p: p[0])
    return points


def sgd_schedule_learning_rate(points, epoch, current_lr):
    """Learning rate for the 0-based `epoch` from parsed `--sgd_schedule` points.

    The last point at or before `epoch` decides; before the first point, or at a point without a
    learning rate, the current learning rate is kept.
    """
    i = bisect.bisect_right([p[0] for p in points], epoch) - 1
    if i < 0 or points[i][1] is None:
        return float(current_lr)
    return float(points[i][1])


# ---------------------------------------------------------------------------
# Callbacks
# ---------------------------------------------------------------------------


class EpochLearningRate(keras.callbacks.LearningRateScheduler):
    """Sets the learning rate at the start of every epoch from `schedule(epoch, current_lr)`."""

    def __init__(self, schedule, name=None, verbose=0):
        super().__init__(schedule, verbose=verbose)
        self.name = name


class CyclicLR(keras.callbacks.Callback):
    """Triangular cyclical learning rate, set before every batch (see `clr_learning_rate`).

    The iteration counts batches since epoch 0, so resuming at `initial_epoch` continues the cycle.
    """

    def __init__(self, min_lr=1e-5, max_lr=0.1, step_size=2000):
        super().__init__()
        if step_size < 1:
            raise ValueError("CLR step size must be at least one iteration, got {}".format(step_size))
        self.min_lr, self.max_lr, self.step_size = min_lr, max_lr, step_size
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        steps = (self.params or {}).get("steps") or 0
        iteration = self._epoch * steps + batch
        self.model.optimizer.learning_rate = clr_learning_rate(iteration, self.min_lr, self.max_lr, self.step_size)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(ops.convert_to_numpy(self.model.optimizer.learning_rate))


def _schedule_value(schedule_args, name):
    value = schedule_args.get(name)
    return SCHEDULE_DEFAULTS[name] if value is None else value


def get_lr_schedule(schedule, num_samples, batch_size, schedule_args=None):
    """Callbacks for a learning-rate schedule and the number of epochs it suggests.

    - schedule: 'SGD', 'SGDR', 'CLR' or 'ResNet-Schedule' (case-insensitive).
    - num_samples, batch_size: size of the training set and of a batch (CLR counts iterations).
    - schedule_args: dict with any of `sgd_patience` (10), `sgd_min_lr` (1e-4), `sgd_schedule`,
      `sgdr_base_len` (12), `sgdr_mul` (2), `sgdr_max_lr` (0.1), `sgdr_min_lr` (1e-6),
      `clr_step_len` (12 epochs per half cycle), `clr_min_lr` (1e-5), `clr_max_lr` (0.1); None
      values take the defaults and other keys are ignored.

    Returns `(callbacks, num_epochs)`.
    """
    args = dict(schedule_args or {})
    name = str(schedule).lower()
    if name == "sgd":
        if args.get("sgd_schedule"):
            points = parse_sgd_schedule(args["sgd_schedule"])
            callback = EpochLearningRate(lambda epoch, lr: sgd_schedule_learning_rate(points, epoch, lr), name="SGD")
            return [callback], points[-1][0] + 1
        plateau = keras.callbacks.ReduceLROnPlateau(
            "val_loss",
            patience=_schedule_value(args, "sgd_patience"),
            min_delta=1e-4,
            min_lr=_schedule_value(args, "sgd_min_lr"),
            verbose=1,
        )
        return [plateau], SGD_PLATEAU_EPOCHS
    if name == "sgdr":
        base_len, mul = _schedule_value(args, "sgdr_base_len"), _schedule_value(args, "sgdr_mul")
        max_lr, min_lr = _schedule_value(args, "sgdr_max_lr"), _schedule_value(args, "sgdr_min_lr")
        if base_len < 1 or mul < 1:
            raise ValueError("SGDR needs --sgdr_base_len >= 1 and --sgdr_mul >= 1, got {} and {}".format(base_len, mul))
        callback = EpochLearningRate(lambda epoch, lr: sgdr_learning_rate(epoch, max_lr, min_lr, base_len, mul), name="SGDR")
        return [callback], sgdr_num_epochs(base_len, mul)
    if name == "clr":
        step_len = _schedule_value(args, "clr_step_len")
        step_size = step_len * max(1, num_samples // batch_size)
        callback = CyclicLR(_schedule_value(args, "clr_min_lr"), _schedule_value(args, "clr_max_lr"), step_size)
        return [callback], step_len * CLR_NUM_STEPS
    if name == "resnet-schedule":
        return [EpochLearningRate(lambda epoch, lr: resnet_learning_rate(epoch), name="ResNet-Schedule")], RESNET_EPOCHS
    raise ValueError("unknown learning rate schedule {!r}; choose from {}".format(schedule, ", ".join(LR_SCHEDULES)))


def add_lr_schedule_arguments(parser):
    """Add the original's command-line arguments of all learning-rate schedules to `parser`."""
    group = parser.add_argument_group("Parameters for --lr_schedule=SGD")
    group.add_argument("--sgd_patience", type=int, default=None, help="Patience of learning rate reduction in epochs.")
    group.add_argument("--sgd_lr", type=float, default=0.1, help="Initial learning rate.")
    group.add_argument("--sgd_min_lr", type=float, default=None, help="Minimum learning rate.")
    group.add_argument(
        "--sgd_schedule",
        type=str,
        default=None,
        help="Comma-separated list of `epoch:lr` pairs, defining a learning rate schedule. "
        "The total number of epochs can be appended to this list, separated by a comma as well.",
    )
    group = parser.add_argument_group("Parameters for --lr_schedule=SGDR")
    group.add_argument("--sgdr_base_len", type=int, default=None, help="Length of first cycle in epochs.")
    group.add_argument("--sgdr_mul", type=int, default=None, help="Multiplier for cycle length after each cycle.")
    group.add_argument("--sgdr_max_lr", type=float, default=None, help="Maximum learning rate.")
    group = parser.add_argument_group("Parameters for --lr_schedule=CLR")
    group.add_argument("--clr_step_len", type=int, default=None, help="Length of each step in epochs.")
    group.add_argument("--clr_min_lr", type=float, default=None, help="Minimum learning rate.")
    group.add_argument("--clr_max_lr", type=float, default=None, help="Maximum learning rate.")
    return parser


# ---------------------------------------------------------------------------
# SGD with the inverse-time decay of Keras 2 (`--max_decay`)
# ---------------------------------------------------------------------------


def inverse_time_decay(max_decay, steps_per_epoch, epochs):
    """The `decay` that shrinks the learning rate to `max_decay` times its value after training.

    Keras 2 used `lr / (1 + decay * iteration)`; the original chose
    `decay = (1 / max_decay - 1) / (steps_per_epoch * epochs)`. `max_decay <= 0` disables it.
    """
    if max_decay <= 0:
        return 0.0
    if max_decay > 1:
        raise ValueError("--max_decay must be in (0, 1] (or 0 to disable), got {}".format(max_decay))
    return (1.0 / max_decay - 1.0) / max(1, steps_per_epoch * epochs)


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
