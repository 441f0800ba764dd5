"""Pixel grid of a raster (size, CRS, affine transform) and window validation helpers.

Windows are `rasterio.windows.Window` objects in full-resolution pixel coordinates of the grid:
(col_off, row_off, width, height), x to the right, y down.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import WindowError
from rasterio.windows import Window, intersection

from isegsat.app.geo.errors import GridMismatchError, RasterError

# Two transforms are the same grid when their coefficients agree to this fraction of a pixel.
_TRANSFORM_TOLERANCE = 1e-6


@dataclass(frozen=True)
class RasterGrid:
    """Size, CRS (None when the file has none) and pixel-to-map affine transform of a raster."""

    width: int
    height: int
    crs: CRS | None
    transform: Affine

    @classmethod
    def of(cls, dataset) -> RasterGrid:
        """Grid of an open rasterio dataset or of any object with width/height/crs/transform."""
        crs = dataset.crs if dataset.crs else None
        return cls(int(dataset.width), int(dataset.height), crs, dataset.transform)

    def differences(self, other: RasterGrid) -> list[str]:
        """Human-readable list of what differs between the two grids (empty when they match)."""
        diffs: list[str] = []
        if (self.width, self.height) != (other.width, other.height):
            diffs.append(
                f"size {other.width}x{other.height} px instead of {self.width}x{self.height} px"
            )
        if (self.crs is None) != (other.crs is None) or (
            self.crs is not None and other.crs is not None and self.crs != other.crs
        ):
            diffs.append(f"CRS {_crs_name(other.crs)} instead of {_crs_name(self.crs)}")
        pixel = max(abs(self.transform.a), abs(self.transform.e), 1e-12)
        tolerance = _TRANSFORM_TOLERANCE * pixel
        if not self.transform.almost_equals(other.transform, precision=tolerance):
            diffs.append(
                f"transform {tuple(round(v, 6) for v in other.transform[:6])} instead of "
                f"{tuple(round(v, 6) for v in self.transform[:6])}"
            )
        return diffs

    def require_same(self, other: RasterGrid, what: str = "mask") -> None:
        """Raise GridMismatchError naming every difference when `other` is not this grid."""
        diffs = self.differences(other)
        if diffs:
            raise GridMismatchError(
                f"the {what} is not on the image grid: it has " + "; ".join(diffs)
            )

    @property
    def full_window(self) -> Window:
        return Window(0, 0, self.width, self.height)


def _crs_name(crs: CRS | None) -> str:
    if crs is None:
        return "none"
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.to_string()


def check_window(window: Window) -> Window:
    """Validate a window's numbers (finite, positive size); raise RasterError otherwise."""
    values = (window.col_off, window.row_off, window.width, window.height)
    if not all(math.isfinite(v) for v in values):
        raise RasterError(f"window has non-finite values: {window}")
    if window.width <= 0 or window.height <= 0:
        raise RasterError(
            f"empty window: width {window.width} and height {window.height} must be > 0"
        )
    return window


def clip_window(window: Window, width: int, height: int) -> Window | None:
    """Integer part of a window inside a width x height grid, or None when they do not overlap.

    The window is first snapped outwards to whole pixels.
    """
    check_window(window)
    col0, row0 = math.floor(window.col_off), math.floor(window.row_off)
    col1 = math.ceil(window.col_off + window.width)
    row1 = math.ceil(window.row_off + window.height)
    snapped = Window(col0, row0, col1 - col0, row1 - row0)
    try:
        return intersection(snapped, Window(0, 0, width, height))
    except WindowError:  # no overlap
        return None


def integer_window(window: Window) -> Window:
    """The window with integer offsets and size (rejects fractional windows with RasterError)."""
    check_window(window)
    values = (window.col_off, window.row_off, window.width, window.height)
    if any(float(v) != int(v) for v in values):
        raise RasterError(f"window must have whole-pixel offsets and size, got {window}")
    return Window(*(int(v) for v in values))


def block_windows(window: Window, block: int):
    """Yield integer windows of at most block x block pixels that tile `window` row by row."""
    window = integer_window(window)
    for r in range(window.row_off, window.row_off + window.height, block):
        for c in range(window.col_off, window.col_off + window.width, block):
            yield Window(
                c,
                r,
                min(block, window.col_off + window.width - c),
                min(block, window.row_off + window.height - r),
            )
