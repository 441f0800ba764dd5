"""The main window's dialogs: file pickers, recent files, errors, recovery, export, shortcuts.

Dialogs of their own modules (export, recovery, model picker, shortcuts) are called through
their public functions; errors always go through `error()` (QMessageBox.critical) so the app
keeps running after any failure.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMenu, QMessageBox

from isegsat.app.export_dialog import run_export_dialog
from isegsat.app.geo.boxes import to_window
from isegsat.app.help_dialog import show_shortcuts
from isegsat.app.model_picker import choose_checkpoint
from isegsat.app.recovery import offer_recovery

IMAGE_FILTER = "Rasters (*.tif *.tiff *.vrt *.jp2 *.img);;All files (*)"


class WindowDialogs:
    def __init__(self, window: QMainWindow) -> None:
        self.window = window

    def error(self, title: str, message: str) -> None:
        QMessageBox.critical(self.window, title, message)

    def warn(self, title: str, message: str) -> None:
        QMessageBox.warning(self.window, title, message)

    def last_folder(self) -> str:
        """The folder of the last image opened (where Open starts), else the home folder."""
        recent = self.window.settings.recent_files
        return str(recent[0].parent if recent else Path.home())

    def ask_image(self) -> None:
        name, _ = QFileDialog.getOpenFileName(
            self.window, "Open image", self.last_folder(), IMAGE_FILTER
        )
        if name:
            self.window.open_image(Path(name))

    def ask_mask(self) -> None:
        if self.window.document is None:
            self.error("No image", "Open an image first, then the mask to start from.")
            return
        name, _ = QFileDialog.getOpenFileName(
            self.window, "Start the labels from a mask", self.last_folder(), IMAGE_FILTER
        )
        if name:
            image = self.window.document.image_path
            self.window.open_image(image, Path(name), restart_from_mask=True)

    def ask_recovery(self, label_path: Path) -> bool:
        return offer_recovery(self.window, label_path)

    def ask_checkpoint(self) -> None:
        path = choose_checkpoint(self.window, self.window.settings)
        if path is not None:
            self.window.load_model(path)

    def export(self) -> None:
        document = self.window.document
        if document is None:
            self.error("Nothing to export", "Open an image and label it first.")
            return
        self.window.save()
        session = self.window.controller.session
        tile = to_window(session.tile_box) if session is not None else None
        settings = self.window.settings
        path = run_export_dialog(
            self.window, document.labels, document.source, tile, settings=settings
        )
        if path is not None:
            self.window.status.show_written(f"Exported to {path}", path)

    def shortcuts(self) -> None:
        show_shortcuts(self.window, list(self.window.named_actions.values()))

    def add_recent_menu(self, file_menu: QMenu, before: QAction) -> None:
        menu = QMenu("Open &recent", file_menu)
        file_menu.insertMenu(before, menu)
        menu.aboutToShow.connect(lambda: self._fill_recent(menu))

    def _fill_recent(self, menu: QMenu) -> None:
        menu.clear()
        for path in self.window.settings.recent_files:
            action = menu.addAction(str(path))
            action.triggered.connect(lambda _=False, p=path: self.window.open_image(p))
        menu.setEnabled(True)
