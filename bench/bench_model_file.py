"""Benchmark: saving a model compiled for 1,000 and 8,142 classes, before and after the portable files.

Before (the previous version, reproduced in the same run): the `l2norm` layer is the project's
`L2Normalize` and the nearest-embedding accuracy's config holds the class-embedding matrix as JSON
(`get_config` returning `embedding.tolist()`). After: Keras' `UnitNormalization` and a config
without the matrix. The model is the same in both: the tiny `simple` net on 32x32 colour images
ending in an embedding of C - 1 dimensions (a unit-sphere class embedding of C classes has C - 1),
`--loss inv_corr`, compiled with one accuracy metric (`--top_k_acc` would add one more copy of the
matrix per k before). Measured: wall time of `models.training.save_model` (atomic write, as every
`--snapshot` epoch does), file size, size of the JSON config inside the file, and the time of
`keras.models.load_model`.

    python bench/bench_model_file.py [--classes 1000 8142] [--skip_before_above N]

The "before" file of 8,142 classes is about 1.4 GB and needs several GB of memory to write.
"""

import argparse
import gc
import os
import sys
import tempfile
import time
import zipfile

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)


def old_metric_class():
    """The nearest-embedding accuracy as the previous version saved it (matrix in the config)."""
    import keras

    from models.keras_metrics import NearestEmbeddingAccuracy

    @keras.saving.register_keras_serializable(package="bench_before")
    class MatrixInConfigAccuracy(NearestEmbeddingAccuracy):
        def get_config(self):
            return {"name": self.name, "dtype": self.dtype, "embedding": self.embedding.tolist(),
                    "dot_prod_sim": self.dot_prod_sim, "k": self.k}

    return MatrixInConfigAccuracy


def build(num_classes, before):
    import keras

    from models import build_network
    from models.layers import L2Normalize
    from models.losses import inv_correlation
    from models.keras_metrics import NearestEmbeddingAccuracy
    from models.lr_callbacks import InverseTimeDecaySGD

    dim = num_classes - 1
    rng = np.random.default_rng(0)
    embedding = rng.normal(size=(num_classes, dim)).astype(np.float32)
    embedding /= np.linalg.norm(embedding, axis=1, keepdims=True)
    net = build_network(dim, "simple", input_shape=(32, 32, 3), filters=[8, "ap", 16, "gap", "fc16"])
    normalize = L2Normalize(name="l2norm") if before else keras.layers.UnitNormalization(name="l2norm")
    model = keras.Model(net.inputs, normalize(net.output))
    metric = (old_metric_class() if before else NearestEmbeddingAccuracy)(embedding, dot_prod_sim=True)
    model.compile(InverseTimeDecaySGD(0.1, decay=1e-4, momentum=0.9), loss=inv_correlation, metrics=[metric])
    x = rng.normal(size=(4, 32, 32, 3)).astype(np.float32)
    model.fit(x, embedding[:4], batch_size=4, epochs=1, verbose=0)  # compiled metrics and optimizer state
    return model


def measure(num_classes, before, directory):
    import keras

    from models.training import save_model

    model = build(num_classes, before)
    path = os.path.join(directory, "{}-{}.keras".format(num_classes, "before" if before else "after"))
    start = time.perf_counter()
    save_model(model, path)
    save_s = time.perf_counter() - start
    size = os.path.getsize(path)
    with zipfile.ZipFile(path) as archive:
        config = archive.getinfo("config.json").file_size
    del model
    gc.collect()
    start = time.perf_counter()
    keras.models.load_model(path)
    load_s = time.perf_counter() - start
    os.remove(path)
    gc.collect()
    return save_s, size, config, load_s


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--classes", type=int, nargs="+", default=[1000, 8142], metavar="C")
    parser.add_argument("--skip_before_above", type=int, default=None, metavar="N",
                        help="Do not write the old format for more than N classes (memory).")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    print("backend: {}".format(keras.backend.backend()))
    print("{:>7s}  {:6s}  {:>9s}  {:>12s}  {:>12s}  {:>9s}".format(
        "classes", "format", "save (s)", "file (MB)", "config (MB)", "load (s)"))
    with tempfile.TemporaryDirectory() as directory:
        for num_classes in args.classes:
            rows = {}
            for before in (False, True):
                if before and args.skip_before_above and num_classes > args.skip_before_above:
                    continue
                rows[before] = measure(num_classes, before, directory)
                save_s, size, config, load_s = rows[before]
                print("{:7d}  {:6s}  {:9.2f}  {:12.2f}  {:12.3f}  {:9.2f}".format(
                    num_classes, "before" if before else "after", save_s, size / 1e6, config / 1e6, load_s),
                    flush=True)
            if True in rows:
                print("{:7d}  ratio   {:8.0f}x  {:11.0f}x".format(
                    num_classes, rows[True][0] / rows[False][0], rows[True][1] / rows[False][1]), flush=True)


if __name__ == "__main__":
    main()
