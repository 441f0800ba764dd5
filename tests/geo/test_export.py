"""Exports: mask GeoTIFF, footprints in GPKG/SHP/GeoJSON, areas, block-border merging, CLI."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import numpy as np
import pyogrio
import pyogrio.raw
import pytest
import rasterio
import shapely
from fakes.rasters import UTM_CRS, UTM_TRANSFORM, WGS84_CRS, WGS84_TRANSFORM, write_raster
from pyproj import Transformer
from rasterio.windows import Window

from isegsat.app.geo import ExportCancelled, ExportError, GeoWarning, LabelLayer
from isegsat.app.geo.export import export_footprints, export_mask_geotiff
from isegsat.app.geo.export_cli import main as export_cli


def _buildings() -> np.ndarray:
    """(200, 240) uint8 0/255: a courtyard building, an L-shape, a speck."""
    mask = np.zeros((200, 240), np.uint8)
    mask[20:100, 30:130] = 255  # 8000 px
    mask[40:60, 50:80] = 0  # courtyard: -600 px -> 7400 px
    mask[120:180, 150:170] = 255
    mask[160:180, 170:220] = 255  # L: 1200 + 1000 px
    mask[190:192, 10:12] = 255  # speck: 4 px
    return mask


@pytest.fixture
def mask_utm(tmp_path: Path) -> Path:
    return write_raster(tmp_path / "mask.tif", _buildings())


def _read(path: Path) -> tuple[dict, np.ndarray, dict]:
    info = pyogrio.read_info(path)
    meta, _, geometry, fields = pyogrio.raw.read(path)
    return info, shapely.from_wkb(geometry), dict(zip(meta["fields"], fields, strict=True))


def test_footprint_areas_equal_pixel_count_times_pixel_area(tmp_path: Path, mask_utm: Path) -> None:
    result = export_footprints(mask_utm, tmp_path / "out.gpkg")
    info, geometries, fields = _read(result.path)
    assert result.count == 3 and result.crs == "EPSG:32631" and info["crs"] == "EPSG:32631"
    order = np.argsort(fields["area_m2"])
    np.testing.assert_allclose(fields["area_m2"][order], [4 * 0.25, 2200 * 0.25, 7400 * 0.25])
    np.testing.assert_allclose(shapely.area(geometries[order]), fields["area_m2"][order])
    courtyard = geometries[order[-1]]
    assert len(courtyard.interiors) == 1
    assert fields["perimeter_m"][order[-1]] == pytest.approx((360 + 100) * 0.5)
    # Map coordinates: the courtyard building's top-left corner is pixel (30, 20).
    x0, y0 = UTM_TRANSFORM @ (30, 20)
    assert courtyard.bounds[0] == pytest.approx(x0) and courtyard.bounds[3] == pytest.approx(y0)
    assert list(fields["id"]) == sorted(fields["id"]) and set(fields["id"]) == {1, 2, 3}


def test_buildings_across_block_borders_come_out_whole(tmp_path: Path, mask_utm: Path) -> None:
    whole = export_footprints(mask_utm, tmp_path / "whole.gpkg", block=4096)
    tiled = export_footprints(mask_utm, tmp_path / "tiled.gpkg", block=32)  # 8 x 7 blocks
    _, a, fa = _read(whole.path)
    _, b, fb = _read(tiled.path)
    assert tiled.count == whole.count == 3
    for geometry in a:
        match = [g for g in b if g.equals(geometry)]
        assert len(match) == 1, "a building was split or changed at a block border"
    np.testing.assert_allclose(np.sort(fa["area_m2"]), np.sort(fb["area_m2"]))


def test_u_shape_joined_in_another_block_and_diagonal_pixels_stay_apart(tmp_path: Path) -> None:
    mask = np.zeros((96, 96), np.uint8)
    mask[10:80, 10:20] = 1
    mask[10:80, 40:50] = 1
    mask[70:80, 10:50] = 1  # the arms only join in the lower blocks
    mask[31, 63] = mask[32, 64] = 1  # corner-touching pixels across a block corner
    path = write_raster(tmp_path / "u.tif", mask)
    result = export_footprints(path, tmp_path / "u.gpkg", block=32)
    _, geometries, fields = _read(result.path)
    assert result.count == 3
    np.testing.assert_allclose(
        np.sort(fields["area_m2"]), [0.25, 0.25, (700 + 700 + 400 - 200) * 0.25]
    )


def test_min_area_simplify_and_regularize(tmp_path: Path, mask_utm: Path) -> None:
    result = export_footprints(
        mask_utm, tmp_path / "out.gpkg", min_area_m2=2.0, simplify=0.5, regularize=True
    )
    _, geometries, fields = _read(result.path)
    assert result.count == 2  # speck (1 m²) dropped
    for geometry in geometries:
        xy = np.asarray(geometry.exterior.coords)
        edges = np.diff(xy, axis=0)
        assert np.all((np.abs(edges[:, 0]) < 1e-6) | (np.abs(edges[:, 1]) < 1e-6))
    assert sorted(len(g.exterior.coords) for g in geometries) == [5, 7]  # rectangle and L


def test_min_area_applies_to_the_simplified_outlines(tmp_path: Path) -> None:
    mask = np.zeros((60, 60), np.uint8)
    mask[40:50, 40:50] = 255  # 25 m² block
    for i in range(30):  # a staircase sliver of 60 px (15 m²) that simplifies to 7.5 m²
        mask[5 + i, 5 + i : 7 + i] = 255
    path = write_raster(tmp_path / "sliver.tif", mask)
    kept = export_footprints(path, tmp_path / "all.gpkg", simplify=1.0)
    assert sorted(_read(kept.path)[2]["area_m2"]) == pytest.approx([7.5, 25.0])
    result = export_footprints(path, tmp_path / "out.gpkg", min_area_m2=10.0, simplify=1.0)
    _, geometries, fields = _read(result.path)
    assert result.count == 1 and list(fields["area_m2"]) == pytest.approx([25.0])


def test_geopackages_are_version_1_3_for_gdal_3_6(tmp_path: Path, mask_utm: Path) -> None:
    path = export_footprints(mask_utm, tmp_path / "out.gpkg").path
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (10300,)
        assert db.execute("PRAGMA application_id").fetchone() == (0x47504B47,)  # 'GPKG'


def test_geojson_is_wgs84_and_shapefile_has_prj_and_short_fields(
    tmp_path: Path, mask_utm: Path
) -> None:
    gj = export_footprints(mask_utm, tmp_path / "out.geojson")
    info, geometries, fields = _read(gj.path)
    assert info["crs"] == "EPSG:4326" and gj.crs == "EPSG:4326"
    corner = Transformer.from_crs(UTM_CRS, "EPSG:4326", always_xy=True).transform(
        *(UTM_TRANSFORM @ (30, 20))
    )
    courtyard = geometries[np.argmax(fields["area_m2"])]
    vertices = np.asarray(courtyard.exterior.coords)
    assert np.hypot(*(vertices - corner).T).min() < 1e-6  # lon/lat degrees, 7 decimals
    shp = export_footprints(mask_utm, tmp_path / "out.shp")
    assert (tmp_path / "out.prj").is_file() and (tmp_path / "out.dbf").is_file()
    info = pyogrio.read_info(shp.path)
    assert info["crs"] == "EPSG:32631" and all(len(f) <= 10 for f in info["fields"])
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]


def test_geographic_crs_areas_are_real_square_metres(tmp_path: Path) -> None:
    mask = np.zeros((100, 100), np.uint8)
    mask[20:70, 30:90] = 1
    path = write_raster(tmp_path / "wgs.tif", mask, crs=WGS84_CRS, transform=WGS84_TRANSFORM)
    result = export_footprints(path, tmp_path / "wgs.gpkg")
    info, geometries, fields = _read(result.path)
    assert info["crs"] == "EPSG:4326"
    # Same footprint measured on UTM 31N.
    to_utm = Transformer.from_crs(WGS84_CRS, UTM_CRS, always_xy=True)
    utm = shapely.transform(geometries[0], lambda xy: np.column_stack(to_utm.transform(*xy.T)))
    assert fields["area_m2"][0] == pytest.approx(utm.area, rel=2e-3)
    assert fields["area_m2"][0] == pytest.approx(3000 * 1.113 * 0.7326, rel=0.01)  # ≈ 1.1 x 0.73 m


def test_web_mercator_areas_are_ground_metres(tmp_path: Path) -> None:
    mask = np.zeros((40, 40), np.uint8)
    mask[10:20, 5:15] = 1
    # 1 m Mercator pixels near 48.8°N cover about cos(48.8°) m on the ground.
    origin = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True).transform(2.3, 48.8)
    transform = rasterio.transform.from_origin(*origin, 1.0, 1.0)
    path = write_raster(tmp_path / "merc.tif", mask, crs="EPSG:3857", transform=transform)
    _, _, fields = _read(export_footprints(path, tmp_path / "merc.gpkg").path)
    assert fields["area_m2"][0] == pytest.approx(100 * np.cos(np.radians(48.8)) ** 2, rel=0.01)
    assert fields["perimeter_m"][0] == pytest.approx(40 * np.cos(np.radians(48.8)), rel=0.01)


def test_mask_geotiff_export_keeps_grid_and_values(tmp_path: Path, mask_utm: Path) -> None:
    out = export_mask_geotiff(mask_utm, tmp_path / "binary.tif", foreground=1, block=64)
    with rasterio.open(out) as ds:
        assert ds.crs.to_epsg() == 32631 and ds.transform == UTM_TRANSFORM
        assert ds.profile["tiled"] and ds.profile["compress"] == "deflate"
        np.testing.assert_array_equal(ds.read(1), _buildings() // 255)
    window = Window(30, 20, 100, 50)
    out = export_mask_geotiff(mask_utm, tmp_path / "part.tif", window=window)
    with rasterio.open(out) as ds:
        assert ds.transform == rasterio.windows.transform(window, UTM_TRANSFORM)
        np.testing.assert_array_equal(ds.read(1), _buildings()[20:70, 30:130])


def test_export_of_a_label_layer_includes_unsaved_edits(tmp_path: Path, mask_utm: Path) -> None:
    layer = LabelLayer.from_mask(mask_utm, mask_utm, tmp_path / "labels.tif")
    layer.write(Window(0, 0, 10, 10), np.ones((10, 10), np.uint8))
    result = export_footprints(layer, tmp_path / "out.gpkg", window=Window(0, 0, 120, 120))
    _, _, fields = _read(result.path)
    # The window cuts 10 columns off the courtyard building: (7400 - 800) px.
    assert sorted(fields["area_m2"]) == [25.0, pytest.approx(6600 * 0.25)]
    layer.close()


def test_no_crs_warns_and_writes_pixel_coordinates(tmp_path: Path) -> None:
    mask = np.zeros((50, 50), np.uint8)
    mask[10:20, 10:30] = 1
    path = write_raster(
        tmp_path / "nocrs.tif", mask, crs=None, transform=rasterio.Affine.identity()
    )
    with pytest.warns(GeoWarning, match="no CRS"):
        result = export_footprints(path, tmp_path / "nocrs.shp")
    assert not (tmp_path / "nocrs.prj").exists() and result.crs is None
    _, geometries, fields = _read(result.path)
    assert geometries[0].bounds == (10, 10, 30, 20) and fields["area_m2"][0] == 200


def test_bad_inputs_give_export_errors_and_no_partial_files(tmp_path: Path, mask_utm: Path) -> None:
    with pytest.raises(ExportError, match="unsupported"):
        export_footprints(mask_utm, tmp_path / "out.csv")
    with pytest.raises(ExportError, match="outside"):
        export_footprints(mask_utm, tmp_path / "out.gpkg", window=Window(500, 500, 10, 10))
    with pytest.raises(ExportError, match="empty window"):
        export_mask_geotiff(mask_utm, tmp_path / "out.tif", window=Window(0, 0, 0, 10))
    with pytest.raises(ExportError, match="not found"):
        export_footprints(tmp_path / "missing.tif", tmp_path / "out.gpkg")
    text = tmp_path / "text.tif"
    text.write_text("not a raster")
    with pytest.raises(ExportError, match="cannot open mask"):
        export_mask_geotiff(text, tmp_path / "out.tif")
    with pytest.raises(ExportError, match="does not exist"):
        export_footprints(mask_utm, tmp_path / "nowhere" / "out.gpkg")
    (tmp_path / "taken.gpkg").mkdir()  # the final rename fails after a complete write
    with pytest.raises(ExportError, match="cannot write"):
        export_footprints(mask_utm, tmp_path / "taken.gpkg")
    with pytest.raises(ExportCancelled):
        export_footprints(mask_utm, tmp_path / "out.gpkg", block=32, cancel=lambda: True)
    with pytest.raises(ExportCancelled):
        export_mask_geotiff(mask_utm, tmp_path / "out.tif", cancel=lambda: True)
    leftovers = sorted(p.name for p in tmp_path.iterdir())
    assert leftovers == ["mask.tif", "taken.gpkg", "text.tif"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into read-only directories")
def test_read_only_directory_is_reported(tmp_path: Path, mask_utm: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        with pytest.raises(ExportError, match="not writable"):
            export_footprints(mask_utm, locked / "out.gpkg")
    finally:
        locked.chmod(0o755)


def test_cli_exports_and_reports_errors(tmp_path: Path, mask_utm: Path, capsys) -> None:
    out = tmp_path / "cli.gpkg"
    argv = [str(mask_utm), "--to", str(out), "--min-area", "2", "--regularize"]
    assert export_cli([*argv, "--window", "0,0,240,110"]) == 0
    assert "wrote 1 footprints" in capsys.readouterr().out
    assert pyogrio.read_info(out)["features"] == 1
    assert export_cli([str(mask_utm), "--to", str(tmp_path / "m.tif"), "--values", "1"]) == 0
    with rasterio.open(tmp_path / "m.tif") as ds:
        assert ds.read(1).max() == 1
    assert export_cli([str(tmp_path / "nope.tif"), "--to", str(out)]) == 1
    assert "error: mask not found" in capsys.readouterr().err
    assert export_cli([str(mask_utm), "--to", str(tmp_path / "x.csv")]) == 2
    with pytest.raises(SystemExit):
        export_cli([str(mask_utm), "--to", str(out), "--window", "1,2,3"])
