"""Object mode's rule for what the annotator gets: the clicked building, not every blob.

In object mode the target is one building, so every 8-connected component of the thresholded
prediction that holds no positive click (and does not overlap the building being edited) is a
neighbour, a parking lot or a lawn, and is dropped. The app shows and writes this mask, and the
object protocol of ``isegsat-eval`` scores it, so both measure the same thing. 8-connectivity is
the rule training uses to pick one building (``training.points_sampler.building_objects``).

Masks are (h, w) arrays on one window; clicks are (y, x) pixels of that window.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from isegsat.inference.clicks import Click

EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def clicked_object(
    pred: np.ndarray, clicks: Sequence[Click], initial: np.ndarray | None = None
) -> np.ndarray:
    """(h, w) uint8 {0, 1}: the components of ``pred`` ((h, w) bool, the thresholded
    prediction) that hold a positive click or overlap ``initial`` ((h, w), nonzero on the label's
    building being edited; None for none). Every other blob of the prediction is dropped."""
    components, count = ndimage.label(pred, structure=EIGHT_CONNECTED)
    if count == 0:
        return np.zeros(pred.shape, dtype=np.uint8)
    seeds = np.zeros(pred.shape, dtype=bool) if initial is None else np.asarray(initial) > 0
    for click in clicks:
        if click.is_positive:
            seeds[click.y, click.x] = True
    kept = np.unique(components[seeds])
    return np.isin(components, kept[kept > 0]).astype(np.uint8)
