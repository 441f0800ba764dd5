"""``isegsat-adapt``: adapt the interactive model to a scene from its accepted tiles.

    isegsat-adapt --samples DIR --weights CKPT --out OUT.pth --report REPORT.json
                  [--steps N] [--lr LR] [--hold-back K] [--device auto|cpu|cuda]
                  [--threads T] [--nice N] [--batch-size B] [--crop-size S] [--seed S]
                  [--no-zoom-in]

The app runs it as a background process (it never imports training). Exit status: 0 the adapted
model was accepted and written to OUT.pth; 3 refused (worse on the held-back tiles, OUT.pth not
written); 2 bad input (one ``isegsat-adapt: error: ...`` line on stderr); 130 interrupted
(Ctrl-C or SIGTERM; OUT.pth not written). REPORT.json is written atomically in every case where
its folder is writable:

    {"accepted": bool, "reason": str, "samples": int, "held_back": int, "steps": int,
     "seconds": float, "device": str, "before": {"noc85": float, "iou": float},
     "after": {"noc85": float, "iou": float}, "out": str | null}

(``before``/``after`` hold nulls when no model was scored: bad input or an interruption.)
stdout gets one short progress line per 10 steps and per phase; the last line says the outcome.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from isegsat.training.adapt import (
    DEFAULT_BATCH,
    DEFAULT_CROP,
    DEFAULT_HOLD_BACK,
    DEFAULT_LR,
    DEFAULT_STEPS,
    IOU_TOLERANCE,
)

PROG = "isegsat-adapt"
EXIT_ACCEPTED, EXIT_BAD_INPUT, EXIT_REFUSED, EXIT_INTERRUPTED = 0, 2, 3, 130
DEFAULT_NICE = 10


def default_threads() -> int:
    """CPU threads for training: all cores but one, which stays free for the annotating app."""
    return max(1, (os.cpu_count() or 2) - 1)


def add_recipe_options(parser: argparse.ArgumentParser) -> None:
    """The adaptation's recipe and hardware options, shared with ``adapt_bench``."""
    parser.add_argument(
        "--steps",
        type=int,
        default=DEFAULT_STEPS,
        help=f"optimiser steps (default: {DEFAULT_STEPS})",
    )
    parser.add_argument(
        "--lr",
        type=float,
        default=DEFAULT_LR,
        help=f"Adam learning rate, backbone x0.1 (default: {DEFAULT_LR:g})",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULT_BATCH,
        help=f"views per step (default: {DEFAULT_BATCH})",
    )
    parser.add_argument(
        "--crop-size",
        type=int,
        default=DEFAULT_CROP,
        help=f"training view side in pixels (default: {DEFAULT_CROP})",
    )
    parser.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="auto: CUDA when present (default: auto)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        help=f"CPU threads for torch (default: cores - 1, here {default_threads()})",
    )
    parser.add_argument(
        "--no-zoom-in",
        action="store_true",
        help="score without RITM's ZoomIn (as isegsat-eval --no-zoom-in)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface (kept stable: the app codes against it)."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Fine-tune a copy of an interactive checkpoint on a scene's accepted tiles "
        "(isegsat-train's iterative-click recipe, tile mode); keep it only when it is not worse "
        f"on the held-back tiles (NoC20@85 not higher, IoU after 20 clicks not lower by more "
        f"than {IOU_TOLERANCE}). Exit 0 accepted, 3 refused, 2 bad input, 130 interrupted.",
    )
    parser.add_argument(
        "--samples",
        required=True,
        type=Path,
        help="the scene's accepted tiles: a prepared set (manifest.csv, images/, masks/)",
    )
    parser.add_argument(
        "--weights", required=True, type=Path, help="interactive checkpoint to adapt"
    )
    parser.add_argument(
        "--out", required=True, type=Path, help="adapted checkpoint (written only if accepted)"
    )
    parser.add_argument("--report", required=True, type=Path, help="JSON report, always written")
    parser.add_argument(
        "--hold-back",
        type=int,
        default=DEFAULT_HOLD_BACK,
        help="most recent tiles with a building kept out of training to judge the adapted "
        f"model (default: {DEFAULT_HOLD_BACK})",
    )
    add_recipe_options(parser)
    parser.add_argument(
        "--nice",
        type=int,
        default=DEFAULT_NICE,
        help=f"lower this process's priority by N (os.nice; default: {DEFAULT_NICE})",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (see the module docstring)."""
    args = build_parser().parse_args(argv)
    started = time.perf_counter()
    previous_term = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, _interrupt)  # the app cancels with terminate(): clean up too
    try:
        return _run(args, started)
    except KeyboardInterrupt:
        _safe_report(args, started, "interrupted")
        print(f"{PROG}: interrupted; {args.out} not written", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGTERM, previous_term)


def _run(args: argparse.Namespace, started: float) -> int:
    from isegsat.training.adapt import AdaptInputError, adapt, check_writable, write_report

    try:
        check_writable(args.report, "--report")
        for name in ("steps", "batch_size", "crop_size", "threads"):
            value = getattr(args, name)
            if value is not None and value < 1:
                raise AdaptInputError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
        if args.crop_size < 32:
            raise AdaptInputError(f"--crop-size must be >= 32, got {args.crop_size}")
        if args.nice and hasattr(os, "nice"):
            os.nice(args.nice)
        import torch

        torch.set_num_threads(args.threads or default_threads())
        result = adapt(
            args.samples,
            args.weights,
            args.out,
            steps=args.steps,
            lr=args.lr,
            hold_back=args.hold_back,
            device=args.device,
            batch_size=args.batch_size,
            crop_size=args.crop_size,
            seed=args.seed,
            zoom_in=not args.no_zoom_in,
            progress=lambda line: print(line, flush=True),
        )
    except (ValueError, OSError) as error:  # AdaptInputError, or unreadable data mid-run
        _safe_report(args, started, f"error: {error}")
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        write_report(args.report, result.report())
    except OSError as error:
        print(f"{PROG}: error: cannot write --report {args.report}: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return EXIT_ACCEPTED if result.accepted else EXIT_REFUSED


def _safe_report(args: argparse.Namespace, started: float, reason: str) -> None:
    """Best effort: a report saying no model was kept (nothing else is known)."""
    from isegsat.training.adapt import write_report

    empty: dict[str, Any] = {"noc85": None, "iou": None}
    report = {
        "accepted": False,
        "reason": reason,
        "samples": 0,
        "held_back": 0,
        "steps": 0,
        "seconds": round(time.perf_counter() - started, 3),
        "device": args.device,
        "before": empty,
        "after": dict(empty),
        "out": None,
    }
    with contextlib.suppress(OSError):
        write_report(args.report, report)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
