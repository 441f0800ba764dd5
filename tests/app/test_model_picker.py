"""Model picker: bundled + recent checkpoints + "Open checkpoint…", and the chosen-path signal."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures_dialogs import redirected_settings
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from isegsat.app.model_picker import OPEN_ENTRY_TEXT, ModelPickerCombo, choose_checkpoint
from isegsat.app.settings import AppSettings


@pytest.fixture
def app_settings(tmp_path: Path) -> AppSettings:
    return redirected_settings(tmp_path)


@pytest.fixture
def checkpoints(tmp_path: Path, monkeypatch) -> dict[str, Path]:
    """A bundled checkpoint (through ISEGSAT_WEIGHTS) and two user checkpoints on disk."""
    folder = tmp_path / "models"
    folder.mkdir()
    paths = {name: folder / f"{name}.pth" for name in ("bundled", "finetuned", "older")}
    for path in paths.values():
        path.write_bytes(b"\x80\x02}q\x00.")  # the picker lists files; loading is the caller's job
    monkeypatch.setenv("ISEGSAT_WEIGHTS", str(paths["bundled"]))
    return paths


def _entries(combo: ModelPickerCombo) -> list[str]:
    return [combo.itemText(i) for i in range(combo.count())]


def _choose_file(monkeypatch, answer: Path | None) -> list[str]:
    """Make QFileDialog answer ``answer`` (None = Cancel); return the start dirs it was given."""
    asked: list[str] = []

    def fake(parent, caption, directory, filter):
        asked.append(directory)
        assert "*.pth" in filter and "*.pt" in filter
        return (str(answer) if answer else "", "")

    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(fake))
    return asked


def test_lists_bundled_existing_recent_and_open_entry(qtbot, app_settings, checkpoints) -> None:
    app_settings.add_recent_checkpoint(checkpoints["older"])
    app_settings.add_recent_checkpoint(checkpoints["bundled"].parent / "deleted.pth")
    app_settings.add_recent_checkpoint(checkpoints["finetuned"])
    combo = ModelPickerCombo(app_settings)
    qtbot.addWidget(combo)
    assert _entries(combo) == [
        "Bundled model (bundled)",
        "finetuned.pth",
        "older.pth",
        OPEN_ENTRY_TEXT,
    ]
    assert combo.currentIndex() == 0 and combo.current_checkpoint() is None


def test_without_bundled_model_or_recents_only_open_entry(qtbot, app_settings, monkeypatch) -> None:
    monkeypatch.setenv("ISEGSAT_WEIGHTS", "/nonexistent/model.pth")
    combo = ModelPickerCombo(app_settings)
    qtbot.addWidget(combo)
    assert _entries(combo) == [OPEN_ENTRY_TEXT]
    assert combo.current_checkpoint() is None


def test_picking_a_recent_entry_emits_its_path(qtbot, app_settings, checkpoints) -> None:
    app_settings.add_recent_checkpoint(checkpoints["finetuned"])
    combo = ModelPickerCombo(app_settings)
    qtbot.addWidget(combo)
    with qtbot.waitSignal(combo.checkpointChosen, timeout=1000) as blocker:
        qtbot.keyClick(combo, Qt.Key.Key_Down)
    assert blocker.args == [checkpoints["finetuned"].resolve()]
    assert combo.currentText() == "finetuned.pth"
    combo.select_checkpoint(checkpoints["finetuned"])  # the app confirms once it has loaded
    assert combo.current_checkpoint() == checkpoints["finetuned"].resolve()
    assert combo.currentText() == "finetuned.pth"


def test_failed_load_shows_the_previous_model_again(qtbot, app_settings, checkpoints) -> None:
    app_settings.add_recent_checkpoint(checkpoints["older"])
    app_settings.add_recent_checkpoint(checkpoints["finetuned"])
    combo = ModelPickerCombo(app_settings)
    qtbot.addWidget(combo)
    combo.select_checkpoint(checkpoints["older"])
    assert app_settings.recent_checkpoints[0] == checkpoints["older"].resolve()
    with qtbot.waitSignal(combo.checkpointChosen, timeout=1000):
        combo.activated.emit(_entries(combo).index("finetuned.pth"))
    assert combo.currentText() == "finetuned.pth"
    app_settings.remove_recent_checkpoint(checkpoints["finetuned"])  # what the app does on failure
    combo.refresh()
    assert combo.currentText() == "older.pth"
    assert "finetuned.pth" not in _entries(combo)
    assert combo.current_checkpoint() == checkpoints["older"].resolve()


def test_open_entry_adds_the_chosen_file_on_top(
    qtbot, app_settings, checkpoints, tmp_path, monkeypatch
) -> None:
    app_settings.add_recent_checkpoint(checkpoints["older"])
    new = tmp_path / "run7" / "best.pt"
    new.parent.mkdir()
    new.write_bytes(b"x")
    asked = _choose_file(monkeypatch, new)
    combo = ModelPickerCombo(app_settings)
    qtbot.addWidget(combo)
    with qtbot.waitSignal(combo.checkpointChosen, timeout=1000) as blocker:
        qtbot.keyClick(combo, Qt.Key.Key_End)
    assert blocker.args == [new.resolve()]
    assert asked == [str(checkpoints["older"].parent.resolve())]
    assert app_settings.recent_checkpoints[0] == new.resolve()
    assert combo.currentText() == "best.pt"
    assert _entries(combo)[-1] == OPEN_ENTRY_TEXT


def test_cancelled_open_keeps_the_previous_model(
    qtbot, app_settings, checkpoints, monkeypatch
) -> None:
    _choose_file(monkeypatch, None)
    combo = ModelPickerCombo(app_settings)
    qtbot.addWidget(combo)
    with qtbot.assertNotEmitted(combo.checkpointChosen):
        qtbot.keyClick(combo, Qt.Key.Key_End)
    assert combo.currentText() == "Bundled model (bundled)"
    assert combo.current_checkpoint() is None


def test_choose_checkpoint_dialog(app_settings, tmp_path, monkeypatch) -> None:
    _choose_file(monkeypatch, None)
    assert choose_checkpoint(None, app_settings) is None
    assert app_settings.recent_checkpoints == []
    chosen = tmp_path / "m.pth"
    chosen.write_bytes(b"x")
    _choose_file(monkeypatch, chosen)
    assert choose_checkpoint(None, app_settings) == chosen.resolve()
    assert app_settings.recent_checkpoints == [chosen.resolve()]
