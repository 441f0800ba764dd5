"""Tiny georeferenced rasters for the bad-input tests (a module with a unique name, so test
files import it whichever `conftest` module Python has cached)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS

REAL_RASTERS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real_rasters"
UTM_CRS = CRS.from_epsg(32633)  # WGS 84 / UTM 33N, as the app scene
UTM_TRANSFORM = Affine(0.3, 0.0, 500000.0, 0.0, -0.3, 5000000.0)


def write_raster(
    path: Path,
    data: np.ndarray,
    crs: CRS | str | None = UTM_CRS,
    transform: Affine = UTM_TRANSFORM,
) -> Path:
    """(B, H, W) or (H, W) uint8 `data` as a tiled GeoTIFF (64 px blocks, DEFLATE)."""
    data = data[None] if data.ndim == 2 else data
    profile = {
        "driver": "GTiff", "width": data.shape[2], "height": data.shape[1],
        "count": data.shape[0], "dtype": data.dtype, "crs": crs, "transform": transform,
        "tiled": True, "blockxsize": 64, "blockysize": 64, "compress": "deflate",
    }  # fmt: skip
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data)
    return path


def buildings_mask(height: int = 128, width: int = 128, seed: int = 0) -> np.ndarray:
    """(H, W) uint8 0/255 mask with five rectangular buildings."""
    rng = np.random.default_rng(seed)
    mask = np.zeros((height, width), np.uint8)
    for _ in range(5):
        r, c = rng.integers(0, height - 24), rng.integers(0, width - 24)
        mask[r : r + rng.integers(8, 24), c : c + rng.integers(8, 24)] = 255
    return mask


def noisy_mask(height: int, width: int, seed: int) -> np.ndarray:
    """(H, W) uint8 {0,1} random mask: packs to ~H*W/8 bytes, so a journal record of it needs
    fresh disk pages (a full disk cannot take it)."""
    return (np.random.default_rng(seed).random((height, width)) > 0.5).astype(np.uint8)
