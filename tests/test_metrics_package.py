"""The metrics package: its public names, its size limits and that it needs no deep-learning framework."""

import ast
import os
import subprocess
import sys

import metrics

METRICS_DIR = os.path.dirname(metrics.__file__)
REPO_ROOT = os.path.dirname(METRICS_DIR)

# Every name the single-module metrics.py offered that scripts, tests or users call.
ORIGINAL_NAMES = [
    "PREC_TYPES", "SIMILARITIES", "DEFAULT_KS", "CLASSIFICATION_METRICS", "check_prec_types", "check_ks",
    "check_ahp", "ahp_name", "metric_names", "rank_by_distance", "RetrievalEvaluator", "retrieval_metrics",
    "hierarchical_precision", "classification_metrics", "_DistanceBlocks", "_SimilarityRows",
]


def test_original_names_still_importable():
    missing = [name for name in ORIGINAL_NAMES if not hasattr(metrics, name)]
    assert not missing
    assert all(hasattr(metrics, name) for name in metrics.__all__)


def test_metrics_modules_are_small_and_import_no_framework():
    frameworks = {"keras", "tensorflow", "jax", "torch"}
    modules = [f for f in os.listdir(METRICS_DIR) if f.endswith(".py")]
    assert {"__init__.py", "retrieval.py", "ranked_lists.py", "classification.py"} <= set(modules)
    for name in modules:
        with open(os.path.join(METRICS_DIR, name)) as f:
            source = f.read()
        assert source.count("\n") <= 500, name
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                roots = {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                roots = {node.module.split(".")[0]}
            else:
                continue
            assert not roots & frameworks, (name, roots)


def test_import_metrics_loads_no_framework():
    code = ("import sys, metrics, class_hierarchy; "
            "print(sorted(m for m in ('keras', 'tensorflow', 'jax', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
