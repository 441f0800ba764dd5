"""GUI-free annotation session: tile and object modes, clicks, accepts, brush strokes, undo/redo.

Coordinates: boxes (`isegsat.inference.box.Box`, half-open) and clicks are in full-resolution
pixels of the image, (row, col) = (y, x), y down; requests to the model carry clicks local to the
request's box (`coords.clicks_to_box`). Masks are (h, w) uint8 {0, 1} on the box; probabilities
are (h, w) float32 in [0, 1]. The plain data types (requests, results, targets, changes, settings,
the tile grid) are in `isegsat.app.annotation_types`; this module is the state machine.

The session never imports Qt and never runs the model: `click()` returns an immutable
`PredictRequest` that a worker answers with a `PredictResult`, which `apply()` accepts only when it
answers the newest request (stale answers are dropped). Every user action is an `_Op` holding the
session state before and after it (plus whether it wrote the label layer), so undo/redo of clicks,
accepts, brush strokes, resets, navigation and mode switches is one uniform stack.

Object mode: the first click opens a square window about `object_scale` times the building
(the existing label's building under the click, else `object_size`). The object is the clicked
building: the 8-connected components of the thresholded prediction that hold a positive click or
overlap the label's building under the first click (`isegsat.inference.clicked_object`, the
mask the object protocol of `isegsat-eval` scores); other blobs (neighbours, parking lots) are
neither shown nor written. The window grows (x `growth`, towards
the side it touches) only while that object touches a window side inside the image, at most
`max_growth_steps` times and never beyond `max_object_size`; the clicks are then replayed.

Object mode merge rule: the object region is the union of the existing label component under
the first click (the building being edited) and the object; inside that region the label
becomes the object, outside it nothing changes. A positive object therefore adds to the label
(OR), a corrected object replaces its old shape, and a negative-only correction of a wrongly
labelled building removes it (the model predicts nothing there).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import numpy as np
from rasterio.windows import Window

from isegsat.app.annotation_types import (
    AcceptedTile,
    Change,
    LabelStore,
    Mode,
    PredictRequest,
    PredictResult,
    SessionConfig,
    Target,
    TileGrid,
)
from isegsat.app.geo.boxes import from_window, to_window
from isegsat.app.geo.raster import RasterSource
from isegsat.app.object_window import component_at, place_range
from isegsat.inference import Click
from isegsat.inference.box import Box
from isegsat.inference.clicked_object import clicked_object
from isegsat.inference.coords import clicks_to_box

__all__ = ["AnnotationSession"]

# Request and target numbers are unique in the process, so a late result for a closed session
# can never be taken for an answer to a new one.
_NUMBERS = itertools.count(1)


@dataclass(frozen=True)
class _State:
    mode: Mode
    tile_index: int
    done: frozenset[int]
    target: Target | None


@dataclass(frozen=True)
class _Op:
    before: _State
    after: _State
    label_box: Box | None  # set when the op wrote the label layer


@dataclass
class AnnotationSession:
    """Annotation state of one image and its label layer (see the module docstring)."""

    labels: LabelStore
    source: RasterSource  # the image, read only by the worker answering the session's requests
    height: int
    width: int
    config: SessionConfig = field(default_factory=SessionConfig)

    def __post_init__(self) -> None:
        self.grid = TileGrid(self.height, self.width, self.config.tile_size)
        self._state = _State(Mode.TILE, 0, frozenset(), None)
        self._undo: list[_Op] = []
        self._redo: list[_Op] = []
        self._seq = 0
        self._pending = False

    # ------------------------------------------------------------------ read-only state
    mode = property(lambda self: self._state.mode)
    tile_index = property(lambda self: self._state.tile_index)
    done = property(lambda self: self._state.done)
    target = property(lambda self: self._state.target)
    pending = property(lambda self: self._pending)
    can_undo = property(lambda self: bool(self._undo))
    can_redo = property(lambda self: bool(self._redo))

    @property
    def tile_box(self) -> Box:
        return self.grid.box(self._state.tile_index)

    def current_mask(self) -> np.ndarray | None:
        """(h, w) uint8 {0, 1} mask of the target on its box: the thresholded prediction (object
        mode: the clicked object only), or the initial mask before any answer."""
        target = self._state.target
        return None if target is None else self._mask_of(target)

    def _mask_of(self, target: Target) -> np.ndarray:
        """`current_mask()` of `target` in the current mode."""
        if target.prob is None:
            return target.initial
        pred = target.prob >= self.config.threshold
        if self._state.mode is Mode.TILE:
            return pred.astype(np.uint8)
        local = clicks_to_box(target.box, target.clicks[: target.answered])
        return clicked_object(pred, local, target.initial)

    # ------------------------------------------------------------------ actions
    def click(self, y: int, x: int, positive: bool) -> Change:
        """Add a click at image pixel (y, x); returns the model request (None when ignored:
        outside the image, or outside the current tile while it has clicks)."""
        if not (0 <= y < self.height and 0 <= x < self.width):
            return Change()
        state = self._state
        target = state.target
        if state.mode is Mode.TILE:
            index = self.grid.index_at(y, x)
            if index != state.tile_index:
                if target is not None and target.clicks:
                    return Change()
                state = replace(state, tile_index=index, target=None)
                target = None
            if target is None:
                target = self._new_target(self.grid.box(index), None)
        elif target is None or not target.box.contains(y, x):
            if target is not None and target.clicks:
                return Change()
            target = self._object_target(y, x, self._first_object_box(y, x))
        target = replace(target, clicks=(*target.clicks, Click(y, x, positive)))
        self._push(replace(state, target=target), None)
        return Change(request=self._request(target))

    def apply(self, result: PredictResult) -> Change | None:
        """Take a worker result. Returns None for a stale one; a Change with a new request when an
        object's prediction touches its crop border and the crop grows."""
        target = self._state.target
        if result.seq != self._seq or target is None or result.target_id != target.id:
            return None
        if result.prob.shape != (target.box.height, target.box.width):
            return None
        self._pending = False
        top = self._undo[-1] if self._undo else None
        answers_top = top is not None and top.after.target is not None
        answers_top = answers_top and top.after.target.id == target.id
        target = replace(target, prob=result.prob, answered=len(target.clicks))
        grown = self._grown_box(target) if self._state.mode is Mode.OBJECT else None
        change = Change()
        if grown is not None:
            first = target.clicks[0]
            fresh = self._object_target(first.y, first.x, grown)
            target = replace(fresh, clicks=target.clicks, growths=target.growths + 1)
            change = Change(request=self._request(target))
        self._state = replace(self._state, target=target)
        if answers_top:
            self._undo[-1] = replace(top, after=self._state)
        return change

    def accept(self) -> Change:
        """Write the target into the label layer (tile mode: the tile's thresholded prediction;
        object mode: the merge rule) and move on (next tile / no object). Refused (no change)
        while the newest click still waits for the model."""
        state = self._state
        target = state.target
        if self._pending:
            return Change()
        label_box = merged = accepted = None
        if target is not None and target.prob is not None:
            label_box = target.box
            merged = self._merged(target)
            self.labels.write(to_window(target.box), merged)
        if state.mode is Mode.TILE:  # the tile is a training sample (an object is not)
            if merged is not None:
                accepted = AcceptedTile(target.box, merged, target.clicks)
            else:  # kept as it is: a sample when it holds a building
                box = self.grid.box(state.tile_index)
                label = np.asarray(self.labels.read(to_window(box)), dtype=np.uint8)
                accepted = AcceptedTile(box, label, ()) if label.any() else None
            done = state.done | {state.tile_index}
            nxt = min(state.tile_index + 1, self.grid.count - 1)
            after = _State(Mode.TILE, nxt, done, None)
        else:
            if label_box is None:
                return Change()
            after = replace(state, target=None)
        self._push(after, label_box)
        return Change(label_box=label_box, accepted=accepted)

    def abandon_request(self) -> None:
        """The newest request failed: stop waiting for it (the clicks stay, without prediction)."""
        self._pending = False

    def reset(self) -> Change:
        """Drop the target's clicks (Esc); the tile keeps its frame, the object is dropped."""
        target = self._state.target
        if target is None or not target.clicks:
            return Change()
        kept = replace(target, clicks=(), prob=None, answered=0)
        kept = kept if self._state.mode is Mode.TILE else None
        self._push(replace(self._state, target=kept), None)
        return Change()

    def goto_tile(self, index: int) -> Change:
        """Frame tile `index` (clamped); pending clicks are dropped (undoable)."""
        index = max(0, min(index, self.grid.count - 1))
        if self._state.mode is Mode.TILE and index == self._state.tile_index:
            return Change()
        self._push(_State(Mode.TILE, index, self._state.done, None), None)
        return Change()

    def set_mode(self, mode: Mode) -> Change:
        if mode is self._state.mode:
            return Change()
        self._push(replace(self._state, mode=mode, target=None), None)
        return Change()

    def set_tile_size(self, size: int) -> None:
        """Re-cut the scene into size x size tiles; progress and history restart (not undoable)."""
        self.config.tile_size = size
        self.grid = TileGrid(self.height, self.width, size)
        self._state = _State(self._state.mode, 0, frozenset(), None)
        self._undo.clear()
        self._redo.clear()
        self._pending = False

    def restore_progress(self, tile_index: int, done: frozenset[int]) -> None:
        """Continue a previous session's tiles (current tile, tiles done) on the same grid; out of
        range numbers are dropped. Not undoable: it is where this session's history starts."""
        count = self.grid.count
        index = tile_index if 0 <= tile_index < count else 0
        kept = frozenset(i for i in done if 0 <= i < count)
        self._state = _State(self._state.mode, index, kept, None)

    def paint(self, box: Box, stroke: np.ndarray, value: int) -> Change:
        """Brush (value 1) or erase (value 0) where stroke ((h, w) bool on box) is set."""
        label = np.array(self.labels.read(to_window(box)), dtype=np.uint8)
        label[stroke] = value
        self.labels.write(to_window(box), label)
        self._push(self._state, box)
        return Change(label_box=box)

    def apply_draft(self, edits: Iterable[tuple[Window, np.ndarray]]) -> Change:
        """Write a scene draft (`draft.draft_edits`: (window, mask) blocks) into the label layer
        as ONE undoable step. The current target is dropped (the label under its clicks may have
        changed); every tile then starts from the draft as its previous mask. A draft too large
        for the label layer's undo budget is written but empties the history (not undoable)."""
        bounds = self.labels.write_group(edits)
        if bounds is None:
            return Change()
        box = from_window(bounds)
        after = replace(self._state, target=None)
        if self.labels.can_undo:
            self._push(after, box)
        else:
            self._state = after
            self._undo.clear()
            self._redo.clear()
        self._pending = False
        return Change(label_box=box)

    def undo(self) -> Change:
        if not self._undo:
            return Change()
        op = self._undo[-1]  # popped only once the label layer has undone it (it may raise)
        if op.label_box is not None and self.labels.undo() is None:
            self._undo.clear()  # the label layer's own history is exhausted
            return Change()
        self._undo.pop()
        self._redo.append(op)
        return self._restore(op.before, op.label_box)

    def redo(self) -> Change:
        if not self._redo:
            return Change()
        op = self._redo[-1]  # popped only once the label layer has redone it (it may raise)
        if op.label_box is not None:
            self.labels.redo()
        self._redo.pop()
        self._undo.append(op)
        return self._restore(op.after, op.label_box)

    # ------------------------------------------------------------------ internals
    def _push(self, after: _State, label_box: Box | None) -> None:
        self._undo.append(_Op(self._state, after, label_box))
        self._redo.clear()
        self._state = after

    def _restore(self, state: _State, label_box: Box | None) -> Change:
        self._state = state
        target = state.target
        if target is not None and target.waiting:
            return Change(request=self._request(target), label_box=label_box)
        self._pending = False
        return Change(label_box=label_box)

    def _request(self, target: Target) -> PredictRequest:
        self._seq = next(_NUMBERS)
        self._pending = True
        return PredictRequest(
            seq=self._seq,
            target_id=target.id,
            source=self.source,
            box=target.box,
            prev_mask=target.initial.astype(np.float32),
            clicks=clicks_to_box(target.box, target.clicks),
            mode=self._state.mode,
        )

    def _new_target(self, box: Box, initial: np.ndarray | None) -> Target:
        if initial is None:
            initial = np.asarray(self.labels.read(to_window(box)), dtype=np.uint8)
        return Target(next(_NUMBERS), box, initial)

    def _object_target(self, y: int, x: int, box: Box) -> Target:
        """Object target on `box`; its initial mask is the label component under (y, x)."""
        label = np.asarray(self.labels.read(to_window(box)), dtype=np.uint8)
        initial = component_at(label, y - box.row, x - box.col).astype(np.uint8)
        return Target(next(_NUMBERS), box, initial)

    def _first_object_box(self, y: int, x: int) -> Box:
        """The first window of an object clicked at image pixel (y, x) (see SessionConfig)."""
        config = self.config
        cap = config.max_object_size
        around = self._fit_box(y, x, cap, Box(y, x, 1, 1))
        label = np.asarray(self.labels.read(to_window(around)), dtype=np.uint8)
        building = component_at(label, y - around.row, x - around.col)
        if not building.any():
            return self._fit_box(y, x, config.object_size, Box(y, x, 1, 1))
        rows, cols = np.flatnonzero(building.any(1)), np.flatnonzero(building.any(0))
        extent = max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1
        side = min(max(round(config.object_scale * extent), config.min_object_size), cap)
        cy = around.row + (rows[0] + rows[-1] + 1) / 2
        cx = around.col + (cols[0] + cols[-1] + 1) / 2
        return self._fit_box(cy, cx, side, Box(y, x, 1, 1))

    def _fit_box(self, cy: float, cx: float, side: int, hold: Box) -> Box:
        """A side x side box (cut to the image) centred as near image pixel (cy, cx) as it can
        be while it holds `hold` and lies inside the image; `side` must be >= hold's sides."""
        height, width = min(side, self.height), min(side, self.width)
        row = place_range(cy, height, (hold.row, hold.row + hold.height), self.height)
        col = place_range(cx, width, (hold.col, hold.col + hold.width), self.width)
        return Box(row, col, height, width)

    def _grown_box(self, target: Target) -> Box | None:
        """A larger window holding the current one, shifted towards the clicked object, when that
        object touches a window side inside the image (None at the caps or when it does not)."""
        config = self.config
        mask = self._mask_of(target)
        box = target.box
        touches = (
            (box.row > 0 and mask[0].any())
            or (box.col > 0 and mask[:, 0].any())
            or (box.row + box.height < self.height and mask[-1].any())
            or (box.col + box.width < self.width and mask[:, -1].any())
        )
        if not touches or target.growths >= config.max_growth_steps:
            return None
        side = min(config.max_object_size, round(max(box.height, box.width) * config.growth))
        side = max(side, box.height, box.width)
        rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
        cy = box.row + (rows[0] + rows[-1] + 1) / 2
        cx = box.col + (cols[0] + cols[-1] + 1) / 2
        grown = self._fit_box(cy, cx, side, box)
        return grown if grown != box else None

    def _merged(self, target: Target) -> np.ndarray:
        pred = self._mask_of(target)
        if self._state.mode is Mode.TILE:
            return pred
        label = np.array(self.labels.read(to_window(target.box)), dtype=np.uint8)
        region = (target.initial > 0) | (pred > 0)
        label[region] = pred[region]
        return label
