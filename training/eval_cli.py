"""``isegsat-eval``: RITM's NoC evaluation of one or more checkpoints on prepared crops.

    isegsat-eval --checkpoint CKPT [--checkpoint CKPT ...] --data DIR [DIR ...] --split test
                 --out REPORT_DIR [--protocol tile|object|relabel] [--no-flip] [--no-zoom-in]
                 [--limit N] [--per-city N] [--cities austin,vienna] [--device cpu|cuda]
                 [--max-clicks K] [--max-objects-per-crop N] [--whole-prediction] [--seed S]
                 [--precision fp32 [bf16 fp16]] [--draft BASELINE_CKPT]

Writes REPORT_DIR/metrics.json, table.md, metrics.csv, per_sample.csv,
fig7_miou_per_click.png and fig8_gain_per_click.png (see ``isegsat.training.report``), metrics
per city (a real set's name) and overall. A checkpoint whose metadata says ``interactive: False``
is evaluated without clicks (tile protocol only). With several ``--precision`` formats each
checkpoint is evaluated in each (rows ``NAME@bf16``), the accuracy check of the reduced-precision
inference paths.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from isegsat.training.metrics import DEFAULT_MAX_CLICKS, PROTOCOLS

if TYPE_CHECKING:  # torch and the evaluation loop load after parsing: --help stays fast
    import torch

    from isegsat.inference import ZoomIn
    from isegsat.training.evaluation import CropSelection, ModelEvaluation

DEFAULT_MAX_OBJECTS_PER_CROP = 5


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface (kept stable: scripts depend on it)."""
    parser = argparse.ArgumentParser(
        prog="isegsat-eval",
        description="Evaluate interactive segmentation checkpoints with RITM's click protocol "
        "(NoC@80/85/90, >=20@80/90, Avg20 IoU, mIoU per click) on isegsat-prepare crops, "
        "per city/set and overall; or one building at a time (--protocol object), or from "
        "an imperfect label (--protocol relabel).",
    )
    parser.add_argument(
        "--checkpoint",
        action="append",
        required=True,
        type=Path,
        help="RITM or isegsat checkpoint (.pth); repeat to compare several in one table",
    )
    parser.add_argument(
        "--data",
        required=True,
        type=Path,
        nargs="+",
        help="one or more folders written by isegsat-prepare (reported per city/set)",
    )
    parser.add_argument(
        "--split",
        default="test",
        help="manifest split to evaluate: test (Inria, synthetic) or val (real sets) "
        "(default: test)",
    )
    parser.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default="tile",
        help="tile: every building of a crop (the study's); object: one building in a window "
        "about 3x its size; relabel: tile, starting from a seeded imperfect label (default: tile)",
    )
    parser.add_argument("--out", required=True, type=Path, help="report folder to write")
    parser.add_argument("--no-flip", action="store_true", help="disable horizontal-flip TTA")
    parser.add_argument("--no-zoom-in", action="store_true", help="disable RITM's ZoomIn")
    parser.add_argument(
        "--per-city",
        type=_positive_int,
        help="evaluate only the first N non-empty crops of each city (quick, all cities)",
    )
    parser.add_argument(
        "--limit", type=_positive_int, help="evaluate only the first N non-empty crops"
    )
    parser.add_argument(
        "--cities", type=_city_list, help="comma-separated cities to keep, e.g. austin,vienna"
    )
    parser.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    parser.add_argument(
        "--precision",
        nargs="+",
        choices=["fp32", "bf16", "fp16"],
        default=["fp32"],
        help="number formats the interactive models run in; several compare them in one table "
        "(default: fp32)",
    )
    parser.add_argument(
        "--max-clicks",
        type=_positive_int,
        help="clicks per sample (default: "
        + ", ".join(f"{n} for {p}" for p, n in DEFAULT_MAX_CLICKS.items())
        + ")",
    )
    parser.add_argument(
        "--max-objects-per-crop",
        type=_positive_int,
        default=DEFAULT_MAX_OBJECTS_PER_CROP,
        help="object protocol: at most N buildings per crop, a seeded choice "
        f"(default: {DEFAULT_MAX_OBJECTS_PER_CROP})",
    )
    parser.add_argument(
        "--whole-prediction",
        action="store_true",
        help="object protocol: score every blob of the prediction (the network alone) instead "
        "of the clicked building that object mode gives the annotator",
    )
    parser.add_argument(
        "--draft",
        type=Path,
        help="relabel protocol: start every crop from this non-interactive model's mask (an "
        "isegsat-train --preset baseline checkpoint, as isegsat-prelabel uses) instead of a "
        "perturbed true label",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the object choice and the imperfect labels, mixed with each crop id "
        "(default: 0)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns 0 on success, 2 with a one-line message on bad input."""
    args = build_parser().parse_args(argv)
    from isegsat.inference import CheckpointError, pick_device
    from isegsat.inference.precision import check_precision
    from isegsat.inference.threshold import PRED_THRESHOLD
    from isegsat.training.evaluation import select_crops
    from isegsat.training.manifest import DataError
    from isegsat.training.report import TABLE_MD, write_report

    if args.max_clicks is None:
        args.max_clicks = DEFAULT_MAX_CLICKS[args.protocol]
    try:
        if args.out.exists() and not args.out.is_dir():
            raise DataError(f"--out {args.out} exists and is not a folder")
        device = pick_device(args.device)
        for precision in args.precision:
            check_precision(precision, device)
        if args.draft is not None and args.protocol != "relabel":
            raise ValueError("--draft is an option of the relabel protocol (--protocol relabel)")
        draft = _load_draft(args.draft, device) if args.draft is not None else None
        names = _model_names(args.checkpoint)
        models = [_load(path) for path in args.checkpoint]
        for path, (_, interactive) in zip(args.checkpoint, models, strict=True):
            if not interactive and args.protocol != "tile":
                raise ValueError(
                    f"{path} is a model without clicks; the {args.protocol} protocol needs "
                    "an interactive one"
                )
            if not interactive and args.precision != ["fp32"]:
                raise ValueError(f"{path} is a model without clicks: it is evaluated in fp32 only")
        selection = select_crops(args.data, args.split, args.cities, args.limit, args.per_city)
        if not selection.crops:
            raise DataError(
                f"no crop with a building in split {args.split!r} of "
                f"{', '.join(map(str, args.data))} "
                f"({sum(selection.empty_dropped.values())} empty crops dropped)"
            )
    except (CheckpointError, DataError, ValueError, RuntimeError, OSError) as error:
        print(f"isegsat-eval: error: {error}", file=sys.stderr)
        return 2

    evaluations = [
        _evaluate(run_name, model, interactive, selection, args, device, precision, draft)
        for name, (model, interactive) in zip(names, models, strict=True)
        for precision in (args.precision if interactive else ["fp32"])
        for run_name in [name if len(args.precision) == 1 else f"{name}@{precision}"]
    ]
    settings: dict[str, object] = {
        "protocol": args.protocol,
        "data": ", ".join(map(str, args.data)),
        "split": args.split,
        "cities": ", ".join(sorted({c.city for c in selection.crops})),
        "crops": f"{len(selection.crops)} with buildings, "
        f"{sum(selection.empty_dropped.values())} empty dropped",
        "max clicks": args.max_clicks,
        "ZoomIn": _zoom_in_setting(args),
        "flip": not args.no_flip,
        "prediction threshold": PRED_THRESHOLD,
        "device": str(device),
        "precision": ", ".join(args.precision),
    }
    if args.protocol != "tile":
        settings["seed"] = args.seed
    if args.protocol == "object":
        settings["max objects per crop"] = args.max_objects_per_crop
        settings["object mask"] = (
            "every blob of the prediction (--whole-prediction)"
            if args.whole_prediction
            else "the clicked building (blobs holding a positive click), as object mode shows"
        )
    if args.protocol == "relabel":
        settings["starting label"] = (
            f"mask of {args.draft} (no clicks, prob > {PRED_THRESHOLD})"
            if args.draft is not None
            else "perturb_label of the true mask"
        )
    write_report(args.out, evaluations, settings)
    print((args.out / TABLE_MD).read_text(encoding="utf-8").split("## All metrics")[0].rstrip())
    print(f"\nreport written to {args.out}")
    return 0


def _zoom_in(args: argparse.Namespace) -> bool | ZoomIn:
    """The ZoomIn the predictor runs: none with --no-zoom-in, object mode's for the object
    protocol (as the app), else RITM's."""
    from isegsat.inference.zoom_in import zoom_in_for

    return zoom_in_for(args.protocol == "object", enabled=not args.no_zoom_in)


def _zoom_in_setting(args: argparse.Namespace) -> object:
    """The report's ZoomIn line: False, True (RITM's) or object mode's settings."""
    zoom = _zoom_in(args)
    if isinstance(zoom, bool):
        return zoom
    return (
        f"object mode's (first click refined on its blob x{zoom.refine_ratio:g}, crops of at "
        f"least {zoom.min_crop_size} px resized to {zoom.target_size} px)"
    )


def _load(path: Path) -> tuple[torch.nn.Module, bool]:
    """(model in eval mode, interactive?) from a checkpoint; RITM files are interactive."""
    from isegsat.inference import CheckpointError, load_checkpoint
    from isegsat.inference.segmenter import is_interactive

    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    model, metadata = load_checkpoint(path)
    return model.eval(), is_interactive(metadata)


def _load_draft(path: Path, device: torch.device) -> torch.nn.Module:
    """The --draft model on ``device``; it must be a model without clicks."""
    model, interactive = _load(path)
    if interactive:
        raise ValueError(
            f"--draft {path} is an interactive model; it needs a non-interactive one "
            "(isegsat-train --preset baseline)"
        )
    return model.to(device)


def _evaluate(
    name: str,
    model: torch.nn.Module,
    interactive: bool,
    selection: CropSelection,
    args: argparse.Namespace,
    device: torch.device,
    precision: str,
    draft: torch.nn.Module | None = None,
) -> ModelEvaluation:
    from isegsat.inference import Predictor
    from isegsat.training.evaluation import (
        CropResult,
        ModelEvaluation,
        evaluate_crops,
        evaluate_crops_without_clicks,
    )
    from isegsat.training.object_protocol import evaluate_crops_objects
    from isegsat.training.relabel_protocol import evaluate_crops_relabel

    crops, clicks = selection.crops, args.max_clicks
    results: list[CropResult]
    if not interactive:
        model = model.to(device)
        results = evaluate_crops_without_clicks(crops, model, device, desc=name)
    else:
        predictor = Predictor(
            model,
            zoom_in=_zoom_in(args),
            flip=not args.no_flip,
            device=device,
            precision=precision,
        )
        if args.protocol == "object":
            results = evaluate_crops_objects(
                crops,
                predictor,
                clicks,
                args.max_objects_per_crop,
                args.seed,
                desc=name,
                whole_prediction=args.whole_prediction,
            )
        elif args.protocol == "relabel":
            results = evaluate_crops_relabel(
                crops, predictor, clicks, args.seed, desc=name, draft=draft
            )
        else:
            results = evaluate_crops(crops, predictor, clicks, desc=name)
    return ModelEvaluation(
        name, interactive, clicks, tuple(results), selection.empty_dropped, args.protocol
    )


def _model_names(paths: Sequence[Path]) -> list[str]:
    """Each checkpoint's file stem; "<folder>/<stem>" for stems shared by several checkpoints."""
    stems = [path.stem for path in paths]
    names = [
        f"{path.parent.name}/{path.stem}" if stems.count(path.stem) > 1 else path.stem
        for path in paths
    ]
    if len(set(names)) != len(names):
        raise ValueError(f"checkpoints need distinct names, got {names}")
    return names


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _city_list(text: str) -> list[str]:
    cities = [city.strip() for city in text.split(",") if city.strip()]
    if not cities:
        raise argparse.ArgumentTypeError("give at least one city, e.g. austin,vienna")
    return cities


if __name__ == "__main__":
    sys.exit(main())
