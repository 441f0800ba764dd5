"""A QObject that records what a worker thread's signal delivers.

Connecting a plain callable (``list.append``, a lambda) to a signal emitted from another thread
lets PySide 6.8+ deliver a queued call to a receiver that is already gone (PYSIDE-3124: the test
run crashed with a segfault or got another signal's argument). A QObject slot that lives as long
as the test is safe, so tests record cross-thread signals through this.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Slot


class SignalRecorder(QObject):
    """``signal.connect(recorder.record)``; ``recorder.values`` holds every delivered argument."""

    def __init__(self) -> None:
        super().__init__()
        self.values: list[object] = []

    @Slot(object)
    def record(self, value: object) -> None:
        self.values.append(value)
