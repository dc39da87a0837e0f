"""One-command comparisons of training methods on the same data, network, schedule, epochs and seed.

- `comparison.methods`: the tables of compared methods (`METHOD_SETS`: "hierarchy" = the hierarchy-aware
  classifiers and embeddings of issue 14, "hashing" = binary codes of issue 15) and the shared `Budget`;
- `comparison.data`: Tiny ImageNet subsets in the dataset's own layout (QUICK runs, tests) and the class
  embeddings the methods need, with rows in the dataset's class order;
- `comparison.runner`: training (resumable: a model already trained is not trained again) and scoring;
- `comparison.report`: benchmark.json, benchmark.md and the pictures.

`hierarchy_benchmark.py` is the command line over them; `scripts/hierarchy_benchmark.sh` the one command.
"""
