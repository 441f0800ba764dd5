"""LabelLayer: scene-wide binary building mask on the image grid, stored as a tiled GeoTIFF.

Storage (`label_file`): single-band uint8 GeoTIFF, values 0 (background) / 255 (building),
512 x 512 DEFLATE tiles, sparse, same size, CRS and transform as the image. It is read and
written window by window and never held whole in memory.

Durability: edits since the last save live in memory as 512 px tiles (`label_tiles`) and in an
fsync'ed journal `<label>.journal` (`journal`). A save writes a complete new GeoTIFF under a
temporary name, renames it over the label file, then trims the journal to the edits made while
it ran. After a crash, `LabelLayer.open(path)` replays the journal, so every accepted
`write`/`undo`/`redo` comes back. Undo steps are kept by `label_history`.

Saving off the caller's thread: `save_in_background()` runs the save on the layer's own save
thread and returns a Future; `flush()` saves in the calling thread. Either way the layer's lock
is held only to take the snapshot of the pending tiles and to swap the new file in, never while
the file is written, so reads and edits go on during a save.

All masks exchanged with callers are (H, W) uint8 with values {0, 1}; windows are integer
`rasterio.windows.Window`s in image pixels.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from os import PathLike
from pathlib import Path

import numpy as np
import rasterio
from rasterio._err import CPLE_BaseError  # GDAL errors rasterio does not wrap (e.g. on close)
from rasterio.errors import RasterioError
from rasterio.windows import Window

from isegsat.app.geo.errors import RasterError
from isegsat.app.geo.grid import RasterGrid, clip_window, integer_window
from isegsat.app.geo.journal import Journal, journal_path, pack_mask, read_journal, unpack_mask
from isegsat.app.geo.label_file import (
    BLOCK,
    CREATION_OPTIONS,
    FOREGROUND,
    building_pixels,
    fold_tiles,
    grid_of,
    mask_profile,
    verify_written_raster,
    write_empty,
    write_from_mask,
)
from isegsat.app.geo.label_history import Edit, History, Part
from isegsat.app.geo.label_tiles import TileStore

__all__ = [
    "BLOCK",
    "CREATION_OPTIONS",
    "FOREGROUND",
    "LabelLayer",
    "building_pixels",
    "mask_profile",
    "verify_written_raster",
]

_FILE_ERRORS = (RasterioError, CPLE_BaseError, OSError)


class LabelLayer:
    """Binary building mask of one scene. Create with `create`, `open` or `from_mask`.

    Thread-safe: reads, edits and saves may come from different threads (the app edits on the
    GUI thread and saves on the layer's save thread).
    """

    def __init__(
        self,
        path: Path,
        history_limit: int = 200,
        history_mb: float = 64.0,
        pending_mb: float = 128.0,
    ) -> None:
        self.path = path
        self._lock = threading.RLock()  # guards the dataset, tiles, history and journal
        self._save_lock = threading.Lock()  # one save at a time; taken before _lock, never under
        self._saver: ThreadPoolExecutor | None = None  # the save thread, started on first use
        self._closing = False
        self._auto_save: Future | None = None
        try:
            self._dataset = rasterio.open(path)
        except RasterioError as exc:
            raise RasterError(f"cannot open label layer {path}: {exc}") from exc
        ds = self._dataset
        if ds.count < 1 or ds.dtypes[0] != "uint8":
            ds.close()
            raise RasterError(f"{path} is not a label layer (expected 1-band uint8 GeoTIFF)")
        self.grid = RasterGrid.of(ds)
        self._tiles = TileStore(self.width, self.height, self._read_saved)
        self._pending_limit = int(pending_mb * 1024 * 1024)
        self._history = History(history_limit, int(history_mb * 1024 * 1024))
        try:
            self.recovered_edits, valid_length = self._replay()
        except RasterError:
            ds.close()
            raise
        try:
            self._journal = Journal(journal_path(path), valid_length)
        except OSError as exc:
            ds.close()
            raise RasterError(
                f"cannot write the edit journal next to {path} ({exc}); "
                "keep the label layer in a writable directory"
            ) from exc

    def _replay(self) -> tuple[int, int]:
        """Apply the journal's records to the pending tiles: (record count, valid byte length).

        Records hold whole window contents, so replaying ones already in the file (a crash
        between a save's rename and its journal trim) changes nothing."""
        records, valid_length = read_journal(journal_path(self.path))
        for window, packed in records:
            if clip_window(window, self.width, self.height) != window:
                raise RasterError(
                    f"the journal of {self.path} holds an edit at {window} outside the "
                    f"{self.width}x{self.height} px layer; open with recover=False to discard it"
                )
            h, w = int(window.height), int(window.width)
            self._tiles.apply(window, unpack_mask(packed, h, w))
        return len(records), valid_length

    # ----------------------------------------------------------------- construction

    @classmethod
    def create(cls, path: str | PathLike, like, **options) -> LabelLayer:
        """New empty layer at `path` on the grid of `like` (RasterSource, RasterGrid or raster
        path). Replaces an existing file at `path` and its journal."""
        path = Path(path)
        grid = grid_of(like)
        try:
            write_empty(path, grid)
            journal_path(path).unlink(missing_ok=True)
        except _FILE_ERRORS as exc:
            raise RasterError(f"cannot create label layer {path}: {exc}") from exc
        return cls(path, **options)

    @classmethod
    def open(cls, path: str | PathLike, like=None, recover: bool = True, **options) -> LabelLayer:
        """Open an existing layer. With `like`, refuse it (GridMismatchError) unless it lies on
        that grid. `recover=True` replays unsaved edits from the journal (see
        `has_unsaved_recovery`); `recover=False` discards them."""
        path = Path(path)
        if not path.exists():
            raise RasterError(f"label layer not found: {path}")
        if not recover:
            journal_path(path).unlink(missing_ok=True)
        layer = cls(path, **options)
        if like is not None:
            try:
                grid_of(like).require_same(layer.grid, what=f"label layer {path.name}")
            except RasterError:
                layer.close()
                raise
        return layer

    @classmethod
    def from_mask(
        cls, mask_path: str | PathLike, like, path: str | PathLike, **options
    ) -> LabelLayer:
        """New layer at `path` initialised from an existing mask raster on the grid of `like`.

        Accepted masks: 0/1 or 0/255 single band, Inria RGB 0/255, any raster where > 0 marks a
        building. A mask on another grid raises GridMismatchError saying what differs.
        """
        mask_path, path = Path(mask_path), Path(path)
        grid = grid_of(like)
        try:
            source = rasterio.open(mask_path)
        except RasterioError as exc:
            raise RasterError(f"cannot open mask {mask_path}: {exc}") from exc
        with source:
            grid.require_same(RasterGrid.of(source), what=f"mask {mask_path.name}")
            try:
                write_from_mask(source, grid, path)
                journal_path(path).unlink(missing_ok=True)
            except _FILE_ERRORS as exc:
                raise RasterError(f"cannot convert mask {mask_path} to {path}: {exc}") from exc
        return cls(path, **options)

    @staticmethod
    def has_unsaved_recovery(path: str | PathLike) -> bool:
        """True when `path` has journaled edits that were never flushed (e.g. after a crash)."""
        return bool(read_journal(journal_path(Path(path)))[0])

    @staticmethod
    def default_path(image_path: str | PathLike) -> Path:
        """Conventional label path next to an image: `<stem>_labels.tif`."""
        image_path = Path(image_path)
        return image_path.with_name(f"{image_path.stem}_labels.tif")

    # ----------------------------------------------------------------- grid

    @property
    def width(self) -> int:
        return self.grid.width

    @property
    def height(self) -> int:
        return self.grid.height

    @property
    def crs(self):
        return self.grid.crs

    @property
    def transform(self):
        return self.grid.transform

    @property
    def dirty(self) -> bool:
        """True when there are edits the GeoTIFF does not hold yet (a save running included)."""
        with self._lock:
            return self._tiles.dirty

    @property
    def can_undo(self) -> bool:
        return self._history.can_undo

    @property
    def can_redo(self) -> bool:
        return self._history.can_redo

    # ----------------------------------------------------------------- read / write

    def read(self, window: Window) -> np.ndarray:
        """(h, w) uint8 {0,1} of an integer window; parts outside the grid read as 0."""
        window = integer_window(window)
        out = np.zeros((window.height, window.width), dtype=np.uint8)
        inside = clip_window(window, self.width, self.height)
        if inside is None:
            return out
        r, c = inside.row_off - window.row_off, inside.col_off - window.col_off
        with self._lock:
            out[r : r + inside.height, c : c + inside.width] = self._read_inside(inside)
        return out

    def write(self, window: Window, mask: np.ndarray) -> Window | None:
        """Set an integer window to `mask` ((h, w), nonzero = building); undoable, journaled.

        The part of the window outside the grid is ignored. Returns the window actually written
        (None when it lies entirely outside).
        """
        return self.write_group(((window, mask),))

    def write_group(self, edits: Iterable[tuple[Window, np.ndarray]]) -> Window | None:
        """Set several integer windows to their masks as ONE undoable step (a scene's draft).

        Each mask is (h, w) of its window, nonzero = building; parts outside the grid are
        ignored. All windows are journaled with one fsync before any is applied, so a full disk
        changes nothing (RasterError). Returns the bounding window of what was written (None
        when nothing lies inside). A group larger than the undo budget (`history_mb`) is written
        but empties the history: check `can_undo` afterwards.
        """
        parts = []
        for window, mask in edits:
            window = integer_window(window)
            mask = np.asarray(mask)
            if mask.shape != (window.height, window.width):
                raise RasterError(
                    f"mask shape {mask.shape} does not match the window size "
                    f"{(window.height, window.width)}"
                )
            inside = clip_window(window, self.width, self.height)
            if inside is None:
                continue
            r, c = inside.row_off - window.row_off, inside.col_off - window.col_off
            parts.append((inside, (mask[r : r + inside.height, c : c + inside.width] != 0)))
        if not parts:
            return None
        with self._lock:
            edit = Edit(
                tuple(
                    Part(window, pack_mask(self._read_inside(window)), pack_mask(new))
                    for window, new in parts
                )
            )
            masks = [(window, new.astype(np.uint8)) for window, new in parts]
            self._commit(masks, [part.after for part in edit.parts])
            self._history.record(edit)
        return edit.window

    def undo(self) -> Window | None:
        """Revert the last write; returns the window that changed (None when nothing to undo)."""
        with self._lock:
            edit = self._history.to_undo()
            if edit is None:
                return None
            # raises (history unchanged) on disk full
            self._restore([(part.window, part.before) for part in reversed(edit.parts)])
            self._history.undone()
            return edit.window

    def redo(self) -> Window | None:
        """Re-apply the last undone write; returns its window (None when nothing to redo)."""
        with self._lock:
            edit = self._history.to_redo()
            if edit is None:
                return None
            # raises (history unchanged) on disk full
            self._restore([(part.window, part.after) for part in edit.parts])
            self._history.redone()
            return edit.window

    # ----------------------------------------------------------------- saving

    def flush(self) -> None:
        """Save in this thread: fold all edits into the GeoTIFF atomically (new file, read back,
        fsync, rename), then trim the journal. Waits for a background save that is running.
        Raises RasterError (edits stay journaled) when the file cannot be written."""
        self._save()

    def save_in_background(self) -> Future[None]:
        """Start a save (as `flush`) on this layer's save thread and return at once.

        The Future ends with None, or with the RasterError of a failed save (every edit stays
        journaled and pending). Saves run one after another in the order asked; a save takes
        the edits made before it starts, and edits made while it runs stay pending and
        journaled for the next one. `close()` waits for the saves asked before it.
        """
        with self._lock:
            if self._closing:
                future: Future[None] = Future()
                future.set_exception(RasterError(f"label layer {self.path} is closed"))
                return future
            if self._saver is None:
                self._saver = ThreadPoolExecutor(1, thread_name_prefix="label-save")
            return self._saver.submit(self._save)

    def close(self) -> None:
        """Wait for the saves in progress, then release the file handles. Unsaved edits stay in
        the journal for recovery; an empty journal is removed."""
        with self._lock:
            self._closing = True
            saver, self._saver = self._saver, None
        if saver is not None:
            saver.shutdown(wait=True)  # outside the lock: the saves need it to finish
        with self._save_lock, self._lock:
            if self._dataset.closed:
                return
            if self._tiles.dirty:
                self._journal.close()
            else:
                self._journal.discard()
            self._dataset.close()

    def __enter__(self) -> LabelLayer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _save(self) -> None:
        """One save: snapshot under the lock, write without it, swap under it (any thread)."""
        with self._save_lock:
            with self._lock:
                if self._dataset.closed:
                    raise RasterError(f"cannot save label layer {self.path}: it is closed")
                tiles = self._tiles.begin_save()
                if not tiles:
                    return
                saved_through = self._journal.length  # the records these tiles hold
            try:
                fold_tiles(self.path, tiles)  # the long part: no lock held
                dataset = rasterio.open(self.path)
            except BaseException as exc:
                with self._lock:
                    self._tiles.save_failed()  # pending again; the journal still holds them
                if isinstance(exc, _FILE_ERRORS):
                    raise RasterError(f"cannot save label layer {self.path}: {exc}") from exc
                raise
            with self._lock:
                old, self._dataset = self._dataset, dataset
                old.close()
                self._tiles.saved()
                # On failure the saved records stay in the journal: replaying them onto the new
                # file changes nothing, so recovery is still exact; the next save trims them.
                with contextlib.suppress(OSError):
                    self._journal.keep_after(saved_through)

    # ----------------------------------------------------------------- internals

    def _read_saved(self, window: Window) -> np.ndarray:
        """(h, w) {0,1} of a window inside the grid as the saved file holds it."""
        try:
            return building_pixels(self._dataset.read(1, window=window)[None])
        except RasterioError as exc:
            raise RasterError(f"cannot read {window} of label layer {self.path}: {exc}") from exc

    def _read_inside(self, window: Window) -> np.ndarray:
        """(h, w) {0,1} of a window inside the grid: saved file plus pending edits."""
        out = self._read_saved(window)
        self._tiles.overlay(out, window)
        return out

    def _commit(self, masks: list[tuple[Window, np.ndarray]], packed: Iterable[bytes]) -> None:
        """Journal all windows (one durable write) then apply them; start a background save
        when the pending tiles exceed their budget. `packed` holds each mask's packed bytes.

        When the journal cannot be written (e.g. disk full) nothing changes and RasterError says
        why: the edit is refused rather than kept where a crash would lose it."""
        try:
            self._journal.append_many(
                [(window, data) for (window, _), data in zip(masks, packed, strict=True)]
            )
        except OSError as exc:
            raise RasterError(
                f"cannot record the edit in {self._journal.path} ({exc}); the edit was not "
                "applied: free some disk space and repeat it"
            ) from exc
        for window, mask in masks:
            self._tiles.apply(window, mask)
        over_budget = self._tiles.pending_count * BLOCK * BLOCK > self._pending_limit
        if over_budget and (self._auto_save is None or self._auto_save.done()):
            # A failed automatic save keeps everything journaled; the next save reports it.
            self._auto_save = self.save_in_background()

    def _restore(self, packed: list[tuple[Window, bytes]]) -> None:
        """Journal and apply packed window contents (an undo or redo)."""
        masks = [
            (window, unpack_mask(data, int(window.height), int(window.width)))
            for window, data in packed
        ]
        self._commit(masks, [data for _, data in packed])
