"""The one pixel-box type of isegsat: an integer rectangle of an image, half-open.

``Box(row, col, height, width)`` covers rows ``row <= r < row + height`` and columns
``col <= c < col + width`` of an image, in (row, col) = (y, x) pixel order, y down: the same
convention as numpy slicing and rasterio's ``Window(col_off, row_off, width, height)`` (note the
different argument order there; the app converts with ``isegsat.app.geo.boxes``). RITM's ZoomIn
rules are written with inclusive bounds (top, bottom, left, right); ``from_inclusive`` and
``last_row`` / ``last_col`` convert at that boundary. Changes of coordinates (image <-> box-local,
box <-> network input, pixel <-> map) are in ``isegsat.inference.coords``.

numpy only (no torch, no rasterio), so it is cheap to import anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Box:
    """Half-open pixel rectangle: rows ``[row, row + height)``, columns ``[col, col + width)``.

    ``row`` / ``col`` may be negative (a box before it is clipped to an image); ``height`` and
    ``width`` are never negative (0 is an empty box).
    """

    row: int
    col: int
    height: int
    width: int

    def __post_init__(self) -> None:
        if self.height < 0 or self.width < 0:
            raise ValueError(f"a box has no negative side: {self}")

    @classmethod
    def from_inclusive(cls, top: int, bottom: int, left: int, right: int) -> Box:
        """The box of rows ``top..bottom`` and columns ``left..right``, both ends included."""
        return cls(top, left, bottom - top + 1, right - left + 1)

    @classmethod
    def of_mask(cls, mask: np.ndarray) -> Box:
        """Tight box of the nonzero pixels of a non-empty (h, w) mask (in the mask's pixels)."""
        rows = np.flatnonzero(np.any(mask, axis=1))
        cols = np.flatnonzero(np.any(mask, axis=0))
        if rows.size == 0:
            raise ValueError("the mask has no pixel set")
        return cls.from_inclusive(int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1]))

    @property
    def row_stop(self) -> int:
        """First row after the box (exclusive end)."""
        return self.row + self.height

    @property
    def col_stop(self) -> int:
        """First column after the box (exclusive end)."""
        return self.col + self.width

    @property
    def last_row(self) -> int:
        """Last row inside the box (inclusive end; ``row - 1`` for an empty box)."""
        return self.row + self.height - 1

    @property
    def last_col(self) -> int:
        """Last column inside the box (inclusive end; ``col - 1`` for an empty box)."""
        return self.col + self.width - 1

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width), the shape of an array on the box."""
        return self.height, self.width

    @property
    def slices(self) -> tuple[slice, slice]:
        """(rows, columns) slices selecting the box from an array on the image
        (``array[box.slices]``; the box must lie inside the array)."""
        return slice(self.row, self.row_stop), slice(self.col, self.col_stop)

    @property
    def empty(self) -> bool:
        return self.height == 0 or self.width == 0

    def contains(self, y: float, x: float) -> bool:
        """Whether the (fractional) image position (y, x) lies in the box."""
        return self.row <= y < self.row_stop and self.col <= x < self.col_stop

    def intersection(self, other: Box) -> Box:
        """The part of the box inside ``other`` (an empty box, anchored at the overlap's start,
        when they do not overlap)."""
        row, col = max(self.row, other.row), max(self.col, other.col)
        row_stop = min(self.row_stop, other.row_stop)
        col_stop = min(self.col_stop, other.col_stop)
        return Box(row, col, max(row_stop - row, 0), max(col_stop - col, 0))

    def clip(self, height: int, width: int) -> Box:
        """The box cut to an image of ``height`` x ``width`` pixels."""
        return self.intersection(Box(0, 0, height, width))
