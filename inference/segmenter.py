"""Non-interactive use of an HRNet checkpoint: one forward pass, no clicks, zero previous mask.

This is how a model trained with ``isegsat-train --preset baseline`` (metadata
``interactive: False``) segments: the evaluation's "not interactive" row and the scene
pre-labeller (``isegsat-prelabel``) both call ``predict_without_clicks``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from isegsat.inference.checkpoint import CheckpointError, load_checkpoint
from isegsat.inference.clicks import clicks_to_points
from isegsat.inference.device import pick_device


class InteractiveCheckpointError(CheckpointError):
    """A click-based checkpoint was given where a model without clicks is needed."""


def is_interactive(metadata: Mapping[str, Any]) -> bool:
    """Whether a checkpoint's metadata describes a click-based model (RITM files, which carry no
    ``interactive`` key, are)."""
    return bool(metadata.get("interactive", True))


def load_segmenter(
    path: str | os.PathLike[str], device: str | torch.device | None = None
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """(model in eval mode on ``pick_device(device)``, metadata) of a non-interactive checkpoint.

    Raises ``CheckpointError`` for a missing or unreadable file and ``InteractiveCheckpointError``
    for a click-based model (only ``isegsat-train --preset baseline`` checkpoints segment alone).
    """
    target = pick_device(device)  # fail on an unavailable device before reading the file
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    model, metadata = load_checkpoint(path)
    if is_interactive(metadata):
        raise InteractiveCheckpointError(
            f"{path} is an interactive (click-based) model; pre-labelling needs a model without "
            "clicks, trained with `isegsat-train --preset baseline`"
        )
    return model.to(target).eval(), metadata


def predict_without_clicks(
    model: torch.nn.Module, image: np.ndarray, device: torch.device
) -> np.ndarray:
    """HxW float32 probability of a model run once with no clicks and an all-zero previous mask.

    image: HxWx3 uint8 RGB. ``model`` must already be on ``device`` in eval mode; it follows the
    RITM calling convention (``with_prev_mask`` attribute, ``model(image, points)['instances']``
    logits (1, 1, H, W)).
    """
    height, width = image.shape[:2]
    rgb = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 255.0
    channels = [rgb]
    if model.with_prev_mask:
        channels.append(torch.zeros(1, height, width))
    batch = torch.cat(channels).unsqueeze(0).to(device)
    points = torch.from_numpy(clicks_to_points([[]])).to(device)
    with torch.no_grad():
        logits = model(batch, points)["instances"]
    return torch.sigmoid(logits)[0, 0].float().cpu().numpy()
