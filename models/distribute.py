"""Devices and distribution: replicas, data-parallel batches, mixed precision, the chief process.

Used by `learn_image_embeddings.py` (through `models.training`, which re-exports every name).
"""

import contextlib
import json
import os

import keras
import numpy as np


def configure_devices(gpus):
    """Prepare `gpus` replicas; returns a context manager to build and compile the model in.

    Call before any computation has run. On TensorFlow the model goes into a
    `tf.distribute.MirroredStrategy` over the first `gpus` GPUs, or a
    `MultiWorkerMirroredStrategy` when `TF_CONFIG` describes a cluster. On JAX,
    `keras.distribution.DataParallel` over the first `gpus` devices is set globally (multi-process
    runs: set the `KERAS_DISTRIBUTION_*` variables read by `keras.distribution.initialize`).
    Without any GPU, `gpus > 1` splits the CPU into that many logical devices (TensorFlow) or uses
    the host devices from `XLA_FLAGS=--xla_force_host_platform_device_count` (JAX), so the
    multi-replica code path can be run and tested anywhere.
    """
    if gpus < 1:
        raise ValueError("--gpus must be at least 1, got {}".format(gpus))
    backend = keras.backend.backend()
    if backend == "tensorflow":
        return _tensorflow_strategy_scope(gpus)
    if backend == "jax":
        _jax_data_parallel(gpus)
        return contextlib.nullcontext()
    if gpus > 1:
        raise ValueError("--gpus > 1 needs the tensorflow or jax backend, not {}".format(backend))
    return contextlib.nullcontext()


def _tensorflow_strategy_scope(gpus):
    import tensorflow as tf  # only the device placement touches TensorFlow directly

    if os.environ.get("TF_CONFIG"):
        return tf.distribute.MultiWorkerMirroredStrategy().scope()
    if gpus == 1:
        return contextlib.nullcontext()
    physical = tf.config.list_physical_devices("GPU")
    if physical:
        if len(physical) < gpus:
            raise ValueError("--gpus {} requested, but only {} GPU(s) found".format(gpus, len(physical)))
        devices = ["/gpu:{}".format(i) for i in range(gpus)]
    else:
        cpus = tf.config.list_physical_devices("CPU")
        try:
            tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * gpus)
        except RuntimeError:
            pass  # already configured (e.g. by an earlier call in this process)
        logical = tf.config.list_logical_devices("CPU")
        if len(logical) < gpus:
            raise ValueError("--gpus {}: no GPU found and only {} CPU device(s) available".format(gpus, len(logical)))
        devices = ["/cpu:{}".format(i) for i in range(gpus)]
    return tf.distribute.MirroredStrategy(devices).scope()


def _jax_data_parallel(gpus):
    import jax

    if any(os.environ.get(v) for v in ("KERAS_DISTRIBUTION_JOB_ADDRESSES", "KERAS_DISTRIBUTION_NUM_PROCESSES")):
        keras.distribution.initialize()
        devices = keras.distribution.list_devices()
    elif gpus == 1:
        return
    else:
        # Host devices for a GPU-less run; only effective if JAX has not been initialized yet.
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_force_host_platform_device_count" not in flags:
            os.environ["XLA_FLAGS"] = (flags + " --xla_force_host_platform_device_count={}".format(gpus)).strip()
        devices = [d for d in jax.devices() if d.platform != "cpu"] or jax.devices("cpu")
        if len(devices) < gpus:
            raise ValueError(
                "--gpus {} requested, but JAX sees {} device(s) (on CPU set "
                "XLA_FLAGS=--xla_force_host_platform_device_count={})".format(gpus, len(devices), gpus)
            )
        devices = devices[:gpus]
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))


class ReplicaPaddedBatches(keras.utils.PyDataset):
    """Batches of `sequence` padded to a multiple of `replicas` rows, the padding weighted zero.

    Data-parallel replicas need equal shares of every batch; a data set rarely splits evenly into
    batches, so the last one is filled up with copies of its last sample. Training and evaluation
    batches become `(x, y, sample_weight)` with weight 0 on the copies; with `inputs_only` the
    batches are just `x` (for `predict`: drop the rows beyond the data set's size afterwards).
    """

    def __init__(self, sequence, replicas, inputs_only=False):
        super().__init__(workers=sequence.workers, use_multiprocessing=sequence.use_multiprocessing,
                         max_queue_size=sequence.max_queue_size)
        self.sequence, self.replicas, self.inputs_only = sequence, int(replicas), inputs_only

    def __len__(self):
        return len(self.sequence)

    def __getitem__(self, idx):
        x, y = self.sequence[idx][:2]
        size = len(x)
        pad = -size % self.replicas
        x = _pad_rows(x, pad)
        if self.inputs_only:
            return (x,)
        weight = np.ones(size + pad, dtype=np.float32)
        weight[size:] = 0
        y = tuple(_pad_rows(t, pad) for t in y) if isinstance(y, (tuple, list)) else _pad_rows(y, pad)
        return x, y, weight

    def on_epoch_end(self):
        self.sequence.on_epoch_end()


def _pad_rows(array, pad):
    array = np.asarray(array)
    return np.concatenate([array, np.repeat(array[-1:], pad, axis=0)]) if pad else array


def for_replicas(sequence, inputs_only=False):
    """`sequence` as is on one replica, else wrapped in `ReplicaPaddedBatches`."""
    replicas = num_replicas()
    if replicas > 1 and sequence.batch_size % replicas:
        raise ValueError("batch size {} is not divisible by the {} replicas (--gpus)".format(sequence.batch_size, replicas))
    if replicas == 1 and not inputs_only:
        return sequence
    return ReplicaPaddedBatches(sequence, replicas, inputs_only)


def num_replicas():
    """Number of model replicas a global batch is split over."""
    distribution = keras.distribution.distribution() if keras.backend.backend() == "jax" else None
    if distribution is not None:
        return int(np.prod(distribution.device_mesh.shape))
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.distribute.get_strategy().num_replicas_in_sync
    return 1


def sync_replica_variables(model):
    """Average the non-trainable variables (BatchNorm moving statistics) over the local replicas.

    Keras 3 creates them with aggregation 'none', so under `MirroredStrategy` each replica updates
    its own copy with the statistics of its share of the batch and the copies drift apart: a
    prediction would depend on which replica served the sample, and a saved model would keep
    replica 0's copy. Averaging restores one set of statistics, as the original's single template
    model had. (Across machines with `MultiWorkerMirroredStrategy` only the local copies are
    averaged.) No-op without TensorFlow replicas.
    """
    if keras.backend.backend() != "tensorflow":
        return
    import tensorflow as tf

    for variable in model.non_trainable_variables:
        copies = getattr(getattr(variable, "value", None), "values", None)
        if copies is None or len(copies) < 2:
            continue
        mean = tf.add_n([tf.convert_to_tensor(c) for c in copies]) / len(copies)
        for copy in copies:
            copy.assign(tf.cast(mean, copy.dtype))


class SyncReplicaStatistics(keras.callbacks.Callback):
    """Runs `sync_replica_variables` before every evaluation or prediction and after every epoch.

    Put it first among the callbacks, so that snapshots see the averaged statistics.
    """

    def on_test_begin(self, logs=None):
        sync_replica_variables(self.model)

    def on_predict_begin(self, logs=None):
        sync_replica_variables(self.model)

    def on_epoch_end(self, epoch, logs=None):
        sync_replica_variables(self.model)


def is_chief():
    """Whether this process writes the outputs (always, unless a multi-worker cluster is configured)."""
    try:
        task = json.loads(os.environ.get("TF_CONFIG") or "{}").get("task", {})
    except ValueError:
        return True
    if task.get("type") in (None, "chief"):
        return True
    cluster = json.loads(os.environ["TF_CONFIG"]).get("cluster", {})
    return task.get("type") == "worker" and task.get("index", 0) == 0 and "chief" not in cluster


def set_mixed_precision(mode):
    """Apply `--mixed_precision`: 'auto', a policy name, or None.

    'auto' picks bfloat16 on CPUs and on GPUs that compute in it natively (compute capability 8.0
    and newer: A100, H100, ...), where it needs no loss scaling, and float16 on older GPUs.
    """
    if not mode:
        return None
    if mode == "auto":
        capability = gpu_compute_capability()
        mode = "mixed_float16" if capability is not None and capability < (8, 0) else "mixed_bfloat16"
    if mode not in ("mixed_float16", "mixed_bfloat16"):
        raise ValueError("--mixed_precision must be mixed_float16 or mixed_bfloat16, got {!r}".format(mode))
    keras.mixed_precision.set_dtype_policy(mode)
    return mode


def gpu_compute_capability():
    """The lowest CUDA compute capability `(major, minor)` of the visible GPUs; None without GPUs."""
    backend = keras.backend.backend()
    capabilities = []
    if backend == "tensorflow":
        import tensorflow as tf

        for gpu in tf.config.list_physical_devices("GPU"):
            capabilities.append(tuple(tf.config.experimental.get_device_details(gpu).get("compute_capability", (0, 0))))
    elif backend == "jax":
        import jax

        for device in jax.devices():
            if device.platform == "gpu":
                major, _, minor = str(getattr(device, "compute_capability", "0.0")).partition(".")
                capabilities.append((int(major), int(minor or 0)))
    return min(capabilities) if capabilities else None
