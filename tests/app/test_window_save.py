"""The window's label saves: Ctrl+S and the autosave timer write on the layer's save thread and
answer on the GUI thread, the annotator keeps editing during a save, closing waits for it."""

from __future__ import annotations

import threading

import numpy as np
import rasterio
from fakes.saves import GatedFold
from rasterio.windows import Window

from isegsat.app.geo import labels as labels_module

TIMEOUT_MS = 20000


def saved_pixels(path) -> int:
    with rasterio.open(path) as ds:
        return int((ds.read(1) > 0).sum())


def edit_during_an_autosave(window, scene, monkeypatch):
    """Open the scene, edit, start an autosave that waits at the file writer, edit again (the
    GUI thread does not wait for the save); (labels, the writer)."""
    assert window.open_image(scene.path)
    labels = window.document.labels
    fold = GatedFold(monkeypatch)
    labels.write(Window(0, 0, 20, 10), np.ones((10, 20), np.uint8))
    window.autosave.timeout.emit()
    fold.wait_started()
    labels.write(Window(30, 30, 5, 4), np.ones((4, 5), np.uint8))
    return labels, fold


def test_autosave_writes_off_the_gui_thread_while_editing_goes_on(
    qtbot, window, scene, errors, monkeypatch
):
    labels, fold = edit_during_an_autosave(window, scene, monkeypatch)  # the GUI thread edits on
    assert labels.read(Window(0, 0, 40, 40)).sum() == 200 + 20
    with qtbot.waitSignal(window.labels_saved, timeout=TIMEOUT_MS) as saved:
        fold.release()
    assert saved.args == ["autosave", ""] and not errors
    assert fold.threads and threading.main_thread() not in fold.threads
    assert saved_pixels(labels.path) == 200  # the snapshot; the later edit is journaled
    assert labels.dirty and labels.has_unsaved_recovery(labels.path)
    with qtbot.waitSignal(window.labels_saved, timeout=TIMEOUT_MS) as saved:
        window.named_actions["save"].trigger()  # Ctrl+S: the next save has it
    assert saved.args == ["save", ""]
    assert saved_pixels(labels.path) == 220 and not labels.dirty
    assert window.statusBar().currentMessage() == f"Labels saved to {labels.path}"
    assert len(fold.threads) == 2 and threading.main_thread() not in fold.threads


def test_closing_waits_for_a_running_save_and_saves_the_rest(qtbot, window, scene, monkeypatch):
    labels, fold = edit_during_an_autosave(window, scene, monkeypatch)
    threading.Timer(0.3, fold.release).start()
    window.close_document()  # blocks until the running save and the final one are on disk
    assert window.document is None
    assert saved_pixels(labels.path) == 220
    assert not labels.has_unsaved_recovery(labels.path)
    assert threading.main_thread() not in fold.threads


def test_a_failed_ctrl_s_shows_a_dialog_and_keeps_the_edits(
    qtbot, window, scene, errors, monkeypatch
):
    assert window.open_image(scene.path)
    labels = window.document.labels
    labels.write(Window(0, 0, 20, 10), np.ones((10, 20), np.uint8))

    def failing_fold(path, tiles) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(labels_module, "fold_tiles", failing_fold)
    with qtbot.waitSignal(window.labels_saved, timeout=TIMEOUT_MS) as saved:
        window.save_and_confirm()
    assert saved.args[0] == "save" and "disk on fire" in saved.args[1]
    assert errors and errors[-1][0] == "Cannot save the labels" and "journal" in errors[-1][1]
    assert "NOT saved" in window.statusBar().currentMessage()
    assert labels.dirty and labels.has_unsaved_recovery(labels.path)
    monkeypatch.undo()
    assert window.save()  # the blocking save of closing and quitting
    assert saved_pixels(labels.path) == 200
