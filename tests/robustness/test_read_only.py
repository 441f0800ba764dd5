"""A read-only target folder (a read-only mount: root ignores permission bits): exports,
checkpoints, label layers and isegsat-prepare say so clearly and change nothing there."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from fakes.rasters import buildings_mask
from fakes.scenes import write_scene_raster

from isegsat.app.geo import ExportError, LabelLayer, RasterError
from isegsat.app.geo.export import export_footprints, export_mask_geotiff
from isegsat.app.geo.export_cli import main as export_cli
from isegsat.inference import build_model, load_checkpoint, save_checkpoint
from isegsat.resources.synth import write_inria_layout
from isegsat.training import prepare as prepare_cli
from isegsat.training import train_cli


@pytest.fixture
def mask(tmp_path: Path) -> Path:
    return write_scene_raster(tmp_path / "mask.tif", buildings_mask())


@pytest.mark.parametrize("name", ["out.tif", "out.gpkg", "out.shp", "out.geojson"])
def test_exports_into_a_read_only_folder_are_refused(read_only_dir, mask: Path, name: str):
    folder = read_only_dir.seal()
    export = export_mask_geotiff if name.endswith(".tif") else export_footprints
    with pytest.raises(ExportError, match=rf"{name}: output directory is not writable: {folder}"):
        export(mask, folder / name)
    assert list(folder.iterdir()) == []


def test_export_cli_into_a_read_only_folder_exits_with_one_line(read_only_dir, mask, capsys):
    folder = read_only_dir.seal()
    assert export_cli([str(mask), "--to", str(folder / "out.gpkg")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("isegsat-export: error: ") and err.count("\n") == 1
    assert "not writable" in err


def test_a_checkpoint_save_into_a_read_only_folder_keeps_the_previous_one(read_only_dir):
    torch.manual_seed(0)
    model = build_model("hrnet18s")
    path = save_checkpoint(model, read_only_dir.path / "model.pth", {"epoch": 1})
    before = path.read_bytes()
    read_only_dir.seal()
    with pytest.raises(OSError, match=r"cannot write checkpoint .*model\.pth: Read-only file sys"):
        save_checkpoint(model, path, {"epoch": 2})
    assert path.read_bytes() == before and load_checkpoint(path)[1]["epoch"] == 1
    assert [p.name for p in read_only_dir.path.iterdir()] == ["model.pth"]


def test_label_layers_in_a_read_only_folder_are_refused_clearly(read_only_dir, mask: Path):
    LabelLayer.create(read_only_dir.path / "labels.tif", mask).close()
    folder = read_only_dir.seal()
    with pytest.raises(RasterError, match=r"cannot create label layer .*new\.tif: .*not writable"):
        LabelLayer.create(folder / "new.tif", mask)
    with pytest.raises(RasterError, match=r"edit journal .*labels\.tif.*writable directory"):
        LabelLayer.open(folder / "labels.tif")
    with pytest.raises(RasterError, match=r"cannot convert mask .*not writable"):
        LabelLayer.from_mask(mask, mask, folder / "from_mask.tif")
    assert [p.name for p in folder.iterdir()] == ["labels.tif"]


def test_prepare_into_a_read_only_folder_exits_with_one_line(read_only_dir, tmp_path, capsys):
    root = tmp_path / "inria"
    write_inria_layout(root, tiles_per_city=1, size=96, seed=0, cities=("kitsap",))
    folder = read_only_dir.seal()
    capsys.readouterr()
    argv = ["--inria", str(root), "--out", str(folder / "prepared"), "--crop", "96"]
    assert prepare_cli.main([*argv, "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("isegsat-prepare: error: ") and err.count("\n") == 1
    assert "Read-only file system" in err and "prepared" in err


def test_train_into_a_read_only_folder_exits_with_one_line(read_only_dir, tmp_path, capsys):
    root = tmp_path / "inria"
    write_inria_layout(root, tiles_per_city=6, size=96, seed=2, cities=("tyrol-w",))
    prepared = tmp_path / "prepared"
    assert prepare_cli.main(["--inria", str(root), "--out", str(prepared), "--crop", "96"]) == 0
    folder = read_only_dir.seal()
    capsys.readouterr()
    argv = ["--data", str(prepared), "--out", str(folder / "run"), "--preset", "scratch"]
    assert train_cli.main([*argv, "--device", "cpu", "--workers", "0", "--max-iters", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("isegsat-train: error: "), err
    assert "Read-only file system" in err[0] and "run" in err[0]
