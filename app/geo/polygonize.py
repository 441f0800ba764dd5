"""Mask -> building polygons, streamed block by block with buildings that cross block borders
merged into one polygon.

Polygons are produced in scene pixel coordinates (x = column, y = row, integer vertices), where
pieces from neighbouring blocks share exactly equal edge coordinates; each block is polygonized
with rasterio.features.shapes (4-connectivity, holes kept). Pieces that reach an inner block
border are held back and, at the end, unioned with the pieces they touch; all other polygons are
final as soon as their block is done, so memory stays bounded by the block size plus the pieces
lying on block borders.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import shapely
from affine import Affine
from rasterio.features import shapes
from rasterio.windows import Window
from shapely.affinity import affine_transform
from shapely.geometry import Polygon, shape

from isegsat.app.geo.errors import ExportCancelled
from isegsat.app.geo.grid import block_windows
from isegsat.inference.coords import shapely_matrix

DEFAULT_BLOCK = 2048


def polygonize_block(mask: np.ndarray, col_off: int = 0, row_off: int = 0) -> list[Polygon]:
    """Polygons (with holes) of the nonzero pixels of an (h, w) mask, in scene pixel coordinates
    of a block whose top-left pixel is (col_off, row_off)."""
    binary = (mask != 0).astype(np.uint8)
    if not binary.any():
        return []
    transform = Affine.translation(col_off, row_off)
    return [
        shape(geometry)
        for geometry, _ in shapes(
            binary, mask=binary.astype(bool), connectivity=4, transform=transform
        )
    ]


def _touches_inner_border(polygon: Polygon, block: Window, scene: Window) -> bool:
    """True when the polygon reaches a block edge that another block of the scene shares."""
    minx, miny, maxx, maxy = polygon.bounds
    left, top = block.col_off, block.row_off
    right, bottom = left + block.width, top + block.height
    scene_right, scene_bottom = scene.col_off + scene.width, scene.row_off + scene.height
    return (
        (minx <= left and left > scene.col_off)
        or (miny <= top and top > scene.row_off)
        or (maxx >= right and right < scene_right)
        or (maxy >= bottom and bottom < scene_bottom)
    )


def polygonize_scene(
    read_mask: Callable[[Window], np.ndarray],
    scene: Window,
    block: int = DEFAULT_BLOCK,
    progress: Callable[[float], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> Iterator[list[Polygon]]:
    """Yield batches of final polygons (scene pixel coordinates) of the mask inside `scene`.

    read_mask(window) returns the (h, w) {0,1} mask of an integer window. One batch per block,
    then one batch of the merged border-crossing buildings. `progress(fraction)` is called after
    each block; `cancel()` is polled before each block and raises ExportCancelled.
    """
    windows = list(block_windows(scene, block))
    border_pieces: list[Polygon] = []
    for done, window in enumerate(windows, start=1):
        if cancel is not None and cancel():
            raise ExportCancelled("export cancelled")
        finished: list[Polygon] = []
        for polygon in polygonize_block(read_mask(window), window.col_off, window.row_off):
            if _touches_inner_border(polygon, window, scene):
                border_pieces.append(polygon)
            else:
                finished.append(polygon)
        yield finished
        if progress is not None:
            progress(done / (len(windows) + 1))
    yield merge_touching(border_pieces)
    if progress is not None:
        progress(1.0)


def merge_touching(pieces: list[Polygon]) -> list[Polygon]:
    """Union pieces that share an edge into single polygons (pieces meeting only at a corner
    stay separate, matching 4-connectivity)."""
    if not pieces:
        return []
    merged = shapely.union_all(np.asarray(pieces, dtype=object))
    return [part for part in shapely.get_parts(merged) if isinstance(part, Polygon)]


def to_map_coordinates(polygons: list[Polygon], transform: Affine) -> np.ndarray:
    """Pixel-coordinate polygons (vertices are image positions (x, y)) -> object array of
    polygons in the raster's map coordinates (`coords.shapely_matrix` of its transform)."""
    geometries = np.asarray(polygons, dtype=object)
    if geometries.size == 0:
        return geometries
    matrix = shapely_matrix(transform)
    return np.array([affine_transform(polygon, matrix) for polygon in geometries], dtype=object)
