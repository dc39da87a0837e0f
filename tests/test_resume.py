"""Exact resume (issue 12 items 9, 14, 20, 21): a run killed after its first snapshot and resumed from it ends
with the weights of the uninterrupted run (same seed, CPU, float tolerance), with shuffled, augmented batches;
the snapshot's epoch and class order are checked; stale temp files go; unwritable outputs fail upfront."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import learn_image_embeddings as LIE  # noqa: E402
import models  # noqa: E402,F401
from conftest import REPO_ROOT  # noqa: E402
from models.model_info import read_class_ids, read_model_info  # noqa: E402
from test_evaluate_classification import write_colour_cifar10  # noqa: E402
from test_training_cli import one_line_error  # noqa: E402

EPOCHS = 4


def command(cifar, *extra):
    # CIFAR-10 batches are shuffled by the sequence and augmented (shifts, flips); SGDR and --max_decay
    # depend on the epoch and the step: all of it must continue where the killed run stopped.
    return [sys.executable, os.path.join(REPO_ROOT, "learn_image_embeddings.py"), "--dataset", "CIFAR-10",
            "--data_root", str(cifar), "--embedding", "onehot", "--architecture", "simple", "--architecture_kwargs",
            '{"filters": [8, "ap", 16, "gap", "fc16"]}', "--cls_weight", "0.1", "--batch_size", "8",
            "--read_workers", "1", "--seed", "3", "--no_progress", "--epochs", str(EPOCHS), "--lr_schedule", "SGDR",
            "--sgdr_base_len", "2", "--max_decay", "0.1", *map(str, extra)]


def start(args):
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, TF_CPP_MIN_LOG_LEVEL="3", KERAS_BACKEND="tensorflow",
               CUDA_VISIBLE_DEVICES="")
    return subprocess.Popen(args, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process):
    out, err = process.communicate(timeout=900)
    assert process.returncode == 0, err[-4000:]
    return out


def test_killed_run_resumed_from_its_snapshot_ends_as_the_uninterrupted_one(tmp_path):
    cifar = tmp_path / "cifar"
    write_colour_cifar10(cifar, train_per_class=30)  # 300 images: 38 steps per epoch
    full = start(command(cifar, "--snapshot", tmp_path / "full_snap.keras", "--model_dump", tmp_path / "full.keras"))
    snapshot = tmp_path / "snap.keras"
    killed = start(command(cifar, "--snapshot", snapshot))
    deadline = time.time() + 900
    while not snapshot.exists() and killed.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    killed.send_signal(signal.SIGKILL)  # right after its first snapshot
    killed.communicate()
    epoch = read_model_info(str(snapshot))["epoch"]
    if epoch >= EPOCHS:
        pytest.skip("the run finished before it could be killed")
    stale = tmp_path / ".tmp-abc123-snap.keras"  # as a kill inside the snapshot write leaves it
    stale.write_bytes(b"half a model")
    resumed = start(command(cifar, "--snapshot", snapshot, "--initial_epoch", epoch,
                            "--model_dump", tmp_path / "resumed.keras"))
    out = finish(resumed)
    finish(full)
    assert "Resuming from snapshot" in out and not stale.exists()
    reference = keras.models.load_model(tmp_path / "full.keras", compile=False)
    result = keras.models.load_model(tmp_path / "resumed.keras", compile=False)
    assert len(reference.weights) == len(result.weights)
    for a, b in zip(reference.weights, result.weights):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-4, atol=1e-5, err_msg=a.path)
    assert read_model_info(str(tmp_path / "resumed.keras"))["epoch"] == EPOCHS
    assert read_class_ids(str(tmp_path / "resumed.keras")) == list(range(10))
    # The snapshot holds `epoch` epochs: another --initial_epoch is a one-line error, not a silent retraining.
    mismatch = subprocess.run(command(cifar, "--snapshot", snapshot, "--initial_epoch", 0), cwd=REPO_ROOT,
                              env=dict(os.environ, PYTHONPATH=REPO_ROOT, TF_CPP_MIN_LOG_LEVEL="3"),
                              capture_output=True, text=True, timeout=600)
    assert mismatch.returncode == 1 and "Traceback" not in mismatch.stderr
    assert "holds the model after epoch {}: resume with --initial_epoch {}".format(EPOCHS, EPOCHS) in mismatch.stderr


def test_epochs_and_outputs_are_checked_before_training(tmp_path, capsys):
    base = ["--dataset", "digits", "--embedding", "onehot", "--architecture_kwargs", '{"filters": [4, "gap", "fc8"]}']
    assert "--initial_epoch 5 is not below --epochs 3" in one_line_error(capsys, *base, "--initial_epoch", "5",
                                                                          "--epochs", "3")
    # suggested by the schedule: SGDR with cycles of 1 and 2 epochs x 5 cycles... = 31 epochs
    assert "is not below --epochs 31" in one_line_error(capsys, *base, "--sgdr_base_len", "1", "--initial_epoch",
                                                       "40")
    try:  # root writes into a mode-555 directory; /sys refuses even root
        open("/sys/.write-probe", "w").close()
        os.remove("/sys/.write-probe")
        pytest.skip("needs a directory that not even root can write to")
    except OSError:
        pass
    start_time = time.time()
    line = one_line_error(capsys, *base, "--snapshot", "/sys/snap.keras")
    assert "--snapshot /sys/snap.keras: cannot write to /sys" in line
    assert time.time() - start_time < 60  # before training, not after the first epoch


def test_feature_and_model_dumps_carry_the_class_order(tmp_path):
    from models.training import train

    import utils

    embedding = np.eye(10)[[3, 1, 4, 0, 5, 9, 2, 6, 8, 7]]  # classes in another order than 0..9
    ids = [3, 1, 4, 0, 5, 9, 2, 6, 8, 7]
    utils.save_class_embedding(str(tmp_path / "emb.npz"), embedding, ids)
    result = train("digits", str(tmp_path / "emb.npz"), architecture_kwargs={"filters": [4, "gap", "fc8"]},
                   epochs=1, batch_size=500, lr_schedule="SGD", read_workers=1, seed=0, verbose=0,
                   model_dump=str(tmp_path / "m.keras"), feature_dump=str(tmp_path / "f.pickle"))
    assert result.class_ids == ids
    assert read_class_ids(str(tmp_path / "m.keras")) == ids
    assert utils.load_feature_class_ids(str(tmp_path / "f.pickle")) == ids
    assert read_model_info(str(tmp_path / "m.keras"))["loss"] == "inv_corr"
