#!/usr/bin/env bash
# Rebuilds resources/isegsat_hrnet18s_real.pth, the bundled default (object-mode) model: the
# synthetic base model (resources/recipes/synthetic_base.sh, 6700 steps on generated scenes)
# finetuned for 4500 steps (three stages) on eight real building sets
# (../shared/data/real_buildings, see its README) mixed with synthetic scenes, then 1500 steps on
# one-building targets and 1200 on one-building targets half shown in object windows
# (run_real_object_window/last.pth), judged on the sets' held-out val splits; also
# the pre-labelling model (isegsat_baseline_real.pth: run_baseline2/last.pth, two stages from
# stage 3) and the tile-mode model (isegsat_hrnet18s_real_tile.pth: run_real_tile/last.pth,
# trained with clicks from the pre-labelling model).
#
#   REAL=../shared/data/real_buildings WORK=/tmp/isegsat-real bash resources/reproduce_default_model.sh
#
# About 6 h of finetuning on 2 CPU cores, the base model aside (1.7-2 s per step of 8
# views of 224²); DEVICE=cuda for a GPU.
# BASE=path/to/isegsat_hrnet18s_synthetic.pth skips rebuilding the base model (it is in git
# history: git show 2f92bd8:resources/isegsat_hrnet18s_synthetic.pth > base.pth).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REAL=$(cd "${REAL:-$HERE/../../shared/data/real_buildings}" && pwd)
WORK=${WORK:-/tmp/isegsat-real}
DEVICE=${DEVICE:-cpu}
mkdir -p "$WORK"
cd "$WORK"

# 1. The synthetic base model.
if [ -n "${BASE:-}" ]; then
    cp "$BASE" isegsat_hrnet18s_synthetic.pth
else
    WORK="$WORK/synthetic" DEVICE="$DEVICE" bash "$HERE/recipes/synthetic_base.sh"
    cp synthetic/run5/last.pth isegsat_hrnet18s_synthetic.pth
fi

# 2. Real sets -> 500² crops; every 5th image of a set is its val split. Georeferenced sets are
#    resampled to 0.3 m (Inria's resolution); the others keep their pixels or get the factor
#    from their documented resolution (banepa 0.13 m -> 0.3 m, the 1.5 m Inria tile x2).
#    vegas_128px is left out (undocumented source: not for a shipped model).
prepare() { isegsat-prepare --folder "$REAL/$1" --out "prep/$1" --crop 500 --workers 2 "${@:2}"; }
prepare oam_osm_fair --gsd 0.3
prepare spacenet1_rio --gsd 0.3
prepare zanzibar_drone --gsd 0.3
prepare crowdai
prepare dubai_hitl
prepare whu_spacenet2_potsdam_crowdai
prepare oam_osm_banepa --scale 0.43
prepare inria_kitsap11_1p5m --scale 2
# 3. Synthetic scenes (the base model's 60-tile set).
isegsat-synth inria --out synth_tiles --tiles-per-city 12 --size 2000 --seed 2026 --workers 2
isegsat-prepare --inria synth_tiles --out prep/synth --crop 500 --workers 2

# 4. Finetune (mixed targets, sensor augmentation, 25 % relabelling samples) in three stages:
#    2600 steps at lr 3e-4, 700 at 1.5e-4, 1200 at 1.5e-4 with two x0.1 steps (4500 in all).
isegsat-train --config "$HERE/recipes/train_real.yaml" --out run_real --device "$DEVICE"
isegsat-train --config "$HERE/recipes/train_real_stage2.yaml" --out run_real2 --device "$DEVICE"
isegsat-train --config "$HERE/recipes/train_real_stage3.yaml" --out run_real3 --device "$DEVICE"
# The pre-labelling model (isegsat-prelabel): no clicks, every building, from stage 3.
isegsat-train --config "$HERE/recipes/train_baseline.yaml" --out run_baseline --device "$DEVICE"
isegsat-train --config "$HERE/recipes/train_baseline_stage2.yaml" --out run_baseline2 --device "$DEVICE"
# The tile-mode model (isegsat_hrnet18s_real_tile.pth): the pre-labelling model + 1500 steps
# with clicks, every building.
isegsat-train --config "$HERE/recipes/train_real_tile.yaml" --out run_real_tile --device "$DEVICE"
# The object-mode model (isegsat_hrnet18s_real.pth): stage 3 + 1500 steps, one building, then
# 1200 steps with half of the one-building samples in object windows.
isegsat-train --config "$HERE/recipes/train_real_object.yaml" --out run_real_object --device "$DEVICE"
isegsat-train --config "$HERE/recipes/train_real_object_window.yaml" --out run_real_object_window \
    --device "$DEVICE"

# 5. Judge on the real val splits as the model card does (the first 10 non-empty crops of each
#    set, at most 3 buildings per crop in object mode), beside the stage-1 model; then the
#    synthetic test tiles; then the tile protocol in fp32 and bf16 (reduced-precision check).
VAL=(prep/oam_osm_fair prep/spacenet1_rio prep/crowdai prep/dubai_hitl
     prep/whu_spacenet2_potsdam_crowdai prep/oam_osm_banepa)
for protocol in tile object relabel; do
    isegsat-eval --checkpoint run_real/last.pth --checkpoint run_real3/last.pth \
        --data "${VAL[@]}" --split val --protocol "$protocol" --per-city 10 \
        --max-objects-per-crop 3 --out "eval_$protocol"
done
isegsat-eval --checkpoint run_real/last.pth --checkpoint run_real3/last.pth \
    --data prep/synth --split test --per-city 4 --out eval_synth
isegsat-eval --checkpoint run_real3/last.pth --data "${VAL[@]}" --split val --protocol tile \
    --per-city 10 --precision fp32 bf16 --out eval_bf16
# 6. The pre-labelling model alone, and the interactive model started from its draft.
isegsat-eval --checkpoint run_baseline/last.pth --checkpoint run_baseline2/last.pth \
    --data "${VAL[@]}" --split val --per-city 10 \
    --out eval_prelabel
isegsat-eval --checkpoint run_real3/last.pth --checkpoint run_real_tile/last.pth \
    --data "${VAL[@]}" --split val --per-city 10 \
    --protocol relabel --draft run_baseline2/last.pth --max-clicks 20 --out eval_from_draft
# 7. The tile-mode and object-mode models beside stage 3 (the object protocol scores the clicked
#    blob with object mode's ZoomIn, as the app; --whole-prediction for the network's whole mask).
for protocol in tile relabel object; do
    isegsat-eval --checkpoint run_real3/last.pth --checkpoint run_real_tile/last.pth \
        --checkpoint run_real_object/last.pth --checkpoint run_real_object_window/last.pth \
        --data "${VAL[@]}" --split val --protocol "$protocol" --per-city 10 \
        --max-objects-per-crop 3 --out "eval_tile_model_$protocol"
done
