"""Explicit tile navigation (GUI-free): which clicks stay on the framed tile, the next tile not
done yet, and the hint shown when a plain click lands outside the frame."""

from __future__ import annotations

from isegsat.app.annotation import AnnotationSession
from isegsat.app.annotation_types import Mode

NAVIGATION_HINT = (
    "That click is outside the framed tile. Move with N / P (next / previous), "
    "Ctrl+G (go to tile…), U (next undone tile) or Ctrl+click on another tile."
)


def outside_frame(session: AnnotationSession, y: int, x: int) -> bool:
    """True for a tile-mode click on the image but outside the current tile: it must not move
    the annotator to another tile (navigation is explicit)."""
    inside_image = 0 <= y < session.height and 0 <= x < session.width
    return session.mode is Mode.TILE and inside_image and not session.tile_box.contains(y, x)


def next_undone(done: frozenset[int], count: int, current: int) -> int | None:
    """The first tile after `current` (wrapping round) that is not done; None when all are."""
    for step in range(1, count + 1):
        index = (current + step) % count
        if index not in done:
            return index
    return None
