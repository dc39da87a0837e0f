#!/usr/bin/env bash
# The demo on built-in data. Run through `make demo` (which prepares .venv) or directly.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
OUT=${DEMO_OUT:-demo-output}
mkdir -p "$OUT"

echo "== 1. Class embedding of the CIFAR-100 taxonomy"
"$PYTHON" compute_class_embedding.py --hierarchy Cifar-Hierarchy/cifar.parent-child.txt \
    --method unitsphere --out "$OUT/cifar100.unitsphere.npz"
