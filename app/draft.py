"""A pre-labelled draft of the whole scene, as label-layer edits (Qt-free).

`isegsat-prelabel` (or the app's "Pre-label scene") writes a draft mask on the image's grid. The
draft joins the label layer by union: a pixel is a building afterwards when the layer or the
draft says so, so nothing already labelled is lost; tiles the annotator has accepted keep their
labels exactly (the draft does not touch them). `draft_edits` returns the 512 px blocks of the
layer that change, ready for `AnnotationSession.apply_draft` (one undoable step).

Coordinates: `Box` and windows are in full-resolution image pixels, (row, col); masks are
(h, w) uint8 {0, 1}.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import rasterio
from rasterio.errors import RasterioError
from rasterio.windows import Window

from isegsat.app.annotation_types import LabelStore
from isegsat.app.geo.boxes import from_window
from isegsat.app.geo.errors import Cancelled, RasterError
from isegsat.app.geo.grid import RasterGrid, block_windows
from isegsat.app.geo.labels import BLOCK, building_pixels
from isegsat.inference.box import Box
from isegsat.inference.coords import box_in_box

Edit = tuple[Window, np.ndarray]
"""A window of the label layer and its new (h, w) uint8 {0, 1} content."""


def draft_edits(
    draft: Path,
    labels: LabelStore,
    grid: RasterGrid,
    accepted: Iterable[Box] = (),
    cancel: Callable[[], bool] | None = None,
) -> list[Edit]:
    """The blocks of the label layer that change when the draft at `draft` joins it.

    `grid` is the label layer's (= the image's) grid; a draft on another grid raises
    GridMismatchError (a RasterError) saying what differs. `accepted` boxes keep the layer's
    labels. Reads block by block (memory: the changed blocks only); `cancel()` returning True
    stops with `Cancelled`. Raises RasterError for an unreadable draft.
    """
    accepted = tuple(accepted)
    edits: list[Edit] = []
    try:
        with rasterio.open(draft) as dataset:
            grid.require_same(RasterGrid.of(dataset), what="draft")
            for window in block_windows(grid.full_window, BLOCK):
                if cancel is not None and cancel():
                    raise Cancelled("adding the draft was cancelled; the labels are unchanged")
                proposed = building_pixels(dataset.read(1, window=window)[None])
                if not proposed.any():
                    continue
                current = np.asarray(labels.read(window), dtype=np.uint8)
                merged = current | proposed
                _keep_accepted(merged, current, window, accepted)
                if not np.array_equal(merged, current):
                    edits.append((window, merged))
    except RasterioError as exc:
        raise RasterError(f"cannot read the draft {draft}: {exc}") from exc
    return edits


def _keep_accepted(merged: np.ndarray, current: np.ndarray, window: Window, boxes) -> None:
    """Put the layer's labels back into `merged` ((h, w) on `window`) inside accepted boxes."""
    block = from_window(window)
    for box in boxes:
        overlap = box.intersection(block)
        if not overlap.empty:
            inside = box_in_box(block, overlap).slices
            merged[inside] = current[inside]
