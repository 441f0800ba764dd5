"""Band choice of a 4-band raster: what is shown is what the model reads, and cached tiles never
outlive a band change."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from fakes.rasters import write_raster
from rasterio.windows import Window

from isegsat.app.geo import RasterSource


def test_the_fourth_band_is_shown_and_read_for_the_model_after_set_bands(tmp_path: Path) -> None:
    data = np.stack([np.full((64, 80), v, np.uint8) for v in (10, 20, 30, 200)])
    path = write_raster(tmp_path / "four.tif", data)
    with RasterSource.open(path) as source:
        everything = Window(0, 0, 80, 64)
        assert source.default_bands() == (1, 2, 3)
        assert tuple(source.read(everything)[0, 0]) == (10, 20, 30)
        source.set_bands((4, 3, 2))
        assert source.bands == (4, 3, 2)
        assert tuple(source.read(everything)[5, 5]) == (200, 30, 20)
        assert tuple(source.read_full_res_rgb(Window(3, 4, 8, 8))[0, 0]) == (200, 30, 20)
        assert {key[-1] for key in source.cache._items} == {(4, 3, 2)}  # keyed by the bands
        source.set_bands(None)
        assert tuple(source.read(everything)[0, 0]) == (10, 20, 30)
