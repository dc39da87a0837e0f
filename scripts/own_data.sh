#!/usr/bin/env bash
# Your own images: from a folder of class sub-directories to two trained, evaluated models and pictures.
#
#   bash scripts/own_data.sh IMAGE_DIR OUT
#
# IMAGE_DIR holds IMAGE_DIR/<class>/<images> (a stratified split is made: TEST_SPLIT of each class held out,
# written as list files beside the data and reused), or IMAGE_DIR/train/<class>/ and IMAGE_DIR/test/<class>/
# (or val/). Class names are folder names that WordNet knows (plurals and variants are fine: "airplanes",
# "Faces"); OVERRIDE=FILE ("class_name wnid" lines) fixes the synset of any of them.
# Steps, all with the repository's own scripts:
#   1. taxonomy_from_names.py: class names -> WordNet synsets -> a tree whose leaves are the class names
#      (OUT/taxonomy.parent-child.txt; OUT/taxonomy.synsets.txt says what was chosen for each name), drawn
#      by plot_hierarchy.py (OUT/taxonomy.png);
#   2. compute_class_embedding.py: the unit-sphere class embedding of that tree;
#   3. learn_image_embeddings.py, twice, with the same small network, budget and seed: semantic embeddings
#      with classification head (--loss inv_corr --cls_weight 0.1) and the cross-entropy baseline
#      (--embedding onehot --loss crossentropy);
#   4. evaluate_retrieval.py (mAHP@K, K = 250 or fewer for small test sets) and
#      evaluate_classification_accuracy.py (accuracy, hierarchical accuracy, mistake severity, ...);
#   5. the report: OUT/summary.md, summary.json, hp_curves.png, retrieval_examples.png.
# A model already in OUT is trained again (delete OUT or choose another to keep results apart).
# Retrieval scores P@100, so the test split needs at least 101 images.
# Environment: PYTHON (.venv/bin/python), IMAGE_SIZE (64), EPOCHS (10), BATCH_SIZE (32), TEST_SPLIT (0.2),
# SPLIT_SEED (0), SEED (0), CLASS_BALANCE (oversample: draw images of small classes more often), OVERRIDE,
# ARCH_KWARGS (the network; default: the demo's 7-layer plain CNN).
set -euo pipefail
if [ $# -ne 2 ] || [ "$1" = -h ] || [ "$1" = --help ]; then
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
    [ $# -ge 1 ] && { [ "$1" = -h ] || [ "$1" = --help ]; } && exit 0 || exit 2
fi
IMAGE_DIR=$(realpath -m "$1")
OUT=$(realpath -m "$2")
[ -d "$IMAGE_DIR" ] || { echo "error: $1: no such folder" >&2; exit 1; }
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-3}
IMAGE_SIZE=${IMAGE_SIZE:-64}
EPOCHS=${EPOCHS:-10}
SEED=${SEED:-0}
ARCH_KWARGS=${ARCH_KWARGS:-'{"filters": [32, 32, "ap", 64, 64, "ap", 128, "gap", "fc128"]}'}

mkdir -p "$OUT"
START=$SECONDS
: > "$OUT/timing.txt"
step_done() { echo "$1: $((SECONDS - STEP_START)) s" | tee -a "$OUT/timing.txt"; }

# The dataset as every script reads it: the folder, its split and the input size.
DATA_ARGS=(--dataset folder --data_root "$IMAGE_DIR" --image_size "$IMAGE_SIZE"
           --test_split "${TEST_SPLIT:-0.2}" --split_seed "${SPLIT_SEED:-0}")
TAXONOMY=$OUT/taxonomy.parent-child.txt
HIERARCHY_ARGS=(--hierarchy "$TAXONOMY" --str_ids)
EMBEDDING=$OUT/class_embedding.unitsphere.pickle

echo "== 1. Taxonomy from the class names (WordNet)"
STEP_START=$SECONDS
"$PYTHON" taxonomy_from_names.py "$IMAGE_DIR" --out "$TAXONOMY" ${OVERRIDE:+--override "$OVERRIDE"}
"$PYTHON" plot_hierarchy.py "${HIERARCHY_ARGS[@]}" --class_names "$OUT/taxonomy.names.txt" --out "$OUT/taxonomy.png"
step_done "1. taxonomy"

echo "== 2. Class embedding of the taxonomy"
STEP_START=$SECONDS
# The leaves of the tree are the class names; without --class_list they are embedded in sorted order,
# the folder dataset's class order.
"$PYTHON" compute_class_embedding.py "${HIERARCHY_ARGS[@]}" --method unitsphere --out "$EMBEDDING"
step_done "2. class embedding"

TRAIN_ARGS=("${DATA_ARGS[@]}" --architecture simple --architecture_kwargs "$ARCH_KWARGS" --epochs "$EPOCHS"
            --batch_size "${BATCH_SIZE:-32}" --lr_schedule SGD --sgd_lr 0.1 --max_decay 0.1 --read_workers 2
            --seed "$SEED" ${CLASS_BALANCE:+--class_balance "$CLASS_BALANCE"})

echo "== 3a. Training semantic embeddings + classification head ($EPOCHS epochs)"
STEP_START=$SECONDS
"$PYTHON" learn_image_embeddings.py "${TRAIN_ARGS[@]}" --embedding "$EMBEDDING" --loss inv_corr --cls_weight 0.1 \
    --model_dump "$OUT/semantic.keras" --feature_dump "$OUT/semantic.features.pickle" --no_progress
step_done "3a. training semantic embeddings"

echo "== 3b. Training the classification baseline ($EPOCHS epochs)"
STEP_START=$SECONDS
"$PYTHON" learn_image_embeddings.py "${TRAIN_ARGS[@]}" --embedding onehot --loss crossentropy \
    --model_dump "$OUT/classification.keras" --feature_dump "$OUT/classification.features.pickle" --no_progress
step_done "3b. training classification baseline"

echo "== 4a. Retrieval: every test image queries all others"
STEP_START=$SECONDS
NUM_TEST=$("$PYTHON" -c 'import sys, datasets
labels, _ = datasets.load_labels("folder", sys.argv[1], split="test", test_split=float(sys.argv[2]), split_seed=int(sys.argv[3]))
print(len(labels))' "$IMAGE_DIR" "${TEST_SPLIT:-0.2}" "${SPLIT_SEED:-0}" | tail -n 1)
K=$(( NUM_TEST - 1 < 250 ? NUM_TEST - 1 : 250 ))
"$PYTHON" evaluate_retrieval.py "${DATA_ARGS[@]}" "${HIERARCHY_ARGS[@]}" --classes_from "$EMBEDDING" \
    --feat "$OUT/semantic.features.pickle" --label "Semantic Embeddings" \
    --feat "$OUT/classification.features.pickle" --label "Classification" \
    --clip_ahp "$K" --plot_max "$K" --json "$OUT/retrieval.json" --csv "$OUT/hp.csv" | tee "$OUT/retrieval.txt"
step_done "4a. retrieval evaluation"

echo "== 4b. Classification (class scores of the prob layers)"
STEP_START=$SECONDS
"$PYTHON" evaluate_classification_accuracy.py "${DATA_ARGS[@]}" "${HIERARCHY_ARGS[@]}" --classes_from "$EMBEDDING" \
    --model "$OUT/semantic.keras" --layer prob --prob_features yes --label "Semantic Embeddings" \
    --model "$OUT/classification.keras" --layer prob --prob_features yes --label "Classification" \
    --json "$OUT/accuracy.json" | tee "$OUT/accuracy.txt"
step_done "4b. classification evaluation"

echo "== 5. Summary and pictures"
STEP_START=$SECONDS
"$PYTHON" -m comparison.own_data "${DATA_ARGS[@]}" "${HIERARCHY_ARGS[@]}" --classes_from "$EMBEDDING" \
    --feat "Semantic Embeddings=$OUT/semantic.features.pickle" --feat "Classification=$OUT/classification.features.pickle" \
    --metrics "$OUT/retrieval.json" --metrics "$OUT/accuracy.json" --hp_csv "$OUT/hp.csv" --plot_max "$K" \
    --out "$OUT" --caption "$(basename "$IMAGE_DIR"): $NUM_TEST test images, $EPOCHS epochs per model at ${IMAGE_SIZE}x$IMAGE_SIZE (scripts/own_data.sh)"
step_done "5. report"
echo "total: $((SECONDS - START)) s" | tee -a "$OUT/timing.txt"
