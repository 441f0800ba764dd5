"""Training side of isegsat: data preparation, datasets, training and evaluation.

``evaluate_sample`` and ``SampleResult`` (``isegsat.training.evaluation``) are re-exported lazily,
so importing a light submodule such as ``isegsat.training.prepare`` does not load torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["SampleResult", "evaluate_sample"]

_LAZY = {
    "SampleResult": "isegsat.training.evaluation",
    "evaluate_sample": "isegsat.training.evaluation",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
