"""A label save that takes as long as the test wants: stands in for the label layer's file
writer (``isegsat.app.geo.labels.fold_tiles``), records the thread it runs on and writes the
file only once released."""

from __future__ import annotations

import threading

import pytest

from isegsat.app.geo import labels as labels_module

WAIT_S = 20


class GatedFold:
    """``GatedFold(monkeypatch)`` replaces the writer; ``started`` is set when a save reaches
    it, ``release()`` lets every save write, ``threads`` lists the threads that saved."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.threads: list[threading.Thread] = []
        self.started = threading.Event()
        self._gate = threading.Event()
        self._real = labels_module.fold_tiles
        monkeypatch.setattr(labels_module, "fold_tiles", self)

    def __call__(self, path, tiles) -> None:
        self.threads.append(threading.current_thread())
        self.started.set()
        assert self._gate.wait(WAIT_S), "the test never released the save"
        self._real(path, tiles)

    def release(self) -> None:
        self._gate.set()

    def wait_started(self) -> None:
        assert self.started.wait(WAIT_S), "no save reached the file writer"
