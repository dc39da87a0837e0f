#!/usr/bin/env bash
# CIFAR-100 experiments of the paper (Barz & Denzler, WACV 2019): Plain-11, ResNet-110-wfc and
# PyramidNet-272-200, each trained three times: semantic embeddings with the classification head
# (--cls_weight 0.1), semantic embeddings alone, and the classification baseline (a softmax classifier
# trained with cross-entropy); then the retrieval and classification tables. With BASELINES=1 also the
# paper's other baseline rows, with the original release's trainers: a softmax classifier
# (learn_classifier.py), DeViSE on top of it (learn_devise.py), softmax + center loss
# (learn_center_loss.py) and the label embedding network (learn_labelembedding.py), 100-d embeddings.
#
#   bash scripts/cifar100.sh DATA_ROOT [OUT_DIR]
#
# DATA_ROOT: the extracted cifar-100-python folder (train, test, meta). OUT_DIR: models, features and
# logs (default: cifar100-results). Environment: ARCHS (default "simple resnet-110-wfc
# pyramidnet-272-200"), GPUS (1), HIERARCHY (Cifar-Hierarchy/cifar.parent-child.txt), EMBEDDING
# (embeddings/cifar100.unitsphere.pickle), BASELINE_LOSS (crossentropy, or softmax_corr for the original
# release's cosine loss on softmax outputs), BASELINES=1, PYTHON, DRY_RUN=1 (print the commands only).
# Every training run is 372 epochs of SGDR (restarts after epochs 12, 36, 84 and 180).
# For the published taxonomy of the original release instead of ours, set HIERARCHY to its
# cifar.parent-child.txt and EMBEDDING to a file computed from it with compute_class_embedding.py.
set -euo pipefail
if [ $# -lt 1 ]; then
    sed -n '2,19p' "$0" >&2
    exit 2
fi
DATA_ROOT=$(realpath -m "$1")
OUT=$(realpath -m "${2:-cifar100-results}")
cd "$(dirname "$0")/.."
source scripts/lib.sh
ARCHS=${ARCHS:-simple resnet-110-wfc pyramidnet-272-200}
GPUS=${GPUS:-1}
HIERARCHY=${HIERARCHY:-Cifar-Hierarchy/cifar.parent-child.txt}
EMBEDDING=${EMBEDDING:-embeddings/cifar100.unitsphere.pickle}
need_file "$DATA_ROOT/train" "CIFAR-100 training file (DATA_ROOT must be the cifar-100-python folder)"
mkdir -p "$OUT"

declare -A NAME=([simple]=Plain-11 [resnet-110-wfc]=ResNet-110-wfc [pyramidnet-272-200]=PyramidNet-272-200)

for ARCH in $ARCHS; do
    COMMON=(--dataset CIFAR-100 --data_root "$DATA_ROOT" --architecture "$ARCH" --gpus "$GPUS")
    # Plain-11 additionally decays the learning rate continuously to a tenth (original README).
    [ "$ARCH" = simple ] && COMMON+=(--max_decay 0.1)
    train "$ARCH.embed+cls" "${COMMON[@]}" --embedding "$EMBEDDING" --loss inv_corr --cls_weight 0.1
    train "$ARCH.embed" "${COMMON[@]}" --embedding "$EMBEDDING" --loss inv_corr
    train "$ARCH.classification" "${COMMON[@]}" --embedding onehot --loss "$BASELINE_LOSS"
    if [ "${BASELINES:-0}" = 1 ]; then
        train_with learn_classifier.py "$ARCH.softmax" "${COMMON[@]}"
        train_with learn_devise.py "$ARCH.devise" --dataset CIFAR-100 --data_root "$DATA_ROOT" --architecture "$ARCH" \
            --embedding "$EMBEDDING" --init_weights "$OUT/$ARCH.softmax.keras"
        train_with learn_center_loss.py "$ARCH.center_loss" "${COMMON[@]}" --embed_dim 100
        train_with learn_labelembedding.py "$ARCH.labelembedding" "${COMMON[@]}" --embed_dim 100
    fi
done

echo "== Retrieval (mAHP@250 is the AHP@250 (LCS_HEIGHT) column)"
FEATS=()
for ARCH in $ARCHS; do
    LABEL=${NAME[$ARCH]:-$ARCH}
    FEATS+=(--feat "$OUT/$ARCH.embed+cls.features.pickle" --label "$LABEL: Semantic Embeddings + cls"
            --feat "$OUT/$ARCH.embed.features.pickle" --label "$LABEL: Semantic Embeddings"
            --feat "$OUT/$ARCH.classification.features.pickle" --label "$LABEL: Classification")
    if [ "${BASELINES:-0}" = 1 ]; then
        FEATS+=(--feat "$OUT/$ARCH.softmax.features.pickle" --label "$LABEL: Softmax (learn_classifier)"
                --feat "$OUT/$ARCH.devise.features.pickle" --label "$LABEL: DeViSE"
                --feat "$OUT/$ARCH.center_loss.features.pickle" --label "$LABEL: Center Loss"
                --feat "$OUT/$ARCH.labelembedding.features.pickle" --label "$LABEL: Label Embedding")
    fi
done
run "$PYTHON" evaluate_retrieval.py --dataset CIFAR-100 --data_root "$DATA_ROOT" --hierarchy "$HIERARCHY" \
    --classes_from "$EMBEDDING" "${FEATS[@]}" --clip_ahp 250 --json "$OUT/retrieval.json" --plot "$OUT/hp_curves.png"

echo "== Classification (Balanced Accuracy is the Avg. Accuracy column)"
for ARCH in $ARCHS; do
    LABEL=${NAME[$ARCH]:-$ARCH}
    EVAL=(--dataset CIFAR-100 --data_root "$DATA_ROOT" --hierarchy "$HIERARCHY" --classes_from "$EMBEDDING")
    run "$PYTHON" evaluate_classification_accuracy.py "${EVAL[@]}" --model "$OUT/$ARCH.embed+cls.keras" \
        --layer prob --prob_features yes --label "$LABEL: Semantic Embeddings + cls"
    run "$PYTHON" evaluate_classification_accuracy.py "${EVAL[@]}" --model "$OUT/$ARCH.embed.keras" \
        --layer l2norm --centroids "$EMBEDDING" --label "$LABEL: Semantic Embeddings"
    run "$PYTHON" evaluate_classification_accuracy.py "${EVAL[@]}" --model "$OUT/$ARCH.classification.keras" \
        --layer "$BASELINE_LAYER" --prob_features yes --label "$LABEL: Classification"
    if [ "${BASELINES:-0}" = 1 ]; then
        run "$PYTHON" evaluate_classification_accuracy.py "${EVAL[@]}" --model "$OUT/$ARCH.softmax.keras" \
            --layer prob --prob_features yes --label "$LABEL: Softmax (learn_classifier)"
        run "$PYTHON" evaluate_classification_accuracy.py "${EVAL[@]}" --model "$OUT/$ARCH.devise.keras" \
            --layer embedding --centroids "$EMBEDDING" --label "$LABEL: DeViSE"
        run "$PYTHON" evaluate_classification_accuracy.py "${EVAL[@]}" --model "$OUT/$ARCH.center_loss.keras" \
            --layer prob --prob_features yes --label "$LABEL: Center Loss"
        run "$PYTHON" evaluate_classification_accuracy.py "${EVAL[@]}" --model "$OUT/$ARCH.labelembedding.keras" \
            --layer prob --prob_features yes --label "$LABEL: Label Embedding"
    fi
done
