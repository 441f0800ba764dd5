"""Tiny, seeded, georeferenced rasters for the geodata tests (all <= 256 px)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.transform import from_origin

# Real-world-like grids: 0.5 m UTM 31N (Paris area), 1e-5° WGS84 (≈ 1.1 m x 0.75 m at 48°N).
UTM_CRS = "EPSG:32631"
UTM_TRANSFORM = from_origin(448_000.0, 5_412_000.0, 0.5, 0.5)
WGS84_CRS = "EPSG:4326"
WGS84_TRANSFORM = from_origin(2.30, 48.87, 1e-5, 1e-5)

REAL_RASTERS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real_rasters"


def write_raster(
    path: Path,
    data: np.ndarray,
    crs: str | None = UTM_CRS,
    transform: Affine = UTM_TRANSFORM,
    tiled: bool = True,
    **profile,
) -> Path:
    """Write (B, H, W) or (H, W) `data` as a GeoTIFF (tiled 128 px blocks, or striped)."""
    data = data[None] if data.ndim == 2 else data
    options = {"tiled": True, "blockxsize": 128, "blockysize": 128} if tiled else {"tiled": False}
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
        **{"compress": "deflate", **options, **profile},
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


@pytest.fixture
def rgb_utm(tmp_path: Path) -> Path:
    """200 x 240 RGB uint8, UTM 31N, 0.5 m, tiled."""
    return write_raster(tmp_path / "rgb_utm.tif", aerial_like(200, 240))


@pytest.fixture
def real_rasters() -> Path:
    if not REAL_RASTERS.is_dir():
        pytest.skip("shared/data/real_rasters is not beside the checkout")
    return REAL_RASTERS
