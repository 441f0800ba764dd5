"""Every change of coordinates of isegsat in one place: image pixels, box-local pixels, the
network input, and the raster's map coordinates.

Coordinate systems (y down everywhere in pixel space):

- **image position** (y, x): fractional, in full-resolution pixels of the image; pixel
  (row, col) covers ``row <= y < row + 1``, ``col <= x < col + 1`` (its top-left corner is
  (row, col), its centre (row + 0.5, col + 0.5); GDAL's and the canvas scene's convention).
- **pixel** (row, col): integer index of an image pixel, ``pixel_at`` of a position.
- **box-local** (y, x): relative to the top-left of a ``Box`` (a crop read from the image, a
  tile or an object window), what the model sees of that crop; clicks are shifted, not scaled.
- **network input** (y, x): pixels of a box's content resized to ``input_shape(box, size)``
  (ZoomIn: longest side ``size``, aspect kept). Clicks scale as in RITM: (y - row) * h' / h, a
  scaling of pixel indices (the crop itself is resized with corners aligned).
- **map** (x, y): easting/northing (or column/row units for a raster without CRS) through the
  raster's affine transform, which maps an image position (x = col, y = row) to map (x, y); it
  may be rotated or skewed. Map pairs are (x, y), pixel pairs (y, x): the order each field uses.

numpy only: the affine transform is any ``affine.Affine`` (rasterio's ``dataset.transform``),
used through its own ``@`` and ``~`` operators, so this module imports neither affine nor
rasterio.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from isegsat.inference.box import Box
from isegsat.inference.clicks import Click

if TYPE_CHECKING:
    from affine import Affine

Number = TypeVar("Number", float, np.ndarray)


# ---------------------------------------------------------------------- image position <-> pixel
def pixel_at(y: float, x: float) -> tuple[int, int]:
    """(row, col) of the pixel holding image position (y, x) (floor, also for negatives)."""
    return math.floor(y), math.floor(x)


# ---------------------------------------------------------------------- image <-> box-local
def image_to_box(box: Box, click: Click) -> Click:
    """``click`` in image pixels -> the same click in pixels local to ``box``."""
    return Click(click.y - box.row, click.x - box.col, click.is_positive)


def box_to_image(box: Box, click: Click) -> Click:
    """``click`` local to ``box`` -> the same click in image pixels."""
    return Click(click.y + box.row, click.x + box.col, click.is_positive)


def clicks_to_box(box: Box, clicks: Sequence[Click]) -> tuple[Click, ...]:
    """Every click of ``clicks`` (image pixels) local to ``box``."""
    return tuple(image_to_box(box, c) for c in clicks)


def box_in_box(outer: Box, box: Box) -> Box:
    """``box`` (image pixels) in pixels local to ``outer``: ``array_on_outer[box_in_box(outer,
    box).slices]`` is the part on ``box`` when ``box`` lies inside ``outer``."""
    return Box(box.row - outer.row, box.col - outer.col, box.height, box.width)


# ---------------------------------------------------------------------- image <-> network input
def input_shape(box: Box, target_size: int) -> tuple[int, int]:
    """(height, width) the content of ``box`` is resized to for the network: longest side
    ``target_size``, aspect kept (each side rounded half to even)."""
    scale = target_size / max(box.height, box.width)
    return round(box.height * scale), round(box.width * scale)


def image_to_input(box: Box, shape: tuple[int, int], yx: np.ndarray) -> np.ndarray:
    """(K, 2) float (y, x) image positions -> (K, 2) float64 positions in the network input of
    shape ``shape`` (h', w') made from the content of ``box``: ((y - row) h' / h, (x - col) w' / w).
    """
    out = np.array(yx, dtype=np.float64).reshape(-1, 2)
    out[:, 0] = shape[0] * (out[:, 0] - box.row) / box.height
    out[:, 1] = shape[1] * (out[:, 1] - box.col) / box.width
    return out


def input_to_image(box: Box, shape: tuple[int, int], yx: np.ndarray) -> np.ndarray:
    """Inverse of ``image_to_input``: (K, 2) network-input (y, x) -> (K, 2) float64 image (y, x)."""
    out = np.array(yx, dtype=np.float64).reshape(-1, 2)
    out[:, 0] = box.row + out[:, 0] * box.height / shape[0]
    out[:, 1] = box.col + out[:, 1] * box.width / shape[1]
    return out


# ---------------------------------------------------------------------- image <-> map
def pixel_to_map(transform: Affine, y: Number, x: Number) -> tuple[Number, Number]:
    """Image position (y, x) (floats or arrays of them) -> map (x, y) through the raster's
    affine ``transform``. A pixel's centre is ``pixel_to_map(t, row + 0.5, col + 0.5)``."""
    return transform @ (x, y)


def map_to_pixel(transform: Affine, map_x: Number, map_y: Number) -> tuple[Number, Number]:
    """Map (x, y) -> fractional image position (y, x); ``pixel_at`` gives the pixel holding it.
    Raises affine's ``TransformNotInvertibleError`` for a degenerate transform."""
    x, y = ~transform @ (map_x, map_y)
    return y, x


def shapely_matrix(transform: Affine) -> tuple[float, float, float, float, float, float]:
    """The affine ``transform`` as ``shapely.affinity.affine_transform``'s matrix
    [a, b, d, e, xoff, yoff], for geometries whose vertices are image positions (x, y)."""
    a, b, c, d, e, f = transform[:6]
    return a, b, d, e, c, f
