"""Asking whether to recover label edits journaled in a session that ended without saving.

Usage (the caller opens the layer with the answer)::

    labels = LabelLayer.open(path, like=source, recover=offer_recovery(window, path))

``recover=True`` replays the journal; ``recover=False`` deletes it.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path

from PySide6.QtWidgets import QMessageBox, QWidget

from isegsat.app.geo.journal import journal_path, read_journal
from isegsat.app.geo.labels import LabelLayer


def unsaved_edit_count(label_path: str | PathLike) -> int:
    """Number of complete journaled edits of ``label_path`` not yet saved into the GeoTIFF."""
    return len(read_journal(journal_path(Path(label_path)))[0])


def recovery_box(parent: QWidget | None, label_path: Path, count: int) -> QMessageBox:
    """The Recover / Discard question; Recover is the default and the Escape answer."""
    noun = "edit" if count == 1 else "edits"
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Recover unsaved labels")
    box.setText(f"Recover {count} accepted {noun} from the last session?")
    box.setInformativeText(
        f"The labels {label_path.name} were not saved when the last session ended. "
        "Discard deletes these edits for good."
    )
    recover = box.addButton("Recover", QMessageBox.ButtonRole.AcceptRole)
    box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
    box.setDefaultButton(recover)
    box.setEscapeButton(recover)
    return box


def offer_recovery(parent: QWidget | None, label_path: str | PathLike) -> bool:
    """True to recover the journaled edits of ``label_path``, False to discard them.

    Returns False without asking when there is nothing to recover.
    """
    label_path = Path(label_path)
    if not LabelLayer.has_unsaved_recovery(label_path):
        return False
    box = recovery_box(parent, label_path, unsaved_edit_count(label_path))
    box.exec()
    return box.clickedButton() is box.defaultButton()
