"""Learning-rate schedules of the original release: one table (`SCHEDULES`), formulas, arguments.

This module imports no Keras (the training scripts' `--help` lists the schedules and their flags
without starting TensorFlow); the callbacks it builds are in models/lr_callbacks.py. Adding a
schedule = one `Schedule` entry in `SCHEDULES` (a `make` function and its `Argument`s) + its test.

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
import dataclasses
import inspect
import math
from typing import Callable

from models.methods import Argument

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

    The last point with a learning rate at or before `epoch` decides (a trailing `EPOCH` without
    `:LR` only sets the number of epochs, as in the original's parser); before the first such
    point the current learning rate is kept.
    """
    with_rate = [p for p in points if p[1] is not None]
    i = bisect.bisect_right([p[0] for p in with_rate], epoch) - 1
    return float(current_lr) if i < 0 else float(with_rate[i][1])


def sgd_schedule_epochs(points):
    """The number of epochs of a parsed `--sgd_schedule`: its largest (1-based) epoch."""
    return max(p[0] for p in points) + 1


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




# ---------------------------------------------------------------------------
# The table of schedules: name -> callbacks, suggested epochs, command-line arguments
# ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Schedule:
    """One learning-rate schedule.

    make(num_samples, batch_size, **arguments) -> (callbacks, suggested number of epochs), where
    `arguments` are the values of `arguments` by name (None: the documented default).
    """

    name: str
    make: Callable
    arguments: tuple = ()


def _sgd(num_samples, batch_size, sgd_patience=None, sgd_min_lr=None, sgd_schedule=None):
    from models import lr_callbacks
    from keras.callbacks import ReduceLROnPlateau

    if sgd_schedule:
        points = parse_sgd_schedule(sgd_schedule)
        callback = lr_callbacks.EpochLearningRate(lambda epoch, lr: sgd_schedule_learning_rate(points, epoch, lr),
                                                  name="SGD")
        return [callback], sgd_schedule_epochs(points)
    plateau = ReduceLROnPlateau("val_loss", patience=_or(sgd_patience, 10), min_delta=1e-4,
                                min_lr=_or(sgd_min_lr, 1e-4), verbose=1)
    return [plateau], SGD_PLATEAU_EPOCHS


def _sgdr(num_samples, batch_size, sgdr_base_len=None, sgdr_mul=None, sgdr_max_lr=None, sgdr_min_lr=None):
    from models import lr_callbacks

    base_len, mul = _or(sgdr_base_len, 12), _or(sgdr_mul, 2)
    max_lr, min_lr = _or(sgdr_max_lr, 0.1), _or(sgdr_min_lr, 1e-6)
    if base_len < 1 or mul < 1:
        raise ValueError("SGDR needs --sgdr_base_len >= 1 and --sgdr_mul >= 1, got {} and {}".format(base_len, mul))
    callback = lr_callbacks.EpochLearningRate(lambda epoch, lr: sgdr_learning_rate(epoch, max_lr, min_lr, base_len, mul),
                                              name="SGDR")
    return [callback], sgdr_num_epochs(base_len, mul)


def _clr(num_samples, batch_size, clr_step_len=None, clr_min_lr=None, clr_max_lr=None):
    from models import lr_callbacks

    step_len, min_lr, max_lr = _or(clr_step_len, 12), _or(clr_min_lr, 1e-5), _or(clr_max_lr, 0.1)
    step_size = step_len * max(1, num_samples // batch_size)
    if step_size < 1:
        raise ValueError("CLR step size must be at least one iteration, got {}".format(step_size))
    callback = lr_callbacks.BatchLearningRate(lambda iteration: clr_learning_rate(iteration, min_lr, max_lr, step_size),
                                              name="CLR")
    return [callback], step_len * CLR_NUM_STEPS


def _resnet(num_samples, batch_size):
    from models import lr_callbacks

    return [lr_callbacks.EpochLearningRate(lambda epoch, lr: resnet_learning_rate(epoch), name="ResNet-Schedule")], \
        RESNET_EPOCHS


def _or(value, default):
    return default if value is None else value


SCHEDULES = {
    "sgd": Schedule("SGD", _sgd, (
        Argument("--sgd_patience", int, None, "Patience of learning rate reduction in epochs (default: 10).",
                 metavar="EPOCHS"),
        Argument("--sgd_min_lr", float, None, "Minimum learning rate (default: 1e-4).", metavar="LR"),
        Argument("--sgd_schedule", str, None,
                 "Comma-separated list of `epoch:lr` pairs, defining a learning rate schedule (1-based epochs, e.g. "
                 "1:0.1,31:0.01,41:0.001,50). The total number of epochs can be appended to this list, separated by "
                 "a comma as well. Replaces the reduction on plateaus.", metavar="SCHEDULE"),
    )),
    "sgdr": Schedule("SGDR", _sgdr, (
        Argument("--sgdr_base_len", int, None, "Length of first cycle in epochs (default: 12).", metavar="EPOCHS"),
        Argument("--sgdr_mul", int, None, "Multiplier for cycle length after each cycle (default: 2).",
                 metavar="FACTOR"),
        Argument("--sgdr_max_lr", float, None, "Maximum learning rate (default: 0.1).", metavar="LR"),
    )),
    "clr": Schedule("CLR", _clr, (
        Argument("--clr_step_len", int, None, "Length of each step in epochs (default: 12).", metavar="EPOCHS"),
        Argument("--clr_min_lr", float, None, "Minimum learning rate (default: 1e-5).", metavar="LR"),
        Argument("--clr_max_lr", float, None, "Maximum learning rate (default: 0.1).", metavar="LR"),
    )),
    "resnet-schedule": Schedule("ResNet-Schedule", _resnet),
}
LR_SCHEDULES = [schedule.name for schedule in SCHEDULES.values()]

# The defaults of the schedules' arguments (None on the command line means these).
SCHEDULE_DEFAULTS = {"sgd_patience": 10, "sgd_min_lr": 1e-4, "sgdr_base_len": 12, "sgdr_mul": 2, "sgdr_max_lr": 0.1,
                     "sgdr_min_lr": 1e-6, "clr_step_len": 12, "clr_min_lr": 1e-5, "clr_max_lr": 0.1}


def get_schedule(name):
    """The `Schedule` called `name` (case-insensitive); ValueError listing the names otherwise."""
    try:
        return SCHEDULES[str(name).lower()]
    except KeyError:
        raise ValueError("unknown learning rate schedule {!r}; choose from {}".format(
            name, ", ".join(LR_SCHEDULES))) from None


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
    entry = get_schedule(schedule)
    args = dict(schedule_args or {})
    names = [n for n in inspect.signature(entry.make).parameters if n not in ("num_samples", "batch_size")]
    return entry.make(num_samples, batch_size, **{n: args.get(n) for n in names})


def add_lr_schedule_arguments(parser):
    """Add the original's command-line arguments of all learning-rate schedules to `parser`."""
    for key, entry in SCHEDULES.items():
        if not entry.arguments:
            continue
        group = parser.add_argument_group("Parameters for --lr_schedule={}".format(entry.name))
        if key == "sgd":  # the initial rate of every schedule that does not set its own (the original's place)
            group.add_argument("--sgd_lr", type=float, default=0.1, metavar="LR", help="Initial learning rate.")
        for argument in entry.arguments:
            argument.add_to(group)
    return parser


# The Keras classes of the schedules (models/lr_callbacks.py), importable from here as before.
_KERAS_NAMES = ("EpochLearningRate", "BatchLearningRate", "InverseTimeDecaySGD")


def __getattr__(name):
    if name in _KERAS_NAMES:
        from models import lr_callbacks

        return getattr(lr_callbacks, name)
    raise AttributeError("module 'models.schedules' has no attribute {!r}".format(name))
