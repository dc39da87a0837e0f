#!/usr/bin/env bash
# A reduced CIFAR-10 run on CPU: semantic embeddings (+ classification head) vs. the classification
# baseline, same architecture and budget, then both scored. The numbers in RESULTS.md come from it.
#
#   bash scripts/cifar10_reduced.sh DATA_ROOT OUT_DIR [train|eval|all]
#
# DATA_ROOT: CIFAR-10 in the python-pickle layout (data_batch_1..5, test_batch). From the JPEG archive:
#   python -m datasets.make_cifar10_from_jpeg ../shared/data/cifar10-jpeg.tar.gz DATA_ROOT
# Settings (environment): ARCH (resnet-110-wfc), ARCH_KWARGS (JSON; default: 3 blocks per stage of
# 16/32/64 channels, i.e. the ResNet-110-wfc family cut to ResNet-20 size; '{}' for the full network),
# EPOCHS (2), BATCH (100), LR (0.1), MAX_DECAY (0.1),
# WORKERS (2), BASELINE_LOSS (crossentropy, or softmax_corr: the original's cosine loss on softmax
# outputs), EMBEDDING (embeddings/cifar10.unitsphere.pickle, computed from
# Cifar-Hierarchy/cifar10.parent-child.txt when missing), HIERARCHY (that file), KERAS_BACKEND.
# The paper trains 372 epochs of SGDR; this run is cut to what a 2-core CPU does in an hour.
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: $0 DATA_ROOT OUT_DIR [train|eval|all]" >&2
    exit 2
fi
DATA_ROOT=$(realpath -m "$1")
OUT=$(realpath -m "$2")
STEP=${3:-all}
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
source scripts/lib.sh
ARCH=${ARCH:-resnet-110-wfc}
ARCH_KWARGS=${ARCH_KWARGS:-'{"blocks_per_stage": 3, "filters": [16, 32, 64]}'}
EPOCHS=${EPOCHS:-2}
BATCH=${BATCH:-100}
LR=${LR:-0.1}
MAX_DECAY=${MAX_DECAY:-0.1}
WORKERS=${WORKERS:-2}
HIERARCHY=${HIERARCHY:-Cifar-Hierarchy/cifar10.parent-child.txt}
EMBEDDING=${EMBEDDING:-embeddings/cifar10.unitsphere.pickle}
mkdir -p "$OUT"

if [ ! -f "$DATA_ROOT/data_batch_1" ]; then
    echo "error: $DATA_ROOT has no CIFAR-10 pickles (make them with python -m datasets.make_cifar10_from_jpeg)" >&2
    exit 1
fi
if [ ! -f "$EMBEDDING" ]; then
    EMBEDDING=$OUT/cifar10.unitsphere.pickle
    "$PYTHON" compute_class_embedding.py --hierarchy "$HIERARCHY" --method unitsphere --out "$EMBEDDING"
fi

# The same schedule for both: SGD from LR, decayed per iteration (inverse time) down to LR * MAX_DECAY.
COMMON=(--dataset CIFAR-10 --data_root "$DATA_ROOT" --architecture "$ARCH" --architecture_kwargs "$ARCH_KWARGS"
        --epochs "$EPOCHS"
        --batch_size "$BATCH" --lr_schedule SGD --sgd_lr "$LR" --max_decay "$MAX_DECAY"
        --read_workers "$WORKERS" --seed 0)

train() {
    local name=$1; shift
    local start=$SECONDS
    "$PYTHON" learn_image_embeddings.py "${COMMON[@]}" "$@" \
        --model_dump "$OUT/$name.keras" --feature_dump "$OUT/$name.features.pickle" 2>&1 | tee "$OUT/$name.train.log"
    echo "$name: training wall time $((SECONDS - start)) s" | tee -a "$OUT/wall_time.txt"
}

if [ "$STEP" = train ] || [ "$STEP" = all ]; then
    : > "$OUT/wall_time.txt"
    train semantic --embedding "$EMBEDDING" --loss inv_corr --cls_weight 0.1
    train baseline --embedding onehot --loss "$BASELINE_LOSS"
fi

if [ "$STEP" = eval ] || [ "$STEP" = all ]; then
    "$PYTHON" evaluate_retrieval.py --dataset CIFAR-10 --data_root "$DATA_ROOT" --hierarchy "$HIERARCHY" \
        --classes_from "$EMBEDDING" \
        --feat "$OUT/semantic.features.pickle" --label "Semantic Embeddings" \
        --feat "$OUT/baseline.features.pickle" --label "Classification" \
        --clip_ahp 250 --json "$OUT/retrieval.json" --plot "$OUT/hp_curves.png" | tee "$OUT/retrieval.txt"
    "$PYTHON" evaluate_classification_accuracy.py --dataset CIFAR-10 --data_root "$DATA_ROOT" \
        --hierarchy "$HIERARCHY" --classes_from "$EMBEDDING" \
        --model "$OUT/semantic.keras" --layer prob --prob_features yes --label "Semantic Embeddings" \
        --model "$OUT/baseline.keras" --layer "$BASELINE_LAYER" --prob_features yes --label "Classification" \
        | tee "$OUT/accuracy.txt"
fi
