#!/usr/bin/env bash
# The demo: semantic embeddings vs. classification features on real images, in minutes on a laptop CPU.
#
#   make demo                        # Fashion-MNIST (installed with apt-get when run as root and missing;
#                                    # without it and without root: digits)
#   bash scripts/demo.sh --dataset digits    # scikit-learn's 8x8 digits: no download at all
#
# Steps: 1. class embedding from the taxonomy; 2. the same small network trained twice with the same
# budget: semantic embeddings (+ classification head, --cls_weight 0.1) and the classification
# baseline, a softmax classifier trained with cross-entropy (--embedding onehot --loss crossentropy);
# 3. both scored with evaluate_retrieval.py and evaluate_classification_accuracy.py;
# 4. demo-output/summary.json, summary.md, hp_curves.png, retrieval_examples.png.
# Environment: PYTHON (.venv/bin/python), DEMO_OUT (demo-output), EPOCHS (dataset default),
# FASHION_MNIST_ROOT (/usr/share/datasets/fashion-mnist), TRAIN_PER_CLASS / TEST_PER_CLASS (train and
# score on the first N images per class only: a quicker, weaker run; default: all), SEED (0),
# BASELINE_LOSS (crossentropy, or softmax_corr: the original's cosine loss on softmax outputs).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
source scripts/lib.sh  # BASELINE_LOSS, BASELINE_LAYER
OUT=${DEMO_OUT:-demo-output}
FASHION_MNIST_ROOT=${FASHION_MNIST_ROOT:-/usr/share/datasets/fashion-mnist}
SEED=${SEED:-0}
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-3}

DATASET=Fashion-MNIST
while [ $# -gt 0 ]; do
    case $1 in
        --dataset) DATASET=${2:?--dataset needs a value: Fashion-MNIST or digits}; shift 2 ;;
        --dataset=*) DATASET=${1#--dataset=}; shift ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "error: unknown argument $1 (use --dataset Fashion-MNIST|digits)" >&2; exit 2 ;;
    esac
done

have_fashion_mnist() { [ -f "$FASHION_MNIST_ROOT/t10k-labels-idx1-ubyte.gz" ] || [ -f "$FASHION_MNIST_ROOT/t10k-labels-idx1-ubyte" ]; }

# Fashion-MNIST: install it when missing (as root), else fall back to digits.
case ${DATASET,,} in
    fashion-mnist)
        DATASET=Fashion-MNIST
        if ! have_fashion_mnist && [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null \
                && [ "$FASHION_MNIST_ROOT" = /usr/share/datasets/fashion-mnist ]; then
            echo "== 0. Installing Fashion-MNIST (apt-get install dataset-fashion-mnist)"
            apt-get install -y dataset-fashion-mnist || { apt-get update && apt-get install -y dataset-fashion-mnist; } || true
        fi
        if ! have_fashion_mnist; then
            echo "note: Fashion-MNIST not found in $FASHION_MNIST_ROOT. To get it: 'sudo apt-get install" >&2
            echo "  dataset-fashion-mnist' (Debian/Ubuntu), or put the four *-idx*-ubyte.gz files of" >&2
            echo "  https://github.com/zalandoresearch/fashion-mnist there (or set FASHION_MNIST_ROOT)." >&2
            echo "  Falling back to the digits bundled with scikit-learn (--dataset digits)." >&2
            DATASET=digits
        fi
        ;;
esac
case ${DATASET,,} in
    fashion-mnist)
        DATA_ROOT=$FASHION_MNIST_ROOT
        HIERARCHY=Fashion-MNIST-Hierarchy/fashion-mnist.parent-child.txt
        # A 7-layer plain net (Plain-11's layer types at a fraction of its depth and width): 28x28 -> 7x7.
        ARCH_KWARGS='{"filters": [32, 32, "ap", 64, 64, "ap", 128, "gap", "fc128"]}'
        EPOCHS=${EPOCHS:-2}
        ;;
    digits)
        DATASET=digits
        DATA_ROOT=
        HIERARCHY=scripts/digits.parent-child.txt
        ARCH_KWARGS='{"filters": [32, 32, "ap", 64, 64, "gap", "fc128"]}'
        EPOCHS=${EPOCHS:-30}
        ;;
    *) echo "error: --dataset must be Fashion-MNIST or digits, got $DATASET" >&2; exit 2 ;;
esac

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
START=$SECONDS
: > "$OUT/timing.txt"
step_done() { echo "$1: $((SECONDS - STEP_START)) s" | tee -a "$OUT/timing.txt"; }

if [ -n "${TRAIN_PER_CLASS:-}${TEST_PER_CLASS:-}" ]; then
    [ "$DATASET" = Fashion-MNIST ] || { echo "error: TRAIN_PER_CLASS/TEST_PER_CLASS work with Fashion-MNIST only" >&2; exit 2; }
    "$PYTHON" demo_report.py subset --source "$DATA_ROOT" --out "$OUT/fashion-mnist-subset" \
        ${TRAIN_PER_CLASS:+--train_per_class "$TRAIN_PER_CLASS"} ${TEST_PER_CLASS:+--test_per_class "$TEST_PER_CLASS"}
    DATA_ROOT=$OUT/fashion-mnist-subset
fi
# digits needs no root, but evaluate_retrieval.py requires the flag (as the original did): "" then.
DATA_ARGS=(--dataset "$DATASET" --data_root "$DATA_ROOT")
EMBEDDING=$OUT/class_embedding.unitsphere.pickle

echo "== 1. Class embedding of the $DATASET taxonomy ($HIERARCHY)"
STEP_START=$SECONDS
"$PYTHON" compute_class_embedding.py --hierarchy "$HIERARCHY" --method unitsphere --out "$EMBEDDING"
step_done "1. class embedding"

# Identical network, schedule and budget for both: SGD with momentum from 0.1, decayed per iteration
# (inverse time) to 0.01 at the end.
TRAIN_ARGS=("${DATA_ARGS[@]}" --architecture simple --architecture_kwargs "$ARCH_KWARGS"
            --epochs "$EPOCHS" --batch_size 100 --lr_schedule SGD --sgd_lr 0.1 --max_decay 0.1
            --read_workers 2 --seed "$SEED")

echo "== 2a. Training semantic embeddings + classification head ($EPOCHS epochs)"
STEP_START=$SECONDS
"$PYTHON" learn_image_embeddings.py "${TRAIN_ARGS[@]}" --embedding "$EMBEDDING" --loss inv_corr --cls_weight 0.1 \
    --model_dump "$OUT/semantic.keras" --feature_dump "$OUT/semantic.features.pickle"
step_done "2a. training semantic embeddings"

echo "== 2b. Training the classification baseline ($EPOCHS epochs)"
STEP_START=$SECONDS
"$PYTHON" learn_image_embeddings.py "${TRAIN_ARGS[@]}" --embedding onehot --loss "$BASELINE_LOSS" \
    --model_dump "$OUT/classification.keras" --feature_dump "$OUT/classification.features.pickle"
step_done "2b. training classification baseline"

echo "== 3a. Retrieval: every test image queries all others"
STEP_START=$SECONDS
"$PYTHON" evaluate_retrieval.py "${DATA_ARGS[@]}" --hierarchy "$HIERARCHY" --classes_from "$EMBEDDING" \
    --feat "$OUT/semantic.features.pickle" --label "Semantic Embeddings" \
    --feat "$OUT/classification.features.pickle" --label "Classification" \
    --clip_ahp 250 --json "$OUT/retrieval.json" --csv "$OUT/hp.csv" | tee "$OUT/retrieval.txt"
step_done "3a. retrieval evaluation"

echo "== 3b. Classification accuracy (class scores of the prob layers)"
STEP_START=$SECONDS
"$PYTHON" evaluate_classification_accuracy.py "${DATA_ARGS[@]}" --hierarchy "$HIERARCHY" --classes_from "$EMBEDDING" \
    --model "$OUT/semantic.keras" --layer prob --prob_features yes --label "Semantic Embeddings" \
    --model "$OUT/classification.keras" --layer "$BASELINE_LAYER" --prob_features yes --label "Classification" \
    --json "$OUT/accuracy.json" | tee "$OUT/accuracy.txt"
step_done "3b. classification evaluation"

echo "== 4. Summary and figures"
STEP_START=$SECONDS
"$PYTHON" demo_report.py report "${DATA_ARGS[@]}" --hierarchy "$HIERARCHY" --classes_from "$EMBEDDING" \
    --feat "Semantic Embeddings=$OUT/semantic.features.pickle" --feat "Classification=$OUT/classification.features.pickle" \
    --metrics "$OUT/retrieval.json" --metrics "$OUT/accuracy.json" --hp_csv "$OUT/hp.csv" --out "$OUT" \
    --caption "$DATASET test set, $EPOCHS epochs per model (scripts/demo.sh)"
step_done "4. report"
echo "total: $((SECONDS - START)) s" | tee -a "$OUT/timing.txt"
