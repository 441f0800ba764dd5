"""Adapt the interactive model to one scene from the tiles its annotator accepted.

The app keeps every accepted tile of a scene beside its label layer as a prepared set (the layout
``isegsat-prepare`` writes: ``manifest.csv``, ``images/*.png`` RGB, ``masks/*.png`` 0/255, split
``train``) and runs ``isegsat-adapt`` on it in a background process. ``adapt`` fine-tunes a copy
of the interactive checkpoint on those samples with ``isegsat-train``'s iterative-click recipe
(``Trainer``, preset ``finetune``, target ``"all"`` = tile mode), holding back the most recent
accepted tiles that hold a building; both models are then scored on the held-back tiles with the
tile protocol (``evaluation.evaluate_crops``: the evaluation clicker, 20 clicks, ZoomIn and flip
as ``isegsat-eval``), and the adapted model is accepted only when it is not worse there
(``is_not_worse``). Nothing here imports the app or Qt.

Small-data defaults (a few to a few dozen tiles of one scene, minutes on a CPU in the background):

- ``DEFAULT_STEPS`` = 100 optimiser steps of ``DEFAULT_BATCH`` = 8 views of 224² (the default
  model's training view): about 2.5 min on 2 CPU cores, seconds on a GPU; each tile is seen
  tens of times, enough to move the model, short enough that it cannot drift far.
- ``DEFAULT_LR`` = 1e-4 (Adam; the HRNet backbone gets x0.1 from the checkpoint's tags): below the
  finetune preset's 5e-4 and close to where the default model's schedule ended, so a handful of
  samples adjusts the model rather than rewrites it.
- The default model's recipe otherwise: ``"sensor"`` augmentation (the 8 flips/rotations of the
  square, a roof has no "up", and mild photometric jitter), resizing by 0.5-2 (a scene has one
  ground resolution, but ZoomIn enlarges buildings during the clicks, and a model tuned at one
  scale fails on the zoomed views), a quarter of the samples starting from an imperfect label
  (``RELABEL_PROB``) so tiles started from a pre-label draft keep working.
- No learning-rate decay, no validation during training, DataLoader in the main process.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from isegsat.inference.atomic_file import write_atomically
from isegsat.training.config import config_from_dict
from isegsat.training.manifest import (
    COLUMNS,
    CropRecord,
    DataError,
    check_files,
    read_manifest,
    write_manifest,
)
from isegsat.training.metrics import summarize_interactive

if TYPE_CHECKING:  # torch loads on first use: `isegsat-adapt --help` stays fast
    import torch

    from isegsat.inference import HRNetModel

DEFAULT_STEPS = 100
DEFAULT_LR = 1e-4
DEFAULT_BATCH = 8
DEFAULT_CROP = 224
DEFAULT_HOLD_BACK = 1
MAX_CLICKS = 20
"""Clicks per held-back tile (the tile protocol's NoC20)."""
RELABEL_PROB = 0.25
SCALE_RANGE = (0.5, 2.0)
IOU_TOLERANCE = 0.01
"""How much lower the adapted model's mean IoU after 20 clicks on the held-back tiles may be
than the original's and still be accepted (its NoC20@85 may not be higher at all): about the
noise of one crop's IoU between two equally good models, well below what a worse model loses."""
ADAPTED_PRESET = "adapt"
"""``preset`` in an adapted checkpoint's metadata."""


class AdaptInputError(ValueError):
    """Input that cannot be adapted on: missing or too few samples, an unusable checkpoint,
    an output that cannot be written (the message says which and why)."""


@dataclass(frozen=True)
class Scores:
    """Tile-protocol scores of one model on some crops: mean NoC20@85, mean IoU after the 20th
    click, mean IoU over the 20 clicks."""

    noc85: float
    iou: float
    mean_iou: float

    def to_report(self) -> dict[str, float]:
        """The report's ``{"noc85", "iou"}`` block."""
        return {"noc85": self.noc85, "iou": self.iou}


@dataclass(frozen=True)
class AdaptResult:
    """What one adaptation did; ``model`` is the adapted network (CPU, eval mode) whether it was
    accepted or not (not part of the report), ``out`` the checkpoint written (None: refused)."""

    accepted: bool
    reason: str
    samples: int
    held_back: int
    steps: int
    seconds: float
    device: str
    before: Scores
    after: Scores
    out: Path | None
    model: HRNetModel | None = None

    def report(self) -> dict[str, Any]:
        """The ``REPORT.json`` mapping (see ``isegsat-adapt --help``)."""
        return {
            "accepted": self.accepted,
            "reason": self.reason,
            "samples": self.samples,
            "held_back": self.held_back,
            "steps": self.steps,
            "seconds": round(self.seconds, 3),
            "device": self.device,
            "before": self.before.to_report(),
            "after": self.after.to_report(),
            "out": str(self.out) if self.out is not None else None,
        }


def is_not_worse(before: Scores, after: Scores, tolerance: float = IOU_TOLERANCE) -> bool:
    """The acceptance rule: NoC20@85 not higher and IoU after 20 clicks not lower by more than
    ``tolerance`` (both means over the held-back tiles)."""
    return after.noc85 <= before.noc85 + 1e-9 and after.iou >= before.iou - tolerance


def split_samples(
    records: Sequence[CropRecord], hold_back: int
) -> tuple[list[CropRecord], list[CropRecord]]:
    """(training samples, held-back samples): the ``hold_back`` last samples in manifest order
    that hold a building are held back (an empty tile cannot be scored with clicks); every other
    sample trains (empty ones are skipped by the dataset, as in ``isegsat-train``).

    Raises ``AdaptInputError`` unless at least ``hold_back + 1`` samples hold a building.
    """
    if hold_back < 1:
        raise AdaptInputError(f"--hold-back must be >= 1, got {hold_back}")
    with_building = [r for r in records if r.building_fraction > 0]
    if len(with_building) < hold_back + 1:
        raise AdaptInputError(
            f"too few samples: {len(with_building)} accepted tile(s) with a building "
            f"({len(records)} in all), need at least {hold_back + 1} "
            f"({hold_back} held back to judge the adapted model + 1 to train on)"
        )
    held = with_building[-hold_back:]
    held_ids = {r.crop_id for r in held}
    return [r for r in records if r.crop_id not in held_ids], held


def load_interactive(weights: str | os.PathLike[str]) -> tuple[HRNetModel, dict[str, Any]]:
    """(model, metadata) of an interactive checkpoint; ``AdaptInputError`` for anything else."""
    from isegsat.inference import CheckpointError, load_checkpoint
    from isegsat.inference.segmenter import is_interactive

    try:
        model, metadata = load_checkpoint(weights)
    except CheckpointError as error:
        raise AdaptInputError(f"cannot use --weights: {error}") from error
    if not is_interactive(metadata):
        raise AdaptInputError(
            f"{weights} is a model without clicks (preset {metadata.get('preset')!r}); "
            "adaptation needs an interactive checkpoint"
        )
    return model, metadata


def check_writable(path: Path, what: str) -> None:
    """Raise ``AdaptInputError`` when ``path`` cannot be created or replaced."""
    folder = path.parent
    if path.is_dir():
        raise AdaptInputError(f"{what} {path} is a folder")
    if not folder.is_dir():
        raise AdaptInputError(f"cannot write {what} {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise AdaptInputError(f"cannot write {what} {path}: folder {folder} is not writable")


def score(
    model: torch.nn.Module,
    crops: Sequence[CropRecord],
    device: torch.device,
    desc: str,
    max_clicks: int = MAX_CLICKS,
    zoom_in: bool = True,
) -> Scores:
    """Tile-protocol ``Scores`` of ``model`` (eval mode) on ``crops`` (each with a building):
    ``max_clicks`` evaluation-clicker clicks, flip TTA, ZoomIn unless ``zoom_in`` is False (as
    ``isegsat-eval --no-zoom-in``)."""
    from isegsat.inference import Predictor
    from isegsat.training.evaluation import evaluate_crops

    predictor = Predictor(model, zoom_in=zoom_in, device=device)
    results = evaluate_crops(crops, predictor, max_clicks, desc=desc)
    ious = np.stack([r.ious for r in results])  # (S, K) float64
    seconds = np.array([r.seconds_per_click for r in results], dtype=np.float64)
    block = summarize_interactive(ious, seconds, 0)
    return Scores(
        float(block[f"NoC{max_clicks}@85"]),
        float(block[f"Avg{max_clicks}_IoU"]),
        float(block["mean_IoU_over_clicks"]),
    )


def adapt(
    samples_dir: str | os.PathLike[str],
    weights: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    steps: int = DEFAULT_STEPS,
    lr: float = DEFAULT_LR,
    hold_back: int = DEFAULT_HOLD_BACK,
    device: str = "auto",
    batch_size: int = DEFAULT_BATCH,
    crop_size: int = DEFAULT_CROP,
    seed: int = 0,
    zoom_in: bool = True,
    progress: Callable[[str], None] | None = None,
    progress_every: int = 10,
) -> AdaptResult:
    """Fine-tune a copy of ``weights`` on the accepted tiles in ``samples_dir``; write ``out``
    (atomically, an isegsat checkpoint) only when the adapted model is not worse on the
    held-back tiles.

    samples_dir: a prepared set (``manifest.csv`` + RGB / 0-255 PNGs), samples in the order they
    were accepted. device: "auto" (CUDA when present), "cpu" or "cuda". ``zoom_in`` False scores
    without ZoomIn (tiles far smaller than its 400 px view, e.g. tests). ``progress`` receives
    one short line per ``progress_every`` steps and per phase. Raises ``AdaptInputError`` for
    bad input, before any training.
    """
    from isegsat.inference import pick_device, save_checkpoint

    started = time.perf_counter()
    samples_dir, weights, out = Path(samples_dir), Path(weights), Path(out)
    say = progress or (lambda line: None)
    if steps < 1:
        raise AdaptInputError(f"--steps must be >= 1, got {steps}")
    if not lr > 0:
        raise AdaptInputError(f"--lr must be > 0, got {lr}")
    try:
        records = read_manifest(samples_dir)
        for record in records:
            check_files(record)
    except DataError as error:
        raise AdaptInputError(f"no samples: {error}") from error
    train_records, held = split_samples(records, hold_back)
    base, base_metadata = load_interactive(weights)
    check_writable(out, "--out")
    try:
        target = pick_device(None if device == "auto" else device)
    except (ValueError, RuntimeError) as error:
        raise AdaptInputError(str(error)) from error

    say(f"isegsat-adapt: scoring the original model on {len(held)} held-back tile(s)")
    before = score(base.eval(), held, target, "original", zoom_in=zoom_in)
    with tempfile.TemporaryDirectory(prefix="isegsat-adapt-") as work:
        adapted, final_loss = _train(
            train_records, weights, Path(work), target, steps, lr, batch_size, crop_size, seed,
            say, progress_every,
        )  # fmt: skip
    say(f"isegsat-adapt: scoring the adapted model on {len(held)} held-back tile(s)")
    after = score(adapted, held, target, "adapted", zoom_in=zoom_in)
    accepted = bool(np.isfinite(final_loss)) and is_not_worse(before, after)
    reason = _reason(accepted, before, after, final_loss)
    written = None
    seconds = time.perf_counter() - started
    if accepted:
        metadata = {
            "preset": ADAPTED_PRESET,
            "interactive": True,
            "scene": _scene_name(records, samples_dir),
            "samples_dir": str(samples_dir.resolve()),
            "samples": len(records),
            "trained_on": len(train_records),
            "held_back": len(held),
            "held_back_ids": [r.crop_id for r in held],
            "steps": steps,
            "lr": lr,
            "batch_size": batch_size,
            "crop_size": crop_size,
            "zoom_in": zoom_in,
            "final_loss": final_loss,
            "base_checkpoint": str(weights.resolve()),
            "base_preset": base_metadata.get("preset"),
            "before": {**before.to_report(), "mean_iou": before.mean_iou},
            "after": {**after.to_report(), "mean_iou": after.mean_iou},
            "acceptance": f"NoC20@85 not higher, IoU after 20 not lower by > {IOU_TOLERANCE}",
            "seconds": round(seconds, 1),
            "device": str(target),
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        written = save_checkpoint(adapted, out, metadata)
    say(f"isegsat-adapt: {reason}" + (f" -> {written}" if written else ""))
    return AdaptResult(
        accepted,
        reason,
        len(records),
        len(held),
        steps,
        time.perf_counter() - started,
        str(target),
        before,
        after,
        written,
        adapted,
    )


def write_report(path: str | os.PathLike[str], report: dict[str, Any]) -> None:
    """Write ``report`` as indented JSON to ``path`` atomically (complete or not at all)."""
    text = (json.dumps(report, indent=2, allow_nan=False) + "\n").encode("utf-8")
    write_atomically(Path(path), lambda handle: handle.write(text))


def _train(
    records: Sequence[CropRecord],
    weights: Path,
    work: Path,
    device: torch.device,
    steps: int,
    lr: float,
    batch_size: int,
    crop_size: int,
    seed: int,
    say: Callable[[str], None],
    progress_every: int,
) -> tuple[HRNetModel, float]:
    """(adapted model on CPU in eval mode, mean loss of the last ``progress_every`` steps) after
    ``steps`` Trainer steps on ``records`` (listed in a manifest of ``work``, paths absolute)."""
    from isegsat.inference import load_checkpoint
    from isegsat.training.trainer import Trainer

    data = work / "samples"
    data.mkdir()
    rows = [
        {
            **dict.fromkeys(COLUMNS, ""),
            "crop_id": r.crop_id,
            "city": r.city,
            "tile": r.tile,
            "image": str(r.image.resolve()),
            "mask": str(r.mask.resolve()),
            "building_fraction": r.building_fraction,
            "split": "train",
        }
        for r in records
    ]
    write_manifest(data, rows)
    config = config_from_dict(
        {
            "preset": "finetune",
            "data": [str(data)],
            "weights": str(weights),
            "epochs": 1,
            "milestones": [],
            "max_iters": steps,
            "epoch_len": steps * batch_size,
            "batch_size": batch_size,
            "crop_size": [crop_size, crop_size],
            "scale_range": list(SCALE_RANGE),
            "lr": lr,
            "workers": 0,
            "val_every": 0,
            "seed": seed,
            "device": device.type,
            "target": "all",
            "augmentation": "sensor",
            "relabel_prob": RELABEL_PROB,
        },
        source="adaptation settings",
    )
    trainer = Trainer(config, work / "run")
    losses: list[float] = []
    clock = time.perf_counter()

    def on_step(step: int, loss: torch.Tensor) -> None:
        losses.append(float(loss))
        if step % progress_every == 0 or step == steps:
            recent = float(np.mean(losses[-progress_every:]))
            say(
                f"isegsat-adapt: step {step}/{steps}, loss {recent:.4f}, "
                f"{time.perf_counter() - clock:.0f} s"
            )

    trainer.on_step = on_step
    trainer.fit()
    model, _ = load_checkpoint(work / "run" / "last.pth")
    recent = float(np.mean(losses[-progress_every:])) if losses else float("nan")
    return model.eval(), recent


def _reason(accepted: bool, before: Scores, after: Scores, final_loss: float) -> str:
    figures = (
        f"NoC20@85 {before.noc85:.2f} -> {after.noc85:.2f}, "
        f"IoU after 20 clicks {before.iou:.3f} -> {after.iou:.3f} on the held-back tile(s)"
    )
    if not np.isfinite(final_loss):
        return f"refused: training diverged (loss {final_loss}); {figures}"
    if accepted:
        return f"accepted: {figures}"
    return f"refused: the adapted model is worse: {figures}"


def _scene_name(records: Sequence[CropRecord], samples_dir: Path) -> str:
    """The samples' most common ``city`` (a scene's name as the app writes it), else the
    folder's name."""
    cities = Counter(r.city for r in records if r.city)
    return cities.most_common(1)[0][0] if cities else samples_dir.name
