"""The shortcut table is built from the real actions and follows their shortcuts."""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow

from isegsat.app.help_dialog import MOUSE_ROWS, shortcut_rows, show_shortcuts


def _window_with_actions(qtbot) -> tuple[QMainWindow, list[QAction]]:
    window = QMainWindow()
    qtbot.addWidget(window)
    menu = window.menuBar().addMenu("&File")
    open_action = menu.addAction("&Open raster…")
    open_action.setShortcut(QKeySequence.StandardKey.Open)
    menu.addSeparator()
    accept = menu.addAction("&Accept tile")
    accept.setShortcuts([QKeySequence("Space"), QKeySequence("Return")])
    menu.addAction("About isegsat")  # no shortcut: not listed
    return window, menu.actions()


def test_rows_list_bound_actions_without_ampersands(qtbot) -> None:
    _, actions = _window_with_actions(qtbot)
    rows = shortcut_rows(actions)
    native = QKeySequence.SequenceFormat.NativeText
    assert rows == [
        ("Open raster…", QKeySequence(QKeySequence.StandardKey.Open).toString(native)),
        ("Accept tile", "Space, Return"),
    ]


def test_dialog_table_follows_a_changed_shortcut(qtbot) -> None:
    window, actions = _window_with_actions(qtbot)
    actions[2].setShortcut(QKeySequence("Ctrl+Shift+A"))
    dialog = show_shortcuts(window, actions)
    qtbot.waitExposed(dialog)
    table = dialog.table
    cells = [(table.item(r, 0).text(), table.item(r, 1).text()) for r in range(table.rowCount())]
    assert ("Accept tile", "Ctrl+Shift+A") in cells
    assert cells[: len(MOUSE_ROWS)] == list(MOUSE_ROWS)  # the mouse bindings come first
    assert ("Building here (positive click)", "Left click") in cells
    assert table.rowCount() == len(MOUSE_ROWS) + 2
    assert dialog.isVisible() and not dialog.isModal()
    dialog.close()
