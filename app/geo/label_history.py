"""Undo history of a label layer: bounded by a number of steps and by bytes.

A step (`Edit`) is one or several windows (`Part`) with their packed content (see
`journal.pack_mask`) before and after, so undoing or redoing it never reads the label file.
The history does not change the layer itself: the layer applies a step and only then tells
the history (`undone` / `redone`), so a step that fails (a full disk) stays where it was.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from rasterio.windows import Window, union

from isegsat.app.geo.grid import integer_window


@dataclass(frozen=True)
class Part:
    """One window of an edit and its packed content before and after."""

    window: Window
    before: bytes
    after: bytes


@dataclass(frozen=True)
class Edit:
    """One undoable step: one window (`write`) or several (`write_group`)."""

    parts: tuple[Part, ...]

    @property
    def nbytes(self) -> int:
        return sum(len(part.before) + len(part.after) for part in self.parts)

    @property
    def window(self) -> Window:
        """The bounding window of every part."""
        return integer_window(union(*(part.window for part in self.parts)))


class History:
    """Done steps (the newest `limit`, at most `bytes_limit` packed bytes) and undone steps."""

    def __init__(self, limit: int = 200, bytes_limit: int = 64 * 1024 * 1024) -> None:
        self._undo: deque[Edit] = deque()
        self._redo: list[Edit] = []
        self._limit = limit
        self._bytes_limit = bytes_limit
        self._bytes = 0

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def record(self, edit: Edit) -> None:
        """A new step was applied: it becomes the newest done step; the redo steps are gone."""
        self._push(edit)
        self._redo.clear()

    def to_undo(self) -> Edit | None:
        """The step an undo reverts (not removed: call `undone` once it is reverted)."""
        return self._undo[-1] if self._undo else None

    def undone(self) -> None:
        """The step of `to_undo` was reverted: it moves to the redo steps."""
        edit = self._undo.pop()
        self._bytes -= edit.nbytes
        self._redo.append(edit)

    def to_redo(self) -> Edit | None:
        """The step a redo re-applies (not removed: call `redone` once it is applied)."""
        return self._redo[-1] if self._redo else None

    def redone(self) -> None:
        """The step of `to_redo` was re-applied: it is the newest done step again."""
        self._push(self._redo.pop())

    def _push(self, edit: Edit) -> None:
        self._undo.append(edit)
        self._bytes += edit.nbytes
        while self._undo and (len(self._undo) > self._limit or self._bytes > self._bytes_limit):
            self._bytes -= self._undo.popleft().nbytes
