#!/usr/bin/env bash
# NABirds experiments of the paper (Barz & Denzler, WACV 2019): ResNet-50 learning semantic embeddings
# with the classification head, from scratch and fine-tuned from the ILSVRC model of scripts/ilsvrc.sh;
# then the retrieval and classification tables.
#
#   bash scripts/nabirds.sh DATA_ROOT [ILSVRC_MODEL] [OUT_DIR]
#
# DATA_ROOT: the extracted NABirds folder (images/, hierarchy.txt, classes.txt, image_class_labels.txt,
# train_test_split.txt). ILSVRC_MODEL: the model written by scripts/ilsvrc.sh (without it, only the
# from-scratch model is trained). OUT_DIR: default nabirds-results. Environment: GPUS (2),
# BASELINES=1 (also train the classification baseline from scratch), PYTHON, DRY_RUN=1.
# The taxonomy is the one shipped with NABirds (hierarchy.txt, child-parent lines: --is_a).
set -euo pipefail
if [ $# -lt 1 ]; then
    sed -n '2,12p' "$0" >&2
    exit 2
fi
DATA_ROOT=$(realpath -m "$1")
ILSVRC_MODEL=${2:+$(realpath -m "$2")}
OUT=$(realpath -m "${3:-nabirds-results}")
cd "$(dirname "$0")/.."
source scripts/lib.sh
GPUS=${GPUS:-2}
HIERARCHY=$DATA_ROOT/hierarchy.txt
EMBEDDING=$OUT/nab.unitsphere.pickle
need_file "$HIERARCHY" "NABirds hierarchy"
mkdir -p "$OUT"

run "$PYTHON" compute_class_embedding.py --hierarchy "$HIERARCHY" --is_a --method unitsphere --out "$EMBEDDING"

COMMON=(--data_root "$DATA_ROOT" --architecture resnet-50 --lr_schedule SGDR --sgdr_max_lr 0.5 --max_decay 0
        --epochs 180 --batch_size 128 --gpus "$GPUS" --read_workers 10 --queue_size 20)
train nab.embed+cls_rn50 --dataset NAB "${COMMON[@]}" --embedding "$EMBEDDING" --loss inv_corr --cls_weight 0.1
if [ "${BASELINES:-0}" = 1 ]; then
    train nab.classification_rn50 --dataset NAB "${COMMON[@]}" --embedding onehot --loss "$BASELINE_LOSS"
fi
if [ -n "$ILSVRC_MODEL" ]; then
    need_file "$ILSVRC_MODEL" "ILSVRC model"
    train nab.embed+cls_rn50_finetuned --dataset NAB-ilsvrcmean "${COMMON[@]}" --embedding "$EMBEDDING" \
        --loss inv_corr --cls_weight 0.1 --finetune "$ILSVRC_MODEL" --finetune_init 8 --sgd_lr 0.1
fi

echo "== Retrieval (mAHP@250 is the AHP@250 (LCS_HEIGHT) column)"
FEATS=(--feat "$OUT/nab.embed+cls_rn50.features.pickle" --label "ResNet-50 (from scratch)")
[ "${BASELINES:-0}" = 1 ] && FEATS+=(--feat "$OUT/nab.classification_rn50.features.pickle" --label "Classification (from scratch)")
[ -n "$ILSVRC_MODEL" ] && FEATS+=(--feat "$OUT/nab.embed+cls_rn50_finetuned.features.pickle" --label "ResNet-50 (fine-tuned)")
run "$PYTHON" evaluate_retrieval.py --dataset NAB --data_root "$DATA_ROOT" --hierarchy "$HIERARCHY" --is_a \
    --classes_from "$EMBEDDING" "${FEATS[@]}" --clip_ahp 250 --json "$OUT/retrieval.json"

echo "== Classification (Balanced Accuracy is the Avg. Accuracy column)"
EVAL=(--data_root "$DATA_ROOT" --hierarchy "$HIERARCHY" --is_a --classes_from "$EMBEDDING" --batch_size 32)
run "$PYTHON" evaluate_classification_accuracy.py --dataset NAB "${EVAL[@]}" --model "$OUT/nab.embed+cls_rn50.keras" \
    --layer prob --prob_features yes --label "ResNet-50 (from scratch)"
if [ "${BASELINES:-0}" = 1 ]; then
    run "$PYTHON" evaluate_classification_accuracy.py --dataset NAB "${EVAL[@]}" \
        --model "$OUT/nab.classification_rn50.keras" --layer "$BASELINE_LAYER" --prob_features yes --label "Classification (from scratch)"
fi
if [ -n "$ILSVRC_MODEL" ]; then
    run "$PYTHON" evaluate_classification_accuracy.py --dataset NAB-ilsvrcmean "${EVAL[@]}" \
        --model "$OUT/nab.embed+cls_rn50_finetuned.keras" --layer prob --prob_features yes --label "ResNet-50 (fine-tuned)"
fi
