"""Object mode's rules on one window (no Qt): which label component is under a click, and where a
window of a given side goes (which blob of a prediction is the clicked building is
`isegsat.inference.clicked_object`, shared with the object protocol of `isegsat-eval`).

Masks are (h, w) arrays on the object's window, clicks are local to it ((y, x) pixels of the
window). Components are 8-connected, the rule training uses to pick one building
(`training.points_sampler.building_objects`).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from isegsat.inference.clicked_object import EIGHT_CONNECTED


def component_at(mask: np.ndarray, y: int, x: int) -> np.ndarray:
    """(h, w) bool: the component of `mask` ((h, w), nonzero = set) holding pixel (y, x); all
    False when that pixel is not set."""
    components, _ = ndimage.label(mask, structure=EIGHT_CONNECTED)
    under = components[y, x]
    return components == under if under else np.zeros(mask.shape, dtype=bool)


def place_range(centre: float, length: int, hold: tuple[int, int], size: int) -> int:
    """First index of a `length`-long range of [0, size) centred as near `centre` as it can be
    while holding the range `hold` = (start, stop); needs stop - start <= length <= size."""
    low = max(hold[1] - length, 0)
    high = min(hold[0], size - length)
    return int(min(max(round(centre - length / 2), low), high))
