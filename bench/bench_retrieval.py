"""Benchmark: retrieval evaluation (P@1..250, AHP or AHP@250, AP; WUP and LCS_HEIGHT) of all test images.

Cases: CIFAR-100-sized (10,000 images, 100 classes, 100-d) and ILSVRC-validation-sized (50,000 images,
1,000 classes, 1,000-d); features are drawn around unit-sphere class embeddings of the real taxonomies
(Cifar-Hierarchy/ and ../shared/reference/ilsvrc/, a synthetic 10x10x10 tree if that is absent).

Ours: `metrics.RetrievalEvaluator` end-to-end from the feature matrix, the labels and the loaded hierarchy
(similarity tables included), in a fresh subprocess per case to get its peak memory (max RSS of the whole
process, features included).
Reference, in the same run: the original release's algorithm one query at a time (argsort of the query's
distance row, class similarities looked up pair by pair in the hierarchy's caches, Python sums per k,
ideal curve once per label, scikit-learn AP) on a sample of queries, extrapolated per query; it also
checks that both give the same per-query values.

    python bench/bench_retrieval.py [--quick] [--cases cifar100 ilsvrc] [--ref_queries 100]
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)
REFERENCE = os.path.join(REPO_ROOT, "..", "shared", "reference")

CASES = {
    # name: (number of images, hierarchy file, id type); classes = the hierarchy's leaves
    "cifar100": (10000, os.path.join(REPO_ROOT, "Cifar-Hierarchy", "cifar.parent-child.txt"), int),
    "ilsvrc": (50000, os.path.join(REFERENCE, "ilsvrc", "wordnet.parent-child.mintree.txt"), str),
}
KS = list(range(1, 251))  # evaluate_retrieval.py's default --plot_max 250
CLIP = 250


def load_case(name, num_images=None):
    """(hierarchy, labels, features): features around unit-sphere embeddings of the leaf classes."""
    from class_hierarchy import ClassHierarchy
    from class_embedding import unitsphere_embedding

    n, path, id_type = CASES[name]
    n = num_images or n
    if os.path.exists(path):
        hierarchy = ClassHierarchy.from_file(path, id_type=id_type)
    else:  # synthetic stand-in: a balanced 10 x 10 x 10 tree
        import tempfile

        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            for a in range(10):
                f.write("root a{}\n".format(a))
                for b in range(10):
                    f.write("a{0} a{0}b{1}\n".format(a, b))
                    f.writelines("a{0}b{1} c{0}_{1}_{2}\n".format(a, b, c) for c in range(10))
        hierarchy = ClassHierarchy.from_file(f.name)
        os.remove(f.name)
    classes = hierarchy.leaves()
    rng = np.random.default_rng(0)
    embedding = unitsphere_embedding(1.0 - hierarchy.lcs_height_matrix(classes))
    class_index = np.repeat(np.arange(len(classes)), int(np.ceil(n / len(classes))))[:n]
    rng.shuffle(class_index)
    dim = len(classes)
    features = embedding[class_index] + rng.normal(scale=0.7 / np.sqrt(dim), size=(n, dim))
    return hierarchy, [classes[i] for i in class_index], features.astype(np.float32)


def reference_scores(hierarchy, features, labels, queries, clip_ahp):
    """The original algorithm for the given queries: ({metric: {query: value}}, extrapolated seconds for all).

    The distances of the queries come from one matrix product (the original computed the whole matrix
    at once), amortized per query. The first query of a label computes the similarities of the whole
    ranking for the ideal curve, the others (with --clip_ahp) only of the top: the extrapolation counts
    one first query per class and N - C others.
    """
    from sklearn.metrics import average_precision_score

    kmax = max(KS + ([clip_ahp] if clip_ahp else []))
    sq_norms = np.sum(features ** 2, axis=-1)
    start = time.perf_counter()
    products = np.dot(features[queries], features.T)
    try:
        import numexpr as ne

        distances = ne.evaluate("A + B - 2 * C", {"A": sq_norms[queries, None], "B": sq_norms[None, :],
                                                  "C": products})
    except ImportError:  # the same operations in numpy (bit for bit, see tests/test_metrics.py)
        distances = (sq_norms[queries, None] + sq_norms[None, :]) - 2 * products
    distance_s = (time.perf_counter() - start) / len(queries)
    values = {}
    best = {}
    times = {True: [], False: []}
    for q, dist in zip(queries, distances):
        # The original sorted with the default (unstable) argsort: that is what we time. float32 distances
        # tie exactly now and then, and we break ties by image index, so we score the stable ranking.
        ret = np.argsort(dist, kind="stable").tolist()
        start = time.perf_counter()
        np.argsort(dist).tolist()
        lbl = labels[q]
        first = lbl not in best
        scored = ret if (first or not clip_ahp) else ret[:kmax + 1]
        wup = [hierarchy.wup_similarity(lbl, labels[r]) for r in scored]
        lcs = [1.0 - hierarchy.lcs_height(lbl, labels[r]) for r in scored]
        if first:
            best[lbl] = (np.cumsum(sorted(wup, reverse=True)), np.cumsum(sorted(lcs, reverse=True)))
        ideal_wup, ideal_lcs = best[lbl]
        pos = ret.index(q)
        if pos < len(wup):
            del wup[pos], lcs[pos]
            ideal_wup = np.concatenate((ideal_wup[:pos], ideal_wup[pos + 1:] - 1.0))
            ideal_lcs = np.concatenate((ideal_lcs[:pos], ideal_lcs[pos + 1:] - 1.0))
        for t, sims, ideal in (("WUP", wup, ideal_wup), ("LCS_HEIGHT", lcs, ideal_lcs)):
            for k in KS:
                values.setdefault("P@{} ({})".format(k, t), {})[q] = sum(sims[:k]) / ideal[k - 1]
            if clip_ahp:
                area = np.trapezoid(np.cumsum(sims[:clip_ahp]) / ideal[:clip_ahp], dx=1.0 / clip_ahp)
                values.setdefault("AHP@{} ({})".format(clip_ahp, t), {})[q] = area
            else:
                values.setdefault("AHP ({})".format(t), {})[q] = np.trapezoid(np.cumsum(sims) / ideal,
                                                                              dx=1.0 / len(sims))
        kept = [r for r in ret if r != q]
        values.setdefault("AP", {})[q] = average_precision_score([labels[r] == lbl for r in kept],
                                                                 -np.arange(len(kept)))
        times[first].append(time.perf_counter() - start)
    n, num_classes = len(labels), len(set(labels))
    first_s = np.mean(times[True])
    other_s = np.mean(times[False]) if times[False] else first_s
    return values, n * distance_s + num_classes * first_s + (n - num_classes) * other_s


def sample_queries(labels, num_queries, per_class=10):
    """num_queries queries, per_class of each of a few random classes (first and later queries of a label)."""
    rng = np.random.default_rng(1)
    by_class = {}
    for i, lbl in enumerate(labels):
        by_class.setdefault(lbl, []).append(i)
    classes = sorted(by_class, key=str)
    queries = []
    for c in rng.permutation(len(classes)):
        members = by_class[classes[c]]
        queries += rng.choice(members, size=min(per_class, len(members)), replace=False).tolist()
        if len(queries) >= num_queries:
            return queries[:num_queries]
    return queries


def run_case(name, clip_ahp, ref_queries, num_images):
    """One case in this process: prints a JSON line with the timings and the check against the reference."""
    import metrics

    hierarchy, labels, features = load_case(name, num_images)
    start = time.perf_counter()
    cpu_start = time.process_time()
    evaluator = metrics.RetrievalEvaluator(hierarchy, labels)
    try:
        import tqdm  # noqa: F401

        progress = True
    except ImportError:  # a bare machine: no progress bar
        progress = False
    means, per_query = evaluator.evaluate(features, ks=KS, compute_ahp=clip_ahp or True, compute_ap=True,
                                          progress=progress, return_per_query=True)
    ours = time.perf_counter() - start
    ours_cpu = time.process_time() - cpu_start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    result = dict(case=name, n=len(labels), classes=len(set(labels)), dim=features.shape[1],
                  metrics="AHP@{}".format(clip_ahp) if clip_ahp else "AHP", ours_s=ours, ours_cpu_s=ours_cpu,
                  peak_mb=peak_mb, AHP=means["AHP{} (LCS_HEIGHT)".format("@{}".format(clip_ahp) if clip_ahp else "")],
                  AP=means["AP"])
    if ref_queries:
        queries = sample_queries(labels, ref_queries)
        ref_values, ref_s = reference_scores(hierarchy, features, labels, queries, clip_ahp)
        diff = max(abs(per_query[m][q] - v) for m, vals in ref_values.items() for q, v in vals.items())
        result.update(ref_queries=len(queries), ref_s=ref_s, max_abs_diff=diff)
    print(json.dumps(result), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--ref_queries", type=int, default=100, help="queries scored by the slow reference")
    parser.add_argument("--quick", action="store_true", help="a fifth of the images, 20 reference queries")
    parser.add_argument("--cpus", type=str, default=None,
                        help="run the cases pinned to these CPUs (a taskset list: 0,1 = two cores of a bigger machine)")
    parser.add_argument("--run", nargs=2, metavar=("CASE", "CLIP"), help=argparse.SUPPRESS)
    parser.add_argument("--num_images", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        return run_case(args.run[0], int(args.run[1]), args.ref_queries, args.num_images)

    rows = []
    for name in args.cases:
        for clip in (CLIP, 0):
            cmd = [sys.executable, os.path.abspath(__file__), "--run", name, str(clip),
                   "--ref_queries", str(20 if args.quick else args.ref_queries)]
            if args.quick:
                cmd += ["--num_images", str(CASES[name][0] // 5)]
            env = dict(os.environ)
            if args.cpus:
                cmd = ["taskset", "-c", args.cpus] + cmd
                num_cpus = sum(int(r.split("-")[1]) - int(r.split("-")[0]) + 1 if "-" in r else 1
                               for r in args.cpus.split(","))
                env.update(OPENBLAS_NUM_THREADS=str(num_cpus), OMP_NUM_THREADS=str(num_cpus))
            out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True, env=env).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
            r = rows[-1]
            print("{case} {metrics}: ours {ours_s:.2f} s, reference {ref_s:.0f} s".format(**r), file=sys.stderr)

    header = ("case", "images", "classes", "dim", "metrics", "ours (s)", "ours CPU (s)", "peak RSS (MB)",
              "reference (s, extrapolated from)", "speed-up", "max |ours - ref|")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in rows:
        print("| {case} | {n} | {classes} | {dim} | P@1..250, {metrics}, AP | {ours_s:.2f} | {ours_cpu_s:.2f} | "
              "{peak_mb:.0f} | {ref_s:.0f} ({ref_queries} queries) | {speedup:.0f}x | {max_abs_diff:.1e} |".format(
                  speedup=r["ref_s"] / r["ours_s"], **r))


if __name__ == "__main__":
    main()
