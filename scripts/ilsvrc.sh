#!/usr/bin/env bash
# ILSVRC 2012 experiment of the paper (Barz & Denzler, WACV 2019): ResNet-50 learning semantic
# embeddings of the WordNet "mintree" with the classification head; then the retrieval and
# classification tables. Its model is also the starting point of the fine-tuned NABirds model.
#
#   bash scripts/ilsvrc.sh DATA_ROOT [OUT_DIR]
#
# DATA_ROOT: ILSVRC2012_img_train/<wnid>/*.JPEG and ILSVRC2012_img_val/<wnid>/*.JPEG (validation
# images sorted into class folders). OUT_DIR: default ilsvrc-results. Environment: GPUS (2), PYTHON,
# DRY_RUN=1. Training: 80 epochs, one SGDR cycle (--sgdr_base_len 80).
# The taxonomy is built from WordNet 3.0 (/usr/share/wordnet) by ILSVRC/wordnet_hierarchy.py: the tree
# for training, the full is-a DAG over the classes and their hypernyms for evaluation (as the original
# used wordnet.parent-child.pruned.txt).
set -euo pipefail
if [ $# -lt 1 ]; then
    sed -n '2,13p' "$0" >&2
    exit 2
fi
DATA_ROOT=$(realpath -m "$1")
OUT=$(realpath -m "${2:-ilsvrc-results}")
cd "$(dirname "$0")/.."
source scripts/lib.sh
GPUS=${GPUS:-2}
TREE=$OUT/wordnet.parent-child.mintree.txt
DAG=$OUT/wordnet.parent-child.dag.txt
EMBEDDING=$OUT/imagenet_mintree.unitsphere.pickle
need_file "$DATA_ROOT/ILSVRC2012_img_train" "ILSVRC training folder"
mkdir -p "$OUT"

run "$PYTHON" ILSVRC/wordnet_hierarchy.py "$DATA_ROOT/ILSVRC2012_img_train" --out "$TREE" --dag "$DAG"
run "$PYTHON" compute_class_embedding.py --hierarchy "$TREE" --str_ids --method unitsphere --out "$EMBEDDING"

train imagenet_unitsphere-embed+cls_rn50 --dataset ILSVRC --data_root "$DATA_ROOT" --embedding "$EMBEDDING" \
    --architecture resnet-50 --loss inv_corr --cls_weight 0.1 --lr_schedule SGDR --sgdr_base_len 80 --epochs 80 \
    --max_decay 0 --batch_size 128 --gpus "$GPUS"

echo "== Retrieval (mAHP@250 is the AHP@250 (LCS_HEIGHT) column)"
run "$PYTHON" evaluate_retrieval.py --dataset ILSVRC --data_root "$DATA_ROOT" --hierarchy "$DAG" --str_ids \
    --classes_from "$EMBEDDING" --feat "$OUT/imagenet_unitsphere-embed+cls_rn50.features.pickle" \
    --label "ResNet-50" --clip_ahp 250 --json "$OUT/retrieval.json"

echo "== Classification (Balanced Accuracy is the Avg. Accuracy column)"
run "$PYTHON" evaluate_classification_accuracy.py --dataset ILSVRC --data_root "$DATA_ROOT" --hierarchy "$DAG" \
    --str_ids --classes_from "$EMBEDDING" --model "$OUT/imagenet_unitsphere-embed+cls_rn50.keras" --layer prob \
    --prob_features yes --batch_size 32 --label "ResNet-50"
