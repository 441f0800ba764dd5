"""Tile navigation and tile progress on the main window: explicit moves only (N / P, go to tile,
next undone tile, Ctrl+click), done tiles tinted on the canvas, and the progress kept beside the
label layer (`tile_progress`) so a quit or a crash never loses it."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QInputDialog, QStatusBar, QWidget

from isegsat.app.annotation import AnnotationSession
from isegsat.app.annotation_types import Mode
from isegsat.app.navigation import NAVIGATION_HINT, next_undone, outside_frame
from isegsat.app.overlay import DoneTilesOverlay
from isegsat.app.session_controller import AnnotationController
from isegsat.app.tile_progress import ProgressKeeper, TileProgress, load_progress, progress_path


class TileNavigator(QObject):
    """Routes canvas clicks (a plain click outside the framed tile only shows how to move) and
    keeps the open session's tile progress on disk and on the canvas."""

    def __init__(
        self, controller: AnnotationController, status: QStatusBar, parent: QWidget
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self._status = status
        self._parent = parent
        self.done_tiles = DoneTilesOverlay(controller.canvas.scene())
        self._keeper: ProgressKeeper | None = None
        canvas = controller.canvas
        canvas.clicked.disconnect(controller.click)  # clicks pass through `click` below
        canvas.clicked.connect(self.click)
        canvas.navigate_clicked.connect(self.go_to_tile_at)

    @property
    def session(self) -> AnnotationSession | None:
        return self.controller.session

    def attach(self, session: AnnotationSession | None, label_path: Path | None) -> int | None:
        """Follow `session`; restore its progress from beside `label_path` (adopting the stored
        tile size). Returns the restored tile size, or None when nothing was restored."""
        self._keeper = None
        if session is None or label_path is None:
            self.done_tiles.show(())
            return None
        path = progress_path(label_path)
        stored = load_progress(path, session.height, session.width)
        if stored is not None:
            if stored.tile_size != session.grid.size:
                session.set_tile_size(stored.tile_size)
            session.restore_progress(stored.tile_index, stored.done)
        self._keeper = ProgressKeeper(path)
        return None if stored is None else stored.tile_size

    def refresh(self) -> None:
        """Draw the done tiles and save the progress when it changed (a failed save is said in
        the status bar; the next change tries again)."""
        session = self.session
        if session is None:
            self.done_tiles.show(())
            return
        self.done_tiles.show(tuple(session.grid.box(i) for i in sorted(session.done)))
        if self._keeper is None:
            return
        progress = TileProgress(
            session.height, session.width, session.grid.size, session.tile_index, session.done
        )
        try:
            self._keeper.keep(progress)
        except OSError as exc:
            self._status.showMessage(f"Tile progress NOT saved: {exc}", 10000)

    # ------------------------------------------------------------------ moves
    def click(self, y: int, x: int, positive: bool) -> None:
        session = self.session
        if session is not None and outside_frame(session, y, x):
            self._status.showMessage(NAVIGATION_HINT, 10000)
            return
        self.controller.click(y, x, positive)

    def go_to_tile_at(self, y: int, x: int) -> None:
        """Ctrl+click: frame the tile under image pixel (y, x) (tile mode)."""
        session = self.session
        if session is None or session.mode is not Mode.TILE:
            return
        if 0 <= y < session.height and 0 <= x < session.width:
            self.go_to(session.grid.index_at(y, x))

    def go_to(self, index: int) -> None:
        """Frame tile `index` (0-based) and zoom onto it."""
        session = self.session
        if session is not None:
            if session.mode is not Mode.TILE:
                self.controller.set_mode(Mode.TILE)
            self.controller.step_tile(index - session.tile_index)

    def ask_tile(self) -> None:
        """Ask for a tile number (1-based, as the panel shows them) and go there."""
        session = self.session
        if session is None:
            return
        count = session.grid.count
        number, ok = QInputDialog.getInt(
            self._parent, "Go to tile", f"Tile (1–{count}):", session.tile_index + 1, 1, count
        )
        if ok:
            self.go_to(number - 1)

    def next_undone(self) -> None:
        session = self.session
        if session is None:
            return
        index = next_undone(session.done, session.grid.count, session.tile_index)
        if index is None:
            self._status.showMessage("Every tile is done.", 6000)
            return
        self.go_to(index)
