"""The main window end to end: open a GeoTIFF, click on a building, accept, undo/redo, brush,
errors shown as dialogs (the app keeps running)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from fakes.models import BrightNearClicks
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from rasterio.windows import Window

from isegsat.app.annotation_types import Mode
from isegsat.app.inference_worker import WARM_UP_SIZE, InferenceWorker
from isegsat.app.main_window import MainWindow
from isegsat.app.settings import AppSettings
from isegsat.inference.precision import is_supported

RESULT_TIMEOUT_MS = 20000


def click_image(qtbot, win: MainWindow, y: int, x: int, positive: bool = True) -> None:
    """A real mouse click on the viewport at the centre of image pixel (y, x)."""
    pos: QPoint = win.canvas.mapFromScene(QPointF(x + 0.5, y + 0.5))
    button = Qt.MouseButton.LeftButton if positive else Qt.MouseButton.RightButton
    with qtbot.waitSignal(win.controller.result_applied, timeout=RESULT_TIMEOUT_MS):
        qtbot.mouseClick(win.canvas.viewport(), button, pos=pos)


def full_label(win: MainWindow) -> np.ndarray:
    source = win.document.source
    return win.document.labels.read(Window(0, 0, source.width, source.height))


def test_click_on_a_building_predicts_it_and_accept_writes_the_label(qtbot, window, scene):
    assert window.open_image(scene.path)
    qtbot.waitUntil(lambda: bool(window.canvas.loaded_keys()), timeout=RESULT_TIMEOUT_MS)
    (row, col, h, w), (row2, col2, _, _) = scene.buildings
    click_image(qtbot, window, row + h // 2, col + w // 2)
    session = window.controller.session
    mask = session.current_mask()
    assert mask[row : row + h, col : col + w].all()
    assert mask.sum() == h * w  # the other building is out of the model's reach
    assert full_label(window).sum() == 0
    qtbot.keyClick(window.canvas, Qt.Key.Key_Space)
    label = full_label(window)
    assert label[row : row + h, col : col + w].all() and label.sum() == h * w
    assert session.done == {0}
    assert "ms" in window.status.latency.text() and "CPU" in window.status.device.text()


def test_undo_redo_of_clicks_and_accept_from_the_keyboard(qtbot, window, scene):
    window.open_image(scene.path)
    (row, col, h, w), (row2, col2, h2, w2) = scene.buildings
    click_image(qtbot, window, row + h // 2, col + w // 2)
    click_image(qtbot, window, row2 + h2 // 2, col2 + w2 // 2)
    session = window.controller.session
    assert session.current_mask().sum() == h * w + h2 * w2
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert session.current_mask().sum() == h * w and len(session.target.clicks) == 1
    window.named_actions["accept"].trigger()
    assert full_label(window).sum() == h * w
    window.named_actions["undo"].trigger()
    assert full_label(window).sum() == 0 and len(session.target.clicks) == 1
    window.named_actions["redo"].trigger()
    assert full_label(window).sum() == h * w and session.target is None


def test_negative_click_removes_pixels_near_it(qtbot, window, scene):
    window.open_image(scene.path)
    row, col, h, w = scene.buildings[0]
    click_image(qtbot, window, row + 5, col + 5)
    click_image(qtbot, window, row + h - 1, col + w - 1, positive=False)
    mask = window.controller.session.current_mask()
    assert mask[row + h - 1, col + w - 1] == 0 and mask[row, col] == 1


def test_brush_stroke_writes_the_label_and_undoes(qtbot, window, scene):
    window.open_image(scene.path)
    window.named_actions["brush"].trigger()
    viewport = window.canvas.viewport()
    start = window.canvas.mapFromScene(QPointF(100.5, 60.5))
    end = window.canvas.mapFromScene(QPointF(140.5, 60.5))
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(viewport, end)
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=end)
    label = full_label(window)
    assert label[60, 100:141].all() and label[60 + 20, 120] == 0
    window.named_actions["undo"].trigger()
    assert full_label(window).sum() == 0


def test_object_mode_merges_the_clicked_building_only(qtbot, window, scene):
    window.open_image(scene.path)
    window.named_actions["object_mode"].trigger()
    assert window.controller.session.mode is Mode.OBJECT
    row, col, h, w = scene.buildings[1]
    click_image(qtbot, window, row + h // 2, col + w // 2)
    window.named_actions["accept"].trigger()
    label = full_label(window)
    assert label[row : row + h, col : col + w].all() and label.sum() == h * w


def test_a_corrupt_file_shows_an_error_and_the_app_keeps_running(
    qtbot, window, scene, errors, tmp_path: Path
):
    broken = tmp_path / "broken.tif"
    broken.write_bytes(b"II*\x00 this is not really a tiff")
    assert not window.open_image(broken)
    assert errors and errors[0][0] == "Cannot open the image" and "broken.tif" in errors[0][1]
    assert window.open_image(scene.path)
    click_image(qtbot, window, scene.buildings[0][0] + 3, scene.buildings[0][1] + 3)


def test_a_bad_checkpoint_shows_an_error_dialog(qtbot, window, errors, tmp_path: Path):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with qtbot.waitSignal(window.worker.failed, timeout=RESULT_TIMEOUT_MS):
        window.load_model(bad)
    assert errors[-1][0] == "Cannot load the model" and "bad.pth" in errors[-1][1]
    assert window.isVisible()


def test_after_a_failed_load_the_previous_model_keeps_answering_clicks(
    qtbot, window, scene, tmp_path: Path
):
    window.open_image(scene.path)
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with qtbot.waitSignal(window.worker.failed, timeout=RESULT_TIMEOUT_MS):
        window.load_model(bad)
    row, col, h, w = scene.buildings[0]
    click_image(qtbot, window, row + h // 2, col + w // 2)  # times out if clicks are refused


def test_reopening_after_a_crash_offers_recovery(qtbot, window, scene, monkeypatch):
    window.open_image(scene.path)
    row, col, h, w = scene.buildings[0]
    click_image(qtbot, window, row + h // 2, col + w // 2)
    window.named_actions["accept"].trigger()
    window.canvas.close_source()
    window.document.close()  # unflushed: the journal keeps the accept, as after a crash
    window.document = None
    asked = []
    monkeypatch.setattr(window.dialogs, "ask_recovery", lambda path: asked.append(path) or True)
    assert window.open_image(scene.path)
    assert asked and full_label(window).sum() == h * w


def test_status_bar_shows_map_coordinates_and_crs(qtbot, window, scene):
    window.open_image(scene.path)
    window.canvas.cursor_moved.emit(10.0, 20.0)
    text = window.status.position.text()
    assert "EPSG:32633" in text and "500003.00, 4999994.00" in text


def test_dropping_a_file_opens_it(qtbot, window, scene):
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(scene.path))])
    event = QDropEvent(
        QPointF(50, 50), Qt.DropAction.CopyAction, data, Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )  # fmt: skip
    window.dropEvent(event)
    assert window.document is not None and window.document.image_path == scene.path
    assert window.settings.recent_files[0] == scene.path


def test_tile_navigation_and_threshold_slider(qtbot, window, scene):
    window.panel.tile_size.setValue(64)
    window.open_image(scene.path)
    session = window.controller.session
    assert session.grid.count == 9 and window.panel.progress.format() == "0 / 9"
    window.named_actions["next_tile"].trigger()
    window.named_actions["next_tile"].trigger()
    window.named_actions["prev_tile"].trigger()
    assert session.tile_index == 1
    window.panel.threshold.setValue(80)
    assert session.config.threshold == pytest.approx(0.8)
    assert window.settings.threshold == pytest.approx(0.8)
    window.panel.tile_size.setValue(100)
    assert session.grid.count == 4 and session.tile_index == 0
    assert window.panel.progress.format() == "0 / 4" and window.settings.tile_size == 100


def test_export_and_shortcuts_are_wired(qtbot, window, scene, monkeypatch):
    calls = []
    monkeypatch.setattr(
        "isegsat.app.window_dialogs.run_export_dialog",
        lambda *args, settings: calls.append(args) or scene.path.with_name("out.gpkg"),
    )
    window.open_image(scene.path)
    window.named_actions["export"].trigger()
    parent, labels, source, tile = calls[0]
    assert labels is window.document.labels and source is window.document.source
    assert (tile.col_off, tile.row_off, tile.width, tile.height) == (0, 0, 192, 160)
    written = scene.path.with_name("out.gpkg")
    assert window.statusBar().currentMessage() == f"Exported to {written}"
    assert not window.status.open_folder.isHidden() and window.status.folder == written.parent
    shown = []
    monkeypatch.setattr(
        "isegsat.app.window_dialogs.show_shortcuts", lambda parent, actions: shown.extend(actions)
    )
    qtbot.keyClick(window, Qt.Key.Key_F1)
    assert window.named_actions["accept"] in shown and len(shown) == len(window.named_actions)


def test_restarting_from_a_mask_replaces_the_labels_of_the_open_image(qtbot, window, scene):
    window.open_image(scene.path)
    row, col, h, w = scene.buildings[0]
    click_image(qtbot, window, row + h // 2, col + w // 2)
    window.named_actions["accept"].trigger()
    mask_path = scene.path.with_name("other_mask.tif")
    with rasterio.open(scene.path) as ds:
        profile = dict(ds.profile, count=1)
    row2, col2, h2, w2 = scene.buildings[1]
    mask = np.zeros((scene.height, scene.width), np.uint8)
    mask[row2 : row2 + h2, col2 : col2 + w2] = 255
    with rasterio.open(mask_path, "w", **profile) as out:
        out.write(mask, 1)
    assert window.open_image(scene.path, mask_path, restart_from_mask=True)
    label = full_label(window)
    assert label.sum() == h2 * w2 and label[row2, col2] == 1
    window.save()
    with rasterio.open(window.document.labels.path) as saved:
        assert (saved.read(1) > 0).sum() == h2 * w2


# ---------------------------------------------------------------------- feedback (issue 11)
SEEN_SHAPES: list[tuple[int, int]] = []  # outside the model: Predictor works on a fused copy


class RecordingModel(BrightNearClicks):
    def forward(self, image, points):
        SEEN_SHAPES.append(tuple(image.shape[-2:]))
        return super().forward(image, points)


def test_a_text_file_named_pth_ends_the_loading_state_and_says_what_it_is(
    qtbot, window, errors, tmp_path: Path
):
    notes = tmp_path / "notes.pth"
    notes.write_text("model weights: see the wiki\n")
    with qtbot.waitSignal(window.worker.failed, timeout=RESULT_TIMEOUT_MS):
        window.load_model(notes)
    assert window.status.busy.isHidden()  # no busy bar left spinning
    assert window.status.device.text() == "BrightNearClicks on CPU · fp32"  # still in use
    title, text = errors[-1]
    assert title == "Cannot load the model" and "notes.pth is a text file" in text
    assert "weights_only" not in text


def test_loading_a_model_warms_it_up_with_one_pass(qtbot, errors):
    SEEN_SHAPES.clear()
    worker = InferenceWorker(zoom_in=False, flip=False)
    win = MainWindow(AppSettings(), worker=worker, precision="fp32")
    qtbot.addWidget(win)
    try:
        with qtbot.waitSignal(win.worker.model_ready, timeout=RESULT_TIMEOUT_MS):
            win.load_model(model=RecordingModel().eval())
        assert SEEN_SHAPES == [(WARM_UP_SIZE, WARM_UP_SIZE)]  # before any click
    finally:
        win.shutdown()


def test_the_status_bar_shows_the_number_format_auto_chose(qtbot, errors):
    settings = AppSettings()
    settings.precision = "auto"  # as a user's stored choice; the constructor has no override
    win = MainWindow(settings, worker=InferenceWorker(zoom_in=False, flip=False))
    qtbot.addWidget(win)
    try:
        with qtbot.waitSignal(win.worker.model_ready, timeout=RESULT_TIMEOUT_MS) as ready:
            win.load_model(model=BrightNearClicks().eval())
        chosen = ready.args[0].precision
        bf16 = is_supported("bf16", torch.device("cpu"))
        assert chosen in (("fp32", "bf16") if bf16 else ("fp32",))
        assert win.status.device.text() == f"BrightNearClicks on CPU · {chosen}"
    finally:
        win.shutdown()


def test_a_pending_prediction_is_marked_on_the_target_and_in_the_status_bar(qtbot, window, scene):
    window.open_image(scene.path)
    row, col, h, w = scene.buildings[0]
    with qtbot.waitSignal(window.controller.result_applied, timeout=RESULT_TIMEOUT_MS):
        window.controller.click(row + h // 2, col + w // 2, True)
        assert window.controller.target.busy and not window.status.predicting.isHidden()
    assert not window.controller.target.busy and window.status.predicting.isHidden()
    assert window.status.latency.text().startswith("last click ")


def test_tile_progress_survives_a_crash(qtbot, window, scene, tmp_path: Path, monkeypatch):
    window.panel.tile_size.setValue(64)
    window.open_image(scene.path)
    window.named_actions["accept"].trigger()  # tile 1 done, on to tile 2
    window.named_actions["next_tile"].trigger()  # tile 3, not done
    session = window.controller.session
    assert session.done == {0} and session.tile_index == 2
    assert window.navigator.done_tiles.boxes == (session.grid.box(0),)
    # kill -9 now: what is on disk is all that is left; copy it to a fresh folder
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    for path in scene.path.parent.iterdir():
        (crashed / path.name).write_bytes(path.read_bytes())
    window.panel.tile_size.setValue(500)  # the new session's preference differs
    monkeypatch.setattr(window.dialogs, "ask_recovery", lambda path: True)
    assert window.open_image(crashed / scene.path.name)
    restored = window.controller.session
    assert restored.grid.size == 64 and window.panel.tile_size.value() == 64
    assert restored.done == {0} and restored.tile_index == 2
    assert window.panel.progress.format() == "1 / 9"
    assert window.navigator.done_tiles.boxes == (restored.grid.box(0),)


def test_a_plain_click_outside_the_tile_says_how_to_move_and_ctrl_click_moves(
    qtbot, window, scene, monkeypatch
):
    window.panel.tile_size.setValue(64)
    window.open_image(scene.path)
    session = window.controller.session
    window.canvas.fit()
    pos = window.canvas.mapFromScene(QPointF(100.5, 100.5))  # tile 5 (0-based 4)
    qtbot.mouseClick(window.canvas.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert session.tile_index == 0 and session.target is None and not session.pending
    assert "outside the framed tile" in window.statusBar().currentMessage()
    qtbot.mouseClick(
        window.canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier,
        pos,
    )  # fmt: skip
    assert session.tile_index == 4 and session.target is None
    monkeypatch.setattr("isegsat.app.tile_navigator.QInputDialog.getInt", lambda *args: (8, True))
    window.named_actions["goto_tile"].trigger()
    assert session.tile_index == 7
    window.named_actions["accept"].trigger()  # tile 8 done, on to tile 9
    window.named_actions["next_undone"].trigger()
    assert session.tile_index == 0  # wraps round to the first tile not done


def test_ctrl_s_says_where_the_labels_went(qtbot, window, scene):
    window.open_image(scene.path)
    with qtbot.waitSignal(window.labels_saved, timeout=RESULT_TIMEOUT_MS) as saved:
        qtbot.keyClick(window, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert saved.args == ["save", ""]  # written on the save thread, the answer on this one
    path = window.document.labels.path
    assert window.statusBar().currentMessage() == f"Labels saved to {path}"
    assert not window.status.open_folder.isHidden() and window.status.folder == path.parent


def test_brush_steps_are_symmetric(qtbot, window):
    brush = window.canvas.brush
    assert brush.radius == 8
    sizes = []
    for _ in range(3):
        window.named_actions["brush_bigger"].trigger()
        sizes.append(brush.radius)
    for _ in range(3):
        window.named_actions["brush_smaller"].trigger()
        sizes.append(brush.radius)
    assert sizes == [10, 12, 16, 12, 10, 8]


def test_undoing_an_accept_zooms_back_onto_its_tile(qtbot, window, scene):
    window.panel.tile_size.setValue(64)
    window.open_image(scene.path)
    window.named_actions["accept"].trigger()
    session = window.controller.session
    assert session.tile_index == 1
    window.named_actions["undo"].trigger()
    centre = window.canvas.mapToScene(window.canvas.viewport().rect().center())
    assert session.tile_index == 0 and session.tile_box.contains(centre.y(), centre.x())


def test_open_starts_in_the_last_images_folder(qtbot, window, scene, monkeypatch):
    window.open_image(scene.path)
    asked = []
    monkeypatch.setattr(
        "isegsat.app.window_dialogs.QFileDialog.getOpenFileName",
        lambda parent, title, folder, filter: asked.append(folder) or ("", ""),
    )
    window.named_actions["open_image"].trigger()
    assert asked == [str(scene.path.parent)]


def test_the_model_picker_stays_on_the_toolbar_at_1280_px(qtbot, window):
    window.resize(1280, 860)
    qtbot.waitUntil(lambda: window.picker.isVisible(), timeout=RESULT_TIMEOUT_MS)


class FailsAfterWarmUp(BrightNearClicks):
    """Answers the warm-up pass, then fails every prediction (a model that breaks in use)."""

    def forward(self, image, points):
        SEEN_SHAPES.append(tuple(image.shape[-2:]))
        if len(SEEN_SHAPES) > 1:
            raise RuntimeError("the model broke")
        return super().forward(image, points)


def test_a_failed_prediction_ends_the_busy_marks(qtbot, window, errors, scene):
    SEEN_SHAPES.clear()
    with qtbot.waitSignal(window.worker.model_ready, timeout=RESULT_TIMEOUT_MS):
        window.load_model(model=FailsAfterWarmUp().eval())
    window.open_image(scene.path)
    with qtbot.waitSignal(window.worker.failed, timeout=RESULT_TIMEOUT_MS):
        window.controller.click(30, 30, True)
        assert window.controller.target.busy
    assert not window.controller.target.busy and window.status.predicting.isHidden()
    assert not window.controller.session.pending
    assert errors[-1] == ("Prediction failed", "the model broke")


def test_the_bundled_model_loads_with_its_tile_mode_companion(window, monkeypatch, tmp_path):
    from isegsat import resources

    bundled = resources.bundled_model_path()
    if bundled is None or resources.bundled_tile_model_path() is None:
        pytest.skip("bundled weights not installed")
    requests = []
    monkeypatch.setattr(window.worker, "load", requests.append)
    window.load_model(bundled)
    window.load_model(tmp_path / "mine.pth")
    paired, alone = requests
    assert (paired.path, paired.tile_path) == (bundled, resources.bundled_tile_model_path())
    assert alone.tile_path is None  # another checkpoint serves both modes
