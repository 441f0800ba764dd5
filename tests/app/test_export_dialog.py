"""Export: the worker writes real files (read back with rasterio/pyogrio), cancel leaves nothing,
errors reach a message box, and the dialog builds the request the user chose."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyogrio.raw
import pytest
import rasterio
import shapely
from affine import Affine
from fakes.signals import SignalRecorder
from fixtures_dialogs import (
    BUILDINGS,
    SCENE_TRANSFORM,
    labelled_layer,
    redirected_settings,
    write_scene,
)
from PySide6.QtWidgets import QDialog, QMessageBox
from rasterio.crs import CRS
from rasterio.windows import Window

from isegsat.app.export_dialog import ExportDialog, run_export_dialog
from isegsat.app.export_job import ExportFormat, ExportRequest, ExportThread, run_export
from isegsat.app.geo import ExportCancelled, LabelLayer, RasterSource

PIXEL_AREA = 0.3 * 0.3
AREAS_M2 = sorted((r1 - r0) * (c1 - c0) * PIXEL_AREA for r0, r1, c0, c1 in BUILDINGS)


@pytest.fixture
def scene(tmp_path: Path):
    """(RasterSource, LabelLayer with the two BUILDINGS accepted, output folder)."""
    image = write_scene(tmp_path / "scene.tif")
    layer = labelled_layer(image, tmp_path / "scene_labels.tif")
    source = RasterSource.open(image)
    out = tmp_path / "out"
    out.mkdir()
    yield source, layer, out
    layer.close()
    source.close()


def _areas(path: Path) -> list[float]:
    """Sorted area_m2 attributes; in a projected (metre) output they match the polygons' area."""
    meta, _, wkb, fields = pyogrio.raw.read(path)
    if meta["crs"] == "EPSG:32633":
        assert np.allclose(fields[1], shapely.area(shapely.from_wkb(wkb)), rtol=1e-3)
    return sorted(float(a) for a in fields[1])


@pytest.mark.parametrize(
    ("kind", "value"), [(ExportFormat.MASK_255, 255), (ExportFormat.MASK_01, 1)]
)
def test_mask_geotiff_on_the_image_grid(scene, kind: ExportFormat, value: int) -> None:
    source, layer, out = scene
    outcome = run_export(ExportRequest(kind, out / "mask.tif"), layer)
    assert outcome.features is None and outcome.warnings == ()
    with rasterio.open(outcome.path) as ds:
        assert (ds.crs, ds.transform, ds.shape) == (source.crs, source.transform, (128, 128))
        data = ds.read(1)
    r0, r1, c0, c1 = BUILDINGS[0]
    assert set(np.unique(data)) == {0, value}
    assert (data[r0:r1, c0:c1] == value).all()
    assert int((data == value).sum()) == sum((b - a) * (d - c) for a, b, c, d in BUILDINGS)


@pytest.mark.parametrize("kind", [ExportFormat.GPKG, ExportFormat.SHAPEFILE, ExportFormat.GEOJSON])
def test_footprints_read_back_with_their_areas(scene, kind: ExportFormat) -> None:
    _, layer, out = scene
    outcome = run_export(ExportRequest(kind, out / f"fp{kind.suffix}", simplify=0.3), layer)
    assert outcome.features == 2
    meta, _, _, _ = pyogrio.raw.read(outcome.path)
    assert meta["crs"] == ("EPSG:4326" if kind is ExportFormat.GEOJSON else "EPSG:32633")
    assert _areas(outcome.path) == pytest.approx(AREAS_M2, rel=0.02)


def test_min_area_and_current_tile_window(scene) -> None:
    _, layer, out = scene
    big = run_export(ExportRequest(ExportFormat.GPKG, out / "big.gpkg", min_area_m2=50), layer)
    assert big.features == 1 and _areas(big.path) == pytest.approx(AREAS_M2[1:], rel=0.02)
    r0, r1, c0, c1 = BUILDINGS[1]
    tile = Window(c0 - 8, r0 - 8, 40, 36)
    mask = run_export(ExportRequest(ExportFormat.MASK_01, out / "tile.tif", window=tile), layer)
    with rasterio.open(mask.path) as ds:
        assert ds.shape == (36, 40)
        assert ds.transform.c == pytest.approx(SCENE_TRANSFORM.c + (c0 - 8) * 0.3)
        assert int(ds.read(1).sum()) == (r1 - r0) * (c1 - c0)


def test_worker_thread_reports_progress_and_success(qtbot, scene) -> None:
    _, layer, out = scene
    thread = ExportThread(ExportRequest(ExportFormat.SHAPEFILE, out / "fp.shp"), layer)
    recorder = SignalRecorder()
    thread.progressed.connect(recorder.record)
    steps = recorder.values
    with qtbot.waitSignal(thread.succeeded, timeout=10_000) as blocker:
        thread.start()
    assert thread.wait(5000)
    assert blocker.args[0].features == 2
    assert steps[-1] == 1000
    assert sorted(p.suffix for p in out.iterdir()) == [".cpg", ".dbf", ".prj", ".shp", ".shx"]


@pytest.mark.parametrize("kind", [ExportFormat.MASK_255, ExportFormat.GPKG])
def test_cancel_leaves_no_file(qtbot, scene, kind: ExportFormat) -> None:
    _, layer, out = scene
    thread = ExportThread(ExportRequest(kind, out / f"x{kind.suffix}"), layer)
    thread.cancel()
    with qtbot.waitSignal(thread.cancelled, timeout=10_000):
        thread.start()
    assert thread.wait(5000)
    assert list(out.iterdir()) == []
    with pytest.raises(ExportCancelled):
        run_export(ExportRequest(kind, out / f"y{kind.suffix}"), layer, cancel=lambda: True)
    assert list(out.iterdir()) == []


def test_failure_is_a_signal_with_the_reason(qtbot, scene) -> None:
    _, layer, out = scene
    thread = ExportThread(ExportRequest(ExportFormat.GPKG, out / "missing" / "fp.gpkg"), layer)
    with qtbot.waitSignal(thread.failed, timeout=10_000) as blocker:
        thread.start()
    assert thread.wait(5000)
    assert "does not exist" in blocker.args[0]


def _accept_with(monkeypatch, kind: ExportFormat, output: Path, tile: bool = False) -> None:
    """Make the options dialog return at once as if the user chose ``kind`` and ``output``."""

    def fake_exec(dialog: ExportDialog) -> int:
        dialog.format.setCurrentIndex(list(ExportFormat).index(kind))
        dialog.output.setText(str(output))
        dialog.current_tile.setChecked(tile)
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(ExportDialog, "exec", fake_exec)


def _record(monkeypatch, name: str, answer=None) -> list[str]:
    shown: list[str] = []

    def fake(parent, title, text, *args, **kwargs):
        shown.append(text)
        return answer

    monkeypatch.setattr(QMessageBox, name, staticmethod(fake))
    return shown


def test_run_export_dialog_end_to_end(qtbot, monkeypatch, scene) -> None:
    source, layer, out = scene
    _accept_with(monkeypatch, ExportFormat.GEOJSON, out / "fp.geojson")
    errors = _record(monkeypatch, "critical")
    assert run_export_dialog(None, layer, source) == out / "fp.geojson"
    assert errors == []
    assert _areas(out / "fp.geojson") == pytest.approx(AREAS_M2, rel=0.02)


def test_run_export_dialog_shows_errors(qtbot, monkeypatch, scene) -> None:
    source, layer, out = scene
    _accept_with(monkeypatch, ExportFormat.MASK_255, out / "gone" / "mask.tif")
    errors = _record(monkeypatch, "critical")
    assert run_export_dialog(None, layer, source) is None
    assert len(errors) == 1 and "gone" in errors[0]


def test_scene_without_crs_asks_first(qtbot, monkeypatch, tmp_path: Path) -> None:
    image = write_scene(tmp_path / "nocrs.tif", crs=None)
    with RasterSource.open(image) as source, labelled_layer(image, tmp_path / "l.tif") as layer:
        _accept_with(monkeypatch, ExportFormat.GPKG, tmp_path / "fp.gpkg")
        asked = _record(monkeypatch, "warning", QMessageBox.StandardButton.Cancel)
        assert run_export_dialog(None, layer, source) is None
        assert "no CRS" in asked[0] and not (tmp_path / "fp.gpkg").exists()
        _record(monkeypatch, "warning", QMessageBox.StandardButton.Ok)
        assert run_export_dialog(None, layer, source) == tmp_path / "fp.gpkg"
    meta, _, wkb, _ = pyogrio.raw.read(tmp_path / "fp.gpkg")
    assert meta["crs"] is None and len(wkb) == 2


def test_dialog_builds_the_request(qtbot, monkeypatch, scene) -> None:
    source, _, out = scene
    tile = Window(0, 0, 64, 64)
    dialog = ExportDialog(source, tile)
    qtbot.addWidget(dialog)
    assert dialog.output.text().endswith("scene_buildings.tif")
    assert not dialog.simplify.isEnabled()
    dialog.format.setCurrentIndex(list(ExportFormat).index(ExportFormat.SHAPEFILE))
    assert dialog.output.text().endswith("scene_footprints.shp") and dialog.simplify.isEnabled()
    assert dialog.simplify.suffix() == " m" and dialog.simplify.value() == pytest.approx(0.3)
    dialog.output.setText(str(out / "mine.shp"))
    dialog.format.setCurrentIndex(list(ExportFormat).index(ExportFormat.GPKG))
    assert dialog.output.text() == str(out / "mine.gpkg")  # a typed name keeps its stem
    dialog.format.setCurrentIndex(list(ExportFormat).index(ExportFormat.SHAPEFILE))
    dialog.regularize.setChecked(True)
    dialog.current_tile.setChecked(True)
    request = dialog.request()
    assert (request.format, request.window, request.regularize) == (
        ExportFormat.SHAPEFILE, tile, True,
    )  # fmt: skip
    errors = _record(monkeypatch, "critical")
    dialog.output.setText(str(out / "missing" / "fp.shp"))
    dialog.accept()
    assert dialog.result() != QDialog.DialogCode.Accepted and "does not exist" in errors[0]
    dialog.output.setText(str(out / "fp.shp"))
    dialog.accept()
    assert dialog.result() == QDialog.DialogCode.Accepted


def test_simplify_tolerance_in_degrees_for_a_geographic_scene(qtbot, tmp_path: Path) -> None:
    pixel = 2.7e-6  # about 0.3 m in degrees
    lonlat = Affine(pixel, 0, 16.37, 0, -pixel, 48.21)
    image = write_scene(tmp_path / "wgs84.tif", crs=CRS.from_epsg(4326), transform=lonlat)
    with RasterSource.open(image) as source:
        dialog = ExportDialog(source, None)
        qtbot.addWidget(dialog)
        assert dialog.simplify.suffix() == " °"
        assert dialog.simplify.value() == pytest.approx(pixel, rel=0.05)


def test_dialog_without_current_tile(qtbot, scene) -> None:
    source, _, _ = scene
    dialog = ExportDialog(source, None)
    qtbot.addWidget(dialog)
    assert not dialog.current_tile.isEnabled() and dialog.request().window is None


def test_label_layer_edits_are_exported_unsaved(scene) -> None:
    _, layer, out = scene
    assert layer.dirty
    outcome = run_export(ExportRequest(ExportFormat.GPKG, out / "fp.gpkg"), layer)
    assert outcome.features == 2
    assert isinstance(layer, LabelLayer)


def test_the_dialog_remembers_the_last_format_and_folder(qtbot, monkeypatch, scene) -> None:
    source, layer, out = scene
    settings = redirected_settings(out.parent)
    fresh = ExportDialog(source, None)
    assert fresh.chosen_format() is ExportFormat.MASK_255
    assert Path(fresh.output.text()) == source.path.with_name("scene_buildings.tif")
    _accept_with(monkeypatch, ExportFormat.GPKG, out / "fp.gpkg")
    assert run_export_dialog(None, layer, source, settings=settings) == out / "fp.gpkg"
    assert settings.export_format is ExportFormat.GPKG and settings.export_folder == out
    again = ExportDialog(source, None, None, settings.export_format, settings.export_folder)
    assert again.chosen_format() is ExportFormat.GPKG
    assert Path(again.output.text()) == out / "scene_footprints.gpkg"
