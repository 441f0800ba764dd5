"""A QThread that sleeps until new work or a stop is posted: the base of the app's workers.

Subclasses keep their pending work in attributes guarded by ``self._cond`` (the newest request
replaces an older one), store it with ``_post`` and hand it out, one job at a time, from
``_next_job`` (called under the lock). ``run()`` waits for a job or a stop and runs each job
outside the lock.

Synchronous mode (for tests, as napari's layer slicer ``force_sync``): the thread is never
started, and ``_post`` runs the pending jobs at once in the caller's thread, so signals are
emitted directly, before ``_post`` returns. Work posted while a job runs (from inside it, as a
click arriving while the worker is busy) is taken after that job, as the thread would take it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from PySide6.QtCore import QThread

Job = Callable[[], None]


class RequestThread(QThread):
    """Owns the condition variable and the stop flag; ``stop()`` wakes the thread and joins it."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._cond = threading.Condition()
        self._stopping = False
        self._synchronous = False
        self._draining = False

    @property
    def synchronous(self) -> bool:
        return self._synchronous

    def set_synchronous(self, enabled: bool) -> None:
        """Run posted work in the caller's thread (True) or in this thread once started."""
        if self.isRunning():
            raise RuntimeError("a running request thread cannot switch to synchronous mode")
        self._synchronous = bool(enabled)

    def _next_job(self) -> Job | None:
        """Take the next piece of pending work as a job (called under the lock), or None."""
        raise NotImplementedError

    def _post(self, update: Callable[[], None]) -> None:
        """Apply ``update`` (which stores new work) under the lock and wake the thread; in
        synchronous mode, run the pending jobs now instead."""
        with self._cond:
            update()
            self._cond.notify()
        if self._synchronous and not self._draining:
            self._drain()

    def _drain(self) -> None:
        self._draining = True
        try:
            while True:
                with self._cond:
                    job = None if self._stopping else self._next_job()
                if job is None:
                    return
                job()
        finally:
            self._draining = False

    def run(self) -> None:
        if self._synchronous:
            return
        while True:
            with self._cond:
                job = None
                while not self._stopping and (job := self._next_job()) is None:
                    self._cond.wait()
                if self._stopping:
                    return
            job()

    def stop(self) -> None:
        self._post(lambda: setattr(self, "_stopping", True))
        self.wait()
