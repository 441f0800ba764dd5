"""Georeferenced rasters for the geodata and bad-input tests (all <= 256 px unless asked)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.transform import from_origin

# Real-world-like grids: 0.5 m UTM 31N (Paris area), 1e-5° WGS84 (≈ 1.1 m x 0.75 m at 48°N).
UTM_CRS = "EPSG:32631"
UTM_TRANSFORM = from_origin(448_000.0, 5_412_000.0, 0.5, 0.5)
WGS84_CRS = "EPSG:4326"
WGS84_TRANSFORM = from_origin(2.30, 48.87, 1e-5, 1e-5)

# ../shared/data/real_rasters beside the checkout (see its README); absent on some machines.
REAL_RASTERS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real_rasters"


def write_raster(
    path: Path,
    data: np.ndarray,
    crs: str | object | None = UTM_CRS,
    transform: Affine = UTM_TRANSFORM,
    tiled: bool = True,
    block: int = 128,
    **profile,
) -> Path:
    """Write (B, H, W) or (H, W) ``data`` as a DEFLATE GeoTIFF (tiled ``block`` px, or striped);
    ``profile`` overrides any creation option (compress, nodata, photometric, ...)."""
    data = data[None] if data.ndim == 2 else data
    layout = {"tiled": False}
    if tiled:
        layout = {"tiled": True, "blockxsize": block, "blockysize": block}
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=data.shape[2],
        height=data.shape[1],
        count=data.shape[0],
        dtype=data.dtype,
        crs=crs,
        transform=transform,
        **{"compress": "deflate", **layout, **profile},
    ) as ds:
        ds.write(data)
    return path


def aerial_like(height: int, width: int, seed: int = 0) -> np.ndarray:
    """(3, H, W) uint8 scene: textured ground with a few bright rectangular roofs."""
    rng = np.random.default_rng(seed)
    image = rng.normal(90, 12, (3, height, width))
    for _ in range(6):
        r, c = rng.integers(0, height - 30), rng.integers(0, width - 30)
        image[:, r : r + rng.integers(10, 30), c : c + rng.integers(10, 30)] = rng.integers(
            150, 230, (3, 1, 1)
        )
    return np.clip(image, 0, 255).astype(np.uint8)


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


def read_band(path: Path, band: int = 1) -> np.ndarray:
    """One band of a raster file, as written (e.g. a 0/255 mask)."""
    with rasterio.open(path) as dataset:
        return dataset.read(band)
