"""Corrupt and non-raster files given to the command-line tools: exit code != 0, one line naming
the file, no traceback, no output. (RasterSource/LabelLayer on such files: tests/geo.)"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fakes.rasters import REAL_RASTERS, buildings_mask
from fakes.scenes import write_scene_raster

from isegsat.app.geo.export_cli import main as export_cli
from isegsat.training import prepare as prepare_cli

BAD_KINDS = ("text", "truncated", "header_only", "corrupt_cog")


def bad_raster(kind: str, folder: Path, real_rasters_dir: Path | None, name: str) -> Path:
    """A file named like a GeoTIFF that is none, or a damaged one, at `folder / name`."""
    path = folder / name
    if kind == "text":
        path.write_text("this is a text file named .tif\n")
        return path
    if kind == "corrupt_cog":
        if real_rasters_dir is None:
            pytest.skip("shared/data/real_rasters is not beside the checkout")
        shutil.copyfile(real_rasters_dir / "corrupt.tif", path)  # opens, fails on reading
        return path
    good = write_scene_raster(folder / f"good_{name}", buildings_mask(256, 256))
    data = good.read_bytes()
    good.unlink()
    path.write_bytes(data[: len(data) // 2] if kind == "truncated" else data[:16])
    return path


@pytest.fixture
def real_rasters_dir() -> Path | None:
    """shared/data/real_rasters, or None (only the corrupt COG case needs it, and skips)."""
    return REAL_RASTERS if REAL_RASTERS.is_dir() else None


def one_line_error(err: str, prog: str, name: str) -> None:
    assert err.startswith(f"{prog}: error: "), err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert name in err, err


@pytest.mark.parametrize("kind", BAD_KINDS)
@pytest.mark.parametrize("suffix", [".gpkg", ".tif"])
def test_export_cli_refuses_a_bad_mask(tmp_path, capsys, real_rasters_dir, kind, suffix):
    bad = bad_raster(kind, tmp_path, real_rasters_dir, f"{kind}.tif")
    out = tmp_path / f"out{suffix}"
    assert export_cli([str(bad), "--to", str(out)]) == 1
    one_line_error(capsys.readouterr().err, "isegsat-export", bad.name)
    assert sorted(p.name for p in tmp_path.iterdir()) == [bad.name]


@pytest.mark.parametrize(
    ("kind", "which"),
    [(kind, "image") for kind in BAD_KINDS] + [(kind, "mask") for kind in BAD_KINDS[:-1]],
)
def test_prepare_refuses_a_bad_tile(tmp_path, capsys, real_rasters_dir, kind, which):
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    size = 1024 if kind == "corrupt_cog" else 256  # the pair has the corrupt COG's size
    rgb = np.stack([buildings_mask(size, size, seed) for seed in range(3)])
    write_scene_raster(images / "good.tif", rgb)
    write_scene_raster(masks / "good.tif", buildings_mask(size, size))
    bad_folder, good_folder = (images, masks) if which == "image" else (masks, images)
    bad_raster(kind, bad_folder, real_rasters_dir, "tile7.tif")
    good_partner = rgb if which == "image" else buildings_mask(size, size)
    write_scene_raster(good_folder / "tile7.tif", good_partner)
    out = tmp_path / "prepared"
    argv = ["--pairs", str(images), str(masks), "--city", "vienna", "--out", str(out)]
    capsys.readouterr()
    assert prepare_cli.main([*argv, "--crop", "128", "--workers", "1"]) == 2
    one_line_error(capsys.readouterr().err, "isegsat-prepare", "tile7.tif")
    assert not (out / "manifest.csv").exists()
    assert not list(out.rglob("*.tmp*"))


@pytest.mark.parametrize(
    ("module", "args", "code"),
    [
        ("isegsat.app.geo.export_cli", ["{bad}", "--to", "{out}/x.gpkg"], 1),
        ("isegsat.app.prelabel_cli", ["{bad}", "--out", "{out}/draft.tif"], 2),
        (
            "isegsat.training.prepare",
            ["--pairs", "{dir}", "{dir}", "--city", "a", "--out", "{out}"],
            2,
        ),
    ],
)
def test_console_scripts_exit_without_a_traceback(tmp_path, module, args, code):
    """The real processes (as run by the `isegsat-export` / `isegsat-prelabel` /
    `isegsat-prepare` scripts)."""
    folder = tmp_path / "tiles"
    folder.mkdir()
    bad = bad_raster("truncated", folder, None, "tile1.tif")
    values = {"bad": bad, "out": tmp_path, "dir": folder}
    argv = [a.format(**values) for a in args]
    run = subprocess.run(
        [sys.executable, "-m", module, *argv], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == code
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "error: " in lines[0] and "tile1.tif" in lines[0], run.stderr
