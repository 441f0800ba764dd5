"""LabelLayer: grid, window edits, undo/redo, journal crash recovery, import of existing masks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from fakes.rasters import WGS84_CRS, WGS84_TRANSFORM, write_raster
from rasterio.transform import from_origin
from rasterio.windows import Window

from isegsat.app.geo import GridMismatchError, LabelLayer, RasterError, RasterSource
from isegsat.app.geo.journal import journal_path

FULL = Window(0, 0, 240, 200)


def _roof(height: int, width: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mask = np.zeros((height, width), np.uint8)
    r, c = rng.integers(0, height // 2), rng.integers(0, width // 2)
    mask[r : r + height // 3, c : c + width // 3] = 1
    return mask


def test_created_layer_is_an_empty_tiled_geotiff_on_the_image_grid(rgb_utm: Path) -> None:
    label_path = LabelLayer.default_path(rgb_utm)
    assert label_path.name == "rgb_utm_labels.tif"
    with RasterSource.open(rgb_utm) as image, LabelLayer.create(label_path, image) as layer:
        assert layer.grid == image.grid
        assert layer.read(FULL).sum() == 0 and layer.read(FULL).dtype == np.uint8
    with rasterio.open(label_path) as ds, rasterio.open(rgb_utm) as img:
        assert (ds.crs, ds.transform, ds.width, ds.height) == (
            img.crs,
            img.transform,
            img.width,
            img.height,
        )
        assert ds.profile["tiled"] and ds.profile["compress"] == "deflate"
        assert ds.block_shapes[0] == (512, 512)


def test_write_read_undo_redo_and_flush(tmp_path: Path, rgb_utm: Path) -> None:
    layer = LabelLayer.create(tmp_path / "labels.tif", rgb_utm)
    first, second = _roof(80, 90, 1), _roof(80, 90, 2)
    assert layer.write(Window(100, 60, 90, 80), first * 255) == Window(100, 60, 90, 80)
    layer.write(Window(130, 100, 90, 80), second)
    both = layer.read(FULL)
    assert set(np.unique(both)) <= {0, 1}
    np.testing.assert_array_equal(layer.read(Window(130, 100, 90, 80)), second)
    assert layer.undo() == Window(130, 100, 90, 80)
    np.testing.assert_array_equal(layer.read(Window(100, 60, 90, 80)), first)
    assert layer.undo() == Window(100, 60, 90, 80)
    assert layer.read(FULL).sum() == 0 and layer.undo() is None and layer.can_redo
    layer.redo()
    layer.redo()
    np.testing.assert_array_equal(layer.read(FULL), both)
    assert layer.redo() is None and layer.dirty
    layer.flush()
    assert not layer.dirty and not LabelLayer.has_unsaved_recovery(layer.path)
    layer.close()
    with rasterio.open(tmp_path / "labels.tif") as ds:
        np.testing.assert_array_equal(ds.read(1), both * 255)  # stored as 0/255
    assert not journal_path(tmp_path / "labels.tif").exists()


def test_a_new_write_clears_redo_and_history_is_bounded(tmp_path: Path, rgb_utm: Path) -> None:
    layer = LabelLayer.create(tmp_path / "labels.tif", rgb_utm, history_limit=3)
    for i in range(5):
        layer.write(Window(10 * i, 10 * i, 30, 30), np.ones((30, 30), np.uint8))
    undone = [layer.undo() for _ in range(4)]
    assert undone[-1] is None and all(w is not None for w in undone[:3])
    assert layer.read(Window(0, 0, 20, 20)).sum() > 0  # oldest two writes are no longer undoable
    layer.write(Window(200, 150, 10, 10), np.ones((10, 10), np.uint8))
    assert not layer.can_redo
    layer.close()


def test_a_group_of_windows_is_one_undo_step_and_survives_a_crash(
    tmp_path: Path, rgb_utm: Path
) -> None:
    layer = LabelLayer.create(tmp_path / "labels.tif", rgb_utm)
    layer.write(Window(0, 0, 40, 40), np.ones((40, 40), np.uint8))
    blocks = [
        (Window(100, 60, 90, 80), _roof(80, 90, 3)),
        (Window(200, 150, 60, 60), _roof(60, 60, 4)),
    ]
    assert layer.write_group(blocks) == Window(100, 60, 140, 140)  # bounds, clipped to the grid
    after = layer.read(FULL)
    np.testing.assert_array_equal(after[60:140, 100:190], blocks[0][1])
    assert layer.undo() == Window(100, 60, 140, 140)  # both windows at once
    assert after[60:, 100:].sum() > 0 and layer.read(FULL)[60:, 100:].sum() == 0
    assert layer.read(Window(0, 0, 40, 40)).all()  # the earlier write is a step of its own
    layer.redo()
    np.testing.assert_array_equal(layer.read(FULL), after)
    assert layer.write_group([(Window(300, 300, 5, 5), np.ones((5, 5)))]) is None  # outside
    layer.close()  # no flush: as after a crash
    with LabelLayer.open(tmp_path / "labels.tif") as recovered:
        np.testing.assert_array_equal(recovered.read(FULL), after)


def test_a_group_beyond_the_undo_budget_is_written_but_not_undoable(
    tmp_path: Path, rgb_utm: Path
) -> None:
    layer = LabelLayer.create(tmp_path / "labels.tif", rgb_utm, history_mb=0.0005)
    noise = np.random.default_rng(5).integers(0, 2, (200, 240), dtype=np.uint8)  # ~12 kB packed
    layer.write(Window(0, 0, 10, 10), np.ones((10, 10), np.uint8))
    assert layer.can_undo
    layer.write_group([(FULL, noise)])
    np.testing.assert_array_equal(layer.read(FULL), noise)
    assert not layer.can_undo
    layer.close()


def test_windows_crossing_the_edge_are_clipped_and_bad_masks_refused(
    tmp_path: Path, rgb_utm: Path
) -> None:
    layer = LabelLayer.create(tmp_path / "labels.tif", rgb_utm)
    written = layer.write(Window(220, -10, 40, 30), np.ones((30, 40), np.uint8))
    assert written == Window(220, 0, 20, 20)
    window = layer.read(Window(220, -10, 40, 30))
    assert window[10:, :20].all() and window[:10].sum() == 0 and window[:, 20:].sum() == 0
    assert layer.write(Window(500, 500, 10, 10), np.ones((10, 10))) is None
    with pytest.raises(RasterError, match="does not match the window"):
        layer.write(Window(0, 0, 10, 10), np.ones((5, 5)))
    with pytest.raises(RasterError, match="empty window"):
        layer.read(Window(0, 0, 0, 5))
    with pytest.raises(RasterError, match="whole-pixel"):
        layer.read(Window(0.5, 0, 5, 5))
    layer.close()


CRASHING_EDITOR = """
import os, sys
import numpy as np
from rasterio.windows import Window
from isegsat.app.geo import LabelLayer
layer = LabelLayer.open(sys.argv[1])
mask = np.zeros((60, 70), np.uint8); mask[10:50, 5:60] = 1
layer.write(Window(150, 120, 70, 60), mask)
layer.write(Window(0, 0, 30, 30), np.ones((30, 30), np.uint8))
layer.undo()
os._exit(3)  # crash: no flush, no close
"""


def test_edits_survive_a_crash_and_are_recovered(tmp_path: Path, rgb_utm: Path) -> None:
    path = tmp_path / "labels.tif"
    LabelLayer.create(path, rgb_utm).close()
    result = subprocess.run([sys.executable, "-c", CRASHING_EDITOR, str(path)], check=False)
    assert result.returncode == 3
    assert LabelLayer.has_unsaved_recovery(path)
    with rasterio.open(path) as ds:
        assert ds.read(1).sum() == 0  # nothing reached the GeoTIFF itself
    expected = np.zeros((200, 240), np.uint8)
    expected[130:170, 155:210] = 1
    layer = LabelLayer.open(path, like=rgb_utm)
    assert layer.recovered_edits == 3 and layer.dirty
    np.testing.assert_array_equal(layer.read(FULL), expected)
    layer.flush()
    layer.close()
    assert not LabelLayer.has_unsaved_recovery(path)
    with LabelLayer.open(path) as reopened:
        np.testing.assert_array_equal(reopened.read(FULL), expected)


def test_torn_journal_tail_keeps_earlier_records(tmp_path: Path, rgb_utm: Path) -> None:
    path = tmp_path / "labels.tif"
    layer = LabelLayer.create(path, rgb_utm)
    layer.write(Window(0, 0, 50, 50), np.ones((50, 50), np.uint8))
    layer.write(Window(100, 100, 50, 50), np.ones((50, 50), np.uint8))
    layer._journal.close()  # abort the handle without flushing the layer
    journal = journal_path(path)
    journal.write_bytes(journal.read_bytes()[:-5])  # second record torn mid-write
    with LabelLayer.open(path) as recovered:
        assert recovered.recovered_edits == 1
        assert recovered.read(Window(0, 0, 50, 50)).all()
        assert recovered.read(Window(100, 100, 50, 50)).sum() == 0
        recovered.write(Window(200, 0, 10, 10), np.ones((10, 10), np.uint8))
    with LabelLayer.open(path) as again:  # appends after the cut tail are readable
        assert again.recovered_edits == 2


def test_declining_recovery_discards_the_journal(tmp_path: Path, rgb_utm: Path) -> None:
    path = tmp_path / "labels.tif"
    layer = LabelLayer.create(path, rgb_utm)
    layer.write(Window(0, 0, 50, 50), np.ones((50, 50), np.uint8))
    layer.close()
    assert LabelLayer.has_unsaved_recovery(path)
    with LabelLayer.open(path, recover=False) as fresh:
        assert fresh.read(FULL).sum() == 0 and not fresh.dirty
    assert not LabelLayer.has_unsaved_recovery(path)


@pytest.mark.parametrize("style", ["inria_255", "binary_01", "rgb_255"])
def test_from_existing_mask(tmp_path: Path, rgb_utm: Path, style: str) -> None:
    truth = _roof(200, 240, seed=4)
    if style == "inria_255":
        data = truth * 255
    elif style == "binary_01":
        data = truth
    else:
        data = np.stack([truth * 255] * 3)
    mask_path = write_raster(tmp_path / "gt.tif", data.astype(np.uint8))
    with LabelLayer.from_mask(mask_path, rgb_utm, tmp_path / "labels.tif") as layer:
        np.testing.assert_array_equal(layer.read(FULL), truth)


def test_mask_on_another_grid_is_refused_with_what_differs(tmp_path: Path, rgb_utm: Path) -> None:
    truth = _roof(200, 240)
    cases = {
        "size": write_raster(tmp_path / "size.tif", truth[:100]),
        "CRS": write_raster(tmp_path / "crs.tif", truth, crs=WGS84_CRS, transform=WGS84_TRANSFORM),
        "transform": write_raster(
            tmp_path / "shift.tif", truth, transform=from_origin(448_010.0, 5_412_000.0, 0.5, 0.5)
        ),
    }
    for what, path in cases.items():
        with pytest.raises(GridMismatchError, match=what):
            LabelLayer.from_mask(path, rgb_utm, tmp_path / f"labels_{what}.tif")
        assert not (tmp_path / f"labels_{what}.tif").exists()
    other = LabelLayer.create(tmp_path / "other.tif", cases["size"])
    other.close()
    with pytest.raises(GridMismatchError, match="size 240x100 px instead of 240x200 px"):
        LabelLayer.open(tmp_path / "other.tif", like=rgb_utm)


def test_bad_label_files_give_clear_errors(tmp_path: Path, rgb_utm: Path) -> None:
    with pytest.raises(RasterError, match="not found"):
        LabelLayer.open(tmp_path / "missing.tif")
    text = tmp_path / "labels.tif"
    text.write_text("hello")
    with pytest.raises(RasterError, match="cannot open label layer"):
        LabelLayer.open(text)
    with pytest.raises(RasterError, match="does not exist"):
        LabelLayer.create(tmp_path / "no" / "such" / "dir.tif", rgb_utm)
