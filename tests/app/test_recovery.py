"""Recovery question: counts the journaled edits and its answer drives LabelLayer.open."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures_dialogs import BUILDINGS, labelled_layer, write_scene
from PySide6.QtWidgets import QMessageBox
from rasterio.windows import Window

from isegsat.app.geo import LabelLayer
from isegsat.app.recovery import offer_recovery, unsaved_edit_count

_EXPECTED = sum((r1 - r0) * (c1 - c0) for r0, r1, c0, c1 in BUILDINGS)


@pytest.fixture
def crashed_label(tmp_path: Path) -> Path:
    """A label layer whose session ended with its accepted edits only in the journal."""
    image = write_scene(tmp_path / "scene.tif")
    label = tmp_path / "scene_labels.tif"
    layer = labelled_layer(image, label)
    layer.close()  # no flush: the edits stay journaled, as after a crash
    return label


def _answer_with(monkeypatch, button_text: str | None) -> list[str]:
    """Replace the modal exec by a click on ``button_text`` (None = Escape); record the texts."""
    shown: list[str] = []

    def fake_exec(box: QMessageBox) -> int:
        shown.append(box.text())
        if button_text is None:
            box.escapeButton().click()
        else:
            next(b for b in box.buttons() if b.text() == button_text).click()
        return 0

    monkeypatch.setattr(QMessageBox, "exec", fake_exec)
    return shown


def _building_pixels(label: Path) -> int:
    with LabelLayer.open(label, recover=False) as layer:
        return int(layer.read(Window(0, 0, layer.width, layer.height)).sum())


def test_recover_replays_the_journal(qtbot, monkeypatch, crashed_label: Path) -> None:
    shown = _answer_with(monkeypatch, "Recover")
    assert unsaved_edit_count(crashed_label) == len(BUILDINGS)
    assert offer_recovery(None, crashed_label) is True
    assert shown == ["Recover 2 accepted edits from the last session?"]
    with LabelLayer.open(crashed_label, recover=True) as layer:
        mask = layer.read(Window(0, 0, layer.width, layer.height))
        layer.flush()
    assert int(mask.sum()) == _EXPECTED
    assert _building_pixels(crashed_label) == _EXPECTED


def test_discard_drops_the_edits(qtbot, monkeypatch, crashed_label: Path) -> None:
    _answer_with(monkeypatch, "Discard")
    assert offer_recovery(None, crashed_label) is False
    assert _building_pixels(crashed_label) == 0
    assert not LabelLayer.has_unsaved_recovery(crashed_label)


def test_escape_keeps_the_edits(qtbot, monkeypatch, crashed_label: Path) -> None:
    _answer_with(monkeypatch, None)
    assert offer_recovery(None, crashed_label) is True


def test_no_question_without_a_journal(qtbot, monkeypatch, tmp_path: Path) -> None:
    image = write_scene(tmp_path / "scene.tif")
    layer = labelled_layer(image, tmp_path / "saved_labels.tif")
    layer.flush()
    layer.close()
    shown = _answer_with(monkeypatch, "Recover")
    assert offer_recovery(None, tmp_path / "saved_labels.tif") is False
    assert offer_recovery(None, tmp_path / "missing_labels.tif") is False
    assert shown == []
    assert _building_pixels(tmp_path / "saved_labels.tif") == _EXPECTED
