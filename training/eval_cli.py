"""``isegsat-eval``: RITM's NoC evaluation of one or more checkpoints on prepared crops.

    isegsat-eval --checkpoint CKPT [--checkpoint CKPT ...] --data DIR --split test
                 --out REPORT_DIR [--no-flip] [--no-zoom-in] [--limit N]
                 [--cities austin,vienna] [--device cpu|cuda] [--max-clicks 20]

Writes REPORT_DIR/metrics.json, table.md, metrics.csv, per_sample.csv,
fig7_miou_per_click.png and fig8_gain_per_click.png (see ``isegsat.training.report``).
A checkpoint whose metadata says ``interactive: False`` is evaluated without clicks.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from isegsat.inference import CheckpointError, Predictor, load_checkpoint, pick_device
from isegsat.training.evaluation import (
    PRED_THRESHOLD,
    CropSelection,
    EvaluationDataError,
    ModelEvaluation,
    evaluate_crops,
    evaluate_crops_without_clicks,
    select_crops,
)
from isegsat.training.report import TABLE_MD, write_report


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface (kept stable: scripts depend on it)."""
    parser = argparse.ArgumentParser(
        prog="isegsat-eval",
        description="Evaluate interactive segmentation checkpoints with RITM's click protocol "
        "(NoC@80/85/90, >=20@80/90, Avg20 IoU, mIoU per click) on isegsat-prepare crops.",
    )
    parser.add_argument(
        "--checkpoint",
        action="append",
        required=True,
        type=Path,
        help="RITM or isegsat checkpoint (.pth); repeat to compare several in one table",
    )
    parser.add_argument(
        "--data", required=True, type=Path, help="folder written by isegsat-prepare"
    )
    parser.add_argument("--split", default="test", help="manifest split to evaluate (test)")
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
    parser.add_argument("--max-clicks", type=_positive_int, default=20, help="clicks per crop")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns 0 on success, 2 with a one-line message on bad input."""
    args = build_parser().parse_args(argv)
    try:
        if args.out.exists() and not args.out.is_dir():
            raise EvaluationDataError(f"--out {args.out} exists and is not a folder")
        device = pick_device(args.device)
        names = _model_names(args.checkpoint)
        models = [_load(path) for path in args.checkpoint]
        selection = select_crops(args.data, args.split, args.cities, args.limit, args.per_city)
        if not selection.crops:
            raise EvaluationDataError(
                f"no crop with a building in split {args.split!r} of {args.data} "
                f"({sum(selection.empty_dropped.values())} empty crops dropped)"
            )
    except (CheckpointError, EvaluationDataError, ValueError, RuntimeError, OSError) as error:
        print(f"isegsat-eval: error: {error}", file=sys.stderr)
        return 2

    evaluations = [
        _evaluate(name, model, interactive, selection, args, device)
        for name, (model, interactive) in zip(names, models, strict=True)
    ]
    settings = {
        "data": args.data,
        "split": args.split,
        "cities": ", ".join(sorted({c.city for c in selection.crops})),
        "crops": f"{len(selection.crops)} with buildings, "
        f"{sum(selection.empty_dropped.values())} empty dropped",
        "max clicks": args.max_clicks,
        "ZoomIn": not args.no_zoom_in,
        "flip": not args.no_flip,
        "prediction threshold": PRED_THRESHOLD,
        "device": str(device),
    }
    write_report(args.out, evaluations, settings)
    print((args.out / TABLE_MD).read_text(encoding="utf-8").split("## All metrics")[0].rstrip())
    print(f"\nreport written to {args.out}")
    return 0


def _load(path: Path) -> tuple[torch.nn.Module, bool]:
    """(model in eval mode, interactive?) from a checkpoint; RITM files are interactive."""
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    model, metadata = load_checkpoint(path)
    return model.eval(), bool(metadata.get("interactive", True))


def _evaluate(
    name: str,
    model: torch.nn.Module,
    interactive: bool,
    selection: CropSelection,
    args: argparse.Namespace,
    device: torch.device,
) -> ModelEvaluation:
    if interactive:
        predictor = Predictor(
            model, zoom_in=not args.no_zoom_in, flip=not args.no_flip, device=device
        )
        results = evaluate_crops(selection.crops, predictor, args.max_clicks, desc=name)
    else:
        model = model.to(device)
        results = evaluate_crops_without_clicks(selection.crops, model, device, desc=name)
    return ModelEvaluation(
        name, interactive, args.max_clicks, tuple(results), selection.empty_dropped
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
