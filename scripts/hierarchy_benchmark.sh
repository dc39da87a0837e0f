#!/usr/bin/env bash
# One command for the comparison of hierarchy-aware methods on Tiny ImageNet (issue 14):
#
#   bash scripts/hierarchy_benchmark.sh DATA_ROOT [OUT]      # DATA_ROOT: tiny-imagenet-200 folder or .tar.gz
#   QUICK=1 bash scripts/hierarchy_benchmark.sh DATA_ROOT    # 10 classes, 1 short epoch: minutes
#
# Trains every method with the same network, schedule, epochs, data order and seed: softmax cross-entropy,
# label smoothing, HXE, soft labels, semantic embeddings (cosine loss onto the unit-sphere class embedding)
# with and without classification head, DeViSE, center loss, label embedding; CRM at test time on the
# softmax, label-smoothing, HXE and soft-label models. Scores: top-1 error, mistake severity, hierarchical
# distance@1/5/20, mAHP@250, P@10, mAP. Writes OUT/benchmark.json, benchmark.md, error_vs_severity.png,
# hp_curves.png (METHODS=hashing: hashing.json, hashing.md, hashing_hp_curves.png). A model already in OUT
# is not trained again, so an interrupted run resumes (run the same command again).
#
# Budget: the demo's 7-layer plain CNN (0.18 M parameters) at 32x32, SGD from lr 0.1 decayed to 0.01,
# batch 100, seed 0, EPOCHS (default 1) epochs. Measured on the shared 2-core machine (load 3-7 from other
# jobs, 1 Dec 2026): one epoch over the 100,000 training images took 233-452 s per model (under 15 minutes
# even at twice that load), the nine models of the hierarchy set 47.5 minutes in all, METHODS=hashing 13
# more; QUICK=1 on the real data 150 s. Results: RESULTS.md.
#
# Environment: OUT (hierarchy-benchmark-output), QUICK=1, METHODS (hierarchy | hashing | all | comma-separated
# row keys), EPOCHS, IMAGE_SIZE (32), SEED (0), CLASSES / TRAIN_PER_CLASS / TEST_PER_CLASS (a subset),
# PYTHON (.venv/bin/python), DRY_RUN=1 (print what would be trained).
set -euo pipefail
if [ $# -lt 1 ] || [ "$1" = -h ] || [ "$1" = --help ]; then
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
    [ $# -ge 1 ] && exit 0 || exit 2
fi
DATA_ROOT=$(realpath -m "$1")
OUT=$(realpath -m "${2:-${OUT:-hierarchy-benchmark-output}}")
# The command as given (settings from the environment included), for the reports.
COMMAND=""
for v in QUICK METHODS EPOCHS IMAGE_SIZE SEED CLASSES TRAIN_PER_CLASS TEST_PER_CLASS; do
    if [ -n "${!v:-}" ]; then COMMAND+="$v=$(printf '%q' "${!v}") "; fi
done
COMMAND+="bash scripts/hierarchy_benchmark.sh$(printf ' %q' "$@")"
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-3}

ARGS=(--data_root "$DATA_ROOT" --out "$OUT" --methods "${METHODS:-hierarchy}" --command "$COMMAND")
[ "${QUICK:-0}" = 1 ] && ARGS+=(--quick)
[ "${DRY_RUN:-0}" = 1 ] && ARGS+=(--dry_run)
[ -n "${EPOCHS:-}" ] && ARGS+=(--epochs "$EPOCHS")
[ -n "${IMAGE_SIZE:-}" ] && ARGS+=(--image_size "$IMAGE_SIZE")
[ -n "${SEED:-}" ] && ARGS+=(--seed "$SEED")
[ -n "${CLASSES:-}" ] && ARGS+=(--classes "$CLASSES")
[ -n "${TRAIN_PER_CLASS:-}" ] && ARGS+=(--train_per_class "$TRAIN_PER_CLASS")
[ -n "${TEST_PER_CLASS:-}" ] && ARGS+=(--test_per_class "$TEST_PER_CLASS")

START=$SECONDS
status=0
"$PYTHON" hierarchy_benchmark.py "${ARGS[@]}" || status=$?
echo "hierarchy_benchmark.sh: $((SECONDS - START)) s (exit status $status)"
exit $status
