#!/bin/bash
# Training-throughput experiments for one GPU machine reached through the `device` tool (JAX, no
# TensorFlow there). Carry `.whl` (keras, namex, optree, numexpr wheels for its Python); each
# experiment's output goes to $OUT/<name>.log, and a summary of the figures to the terminal.
#   bash bench/device_train.sh [EXPERIMENT ...]     (default: all, in the order below)
# Smoke test on any machine (tiny sizes appended to every command):
#   SKIP_WHEELS=1 PYTHON=.venv/bin/python OUT=/tmp/out BT_EXTRA="--architectures resnet-32 --image_size 8 --batch_size 2
#   --steps 2 --repeats 1" REF_EXTRA="--blocks 1 --batch_sizes 2 --steps 2" bash bench/device_train.sh
set -u
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=true
export PYTHONPATH=$PWD
if [ -z "${SKIP_WHEELS:-}" ] && [ -d .whl ]; then
    [ -d /tmp/site/keras ] || python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site:$PWD
fi
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
PYTHON=${PYTHON:-python3}
BT_EXTRA=${BT_EXTRA:-} REF_EXTRA=${REF_EXTRA:-}
BT="$PYTHON bench/bench_train.py --architectures resnet-110-wfc --dtype bfloat16 --warmup 3"

run() {  # run NAME TIMEOUT COMMAND...: log to $OUT/NAME.log, print its table lines
    local name=$1 limit=$2; shift 2
    echo "=== $name: $*"
    local start=$SECONDS
    timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
    local rc=$?
    grep -E "^(resnet|simple|wrn|[ 0-9]+ +[0-9]|profile of|backend=|mode=)" "$OUT/$name.log" | grep -v "it/s" | tail -8
    echo "--- $name: rc=$rc, $((SECONDS - start)) s"
}

experiment() {
    case $1 in
        fit512_profile) run $1 200 $BT --mode fit --batch_size 512 --steps 30 --repeats 3 --profile $BT_EXTRA ;;
        ref_jax) run $1 200 $PYTHON bench/reference_cifar_resnet.py --batch_sizes 256,512,1024 $REF_EXTRA ;;
        batch512) run $1 150 $BT --mode batch --batch_size 512 --steps 20 $BT_EXTRA ;;
        fit1024) run $1 150 $BT --mode fit --batch_size 1024 --steps 20 --repeats 3 $BT_EXTRA ;;
        fit512_nographs) XLA_FLAGS=--xla_gpu_enable_command_buffer= run $1 150 $BT --mode fit --batch_size 512 \
                             --steps 30 $BT_EXTRA ;;
        *) echo "unknown experiment $1"; return 1 ;;
    esac
}

nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv,noheader 2>/dev/null
for e in "${@:-fit512_profile ref_jax batch512 fit1024 fit512_nographs}"; do
    for name in $e; do experiment "$name"; done
done
