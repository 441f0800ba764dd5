"""Measure scene adaptation as an annotator would live it (issue 13, "learn from the annotator").

    python -m isegsat.training.tools.adapt_bench --data PREPARED_SET [--split val] [--scene TILE]
        --weights CKPT [--k 4 8 16] [--steps N] [--lr LR] [--batch-size B] [--crop-size S]
        [--device auto|cpu|cuda] [--threads T] [--no-zoom-in] [--json OUT.json]

One scene = the crops of one source image of the prepared set (the manifest's ``city`` and
``tile`` columns; the scene with the most crops when ``--scene`` is omitted), in manifest order,
i.e. the order an annotator walking the scene's tile grid accepts them. For each K, the first K
crops become the accepted samples (image + ground-truth mask copied into a prepared-set folder in
a temporary directory, the layout the app writes), ``adapt`` runs on them exactly as
``isegsat-adapt`` does (the last sample with a building held back), and the original and the
adapted model are scored with the tile protocol (the evaluation clicker, 20 clicks, ZoomIn +
flip) on the evaluation crops: the scene's crops after the largest K that hold a building, the
same set for every K so the rows compare (with 20 crops and K up to 16 that is 3-4 crops: run
``--k 4 8`` as well for a larger set). The "user gets" columns are the adapted figures when the
model was accepted, the original's when it was refused (the app keeps the model it has). Prints
one table row per K.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from isegsat.training.adapt_cli import add_recipe_options, default_threads
from isegsat.training.manifest import COLUMNS, CropRecord, DataError, read_manifest, write_manifest

DEFAULT_K = (4, 8, 16)


def scene_key(record: CropRecord) -> str:
    """A crop's scene, ``city/tile``: its set (or city) and its manifest ``tile`` (the part of
    ``crop_id`` before ``_r<row>_c<col>`` when the manifest has no ``tile`` column). Tiles are
    only unique within a city (Inria-layout sets number them 1, 2, ... per city)."""
    return f"{record.city}/{record.tile or record.crop_id.rsplit('_', 2)[0]}"


def scene_crops(data: Path, split: str, scene: str | None) -> tuple[str, list[CropRecord]]:
    """(scene ``city/tile``, its crops of ``split`` in manifest order); ``scene`` may be the
    tile alone when no other city has a tile of that name; None takes the scene with the most
    crops (the first in manifest order on a tie). Raises ``DataError``."""
    records = read_manifest(data)
    splits = sorted({r.split for r in records})
    if split not in splits:
        raise DataError(f"unknown split {split!r} in {data}; the manifest has {splits}")
    scenes: dict[str, list[CropRecord]] = {}
    for record in records:
        if record.split == split:
            scenes.setdefault(scene_key(record), []).append(record)
    if scene is None:
        return max(scenes.items(), key=lambda item: len(item[1]))
    matches = [name for name in scenes if scene in (name, name.split("/", 1)[1])]
    if len(matches) != 1:
        largest = sorted(scenes, key=lambda name: -len(scenes[name]))[:5]
        problem = "is ambiguous" if matches else "is not"
        raise DataError(
            f"scene {scene!r} {problem} in split {split!r} of {data}; the largest are "
            + ", ".join(f"{name} ({len(scenes[name])} crops)" for name in largest)
        )
    return matches[0], scenes[matches[0]]


def write_samples(crops: Sequence[CropRecord], folder: Path) -> Path:
    """A prepared-set folder of accepted tiles as the app keeps them: ``images/``, ``masks/``
    (the crops' PNGs copied) and ``manifest.csv`` (split ``train``, paths relative)."""
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    rows = []
    for crop in crops:
        image, mask = f"images/{crop.crop_id}.png", f"masks/{crop.crop_id}.png"
        shutil.copyfile(crop.image, folder / image)
        shutil.copyfile(crop.mask, folder / mask)
        row = dict.fromkeys(COLUMNS, "")
        row.update(
            crop_id=crop.crop_id,
            city=crop.city,
            tile=crop.tile,
            image=image,
            mask=mask,
            building_fraction=crop.building_fraction,
            split="train",
        )
        rows.append(row)
    write_manifest(folder, rows)
    return folder


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m isegsat.training.tools.adapt_bench",
        description="Annotate the first K crops of a scene from their ground truth, adapt the "
        "model on them (isegsat-adapt), and compare NoC20@85 / IoU after 20 clicks on the "
        "scene's remaining crops before and after.",
    )
    parser.add_argument("--data", required=True, type=Path, help="a folder from isegsat-prepare")
    parser.add_argument("--split", default="val", help="manifest split (default: val)")
    parser.add_argument(
        "--scene", help="the manifest tile to use (default: the one with the most crops)"
    )
    parser.add_argument("--weights", required=True, type=Path, help="interactive checkpoint")
    parser.add_argument(
        "--k",
        type=int,
        nargs="+",
        default=list(DEFAULT_K),
        help="accepted tiles before each adaptation (default: 4 8 16)",
    )
    add_recipe_options(parser)
    parser.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; 0 on success, 2 with a one-line message on bad input."""
    args = build_parser().parse_args(argv)
    import torch

    from isegsat.inference import pick_device
    from isegsat.training.adapt import AdaptInputError, adapt, load_interactive, score

    torch.set_num_threads(args.threads or default_threads())
    ks = sorted(set(args.k))
    try:
        if ks[0] < 2:
            raise ValueError("every K must be >= 2 (one sample trains, one is held back)")
        scene, crops = scene_crops(args.data, args.split, args.scene)
        evaluation = [c for c in crops[ks[-1] :] if c.building_fraction > 0]
        if not evaluation:
            raise DataError(
                f"scene {scene} has {len(crops)} crops: none with a building is left after "
                f"the first {ks[-1]} (lower the largest K)"
            )
        base, _ = load_interactive(args.weights)
        device = pick_device(None if args.device == "auto" else args.device)
    except (AdaptInputError, DataError, ValueError, RuntimeError) as error:
        print(f"adapt_bench: error: {error}", file=sys.stderr)
        return 2
    print(
        f"scene {scene} of {args.data} ({args.split}): {len(crops)} crops; evaluation on the "
        f"{len(evaluation)} crops with a building after the first {ks[-1]}; {args.steps} steps, "
        f"lr {args.lr:g}, {device}"
    )
    started = time.perf_counter()
    zoom_in = not args.no_zoom_in
    before = score(base.eval(), evaluation, device, "original", zoom_in=zoom_in)
    print(f"original model: {time.perf_counter() - started:.0f} s to score")
    rows = []
    with tempfile.TemporaryDirectory(prefix="isegsat-adapt-bench-") as work:
        for k in ks:
            samples = write_samples(crops[:k], Path(work) / f"k{k}")
            try:
                result = adapt(
                    samples, args.weights, Path(work) / f"k{k}.pth", steps=args.steps,
                    lr=args.lr, device=args.device, zoom_in=zoom_in,
                    batch_size=args.batch_size, crop_size=args.crop_size,
                )  # fmt: skip
            except AdaptInputError as error:
                print(f"K={k}: skipped: {error}", file=sys.stderr)
                continue
            after = score(result.model, evaluation, device, f"adapted K={k}", zoom_in=zoom_in)
            gets = after if result.accepted else before
            rows.append(
                {
                    "k": k,
                    "trained_on": k - result.held_back,
                    "held_back": result.held_back,
                    "steps": result.steps,
                    "seconds": round(result.seconds, 1),
                    "accepted": result.accepted,
                    "held_back_before": result.before.to_report(),
                    "held_back_after": result.after.to_report(),
                    "before": {**before.to_report(), "mean_iou": before.mean_iou},
                    "after": {**after.to_report(), "mean_iou": after.mean_iou},
                    "user_gets": {**gets.to_report(), "mean_iou": gets.mean_iou},
                }
            )
            print(f"K={k}: {result.reason} ({result.seconds:.0f} s)", flush=True)
    print(_table(scene, len(evaluation), rows))
    print(f"total {time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({"scene": scene, "rows": rows}, indent=2) + "\n")
    return 0


def _table(scene: str, crops: int, rows: list[dict]) -> str:
    """Markdown table of the rows (one per K)."""
    lines = [
        f"\nscene {scene}, evaluation on {crops} remaining crops (NoC20@85 / IoU after 20 clicks"
        " / mean IoU over 20 clicks)\n",
        "| K | trained on | adapt s | held-back NoC85 before -> after | accepted "
        "| NoC20@85 before | after | IoU@20 before | after | mean IoU before | after "
        "| user gets NoC20@85 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        b, a, g = row["before"], row["after"], row["user_gets"]
        hb, ha = row["held_back_before"], row["held_back_after"]
        lines.append(
            f"| {row['k']} | {row['trained_on']} | {row['seconds']:.0f} "
            f"| {hb['noc85']:.2f} -> {ha['noc85']:.2f} | {'yes' if row['accepted'] else 'no'} "
            f"| {b['noc85']:.2f} | {a['noc85']:.2f} | {b['iou']:.3f} | {a['iou']:.3f} "
            f"| {b['mean_iou']:.3f} | {a['mean_iou']:.3f} | {g['noc85']:.2f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
