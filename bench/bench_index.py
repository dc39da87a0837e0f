"""Benchmark: search of a large image database with the index of search/ (faiss) in four kinds of codes.

Data: 1,000,000 database images and 1,000 query images (not in the database), 64-d features drawn around
a 200-class embedding (a 4 x 5 x 10 class tree; the rank-64 approximation of its class similarities,
`class_embedding.sim_approx`, rows normalized, turned by a random rotation; Gaussian noise; features
L2-normalized). Top 250 per query. The rotation changes no float similarity; without it the sign codes
would waste most bits: sim_approx orders its dimensions by eigenvalue, and the first eigenvector of a
similarity matrix with positive entries has one sign for all classes (a constant bit), the last ones carry
little more than noise.

Rows: a numpy brute force of the exact float ranking (matrix products in blocks of queries, partition of
the top 250, ties by index), the reference measured in the same run; faiss exact float search
(IndexFlatIP); 64-bit binary codes of the features' signs (IndexBinaryFlat, Hamming distance; and in an
inverted file, IndexBinaryIVF, 1024 cells, 32 searched); 16-byte PQ
(IndexPQ); 16-byte IVF-PQ (IndexIVFPQ, nlist 4 sqrt(N) cells, nprobe 32). Columns: build time, time for
all queries and per query, memory of the codes (and of the int64 ids), mAHP@250 (LCS_HEIGHT class
similarity of the tree, search.scores.mean_ahp_at_k) and its ratio to the exact float ranking, and the
overlap of the top 250 with it.

    python bench/bench_index.py [--num_images 1000000] [--num_queries 1000] [--top 250] [--threads N] [--quick]

--threads sets faiss's OpenMP threads (default: all cores). On a machine shared with other processes one
thread can be faster: OpenMP's barriers wait for a thread that is not running (k-means of PQ training took
6x longer with 2 threads than with 1 at a load of 8 on 2 cores).
"""

import argparse
import os
import resource
import sys
import time

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

NUM_DIMS = 64
BRANCHING = (4, 5, 10)   # 200 classes
NOISE = 0.09             # per-dimension std of the noise around the (unit) class embedding


def class_tree():
    """The 4 x 5 x 10 `ClassHierarchy`: classes 0..199, inner nodes from 200."""
    from class_hierarchy import ClassHierarchy

    parents, children = {}, {}
    next_id = [int(np.prod(BRANCHING))]
    leaf = [0]

    def add(parent, level):
        for _ in range(BRANCHING[level]):
            if level == len(BRANCHING) - 1:
                node, leaf[0] = leaf[0], leaf[0] + 1
            else:
                node, next_id[0] = next_id[0], next_id[0] + 1
            parents.setdefault(node, []).append(parent)
            children.setdefault(parent, []).append(node)
            if level < len(BRANCHING) - 1:
                add(node, level + 1)

    root = -1
    add(root, 0)
    return ClassHierarchy(parents, children)


def make_data(num_images, num_queries, seed=0):
    """(class similarity (C, C), db features, db classes, query features, query classes), float32 features."""
    from class_embedding import sim_approx

    hierarchy = class_tree()
    classes = list(range(int(np.prod(BRANCHING))))
    similarity = 1.0 - hierarchy.lcs_height_matrix(classes)
    embedding = sim_approx(similarity, NUM_DIMS)
    embedding /= np.linalg.norm(embedding, axis=1, keepdims=True)
    rng = np.random.default_rng(seed)
    rotation, _ = np.linalg.qr(rng.standard_normal((NUM_DIMS, NUM_DIMS)))
    embedding = embedding @ rotation

    def draw(n):
        labels = rng.integers(0, len(classes), size=n)
        features = np.empty((n, NUM_DIMS), dtype=np.float32)
        for start in range(0, n, 100000):  # bounded temporaries
            stop = min(start + 100000, n)
            block = embedding[labels[start:stop]] + NOISE * rng.standard_normal((stop - start, NUM_DIMS))
            features[start:stop] = block / np.linalg.norm(block, axis=1, keepdims=True)
        return features, labels

    database, db_labels = draw(num_images)
    queries, query_labels = draw(num_queries)
    return similarity, database, db_labels, queries, query_labels


def numpy_brute_force(database, queries, top, block=50):
    """Exact float ranking in numpy: dot products per block of queries, top `top` by partition, then sorted
    by (similarity descending, index)."""
    out = np.empty((len(queries), top), dtype=np.int64)
    for start in range(0, len(queries), block):
        sims = queries[start:start + block] @ database.T
        head = np.argpartition(-sims, top - 1, axis=1)[:, :top]
        head_sims = np.take_along_axis(sims, head, axis=1)
        order = np.lexsort((head, -head_sims), axis=1)
        out[start:start + block] = np.take_along_axis(head, order, axis=1)
    return out


def measure(name, build, search, rows, reference=None, score=None, ids_bytes=0):
    t0 = time.perf_counter()
    index = build()
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ranking = search(index)
    search_s = time.perf_counter() - t0
    code_bytes = index.memory_bytes() if index is not None and hasattr(index, "memory_bytes") else index
    rows.append({"name": name, "build_s": build_s, "search_s": search_s, "ranking": ranking,
                 "code_bytes": code_bytes, "ids_bytes": ids_bytes})
    print("  {}: build {:.2f} s, search {:.3f} s".format(name, build_s, search_s), flush=True)
    return index, ranking


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num_images", type=int, default=1000000)
    parser.add_argument("--num_queries", type=int, default=1000)
    parser.add_argument("--top", type=int, default=250)
    parser.add_argument("--threads", type=int, default=None, help="faiss OpenMP threads (default: all cores)")
    parser.add_argument("--quick", action="store_true", help="100,000 images, 200 queries")
    args = parser.parse_args(argv)
    if args.quick:
        args.num_images, args.num_queries = 100000, 200

    import faiss

    if args.threads:
        faiss.omp_set_num_threads(args.threads)
    from search import codes
    from search.index import build_index
    from search.scores import mean_ahp_at_k, overlap_at_k

    print("Data: {:,} images, {:,} queries, {} dimensions, {} classes; faiss {} with {} threads".format(
        args.num_images, args.num_queries, NUM_DIMS, int(np.prod(BRANCHING)), faiss.__version__,
        faiss.omp_get_max_threads()), flush=True)
    similarity, database, db_labels, queries, query_labels = make_data(args.num_images, args.num_queries)
    class_counts = np.bincount(db_labels, minlength=len(similarity))
    ids_bytes = 8 * args.num_images  # int64 image ids stored beside the codes
    top, rows = args.top, []

    measure("numpy brute force (float)", lambda: database.nbytes,
            lambda _: numpy_brute_force(database, queries, top), rows, ids_bytes=ids_bytes)
    nlist = int(4 * np.sqrt(args.num_images))
    kinds = [
        ("faiss float (IndexFlatIP)", dict(codes="float")),
        ("faiss binary 64 bit (IndexBinaryFlat)", dict(codes="binary")),
        ("faiss binary 64 bit IVF (nlist 1024, nprobe 32)", dict(codes="binary_ivf", nlist=1024, nprobe=32)),
        ("faiss PQ 16 B (IndexPQ)", dict(codes="pq", num_bytes=16)),
        ("faiss IVF-PQ 16 B (nlist {}, nprobe 32)".format(nlist), dict(codes="ivfpq", num_bytes=16, nlist=nlist,
                                                                    nprobe=32)),
    ]
    for name, options in kinds:
        index, _ = measure(name, lambda: build_index(database, **options),
                           lambda ix: ix.search(queries, top).indices, rows, ids_bytes=ids_bytes)
        if options["codes"] == "binary":  # correctness check against numpy's Hamming ranking (a few queries)
            _, expected = codes.hamming_search(codes.pack_bits(queries[:20]), codes.pack_bits(database), top)
            assert np.array_equal(expected, rows[-1]["ranking"][:20]), "faiss binary ranking differs from numpy"
        del index

    reference = rows[0]["ranking"]
    float_ahp = mean_ahp_at_k(query_labels, db_labels[reference], similarity, class_counts, top)
    same = np.mean([np.array_equal(a, b) for a, b in zip(reference, rows[1]["ranking"])])
    print("\nfaiss float vs numpy: identical top-{} rankings for {:.1%} of the queries".format(top, same))
    print("\n| method | build | {:,} queries | per query | codes | + ids | mAHP@{} | vs float | top-{} overlap |".format(
        args.num_queries, top, top))
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    numpy_s = rows[0]["search_s"]
    for row in rows:
        ranking = row["ranking"]
        valid = (ranking >= 0).all(axis=1)
        ahp = mean_ahp_at_k(query_labels[valid], db_labels[ranking[valid]], similarity, class_counts, top)
        print("| {} | {:.1f} s | {:.2f} s ({:.1f}x numpy) | {:.2f} ms | {:.1f} MB | {:.1f} MB | {:.4f} | {:.3f} | "
              "{:.3f} |".format(row["name"], row["build_s"], row["search_s"], numpy_s / row["search_s"],
                                1000 * row["search_s"] / args.num_queries, row["code_bytes"] / 1e6,
                                row["ids_bytes"] / 1e6, ahp, ahp / float_ahp, overlap_at_k(reference, ranking, top)))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print("\nPeak memory of the process (max RSS): {:.0f} MB".format(peak))


if __name__ == "__main__":
    main()
