"""Bundled resources: the default interactive models and their model card.

The default weights are HRNet18s models trained on real aerial and satellite imagery with human
building labels plus the project's synthetic scenes (see ``MODEL_CARD.md`` beside this file):
the default model, which serves object mode, and its tile-mode companion, trained further on
every-building targets, which serves tile mode. ``ISEGSAT_WEIGHTS`` points the app at another
checkpoint, which then serves both modes.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

DEFAULT_MODEL_FILE = "isegsat_hrnet18s_real.pth"
TILE_MODEL_FILE = "isegsat_hrnet18s_real_tile.pth"
"""The default model's tile-mode companion (every building of a tile; see ``tile_model_for``)."""
PRELABEL_MODEL_FILE = "isegsat_baseline_real.pth"
"""The non-interactive segmenter ``isegsat-prelabel`` uses by default, once it is bundled."""
WEIGHTS_ENV_VAR = "ISEGSAT_WEIGHTS"


def bundled_model_path() -> Path | None:
    """Path of the checkpoint shipped in this package, or None when it is not installed."""
    path = Path(str(files(__name__).joinpath(DEFAULT_MODEL_FILE)))
    return path if path.is_file() else None


def bundled_tile_model_path() -> Path | None:
    """Path of the bundled tile-mode companion of the default model, or None when absent."""
    path = Path(str(files(__name__).joinpath(TILE_MODEL_FILE)))
    return path if path.is_file() else None


def tile_model_for(path: Path | None) -> Path | None:
    """The checkpoint tile mode uses beside ``path``: the bundled tile-mode model when ``path`` is
    the bundled default model, else None (any other checkpoint serves both modes)."""
    bundled = bundled_model_path()
    if path is None or bundled is None or Path(path).resolve() != bundled.resolve():
        return None
    return bundled_tile_model_path()


def bundled_prelabel_model_path() -> Path | None:
    """Path of the bundled non-interactive pre-labelling checkpoint, or None when absent."""
    path = Path(str(files(__name__).joinpath(PRELABEL_MODEL_FILE)))
    return path if path.is_file() else None


def default_model_path() -> Path | None:
    """The checkpoint the app loads when none is given: ``$ISEGSAT_WEIGHTS``, else the bundled
    one."""
    override = os.environ.get(WEIGHTS_ENV_VAR)
    if override:
        return Path(override).expanduser()
    return bundled_model_path()
