"""isegsat-prelabel on a full disk and into a read-only folder: one clear message, no final
file, and after a full disk the rerun resumes and gives the same mask."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from fakes.models import BrightContext
from fakes.rasters import aerial_like, write_raster

from isegsat.app import prelabel_cli
from isegsat.app.prelabel import PrelabelError, prelabel_scene, state_folder
from isegsat.inference.segmenter import predict_without_clicks

NO_SPACE = "No space left on device"
SETTINGS = {"tile": 96, "overlap": 16}


@pytest.fixture
def image(tmp_path: Path) -> Path:
    """A 200 x 180 RGB GeoTIFF outside the disk under test (3 x 3 windows of 96 px)."""
    return write_raster(tmp_path / "image.tif", aerial_like(180, 200, seed=1))


def _segment(model, fill=None):
    def segment(rgb):
        if fill is not None and model.calls == 4:  # in the second row of windows
            fill()
        return predict_without_clicks(model, rgb, torch.device("cpu"))

    return segment


def test_a_disk_filling_up_mid_run_stops_it_and_the_rerun_resumes(
    real_full_disk_4m, image: Path, tmp_path: Path
):
    disk = real_full_disk_4m
    reference = tmp_path / "reference.tif"
    prelabel_scene(image, reference, _segment(BrightContext().eval()), **SETTINGS)

    out = disk.path / "draft.tif"
    model = BrightContext().eval()
    with pytest.raises(PrelabelError, match=rf"cannot write .*: {NO_SPACE}"):
        prelabel_scene(image, out, _segment(model, fill=disk.fill), **SETTINGS)
    assert not out.exists()
    assert not [p for p in disk.path.rglob("*") if ".tmp" in p.name]
    disk.release()
    model.calls = 0
    result = prelabel_scene(image, out, _segment(model), **SETTINGS)
    assert result.resumed and result.windows_run == model.calls == 6
    with rasterio.open(out) as draft, rasterio.open(reference) as expected:
        np.testing.assert_array_equal(draft.read(), expected.read())
    assert disk.files() == ["draft.tif"] and not state_folder(out).exists()


def test_a_full_disk_at_the_start_is_reported(real_full_disk, image: Path):
    disk = real_full_disk
    disk.fill()
    with pytest.raises(PrelabelError, match=NO_SPACE):
        prelabel_scene(image, disk.path / "draft.tif", _segment(BrightContext().eval()))
    assert not (disk.path / "draft.tif").exists()


def test_a_read_only_folder_is_refused_before_the_model_loads(read_only_dir, image, capsys):
    folder = read_only_dir.seal()
    argv = [str(image), "--out", str(folder / "draft.tif"), "--weights", "none.pth", "--quiet"]
    assert prelabel_cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("isegsat-prelabel: error: ") and err.count("\n") == 1
    assert "not writable" in err and str(folder) in err
    assert list(folder.iterdir()) == []


@pytest.fixture
def real_full_disk_4m(make_disk):
    """A real 4 MiB tmpfs (room for the run's state until `fill()`); skipped where mounting is
    not permitted."""
    disk = make_disk("4m")
    disk.require_real()
    return disk
