"""The annotation session's plain data (no Qt, no state machine): modes, the tile grid, model
requests and results, targets, the changes an action asks its caller to make, settings, and what
the session needs of a label layer.

Coordinates: boxes are `isegsat.inference.box.Box` (half-open, (row, col, height, width)) and
clicks are in full-resolution pixels of the image, (row, col) = (y, x), y down; a
`PredictRequest` carries clicks local to its box (`isegsat.inference.coords.clicks_to_box`).
Masks are (h, w) uint8 {0, 1} on a box; probabilities are (h, w) float32 in [0, 1]. Label-layer
windows are rasterio `Window`s (`isegsat.app.geo.boxes.to_window`).

Results and requests are frozen dataclasses; `AnnotationSession` (`isegsat.app.annotation`)
builds and consumes them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

import numpy as np
from rasterio.windows import Window

from isegsat.app.geo.raster import RasterSource
from isegsat.inference import Click
from isegsat.inference.box import Box
from isegsat.inference.threshold import PRED_THRESHOLD

__all__ = [
    "AcceptedTile",
    "Change",
    "LabelStore",
    "Mode",
    "PredictRequest",
    "PredictResult",
    "SessionConfig",
    "Target",
    "TileGrid",
]


class Mode(Enum):
    """Tile mode (the scene tile by tile) or object mode (one building per window)."""

    TILE = "tile"
    OBJECT = "object"


class LabelStore(Protocol):
    """What the session needs of `isegsat.app.geo.LabelLayer`."""

    def read(self, window: Window) -> np.ndarray: ...

    def write(self, window: Window, mask: np.ndarray) -> object: ...

    def write_group(self, edits: Iterable[tuple[Window, np.ndarray]]) -> Window | None: ...

    @property
    def can_undo(self) -> bool: ...

    def undo(self) -> object: ...

    def redo(self) -> object: ...


@dataclass(frozen=True)
class TileGrid:
    """The scene cut into size x size tiles, numbered row-major from the top-left."""

    height: int
    width: int
    size: int

    @property
    def rows(self) -> int:
        return math.ceil(self.height / self.size)

    @property
    def cols(self) -> int:
        return math.ceil(self.width / self.size)

    @property
    def count(self) -> int:
        return self.rows * self.cols

    def box(self, index: int) -> Box:
        """The tile's box (cut to the scene at the right and bottom edges)."""
        r, c = divmod(index, self.cols)
        row, col = r * self.size, c * self.size
        return Box(row, col, min(self.size, self.height - row), min(self.size, self.width - col))

    def index_at(self, y: float, x: float) -> int:
        """Number of the tile holding image position (y, x) (inside the scene)."""
        return int(y) // self.size * self.cols + int(x) // self.size


@dataclass(frozen=True, eq=False)
class PredictRequest:
    """Everything the worker needs to predict one target: run the model of `mode` on the crop
    `box` of `source` (the document's own thread-safe RasterSource, which the display also reads)
    with `prev_mask` ((h, w) float32) as the initial mask and `clicks` (local to the box). A
    source closed before the worker reads it raises `SourceClosedError` there (the request is
    dropped).
    """

    seq: int
    target_id: int
    source: RasterSource
    box: Box
    prev_mask: np.ndarray
    clicks: tuple[Click, ...]
    mode: Mode = Mode.TILE


@dataclass(frozen=True, eq=False)
class PredictResult:
    """The worker's answer to request `seq`: prob (h, w) float32 on the request's box."""

    seq: int
    target_id: int
    prob: np.ndarray
    latency_s: float
    device: str


@dataclass(frozen=True, eq=False)
class Target:
    """The tile or object being annotated: box, initial mask, clicks (image coords), prediction.

    `prob` answers the first `answered` clicks; while a newer click waits for the model the
    previous prediction stays on show. `growths` counts how often an object's window has grown.
    """

    id: int
    box: Box
    initial: np.ndarray
    clicks: tuple[Click, ...] = ()
    prob: np.ndarray | None = None
    answered: int = 0
    growths: int = 0

    @property
    def waiting(self) -> bool:
        return self.answered != len(self.clicks)


@dataclass(frozen=True, eq=False)
class AcceptedTile:
    """A tile as accepted in tile mode: `box` in image pixels, `mask` its final (h, w) uint8
    {0, 1} label, `clicks` the clicks that made it (image coordinates; () when it was accepted
    without a prediction and keeps its label)."""

    box: Box
    mask: np.ndarray
    clicks: tuple[Click, ...]


@dataclass(frozen=True)
class Change:
    """What a caller must do after an action: submit `request`, redraw labels in `label_box`;
    `accepted` is the tile a tile-mode accept wrote or kept (a training sample of the scene)."""

    request: PredictRequest | None = None
    label_box: Box | None = None
    accepted: AcceptedTile | None = None


@dataclass
class SessionConfig:
    """Session settings; sizes are window sides in image pixels.

    Object mode's first window is `object_size` (about 3x a typical 50-100 px building at 0.3 m)
    on unlabelled ground, else `object_scale` x the longer side of the label's building under the
    click, clamped to `min_object_size`..`max_object_size`; it grows by `growth` at most
    `max_growth_steps` times, up to `max_object_size` (256 -> 384 -> 576: at most about 0.55 Mpx
    of model input for a first click, where 512 -> ... -> 2048 could cost 9.4 Mpx).
    """

    tile_size: int = 500
    object_size: int = 256
    object_scale: float = 3.0
    min_object_size: int = 128
    max_object_size: int = 640
    growth: float = 1.5
    max_growth_steps: int = 2
    threshold: float = PRED_THRESHOLD
