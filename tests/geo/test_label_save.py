"""LabelLayer saves on its save thread: off the caller's thread, edits go on while the file is
written (and are in the next save), and a crash at any moment of a save loses no edit."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio
from fakes.rasters import UTM_CRS, UTM_TRANSFORM, noisy_mask
from fakes.saves import WAIT_S, GatedFold
from rasterio.windows import Window

from isegsat.app.geo import LabelLayer, RasterGrid
from isegsat.app.geo import labels as labels_module
from isegsat.app.geo.journal import Journal

GRID = RasterGrid(1100, 700, rasterio.crs.CRS.from_string(UTM_CRS), UTM_TRANSFORM)  # 3 x 2 tiles
FULL = Window(0, 0, GRID.width, GRID.height)
FIRST = Window(0, 0, 300, 200)  # tile (0, 0)
SECOND = Window(400, 450, 300, 200)  # tiles (0, 1) (overlapping the first tile's row) and (1, 1)


def saved_pixels(path: Path) -> np.ndarray:
    """(H, W) {0,1} of what the label GeoTIFF itself holds (no journal)."""
    with rasterio.open(path) as ds:
        return (ds.read(1) > 0).astype(np.uint8)


def test_a_background_save_writes_the_file_on_the_save_thread(tmp_path: Path, monkeypatch):
    fold = GatedFold(monkeypatch)
    fold.release()
    layer = LabelLayer.create(tmp_path / "labels.tif", GRID)
    edit = noisy_mask(200, 300, 1)
    layer.write(FIRST, edit)
    future = layer.save_in_background()
    assert future.result(WAIT_S) is None
    assert fold.threads and threading.current_thread() not in fold.threads
    assert fold.threads[0].name.startswith("label-save")
    assert not layer.dirty and not LabelLayer.has_unsaved_recovery(layer.path)
    expected = np.zeros((GRID.height, GRID.width), np.uint8)
    expected[:200, :300] = edit
    assert np.array_equal(saved_pixels(layer.path), expected)
    layer.close()


def test_edits_during_a_save_go_on_and_are_in_the_next_save(tmp_path: Path, monkeypatch):
    fold = GatedFold(monkeypatch)
    path = tmp_path / "labels.tif"
    layer = LabelLayer.create(path, GRID)
    first, second = noisy_mask(200, 300, 1), noisy_mask(200, 300, 2)
    layer.write(FIRST, first)
    future = layer.save_in_background()
    fold.wait_started()
    safety = threading.Timer(WAIT_S / 2, fold.release)  # never hang on a lock held by the save
    safety.start()
    start = time.perf_counter()
    layer.write(SECOND, second)  # while the save writes the file
    layer.undo()
    layer.redo()
    expected = np.zeros((GRID.height, GRID.width), np.uint8)
    expected[:200, :300] = first
    expected[450:650, 400:700] = second
    assert np.array_equal(layer.read(FULL), expected)
    assert time.perf_counter() - start < WAIT_S / 4 and not future.done()  # not blocked
    fold.release()
    safety.cancel()
    assert future.result(WAIT_S) is None
    only_first = expected.copy()
    only_first[450:650, 400:700] = 0
    assert np.array_equal(saved_pixels(path), only_first)  # the save took its snapshot
    assert layer.dirty and np.array_equal(layer.read(FULL), expected)

    layer._journal.close()  # "crash" now: the journal holds exactly the edits after the save
    with LabelLayer.open(path) as recovered:
        assert recovered.recovered_edits == 3  # write, undo, redo of the second edit
        assert np.array_equal(recovered.read(FULL), expected)
        recovered.save_in_background().result(WAIT_S)  # the next save has them
        assert np.array_equal(saved_pixels(path), expected)
    assert not LabelLayer.has_unsaved_recovery(path)


def test_a_save_failing_while_edits_go_on_keeps_every_edit(tmp_path: Path, monkeypatch):
    path = tmp_path / "labels.tif"
    layer = LabelLayer.create(path, GRID)
    first, second = noisy_mask(200, 300, 3), noisy_mask(200, 300, 4)
    layer.write(FIRST, first)
    started, gate = threading.Event(), threading.Event()

    def failing_fold(path, tiles) -> None:
        started.set()
        gate.wait(WAIT_S)
        raise OSError("disk on fire")

    monkeypatch.setattr(labels_module, "fold_tiles", failing_fold)
    future = layer.save_in_background()
    assert started.wait(WAIT_S)
    layer.write(SECOND, second)
    gate.set()
    with pytest.raises(labels_module.RasterError, match="cannot save label layer .*disk on fire"):
        future.result(WAIT_S)
    expected = np.zeros((GRID.height, GRID.width), np.uint8)
    expected[:200, :300] = first
    expected[450:650, 400:700] = second
    assert layer.dirty and np.array_equal(layer.read(FULL), expected)
    assert saved_pixels(path).sum() == 0
    monkeypatch.undo()
    layer.flush()  # everything, the snapshot of the failed save included
    assert np.array_equal(saved_pixels(path), expected)
    layer.close()


def test_a_journal_that_cannot_be_trimmed_still_recovers_exactly(tmp_path: Path, monkeypatch):
    path = tmp_path / "labels.tif"
    layer = LabelLayer.create(path, GRID)
    first, second = noisy_mask(200, 300, 5), noisy_mask(200, 300, 6)
    layer.write(FIRST, first)

    def no_space(self, offset: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Journal, "keep_after", no_space)
    layer.save_in_background().result(WAIT_S)  # the file is saved; its records stay journaled
    monkeypatch.undo()
    layer.write(SECOND, second)
    layer._journal.close()  # crash
    expected = np.zeros((GRID.height, GRID.width), np.uint8)
    expected[:200, :300] = first
    expected[450:650, 400:700] = second
    with LabelLayer.open(path) as recovered:
        assert recovered.recovered_edits == 2  # replaying the saved one changes nothing
        assert np.array_equal(recovered.read(FULL), expected)


CRASHING_SAVE = """
import os, sys, threading
import numpy as np
from rasterio.windows import Window
from isegsat.app.geo import LabelLayer
from isegsat.app.geo import labels

moment = sys.argv[2]
real_fold = labels.fold_tiles
started, edited = threading.Event(), threading.Event()

def crashing_fold(path, tiles):
    started.set()
    edited.wait(20)
    if moment == "after-rename":
        real_fold(path, tiles)  # the new file is in place, the journal not trimmed yet
    os._exit(3)

labels.fold_tiles = crashing_fold
layer = LabelLayer.open(sys.argv[1])
layer.write(Window(0, 0, 300, 200), np.ones((200, 300), np.uint8))
layer.save_in_background()
started.wait(20)
mask = np.zeros((200, 300), np.uint8); mask[50:150, 100:250] = 1
layer.write(Window(400, 450, 300, 200), mask)  # made while the save runs
edited.set()
threading.Event().wait(20)
os._exit(4)  # never reached: the save thread crashed the process
"""


@pytest.mark.parametrize("moment", ["before-rename", "after-rename"])
def test_a_crash_during_a_save_loses_no_edit(tmp_path: Path, moment: str) -> None:
    path = tmp_path / "labels.tif"
    LabelLayer.create(path, GRID).close()
    result = subprocess.run(
        [sys.executable, "-c", CRASHING_SAVE, str(path), moment], check=False, timeout=120
    )
    assert result.returncode == 3
    expected = np.zeros((GRID.height, GRID.width), np.uint8)
    expected[:200, :300] = 1
    expected[500:600, 500:650] = 1
    on_disk = saved_pixels(path)
    assert on_disk.sum() == (200 * 300 if moment == "after-rename" else 0)
    assert LabelLayer.has_unsaved_recovery(path)
    with LabelLayer.open(path) as recovered:
        assert recovered.recovered_edits == 2
        assert np.array_equal(recovered.read(FULL), expected)
        recovered.flush()
    with LabelLayer.open(path) as reopened:
        assert reopened.recovered_edits == 0
        assert np.array_equal(reopened.read(FULL), expected)


def test_close_waits_for_the_saves_asked_before_it(tmp_path: Path, monkeypatch):
    fold = GatedFold(monkeypatch)
    path = tmp_path / "labels.tif"
    layer = LabelLayer.create(path, GRID)
    layer.write(FIRST, np.ones((200, 300), np.uint8))
    future = layer.save_in_background()
    fold.wait_started()
    threading.Timer(0.2, fold.release).start()
    layer.close()  # blocks until the save is on disk
    assert future.done() and future.exception() is None
    assert saved_pixels(path).sum() == 200 * 300 and not LabelLayer.has_unsaved_recovery(path)
    late = layer.save_in_background()
    assert isinstance(late.exception(), labels_module.RasterError)  # closed: refused, no thread


def test_pending_tiles_over_their_budget_are_saved_in_the_background(tmp_path: Path):
    path = tmp_path / "labels.tif"
    layer = LabelLayer.create(path, GRID, pending_mb=1.0)  # 6 tiles of 256 KiB exceed it
    everything = noisy_mask(GRID.height, GRID.width, 7)
    layer.write(FULL, everything)  # returns without saving; the save thread folds them in
    layer._auto_save.result(WAIT_S)
    assert not layer.dirty and np.array_equal(saved_pixels(path), everything)
    layer.close()
