"""``isegsat-train``: train or finetune the interactive HRNet on a folder from ``isegsat-prepare``.

Also runs under ``torchrun --nproc_per_node=N -m isegsat.training.train_cli ...`` (DDP).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from isegsat.training.config import (
    ARCHS,
    AUGMENTATIONS,
    PRECISIONS,
    PRESETS,
    TARGETS,
    TrainConfig,
    config_from_dict,
    load_config,
)

DEFAULTS = TrainConfig()
"""The settings a run gets for options it does not give (shown in --help)."""

RESUME_OVERRIDES = ("epochs", "max_iters", "workers", "val_every", "device", "precision")
"""Settings a resumed run may change; the others come from RUN_DIR/config.yaml."""


def _add_range(parser: argparse.ArgumentParser, flag: str, help: str) -> None:
    """A LOW HIGH pair of floats."""
    parser.add_argument(flag, type=float, nargs=2, metavar=("LOW", "HIGH"), help=help)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="isegsat-train",
        description="Train the RITM HRNet interactive segmentation model on prepared crops.",
    )
    parser.add_argument(
        "--data", nargs="+", help="folder(s) written by isegsat-prepare (each has manifest.csv)"
    )
    parser.add_argument(
        "--data-weights", type=float, nargs="+", help="sampling weight of each --data folder"
    )
    parser.add_argument("--out", help="run folder (checkpoints, config.yaml, tb/)")
    parser.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR")
    parser.add_argument("--config", help="YAML file of settings (keys of TrainConfig)")
    parser.add_argument(
        "--preset",
        choices=PRESETS,
        help="schedule and start: finetune a checkpoint, scratch, or the click-free baseline",
    )
    parser.add_argument(
        "--arch",
        choices=ARCHS,
        help="network for scratch/baseline; finetune takes the checkpoint's",
    )
    parser.add_argument("--weights", help="RITM or isegsat checkpoint to start from")
    parser.add_argument("--backbone-weights", help="ImageNet HRNet state dict (scratch/baseline)")
    parser.add_argument(
        "--target", choices=TARGETS, help="all buildings of a crop, one, or mixed per sample"
    )
    parser.add_argument(
        "--building-prob", type=float, help="mixed target: probability of one building"
    )
    parser.add_argument("--augmentation", choices=AUGMENTATIONS, help="ritm or sensor")
    parser.add_argument(
        "--relabel-prob", type=float, help="share of samples starting from an imperfect label"
    )
    parser.add_argument(
        "--object-view-prob",
        type=float,
        help="share of one-building samples shown in an object window",
    )
    _add_range(parser, "--object-view-scale", "object window side over the building's longer side")
    _add_range(parser, "--scale-range", "random resize factors of a training view")
    parser.add_argument("--backbone-lr-mult", type=float, help="backbone lr factor (scratch)")
    parser.add_argument(
        "--epochs",
        type=int,
        help="epochs to train (default: the preset's: finetune 30, scratch/baseline 230)",
    )
    parser.add_argument(
        "--milestones",
        type=int,
        nargs="+",
        help="epochs where lr x 0.1 (default: the preset's: finetune 20 27, scratch 200 215)",
    )
    parser.add_argument("--batch-size", type=int, help="per process")
    parser.add_argument(
        "--crop-size",
        type=int,
        nargs=2,
        metavar=("H", "W"),
        help="training view in pixels",
    )
    parser.add_argument("--lr", type=float, help="Adam learning rate of lr_mult 1 parameters")
    parser.add_argument("--workers", type=int, help="DataLoader workers per process")
    parser.add_argument("--max-iters", type=int, help="stop after this many steps (quick runs)")
    parser.add_argument("--epoch-len", type=int, help="samples per epoch (0 = all train crops)")
    parser.add_argument("--val-every", type=int, help="validate every N epochs (0 = never)")
    parser.add_argument("--val-samples", type=int, help="test-split crops used by validation")
    parser.add_argument("--device", help="auto, cpu, cuda or cuda:N")
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        help="auto: bf16 (or fp16) mixed on CUDA, fp32 on CPU (default: auto)",
    )
    parser.add_argument("--seed", type=int, help="random seed")
    for action in parser._actions:  # show TrainConfig's value where a help text has none
        if action.help and "default" not in action.help and hasattr(DEFAULTS, action.dest):
            action.help += f" (default: {getattr(DEFAULTS, action.dest)})"
    return parser


def config_values(args: argparse.Namespace) -> dict[str, Any]:
    """The settings given on the command line (None = not given)."""
    skip = {"out", "resume", "config"}
    return {k: v for k, v in vars(args).items() if k not in skip and v is not None}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from isegsat.inference import CheckpointError
    from isegsat.training.manifest import DataError

    try:
        if args.resume:
            run_dir = Path(args.resume)
            if not (run_dir / "config.yaml").is_file():
                raise ValueError(f"cannot resume: {run_dir / 'config.yaml'} is missing")
            values = load_config(run_dir / "config.yaml")
            overrides = config_values(args)
            refused = sorted(set(overrides) - set(RESUME_OVERRIDES))
            if refused:
                raise ValueError(f"--resume cannot change: {', '.join(refused)}")
            values.update(overrides)
        else:
            if not args.out:
                parser.error("--out RUN_DIR is required (or --resume RUN_DIR)")
            run_dir = Path(args.out)
            values = load_config(args.config) if args.config else {}
            values.update(config_values(args))
            if not values.get("data"):
                parser.error("--data DIR is required (the folder written by isegsat-prepare)")
            if (run_dir / "last.pth").exists():
                raise ValueError(f"{run_dir} already holds a run; use --resume {run_dir}")
        config = config_from_dict(values, source="settings")
        from isegsat.training.trainer import Trainer

        result = Trainer(config, run_dir, resume=bool(args.resume)).fit()
    except (CheckpointError, DataError, ValueError, OSError) as error:
        print(f"isegsat-train: error: {error}", file=sys.stderr)
        return 2
    last = run_dir / "last.pth"
    print(f"done: {result.epochs_done} epoch(s), {result.global_step} steps -> {last}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
