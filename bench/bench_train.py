#!/usr/bin/env python
"""Training throughput per architecture: images/s and achieved TFLOP/s at 32x32.

For each architecture, times training steps (SGD with momentum, softmax cross-entropy) after warm-up
steps that compile the step. `--mode fit` (the default) runs `model.fit` over batches from host
memory, as `learn_image_embeddings.py` trains: batches are copied to the device and steps are
dispatched asynchronously, so the figure is the sustained rate (the median of `--repeats` timed
epochs of `--steps` steps). `--mode batch` times single `train_on_batch` calls (one batch kept on the
device, the host waits for each step). Medians keep the figures usable on a machine shared with
other jobs. Achieved TFLOP/s counts 3x the forward FLOPs of the convolutions and dense layers
(`models.flops.forward_flops`). The reference measured in the same run (before and after the
models, the better one counts) is a large square matrix product in the same dtype, the practical
peak of the device: the ratio column is the fraction of it that training reaches. `--profile` adds
a breakdown of device time per operation (JAX backend, see `bench/profile_step.py`).

    python bench/bench_train.py                                   # CPU, float32, TensorFlow
    KERAS_BACKEND=jax python bench/bench_train.py --dtype bfloat16 --batch_size 512 --steps 30
    KERAS_BACKEND=jax python bench/bench_train.py --architectures resnet-110-wfc --dtype bfloat16 --profile
    python bench/bench_train.py --markdown                        # table for BENCHMARKS.md
"""

import argparse
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

DEFAULT_ARCHITECTURES = ("simple", "resnet-110-wfc", "wrn-28-10")
DTYPE_POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--architectures", type=str, default=",".join(DEFAULT_ARCHITECTURES),
                        help="Comma-separated architecture names.")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--mode", choices=("fit", "batch"), default="fit",
                        help="fit: sustained rate of model.fit; batch: median single train_on_batch step.")
    parser.add_argument("--steps", type=int, default=5,
                        help="Timed training steps (fit: per timed epoch) per architecture.")
    parser.add_argument("--repeats", type=int, default=3, help="fit: timed epochs; the median counts.")
    parser.add_argument("--warmup", type=int, default=2, help="Untimed steps first (compilation).")
    parser.add_argument("--steps_per_execution", type=int, default=1,
                        help="fit: training steps per call of the compiled step function.")
    parser.add_argument("--profile", action="store_true",
                        help="Print device time per operation for a few steps (JAX backend only).")
    parser.add_argument("--image_size", type=int, default=32)
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--dtype", choices=sorted(DTYPE_POLICIES), default="float32",
                        help="Compute dtype (bfloat16/float16: mixed precision, float32 variables).")
    parser.add_argument("--matmul_size", type=int, default=None,
                        help="Size n of the n x n reference matrix product (default: 2048 on CPU, 8192 on GPU).")
    parser.add_argument("--markdown", action="store_true", help="Print the table as Markdown.")
    args = parser.parse_args(argv)
    for name in ("batch_size", "steps", "repeats", "image_size", "classes", "steps_per_execution"):
        if getattr(args, name) < 1:
            parser.error("--{} must be positive, got {}".format(name, getattr(args, name)))
    return args


def _sync(x):
    """Wait for the device: bring one number back to the host."""
    import keras

    return float(keras.ops.convert_to_numpy(keras.ops.sum(x[:1, :1])))


def matmul_tflops(n, dtype, seconds=2.0):
    """Achieved TFLOP/s of an n x n x n matrix product in `dtype` (the reference): the median of
    about `seconds` worth of single products, each timed to completion."""
    import keras

    rng = np.random.default_rng(0)
    a = keras.ops.cast(keras.ops.convert_to_tensor(rng.standard_normal((n, n), dtype=np.float32)), dtype)
    b = keras.ops.cast(keras.ops.convert_to_tensor(rng.standard_normal((n, n), dtype=np.float32)), dtype)
    _sync(keras.ops.matmul(a, b))  # warm-up
    times = []
    while sum(times) < seconds or len(times) < 3:
        start = time.perf_counter()
        _sync(keras.ops.matmul(a, b))
        times.append(time.perf_counter() - start)
    return 2.0 * n**3 / float(np.median(times)) / 1e12


def _time_batches(model, x, y, args, name):
    """Median seconds of single `train_on_batch` steps on one device-resident batch."""
    import keras
    from tqdm import tqdm

    x = keras.ops.convert_to_tensor(x[: args.batch_size])
    y = keras.ops.convert_to_tensor(y[: args.batch_size])
    for _ in range(args.warmup):
        model.train_on_batch(x, y)
    step_seconds = []
    for _ in tqdm(range(args.steps), desc=name, leave=False, file=sys.stderr):
        start = time.perf_counter()
        loss = model.train_on_batch(x, y)  # returns a host float: the step has finished
        step_seconds.append(time.perf_counter() - start)
    if not np.isfinite(loss):
        raise RuntimeError("{}: training diverged (loss {})".format(name, loss))
    return float(np.median(step_seconds))


def _fit(model, x, y, batch_size, steps):
    """One `model.fit` epoch of `steps` batches of the host arrays; returns the last loss."""
    n = steps * batch_size
    history = model.fit(x[:n], y[:n], batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    return history.history["loss"][-1]


def _time_fit(model, x, y, args, name):
    """Seconds per step of `model.fit` epochs over host batches, the median of `args.repeats` epochs."""
    from tqdm import tqdm

    _fit(model, x, y, args.batch_size, max(args.warmup, args.steps_per_execution))  # compiles the step
    epoch_seconds = []
    for _ in tqdm(range(args.repeats), desc=name, leave=False, file=sys.stderr):
        start = time.perf_counter()
        # fit ends by bringing the weights back: the steps have finished
        loss = _fit(model, x, y, args.batch_size, args.steps)
        epoch_seconds.append(time.perf_counter() - start)
    if not np.isfinite(loss):
        raise RuntimeError("{}: training diverged (loss {})".format(name, loss))
    return float(np.median(epoch_seconds)) / args.steps


def bench_architecture(name, args):
    """Images/s, forward GFLOPs per image, parameter count of training `name`."""
    import keras

    from models import build_network
    from models.flops import forward_flops

    keras.utils.clear_session()
    shape = (args.image_size, args.image_size, 3)
    model = build_network(args.classes, name, classification=True, input_shape=shape)
    flops = forward_flops(model)
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), loss="categorical_crossentropy",
                  steps_per_execution=args.steps_per_execution)
    rng = np.random.default_rng(0)
    n = max(args.steps, args.warmup, args.steps_per_execution) * args.batch_size
    x = rng.uniform(size=(n,) + shape).astype("float32")
    y = np.eye(args.classes, dtype="float32")[rng.integers(0, args.classes, n)]
    seconds = (_time_fit if args.mode == "fit" else _time_batches)(model, x, y, args, name)
    if args.profile:
        from profile_step import print_profile, trace_steps

        if args.mode != "fit":
            _fit(model, x, y, args.batch_size, 1)  # compiles the fit step
        steps = min(args.steps, 10)
        print("== {} ==".format(name))
        print_profile(trace_steps(lambda: _fit(model, x, y, args.batch_size, steps), steps))
    return args.batch_size / seconds, flops / 1e9, model.count_params()


def device_description():
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        return backend, device.platform, getattr(device, "device_kind", str(device))
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return backend, "gpu", details.get("device_name", gpus[0].name)
    return backend, "cpu", "{} ({} cores)".format(platform.processor() or platform.machine(), os.cpu_count())


def main(argv=None):
    args = parse_args(argv)
    import keras

    from models import ARCHITECTURES

    names = [n.strip() for n in args.architectures.split(",") if n.strip()]
    unknown = [n for n in names if n not in ARCHITECTURES]
    if unknown:
        sys.exit("error: unknown architecture(s) {}; available: {}".format(", ".join(unknown), ", ".join(ARCHITECTURES)))
    if args.profile and keras.backend.backend() != "jax":
        sys.exit("error: --profile needs the JAX backend (KERAS_BACKEND=jax), not {}".format(keras.backend.backend()))
    keras.config.set_dtype_policy(DTYPE_POLICIES[args.dtype])
    backend, platform_name, device = device_description()
    n = args.matmul_size or (2048 if platform_name == "cpu" else 8192)
    compute_dtype = "float32" if args.dtype == "float32" else args.dtype
    reference_before = matmul_tflops(n, compute_dtype)

    measured = [(name,) + bench_architecture(name, args) for name in names]
    # the reference is measured before and after the models; the better of the two is the peak
    reference = max(reference_before, matmul_tflops(n, compute_dtype))
    rows = []
    for name, images_per_s, gflops, params in measured:
        achieved = 3 * gflops * images_per_s / 1e3
        rows.append((name, params / 1e6, gflops, images_per_s, achieved, achieved / reference))

    header = ("architecture", "params (M)", "fwd GFLOP/img", "train img/s", "achieved TFLOP/s", "ratio vs matmul")
    title = "backend={} device={} ({}) dtype={} batch={} size={}x{} steps={}; reference: {}^3 matmul = {:.3f} TFLOP/s".format(
        backend, platform_name, device, args.dtype, args.batch_size, args.image_size, args.image_size, args.steps,
        n, reference)
    print(title)
    print("mode={} steps_per_execution={}".format(args.mode, args.steps_per_execution))
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|")
        for r in rows:
            print("| {} | {:.2f} | {:.3f} | {:.1f} | {:.4f} | {:.3f} |".format(*r))
    else:
        print("{:<20}{:>12}{:>15}{:>13}{:>18}{:>17}".format(*header))
        for r in rows:
            print("{:<20}{:>12.2f}{:>15.3f}{:>13.1f}{:>18.4f}{:>17.3f}".format(*r))


if __name__ == "__main__":
    main()
