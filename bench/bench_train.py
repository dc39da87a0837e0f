#!/usr/bin/env python
"""Training throughput per architecture: images/s and achieved TFLOP/s at 32x32.

For each architecture, times `train_on_batch` steps (SGD with momentum, softmax cross-entropy, one
batch kept on the device) after warm-up steps that compile the step. Achieved TFLOP/s counts
3x the forward FLOPs of the convolutions and dense layers (`models.flops.forward_flops`). The
reference measured in the same run (before and after the models, the better one counts) is a large
square matrix product in the same dtype, the practical peak of the device: the ratio column is the
fraction of it that training reaches. Times are medians over single steps, which keeps the
figures usable on a machine shared with other jobs.

    python bench/bench_train.py                                   # CPU, float32, TensorFlow
    KERAS_BACKEND=jax python bench/bench_train.py --dtype bfloat16 --batch_size 128 --steps 50
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
    parser.add_argument("--steps", type=int, default=5, help="Timed training steps per architecture.")
    parser.add_argument("--warmup", type=int, default=2, help="Untimed steps first (compilation).")
    parser.add_argument("--image_size", type=int, default=32)
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--dtype", choices=sorted(DTYPE_POLICIES), default="float32",
                        help="Compute dtype (bfloat16/float16: mixed precision, float32 variables).")
    parser.add_argument("--matmul_size", type=int, default=None,
                        help="Size n of the n x n reference matrix product (default: 2048 on CPU, 8192 on GPU).")
    parser.add_argument("--markdown", action="store_true", help="Print the table as Markdown.")
    args = parser.parse_args(argv)
    for name in ("batch_size", "steps", "image_size", "classes"):
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


def bench_architecture(name, args):
    """Images/s, forward GFLOPs per image, parameter count of training `name`."""
    import keras
    from tqdm import tqdm

    from models import build_network
    from models.flops import forward_flops

    keras.utils.clear_session()
    shape = (args.image_size, args.image_size, 3)
    model = build_network(args.classes, name, classification=True, input_shape=shape)
    flops = forward_flops(model)
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), loss="categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = keras.ops.convert_to_tensor(rng.uniform(size=(args.batch_size,) + shape).astype("float32"))
    labels = rng.integers(0, args.classes, args.batch_size)
    y = keras.ops.convert_to_tensor(np.eye(args.classes, dtype="float32")[labels])
    for _ in range(args.warmup):
        model.train_on_batch(x, y)
    step_seconds = []
    for _ in tqdm(range(args.steps), desc=name, leave=False, file=sys.stderr):
        start = time.perf_counter()
        loss = model.train_on_batch(x, y)  # returns a host float: the step has finished
        step_seconds.append(time.perf_counter() - start)
    if not np.isfinite(loss):
        raise RuntimeError("{}: training diverged (loss {})".format(name, loss))
    # the median step: robust to other processes sharing the machine
    return args.batch_size / float(np.median(step_seconds)), flops / 1e9, model.count_params()


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
