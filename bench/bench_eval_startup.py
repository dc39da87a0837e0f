"""Benchmark: `evaluate_retrieval.py` as a whole process on a CIFAR-100-sized set (issue 10, item 5).

The command a user runs, timed from process start to exit (interpreter, imports, reading the test labels,
the features and the hierarchy, P@1..250, AHP@250 and AP for WUP and LCS_HEIGHT, the table):

    python evaluate_retrieval.py --dataset CIFAR-100 --data_root DIR \\
        --hierarchy Cifar-Hierarchy/cifar.parent-child.txt --feat feat.pickle --clip_ahp 250

on 10,000 test images of 100 classes (CIFAR-100 python pickles of the real sizes, 50,000 training and
10,000 test images, written to a temporary folder: random pixels, 500 and 100 images per class) with 100-d features drawn around each
class's unit-sphere embedding (the original dump format, a pickle {'feat': {index: vector}}).

Reference, in the same run: the same command in a process that imports Keras (and so TensorFlow) first,
as reading the labels through `datasets` did before (`load_test_labels` -> `PyDataset`); and a bare
`python -c pass` for the interpreter's own start. Target: at most 2 s for ours. Each command is run
`--repeats` times; the table shows the median and the fastest wall time and the median CPU time (user +
system, all threads). It also checks that our process imported no deep-learning framework.

    python bench/bench_eval_startup.py [--repeats 5]
"""

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)
HIERARCHY = os.path.join(REPO_ROOT, "Cifar-Hierarchy", "cifar.parent-child.txt")
NUM_TRAIN, NUM_TEST, NUM_CLASSES, DIM = 50000, 10000, 100, 100
TARGET_S = 2.0

# Runs evaluate_retrieval.py as __main__ in this process, then reports which frameworks got imported.
_FRAMEWORK_PROBE = (
    "import runpy, sys\n"
    "sys.argv = sys.argv[1:]\n"
    "runpy.run_path(sys.argv[0], run_name='__main__')\n"
    "print('frameworks imported:', sorted(m for m in ('keras', 'tensorflow', 'jax', 'torch') if m in sys.modules))\n"
)


def write_inputs(directory, seed=0):
    """Fake CIFAR-100 pickles (10,000 test images) and a feature dump; returns (data_root, feature file)."""
    import pickle

    from class_embedding import unitsphere_embedding
    from class_hierarchy import ClassHierarchy
    from datasets.cifar import write_cifar_pickles

    rng = np.random.default_rng(seed)
    test_labels = rng.permutation(np.repeat(np.arange(NUM_CLASSES), NUM_TEST // NUM_CLASSES))
    train_labels = np.repeat(np.arange(NUM_CLASSES), NUM_TRAIN // NUM_CLASSES)
    data_root = os.path.join(directory, "cifar-100-python")
    write_cifar_pickles(data_root, rng.integers(0, 256, (len(train_labels), 32, 32, 3), dtype=np.uint8),
                        train_labels, rng.integers(0, 256, (NUM_TEST, 32, 32, 3), dtype=np.uint8), test_labels,
                        cifar10=False)
    hierarchy = ClassHierarchy.from_file(HIERARCHY, id_type=int)
    embedding = unitsphere_embedding(1.0 - hierarchy.lcs_height_matrix(list(range(NUM_CLASSES))))
    # Noise as bench_retrieval.py: 0.7 / sqrt(dim) per dimension.
    features = (embedding[test_labels] + rng.normal(scale=0.7 / np.sqrt(DIM), size=(NUM_TEST, DIM))).astype(np.float32)
    feat_path = os.path.join(directory, "feat.pickle")
    with open(feat_path, "wb") as f:
        pickle.dump({"feat": {i: v for i, v in enumerate(features)}}, f, protocol=4)
    return data_root, feat_path


def time_process(argv, repeats, env):
    """Wall and CPU (user + system) times (s) of `repeats` runs of a command; the last run's output."""
    times, cpu_times, result = [], [], None
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        result = subprocess.run(argv, capture_output=True, text=True, cwd=REPO_ROOT, env=env)
        times.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_times.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if result.returncode != 0:
            raise SystemExit("command failed ({}):\n{}\n{}".format(" ".join(argv), result.stdout, result.stderr))
    return times, cpu_times, result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs per command (median and minimum shown)")
    args = parser.parse_args()
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=REPO_ROOT)
    with tempfile.TemporaryDirectory() as tmp:
        print("Writing {} test images of {} classes and {}-d features ...".format(NUM_TEST, NUM_CLASSES, DIM),
              file=sys.stderr)
        data_root, feat_path = write_inputs(tmp)
        script_args = ["--dataset", "CIFAR-100", "--data_root", data_root, "--hierarchy", HIERARCHY,
                       "--feat", feat_path, "--clip_ahp", "250"]
        script = os.path.join(REPO_ROOT, "evaluate_retrieval.py")
        commands = [
            ("python evaluate_retrieval.py ... --clip_ahp 250 (ours)", [sys.executable, script] + script_args),
            ("same, Keras/TensorFlow imported first (before)",
             [sys.executable, "-c", "import keras, runpy, sys; sys.argv = sys.argv[1:]; "
              "runpy.run_path(sys.argv[0], run_name='__main__')", script] + script_args),
            ("python -c pass (interpreter start)", [sys.executable, "-c", "pass"]),
        ]
        rows = []
        for name, argv in commands:
            print("Timing: {}".format(name), file=sys.stderr)
            times, cpu_times, result = time_process(argv, args.repeats, env)
            rows.append((name, float(np.median(times)), min(times), float(np.median(cpu_times))))
        probe = subprocess.run([sys.executable, "-c", _FRAMEWORK_PROBE, script] + script_args, capture_output=True,
                               text=True, cwd=REPO_ROOT, env=env)
        imported = [line for line in probe.stdout.splitlines() if line.startswith("frameworks imported:")]
    ours = rows[0][1]
    print()
    print("evaluate_retrieval.py, {} images, {} classes, {}-d, --clip_ahp 250; {} runs each".format(
        NUM_TEST, NUM_CLASSES, DIM, args.repeats))
    print()
    print("| Command | median [s] | fastest [s] | CPU, median [s] | median / ours |")
    print("|---|---:|---:|---:|---:|")
    for name, median, fastest, cpu in rows:
        print("| {} | {:.2f} | {:.2f} | {:.2f} | {:.2f} |".format(name, median, fastest, cpu, median / ours))
    print()
    print("Load average during the run (1, 5, 15 min): {:.1f}, {:.1f}, {:.1f} on {} CPUs".format(
        *os.getloadavg(), os.cpu_count()))
    print("Target: ours <= {:.1f} s: {}".format(TARGET_S, "met" if ours <= TARGET_S else "NOT met"))
    print("Our process: {}".format(imported[0] if imported else "probe failed: " + probe.stderr[-500:]))


if __name__ == "__main__":
    main()
