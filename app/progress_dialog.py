"""Run a long job's QThread behind a window-modal progress dialog with Cancel.

The job thread follows one small protocol (`ProgressThread`): a `progressed(int)` signal in
per-mille steps (0..1000), a thread-safe `cancel()`, and `outcome` / `error` attributes set in
its `run()` before `finished`. They are read here after `wait()`, so no Python callable is ever
connected across threads. The GUI stays responsive (a local event loop) while input to the
window waits for the job.
"""

from __future__ import annotations

from typing import Protocol

from PySide6.QtCore import QEventLoop, Qt, QThread, QTimer
from PySide6.QtWidgets import QMessageBox, QProgressDialog, QWidget


class ProgressThread(Protocol):
    """What `run_with_progress` needs of a job thread (a QThread subclass)."""

    outcome: object
    error: str | None

    def cancel(self) -> None: ...


def run_with_progress(
    parent: QWidget | None, thread: QThread, title: str, text: str, error_title: str
) -> object | None:
    """Start `thread` (a `ProgressThread`), show progress until it ends and return its outcome:
    None after a cancel, or after an error shown in a message box titled `error_title`."""
    progress = QProgressDialog(text, "Cancel", 0, 1000, parent)
    progress.setWindowTitle(title)
    progress.setWindowModality(Qt.WindowModality.WindowModal)
    progress.setMinimumDuration(300)
    progress.setAutoReset(False)
    progress.setValue(0)
    progress.canceled.connect(thread.cancel)
    thread.progressed.connect(progress.setValue)
    loop = QEventLoop()
    thread.finished.connect(loop.quit)
    watchdog = QTimer(interval=100)  # also ends the loop if the finished signal is ever missed
    watchdog.timeout.connect(lambda: thread.isFinished() and loop.quit())
    thread.start()
    watchdog.start()
    if not thread.isFinished():
        loop.exec()
    watchdog.stop()
    thread.wait()
    progress.close()
    progress.deleteLater()
    if thread.error is not None:
        QMessageBox.critical(parent, error_title, thread.error)
        return None
    return thread.outcome
