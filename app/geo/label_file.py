"""The label GeoTIFF on disk: its layout, creating one (empty or from a mask), and folding edited
tiles into a new copy of it.

Layout: single-band uint8 GeoTIFF, values 0 (background) / 255 (building), 512 x 512 DEFLATE
tiles, sparse (empty tiles take no space), on the image grid. Every file is written through
`atomic_output` (temporary name, fsync, rename) and read back block by block before it replaces
the old one, so a label file is always complete or not there at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from os import PathLike
from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.errors import RasterioError
from rasterio.windows import Window

from isegsat.app.geo.atomic import atomic_output, check_writable_directory
from isegsat.app.geo.errors import RasterError
from isegsat.app.geo.grid import RasterGrid, block_windows

BLOCK = 512
FOREGROUND = 255
CREATION_OPTIONS = {
    "driver": "GTiff",
    "tiled": True,
    "blockxsize": BLOCK,
    "blockysize": BLOCK,
    "compress": "deflate",
    "sparse_ok": True,
    "bigtiff": "if_safer",
}


def building_pixels(data: np.ndarray) -> np.ndarray:
    """(B, H, W) raster values -> (H, W) uint8 {0,1}: a pixel is a building if any band is > 0
    (> 0.5 for float data), which covers 0/1, 0/255 and Inria-style RGB 0/255 masks."""
    threshold = 0.5 if data.dtype.kind == "f" else 0
    return (np.nan_to_num(data) > threshold).any(axis=0).astype(np.uint8)


def mask_profile(grid: RasterGrid) -> dict:
    """rasterio creation profile of a uint8 mask GeoTIFF on `grid` in the label layer's layout
    (the label layer itself, and drafts the app opens as a starting label)."""
    return {
        **CREATION_OPTIONS,
        "width": grid.width,
        "height": grid.height,
        "count": 1,
        "dtype": "uint8",
        "crs": grid.crs,
        "transform": grid.transform,
    }


def verify_written_raster(path: Path) -> None:
    """Read every block of a just-written raster back: GDAL reports some write failures (a full
    disk while closing the file) only as log messages, leaving a file that cannot be read.
    Raises RasterioError (or a GDAL error) when the file is damaged."""
    with rasterio.open(path) as written:
        for _, window in written.block_windows(1):
            written.read(window=window)


def grid_of(like) -> RasterGrid:
    """Grid of a RasterSource, RasterGrid, raster path or object with width/height/crs/transform."""
    if isinstance(like, RasterGrid):
        return like
    if isinstance(like, (str, PathLike)):
        try:
            with rasterio.open(like) as ds:
                return RasterGrid.of(ds)
        except RasterioError as exc:
            raise RasterError(f"cannot read the grid of {like}: {exc}") from exc
    return RasterGrid.of(like)


def write_empty(path: Path, grid: RasterGrid) -> None:
    """Write an empty (all 0, sparse) label file on `grid` at `path`, replacing any file there.
    Raises RasterioError, a GDAL error or OSError."""
    check_writable_directory(path)
    with atomic_output(path) as tmp:
        with rasterio.open(tmp, "w", **mask_profile(grid)):
            pass
        verify_written_raster(tmp)


def write_from_mask(source, grid: RasterGrid, path: Path) -> None:
    """Write the building pixels of an open mask dataset `source` (on `grid`; see
    `building_pixels`) as a label file at `path`, block by block (512 px), so the mask is never
    read whole. Raises RasterioError, a GDAL error or OSError."""
    check_writable_directory(path)
    with atomic_output(path) as tmp:
        with rasterio.open(tmp, "w", **mask_profile(grid)) as out:
            for window in block_windows(grid.full_window, BLOCK):
                binary = building_pixels(source.read(window=window))
                if binary.any():
                    out.write(binary * np.uint8(FOREGROUND), 1, window=window)
        verify_written_raster(tmp)


def fold_tiles(path: Path, tiles: Mapping[Window, np.ndarray]) -> None:
    """Replace the label file at `path` by a copy of it with `tiles` written in.

    `tiles` maps integer windows of the grid to (h, w) uint8 {0,1} masks of their size (the
    layer's 512 px tiles). The copy is written under a temporary name, read back and renamed
    over `path` (`atomic_output`), so `path` holds the old or the new file at every moment.
    Reads only `path` (its own handle), so it can run on another thread than the layer's reads.
    Raises RasterioError, a GDAL error or OSError (the old file is untouched).
    """
    with atomic_output(path) as tmp:
        rasterio.shutil.copy(path, tmp, **CREATION_OPTIONS)
        with rasterio.open(tmp, "r+") as out:
            for window, tile in tiles.items():
                out.write(tile * np.uint8(FOREGROUND), 1, window=window)
        verify_written_raster(tmp)
