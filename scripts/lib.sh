# Shared by the paper-reproduction scripts (sourced, not run).
# Every command is printed, shell-quoted, before it runs; with DRY_RUN=1 it is only printed.
# Training logs go to $OUT/<name>.train.log; a model already in $OUT is not trained again.

PYTHON=${PYTHON:-python}
DRY_RUN=${DRY_RUN:-0}

run() {
    printf '%q ' "$@" | sed 's/ $//'
    echo
    if [ "$DRY_RUN" != 1 ]; then
        "$@"
    fi
}

# train_with SCRIPT NAME ARGS...: SCRIPT ARGS --model_dump $OUT/NAME.keras --feature_dump $OUT/NAME.features.pickle
train_with() {
    local script=$1 name=$2
    shift 2
    if [ "$DRY_RUN" != 1 ] && [ -f "$OUT/$name.keras" ] && [ -f "$OUT/$name.features.pickle" ]; then
        echo "# $name: $OUT/$name.keras exists, not trained again"
        return 0
    fi
    if [ "$DRY_RUN" = 1 ]; then
        run "$PYTHON" "$script" "$@" --model_dump "$OUT/$name.keras" --feature_dump "$OUT/$name.features.pickle"
    else
        run "$PYTHON" "$script" "$@" --model_dump "$OUT/$name.keras" --feature_dump "$OUT/$name.features.pickle" \
            2>&1 | tee "$OUT/$name.train.log"
    fi
}

# train NAME ARGS...: learn_image_embeddings.py ARGS --model_dump $OUT/NAME.keras --feature_dump $OUT/NAME.features.pickle
train() {
    train_with learn_image_embeddings.py "$@"
}

# need_file PATH WHAT: exit with a one-line error unless PATH exists (skipped with DRY_RUN=1).
need_file() {
    if [ "$DRY_RUN" != 1 ] && [ ! -e "$1" ]; then
        echo "error: $1: $2 not found" >&2
        exit 1
    fi
}

# The classification baseline: a softmax classifier trained with cross-entropy (the "Softmax" rows of
# the paper's tables; the original trained it with its learn_classifier.py), or, with
# BASELINE_LOSS=softmax_corr, the original learn_image_embeddings.py's cosine loss on softmax outputs.
# BASELINE_LAYER is the layer whose class scores evaluate_classification_accuracy.py reads.
BASELINE_LOSS=${BASELINE_LOSS:-crossentropy}
case $BASELINE_LOSS in
    crossentropy) BASELINE_LAYER=prob ;;
    softmax_corr) BASELINE_LAYER=softmax ;;
    *) echo "error: BASELINE_LOSS must be crossentropy or softmax_corr, got '$BASELINE_LOSS'" >&2; exit 2 ;;
esac
