"""Benchmark: class embeddings for ILSVRC (1,000 classes) and iNaturalist 2018 (8,142 classes).

Ours: `compute_class_embedding.py --method unitsphere` run end-to-end as a subprocess (wall time
and peak memory of the whole script, file writing included).
Reference, in the same run: the straightforward approach of the original release, per-pair LCS
from hypernym-depth dictionaries plus the iterative placement (one linear solve per class). For
iNaturalist it would take hours, so it is timed on a sample of pairs and on the first classes of
the placement and extrapolated (pairs: linearly; placement: by the c^3 cost of solve c).

    python bench/bench_class_embedding.py [--quick]
"""

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)
REFERENCE = os.path.join(REPO_ROOT, "..", "shared", "reference")

CASES = [
    ("ILSVRC mintree", os.path.join(REFERENCE, "ilsvrc", "wordnet.parent-child.mintree.txt")),
    ("iNaturalist 2018", os.path.join(REFERENCE, "inaturalist", "hierarchy_inat.txt")),
]


def reference_hypernym_depths(parents):
    """Original-style recursion: every hypernym of a node with its (longest-path) depth."""
    cache = {}

    def depths(node):
        if node not in cache:
            result = {}
            for p in parents.get(node, ()):
                result.update(depths(p))
            result[node] = 1 + max((result[p] for p in parents.get(node, ())), default=0)
            cache[node] = result
        return cache[node]

    return depths


def reference_lcs_height(parents, heights, max_height, depths, a, b):
    da, db = depths(a), depths(b)
    lcs = max(da.keys() & db.keys(), key=lambda h: da[h])
    return heights[lcs] / max_height


def reference_placement(class_sim, num_classes):
    """The original's iterative unit-sphere placement for the first `num_classes` classes."""
    emb = np.zeros((num_classes, num_classes))
    emb[0, 0] = 1.0
    for c in range(1, num_classes):
        emb[c, :c] = np.linalg.solve(emb[:c, :c], class_sim[c, :c])
        emb[c, c] = np.sqrt(1.0 - np.sum(emb[c, :c] ** 2))
    return emb


def run_ours(path):
    out = os.path.join(tempfile.mkdtemp(), "emb.npz")
    cmd = [sys.executable, os.path.join(REPO_ROOT, "compute_class_embedding.py"), "--hierarchy", path,
           "--str_ids", "--method", "unitsphere", "--out", out]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    os.remove(out)
    # ru_maxrss of children is the max over all children so far; ours run in increasing size.
    return elapsed, max(peak_kb, before) / 2 ** 20


def run_reference(path, max_pairs, max_placement):
    from class_hierarchy import ClassHierarchy

    h = ClassHierarchy.from_file(path)
    classes = h.leaves()
    n = len(classes)
    depths = reference_hypernym_depths(h.parents)
    num_pairs = n * (n - 1) // 2
    rng = random.Random(0)
    if num_pairs <= max_pairs:
        pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    else:
        pairs = [tuple(sorted(rng.sample(range(n), 2))) for _ in range(max_pairs)]
    start = time.perf_counter()
    for i, j in pairs:
        reference_lcs_height(h.parents, h.heights, h.max_height, depths, classes[i], classes[j])
    pair_time = (time.perf_counter() - start) * num_pairs / len(pairs)

    m = min(n, max_placement)
    sim = h.similarity_matrix(classes[:m])
    start = time.perf_counter()
    reference_placement(sim, m)
    placed = time.perf_counter() - start
    # Solve c costs ~c^3: scale the measured sum over c < m to c < n.
    placement_time = placed * (n ** 4 / m ** 4) if m < n else placed
    extrapolated = len(pairs) < num_pairs or m < n
    return n, pair_time + placement_time, extrapolated


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller reference samples")
    args = parser.parse_args()
    max_pairs = 20000 if args.quick else 200000
    rows = []
    for name, path in CASES:
        if not os.path.exists(path):
            print("skipping {}: {} not found".format(name, path))
            continue
        ours, peak_gb = run_ours(path)
        n, ref, extrapolated = run_reference(path, max_pairs, 600 if args.quick else 1000)
        rows.append((name, n, ours, peak_gb, ref, extrapolated))
    print()
    print("| taxonomy | classes | ours: script end-to-end (s) | ours: peak memory (GB) | reference (s) | speed-up |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, n, ours, peak_gb, ref, extrapolated in rows:
        print("| {} | {:,} | {:.1f} | {:.2f} | {:,.0f}{} | {:,.0f}x |".format(
            name, n, ours, peak_gb, ref, " (extrapolated)" if extrapolated else "", ref / ours))


if __name__ == "__main__":
    main()
