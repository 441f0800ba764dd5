"""isegsat-prelabel: window layout, seam-free blending, the draft on the image grid, resume after
an interruption, memory independent of the scene's height, and the command line's errors."""

from __future__ import annotations

import errno
import json
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from fakes.models import BrightContext
from fakes.rasters import read_band, write_raster
from scipy import ndimage

from isegsat.app import prelabel_cli
from isegsat.app.geo import Cancelled, LabelLayer, RasterSource
from isegsat.app.prelabel import (
    PrelabelError,
    TileLayout,
    _Run,
    blend_weights,
    prelabel_scene,
    state_folder,
    window_offsets,
)
from isegsat.inference import build_model, save_checkpoint
from isegsat.inference.segmenter import predict_without_clicks

CPU = torch.device("cpu")
HEIGHT, WIDTH = 260, 300
# (row, col, height, width); the first crosses x = 128, the border of plain 128 px tiles
BUILDINGS = ((40, 110, 24, 40), (150, 30, 30, 30), (180, 200, 40, 60))


def _scene(path: Path, height: int = HEIGHT, width: int = WIDTH) -> Path:
    rng = np.random.default_rng(0)
    rgb = (40 + rng.integers(0, 20, size=(3, height, width))).astype(np.uint8)
    for row, col, h, w in BUILDINGS:
        rgb[:, row : row + h, col : col + w] = 215  # clipped on a smaller scene
    return write_raster(path, rgb, block=64)


def _segment(model: torch.nn.Module):
    return lambda rgb: predict_without_clicks(model, rgb, CPU)


@pytest.fixture
def scene(tmp_path: Path) -> Path:
    return _scene(tmp_path / "scene.tif")


@pytest.fixture(scope="module")
def baseline_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-init HRNet18s saved as `isegsat-train --preset baseline` saves (no clicks)."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "baseline_random.pth"
    save_checkpoint(build_model("hrnet18s"), path, {"interactive": False, "preset": "baseline"})
    return path


def test_windows_cover_the_raster_with_the_overlap_and_weights_sum_to_one():
    for length, tile, overlap in [(300, 128, 32), (1000, 512, 64), (961, 512, 64), (520, 512, 64)]:
        offsets = window_offsets(length, tile, overlap)
        assert offsets[0] == 0 and offsets[-1] + tile == length
        assert all(b - a <= tile - overlap for a, b in zip(offsets, offsets[1:], strict=False))
        total = np.zeros(length)
        for offset, weight in zip(
            offsets, blend_weights(offsets, tile, length, overlap), strict=True
        ):
            assert weight.min() > 0
            total[offset : offset + tile] += weight
        np.testing.assert_allclose(total, 1.0, atol=1e-6)
    small = TileLayout(100, 40, tile=512, overlap=64)  # smaller than one tile: one window
    assert small.count == 1 and small.window(0, 0).width == 100 and small.window(0, 0).height == 40
    with pytest.raises(ValueError, match="half the tile"):
        TileLayout(300, 300, tile=128, overlap=65)


def test_a_building_across_a_window_border_comes_out_whole(scene: Path, tmp_path: Path):
    model = BrightContext().eval()
    with RasterSource.open(scene) as source:
        image = source.read_full_res_rgb(source.grid.full_window)
    whole = predict_without_clicks(model, image, CPU) > 0.49
    # plain 128 px tiles: the model sees black past each tile's edge and cuts the building
    naive = np.zeros_like(whole)
    for row in range(0, HEIGHT, 128):
        for col in range(0, WIDTH, 128):
            tile = image[row : row + 128, col : col + 128]
            naive[row : row + 128, col : col + 128] = (
                predict_without_clicks(model, tile, CPU) > 0.49
            )
    crossing = (slice(30, 75), slice(100, 160))
    assert ndimage.label(whole[crossing])[1] == 1
    assert ndimage.label(naive[crossing])[1] == 2, "the fake model must show a seam when naive"

    out = tmp_path / "draft.tif"
    result = prelabel_scene(scene, out, _segment(model), tile=128, overlap=32)
    draft = read_band(out) > 0
    assert result.windows == 9 and not result.resumed
    assert ndimage.label(draft[crossing])[1] == 1
    assert ndimage.label(draft)[1] == ndimage.label(whole)[1] == len(BUILDINGS)
    # the same mask as one pass over the whole scene, but for a few pixels on the outlines
    # (the box filter rounds corners, where a change of 0.02 in probability flips a pixel)
    differ = draft != whole
    outline = ndimage.binary_dilation(whole, iterations=2) & ~ndimage.binary_erosion(
        whole, iterations=2
    )
    assert not (differ & ~outline).any()
    assert np.count_nonzero(draft & whole) / np.count_nonzero(draft | whole) > 0.98


def test_the_draft_is_a_label_on_the_image_grid(scene: Path, tmp_path: Path):
    out = tmp_path / "draft.tif"
    prelabel_scene(scene, out, _segment(BrightContext().eval()), tile=128, overlap=32)
    with rasterio.open(scene) as image, rasterio.open(out) as draft:
        assert (draft.width, draft.height, draft.crs, draft.transform) == (
            image.width,
            image.height,
            image.crs,
            image.transform,
        )
        assert draft.count == 1 and draft.dtypes[0] == "uint8"
        assert set(np.unique(draft.read(1))) == {0, 255}
    assert not state_folder(out).exists()
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]
    with RasterSource.open(scene) as source:  # what `isegsat IMAGE --mask DRAFT.tif` does
        labels = tmp_path / "scene_labels.tif"
        with LabelLayer.from_mask(out, like=source, path=labels) as layer:
            assert layer.read(layer.grid.full_window).sum() == np.count_nonzero(read_band(out))


def test_an_interrupted_run_resumes_where_it_stopped(scene: Path, tmp_path: Path):
    reference = tmp_path / "reference.tif"
    prelabel_scene(scene, reference, _segment(BrightContext().eval()), tile=128, overlap=32)

    out = tmp_path / "draft.tif"
    model = BrightContext().eval()
    with pytest.raises(Cancelled):  # stop in the middle of the second row of windows
        prelabel_scene(
            scene, out, _segment(model), tile=128, overlap=32, cancel=lambda: model.calls >= 5
        )
    state = json.loads((state_folder(out) / "state.json").read_text())
    assert state["rows_done"] == 1 and state["windows_done"] == 3 and not out.exists()

    def interrupt(rgb):  # Ctrl-C during the third row
        if model.calls >= 4:
            raise KeyboardInterrupt
        return predict_without_clicks(model, rgb, CPU)

    model.calls = 0
    with pytest.raises(KeyboardInterrupt):
        prelabel_scene(scene, out, interrupt, tile=128, overlap=32)
    assert json.loads((state_folder(out) / "state.json").read_text())["rows_done"] == 2

    with pytest.raises(PrelabelError, match="other settings.*--restart"):
        prelabel_scene(scene, out, _segment(model), tile=128, overlap=16)
    model.calls = 0
    result = prelabel_scene(scene, out, _segment(model), tile=128, overlap=32)
    assert result.resumed and result.windows_run == model.calls == 3
    np.testing.assert_array_equal(read_band(out), read_band(reference))
    assert not state_folder(out).exists()


def test_restart_discards_an_unfinished_run(scene: Path, tmp_path: Path):
    out = tmp_path / "draft.tif"
    model = BrightContext().eval()
    with pytest.raises(Cancelled):
        prelabel_scene(
            scene, out, _segment(model), tile=128, overlap=32, cancel=lambda: model.calls >= 4
        )
    model.calls = 0
    result = prelabel_scene(scene, out, _segment(model), tile=128, overlap=16, restart=True)
    assert not result.resumed and result.windows_run == model.calls == result.windows


def test_memory_does_not_grow_with_the_scene_height(tmp_path: Path):
    model = BrightContext(reach=2).eval()

    def peak(height: int) -> int:
        path = write_raster(tmp_path / f"s{height}.tif", np.zeros((3, height, 128), np.uint8))
        tracemalloc.start()
        prelabel_scene(path, tmp_path / f"d{height}.tif", _segment(model), tile=64, overlap=16)
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    # 63 and 255 windows: 4x the pixels, the same memory (one row of windows, the read cache)
    short, tall = peak(1024), peak(4096)
    assert tall < 1.5 * short, (short, tall)


def test_a_full_disk_is_reported_and_the_run_can_resume(scene: Path, tmp_path: Path, monkeypatch):
    def full(self, rows):
        raise OSError(errno.ENOSPC, "No space left on device")

    out = tmp_path / "draft.tif"
    with monkeypatch.context() as patch:
        patch.setattr(_Run, "_write_rows", full)
        with pytest.raises(PrelabelError, match="No space left on device"):
            prelabel_scene(scene, out, _segment(BrightContext().eval()), tile=128, overlap=32)
    assert not out.exists()
    assert prelabel_scene(scene, out, _segment(BrightContext().eval()), tile=128, overlap=32)


# ----------------------------------------------------------------------------- command line


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    code = prelabel_cli.main([*map(str, args), "--quiet"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_command_writes_a_draft_with_a_baseline_checkpoint(
    baseline_checkpoint, tmp_path, capsys
):
    scene = _scene(tmp_path / "small.tif", height=96, width=160)  # two windows of 96 px
    out = tmp_path / "draft.tif"
    code, stdout, _ = _cli(
        capsys, scene, "--out", out, "--weights", baseline_checkpoint, "--device", "cpu",
        "--tile", "96", "--overlap", "16",
    )  # fmt: skip
    assert code == 0 and "2 windows" in stdout and f"--mask {out}" in stdout
    with rasterio.open(out) as draft:
        assert (draft.width, draft.height) == (160, 96)
        assert set(np.unique(draft.read(1))) <= {0, 255}


def _one_line_error(code: int, stderr: str, *needles: str) -> None:
    assert code == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("isegsat-prelabel: error: "), stderr
    assert "Traceback" not in stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_the_command_refuses_bad_input_in_one_line(
    scene, hrnet_checkpoint, baseline_checkpoint, tmp_path, capsys
):
    text = tmp_path / "notes.tif"
    text.write_text("not a raster")
    out = tmp_path / "draft.tif"
    weights = ("--weights", baseline_checkpoint)
    _one_line_error(*_cli(capsys, text, "--out", out, *weights)[::2], "notes.tif")
    _one_line_error(
        *_cli(capsys, scene, "--out", out, "--weights", hrnet_checkpoint)[::2], "--preset baseline"
    )
    _one_line_error(
        *_cli(capsys, scene, "--out", tmp_path / "missing" / "d.tif", *weights)[::2],
        "does not exist",
    )
    _one_line_error(*_cli(capsys, scene, "--out", tmp_path / "d.png", *weights)[::2], ".tif")
    _one_line_error(
        *_cli(capsys, scene, "--out", out, "--overlap", "100", "--tile", "128", *weights)[::2],
        "overlap",
    )
    _one_line_error(
        *_cli(capsys, scene, "--out", out, "--weights", tmp_path / "no.pth")[::2], "no.pth"
    )
    assert not out.exists()


def test_pixels_without_data_are_background(tmp_path: Path):
    rgb = np.full((3, 100, 120), 200, np.uint8)
    rgb[:, :, :30] = 0  # nodata = 0: the left strip holds no data
    scene = write_raster(tmp_path / "nodata.tif", rgb, nodata=0)
    out = tmp_path / "draft.tif"
    prelabel_scene(scene, out, lambda rgb: np.ones(rgb.shape[:2]), tile=64, overlap=16)
    draft = read_band(out)
    assert not draft[:, :30].any() and (draft[:, 30:] == 255).all()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_the_command_refuses_cuda_where_there_is_none(scene, baseline_checkpoint, tmp_path, capsys):
    out = tmp_path / "draft.tif"
    result = _cli(capsys, scene, "--out", out, "--weights", baseline_checkpoint, "--device", "cuda")
    _one_line_error(*result[::2], "CUDA")


def test_the_benchmark_prints_windows_seconds_and_peak_rss(capfd):
    from isegsat.app.tools import prelabel_bench

    assert prelabel_bench.main(["--sizes", "700"]) == 0
    out = capfd.readouterr().out
    assert "700²" in out and "4 windows" in out and "peak RSS" in out
