"""Annotate ▸ Pre-label scene (Ctrl+Shift+P): a draft of every building before the first click.

The bundled non-interactive model (`isegsat.resources.bundled_prelabel_model_path`) segments the
whole open image on a worker thread behind a progress dialog with Cancel (`PrelabelThread`);
the draft joins the label layer by union as ONE undoable step (Ctrl+Z takes it all back),
tiles already accepted keep their labels, and tile mode then starts every tile from the draft
as the previous mask, so the clicks only correct what the draft got wrong. A cancelled run is
resumed by the next "Pre-label scene" (the finished rows of windows are kept beside the draft).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Slot

from isegsat import resources
from isegsat.app.prelabel import load_prelabeller
from isegsat.app.prelabel_job import PrelabelOutcome, PrelabelRequest, PrelabelThread, draft_path
from isegsat.app.progress_dialog import run_with_progress

if TYPE_CHECKING:
    from isegsat.app.main_window import MainWindow


class PrelabelAction(QObject):
    """Runs "Pre-label scene" for the main window's open document."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.weights: Path | None = None  # the pre-labelling checkpoint (None: the bundled one)
        self.load = load_prelabeller  # (weights, device) -> (segment, model id)
        window.named_actions["prelabel"].triggered.connect(self.run)

    @Slot()
    def run(self) -> PrelabelOutcome | None:
        """Pre-label the open scene and add the draft; returns the outcome (None: nothing added)."""
        window = self.window
        session = window.controller.session
        if window.document is None or session is None:
            self._say("Open an image first (File ▸ Open image…)")
            return None
        if session.pending:
            self._say("Waiting for the model's answer to the last click…")
            return None
        weights = self.weights or resources.bundled_prelabel_model_path()
        if weights is None:
            window.dialogs.error(
                "No pre-labelling model",
                "No pre-labelling model is installed. Train one with `isegsat-train --preset "
                "baseline` and pre-label with `isegsat-prelabel IMAGE --weights CKPT`.",
            )
            return None
        labels = window.document.labels
        request = PrelabelRequest(
            image=window.document.image_path,
            draft=draft_path(labels.path),
            weights=Path(weights),
            labels=labels,
            grid=labels.grid,
            accepted=tuple(session.grid.box(index) for index in sorted(session.done)),
            device=window.device,
            load=self.load,
        )
        thread = PrelabelThread(request)
        outcome = run_with_progress(
            window, thread, "Pre-label scene", "Pre-labelling the scene…", "Pre-labelling failed"
        )
        failed = thread.error is not None
        thread.deleteLater()
        if outcome is None:
            if not failed:
                self._say("Pre-labelling cancelled: run it again to continue where it stopped")
            return None
        if not outcome.edits:
            self._say("The draft adds no building the labels do not already have")
            return outcome
        if window.controller.apply_draft(outcome.edits):
            result = outcome.result
            undo = "Ctrl+Z takes it back" if session.can_undo else "too large to undo"
            self._say(
                f"Draft added to the labels ({len(outcome.edits)} blocks changed; "
                f"{100 * result.building_fraction:.1f} % building pixels; "
                f"{result.seconds:.0f} s); {undo}. Tiles start from the draft."
            )
        return outcome

    def _say(self, text: str) -> None:
        self.window.statusBar().showMessage(text, 10000)
