"""`Box` <-> rasterio `Window`: the app's one pixel box (`isegsat.inference.box.Box`, half-open,
(row, col, height, width)) and the window rasterio and the label layer read and write
(`Window(col_off, row_off, width, height)`, the same pixels in (x, y) argument order).

The inference package knows no rasterio, so the conversion lives here, on the geodata side.
"""

from __future__ import annotations

from rasterio.windows import Window

from isegsat.inference.box import Box


def to_window(box: Box) -> Window:
    """The rasterio window of the box's pixels."""
    return Window(box.col, box.row, box.width, box.height)


def from_window(window: Window) -> Box:
    """The box of an integer window (offsets and size truncated to int)."""
    return Box(int(window.row_off), int(window.col_off), int(window.height), int(window.width))
