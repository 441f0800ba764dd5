"""Keyboard-shortcut reference built from the window's real ``QAction`` objects, after the mouse
bindings of the canvas.

The shortcut rows are generated from the actions themselves, so they always show the shortcuts
that are actually bound (including user or platform changes) and never drift from them.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

# What the canvas (isegsat.app.canvas.ImageCanvas) does with the mouse: (action, binding).
MOUSE_ROWS = (
    ("Building here (positive click)", "Left click"),
    ("Not building here (negative click)", "Right click"),
    ("Go to the tile there (tile mode)", "Ctrl+left click"),
    ("Pan", "Left or middle drag"),
    ("Zoom around the cursor", "Wheel"),
    ("Paint / erase (brush, eraser)", "Left drag"),
    ("Open an image", "Drop a file on the window"),
)


def shortcut_rows(actions: Iterable[QAction]) -> list[tuple[str, str]]:
    """(action text without mnemonic ampersands, shortcuts as native text) for each bound action.

    Separators, actions without text and actions without a shortcut are left out; an action bound
    to several key sequences lists them separated by commas. Duplicates keep their first occurrence.
    """
    rows: list[tuple[str, str]] = []
    for action in actions:
        if action.isSeparator() or not action.text() or not action.shortcuts():
            continue
        text = action.text().replace("&&", "\0").replace("&", "").replace("\0", "&")
        keys = ", ".join(
            seq.toString(QKeySequence.SequenceFormat.NativeText) for seq in action.shortcuts()
        )
        if (text, keys) not in rows:
            rows.append((text, keys))
    return rows


class ShortcutsDialog(QDialog):
    """Read-only two-column table: action, shortcut."""

    def __init__(self, rows: list[tuple[str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Mouse and keyboard")
        self.table = QTableWidget(len(rows), 2, self)
        self.table.setHorizontalHeaderLabels(["Action", "Mouse / keys"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for row, (text, keys) in enumerate(rows):
            self.table.setItem(row, 0, QTableWidgetItem(text))
            self.table.setItem(row, 1, QTableWidgetItem(keys))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, parent=self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(420, min(640, 90 + 30 * len(rows)))


def show_shortcuts(parent: QWidget | None, actions: Iterable[QAction]) -> ShortcutsDialog:
    """Show (non-modal, deleted on close) the shortcut table for ``actions``; return the dialog."""
    dialog = ShortcutsDialog([*MOUSE_ROWS, *shortcut_rows(actions)], parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    return dialog
