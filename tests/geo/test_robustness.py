"""Bad and unusual input: real rasters from rasterio's test data, broken files, odd CRSs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from fakes.rasters import aerial_like, write_raster
from rasterio.windows import Window

from isegsat.app.geo import LabelLayer, RasterError, RasterSource
from isegsat.app.geo.export import export_footprints

DISPLAYABLE = {
    # name: (display bands, fraction of valid pixels in a fit-to-window view)
    "RGB.byte.tif": ((1, 2, 3), (0.6, 0.75)),
    "RGBA.byte.tif": ((1, 2, 3), (0.6, 0.75)),
    "RGBA.uint16.tif": ((3, 2, 1), (0.4, 0.6)),  # tagged blue, green, red; constant 10000
    "alpha.tif": ((1, 2, 3), (0.0, 0.1)),
    "all-nodata.tif": ((3, 2, 1), (0.0, 0.0)),
    "cogeo.tif": ((1, 2, 3), (1.0, 1.0)),
    "float32.tif": ((1, 1, 1), (1.0, 1.0)),
    "float_nan.tif": ((1, 1, 1), (0.5, 0.9)),
    "rotated.tif": ((1, 1, 1), (1.0, 1.0)),
    "rgb1_fake_nir_epsg3857.tif": ((1, 1, 1), (0.5, 0.8)),
    "shade.tif": ((1, 1, 1), (0.05, 0.2)),
    "world.byte.tif": ((1, 1, 1), (1.0, 1.0)),
}


@pytest.mark.parametrize("name", sorted(DISPLAYABLE))
def test_real_rasters_display(real_rasters: Path, name: str) -> None:
    bands, (low, high) = DISPLAYABLE[name]
    with RasterSource.open(real_rasters / name) as source:
        assert source.bands == bands
        whole = Window(0, 0, source.width, source.height)
        rgb, valid = source.read_with_mask(whole, (64, 64))
        assert rgb.shape == (64, 64, 3) and rgb.dtype == np.uint8
        assert low <= valid.mean() <= high
        assert (rgb[~valid] == 0).all()
        if source.dtype != np.uint8 and valid.any():
            assert rgb[valid].mean() > 40  # stretched (a flat band shows mid-grey), not black


def test_real_raster_georeferencing_is_kept(real_rasters: Path) -> None:
    with RasterSource.open(real_rasters / "rgb1_fake_nir_epsg3857.tif") as source:
        assert source.crs.to_epsg() == 3857
    with (
        RasterSource.open(real_rasters / "rotated.tif") as source,
        rasterio.open(real_rasters / "rotated.tif") as ds,
    ):
        assert source.transform == ds.transform and source.transform.b != 0


def test_corrupt_tiff_fails_with_raster_error(real_rasters: Path) -> None:
    source = RasterSource.open(real_rasters / "corrupt.tif")  # header and overviews are intact
    with source, pytest.raises(RasterError, match="cannot read pixels"):
        for row in range(0, source.height, 256):
            for col in range(0, source.width, 256):
                source.read_full_res_rgb(Window(col, row, 256, 256))


def test_truncated_tiff_fails_with_raster_error(tmp_path: Path) -> None:
    path = write_raster(tmp_path / "full.tif", aerial_like(256, 256))
    data = path.read_bytes()
    truncated = tmp_path / "truncated.tif"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(RasterError), RasterSource.open(truncated) as source:
        source.read_full_res_rgb(Window(0, 0, 256, 256))
    header_only = tmp_path / "header.tif"
    header_only.write_bytes(data[:16])
    with pytest.raises(RasterError, match="cannot open"):
        RasterSource.open(header_only)


def test_non_rasters_are_refused_clearly(tmp_path: Path) -> None:
    text = tmp_path / "notes.tif"
    text.write_text("this is a text file named .tif\n")
    with pytest.raises(RasterError, match="cannot open .*notes.tif as a raster"):
        RasterSource.open(text)
    with pytest.raises(RasterError, match="not found"):
        RasterSource.open(tmp_path / "missing.tif")
    with pytest.raises(RasterError, match="directory"):
        RasterSource.open(tmp_path)


def test_raster_without_crs_can_be_annotated(tmp_path: Path) -> None:
    path = write_raster(
        tmp_path / "plain.tif", aerial_like(64, 64), crs=None, transform=rasterio.Affine.identity()
    )
    with RasterSource.open(path) as source:
        assert source.crs is None
        layer = LabelLayer.create(tmp_path / "labels.tif", source)
    layer.write(Window(5, 5, 20, 20), np.ones((20, 20), np.uint8))
    layer.flush()
    assert layer.crs is None and layer.read(Window(0, 0, 64, 64)).sum() == 400
    layer.close()
    with pytest.warns(UserWarning, match="no CRS"):
        export_footprints(tmp_path / "labels.tif", tmp_path / "out.gpkg")
