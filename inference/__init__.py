"""Model side of isegsat: RITM HRNet models, checkpoints, devices and the click predictor.

The public names below are loaded on first use (PEP 562), so importing a light submodule such as
``isegsat.inference.atomic_file`` or ``isegsat.inference.clicks`` does not load torch (command-line
``--help`` stays fast).
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "ARCHITECTURES": "model",
    "CheckpointError": "checkpoint",
    "Click": "clicks",
    "HRNetModel": "model",
    "PRED_THRESHOLD": "threshold",
    "Predictor": "predictor",
    "ZoomIn": "zoom_in",
    "build_model": "model",
    "clicks_to_points": "clicks",
    "fuse_for_inference": "fuse",
    "load_checkpoint": "checkpoint",
    "load_model": "checkpoint",
    "next_click": "clicks",
    "pick_device": "device",
    "save_checkpoint": "checkpoint",
}
__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
