#!/usr/bin/env bash
# Reproduces resources/isegsat_hrnet18s_synthetic.pth: synthetic Inria-layout scenes -> 500² crops ->
# HRNet18s trained from random initialisation with RITM's iterative procedure -> evaluation on the
# held-out generated tiles (tiles 1-5 of every city). Needs a CUDA GPU for the stated time budget.
#
#   WORK=/tmp/isegsat-default TRAIN_SECONDS=330 bash resources/reproduce_default_model.sh
#
# Runs with the package installed (pip install -e .) or with `isegsat` on PYTHONPATH.
set -euo pipefail
WORK=${WORK:-/tmp/isegsat-default}
TRAIN_SECONDS=${TRAIN_SECONDS:-330}
WORKERS=${WORKERS:-14}
BATCH=${BATCH:-32}
EPOCH_LEN=${EPOCH_LEN:-2048}
py=${PYTHON:-python3}
mkdir -p "$WORK"

# 1. Scenes: 20 tiles of 2500² px per city (100 tiles, 625 Mpx at 0.3 m).
$py -m isegsat.training.synth.cli inria --out "$WORK/synth" --tiles-per-city 20 --size 2500 \
    --seed 2026 --workers "$WORKERS"
# 2. Crops: 500², tiles 1-5 of each city are the test split.
$py -m isegsat.training.prepare --inria "$WORK/synth" --out "$WORK/crops" --crop 500 --workers "$WORKERS"

train() {  # train RUN_DIR EPOCHS MILESTONE1 MILESTONE2 [extra args]
    local run=$1 epochs=$2 m1=$3 m2=$4; shift 4
    $py -m isegsat.training.train_cli --data "$WORK/crops" --out "$run" --preset scratch \
        --arch hrnet18s --batch-size "$BATCH" --workers "$WORKERS" --val-every 0 --seed 0 \
        --epochs "$epochs" --milestones "$m1" "$m2" "$@"
}

# 3. Probe the speed (4 short epochs), then size the real run to TRAIN_SECONDS.
rm -rf "$WORK/probe"
train "$WORK/probe" 4 100 101 --epoch-len $((BATCH * 30)) 2>&1 | tee "$WORK/probe.log"
sec_per_step=$(grep -oE 'epoch [34]/4: [0-9]+ steps in [0-9]+ s' "$WORK/probe.log" |
    awk '{s += $6; n += $3} END {printf "%.4f", s / n}')
steps_per_epoch=$((EPOCH_LEN / BATCH))
epochs=$($py -c "print(max(2, int($TRAIN_SECONDS / ($sec_per_step * $steps_per_epoch))))")
m1=$($py -c "print(max(1, int($epochs * 0.8)))")
m2=$($py -c "print(max(2, int($epochs * 0.93)))")
echo "probe: $sec_per_step s/step -> $epochs epochs of $steps_per_epoch steps, lr x0.1 at $m1, $m2"

# 4. The real run.
rm -rf "$WORK/run"
train "$WORK/run" "$epochs" "$m1" "$m2" --epoch-len "$EPOCH_LEN"

[ -n "${SKIP_EVAL:-}" ] && exit 0
# 5. RITM protocol on held-out generated crops (tile mode: 500² crops, ZoomIn + flip, 20 clicks).
$py -m isegsat.training.eval_cli --checkpoint "$WORK/run/last.pth" --data "$WORK/crops" \
    --split test --out "$WORK/eval" --limit "${EVAL_LIMIT:-150}"
