"""Fixtures for the geodata tests (rasters built with `fakes.rasters`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes.rasters import REAL_RASTERS, aerial_like, write_raster


@pytest.fixture
def rgb_utm(tmp_path: Path) -> Path:
    """200 x 240 RGB uint8, UTM 31N, 0.5 m, tiled."""
    return write_raster(tmp_path / "rgb_utm.tif", aerial_like(200, 240))


@pytest.fixture
def real_rasters() -> Path:
    if not REAL_RASTERS.is_dir():
        pytest.skip("shared/data/real_rasters is not beside the checkout")
    return REAL_RASTERS
