"""Learning-rate schedules (models/schedules.py): formulas, the callbacks in a real `fit`, and decay."""

import argparse
import math

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from models import schedules as S  # noqa: E402


# ---------------------------------------------------------------------------
# Formulas
# ---------------------------------------------------------------------------


def original_sgdr_rates(num_epochs, min_lr=1e-6, max_lr=0.1, base_epochs=12, mul_epochs=2):
    """The original SGDR callback as a state machine: the learning rate in effect in each epoch."""
    cycles, cycle_iterations, lr, rates = 0, 0, max_lr, []
    for _ in range(num_epochs):
        rates.append(lr)
        cycle_iterations += 1
        if cycle_iterations >= base_epochs * mul_epochs**cycles:
            cycles, cycle_iterations, lr = cycles + 1, 0, max_lr
        else:
            cycle_epochs = base_epochs * mul_epochs**cycles
            lr = min_lr + 0.5 * (max_lr - min_lr) * (1 + np.cos(np.pi * (cycle_iterations + 1) / cycle_epochs))
    return rates


def test_sgdr_defaults_by_hand():
    callbacks, epochs = S.get_lr_schedule("SGDR", 1000, 100)
    assert epochs == 12 + 24 + 48 + 96 + 192 == 372
    assert len(callbacks) == 1
    lr = S.sgdr_learning_rate
    for restart in (0, 12, 36, 84, 180):
        assert lr(restart) == 0.1
    for cycle_end in (11, 35, 83, 179, 371):
        assert lr(cycle_end) == pytest.approx(1e-6)
    # Epoch 1 of the first cycle: min + (max - min) * (1 + cos(2 pi / 12)) / 2.
    assert lr(1) == pytest.approx(1e-6 + (0.1 - 1e-6) * (1 + math.cos(math.pi / 6)) / 2)
    # Middle of the second cycle (24 epochs): (i + 1) / L = 12 / 24 -> cos = 0 -> halfway.
    assert lr(12 + 11) == pytest.approx((0.1 + 1e-6) / 2)


@pytest.mark.parametrize("base_len, mul", [(12, 2), (3, 1), (5, 3)])
def test_sgdr_matches_the_original_state_machine(base_len, mul):
    expected = original_sgdr_rates(200, base_epochs=base_len, mul_epochs=mul, max_lr=0.5)
    got = [S.sgdr_learning_rate(e, 0.5, 1e-6, base_len, mul) for e in range(200)]
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_clr_triangle_by_hand():
    lr = lambda i: S.clr_learning_rate(i, min_lr=0.01, max_lr=0.11, step_size=10)  # noqa: E731
    assert [lr(0), lr(5), lr(10), lr(15), lr(20), lr(30), lr(40)] == pytest.approx(
        [0.01, 0.06, 0.11, 0.06, 0.01, 0.11, 0.01])
    # CLR defaults: step of 12 epochs of num_samples // batch_size iterations; 240 epochs.
    callbacks, epochs = S.get_lr_schedule("clr", 1050, 100)
    assert epochs == 240
    (clr,) = callbacks
    # min 1e-5, max 0.1, step size 12 * 10 iterations
    assert [clr.schedule(i) for i in (0, 60, 120, 180, 240)] == pytest.approx([1e-5, 0.050005, 0.1, 0.050005, 1e-5])


def test_resnet_schedule_by_hand():
    rates = [S.resnet_learning_rate(e) for e in (0, 1, 79, 80, 119, 120, 163)]
    assert rates == [0.01, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001]
    assert S.get_lr_schedule("ResNet-Schedule", 10, 1)[1] == 164


def test_sgd_schedule_string():
    points = S.parse_sgd_schedule("1:0.1,31:0.01,41:0.001,50")
    assert points == [(0, 0.1), (30, 0.01), (40, 0.001), (49, None)]
    rates, lr = [], 7.0
    for epoch in range(50):  # as in training: each epoch starts from the previous epoch's rate
        lr = S.sgd_schedule_learning_rate(points, epoch, current_lr=lr)
        rates.append(lr)
    assert rates == [0.1] * 30 + [0.01] * 10 + [0.001] * 10
    _, epochs = S.get_lr_schedule("SGD", 100, 10, {"sgd_schedule": "1:0.1,31:0.01,41:0.001,50"})
    assert epochs == 50
    # Before the first point the current rate is kept; a point without a rate only sets the epochs,
    # so the last rate given stays (also for a run resumed there, whose current rate is the initial one).
    late = S.parse_sgd_schedule("5:0.2,8")
    assert [S.sgd_schedule_learning_rate(late, e, 0.3) for e in (0, 3, 4, 7, 9)] == [0.3, 0.3, 0.2, 0.2, 0.2]


def test_sgd_schedule_epoch_without_rate_at_the_last_point():
    """Issue 12 #10: `1:0.1,2:0.05,3:0.02,3` runs epoch 3 at 0.02 and trains 3 epochs (the original's parser
    sorted `(2, None)` before `(2, 0.02)`, so the rate of epoch 3 won)."""
    points = S.parse_sgd_schedule("1:0.1,2:0.05,3:0.02,3")
    assert [S.sgd_schedule_learning_rate(points, e, 7.0) for e in range(3)] == [0.1, 0.05, 0.02]
    assert S.get_lr_schedule("SGD", 100, 10, {"sgd_schedule": "1:0.1,2:0.05,3:0.02,3"})[1] == 3
    assert S.get_lr_schedule("SGD", 100, 10, {"sgd_schedule": "3,1:0.1"})[1] == 3


@pytest.mark.parametrize("text", ["", "a:0.1", "1:0.1:3", "0:0.1", "3:-1", "2:nan"])
def test_bad_sgd_schedule_is_rejected(text):
    with pytest.raises(ValueError, match="--sgd_schedule"):
        S.parse_sgd_schedule(text)


def test_sgd_plateau_defaults():
    (plateau,), epochs = S.get_lr_schedule("sgd", 100, 10, {"sgd_schedule": None, "sgd_patience": None})
    assert epochs == 200
    assert isinstance(plateau, keras.callbacks.ReduceLROnPlateau)
    assert (plateau.monitor, plateau.patience, plateau.min_lr, plateau.factor) == ("val_loss", 10, 1e-4, 0.1)
    (plateau,), _ = S.get_lr_schedule("SGD", 100, 10, {"sgd_patience": 3, "sgd_min_lr": 1e-3})
    assert (plateau.patience, plateau.min_lr) == (3, 1e-3)


def test_unknown_schedule_is_rejected():
    with pytest.raises(ValueError, match="unknown learning rate schedule 'cosine'"):
        S.get_lr_schedule("cosine", 100, 10)


def test_schedule_arguments_are_those_of_the_original():
    parser = S.add_lr_schedule_arguments(argparse.ArgumentParser())
    args = vars(parser.parse_args([]))
    assert args == {
        "sgd_patience": None, "sgd_lr": 0.1, "sgd_min_lr": None, "sgd_schedule": None,
        "sgdr_base_len": None, "sgdr_mul": None, "sgdr_max_lr": None,
        "clr_step_len": None, "clr_min_lr": None, "clr_max_lr": None,
    }


def test_inverse_time_decay_reaches_max_decay():
    decay = S.inverse_time_decay(0.1, steps_per_epoch=10, epochs=5)
    assert decay == pytest.approx(9 / 50)
    assert 1 / (1 + decay * 50) == pytest.approx(0.1)
    assert S.inverse_time_decay(0.0, 10, 5) == 0.0
    with pytest.raises(ValueError, match="--max_decay"):
        S.inverse_time_decay(2.0, 10, 5)


# ---------------------------------------------------------------------------
# The callbacks in a real `fit`
# ---------------------------------------------------------------------------


class RecordLR(keras.callbacks.Callback):
    """Records the learning rate used by every batch."""

    def __init__(self):
        super().__init__()
        self.rates = []

    def on_train_batch_begin(self, batch, logs=None):
        self.rates.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))


def fit_and_record(callbacks, epochs, initial_epoch=0, num_samples=12, batch_size=4):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(num_samples, 3)).astype(np.float32)
    y = rng.normal(size=(num_samples, 2)).astype(np.float32)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(S.InverseTimeDecaySGD(0.5), "mse")
    record = RecordLR()
    model.fit(x, y, batch_size=batch_size, epochs=epochs, initial_epoch=initial_epoch,
              callbacks=callbacks + [record], verbose=0)
    return record.rates


def test_sgdr_callback_sets_the_formula_each_epoch_and_on_resume():
    callbacks, _ = S.get_lr_schedule("SGDR", 12, 4, {"sgdr_base_len": 2, "sgdr_mul": 2, "sgdr_max_lr": 0.2})
    rates = fit_and_record(callbacks, epochs=7)
    expected = [S.sgdr_learning_rate(e, 0.2, 1e-6, 2, 2) for e in range(7) for _ in range(3)]
    np.testing.assert_allclose(rates, expected, rtol=1e-6)
    # Resumed at epoch 4: the schedule continues from the absolute epoch.
    callbacks, _ = S.get_lr_schedule("SGDR", 12, 4, {"sgdr_base_len": 2, "sgdr_mul": 2, "sgdr_max_lr": 0.2})
    np.testing.assert_allclose(fit_and_record(callbacks, epochs=7, initial_epoch=4), expected[12:], rtol=1e-6)


def test_clr_callback_sets_the_formula_each_batch_and_on_resume():
    # 12 samples, batch 4: 3 iterations per epoch; clr_step_len 1 epoch -> step size 3 iterations.
    args = {"clr_step_len": 1, "clr_min_lr": 0.01, "clr_max_lr": 0.07}
    rates = fit_and_record(S.get_lr_schedule("CLR", 12, 4, args)[0], epochs=4)
    expected = [S.clr_learning_rate(i, 0.01, 0.07, 3) for i in range(12)]
    np.testing.assert_allclose(rates, expected, rtol=1e-6)
    assert rates[:7] == pytest.approx([0.01, 0.03, 0.05, 0.07, 0.05, 0.03, 0.01])
    np.testing.assert_allclose(fit_and_record(S.get_lr_schedule("CLR", 12, 4, args)[0], epochs=4, initial_epoch=2),
                               expected[6:], rtol=1e-6)


def test_clr_rates_are_the_ones_the_training_steps_use():
    """Not only what the callback reads back: w = 0 with gradient 1 moves by exactly the sum of the rates."""
    x, y = np.ones((24, 1), np.float32), np.zeros((24, 1), np.float32)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")])
    model.compile(keras.optimizers.SGD(0.5), loss=lambda target, prediction: keras.ops.mean(prediction))
    callbacks, _ = S.get_lr_schedule("CLR", 12, 4, {"clr_step_len": 1, "clr_min_lr": 0.01, "clr_max_lr": 0.07})
    model.fit(x, y, batch_size=4, epochs=1, callbacks=callbacks, shuffle=False, verbose=0)
    # 6 batches, step size 3: 0.01, 0.03, 0.05, 0.07, 0.05, 0.03 (a rate stuck at 0.01 would give 0.06)
    assert -float(model.get_weights()[0][0, 0]) == pytest.approx(0.24, rel=1e-5)


def test_sgd_schedule_callback_in_fit():
    callbacks, epochs = S.get_lr_schedule("SGD", 12, 4, {"sgd_schedule": "2:0.05,4:0.01,5"})
    rates = fit_and_record(callbacks, epochs=epochs)
    # Epoch 1 keeps the optimizer's initial 0.5 (no point before epoch 2).
    assert rates == pytest.approx([0.5] * 3 + [0.05] * 6 + [0.01] * 6)


def test_decayed_sgd_steps_by_hand():
    """w = 0, gradient 1, lr 0.1, decay 0.5, no momentum: steps of 0.1 / (1 + 0.5 t)."""
    w = keras.Variable(0.0)
    optimizer = S.InverseTimeDecaySGD(0.1, decay=0.5)
    steps = []
    for _ in range(4):
        before = float(w.numpy())
        optimizer.apply([keras.ops.ones(())], [w])
        steps.append(before - float(w.numpy()))
    np.testing.assert_allclose(steps, [0.1, 0.1 / 1.5, 0.1 / 2, 0.1 / 2.5], rtol=1e-6)
    assert float(optimizer.learning_rate.numpy()) == pytest.approx(0.1)  # the base rate the callbacks see
    config = optimizer.get_config()
    assert config["decay"] == 0.5
    assert S.InverseTimeDecaySGD.from_config(config).decay == 0.5


def test_decayed_sgd_with_momentum_and_clipping_matches_a_loop():
    """Momentum 0.9 and clipnorm 1 on a constant gradient of norm 2: the literal update loop."""
    w = keras.Variable(np.zeros(2, np.float32))
    optimizer = S.InverseTimeDecaySGD(0.1, decay=0.2, momentum=0.9, clipnorm=1.0)
    grad = np.array([2.0, 0.0], np.float32)
    velocity, expected = np.zeros(2), np.zeros(2)
    for t in range(5):
        optimizer.apply([keras.ops.convert_to_tensor(grad)], [w])
        clipped = grad / np.linalg.norm(grad)
        velocity = 0.9 * velocity - 0.1 / (1 + 0.2 * t) * clipped
        expected = expected + velocity
    np.testing.assert_allclose(w.numpy(), expected, rtol=1e-5)


def test_logged_learning_rate_is_the_applied_one_with_max_decay():
    """Issue 13 #4: with inverse-time decay the logs (progress bar, TensorBoard) show the step size the last
    update of the epoch really used, not the base rate. w = 0, gradient 1, no momentum: each update moves w
    by exactly its step size, so the movement of the epoch's last step is the truth."""
    from models.lr_callbacks import LogAppliedLearningRate

    x, y = np.ones((8, 1), np.float32), np.zeros((8, 1), np.float32)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")])
    model.compile(S.InverseTimeDecaySGD(0.1, decay=0.5), loss=lambda target, prediction: keras.ops.mean(prediction))

    class LastStep(keras.callbacks.Callback):
        """Records the movement of w in the last batch of each epoch, and the logs a later callback sees."""

        def __init__(self):
            super().__init__()
            self.moves, self.logged = [], []

        def on_train_batch_begin(self, batch, logs=None):
            self.before = float(self.model.get_weights()[0][0, 0])

        def on_train_batch_end(self, batch, logs=None):
            self.move = self.before - float(self.model.get_weights()[0][0, 0])

        def on_epoch_end(self, epoch, logs=None):
            self.moves.append(self.move)
            self.logged.append(logs["learning_rate"])

    record = LastStep()
    history = model.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0,
                        callbacks=[LogAppliedLearningRate(), record])
    # 2 steps per epoch; the last step of epoch e is update 2e + 1: 0.1 / (1 + 0.5 (2e + 1))
    expected = [0.1 / (1 + 0.5 * (2 * e + 1)) for e in range(3)]
    np.testing.assert_allclose(record.moves, expected, rtol=1e-5)
    np.testing.assert_allclose(record.logged, expected, rtol=1e-6)
    np.testing.assert_allclose(history.history["learning_rate"], expected, rtol=1e-6)
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(0.1)  # the base rate is untouched
