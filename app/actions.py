"""Every user action of the main window: name, menu, text and keyboard shortcuts in one table."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu


@dataclass(frozen=True)
class ActionSpec:
    name: str
    menu: str
    text: str
    shortcuts: tuple[str, ...] = ()
    checkable: bool = False


SPECS = (
    ActionSpec("open_image", "&File", "&Open image…", ("Ctrl+O",)),
    ActionSpec("open_mask", "&File", "Start from &mask…", ("Ctrl+M",)),
    ActionSpec("save", "&File", "&Save labels", ("Ctrl+S",)),
    ActionSpec("export", "&File", "&Export…", ("Ctrl+E",)),
    ActionSpec("quit", "&File", "&Quit", ("Ctrl+Q",)),
    ActionSpec("undo", "&Edit", "&Undo", ("Ctrl+Z",)),
    ActionSpec("redo", "&Edit", "&Redo", ("Ctrl+Shift+Z", "Ctrl+Y")),
    ActionSpec("accept", "&Edit", "&Accept tile / object", ("Space", "Return", "Enter")),
    ActionSpec("reset", "&Edit", "Reset &clicks", ("Esc",)),
    ActionSpec("fit", "&View", "&Fit to window", ("F", "Ctrl+0")),
    ActionSpec("actual", "&View", "&1:1 pixels", ("1", "Ctrl+1")),
    ActionSpec("zoom_in", "&View", "Zoom &in", ("+", "=")),
    ActionSpec("zoom_out", "&View", "Zoom &out", ("-",)),
    ActionSpec("outline", "&View", "Labels as &outlines", ("L",), True),
    ActionSpec("probability", "&View", "&Probability map", ("M",), True),
    ActionSpec("bands", "&View", "&Bands…", ("Ctrl+B",)),
    ActionSpec("tile_mode", "&Annotate", "&Tile mode", ("T",), True),
    ActionSpec("object_mode", "&Annotate", "&Object mode", ("O",), True),
    ActionSpec("next_tile", "&Annotate", "&Next tile", ("N",)),
    ActionSpec("prev_tile", "&Annotate", "&Previous tile", ("P",)),
    ActionSpec("goto_tile", "&Annotate", "&Go to tile…", ("Ctrl+G",)),
    ActionSpec("next_undone", "&Annotate", "Next &undone tile", ("U",)),
    ActionSpec("prelabel", "&Annotate", "&Pre-label scene", ("Ctrl+Shift+P",)),
    ActionSpec("click_tool", "&Annotate", "&Click tool", ("C",), True),
    ActionSpec("brush", "&Annotate", "&Brush", ("B",), True),
    ActionSpec("eraser", "&Annotate", "&Eraser", ("E",), True),
    ActionSpec("brush_bigger", "&Annotate", "Bigger brush", ("]",)),
    ActionSpec("brush_smaller", "&Annotate", "Smaller brush", ("[",)),
    ActionSpec("open_checkpoint", "&Model", "Open &checkpoint…", ("Ctrl+Shift+O",)),
    ActionSpec("default_model", "&Model", "Use the &default model", ()),
    ActionSpec("adapt", "&Model", "&Adapt the model to this scene", ("Ctrl+Shift+A",)),
    ActionSpec("adapt_every", "&Model", "Adapt automatically &every…"),
    ActionSpec("previous_model", "&Model", "Use the &previous model"),
    ActionSpec("shortcuts", "&Help", "&Keyboard shortcuts", ("F1",)),
)


def build_actions(window: QMainWindow) -> tuple[dict[str, QAction], dict[str, QMenu]]:
    """Create the actions and their menus on `window`; returns (actions by name, menus by title)."""
    actions: dict[str, QAction] = {}
    menus: dict[str, QMenu] = {}
    for spec in SPECS:
        menu = menus.get(spec.menu) or window.menuBar().addMenu(spec.menu)
        menus[spec.menu] = menu
        action = QAction(spec.text, window)
        action.setShortcuts([QKeySequence(s) for s in spec.shortcuts])
        action.setCheckable(spec.checkable)
        menu.addAction(action)
        window.addAction(action)
        actions[spec.name] = action
    return actions, menus
