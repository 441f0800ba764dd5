"""The main window: menus and toolbar, the canvas, the annotation dock and the status bar.

It owns the open `Document` (image + label layer), the `InferenceWorker` and the autosave timer;
annotation logic lives in `AnnotationSession`, canvas wiring in `AnnotationController`.
"""

from __future__ import annotations

from concurrent.futures import Future
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QMainWindow, QToolBar

from isegsat import resources
from isegsat.app.actions import build_actions
from isegsat.app.adapt_controller import AdaptController
from isegsat.app.annotation import AnnotationSession
from isegsat.app.annotation_types import Mode, SessionConfig
from isegsat.app.canvas import ImageCanvas
from isegsat.app.document import Document, open_document
from isegsat.app.geo import RasterError
from isegsat.app.geo.layer_lock import LayerLockedError
from isegsat.app.inference_worker import InferenceWorker, LoadRequest, ModelInfo
from isegsat.app.model_picker import ModelPickerCombo
from isegsat.app.plain_errors import explain_raster_failure
from isegsat.app.prelabel_action import PrelabelAction
from isegsat.app.session_controller import AnnotationController
from isegsat.app.settings import AppSettings
from isegsat.app.side_panel import SidePanel
from isegsat.app.status_bar import StatusWidgets
from isegsat.app.tile_navigator import TileNavigator
from isegsat.app.view_controls import ViewControls
from isegsat.app.window_dialogs import WindowDialogs

TOOLBAR = ("open_image", "save", "undo", "redo", "accept", "reset", "fit", "actual",
           "tile_mode", "object_mode", "click_tool", "brush", "eraser")  # fmt: skip


class MainWindow(QMainWindow):
    # A label save asked by Ctrl+S or the autosave timer ended, after its message or dialog:
    # (reason "save" | "autosave", error text or ""); emitted on the GUI thread.
    labels_saved = Signal(str, str)
    # From the label layer's save thread: (layer, reason, Future), queued to `_save_finished`.
    _save_done = Signal(object, str, object)

    def __init__(
        self,
        settings: AppSettings | None = None,
        device: str | None = None,
        worker: InferenceWorker | None = None,
        precision: str | None = None,
    ) -> None:
        super().__init__()
        self.setWindowTitle("isegsat")
        self.resize(1280, 860)
        self.settings = settings or AppSettings()
        self.device = device if device is not None else self.settings.device
        self.precision = precision if precision is not None else self.settings.precision
        self.document: Document | None = None
        self.canvas = ImageCanvas(self)
        self.setCentralWidget(self.canvas)
        self.worker = worker or InferenceWorker(parent=self)
        self.controller = AnnotationController(self.canvas, self.worker, self)
        self.navigator = TileNavigator(self.controller, self.statusBar(), self)
        self.named_actions, self.menus = build_actions(self)
        self.panel = SidePanel(
            self.settings.threshold, self.settings.opacity, self.settings.tile_size, self
        )
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.panel)
        self.status = StatusWidgets(self.statusBar())
        self.dialogs = WindowDialogs(self)
        self.view = ViewControls(self)  # outlines, probability map, bands
        self.prelabel = PrelabelAction(self)  # Annotate ▸ Pre-label scene
        self.adapt = AdaptController(self)  # accepted tiles as samples; adapting the model
        toolbar = QToolBar("Main", self)
        toolbar.setObjectName("main_toolbar")
        self.picker = ModelPickerCombo(self.settings, self)
        toolbar.addWidget(self.picker)  # first, so a narrow window never hides it in the overflow
        toolbar.addSeparator()
        toolbar.addActions([self.named_actions[name] for name in TOOLBAR])
        self._loading: Path | None = None
        self._model: ModelInfo | None = None  # the model in use (kept when a load fails)
        self.model_path: Path | None = None  # its checkpoint (None: none or loaded in memory)
        self.tile_model_path: Path | None = None  # tile mode's (model_path when one serves both)
        self._loading_tile: Path | None = None
        self.addToolBar(toolbar)
        self.autosave = QTimer(self)
        self.autosave.setInterval(max(1, self.settings.autosave_seconds) * 1000)
        self.autosave.timeout.connect(self._autosave)
        self._autosave_failed = False  # the last autosave failed (its dialog was shown once)
        self.controller.labels.set_opacity(self.settings.opacity)
        self._connect()
        self.setAcceptDrops(True)
        self.worker.start()
        self._refresh()

    # ------------------------------------------------------------------ wiring
    def _connect(self) -> None:
        a, c = self.named_actions, self.controller
        triggers = {
            "open_image": self.dialogs.ask_image,
            "open_mask": self.dialogs.ask_mask,
            "save": self.save_and_confirm,
            "export": self.dialogs.export,
            "quit": self.close,
            "undo": lambda: self._step_history(c.undo),
            "redo": lambda: self._step_history(c.redo),
            "accept": c.accept,
            "reset": c.reset,
            "fit": self.canvas.fit,
            "actual": self.canvas.actual_size,
            "zoom_in": lambda: self.canvas.zoom_by(1.25),
            "zoom_out": lambda: self.canvas.zoom_by(0.8),
            "tile_mode": lambda: c.set_mode(Mode.TILE),
            "object_mode": lambda: c.set_mode(Mode.OBJECT),
            "next_tile": lambda: c.step_tile(1),
            "prev_tile": lambda: c.step_tile(-1),
            "goto_tile": self.navigator.ask_tile,
            "next_undone": self.navigator.next_undone,
            "click_tool": lambda: self._set_tool(False, False),
            "brush": lambda: self._set_tool(True, False),
            "eraser": lambda: self._set_tool(True, True),
            "brush_bigger": lambda: self._resize_brush(1),
            "brush_smaller": lambda: self._resize_brush(-1),
            "open_checkpoint": self.dialogs.ask_checkpoint,
            "default_model": self.load_default_model,
            "shortcuts": self.dialogs.shortcuts,
        }
        for name, slot in triggers.items():
            a[name].triggered.connect(slot)
        self.dialogs.add_recent_menu(self.menus["&File"], before=a["save"])
        c.changed.connect(self._refresh)
        c.message.connect(lambda text: self.statusBar().showMessage(text, 6000))
        c.failed.connect(self.dialogs.error)
        c.result_applied.connect(lambda r: self.status.show_latency(r.latency_s))
        self.canvas.cursor_moved.connect(
            lambda x, y: self.status.show_position(self.canvas_source, x, y)
        )
        self.canvas.load_failed.connect(self._tile_load_failed)
        self.panel.threshold_changed.connect(self._set_threshold)
        self.panel.opacity_changed.connect(self._set_opacity)
        self.panel.tile_size_changed.connect(self._set_tile_size)
        self.picker.checkpointChosen.connect(self.load_model)
        # The worker's signals cross threads: their receivers are this window's slots (queued to
        # the GUI thread; PySide 6.8+ can crash on cross-thread calls to plain callables).
        self.worker.model_loading.connect(self._model_loading)
        self.worker.model_ready.connect(self._model_ready)
        self.worker.failed.connect(self._worker_failed)
        self.worker.warning.connect(self._worker_warning)
        self._save_done.connect(self._save_finished)

    @property
    def canvas_source(self):
        return self.document.source if self.document is not None else None

    # ------------------------------------------------------------------ documents
    def open_image(
        self, path: Path, mask: Path | None = None, restart_from_mask: bool = False
    ) -> bool:
        """Open an image (and optionally start its labels from `mask`); False after an error
        dialog. The previous document is saved and closed (before opening when it is the same
        image, so its label layer is never open twice; after a successful open otherwise)."""
        path = Path(path)
        if self.document is not None and self.document.image_path.resolve() == path.resolve():
            self.close_document()
        try:
            document = open_document(path, mask, self.dialogs.ask_recovery, restart_from_mask)
        except LayerLockedError as exc:  # another window or process writes these labels
            self.dialogs.error("Labels open elsewhere", str(exc))
            return False
        except (RasterError, OSError) as exc:
            self.dialogs.error("Cannot open the image", explain_raster_failure(path, str(exc)))
            return False
        self.close_document()
        self.document = document
        self.view.document_opened(document)  # its remembered bands, before any tile is read
        self.adapt.document_opened(document)
        self.settings.add_recent_file(document.image_path)
        config = SessionConfig(tile_size=self.panel.tile_size.value())
        config.threshold = self.panel.threshold.value() / 100
        session = AnnotationSession(
            document.labels, document.source, document.source.height,
            document.source.width, config,
        )  # fmt: skip
        restored = self.navigator.attach(session, document.labels.path)
        if restored is not None:
            self.panel.tile_size.blockSignals(True)
            self.panel.tile_size.setValue(restored)
            self.panel.tile_size.blockSignals(False)
        self.canvas.set_source(document.source)
        self.status.position.clear()  # no coordinates (or CRS) of the previous image
        self.controller.set_session(session)
        self.controller.show_tile()
        self.setWindowTitle(f"isegsat — {document.image_path.name}")
        self.statusBar().showMessage(document.note, 8000)
        self.autosave.start()
        return True

    def close_document(self) -> None:
        if self.document is None:
            return
        self.autosave.stop()
        self.save()
        self.navigator.attach(None, None)
        self.controller.set_session(None)
        self.canvas.close_source()
        self.adapt.document_closed()  # cancels a run, finishes sample writes (before the source)
        self.document.close()
        self.document = None

    # Labels are always written on the layer's save thread (LabelLayer.save_in_background);
    # Ctrl+S and the autosave timer get the result back in `_save_finished`, while closing and
    # quitting block in `save()` until the final save is on disk.
    def save(self) -> bool:
        """Save the labels and wait for it (closing, quitting): the file is written on the
        layer's save thread while the GUI thread blocks here. On failure an error dialog
        (edits stay journaled) and False."""
        if self.document is None:
            return True
        error = self._save_error(self.document.labels.save_in_background())
        if error is not None:
            self.dialogs.error("Cannot save the labels", error)
        return error is None

    def save_and_confirm(self) -> None:
        """Ctrl+S: save in the background; `_save_finished` says where the labels went (status
        bar, with "Open folder") or shows the error."""
        self._save_in_background("save")

    def _autosave(self) -> None:
        """Timer save, in the background (the result: `_save_finished`)."""
        self._save_in_background("autosave")

    def _save_in_background(self, reason: str) -> None:
        if self.document is None:
            return
        labels = self.document.labels
        future = labels.save_in_background()
        future.add_done_callback(lambda done: self._save_done.emit(labels, reason, done))

    @Slot(object, str, object)
    def _save_finished(self, labels, reason: str, future: Future) -> None:
        """A background save ended (GUI thread). Ctrl+S: where the labels went, or a dialog.
        Autosave: a failure is shown in a dialog once, then only in the status bar until a save
        succeeds again (no dialog piles up every interval while the disk stays full). A result
        for a document closed meanwhile is dropped (closing saved it again and said so)."""
        if self.document is None or labels is not self.document.labels:
            return
        error = self._save_error(future)
        if reason == "autosave":
            if error is not None and not self._autosave_failed:
                self.dialogs.error("Cannot save the labels", error)
            self._autosave_failed = error is not None
        elif error is not None:
            self.dialogs.error("Cannot save the labels", error)
        else:
            self.status.show_written(f"Labels saved to {labels.path}", labels.path)
        self.labels_saved.emit(reason, error or "")

    def _save_error(self, future: Future) -> str | None:
        """Wait for a label save; its error text (also in the status bar) or None."""
        exc = future.exception()
        if exc is None:
            return None
        self.statusBar().showMessage(f"Labels NOT saved: {exc}")
        return f"{exc}\nEdits stay in the journal."

    # ------------------------------------------------------------------ model
    def load_model(
        self, path: Path | None = None, model=None, tile_path: Path | None = None
    ) -> None:
        """Load checkpoint `path` (or take `model`) for object mode, and for tile mode too
        unless `tile_path` (default: the bundled tile-mode companion of the bundled default
        model, `resources.tile_model_for`) serves tile mode."""
        self.controller.model_ready = False
        if tile_path is None or tile_path == path:
            tile_path = resources.tile_model_for(path)
        self._loading = path
        self._loading_tile = tile_path
        request = LoadRequest(path, model, self.device, self.precision, tile_path)
        self.worker.load(request)

    def load_default_model(self) -> None:
        path = resources.default_model_path()
        if path is None:
            self.status.show_no_model("no model: Model ▸ Open checkpoint…")
            self.statusBar().showMessage("No bundled model: open a checkpoint (Model menu).")
            return
        self.load_model(path)

    @Slot(str)
    def _model_loading(self, name: str) -> None:
        self.status.show_loading(name)

    @Slot(str)
    def _worker_warning(self, text: str) -> None:
        self.dialogs.warn("Model", text)

    @Slot(object)
    def _model_ready(self, info: ModelInfo) -> None:
        self._model = info
        self.controller.model_ready = True
        self.status.show_model(info)
        if self._loading is not None:
            self.model_path = self._loading
            self.tile_model_path = self._loading_tile or self._loading
            self.picker.select_checkpoint(self._loading)
            self._loading = None

    @Slot(str, str)
    def _worker_failed(self, title: str, message: str) -> None:
        if self._loading is not None:
            self.settings.remove_recent_checkpoint(self._loading)
            self.picker.refresh()
            self._loading = None
        # A failed load keeps the model that was there before, and clicks keep working with it;
        # the busy marks (loading, predicting) end either way.
        self.controller.model_ready = self.worker.has_model
        if self.worker.has_model and self._model is not None:
            self.status.show_model(self._model)
        else:
            self.status.show_no_model("no model")
        self._refresh()
        self.dialogs.error(title, message)

    def _tile_load_failed(self, message: str) -> None:
        path = self.document.image_path if self.document is not None else Path()
        self.statusBar().showMessage(explain_raster_failure(path, message), 10000)

    # ------------------------------------------------------------------ small slots
    def _step_history(self, step) -> None:
        """Undo or redo (`step`); when that changes the tile, zoom back onto it."""
        session = self.controller.session
        before = session.tile_index if session is not None else None
        step()
        if session is not None and session.mode is Mode.TILE and session.tile_index != before:
            self.controller.show_tile()

    def _set_tool(self, active: bool, erase: bool) -> None:
        self.canvas.brush.set_tool(active, erase)
        self._refresh()

    def _resize_brush(self, step: int) -> None:
        self.canvas.brush.resize(step)
        self._refresh()

    def _set_threshold(self, value: float) -> None:
        self.settings.threshold = value
        self.controller.set_threshold(value)

    def _set_opacity(self, value: float) -> None:
        self.settings.opacity = value
        self.controller.labels.set_opacity(value)

    def _set_tile_size(self, size: int) -> None:
        self.settings.tile_size = size
        self.controller.set_tile_size(size)

    def _refresh(self) -> None:
        session = self.controller.session
        brush = self.canvas.brush
        self.panel.show_session(session, brush.radius)
        mode = session.mode if session is not None else Mode.TILE
        self.named_actions["tile_mode"].setChecked(mode is Mode.TILE)
        self.named_actions["object_mode"].setChecked(mode is Mode.OBJECT)
        self.named_actions["click_tool"].setChecked(not brush.active)
        self.named_actions["brush"].setChecked(brush.active and not brush.erase)
        self.named_actions["eraser"].setChecked(brush.active and brush.erase)
        self.named_actions["undo"].setEnabled(session is not None and session.can_undo)
        self.named_actions["redo"].setEnabled(session is not None and session.can_redo)
        pending = session is not None and session.pending
        self.controller.target.set_busy(pending)
        self.status.show_predicting(pending)
        self.navigator.refresh()

    # ------------------------------------------------------------------ Qt events
    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            self.open_image(paths[0])

    def closeEvent(self, event) -> None:  # noqa: N802
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Save and close the document and stop every thread (idempotent)."""
        self.close_document()
        if self.worker.isRunning():
            self.worker.stop()
        self.settings.sync()
