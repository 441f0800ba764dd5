"""Bundled resources: the default interactive model and its model card.

The default weights are an HRNet18s trained on real aerial and satellite imagery with human
building labels plus the project's synthetic scenes (see ``MODEL_CARD.md`` beside this file).
``ISEGSAT_WEIGHTS`` points the app at another checkpoint.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

DEFAULT_MODEL_FILE = "isegsat_hrnet18s_real.pth"
PRELABEL_MODEL_FILE = "isegsat_baseline_real.pth"
"""The non-interactive segmenter ``isegsat-prelabel`` uses by default, once it is bundled."""
WEIGHTS_ENV_VAR = "ISEGSAT_WEIGHTS"


def bundled_model_path() -> Path | None:
    """Path of the checkpoint shipped in this package, or None when it is not installed."""
    path = Path(str(files(__name__).joinpath(DEFAULT_MODEL_FILE)))
    return path if path.is_file() else None


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
