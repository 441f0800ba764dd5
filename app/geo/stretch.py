"""Display stretch: map raw band values (any dtype) to uint8 with a per-band percentile range."""

from __future__ import annotations

import numpy as np

LOW_PERCENT = 2.0
HIGH_PERCENT = 98.0


def percentile_range(
    samples: np.ndarray, valid: np.ndarray, low: float = LOW_PERCENT, high: float = HIGH_PERCENT
) -> np.ndarray:
    """Per-band (low, high) percentiles of valid, finite samples.

    samples: (B, H, W) any numeric dtype; valid: (H, W) bool. Returns (B, 2) float64. Bands without
    valid samples get (0, 1); a flat band gets (v - 1, v + 1) so it shows mid-grey.
    """
    ranges = np.zeros((samples.shape[0], 2), dtype=np.float64)
    for i, band in enumerate(samples):
        values = band[valid].astype(np.float64)
        values = values[np.isfinite(values)]
        if values.size == 0:
            ranges[i] = (0.0, 1.0)
            continue
        lo, hi = np.percentile(values, [low, high])
        ranges[i] = (lo, hi) if hi > lo else (lo - 1.0, lo + 1.0)
    return ranges


def apply_stretch(data: np.ndarray, ranges: np.ndarray | None) -> np.ndarray:
    """Scale (B, H, W) raw values to (H, W, B) uint8; `ranges` (B, 2) or None for uint8 input.

    Values below/above the range clip to 0/255; NaN becomes 0.
    """
    if ranges is None:
        return np.ascontiguousarray(np.moveaxis(data, 0, -1).astype(np.uint8, copy=False))
    lo = ranges[:, 0].reshape(-1, 1, 1)
    scale = 255.0 / (ranges[:, 1] - ranges[:, 0]).reshape(-1, 1, 1)
    scaled = (data.astype(np.float32) - lo.astype(np.float32)) * scale.astype(np.float32)
    scaled = np.nan_to_num(scaled, nan=0.0, posinf=255.0, neginf=0.0)
    out = np.clip(scaled + 0.5, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(np.moveaxis(out, 0, -1))
