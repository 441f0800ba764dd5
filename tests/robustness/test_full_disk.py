"""A full disk: label edits, label saves, exports, checkpoints and isegsat-prepare fail with a
message saying so, leave no partial file, and lose no accepted annotation edit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from fakes.rasters import buildings_mask, noisy_mask
from fakes.scenes import write_scene_raster
from rasterio.windows import Window

from isegsat.app.geo import ExportError, LabelLayer, RasterError
from isegsat.app.geo.export import export_footprints, export_mask_geotiff
from isegsat.inference import build_model, load_checkpoint, save_checkpoint
from isegsat.resources.synth import write_inria_layout
from isegsat.training import prepare as prepare_cli

SIZE = 256
FULL = Window(0, 0, SIZE, SIZE)
NO_SPACE = "No space left on device"


@pytest.fixture
def image(tmp_path: Path) -> Path:
    """256 x 256 RGB GeoTIFF (UTM 33N, 0.3 m) outside the full disk."""
    rgb = np.random.default_rng(0).integers(60, 200, (3, SIZE, SIZE), dtype=np.uint8)
    return write_scene_raster(tmp_path / "image.tif", rgb)


def test_a_label_edit_on_a_full_disk_is_refused_and_no_accepted_edit_is_lost(
    full_disk_dir, image: Path
) -> None:
    disk = full_disk_dir
    layer = LabelLayer.create(disk.path / "labels.tif", image)
    saved, journaled, late = (
        noisy_mask(SIZE, SIZE, 1),
        noisy_mask(128, 128, 2),
        noisy_mask(64, 64, 3),
    )
    layer.write(FULL, saved)
    layer.flush()
    layer.write(Window(0, 0, 128, 128), journaled)
    expected = saved.copy()
    expected[:128, :128] = journaled

    disk.fill()
    with pytest.raises(RasterError, match=rf"labels\.tif\.journal .*{NO_SPACE}.*not applied"):
        layer.write(FULL, noisy_mask(SIZE, SIZE, 9))
    with pytest.raises(RasterError, match=NO_SPACE):
        layer.undo()  # an undo is an edit too
    assert np.array_equal(layer.read(FULL), expected)  # the refused edits changed nothing

    disk.release()  # once there is space, history and journal go on where they were
    assert layer.undo() == Window(0, 0, 128, 128)
    assert layer.redo() == Window(0, 0, 128, 128)
    layer.write(Window(128, 128, 64, 64), late)
    expected[128:192, 128:192] = late
    layer.close()  # no flush: as after a crash
    with LabelLayer.open(disk.path / "labels.tif") as recovered:
        assert recovered.recovered_edits == 4  # journaled, undo, redo, late
        assert np.array_equal(recovered.read(FULL), expected)


def test_a_group_write_on_a_full_disk_changes_no_window(full_disk_dir, image: Path) -> None:
    layer = LabelLayer.create(full_disk_dir.path / "labels.tif", image)
    before = noisy_mask(SIZE, SIZE, 4)
    layer.write(FULL, before)
    full_disk_dir.fill()
    draft = [
        (Window(0, 0, 128, 128), noisy_mask(128, 128, 5)),
        (Window(128, 128, 128, 128), noisy_mask(128, 128, 6)),
    ]
    with pytest.raises(RasterError, match=NO_SPACE):
        layer.write_group(draft)
    assert np.array_equal(layer.read(FULL), before)  # all or nothing
    full_disk_dir.release()
    layer.close()


def _flush(layer: LabelLayer) -> None:
    layer.flush()


def _save_on_the_save_thread(layer: LabelLayer) -> None:
    layer.save_in_background().result(timeout=20)  # raises the save's RasterError


@pytest.mark.parametrize("save", [_flush, _save_on_the_save_thread], ids=["flush", "save-thread"])
def test_a_label_save_on_a_full_disk_keeps_the_saved_file_and_the_journal(
    full_disk_dir, image: Path, save
) -> None:
    disk = full_disk_dir
    path = disk.path / "labels.tif"
    layer = LabelLayer.create(path, image)
    layer.write(FULL, noisy_mask(SIZE, SIZE, 1))
    layer.flush()
    saved_bytes, saved = path.read_bytes(), layer.read(FULL)
    edit = noisy_mask(SIZE, SIZE, 2)
    layer.write(FULL, edit)

    disk.fill()
    with pytest.raises(RasterError, match=rf"cannot save label layer .*labels\.tif.*{NO_SPACE}"):
        save(layer)
    assert path.read_bytes() == saved_bytes
    with rasterio.open(path) as ds:
        assert np.array_equal(ds.read(1) > 0, saved > 0)
    assert disk.files() == ["labels.tif", "labels.tif.journal"]  # no temporary left
    assert layer.dirty and np.array_equal(layer.read(FULL), edit)
    assert LabelLayer.has_unsaved_recovery(path)

    disk.release()
    late = noisy_mask(64, 64, 3)
    layer.write(Window(0, 0, 64, 64), late)  # edits go on after the failed save
    edit[:64, :64] = late
    layer.close()  # no save: as after a crash, the journal has both edits
    with LabelLayer.open(path) as recovered:
        assert recovered.recovered_edits == 2
        assert np.array_equal(recovered.read(FULL), edit)
        save(recovered)
    assert disk.files() == ["labels.tif"]
    with LabelLayer.open(path) as reopened:
        assert np.array_equal(reopened.read(FULL), edit)


@pytest.mark.parametrize("name", ["mask.tif", "footprints.gpkg", "footprints.shp", "fp.geojson"])
def test_an_export_to_a_full_disk_raises_export_error_and_leaves_nothing(
    real_full_disk, tmp_path: Path, name: str
) -> None:
    disk = real_full_disk
    mask = write_scene_raster(tmp_path / "mask.tif", buildings_mask())
    disk.fill()
    export = export_mask_geotiff if name.endswith(".tif") else export_footprints
    with pytest.raises(ExportError, match=rf"cannot write .*{name}: .*{NO_SPACE}") as caught:
        export(mask, disk.path / name)
    assert len(str(caught.value)) < 400  # OGR's SQL script is not quoted whole
    assert disk.files() == []


def test_a_mask_export_fails_when_only_fsync_reports_the_full_disk(
    make_disk, tmp_path: Path
) -> None:
    """The data reached the page cache but cannot be made durable (the fixture's simulation)."""
    disk = make_disk(simulated=True)
    mask = write_scene_raster(tmp_path / "mask.tif", buildings_mask())
    disk.fill()
    with pytest.raises(ExportError, match=NO_SPACE):
        export_mask_geotiff(mask, disk.path / "out.tif")
    assert disk.files() == []


def test_a_checkpoint_save_on_a_full_disk_keeps_the_previous_checkpoint(make_disk) -> None:
    disk = make_disk("24m")  # one HRNet18s checkpoint is ~17 MB
    torch.manual_seed(0)
    model = build_model("hrnet18s")
    path = save_checkpoint(model, disk.path / "model.pth", {"epoch": 1})
    before = path.read_bytes()
    disk.fill()
    with pytest.raises(OSError, match=rf"cannot write checkpoint .*model\.pth: {NO_SPACE}"):
        save_checkpoint(model, path, {"epoch": 2})
    assert path.read_bytes() == before
    assert disk.files() == ["model.pth"]
    disk.release()
    assert load_checkpoint(path)[1]["epoch"] == 1


def test_prepare_to_a_full_disk_exits_with_a_one_line_error(
    real_full_disk, tmp_path: Path, capsys
) -> None:
    disk = real_full_disk
    root = tmp_path / "inria"
    write_inria_layout(root, tiles_per_city=1, size=192, seed=0, cities=("austin",))
    capsys.readouterr()  # the generator's progress bar
    disk.fill()
    argv = ["--inria", str(root), "--out", str(disk.path / "prepared"), "--crop", "96"]
    assert prepare_cli.main([*argv, "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("isegsat-prepare: error: ") and err.count("\n") == 1
    assert NO_SPACE in err and str(disk.path) in err
    assert not list((disk.path / "prepared").rglob("*.tmp*"))
    disk.release()
    assert prepare_cli.main([*argv, "--workers", "1"]) == 0  # resumes once there is space
    assert len((disk.path / "prepared" / "manifest.csv").read_text().splitlines()) == 1 + 4
