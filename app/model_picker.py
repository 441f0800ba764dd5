"""Choosing the interactive model checkpoint: a file dialog and a combo box of known checkpoints.

The combo lists the bundled model (``isegsat.resources.default_model_path()``), the recent
checkpoints from ``AppSettings`` that still exist, and an "Open checkpoint…" entry. Picking an entry
emits ``checkpointChosen(Path)``; the caller loads the model (off the GUI thread) and, if loading
fails, calls ``AppSettings.remove_recent_checkpoint`` and ``refresh()``.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QFileDialog, QWidget

from isegsat.app.settings import AppSettings

CHECKPOINT_FILTER = "PyTorch checkpoints (*.pth *.pt);;All files (*)"
OPEN_ENTRY_TEXT = "Open checkpoint…"


def bundled_checkpoint() -> Path | None:
    """The default model checkpoint if it exists on disk, else None."""
    try:
        from isegsat.resources import default_model_path
    except ImportError:
        return None
    path = default_model_path()
    return path if path is not None and path.is_file() else None


def choose_checkpoint(parent: QWidget | None, settings: AppSettings) -> Path | None:
    """Ask for a checkpoint file; remember it in the recent checkpoints; None when cancelled."""
    recent = settings.recent_checkpoints
    start_dir = str(recent[0].parent) if recent else str(Path.home())
    name, _ = QFileDialog.getOpenFileName(
        parent, "Open model checkpoint", start_dir, CHECKPOINT_FILTER
    )
    if not name:
        return None
    path = Path(name)
    settings.add_recent_checkpoint(path)
    return path.resolve()


class ModelPickerCombo(QComboBox):
    """Combo of checkpoints; each item's data is its path (None for the "Open…" entry).

    Picking an entry shows it and emits ``checkpointChosen(path)``; the caller confirms with
    ``select_checkpoint(path)`` once the model has loaded. After a failed load the caller forgets
    the file (``AppSettings.remove_recent_checkpoint``) and calls ``refresh()``, which shows the
    last confirmed checkpoint again.
    """

    checkpointChosen = Signal(Path)

    def __init__(self, settings: AppSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self._loaded: Path | None = None
        self.setToolTip("Interactive segmentation model")
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.refresh()
        self.activated.connect(self._on_activated)

    def current_checkpoint(self) -> Path | None:
        """The last checkpoint confirmed with ``select_checkpoint`` (None before any)."""
        return self._loaded

    def refresh(self) -> None:
        """Rebuild the entries from the bundled model and the recent checkpoints and show the
        confirmed checkpoint (the first entry when it is not listed)."""
        self._rebuild(self._loaded)

    def select_checkpoint(self, path: Path) -> None:
        """Confirm ``path`` as the loaded model: remember it and show it (no signal)."""
        resolved = Path(path).resolve()
        bundled = bundled_checkpoint()
        if bundled is None or resolved != bundled.resolve():
            self._settings.add_recent_checkpoint(resolved)
        self._loaded = resolved
        self.refresh()

    def _rebuild(self, shown: Path | None) -> None:
        bundled = bundled_checkpoint()
        entries: list[tuple[str, Path]] = []
        if bundled is not None:
            entries.append((f"Bundled model ({bundled.stem})", bundled.resolve()))
        for path in self._settings.recent_checkpoints:
            if path.is_file() and all(path != known for _, known in entries):
                entries.append((path.name, path))
        self.blockSignals(True)
        self.clear()
        for text, path in entries:
            self.addItem(text, str(path))
            self.setItemData(self.count() - 1, str(path), Qt.ItemDataRole.ToolTipRole)
        self.addItem(OPEN_ENTRY_TEXT, None)
        paths = [path for _, path in entries]
        self.setCurrentIndex(paths.index(shown) if shown in paths else 0)
        self.blockSignals(False)

    def _on_activated(self, index: int) -> None:
        data = self.itemData(index)
        chosen = choose_checkpoint(self, self._settings) if data is None else Path(data)
        self._rebuild(chosen if chosen is not None else self._loaded)
        if chosen is not None and chosen != self._loaded:
            self.checkpointChosen.emit(chosen)
