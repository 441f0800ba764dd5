"""RasterSource: opening, band choice, masks, stretch, zoomed reads, cache, threads, overviews."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.shutil
from fakes.rasters import WGS84_CRS, WGS84_TRANSFORM, aerial_like, write_raster
from rasterio.windows import Window

from isegsat.app.geo import (
    Cancelled,
    RasterError,
    RasterSource,
    SourceClosedError,
    build_overviews,
    overview_factors,
)
from isegsat.app.geo.raster import TILE_SIZE


def test_rgb_full_resolution_read_matches_the_file(rgb_utm: Path) -> None:
    with rasterio.open(rgb_utm) as ds:
        expected = np.moveaxis(ds.read(window=Window(30, 20, 100, 60)), 0, -1)
        crs, transform = ds.crs, ds.transform
    with RasterSource.open(rgb_utm) as source:
        assert (source.width, source.height, source.count) == (240, 200, 3)
        assert source.crs == crs and source.transform == transform
        assert source.bands == (1, 2, 3) and source.stretch is None
        rgb = source.read_full_res_rgb(Window(30, 20, 100, 60))
        assert rgb.dtype == np.uint8 and rgb.shape == (60, 100, 3)
        np.testing.assert_array_equal(rgb, expected)
        np.testing.assert_array_equal(source.read(Window(30, 20, 100, 60)), expected)


def test_striped_and_tiled_files_read_the_same(tmp_path: Path) -> None:
    data = aerial_like(150, 170, seed=3)
    tiled = write_raster(tmp_path / "tiled.tif", data)
    striped = write_raster(tmp_path / "striped.tif", data, tiled=False)
    window = Window(10, 5, 150, 140)
    with RasterSource.open(tiled) as a, RasterSource.open(striped) as b:
        np.testing.assert_array_equal(a.read(window, (70, 75)), b.read(window, (70, 75)))
        np.testing.assert_array_equal(a.read_full_res_rgb(window), b.read_full_res_rgb(window))


def test_jpeg_bigtiff_and_vrt_open_like_the_plain_file(tmp_path: Path, rgb_utm: Path) -> None:
    data = aerial_like(200, 240)
    jpeg = write_raster(tmp_path / "jpeg.tif", data, compress="jpeg", photometric="ycbcr")
    big = write_raster(tmp_path / "big.tif", data, bigtiff="YES")
    vrt = tmp_path / "scene.vrt"
    rasterio.shutil.copy(rgb_utm, vrt, driver="VRT")
    window = Window(20, 30, 120, 90)
    with RasterSource.open(rgb_utm) as plain:
        reference = plain.read(window).astype(int)
    for path, tolerance in ((jpeg, 12), (big, 0), (vrt, 0)):
        with RasterSource.open(path) as source:
            assert source.crs.to_epsg() == 32631
            assert np.abs(source.read(window).astype(int) - reference).mean() <= tolerance


def test_chosen_bands_and_single_band_grey(tmp_path: Path) -> None:
    data = aerial_like(64, 64)
    four = write_raster(tmp_path / "four.tif", np.concatenate([data, data[:1] // 2]))
    with RasterSource.open(four, bands=(4, 2, 1)) as source:
        rgb = source.read_full_res_rgb(Window(0, 0, 64, 64))
        np.testing.assert_array_equal(rgb[..., 0], data[0] // 2)
        np.testing.assert_array_equal(rgb[..., 2], data[0])
        source.set_bands((3,))
        grey = source.read_full_res_rgb(Window(0, 0, 64, 64))
        assert source.bands == (3, 3, 3)
        np.testing.assert_array_equal(grey[..., 1], data[2])
        with pytest.raises(RasterError, match="do not exist"):
            source.set_bands((1, 2, 5))
        with pytest.raises(RasterError, match="1 \\(grey\\) or 3"):
            source.set_bands((1, 2))
    single = write_raster(
        tmp_path / "single.tif", data[0], crs=WGS84_CRS, transform=WGS84_TRANSFORM
    )
    with RasterSource.open(single) as source:
        assert source.bands == (1, 1, 1) and source.crs.to_epsg() == 4326
        rgb = source.read_full_res_rgb(Window(0, 0, 64, 64))
        assert (rgb[..., 0] == rgb[..., 2]).all()


def test_16bit_is_stretched_2_to_98_percent(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    data = rng.integers(1000, 5000, (3, 128, 128)).astype(np.uint16)
    path = write_raster(tmp_path / "u16.tif", data)
    with RasterSource.open(path) as source:
        lo, hi = np.percentile(data[0], [2, 98])
        np.testing.assert_allclose(source.stretch[0], (lo, hi), rtol=0.01)
        rgb = source.read_full_res_rgb(Window(0, 0, 128, 128))
    assert rgb.dtype == np.uint8
    saturated = (rgb[..., 0] == 255).mean()
    black = (rgb[..., 0] == 0).mean()
    assert 0.01 < saturated < 0.04 and 0.01 < black < 0.04


def test_nodata_pixels_are_black_and_invalid(tmp_path: Path) -> None:
    data = (aerial_like(64, 64) // 2 + 10).astype(np.uint8)
    data[:, :, :16] = 0
    path = write_raster(tmp_path / "nodata.tif", data, nodata=0)
    with RasterSource.open(path) as source:
        rgb, valid = source.read_with_mask(Window(0, 0, 64, 64))
    assert not valid[:, :16].any() and valid[:, 16:].all()
    assert (rgb[:, :16] == 0).all()


def test_rgba_alpha_band_is_the_mask_and_not_displayed(tmp_path: Path) -> None:
    data = aerial_like(64, 64)
    alpha = np.full((1, 64, 64), 255, np.uint8)
    alpha[0, 40:] = 0
    rgba = np.concatenate([data, alpha])
    path = write_raster(tmp_path / "rgba.tif", rgba, photometric="RGB", alpha="YES")
    with RasterSource.open(path) as source:
        assert source.bands == (1, 2, 3)
        valid = source.read_valid_mask(Window(0, 0, 64, 64))
    assert valid[:40].all() and not valid[40:].any()


def test_float_nan_is_invalid(tmp_path: Path) -> None:
    data = np.linspace(0, 1, 64 * 64, dtype=np.float32).reshape(64, 64)
    data[:8] = np.nan
    path = write_raster(tmp_path / "float.tif", data)
    with RasterSource.open(path) as source:
        rgb, valid = source.read_with_mask(Window(0, 0, 64, 64))
    assert not valid[:8].any() and valid[8:].all() and (rgb[:8] == 0).all()
    assert rgb[8:, :, 0].max() == 255 and rgb[8:, :, 0].min() == 0


def test_zoomed_out_read_uses_the_right_level_and_matches_decimation(tmp_path: Path) -> None:
    path = write_raster(tmp_path / "wide.tif", aerial_like(64, 2048, seed=2))
    with RasterSource.open(path) as source:
        assert source.max_level == 2  # 2048 / 2**2 = one 512 px tile
        full = source.read_full_res_rgb(Window(0, 0, 2048, 64))
        assert source.level_for(Window(0, 0, 2048, 64), (16, 512)) == 2
        assert source.level_for(Window(0, 0, 2048, 64), (32, 1024)) == 1
        assert source.level_for(Window(0, 0, 2048, 64), (64, 2048)) == 0
        assert source.level_for(Window(0, 0, 2048, 64), (2, 64)) == 2  # capped
        small = source.read(Window(0, 0, 2048, 64), (16, 512))
        assert {key[0] for key in source.cache._items} == {0, 2}
    assert small.shape == (16, 512, 3)
    # Without overviews GDAL decimates by nearest neighbour: the centre pixel of each 4 x 4.
    np.testing.assert_array_equal(small, full[2::4, 2::4])


def test_zoomed_in_read_repeats_pixels(rgb_utm: Path) -> None:
    with RasterSource.open(rgb_utm) as source:
        full = source.read_full_res_rgb(Window(10, 10, 20, 10))
        big = source.read(Window(10, 10, 20, 10), (40, 80))
    np.testing.assert_array_equal(big, np.repeat(np.repeat(full, 4, axis=1), 4, axis=0))


def test_windows_partly_outside_are_padded_black(rgb_utm: Path) -> None:
    with RasterSource.open(rgb_utm) as source:
        rgb, valid = source.read_with_mask(Window(-20, 190, 60, 30))
        inside = source.read_full_res_rgb(Window(0, 190, 40, 10))
        far, far_valid = source.read_with_mask(Window(1000, 1000, 30, 30))
    assert rgb.shape == (30, 60, 3)
    np.testing.assert_array_equal(rgb[:10, 20:], inside)
    assert not valid[:, :20].any() and not valid[10:].any() and (rgb[10:] == 0).all()
    assert (far == 0).all() and not far_valid.any()


@pytest.mark.parametrize(
    ("window", "out_shape"),
    [(Window(0, 0, 0, 10), None), (Window(5, 5, 10, 0), None), (Window(0, 0, 10, 10), (0, 5))],
)
def test_empty_windows_are_refused(rgb_utm: Path, window: Window, out_shape) -> None:
    with RasterSource.open(rgb_utm) as source, pytest.raises(RasterError, match="empty|positive"):
        source.read(window, out_shape)


def test_cache_serves_repeats_and_stays_under_its_cap(tmp_path: Path) -> None:
    path = write_raster(tmp_path / "wide.tif", aerial_like(64, 2048))
    tile_bytes = 64 * 512 * 4  # RGB + validity byte per pixel
    with RasterSource.open(path, cache_mb=2.5 * tile_bytes / 2**20) as source:
        source.read(Window(0, 0, 100, 64))
        misses = source.cache.misses
        source.read(Window(10, 10, 50, 50))
        assert source.cache.misses == misses and source.cache.hits >= 1
        source.read(Window(0, 0, 2048, 64))  # 4 level-0 tiles, only 2 fit
        assert len(source.cache) == 2 and source.cache.nbytes == 2 * tile_bytes
        assert source.cache.nbytes <= source.cache.capacity_bytes


def test_reads_from_several_threads_agree(rgb_utm: Path) -> None:
    rng = np.random.default_rng(7)
    cases = []  # (window, out_shape): partly outside, zoomed in and out
    for _ in range(40):
        c, r, w = (int(v) for v in rng.integers((-10, -10, 8), (200, 170, 96)))
        cases.append((Window(c, r, 64, 48), (w * 3 // 4, w)))
    with RasterSource.open(rgb_utm, cache_mb=1) as reference:
        expected = [reference.read(window, shape) for window, shape in cases]
    errors: list[BaseException] = []
    with RasterSource.open(rgb_utm, cache_mb=1) as shared:

        def worker(offset: int) -> None:
            try:
                for i in range(len(cases)):
                    j = (i + offset) % len(cases)
                    np.testing.assert_array_equal(shared.read(*cases[j]), expected[j])
            except BaseException as exc:  # collected and re-raised in the main thread
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(k * 7,)) for k in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(shared._handles) >= 2  # one dataset handle per reading thread
    assert not errors, errors[0]


def test_a_closed_source_refuses_reads_instead_of_reopening_the_file(rgb_utm: Path) -> None:
    source = RasterSource.open(rgb_utm)
    source.read_full_res_rgb(Window(0, 0, 16, 16))
    source.close()
    source.close()  # idempotent
    assert source.closed and source._handles == []
    with pytest.raises(SourceClosedError, match="closed"):
        source.read_full_res_rgb(Window(0, 0, 16, 16))
    with pytest.raises(RasterError):  # a RasterError like any failed read
        source.read(Window(0, 0, 16, 16), (4, 4))
    assert source._handles == []


def test_build_overviews_writes_external_ovr_used_by_zoomed_reads(tmp_path: Path) -> None:
    path = write_raster(tmp_path / "wide.tif", aerial_like(64, 2048, seed=5))
    steps: list[float] = []
    assert build_overviews(path, progress=steps.append) == [2, 4, 8]
    assert steps[0] == 0.0 and steps[-1] == 1.0
    assert (tmp_path / "wide.tif.ovr").is_file()
    with RasterSource.open(path) as source:
        assert source.overview_factors == (2, 4, 8)
        full = source.read_full_res_rgb(Window(0, 0, 2048, 64)).astype(float)
        zoomed = source.read(Window(0, 0, 2048, 64), (16, 512)).astype(float)
    # Served from the averaged 4x overview, not by nearest decimation.
    block_mean = full.reshape(16, 4, 512, 4, 3).mean(axis=(1, 3))
    assert np.abs(zoomed - block_mean).max() <= 2
    assert np.abs(zoomed - full[2::4, 2::4]).mean() > 5


def test_build_overviews_cancel_and_bad_file(tmp_path: Path) -> None:
    path = write_raster(tmp_path / "wide.tif", aerial_like(64, 1024))
    with pytest.raises(Cancelled):
        build_overviews(path, cancel=lambda: True)
    assert not (tmp_path / "wide.tif.ovr").exists()
    polls: list[int] = []

    def cancel_while_building() -> bool:  # the first poll is before GDAL starts
        polls.append(1)
        return len(polls) > 1

    with pytest.raises(Cancelled):
        build_overviews(path, cancel=cancel_while_building)
    assert len(polls) >= 2 and not (tmp_path / "wide.tif.ovr").exists()
    text = tmp_path / "notes.tif"
    text.write_text("not a raster")
    with pytest.raises(RasterError, match="cannot open"):
        build_overviews(text)


def test_overview_factors_follow_gdaladdo() -> None:
    assert overview_factors(20_000, 20_000) == [2, 4, 8, 16, 32, 64, 128]
    assert overview_factors(256, 200) == []
    assert overview_factors(1000, 300) == [2, 4]
    assert TILE_SIZE == 512
