"""Object mode's rules on one window (no Qt): which blob is the clicked building, and where a
window of a given side goes.

Masks are (h, w) arrays on the object's window, clicks are local to it ((y, x) pixels of the
window). Components are 8-connected, the rule training uses to pick one building
(`training.points_sampler.building_objects`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from isegsat.inference import Click

EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def component_at(mask: np.ndarray, y: int, x: int) -> np.ndarray:
    """(h, w) bool: the component of `mask` ((h, w), nonzero = set) holding pixel (y, x); all
    False when that pixel is not set."""
    components, _ = ndimage.label(mask, structure=EIGHT_CONNECTED)
    under = components[y, x]
    return components == under if under else np.zeros(mask.shape, dtype=bool)


def clicked_object(pred: np.ndarray, clicks: Sequence[Click], initial: np.ndarray) -> np.ndarray:
    """(h, w) uint8 {0, 1}: the components of `pred` ((h, w) bool, the thresholded prediction)
    that hold a positive click or overlap `initial` ((h, w), nonzero on the label's building
    being edited). Every other blob of the prediction (a neighbour, a parking lot) is dropped."""
    components, count = ndimage.label(pred, structure=EIGHT_CONNECTED)
    if count == 0:
        return np.zeros(pred.shape, dtype=np.uint8)
    seeds = np.asarray(initial) > 0
    for click in clicks:
        if click.is_positive:
            seeds[click.y, click.x] = True
    kept = np.unique(components[seeds])
    return np.isin(components, kept[kept > 0]).astype(np.uint8)


def place_range(centre: float, length: int, hold: tuple[int, int], size: int) -> int:
    """First index of a `length`-long range of [0, size) centred as near `centre` as it can be
    while holding the range `hold` = (start, stop); needs stop - start <= length <= size."""
    low = max(hold[1] - length, 0)
    high = min(hold[0], size - length)
    return int(min(max(round(centre - length / 2), low), high))
