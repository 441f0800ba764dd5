"""The real MainWindow (offscreen) against bad input: a disk that fills up under the annotator,
an image in a read-only folder, a mask on another CRS, a checkpoint of another architecture.
Every case ends in a dialog or status message while the app keeps running, and no accepted
edit is lost."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from affine import Affine
from fakes.scenes import write_scene, write_scene_raster
from PySide6.QtWidgets import QMessageBox
from rasterio.windows import Window

from isegsat.app import main as app_main
from isegsat.app.geo import LabelLayer
from isegsat.app.inference_worker import InferenceWorker
from isegsat.app.main_window import MainWindow
from isegsat.app.settings import AppSettings

TIMEOUT_MS = 20000


@pytest.fixture
def dialogs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every QMessageBox.critical/warning as (title, text) instead of a modal dialog."""
    shown: list[tuple[str, str]] = []

    def record(parent, title, text, *rest):
        shown.append((title, text))

    monkeypatch.setattr(QMessageBox, "critical", record)
    monkeypatch.setattr(QMessageBox, "warning", record)
    return shown


def new_window(qtbot) -> MainWindow:
    win = MainWindow(AppSettings(), worker=InferenceWorker(zoom_in=False, flip=False))
    qtbot.addWidget(win)
    win.show()
    return win


@pytest.fixture
def window(qtbot, dialogs, test_model):
    """A main window with the deterministic test model loaded."""
    win = new_window(qtbot)
    with qtbot.waitSignal(win.worker.model_ready, timeout=TIMEOUT_MS):
        win.load_model(model=test_model)
    yield win
    win.shutdown()


def label_building(qtbot, win: MainWindow, building: tuple[int, int, int, int]) -> None:
    """Click the middle of a building (row, col, h, w) and wait for the prediction."""
    row, col, h, w = building
    with qtbot.waitSignal(win.controller.result_applied, timeout=TIMEOUT_MS):
        win.controller.click(row + h // 2, col + w // 2, True)


def labels_of(win: MainWindow) -> np.ndarray:
    source = win.document.source
    return win.document.labels.read(Window(0, 0, source.width, source.height))


def test_a_disk_filling_up_warns_once_refuses_new_edits_and_loses_nothing(
    qtbot, window, dialogs, full_disk_dir, monkeypatch: pytest.MonkeyPatch
):
    disk = full_disk_dir
    scene = write_scene(disk.path / "city1.tif")
    label_path = disk.path / "city1_labels.tif"
    assert window.open_image(scene.path) and window.document.labels.path == label_path
    first = scene.buildings[0]
    label_building(qtbot, window, first)
    window.controller.accept()
    accepted = labels_of(window)
    assert accepted.sum() == first[2] * first[3]

    disk.fill()
    for _ in range(2):  # the next interval: no second dialog piles up
        with qtbot.waitSignal(window.labels_saved, timeout=TIMEOUT_MS) as saved:
            window.autosave.timeout.emit()  # saved on the save thread, answered on this one
        assert saved.args[0] == "autosave" and "No space left on device" in saved.args[1]
    assert len(dialogs) == 1 and dialogs[0][0] == "Cannot save the labels"
    assert "No space left on device" in dialogs[0][1] and "journal" in dialogs[0][1]
    assert "NOT saved" in window.statusBar().currentMessage()
    assert LabelLayer.has_unsaved_recovery(label_path)  # the accepted building is journaled

    window.shutdown()  # closing on a full disk: one more dialog, the journal is kept
    assert dialogs[-1][0] == "Cannot save the labels"
    assert LabelLayer.has_unsaved_recovery(label_path)

    disk.release()
    again = new_window(qtbot)
    asked: list[Path] = []
    monkeypatch.setattr(again.dialogs, "ask_recovery", lambda path: asked.append(path) or True)
    try:
        assert again.open_image(scene.path)
        assert asked == [label_path]
        assert np.array_equal(labels_of(again), accepted)
        assert again.save() and not LabelLayer.has_unsaved_recovery(label_path)
    finally:
        again.shutdown()


def test_an_accept_refused_on_a_full_disk_can_be_repeated_once_there_is_space(
    qtbot, window, dialogs, make_disk
):
    # Simulated (fsync fails): on a real full tmpfs a small journal record may still fit in
    # the slack of the journal's last page, and then the accept rightly succeeds.
    disk = make_disk(simulated=True)
    scene = write_scene(disk.path / "city1.tif")
    assert window.open_image(scene.path)
    row, col, h, w = scene.buildings[1]
    label_building(qtbot, window, scene.buildings[1])
    disk.fill()
    window.controller.accept()
    assert dialogs and dialogs[-1][0] == "Cannot write the labels"
    assert "No space left on device" in dialogs[-1][1] and "not applied" in dialogs[-1][1]
    assert window.controller.session.target is not None  # the prediction waits on screen
    assert labels_of(window).sum() == 0
    disk.release()
    window.controller.accept()
    label = labels_of(window)
    assert label[row : row + h, col : col + w].all() and label.sum() == h * w
    assert window.controller.session.can_undo
    window.controller.undo()
    assert labels_of(window).sum() == 0


def test_an_image_in_a_read_only_folder_gets_its_labels_in_the_user_cache(
    qtbot, window, dialogs, read_only_dir, tmp_path: Path
):
    scene = write_scene(read_only_dir.path / "city1.tif")
    read_only_dir.seal()
    assert window.open_image(scene.path), dialogs
    labels = window.document.labels.path
    assert labels.is_relative_to(tmp_path / "cache") and labels.name == "city1_labels.tif"
    label_building(qtbot, window, scene.buildings[0])
    window.controller.accept()
    assert window.save() and labels_of(window).sum() > 0
    assert sorted(p.name for p in read_only_dir.path.iterdir()) == ["city1.tif"]


@pytest.mark.parametrize(
    ("crs", "shift", "expected"),
    [
        ("EPSG:32634", 0.0, "CRS EPSG:32634 instead of EPSG:32633"),
        ("EPSG:32633", 30.0, "transform"),
    ],
)
def test_a_mask_on_another_grid_is_refused_by_the_command_line_with_a_dialog(
    qtbot, window, dialogs, scene, crs: str, shift: float, expected: str
):
    with rasterio.open(scene.path) as ds:
        transform = Affine.translation(shift, 0) * ds.transform  # shift metres east
    mask = np.zeros((scene.height, scene.width), np.uint8)
    mask[20:50, 24:64] = 255
    wrong = write_scene_raster(
        scene.path.with_name("other_grid.tif"),
        mask,
        crs=crs,
        transform=transform,
    )
    args = app_main.parse_args([str(scene.path), "--mask", str(wrong)])
    app_main.start(window, args)
    assert dialogs and dialogs[-1][0] == "Cannot open the image"
    assert "other_grid.tif is not on the image grid" in dialogs[-1][1]
    assert expected in dialogs[-1][1]
    assert window.document is None and window.isVisible()
    assert not LabelLayer.default_path(scene.path).exists()  # nothing half-created
    assert window.open_image(scene.path)  # the app goes on


def test_weights_of_another_architecture_on_the_command_line_give_a_dialog(
    qtbot, dialogs, scene, tmp_path: Path
):
    torchvision = pytest.importorskip("torchvision")
    resnet = tmp_path / "resnet18.pth"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), resnet)
    window = new_window(qtbot)
    try:
        args = app_main.parse_args([str(scene.path), "--weights", str(resnet)])
        with qtbot.waitSignal(window.worker.failed, timeout=TIMEOUT_MS):
            app_main.start(window, args)
        assert dialogs[-1][0] == "Cannot load the model"
        assert "resnet18.pth" in dialogs[-1][1] and "bare state dict" in dialogs[-1][1]
        assert window.document is not None  # the image opened all the same
        assert "no model" in window.status.device.text()
        window.controller.click(30, 30, True)
        assert window.controller.session.target is None  # clicks wait for a model
    finally:
        window.shutdown()
