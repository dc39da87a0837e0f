"""Input pipeline throughput: augmented CIFAR and Tiny ImageNet batches and JPEG file pipelines, in images/s.

1. CIFAR training batches (flip + shift (+ zoom for CIFAR-10), normalized, batch 128), made by
   `datasets` in one process, against the original's way in the same run: one image at a time
   through scipy.ndimage.affine_transform (what Keras' ImageDataGenerator did).
   Target: >= 5,000 images/s on a 2-core machine.
2. JPEG file pipelines (random scale, crop 224 or 448, flip, normalization; batch 32) through a
   `DataSequence` with 2 worker processes as `fit` uses it, against the ceiling of PIL decoding the
   same files at full size in 2 processes (nothing else done).
3. Tiny ImageNet training batches (random padded crop + flip, normalized, batch 100) at 64x64 and
   32x32, made by `datasets` in one process from the images held in memory, against the training rate
   (model.fit, SGD, softmax cross-entropy over 200 classes, batch 100) of the hierarchy benchmark's
   network (`simple` with filters 32-32-ap-64-64-ap-128-gap-fc128) and of `--tiny_architectures` at the
   same size, measured in the same run. Target: the pipeline >= 5x the training rate. Real Tiny
   ImageNet (`--tiny_imagenet`, default the shared archive) if present, else random images; the time to
   read the images (decoding once, then from the array cache) is printed too.

    python bench/bench_input.py [--quick] [--only tiny] [--tiny_imagenet PATH] [--tiny_architectures resnet-32]

Synthetic data (random smooth images) so it runs anywhere; JPEGs at typical ImageNet (500x375)
and NABirds (1024x768) sizes are written to a temporary directory.
"""

import argparse
import multiprocessing
import os
import sys
import tempfile
import time

import numpy as np
import PIL.Image
import scipy.ndimage

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import datasets  # noqa: E402
from datasets.cifar import write_cifar_pickles  # noqa: E402


def best_rate(run, images_per_run, repeats):
    """Images/s of the fastest of `repeats` runs (the least disturbed by other load)."""
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return images_per_run / best


# --- CIFAR ------------------------------------------------------------------------------------


def reference_cifar_batch(images, mean, std, rng, zoom):
    """One image at a time, as Keras' ImageDataGenerator: scipy affine transform per channel."""
    out = np.empty(images.shape, np.float32)
    for k, img in enumerate(images.astype(np.float32)):
        ty, tx = rng.uniform(-0.15, 0.15, 2) * 32
        zy, zx = rng.uniform(0.75, 1.25, 2) if zoom else (1.0, 1.0)
        offset = [15.5 - zy * 15.5 + ty, 15.5 - zx * 15.5 + tx]
        channels = [scipy.ndimage.affine_transform(img[..., c], np.diag([zy, zx]), offset=offset, order=1,
                                                   mode="nearest") for c in range(3)]
        img = np.stack(channels, -1)
        if rng.random() < 0.5:
            img = img[:, ::-1]
        out[k] = (img - mean) / (std + 1e-6)
    return out


def bench_cifar(num_images, batches, repeats):
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as root:
        x = rng.integers(0, 256, (num_images, 32, 32, 3), dtype=np.uint8)
        y = np.arange(num_images) % 10
        write_cifar_pickles(root, x, y, x[:100], y[:100], cifar10=True)
        c10 = datasets.get_data_generator("cifar-10", root)
    rows = []
    for name, gen, zoom in (("CIFAR-10 (flip, shift, zoom)", c10, True),):
        seq = gen.train_sequence(batch_size=128, seed=0)
        ours = best_rate(lambda: [seq[i] for i in range(batches)], batches * 128, repeats)
        ref = best_rate(lambda: reference_cifar_batch(gen.X_train[:128], gen.mean, gen.std, rng, zoom), 128, repeats)
        rows.append((name, "datasets, 1 process", ours, "per-image scipy (original)", ref))
    # CIFAR-100 augmentation (no zoom) on the same data
    gen = c10
    gen.augmentation = {"horizontal_flip": True, "width_shift_range": 0.15, "height_shift_range": 0.15}
    seq = gen.train_sequence(batch_size=128, seed=0)
    ours = best_rate(lambda: [seq[i] for i in range(batches)], batches * 128, repeats)
    ref = best_rate(lambda: reference_cifar_batch(gen.X_train[:128], gen.mean, gen.std, rng, False), 128, repeats)
    rows.append(("CIFAR-100 (flip, shift)", "datasets, 1 process", ours, "per-image scipy (original)", ref))
    seq = gen.test_sequence(batch_size=128)
    test = best_rate(lambda: [seq[i] for i in range(min(batches, len(seq)))], min(batches, len(seq)) * 128, repeats)
    rows.append(("CIFAR test (normalize only)", "datasets, 1 process", test, "", np.nan))
    return rows


# --- JPEG files ---------------------------------------------------------------------------------


def write_jpegs(directory, count, size):
    """`count` smooth random JPEGs of (width, height) `size` in an ILSVRC-style layout."""
    rng = np.random.default_rng(1)
    width, height = size
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    for i in range(count):
        cls = "n{:02d}".format(i % 4)
        folder = os.path.join(directory, "ILSVRC2012_img_train", cls)
        os.makedirs(folder, exist_ok=True)
        os.makedirs(os.path.join(directory, "ILSVRC2012_img_val", cls), exist_ok=True)
        channels = [128 + 60 * np.sin(xx / rng.uniform(5, 40) + c) * np.cos(yy / rng.uniform(5, 40)) for c in range(3)]
        noise = rng.normal(0, 12, (height, width, 3))
        img = np.clip(np.stack(channels, -1) + noise, 0, 255).astype(np.uint8)
        PIL.Image.fromarray(img).save(os.path.join(folder, "{:05d}.JPEG".format(i)), quality=90)


def _decode_full(path):
    with PIL.Image.open(path) as img:
        return img.convert("RGB").size


def consume(seq):
    """Iterate one epoch of a PyDataset the way `fit` does (its workers included)."""
    from keras.src.trainers.data_adapters.py_dataset_adapter import PyDatasetAdapter

    adapter = PyDatasetAdapter(seq)
    adapter.on_epoch_begin()
    for _ in adapter.get_numpy_iterator():
        pass
    adapter.on_epoch_end()


def bench_files(count, batches, repeats):
    rows = []
    for crop, image_size, extra in ((224, (500, 375), {}), (448, (1024, 768), {"default_target_size": 512})):
        with tempfile.TemporaryDirectory() as root:
            write_jpegs(root, count, image_size)
            gen = datasets.get_data_generator("ILSVRC" if crop == 224 else "ILSVRC-large", root, **extra)
            # the files again and again (from the page cache): enough batches to amortize worker start-up
            # (a whole epoch: stopping early makes Keras finish the queued batches first)
            gen.train_img_files = (gen.train_img_files * (batches * 32 // count + 1))[: batches * 32]
            gen._train_labels = np.zeros(len(gen.train_img_files), np.int64)
            files = gen.train_img_files
            with multiprocessing.get_context("fork").Pool(2) as pool:
                ceiling = best_rate(lambda: pool.map(_decode_full, files, chunksize=8), len(files), repeats)
            seq2 = gen.train_sequence(batch_size=32, seed=0, workers=2, use_multiprocessing=True, max_queue_size=8)
            two = best_rate(lambda: consume(seq2), batches * 32, repeats)
            seqt = gen.train_sequence(batch_size=32, seed=0, workers=2, use_multiprocessing=False, max_queue_size=8)
            threads = best_rate(lambda: consume(seqt), batches * 32, repeats)
            seq1 = gen.train_sequence(batch_size=32, seed=0)
            one = best_rate(lambda: [seq1[i] for i in range(batches)], batches * 32, repeats)
            label = "JPEG {}x{} -> {} crops".format(image_size[0], image_size[1], crop)
            print(label, "2 processes {:.1f}, 2 threads {:.1f}, 1 process {:.1f}, decode ceiling {:.1f} images/s".format(
                two, threads, one, ceiling), flush=True)
            rows.append((label, "datasets, 2 worker processes", two, "PIL full decode, 2 processes", ceiling))
            rows.append((label, "datasets, 2 worker threads", threads, "PIL full decode, 2 processes", ceiling))
            rows.append((label, "datasets, 1 process", one, "PIL full decode, 2 processes", ceiling))
    return rows


# --- Tiny ImageNet -------------------------------------------------------------------------------

SHARED_TINY_IMAGENET = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                    "shared", "data", "tiny-imagenet-200.tar.gz")


def tiny_imagenet_generator(path, image_size):
    """Tiny ImageNet from `path` if it exists, else an in-memory dataset of random 64x64 images with the
    same augmentation (the pipeline's work does not depend on the pixel values)."""
    from datasets.tiny_imagenet import crop_flip_augmentation

    if path and os.path.exists(path):
        gen = datasets.get_data_generator("TinyImageNet", path, image_size=image_size)
        start = time.perf_counter()
        gen.X_train, gen.mean  # noqa: B018  (reads or decodes the images, computes or reads the statistics)
        print("Tiny ImageNet {0}x{0}: images and statistics ready in {1:.1f} s".format(
            image_size, time.perf_counter() - start), flush=True)
        return gen, "Tiny ImageNet"
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (20000, image_size, image_size, 3), dtype=np.uint8)
    y = np.arange(len(x)) % 200
    return datasets.ArrayDatasetGenerator(x, x[:1000], y, y[:1000], None, crop_flip_augmentation(image_size)), "random"


# The network of scripts/hierarchy_benchmark.sh (issue 14): small enough to train on 2 cores.
BENCHMARK_NETWORK = ("simple", {"filters": [32, 32, "ap", 64, 64, "ap", 128, "gap", "fc128"]})


def training_rate(architecture, architecture_kwargs, image_size, batch_size, steps, repeats):
    """Images/s of `model.fit` (SGD, cross-entropy over 200 classes) of `architecture`: best of `repeats`."""
    import keras

    from models import build_network

    keras.utils.clear_session()
    shape = (image_size, image_size, 3)
    model = build_network(200, architecture, classification=True, input_shape=shape, **architecture_kwargs)
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(steps * batch_size,) + shape).astype(np.float32)
    y = rng.integers(0, 200, len(x))
    model.fit(x[:batch_size], y[:batch_size], batch_size=batch_size, epochs=1, verbose=0)  # compiles the step
    return best_rate(lambda: model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0),
                     len(x), repeats)


def bench_tiny_imagenet(path, architectures, batches, steps, repeats, batch_size=100):
    rows = []
    networks = [("benchmark network",) + BENCHMARK_NETWORK] + [(name, name, {}) for name in architectures]
    for image_size in (64, 32):
        gen, source = tiny_imagenet_generator(path, image_size)
        seq = gen.train_sequence(batch_size=batch_size, seed=0)
        batches = min(batches, len(seq))
        pipeline = best_rate(lambda: [seq[i] for i in range(batches)], batches * batch_size, repeats)
        for label, architecture, architecture_kwargs in networks:
            rate = training_rate(architecture, architecture_kwargs, image_size, batch_size, steps, repeats)
            workload = "{0} {1}x{1} (crop, flip)".format(source, image_size)
            print("{}: pipeline {:.0f} images/s, {} trains at {:.0f} images/s".format(
                workload, pipeline, label, rate), flush=True)
            rows.append((workload, "datasets, 1 process", pipeline, "training {} (fit)".format(label), rate))
        del gen, seq
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer images and repeats (a smoke run)")
    parser.add_argument("--only", choices=("cifar", "files", "tiny"), default=None, help="run one part only")
    parser.add_argument("--tiny_imagenet", default=SHARED_TINY_IMAGENET,
                        help="Tiny ImageNet folder or archive (random images if it does not exist)")
    parser.add_argument("--tiny_architectures", default="",
                        help="comma-separated further networks whose training rate the Tiny ImageNet pipeline "
                             "is compared to (e.g. resnet-32)")
    args = parser.parse_args()
    rows = []
    if args.only in (None, "cifar"):
        rows += bench_cifar(num_images=5000, batches=10 if args.quick else 30, repeats=2 if args.quick else 3)
    if args.only in (None, "files"):
        rows += bench_files(count=32, batches=4 if args.quick else 12, repeats=1 if args.quick else 2)
    if args.only in (None, "tiny"):
        rows += bench_tiny_imagenet(args.tiny_imagenet, [a for a in args.tiny_architectures.split(",") if a],
                                    batches=5 if args.quick else 50, steps=2 if args.quick else 10,
                                    repeats=1 if args.quick else 3)
    print("\n| workload | pipeline | images/s | reference | reference images/s | ratio |")
    print("|---|---|---:|---|---:|---:|")
    for workload, name, rate, ref_name, ref in rows:
        ratio = "" if np.isnan(ref) else "{:.2f}x".format(rate / ref)
        ref_text = "" if np.isnan(ref) else "{:,.0f}".format(ref)
        print("| {} | {} | {:,.0f} | {} | {} | {} |".format(workload, name, rate, ref_name, ref_text, ratio))


if __name__ == "__main__":
    main()
