"""AnnotationSession state machine (no Qt): tiles, objects, accept, brush, undo/redo, staleness."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
from rasterio.windows import Window

from isegsat.app.annotation import AnnotationSession
from isegsat.app.annotation_types import Change, Mode, PredictResult, SessionConfig, TileGrid
from isegsat.app.geo import LabelLayer, RasterSource
from isegsat.app.geo.boxes import to_window
from isegsat.inference import Click
from isegsat.inference.box import Box


@pytest.fixture
def labels(scene, tmp_path: Path):
    layer = LabelLayer.create(tmp_path / "labels.tif", like=scene.path)
    yield layer
    layer.close()


def make_session(labels, source: RasterSource, **config) -> AnnotationSession:
    return AnnotationSession(labels, source, source.height, source.width, SessionConfig(**config))


def answer(request, mask: np.ndarray) -> PredictResult:
    """The worker's result for `request` with a given {0,1} mask on its box."""
    return PredictResult(request.seq, request.target_id, mask.astype(np.float32), 0.01, "CPU")


def box_mask(box: Box, rows: slice, cols: slice) -> np.ndarray:
    mask = np.zeros((box.height, box.width), dtype=np.uint8)
    mask[rows, cols] = 1
    return mask


def test_tile_grid_covers_the_scene_with_clipped_edge_tiles() -> None:
    grid = TileGrid(height=160, width=192, size=64)
    assert (grid.rows, grid.cols, grid.count) == (3, 3, 9)
    assert grid.box(0) == Box(0, 0, 64, 64)
    assert grid.box(8) == Box(128, 128, 32, 64)
    assert grid.index_at(130.5, 70) == 7


def test_tile_click_requests_local_clicks_with_the_existing_label_as_prev_mask(
    labels, scene_source
) -> None:
    labels.write(Window(64, 64, 10, 10), np.ones((10, 10), np.uint8))
    session = make_session(labels, scene_source, tile_size=64)
    request = session.click(70, 100, positive=True).request
    assert session.tile_index == 4 and session.tile_box == Box(64, 64, 64, 64)
    assert request.box == Box(64, 64, 64, 64)
    assert request.clicks == (Click(6, 36, True),)
    assert request.prev_mask.dtype == np.float32
    assert request.prev_mask[:10, :10].all() and request.prev_mask.sum() == 100


def test_accept_writes_the_thresholded_prediction_and_moves_to_the_next_tile(
    labels, scene_source
) -> None:
    session = make_session(labels, scene_source, tile_size=64, threshold=0.5)
    request = session.click(30, 30, True).request
    prob = np.full((64, 64), 0.2, np.float32)
    prob[20:40, 24:48] = 0.9
    assert session.apply(PredictResult(request.seq, request.target_id, prob, 0.0, "CPU"))
    change = session.accept()
    assert change.label_box == Box(0, 0, 64, 64)
    written = labels.read(Window(0, 0, 64, 64))
    assert written[20:40, 24:48].all() and written.sum() == 20 * 24
    assert session.done == {0} and session.tile_index == 1 and session.target is None


def test_a_stale_result_is_dropped_and_only_the_newest_applies(labels, scene, scene_source) -> None:
    session = make_session(labels, scene_source)
    first = session.click(30, 30, True).request
    second = session.click(40, 40, True).request
    mask = np.ones((scene.height, scene.width), np.uint8)
    assert session.apply(answer(first, mask)) is None
    assert session.target.prob is None and session.pending
    assert session.apply(answer(second, mask)) is not None
    assert session.target.prob is not None and not session.pending


def test_undo_and_redo_clicks_restore_the_earlier_prediction(labels, scene, scene_source) -> None:
    session = make_session(labels, scene_source)
    first = session.click(30, 30, True).request
    one = np.zeros((scene.height, scene.width), np.uint8)
    one[20:40, 20:40] = 1
    session.apply(answer(first, one))
    second = session.click(100, 140, True).request
    session.apply(
        answer(second, one | box_mask(Box(0, 0, 160, 192), slice(96, 130), slice(120, 160)))
    )
    change = session.undo()
    assert change.request is None  # the prediction after the first click is restored as it was
    assert session.target.clicks == (Click(30, 30, True),)
    np.testing.assert_array_equal(session.current_mask(), one)
    change = session.redo()
    assert session.target.clicks[-1] == Click(100, 140, True)
    assert session.current_mask()[100, 140] == 1 and change.request is None


def test_undo_accept_restores_label_progress_and_clicks(labels, scene_source) -> None:
    session = make_session(labels, scene_source, tile_size=64)
    request = session.click(10, 10, True).request
    session.apply(answer(request, box_mask(request.box, slice(0, 32), slice(0, 32))))
    session.accept()
    assert labels.read(Window(0, 0, 64, 64)).sum() == 32 * 32
    change = session.undo()
    assert change.label_box == Box(0, 0, 64, 64)
    assert labels.read(Window(0, 0, 64, 64)).sum() == 0
    assert session.done == frozenset() and session.tile_index == 0
    assert session.target.clicks == (Click(10, 10, True),)
    session.redo()
    assert labels.read(Window(0, 0, 64, 64)).sum() == 32 * 32 and session.done == {0}


def test_clicks_outside_a_tile_with_pending_clicks_are_ignored(labels, scene_source) -> None:
    session = make_session(labels, scene_source, tile_size=64)
    session.click(10, 10, True)
    assert session.click(100, 150, True).request is None
    assert session.tile_index == 0 and len(session.target.clicks) == 1
    session.reset()
    assert session.click(100, 150, True).request is not None and session.tile_index == 5


def test_reset_drops_clicks_and_undo_brings_them_back(labels, scene_source) -> None:
    session = make_session(labels, scene_source)
    session.click(10, 10, True)
    session.click(12, 12, False)
    session.reset()
    assert session.target.clicks == ()
    change = session.undo()
    assert len(session.target.clicks) == 2 and change.request is not None


def test_object_initial_mask_is_the_label_component_under_the_first_click(
    labels, scene, scene_source
) -> None:
    (r0, c0, h0, w0), (r1, c1, h1, w1) = scene.buildings
    full = np.zeros((scene.height, scene.width), np.uint8)
    full[r0 : r0 + h0, c0 : c0 + w0] = 1
    full[r1 : r1 + h1, c1 : c1 + w1] = 1
    labels.write(Window(0, 0, scene.width, scene.height), full)
    session = make_session(labels, scene_source, object_size=256)
    session.set_mode(Mode.OBJECT)
    request = session.click(r0 + 5, c0 + 5, False).request
    assert request.prev_mask.sum() == h0 * w0
    assert request.prev_mask[r0 - request.box.row, c0 - request.box.col] == 1


def test_negative_object_removes_a_wrong_building_and_keeps_the_others(
    labels, scene, scene_source
) -> None:
    (r0, c0, h0, w0), (r1, c1, h1, w1) = scene.buildings
    full = np.zeros((scene.height, scene.width), np.uint8)
    full[r0 : r0 + h0, c0 : c0 + w0] = 1
    full[r1 : r1 + h1, c1 : c1 + w1] = 1
    labels.write(Window(0, 0, scene.width, scene.height), full)
    session = make_session(labels, scene_source, object_size=256)
    session.set_mode(Mode.OBJECT)
    request = session.click(r0 + 5, c0 + 5, False).request
    session.apply(answer(request, np.zeros((request.box.height, request.box.width))))
    session.accept()
    after = labels.read(Window(0, 0, scene.width, scene.height))
    assert after[r0 : r0 + h0, c0 : c0 + w0].sum() == 0
    assert after[r1 : r1 + h1, c1 : c1 + w1].all()


def test_positive_object_is_merged_with_or(labels, scene, scene_source) -> None:
    labels.write(Window(0, 0, 8, 8), np.ones((8, 8), np.uint8))
    session = make_session(labels, scene_source, object_size=64)
    session.set_mode(Mode.OBJECT)
    request = session.click(100, 140, True).request
    local = slice(100 - request.box.row - 5, 100 - request.box.row + 5)
    cols = slice(140 - request.box.col - 5, 140 - request.box.col + 5)
    session.apply(answer(request, box_mask(request.box, local, cols)))
    session.accept()
    after = labels.read(Window(0, 0, scene.width, scene.height))
    assert after[:8, :8].all() and after[95:105, 135:145].all() and after.sum() == 64 + 100


def test_object_touching_its_crop_border_is_rerun_on_a_larger_crop(labels, scene_source) -> None:
    session = make_session(labels, scene_source, object_size=64, growth=2.0)
    session.set_mode(Mode.OBJECT)
    request = session.click(80, 96, True).request
    assert request.box == Box(48, 64, 64, 64)
    touching = box_mask(request.box, slice(20, 40), slice(30, 64))  # reaches the right side
    change = session.apply(answer(request, touching))
    grown = change.request
    assert grown is not None and grown.target_id != request.target_id
    assert grown.box.height == 128 and grown.box.width == 128
    assert grown.clicks == (Click(80 - grown.box.row, 96 - grown.box.col, True),)
    inside = box_mask(grown.box, slice(40, 60), slice(40, 80))
    assert session.apply(answer(grown, inside)).request is None


def test_brush_paint_and_erase_are_undoable(labels, scene_source) -> None:
    session = make_session(labels, scene_source)
    stroke = np.zeros((10, 10), bool)
    stroke[2:5, 2:8] = True
    box = Box(50, 60, 10, 10)
    session.paint(box, stroke, 1)
    assert labels.read(to_window(box)).sum() == 18
    eraser = np.zeros((10, 10), bool)
    eraser[0:10, 2:4] = True
    session.paint(box, eraser, 0)
    assert labels.read(to_window(box)).sum() == 18 - 6
    session.undo()
    assert labels.read(to_window(box)).sum() == 18
    session.undo()
    assert labels.read(to_window(box)).sum() == 0 and not session.can_undo


def test_mode_switch_and_navigation_are_undoable(labels, scene_source) -> None:
    session = make_session(labels, scene_source, tile_size=64)
    session.goto_tile(5)
    session.set_mode(Mode.OBJECT)
    session.undo()
    assert session.mode is Mode.TILE and session.tile_index == 5
    session.undo()
    assert session.tile_index == 0


def test_a_late_result_for_a_closed_session_is_never_applied(labels, scene, scene_source) -> None:
    old = make_session(labels, scene_source)
    late = old.click(30, 30, True).request
    new = make_session(labels, scene_source)
    current = new.click(30, 30, True).request
    full = np.ones((scene.height, scene.width), np.uint8)
    assert new.apply(answer(late, full)) is None and new.pending
    new.abandon_request()  # e.g. the worker reported a failure
    assert not new.pending and new.target.clicks == (Click(30, 30, True),)
    assert current.seq != late.seq


@pytest.mark.parametrize("module", ["annotation.py", "document.py"])
def test_session_modules_import_no_qt(module: str) -> None:
    source = Path(__file__).resolve().parents[2] / "app" / module
    tree = ast.parse(source.read_text(encoding="utf-8"))
    imported = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.append(node.module)
    assert not [name for name in imported if name.split(".")[0] in ("PySide6", "shiboken6")]


def test_previous_prediction_stays_on_show_and_accept_waits_for_the_model(
    labels, scene, scene_source
) -> None:
    session = make_session(labels, scene_source)
    first = session.click(30, 30, True).request
    one = box_mask(Box(0, 0, scene.height, scene.width), slice(20, 40), slice(20, 40))
    session.apply(answer(first, one))
    second = session.click(100, 140, True).request
    assert session.target.waiting and session.pending
    np.testing.assert_array_equal(session.current_mask(), one)
    assert session.accept() == Change() and session.done == frozenset()
    session.apply(answer(second, one))
    assert session.accept().label_box == Box(0, 0, scene.height, scene.width)


def test_a_draft_is_one_undo_step_unless_it_exceeds_the_undo_budget(
    scene, scene_source, tmp_path: Path
) -> None:
    big = np.random.default_rng(3).integers(0, 2, (160, 192), dtype=np.uint8)
    small = [(Window(0, 0, 20, 20), np.ones((20, 20), np.uint8))]
    with LabelLayer.create(tmp_path / "a.tif", like=scene.path) as roomy:
        session = make_session(roomy, scene_source, tile_size=64)
        session.click(5, 5, positive=True)
        change = session.apply_draft(small)
        assert change.label_box == Box(0, 0, 20, 20) and session.target is None
        assert session.can_undo and not session.pending
        session.undo()
        assert roomy.read(Window(0, 0, 20, 20)).sum() == 0 and session.target is not None
        assert session.apply_draft([]).label_box is None
    with LabelLayer.create(tmp_path / "b.tif", like=scene.path, history_mb=0.001) as tight:
        session = make_session(tight, scene_source, tile_size=64)
        session.click(5, 5, positive=True)
        session.apply_draft([(Window(0, 0, 192, 160), big)])
        np.testing.assert_array_equal(tight.read(Window(0, 0, 192, 160)), big)
        assert not session.can_undo and not tight.can_undo  # written, but no longer undoable
