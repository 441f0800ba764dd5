"""A QThread that sleeps until new work or a stop is posted: the base of the app's workers.

Subclasses keep their pending work in attributes guarded by ``self._cond`` (the newest request
replaces an older one) and wait in ``run()`` with ``while not (self._stopping or <work>)``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from PySide6.QtCore import QThread


class RequestThread(QThread):
    """Owns the condition variable and the stop flag; ``stop()`` wakes the thread and joins it."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._cond = threading.Condition()
        self._stopping = False

    def _post(self, update: Callable[[], None]) -> None:
        """Apply ``update`` (which stores new work) under the lock and wake the thread."""
        with self._cond:
            update()
            self._cond.notify()

    def stop(self) -> None:
        self._post(lambda: setattr(self, "_stopping", True))
        self.wait()
