#!/usr/bin/env bash
# Reproduces isegsat_hrnet18s_synthetic.pth, the base of the bundled default model, exactly as it was
# made: synthetic Inria-layout scenes -> 500² crops -> HRNet18s trained from random weights with
# RITM's iterative procedure (2300 steps of 8 crops in four phases) -> evaluation on the
# held-out generated tiles (tiles 1-5 of every city).
#
#   WORK=/tmp/isegsat-default bash resources/recipes/synthetic_base.sh
#
# About 2 h 40 min of training on 2 otherwise idle CPU cores (1.4 s per step of 8 crops of 224²);
# add DEVICE=cuda to train on a GPU (the step count, not the time, defines the model).
# Runs with the package installed (pip install -e .).
set -euo pipefail
WORK=${WORK:-/tmp/isegsat-default}
DEVICE=${DEVICE:-cpu}
mkdir -p "$WORK"
cd "$WORK"

# 1. Scenes: 12 tiles of 2000² px per city (60 tiles at 0.3 m); tiles 1-5 of each city are test.
#    Phase 5 uses 30 tiles per city; a tile depends only on (seed, city, number), so tiles 1-12
#    (and the test tiles) are the same in both sets.
isegsat-synth inria --out synth --tiles-per-city 12 --size 2000 --seed 2026 --workers 2
isegsat-synth inria --out synth30 --tiles-per-city 30 --size 2000 --seed 2026 --workers 2
# 2. Crops: 500² (35 train tiles -> 560 crops, 25 test tiles -> 400 crops; 125 train tiles ->
#    2000 crops in crops30, the same 400 test crops).
isegsat-prepare --inria synth --out crops --crop 500 --workers 2
isegsat-prepare --inria synth30 --out crops30 --crop 500 --workers 2

common=(--data crops --batch-size 8 --crop-size 224 224 --workers 1 --val-every 0
        --epoch-len 800 --device "$DEVICE")
# 3. Phase 1: random initialisation, backbone at the full learning rate, 10 epochs of 100 steps.
isegsat-train "${common[@]}" --out run --preset scratch --arch hrnet18s --epochs 10 \
    --milestones 8 9 --seed 0
# 4. Phase 2: one epoch restarted from phase 1 at lr 5e-4; phase 3: six epochs from there,
#    lr x0.1 at epochs 4 and 5. (That is how the shipped model was made: a longer phase 2 was cut
#    after its first epoch to fit the session's time.)
isegsat-train "${common[@]}" --out run2 --preset finetune --weights run/last.pth --epochs 1 \
    --milestones 2 3 --seed 1
isegsat-train "${common[@]}" --out run3 --preset finetune --weights run2/last.pth --epochs 6 \
    --milestones 4 5 --seed 2
# Phase 4: six more epochs restarted at lr 2.5e-4, x0.1 at epochs 3 and 5.
isegsat-train "${common[@]}" --out run4 --preset finetune --weights run3/last.pth --epochs 6 \
    --milestones 3 5 --lr 2.5e-4 --seed 3
# Phase 5: 44 epochs on the 125-tile set restarted at lr 2.5e-4, x0.1 at epochs 35 and 41.
isegsat-train "${common[@]}" --data crops30 --out run5 --preset finetune --weights run4/last.pth \
    --epochs 44 --milestones 35 41 --lr 2.5e-4 --seed 4
# 5. RITM protocol on held-out generated crops (500², ZoomIn + flip, 20 clicks, prob > 0.49).
isegsat-eval --checkpoint run5/last.pth --data crops --split test --out eval --per-city "${EVAL_PER_CITY:-20}"
