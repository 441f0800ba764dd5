"""Learning from the annotator on the main window: accepted tiles become samples of the scene
(`scene_samples`), and Model ▸ Adapt the model to this scene (or every N accepted tiles, the
`adapt_every` setting) fine-tunes a copy of the model in use on them in a background process.

The process is the training package's command line (`adaptation.default_command`, never
imported), started with QProcess at a low priority; one run at a time; its last output line is
shown in the status bar; closing the document or the app cancels it. An accepted adapted model
is swapped in through the window's own model loading (the worker finishes the click it is
answering, then loads; queued clicks are answered by the new model), and the model it replaces
is kept for Model ▸ Use the previous model.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, Signal, Slot
from PySide6.QtWidgets import QInputDialog, QLabel

from isegsat.app.adaptation import (
    EXIT_ACCEPTED,
    EXIT_REFUSED,
    MIN_SAMPLES,
    AdaptRun,
    accepted_message,
    default_command,
    error_line,
    next_run,
    read_report,
    refused_message,
)
from isegsat.app.annotation_types import AcceptedTile
from isegsat.app.document import Document
from isegsat.app.scene_samples import SceneSamples, samples_folder

if TYPE_CHECKING:
    from isegsat.app.main_window import MainWindow

MESSAGE_MS = 12000


class AdaptController(QObject):
    """`command`: the adaptation program and its leading arguments (default: this Python running
    ``isegsat.training.adapt_cli``; tests put a fake program there)."""

    # From the samples' worker thread (queued to this object's slots on the GUI thread):
    _written = Signal(object, object)  # (store, Future of a sample write)
    _flushed = Signal(object, object)  # (store, Future of the count before a run)

    def __init__(self, window: MainWindow, command: Sequence[str] | None = None) -> None:
        super().__init__(window)
        self.window = window
        self.command: tuple[str, ...] = tuple(command) if command else default_command()
        self.samples: SceneSamples | None = None
        self.previous: list[Path] = []  # models replaced by adapted ones, the latest last
        self.process: QProcess | None = None
        self.run: AdaptRun | None = None
        self._starting = False  # a run waits for the sample writes before it starts
        self._since_run = 0  # tiles kept since the last run started (automatic adaptation)
        self._stderr = ""
        self._last_line = ""  # the newest output line of the run (stdout or stderr: progress)
        self._cancelled = False
        self.label = QLabel()
        self.label.setVisible(False)
        window.statusBar().addPermanentWidget(self.label)
        actions = window.named_actions
        actions["adapt"].triggered.connect(self.adapt)
        actions["adapt_every"].triggered.connect(self.ask_every)
        actions["previous_model"].triggered.connect(self.use_previous)
        window.controller.tile_accepted.connect(self.keep_tile)
        self._written.connect(self._sample_written)
        self._flushed.connect(self._start_when_flushed)
        self._show()

    @property
    def busy(self) -> bool:
        """A run is starting or running."""
        return self._starting or self.process is not None

    # ------------------------------------------------------------------ samples
    def document_opened(self, document: Document) -> None:
        """Keep the samples of `document` beside its label layer (reading the ones there)."""
        self.document_closed()
        folder = samples_folder(document.labels.path)
        self.samples = SceneSamples(folder, document.source, document.image_path.stem)
        self._since_run = 0
        self._watch(self.samples.loaded, self._written)

    def document_closed(self) -> None:
        """Cancel a run and finish the sample writes (before the document's source closes)."""
        self.cancel()
        if self.samples is not None:
            self.samples.close()
            self.samples = None
        self._starting = False
        self._show()

    @Slot(object)
    def keep_tile(self, tile: AcceptedTile) -> None:
        """An accepted tile becomes a sample (written on the store's thread)."""
        if self.samples is not None:
            self._watch(self.samples.add(tile), self._written)

    def _watch(self, future: Future, signal) -> None:
        store = self.samples
        future.add_done_callback(lambda done: signal.emit(store, done))

    @Slot(object, object)
    def _sample_written(self, store: SceneSamples, future: Future) -> None:
        if store is not self.samples:
            return
        error = future.exception()
        if error is not None and future is store.loaded:
            self._say(f"Cannot read the training samples in {store.folder}: {error}")
        elif error is not None:
            self._say(f"Tile NOT kept as a training sample: {error}")
        elif future is not store.loaded:
            self._since_run += 1
            every = self.window.settings.adapt_every
            if every and self._since_run >= every and not self.busy:
                self.adapt()
        self._show()

    # ------------------------------------------------------------------ runs
    def adapt(self) -> None:
        """Start adapting the model in use to the open scene (once its samples are written)."""
        if self.busy:
            self._say("An adaptation is already running: one at a time.")
            return
        if self.samples is None:
            self._say("Open an image and accept tiles first: they are what the model learns.")
            return
        if self.window.tile_model_path is None:
            self._say("The model in use has no checkpoint file to adapt: open one (Model menu).")
            return
        self._starting = True
        self._watch(self.samples.when_written(), self._flushed)

    @Slot(object, object)
    def _start_when_flushed(self, store: SceneSamples, future: Future) -> None:
        if store is not self.samples or not self._starting:
            return
        self._starting = False
        weights = self.window.tile_model_path
        count = future.result() if future.exception() is None else store.count
        if count < MIN_SAMPLES:
            self._say(
                f"Adapting needs at least {MIN_SAMPLES} accepted tiles (one is held back to "
                f"judge the adapted model); this scene has {count}."
            )
            return
        if weights is None:
            return
        try:
            run = next_run(store.folder, weights, count)
        except OSError as exc:
            self._say(f"Cannot adapt: {exc}")
            return
        self._start(run)

    def _start(self, run: AdaptRun) -> None:
        process = QProcess(self)
        environment = QProcessEnvironment.systemEnvironment()
        environment.insert("PYTHONUNBUFFERED", "1")  # progress lines as they come
        process.setProcessEnvironment(environment)
        process.setProgram(self.command[0])
        process.setArguments([*self.command[1:], *run.arguments()])
        process.readyReadStandardOutput.connect(self._read_output)
        process.readyReadStandardError.connect(self._read_errors)
        process.finished.connect(self._finished)
        process.errorOccurred.connect(self._process_error)
        self.process, self.run = process, run
        self._stderr = self._last_line = ""
        self._cancelled = False
        self._since_run = 0
        process.start()
        self._say(f"Adapting the model to this scene on {run.count} samples (background)…")
        self._show()

    def cancel(self) -> None:
        """Stop a run (document closed, app quit): nothing is swapped in."""
        process = self.process
        if process is None:
            return
        self._cancelled = True
        process.terminate()
        if not process.waitForFinished(3000):
            process.kill()
            process.waitForFinished(3000)
        self._end()

    @Slot()
    def _read_output(self) -> None:
        if self.process is not None:
            self._took(bytes(self.process.readAllStandardOutput()).decode(errors="replace"))

    @Slot()
    def _read_errors(self) -> None:
        if self.process is not None:
            text = bytes(self.process.readAllStandardError()).decode(errors="replace")
            self._stderr = (self._stderr + text)[-8192:]
            self._took(text)

    def _took(self, text: str) -> None:
        """Show the newest line of `text` (progress bars redraw with carriage returns)."""
        lines = [line.strip() for line in text.replace("\r", "\n").splitlines() if line.strip()]
        if lines:
            self._last_line = lines[-1]
            self._show()

    @Slot(QProcess.ProcessError)
    def _process_error(self, error: QProcess.ProcessError) -> None:
        if error is QProcess.ProcessError.FailedToStart and self.process is not None:
            text = self.process.errorString()
            self._end()
            self._say(f"Adaptation could not start ({self.command[0]}): {text}")

    @Slot(int, QProcess.ExitStatus)
    def _finished(self, code: int, status: QProcess.ExitStatus) -> None:
        if self.process is None:
            return
        self._read_output()
        self._read_errors()
        run, cancelled = self.run, self._cancelled
        self._end()
        if cancelled:
            self._say("Adaptation cancelled.")
        elif status is QProcess.ExitStatus.CrashExit:
            self._say(f"Adaptation crashed ({error_line(self._stderr)}); the model is unchanged.")
        elif code == EXIT_ACCEPTED:
            self._swap_in(run)
        elif code == EXIT_REFUSED:
            self._say(refused_message(read_report(run.report)))
        else:
            self._say(f"Adaptation failed: {error_line(self._stderr)} (the model is unchanged).")

    def _swap_in(self, run: AdaptRun) -> None:
        """Load the adapted model for tile mode in place of the one it was made from (kept to go
        back to); object mode keeps its model (the samples are tiles)."""
        if not run.out.is_file():
            self._say(f"Adaptation reported success but wrote no {run.out}; model unchanged.")
            return
        if self.window.tile_model_path != run.weights:
            self._say(
                f"Adapted model saved as {run.out}, not swapped in: the model was changed "
                "meanwhile (Model ▸ Open checkpoint… loads it)."
            )
            return
        self.previous.append(run.weights)
        self.window.load_model(self.window.model_path, tile_path=run.out)
        self._say(accepted_message(read_report(run.report), run))
        self._show()

    def _end(self) -> None:
        process, self.process, self.run = self.process, None, None
        if process is not None:
            process.deleteLater()
        self._show()

    # ------------------------------------------------------------------ models and settings
    def use_previous(self) -> None:
        """Go back to the tile-mode model the last adapted one replaced."""
        if not self.previous:
            self._say("No previous model to go back to.")
            return
        path = self.previous.pop()
        self.window.load_model(self.window.model_path, tile_path=path)
        self._say(f"Back to the previous model {path.name}.")
        self._show()

    def ask_every(self) -> None:
        """Ask for the `adapt_every` setting (0 = only on demand)."""
        settings = self.window.settings
        value, ok = QInputDialog.getInt(
            self.window, "Adapt automatically",
            "Adapt the model every N accepted tiles (0 = off):", settings.adapt_every, 0, 10000,
        )  # fmt: skip
        if ok:
            settings.adapt_every = value
            every = f"Adapting every {value} accepted tiles." if value else "No automatic adapting."
            self._say(every)

    # ------------------------------------------------------------------ status
    def _say(self, text: str) -> None:
        self.window.statusBar().showMessage(text, MESSAGE_MS)

    def _show(self) -> None:
        """The samples count (and the run's last output line) in the status bar; actions."""
        self.window.named_actions["previous_model"].setEnabled(bool(self.previous))
        store = self.samples
        self.label.setVisible(store is not None)
        if store is None:
            return
        text = f"samples: {store.count}"
        if self.process is not None:
            text += f" · adapting: {self._last_line[:80] or 'starting…'}"
        self.label.setText(text)
        self.label.setToolTip(f"Training samples of this scene: {store.folder}")
