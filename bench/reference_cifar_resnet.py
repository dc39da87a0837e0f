#!/usr/bin/env python
"""The CIFAR ResNet of `models/cifar_resnet.py` written directly in JAX: a training ceiling for Keras.

`bench/bench_train.py` measures our Keras model. This script trains the same network (3x3
convolutions in NHWC, batch normalization with batch statistics in float32, ReLU, zero-padding
shortcuts, global average pooling, a dense softmax top, L2 weight decay, SGD with momentum) with
no Keras in between, in bfloat16 with float32 weights (JAX only: the GPU machines have no
TensorFlow), so that the gap between the two is what Keras costs and the rest is what the compiler
and cuDNN make of this network on the device.

    python bench/reference_cifar_resnet.py --batch_sizes 256,512,1024
"""

import argparse
import time

import numpy as np


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch_sizes", default="512", help="Comma-separated batch sizes.")
    parser.add_argument("--blocks", type=int, default=18, help="Blocks per stage (18: ResNet-110).")
    parser.add_argument("--filters", default="32,64,128", help="Channels per stage (32,64,128: resnet-110-wfc).")
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--image_size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    return parser.parse_args(argv)


def conv_layout(filters, blocks):
    """[(in_channels, out_channels, stride)] of the basic blocks."""
    layout, in_filters = [], filters[0]
    for stage, out_filters in enumerate(filters):
        for block in range(blocks):
            layout.append((in_filters, out_filters, 2 if stage > 0 and block == 0 else 1))
            in_filters = out_filters
    return layout


def run_jax(args, filters, batch_size):
    import jax
    import jax.numpy as jnp

    layout = conv_layout(filters, args.blocks)
    bf16, f32 = jnp.bfloat16, jnp.float32
    keys = iter(jax.random.split(jax.random.PRNGKey(0), 4 * len(layout) + 4))

    def he(shape):
        return jax.random.normal(next(keys), shape, f32) * np.sqrt(2.0 / np.prod(shape[:-1]))

    def bn(c):
        return {"gamma": jnp.ones(c, f32), "beta": jnp.zeros(c, f32)}

    params = {"conv0": he((3, 3, 3, filters[0])), "bn0": bn(filters[0]), "blocks": [
        {"w1": he((3, 3, cin, cout)), "bn1": bn(cout), "w2": he((3, 3, cout, cout)), "bn2": bn(cout)}
        for cin, cout, _ in layout],
        "dense": he((filters[-1], args.classes)), "bias": jnp.zeros(args.classes, f32)}

    def conv(x, w, stride=1):
        return jax.lax.conv_general_dilated(x, w.astype(bf16), (stride, stride), "SAME",
                                            dimension_numbers=("NHWC", "HWIO", "NHWC"))

    def batch_norm(x, p, relu):
        x = x.astype(f32)
        mean = jnp.mean(x, (0, 1, 2))
        var = jnp.mean(jnp.square(x), (0, 1, 2)) - jnp.square(mean)
        y = (x - mean) * jax.lax.rsqrt(var + 1e-3) * p["gamma"] + p["beta"]
        return (jax.nn.relu(y) if relu else y).astype(bf16)

    def forward(params, x):
        h = batch_norm(conv(x.astype(bf16), params["conv0"]), params["bn0"], True)
        for p, (cin, cout, stride) in zip(params["blocks"], layout):
            y = batch_norm(conv(h, p["w1"], stride), p["bn1"], True)
            y = batch_norm(conv(y, p["w2"]), p["bn2"], False)
            if stride > 1:
                n, hh, ww, c = h.shape
                h = h.reshape(n, hh // 2, 2, ww // 2, 2, c).mean((2, 4))
            if cout > cin:
                extra = cout - cin
                h = jnp.pad(h, ((0, 0), (0, 0), (0, 0), (extra // 2, extra - extra // 2)))
            h = jax.nn.relu(y + h)
        pooled = jnp.mean(h.astype(f32), (1, 2))
        return pooled @ params["dense"] + params["bias"]

    def loss_fn(params, x, labels):
        logits = forward(params, x)
        ce = -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), labels[:, None], 1))
        decay = sum(jnp.sum(jnp.square(w)) for w in jax.tree_util.tree_leaves(params) if w.ndim > 1)
        return ce + 1e-4 * decay

    def sgd_step(params, velocity, x, labels):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, labels)
        velocity = jax.tree_util.tree_map(lambda v, g: 0.9 * v - 0.01 * g, velocity, grads)
        params = jax.tree_util.tree_map(lambda w, v: w + v, params, velocity)
        return params, velocity, loss

    step = jax.jit(sgd_step, donate_argnums=(0, 1))
    velocity = jax.tree_util.tree_map(jnp.zeros_like, params)
    rng = np.random.default_rng(0)
    batches = [(jnp.asarray(rng.uniform(size=(batch_size, args.image_size, args.image_size, 3)), f32),
                jnp.asarray(rng.integers(0, args.classes, batch_size), jnp.int32)) for _ in range(4)]
    for i in range(args.warmup):
        params, velocity, loss = step(params, velocity, *batches[i % 4])
    loss.block_until_ready()
    start = time.perf_counter()
    for i in range(args.steps):
        params, velocity, loss = step(params, velocity, *batches[i % 4])
    loss = float(loss)
    return time.perf_counter() - start, loss


def main(argv=None):
    args = parse_args(argv)
    filters = tuple(int(f) for f in args.filters.split(","))
    print("JAX reference CIFAR ResNet-{} filters={} bfloat16".format(6 * args.blocks + 2, filters))
    print("{:>6} {:>12} {:>10}".format("batch", "train img/s", "ms/step"))
    for batch_size in (int(b) for b in args.batch_sizes.split(",")):
        seconds, loss = run_jax(args, filters, batch_size)
        if not np.isfinite(loss):
            raise RuntimeError("training diverged (loss {})".format(loss))
        print("{:>6} {:>12.0f} {:>10.2f}".format(batch_size, batch_size * args.steps / seconds,
                                                 1e3 * seconds / args.steps), flush=True)


if __name__ == "__main__":
    main()
