"""Glue between the canvas, the annotation session, the inference worker and the overlays.

Runs on the GUI thread and never calls the model or reads large rasters: it turns canvas events
into session actions, hands the session's requests to the worker, applies the worker's results and
redraws what changed.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot

from isegsat.app.annotation import AnnotationSession
from isegsat.app.annotation_types import Change, Mode, PredictResult
from isegsat.app.brush import Stroke
from isegsat.app.canvas import ImageCanvas
from isegsat.app.geo import RasterError
from isegsat.app.inference_worker import InferenceWorker
from isegsat.app.overlay import LabelOverlay, TargetOverlay


class AnnotationController(QObject):
    """Drives one `AnnotationSession` (replaced on every image open) from the canvas."""

    changed = Signal()  # session state changed (progress, undo availability, mode)
    message = Signal(str)  # transient status-bar text
    result_applied = Signal(object)  # PredictResult that reached the session
    failed = Signal(str, str)  # (title, message): a label write failed (e.g. disk full)
    tile_accepted = Signal(object)  # AcceptedTile of a tile-mode accept (a training sample)

    def __init__(self, canvas: ImageCanvas, worker: InferenceWorker, parent=None) -> None:
        super().__init__(parent)
        self.canvas = canvas
        self.worker = worker
        self.session: AnnotationSession | None = None
        self.labels = LabelOverlay(canvas.scene())
        self.target = TargetOverlay(canvas.scene())
        self.model_ready = False
        canvas.clicked.connect(self.click)
        canvas.brush.stroke_finished.connect(self.stroke)
        canvas.view_changed.connect(self._update_label_chunks)
        worker.result_ready.connect(self.apply)
        worker.failed.connect(self._request_failed)

    def set_session(self, session: AnnotationSession | None) -> None:
        self.session = session
        if session is None:
            self.labels.set_labels(None)
        else:
            self.labels.set_labels(session.labels, session.height, session.width)
            self._update_label_chunks()
        self._redraw(Change())

    # ------------------------------------------------------------------ actions
    def click(self, y: int, x: int, positive: bool) -> None:
        if self.session is None:
            return
        if not self.model_ready:
            self.message.emit("No model loaded: Model ▸ Open checkpoint… first.")
            return
        change = self.session.click(y, x, positive)
        target = self.session.target
        if change.request is None and target is not None and target.clicks:
            self.message.emit("Accept (Space) or reset (Esc) the framed target first.")
        self._redraw(change)

    @Slot(object)  # from the worker thread: a slot, queued to the GUI thread
    def apply(self, result: PredictResult) -> None:
        if self.session is None:
            return
        change = self.session.apply(result)
        if change is not None:
            self.result_applied.emit(result)
            self._redraw(change)

    @Slot(str, str)
    def _request_failed(self, title: str, message: str) -> None:
        if self.session is not None:
            self.session.abandon_request()

    def stroke(self, stroke: Stroke) -> None:
        if self.session is None:
            return
        painted = stroke.rasterise(self.session.height, self.session.width)
        if painted is not None:
            box, footprint = painted
            self._act(AnnotationSession.paint, box, footprint, 0 if stroke.erase else 1)

    def accept(self) -> None:
        if self.session is None:
            return
        if self.session.pending:
            self.message.emit("Waiting for the model's answer to the last click…")
            return
        if self._act(AnnotationSession.accept) and self.session.mode is Mode.TILE:
            self.show_tile()

    def apply_draft(self, edits) -> bool:
        """Add a scene draft's label blocks as one undoable step (see
        `AnnotationSession.apply_draft`); False when the labels could not be written."""
        return self._act(AnnotationSession.apply_draft, edits)

    def undo(self) -> None:
        self._act(AnnotationSession.undo)

    def redo(self) -> None:
        self._act(AnnotationSession.redo)

    def reset(self) -> None:
        self._act(AnnotationSession.reset)

    def set_mode(self, mode: Mode) -> None:
        self._act(AnnotationSession.set_mode, mode)

    def set_tile_size(self, size: int) -> None:
        """Re-cut the scene into size x size tiles (tile progress restarts) and show tile 1."""
        if self.session is not None:
            self.session.set_tile_size(size)
            self._redraw(Change())
            self.show_tile()

    def _act(self, method, *args) -> bool:
        """Run an AnnotationSession method on the open session and redraw what changed.

        A label layer that cannot record the change (disk full, ...) leaves the session as it was
        and emits `failed`; returns False then (and without a session)."""
        if self.session is None:
            return False
        try:
            change = method(self.session, *args)
        except RasterError as exc:
            self.failed.emit("Cannot write the labels", str(exc))
            return False
        self._redraw(change)
        return True

    def step_tile(self, step: int) -> None:
        if self.session is not None:
            self._act(AnnotationSession.goto_tile, self.session.tile_index + step)
            self.show_tile()

    def show_tile(self) -> None:
        """Zoom the view onto the current tile."""
        box = self.session.tile_box
        self.canvas.fit_box(box.col, box.row, box.width, box.height)

    def set_threshold(self, threshold: float) -> None:
        if self.session is not None:
            self.session.config.threshold = threshold
            self._redraw(Change())

    # ------------------------------------------------------------------ drawing
    def _redraw(self, change: Change) -> None:
        session = self.session
        if change.request is not None:
            self.worker.submit(change.request)
        if session is None:
            self.target.show(None, None, None)
            self.changed.emit()
            return
        target = session.target
        tile_mode = session.mode is Mode.TILE
        frame = session.tile_box if tile_mode else (target.box if target else None)
        hide = target.box if tile_mode and target is not None and target.clicks else None
        self.labels.set_hidden(hide)
        if change.label_box is not None:
            self.labels.refresh(change.label_box)
        shown = session.current_mask() if target is not None and target.clicks else None
        self.target.show(frame, target, shown)
        self.changed.emit()
        if change.accepted is not None:
            self.tile_accepted.emit(change.accepted)

    def _update_label_chunks(self) -> None:
        view = self.canvas
        rect = view.mapToScene(view.viewport().rect()).boundingRect()
        self.labels.update_visible(rect, 1.0 / max(view.scale_factor(), 1e-9))
