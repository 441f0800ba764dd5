"""Two windows (or processes) never write one label layer: the second is refused, the first
keeps working; the lock goes with the document."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPointF, Qt
from rasterio.windows import Window

from isegsat.app.document import open_document
from isegsat.app.geo.layer_lock import LayerLockedError, lock_path
from isegsat.app.inference_worker import InferenceWorker
from isegsat.app.main_window import MainWindow
from isegsat.app.settings import AppSettings

TIMEOUT_MS = 20000


def make_window(qtbot, model) -> MainWindow:
    win = MainWindow(AppSettings(), worker=InferenceWorker(zoom_in=False, flip=False))
    qtbot.addWidget(win)
    win.resize(900, 700)
    win.show()
    if model is not None:
        with qtbot.waitSignal(win.worker.model_ready, timeout=TIMEOUT_MS):
            win.load_model(model=model)
    return win


def test_open_document_locks_the_label_layer_until_it_closes(scene) -> None:
    first = open_document(scene.path)
    label_lock = lock_path(first.labels.path)
    assert label_lock.exists()
    with pytest.raises(LayerLockedError, match="open for writing"):
        open_document(scene.path)
    first.close()
    assert not label_lock.exists()
    second = open_document(scene.path)
    second.close()


def test_a_second_window_on_the_same_image_is_refused_and_the_first_keeps_working(
    qtbot, errors, scene, test_model
) -> None:
    first = make_window(qtbot, test_model)
    second = make_window(qtbot, None)
    try:
        assert first.open_image(scene.path)
        assert not second.open_image(scene.path)
        assert second.document is None
        title, text = errors[-1]
        assert title == "Labels open elsewhere"
        assert "process" in text and "since" in text and str(first.document.labels.path) in text
        # the first window still annotates and saves
        row, col, h, w = scene.buildings[0]
        pos = first.canvas.mapFromScene(QPointF(col + w / 2, row + h / 2))
        with qtbot.waitSignal(first.controller.result_applied, timeout=TIMEOUT_MS):
            qtbot.mouseClick(first.canvas.viewport(), Qt.MouseButton.LeftButton, pos=pos)
        first.named_actions["accept"].trigger()
        assert first.save()
        label = first.document.labels.read(Window(0, 0, scene.width, scene.height))
        assert label[row : row + h, col : col + w].all()
        # once the first window lets go, the second one opens the labels it saved
        first.close_document()
        assert second.open_image(scene.path)
        label = second.document.labels.read(Window(0, 0, scene.width, scene.height))
        assert label[row : row + h, col : col + w].all()
    finally:
        first.shutdown()
        second.shutdown()
