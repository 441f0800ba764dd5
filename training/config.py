"""Typed training configuration: presets, YAML load/save, unknown keys rejected.

A run is fully described by one ``TrainConfig``; ``isegsat-train`` builds it from a preset, an
optional YAML file and command-line overrides, and saves it as ``RUN_DIR/config.yaml``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from isegsat.inference.atomic_file import write_atomically

PRESETS = ("finetune", "scratch", "baseline")
ARCHS = ("hrnet18s", "hrnet18", "hrnet32")
PRECISIONS = ("auto", "32-true", "bf16-mixed", "16-mixed")
TARGETS = ("all", "building", "mixed")
AUGMENTATIONS = ("ritm", "sensor")


@dataclass
class TrainConfig:
    """Every setting of a training run; defaults are the ``finetune`` preset (see README)."""

    preset: str = "finetune"
    data: list[str] = field(default_factory=list)
    """Folders written by ``isegsat-prepare`` (each holds ``manifest.csv``); a single string is
    read as one folder."""
    data_weights: list[float] = field(default_factory=list)
    """Sampling weight of each ``data`` folder (a folder's share of the training samples);
    empty = every crop equally likely."""
    arch: str = "hrnet18"
    """Used by ``scratch``/``baseline``; ``finetune`` takes the architecture from ``weights``."""
    weights: str | None = None
    """RITM or isegsat checkpoint to start from (required by ``finetune``)."""
    backbone_weights: str | None = None
    """ImageNet HRNet state dict (timm / HRNet-official keys) for ``scratch``/``baseline``."""
    epochs: int = 30
    milestones: list[int] = field(default_factory=lambda: [20, 27])
    lr_gamma: float = 0.1
    lr: float = 5e-4
    """Adam learning rate of the lr_mult 1 parameters; the HRNet backbone gets lr x 0.1."""
    batch_size: int = 28
    crop_size: list[int] = field(default_factory=lambda: [320, 480])
    """Training crop (height, width) cut from the prepared tiles after random resizing."""
    scale_range: list[float] = field(default_factory=lambda: [0.75, 1.40])
    epoch_len: int = 0
    """Samples per epoch; 0 = every train crop that holds a building, once."""
    max_iters: int = 0
    """Stop after this many optimiser steps in total (quick runs); 0 = no limit."""
    workers: int = 8
    """DataLoader worker processes per rank."""
    val_every: int = 1
    """Validate every this many epochs on the test split (0 = never)."""
    val_samples: int = 500
    seed: int = 0
    device: str = "auto"
    """"auto" (CUDA when available), "cpu", "cuda"."""
    precision: str = "auto"
    """"auto" = bf16-mixed on CUDA with bf16 support, else 16-mixed on CUDA, 32-true on CPU."""
    backbone_lr_mult: float | None = None
    """lr multiplier of the HRNet backbone for ``scratch``/``baseline``: None = RITM's 0.1 with
    ``backbone_weights``, 1.0 from random initialisation (``finetune`` keeps the checkpoint's)."""
    target: str = "all"
    """"all": a sample's target is every building of the crop (the study's protocol);
    "building": one connected building (RITM's instance sampling, merges of up to 2);
    "mixed": one building with probability ``building_prob``, else all (tile + object mode)."""
    building_prob: float = 0.5
    augmentation: str = "ritm"
    """"ritm": RITM's resize/flip/colour jitter; "sensor": rotations, flips and sensor jitter
    (gamma, hue, blur/sharpen, noise, JPEG, haze, grey) for real imagery."""
    relabel_prob: float = 0.0
    """Share of training samples that start from an imperfect label (buildings dropped,
    phantoms, shift, erosion/dilation) as the previous mask, with one click on its error."""
    object_view_prob: float = 0.0
    """Share of the one-building samples shown in an object window (the building at
    ``object_view_scale`` x its size, resized to ``crop_size``: as object mode's ZoomIn shows it)
    instead of a random view; see ``isegsat.training.object_view``."""
    object_view_scale: list[float] = field(default_factory=lambda: [1.3, 4.0])
    """[low, high] of the object window's side over the building box's longer side."""
    max_num_points: int = 24
    prob_gamma: float = 0.8
    merge_objects_prob: float = 0.15
    max_num_merged_objects: int = 2
    min_object_area: int = 80
    max_num_next_clicks: int = 3
    prev_mask_drop_prob: float = 0.0
    focal_alpha: float = 0.5
    focal_gamma: float = 2.0
    aux_weight: float = 0.4

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first inconsistent setting (a single ``data`` string
        becomes a one-folder list)."""
        if isinstance(self.data, str):
            self.data = [self.data] if self.data else []
        if self.data_weights and len(self.data_weights) != len(self.data):
            raise ValueError(
                f"data_weights needs one weight per data folder ({len(self.data)}), "
                f"got {len(self.data_weights)}"
            )
        if any(w < 0 for w in self.data_weights) or (
            self.data_weights and not any(self.data_weights)
        ):
            raise ValueError("data_weights must be >= 0 with at least one > 0")
        if self.augmentation not in AUGMENTATIONS:
            raise ValueError(f"augmentation must be one of {', '.join(AUGMENTATIONS)}")
        for name in ("building_prob", "relabel_prob", "object_view_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.preset not in PRESETS:
            raise ValueError(f"preset must be one of {', '.join(PRESETS)}, got {self.preset!r}")
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {', '.join(ARCHS)}, got {self.arch!r}")
        if self.target not in TARGETS:
            raise ValueError(f"target must be one of {', '.join(TARGETS)}, got {self.target!r}")
        if self.backbone_lr_mult is not None and self.backbone_lr_mult <= 0:
            raise ValueError(f"backbone_lr_mult must be > 0, got {self.backbone_lr_mult}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}")
        if len(self.crop_size) != 2 or min(self.crop_size) < 32:
            raise ValueError(f"crop_size must be [height, width] >= 32, got {self.crop_size}")
        for name in ("scale_range", "object_view_scale"):
            low_high = getattr(self, name)
            if len(low_high) != 2 or not 0 < low_high[0] <= low_high[1]:
                raise ValueError(f"{name} must be [low, high] with 0 < low <= high")
        for name in ("epochs", "batch_size", "max_num_points"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("workers", "max_iters", "epoch_len", "val_every", "max_num_next_clicks"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")

    @property
    def interactive(self) -> bool:
        """False for the ``baseline`` preset: no clicks, zero previous mask."""
        return self.preset != "baseline"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


PRESET_DEFAULTS: dict[str, dict[str, Any]] = {
    "finetune": {"epochs": 30, "milestones": [20, 27]},
    "scratch": {"epochs": 230, "milestones": [200, 215]},
    "baseline": {"epochs": 230, "milestones": [200, 215]},
}
"""Schedule per preset; the other settings are RITM's (crop 320x480, batch 28, Adam 5e-4, ...)."""


def config_from_dict(values: dict[str, Any], source: str = "config") -> TrainConfig:
    """A ``TrainConfig`` from a mapping; unknown keys raise ``ValueError`` naming them."""
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown key(s) in {source}: {', '.join(unknown)}")
    preset = values.get("preset", "finetune")
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {', '.join(PRESETS)}, got {preset!r}")
    return TrainConfig(**{**PRESET_DEFAULTS[preset], **values})


def load_config(path: str | Path) -> dict[str, Any]:
    """The mapping stored in a YAML file (validated keys, not yet merged with a preset)."""
    path = Path(path)
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as error:
        raise ValueError(f"cannot read config {path}: {error}") from error
    except yaml.YAMLError as error:
        raise ValueError(f"config {path} is not valid YAML: {error}") from error
    if not isinstance(values, dict):
        raise ValueError(f"config {path} must hold a mapping of settings")
    config_from_dict(values, source=str(path))  # reject unknown keys early
    return values


def save_config(config: TrainConfig, path: str | Path) -> None:
    """Write ``config`` as YAML (atomically: complete or not at all)."""
    text = yaml.safe_dump(config.to_dict(), sort_keys=False).encode("utf-8")
    write_atomically(Path(path), lambda handle: handle.write(text))
