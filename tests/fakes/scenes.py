"""The app tests' scene: a tiny Inria-like RGB GeoTIFF with two bright buildings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from affine import Affine
from rasterio.crs import CRS

from fakes.rasters import write_raster

SCENE_CRS = CRS.from_epsg(32633)  # WGS 84 / UTM 33N
SCENE_TRANSFORM = Affine(0.3, 0.0, 500000.0, 0.0, -0.3, 5000000.0)  # 0.3 m, as Inria


@dataclass(frozen=True)
class Scene:
    """A 160 x 192 px RGB GeoTIFF: dark ground with two bright buildings (row, col, h, w)."""

    path: Path
    buildings: tuple[tuple[int, int, int, int], ...]
    height: int = 160
    width: int = 192


def write_scene(path: Path) -> Scene:
    """Write the scene to ``path`` (tiled 64 px, ``SCENE_CRS``/``SCENE_TRANSFORM``)."""
    rng = np.random.default_rng(0)
    height, width = 160, 192
    rgb = (40 + rng.integers(0, 20, size=(3, height, width))).astype(np.uint8)
    buildings = ((20, 24, 30, 40), (96, 120, 36, 44))
    for row, col, h, w in buildings:
        rgb[:, row : row + h, col : col + w] = 210
    write_raster(path, rgb, crs=SCENE_CRS, transform=SCENE_TRANSFORM, block=64)
    return Scene(path, buildings)


def write_scene_raster(
    path: Path, data: np.ndarray, crs: CRS | str | None = SCENE_CRS, transform=SCENE_TRANSFORM
) -> Path:
    """(B, H, W) or (H, W) ``data`` as a GeoTIFF on the scene's grid (tiled 64 px, DEFLATE)."""
    return write_raster(path, data, crs=crs, transform=transform, block=64)
