"""Annotate ▸ Pre-label scene: the draft joins the labels as one undoable step, accepted tiles
keep their labels, tiles start from the draft, cancel and errors (GUI, offscreen)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from fakes.models import BrightContext
from rasterio.windows import Window

from isegsat.app.geo import LabelLayer, RasterSource
from isegsat.app.prelabel import load_prelabeller
from isegsat.app.prelabel_job import PrelabelRequest, PrelabelThread, draft_path
from isegsat.inference.segmenter import predict_without_clicks

CPU = torch.device("cpu")


def _fake_load(weights: Path, device: str | None):
    """A context-dependent fake segmenter in place of a checkpoint (bright = building)."""
    model = BrightContext(reach=3).eval()
    return (lambda rgb: predict_without_clicks(model, rgb, CPU)), {"fake": str(weights)}


def _full(window) -> np.ndarray:
    source = window.document.source
    return window.document.labels.read(Window(0, 0, source.width, source.height))


def _buildings_found(label: np.ndarray, buildings) -> list[float]:
    """Share of each building's pixels that are labelled."""
    return [float(label[r : r + h, c : c + w].mean()) for r, c, h, w in buildings]


def test_the_draft_is_added_as_one_undo_step_and_tiles_start_from_it(
    qtbot, window, scene, tmp_path
):
    assert window.open_image(scene.path)
    window.prelabel.weights, window.prelabel.load = tmp_path / "baseline.pth", _fake_load
    outcome = window.prelabel.run()
    assert outcome is not None and outcome.edits
    label = _full(window)
    assert min(_buildings_found(label, scene.buildings)) > 0.9
    assert label.mean() < 0.2  # the dark ground stays background
    assert "Draft added" in window.statusBar().currentMessage()
    assert draft_path(window.document.labels.path).is_file()

    session = window.controller.session
    (row, col, h, w), _ = scene.buildings
    request = session.click(row + h // 2, col + w // 2, positive=True).request
    box = request.box
    np.testing.assert_array_equal(
        request.prev_mask, label[box.row : box.row + box.height, box.col : box.col + box.width]
    )

    window.controller.reset()
    window.controller.undo()  # the reset
    window.controller.undo()  # the click
    window.controller.undo()  # the whole draft at once
    assert _full(window).sum() == 0
    window.controller.redo()
    np.testing.assert_array_equal(_full(window), label)


def test_accepted_tiles_keep_their_labels_and_existing_labels_stay(qtbot, window, scene, tmp_path):
    assert window.open_image(scene.path)
    window.controller.set_tile_size(96)  # tiles of 96 px: building 1 in tile 0, 2 in tile 3
    session = window.controller.session
    session.restore_progress(0, frozenset({0}))  # tile 0 accepted as empty ground
    window.document.labels.write(Window(100, 0, 20, 20), np.ones((20, 20), np.uint8))
    window.prelabel.weights, window.prelabel.load = tmp_path / "baseline.pth", _fake_load
    assert window.prelabel.run() is not None
    label = _full(window)
    first, second = _buildings_found(label, scene.buildings)
    assert first == 0.0 and second > 0.9
    assert label[0:20, 100:120].all()  # union: nothing labelled before is lost


def test_a_cancelled_run_keeps_its_windows_and_the_next_one_resumes(scene, tmp_path):
    layer = LabelLayer.create(tmp_path / "labels.tif", like=scene.path)
    calls = []
    cancel_at = [6]  # the first run stops in its second row of windows, the second goes on

    def load(weights, device):
        segment, model_id = _fake_load(weights, device)

        def counting(rgb):
            calls.append(rgb.shape)
            if len(calls) in cancel_at:
                thread.cancel()
            return segment(rgb)

        return counting, model_id

    request = PrelabelRequest(
        scene.path, tmp_path / "draft.tif", tmp_path / "w.pth", layer, layer.grid,
        tile=64, overlap=16, load=load,
    )  # fmt: skip
    thread = PrelabelThread(request)
    thread.run()  # on this thread: the same code the worker thread runs
    assert thread.outcome is None and thread.error is None
    assert not request.draft.exists()
    first_run = len(calls)
    thread = PrelabelThread(request)
    calls.clear()
    cancel_at.clear()
    thread.run()
    assert thread.outcome is not None and thread.outcome.result.resumed
    assert len(calls) < thread.outcome.result.windows and first_run < thread.outcome.result.windows
    layer.close()


def test_a_click_based_checkpoint_is_refused_with_a_message(
    qtbot, window, scene, errors, hrnet_checkpoint
):
    assert window.open_image(scene.path)
    window.prelabel.weights, window.prelabel.load = hrnet_checkpoint, load_prelabeller
    assert window.prelabel.run() is None
    assert errors and errors[-1][0] == "Pre-labelling failed"
    assert "interactive" in errors[-1][1]
    assert _full(window).sum() == 0 and not window.controller.session.can_undo


def test_without_an_image_it_says_what_to_do(qtbot, window):
    assert window.prelabel.run() is None
    assert "Open an image" in window.statusBar().currentMessage()


def test_the_draft_on_another_grid_is_refused(scene, tmp_path):
    from fakes.rasters import write_raster

    from isegsat.app.draft import draft_edits
    from isegsat.app.geo import RasterError

    other = write_raster(tmp_path / "other.tif", np.zeros((1, 50, 60), np.uint8))
    with RasterSource.open(scene.path) as source:
        layer = LabelLayer.create(tmp_path / "labels.tif", like=source)
        try:
            draft_edits(other, layer, layer.grid)
        except RasterError as exc:
            assert "draft is not on the image grid" in str(exc) and "60x50" in str(exc)
        else:
            raise AssertionError("a draft on another grid was accepted")
        layer.close()
