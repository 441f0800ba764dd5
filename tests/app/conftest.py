"""Fixtures for the Qt app tests: redirected settings, no dangling threads, a tiny georeferenced
scene, a deterministic test model, a small random-init HRNet18s checkpoint, message boxes
recorded instead of shown, and a main window with the test model loaded."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from fakes.models import BrightNearClicks
from fakes.scenes import Scene, write_scene
from PySide6.QtCore import QSettings, QThread
from PySide6.QtWidgets import QMessageBox

from isegsat.app.geo import RasterSource
from isegsat.app.inference_worker import InferenceWorker
from isegsat.app.main_window import MainWindow
from isegsat.app.settings import AppSettings
from isegsat.inference import build_model, save_checkpoint


@pytest.fixture(autouse=True)
def redirect_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """QSettings (and the label fallback cache) live under tmp_path, never in the user's home."""
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "qs"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("ISEGSAT_WEIGHTS", raising=False)


@pytest.fixture(autouse=True)
def no_dangling_qthreads(monkeypatch: pytest.MonkeyPatch):
    """Fail a test that leaves a QThread running (the thread is stopped so the run goes on).

    Started threads are held by strong references until the check, so a leaked one cannot be
    garbage-collected while running (which aborts the interpreter)."""
    started: list[QThread] = []
    original_start = QThread.start

    def tracking_start(self, *args):
        started.append(self)
        return original_start(self, *args)

    monkeypatch.setattr(QThread, "start", tracking_start)
    yield
    running = [thread for thread in started if thread.isRunning()]
    for thread in running:
        stop = getattr(thread, "stop", None)
        stop() if stop is not None else (thread.quit(), thread.wait(2000))
    assert not running, f"test left QThreads running: {running}"


@pytest.fixture
def scene(tmp_path: Path) -> Scene:
    folder = tmp_path / "scene"
    folder.mkdir()
    return write_scene(folder / "city1.tif")


@pytest.fixture
def test_model() -> BrightNearClicks:
    return BrightNearClicks().eval()


@pytest.fixture(scope="session")
def hrnet_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-init HRNet18s saved with save_checkpoint (real loading path, meaningless output)."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "hrnet18s_random.pth"
    save_checkpoint(build_model("hrnet18s"), path, {"note": "random init, tests only"})
    return path


@pytest.fixture
def scene_source(scene: Scene):
    """The scene opened as the app opens documents (closed after the test)."""
    source = RasterSource.open(scene.path)
    yield source
    source.close()


@pytest.fixture
def errors(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every QMessageBox.critical/warning (title, text) instead of a modal dialog."""
    shown: list[tuple[str, str]] = []
    record = lambda parent, title, text, *rest: shown.append((title, text))  # noqa: E731
    monkeypatch.setattr(QMessageBox, "critical", record)
    monkeypatch.setattr(QMessageBox, "warning", record)
    return shown


@pytest.fixture
def window(qtbot, errors, test_model):
    """A shown main window (900 x 700) with the test model loaded in fp32, no ZoomIn or flip."""
    worker = InferenceWorker(zoom_in=False, flip=False)
    win = MainWindow(AppSettings(), worker=worker, precision="fp32")
    qtbot.addWidget(win)
    win.resize(900, 700)
    win.show()
    with qtbot.waitSignal(win.worker.model_ready, timeout=20000):
        win.load_model(model=test_model)
    yield win
    win.shutdown()
