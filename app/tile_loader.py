"""Loader thread that streams display tiles of a raster for the canvas.

A display tile (level, tx, ty) covers full-resolution pixels [tx·T·2^level, (tx+1)·T·2^level) in x
(same in y, T = 512) and is read decimated by 2^level through `RasterSource.read`, which serves it
from the file's overviews. `request()` replaces the queue (tiles no longer visible are dropped).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtGui import QImage
from rasterio.windows import Window

from isegsat.app.geo import RasterError, RasterSource
from isegsat.app.request_thread import RequestThread

TILE = 512


@dataclass(frozen=True)
class TileKey:
    level: int
    tx: int
    ty: int

    def window(self, width: int, height: int) -> Window:
        """Full-resolution window of the tile, clipped to a width x height image."""
        span = TILE * 2**self.level
        col, row = self.tx * span, self.ty * span
        return Window(col, row, min(span, width - col), min(span, height - row))


@dataclass(frozen=True, eq=False)
class TileImage:
    key: TileKey
    window: Window
    image: QImage


def visible_keys(level: int, x0: float, y0: float, x1: float, y1: float, width: int, height: int):
    """Tile keys of `level` covering image rectangle (x0, y0)-(x1, y1), clipped to the image."""
    span = TILE * 2**level
    tx0, ty0 = max(0, int(x0 // span)), max(0, int(y0 // span))
    tx1 = min(math.ceil(width / span) - 1, int(x1 // span))
    ty1 = min(math.ceil(height / span) - 1, int(y1 // span))
    return [TileKey(level, tx, ty) for ty in range(ty0, ty1 + 1) for tx in range(tx0, tx1 + 1)]


def rgb_to_qimage(rgb: np.ndarray) -> QImage:
    """(h, w, 3) uint8 RGB → a QImage owning a copy of the pixels."""
    rgb = np.ascontiguousarray(rgb)
    h, w, _ = rgb.shape
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


class TileLoader(RequestThread):
    """Reads requested tiles in order, newest request first; emits `tile_ready(TileImage)`."""

    tile_ready = Signal(object)
    failed = Signal(str)

    def __init__(self, source: RasterSource, parent=None) -> None:
        super().__init__(parent)
        self._source = source
        self._queue: list[TileKey] = []

    def request(self, keys: list[TileKey]) -> None:
        self._post(lambda: setattr(self, "_queue", list(keys)))

    def _next_job(self):
        if not self._queue:
            return None
        key = self._queue.pop(0)
        return lambda: self._load(key)

    def _load(self, key: TileKey) -> None:
        window = key.window(self._source.width, self._source.height)
        factor = 2**key.level
        shape = (math.ceil(window.height / factor), math.ceil(window.width / factor))
        try:
            rgb = self._source.read(window, shape)
        except RasterError as exc:
            self.failed.emit(str(exc))
            return
        self.tile_ready.emit(TileImage(key, window, rgb_to_qimage(rgb)))
