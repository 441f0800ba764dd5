"""LabelLayer: scene-wide binary building mask on the image grid, stored as a tiled GeoTIFF.

Storage: single-band uint8 GeoTIFF, values 0 (background) / 255 (building), 512 x 512 DEFLATE
tiles, sparse (empty tiles take no space), same size, CRS and transform as the image. It is read
and written window by window and never held whole in memory.

Durability: edits since the last `flush()` live in memory as 512 px tiles and in an fsync'ed
journal `<label>.journal` (see journal.py). `flush()` writes a complete new GeoTIFF under a
temporary name, renames it over the label file and deletes the journal. After a crash,
`LabelLayer.open(path)` replays the journal, so every accepted `write`/`undo`/`redo` comes back.

All masks exchanged with callers are (H, W) uint8 with values {0, 1}; windows are integer
`rasterio.windows.Window`s in image pixels.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil
from rasterio._err import CPLE_BaseError  # GDAL errors rasterio does not wrap (e.g. on close)
from rasterio.errors import RasterioError
from rasterio.windows import Window

from isegsat.app.geo.atomic import atomic_output, check_writable_directory
from isegsat.app.geo.errors import RasterError
from isegsat.app.geo.grid import RasterGrid, block_windows, clip_window, integer_window
from isegsat.app.geo.journal import Journal, journal_path, pack_mask, read_journal, unpack_mask

BLOCK = 512
FOREGROUND = 255
CREATION_OPTIONS = {
    "driver": "GTiff",
    "tiled": True,
    "blockxsize": BLOCK,
    "blockysize": BLOCK,
    "compress": "deflate",
    "sparse_ok": True,
    "bigtiff": "if_safer",
}


@dataclass(frozen=True)
class _Edit:
    """One undoable write: the window and its packed content before and after."""

    window: Window
    before: bytes
    after: bytes

    @property
    def nbytes(self) -> int:
        return len(self.before) + len(self.after)


def _grid_of(like) -> RasterGrid:
    """Grid of a RasterSource, RasterGrid, raster path or object with width/height/crs/transform."""
    if isinstance(like, RasterGrid):
        return like
    if isinstance(like, (str, PathLike)):
        try:
            with rasterio.open(like) as ds:
                return RasterGrid.of(ds)
        except RasterioError as exc:
            raise RasterError(f"cannot read the grid of {like}: {exc}") from exc
    return RasterGrid.of(like)


def _as_binary(data: np.ndarray) -> np.ndarray:
    """(B, H, W) raster values -> (H, W) uint8 {0,1}: a pixel is a building if any band is > 0
    (> 0.5 for float data), which covers 0/1, 0/255 and Inria-style RGB 0/255 masks."""
    threshold = 0.5 if data.dtype.kind == "f" else 0
    return (np.nan_to_num(data) > threshold).any(axis=0).astype(np.uint8)


class LabelLayer:
    """Binary building mask of one scene. Create with `create`, `open` or `from_mask`."""

    def __init__(
        self,
        path: Path,
        history_limit: int = 200,
        history_mb: float = 64.0,
        pending_mb: float = 128.0,
    ) -> None:
        self.path = path
        self._lock = threading.RLock()
        try:
            self._dataset = rasterio.open(path)
        except RasterioError as exc:
            raise RasterError(f"cannot open label layer {path}: {exc}") from exc
        ds = self._dataset
        if ds.count < 1 or ds.dtypes[0] != "uint8":
            ds.close()
            raise RasterError(f"{path} is not a label layer (expected 1-band uint8 GeoTIFF)")
        self.grid = RasterGrid.of(ds)
        self._pending: dict[tuple[int, int], np.ndarray] = {}
        self._pending_limit = int(pending_mb * 1024 * 1024)
        self._undo: deque[_Edit] = deque()
        self._redo: list[_Edit] = []
        self._history_limit = history_limit
        self._history_bytes_limit = int(history_mb * 1024 * 1024)
        self._history_bytes = 0
        records, valid_length = read_journal(journal_path(path))
        for window, packed in records:
            if clip_window(window, self.width, self.height) != window:
                ds.close()
                raise RasterError(
                    f"the journal of {path} holds an edit at {window} outside the "
                    f"{self.width}x{self.height} px layer; open with recover=False to discard it"
                )
            h, w = int(window.height), int(window.width)
            self._apply(window, unpack_mask(packed, h, w))
        try:
            self._journal = Journal(journal_path(path), valid_length)
        except OSError as exc:
            ds.close()
            raise RasterError(
                f"cannot write the edit journal next to {path} ({exc}); "
                "keep the label layer in a writable directory"
            ) from exc
        self.recovered_edits = len(records)

    # ----------------------------------------------------------------- construction

    @classmethod
    def create(cls, path: str | PathLike, like, **options) -> LabelLayer:
        """New empty layer at `path` on the grid of `like` (RasterSource, RasterGrid or raster
        path). Replaces an existing file at `path` and its journal."""
        path = Path(path)
        grid = _grid_of(like)
        try:
            check_writable_directory(path)
            with atomic_output(path) as tmp:
                with rasterio.open(tmp, "w", **mask_profile(grid)):
                    pass
                verify_written_raster(tmp)
                journal_path(path).unlink(missing_ok=True)
        except (RasterioError, CPLE_BaseError, OSError) as exc:
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
                _grid_of(like).require_same(layer.grid, what=f"label layer {path.name}")
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
        grid = _grid_of(like)
        try:
            source = rasterio.open(mask_path)
        except RasterioError as exc:
            raise RasterError(f"cannot open mask {mask_path}: {exc}") from exc
        with source:
            grid.require_same(RasterGrid.of(source), what=f"mask {mask_path.name}")
            try:
                check_writable_directory(path)
                with atomic_output(path) as tmp:
                    with rasterio.open(tmp, "w", **mask_profile(grid)) as out:
                        for window in block_windows(grid.full_window, BLOCK):
                            binary = _as_binary(source.read(window=window))
                            if binary.any():
                                out.write(binary * np.uint8(FOREGROUND), 1, window=window)
                    verify_written_raster(tmp)
                journal_path(path).unlink(missing_ok=True)
            except (RasterioError, CPLE_BaseError, OSError) as exc:
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
        """True when there are edits not yet folded into the GeoTIFF by `flush()`."""
        return bool(self._pending)

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

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
        window = integer_window(window)
        mask = np.asarray(mask)
        if mask.shape != (window.height, window.width):
            raise RasterError(
                f"mask shape {mask.shape} does not match the window size "
                f"{(window.height, window.width)}"
            )
        inside = clip_window(window, self.width, self.height)
        if inside is None:
            return None
        r, c = inside.row_off - window.row_off, inside.col_off - window.col_off
        new = (mask[r : r + inside.height, c : c + inside.width] != 0).astype(np.uint8)
        with self._lock:
            before = pack_mask(self._read_inside(inside))
            after = pack_mask(new)
            self._commit(inside, new, after)
            self._push_history(_Edit(inside, before, after))
            self._redo.clear()
        return inside

    def undo(self) -> Window | None:
        """Revert the last write; returns the window that changed (None when nothing to undo)."""
        with self._lock:
            if not self._undo:
                return None
            edit = self._undo[-1]
            self._restore(edit.window, edit.before)  # raises (history unchanged) on disk full
            self._undo.pop()
            self._history_bytes -= edit.nbytes
            self._redo.append(edit)
            return edit.window

    def redo(self) -> Window | None:
        """Re-apply the last undone write; returns its window (None when nothing to redo)."""
        with self._lock:
            if not self._redo:
                return None
            edit = self._redo[-1]
            self._restore(edit.window, edit.after)  # raises (history unchanged) on disk full
            self._redo.pop()
            self._push_history(edit)
            return edit.window

    def flush(self) -> None:
        """Fold all edits into the GeoTIFF atomically (new file, fsync, rename), then drop the
        journal. Raises RasterError (edits stay journaled) when the file cannot be written."""
        with self._lock:
            if not self._pending:
                return
            try:
                with atomic_output(self.path) as tmp:
                    rasterio.shutil.copy(self._dataset, tmp, **CREATION_OPTIONS)
                    with rasterio.open(tmp, "r+") as out:
                        for (ty, tx), tile in self._pending.items():
                            window = self._tile_window(ty, tx)
                            out.write(tile * np.uint8(FOREGROUND), 1, window=window)
                    verify_written_raster(tmp)
                    self._dataset.close()
            except (RasterioError, CPLE_BaseError, OSError) as exc:
                raise RasterError(f"cannot save label layer {self.path}: {exc}") from exc
            finally:
                if self._dataset.closed:
                    self._dataset = rasterio.open(self.path)
            self._pending.clear()
            self._journal.discard()
            self._journal = Journal(journal_path(self.path))

    def close(self) -> None:
        """Release the file handles. Unflushed edits stay in the journal for recovery; an empty
        journal is removed."""
        with self._lock:
            if self._pending:
                self._journal.close()
            else:
                self._journal.discard()
            self._dataset.close()

    def __enter__(self) -> LabelLayer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ----------------------------------------------------------------- internals

    def _tile_window(self, ty: int, tx: int) -> Window:
        c0, r0 = tx * BLOCK, ty * BLOCK
        return Window(c0, r0, min(BLOCK, self.width - c0), min(BLOCK, self.height - r0))

    def _tiles_of(self, window: Window):
        for ty in range(window.row_off // BLOCK, (window.row_off + window.height - 1) // BLOCK + 1):
            for tx in range(
                window.col_off // BLOCK, (window.col_off + window.width - 1) // BLOCK + 1
            ):
                yield ty, tx

    def _read_inside(self, window: Window) -> np.ndarray:
        """(h, w) {0,1} of a window inside the grid: saved file plus pending edits."""
        try:
            out = _as_binary(self._dataset.read(1, window=window)[None])
        except RasterioError as exc:
            raise RasterError(f"cannot read {window} of label layer {self.path}: {exc}") from exc
        for ty, tx in self._tiles_of(window):
            tile = self._pending.get((ty, tx))
            if tile is not None:
                self._paste(out, window, tile, self._tile_window(ty, tx))
        return out

    def _apply(self, window: Window, mask: np.ndarray) -> None:
        """Put a {0,1} mask of an inside window into the pending tiles."""
        for ty, tx in self._tiles_of(window):
            tile_window = self._tile_window(ty, tx)
            tile = self._pending.get((ty, tx))
            if tile is None:
                try:
                    tile = _as_binary(self._dataset.read(1, window=tile_window)[None])
                except RasterioError as exc:
                    raise RasterError(f"cannot read label layer {self.path}: {exc}") from exc
                self._pending[(ty, tx)] = tile
            self._paste(tile, tile_window, mask, window)

    @staticmethod
    def _paste(
        target: np.ndarray, target_window: Window, source: np.ndarray, source_window: Window
    ) -> None:
        """Copy the overlap of two windows from `source` into `target` (both in grid pixels)."""
        c0 = max(target_window.col_off, source_window.col_off)
        r0 = max(target_window.row_off, source_window.row_off)
        c1 = min(
            target_window.col_off + target_window.width, source_window.col_off + source_window.width
        )
        r1 = min(
            target_window.row_off + target_window.height,
            source_window.row_off + source_window.height,
        )
        if c1 <= c0 or r1 <= r0:
            return
        target[
            r0 - target_window.row_off : r1 - target_window.row_off,
            c0 - target_window.col_off : c1 - target_window.col_off,
        ] = source[
            r0 - source_window.row_off : r1 - source_window.row_off,
            c0 - source_window.col_off : c1 - source_window.col_off,
        ]

    def _commit(self, window: Window, mask: np.ndarray, packed: bytes) -> None:
        """Journal (durably) then apply; auto-flush when pending tiles exceed their budget.

        When the journal cannot be written (e.g. disk full) nothing changes and RasterError says
        why: the edit is refused rather than kept where a crash would lose it."""
        try:
            self._journal.append(window, packed)
        except OSError as exc:
            raise RasterError(
                f"cannot record the edit in {self._journal.path} ({exc}); the edit was not "
                "applied: free some disk space and repeat it"
            ) from exc
        self._apply(window, mask)
        if len(self._pending) * BLOCK * BLOCK > self._pending_limit:
            self.flush()

    def _restore(self, window: Window, packed: bytes) -> None:
        mask = unpack_mask(packed, int(window.height), int(window.width))
        self._commit(window, mask, packed)

    def _push_history(self, edit: _Edit) -> None:
        self._undo.append(edit)
        self._history_bytes += edit.nbytes
        while self._undo and (
            len(self._undo) > self._history_limit or self._history_bytes > self._history_bytes_limit
        ):
            self._history_bytes -= self._undo.popleft().nbytes


def verify_written_raster(path: Path) -> None:
    """Read every block of a just-written raster back: GDAL reports some write failures (a full
    disk while closing the file) only as log messages, leaving a file that cannot be read.
    Raises RasterioError (or a GDAL error) when the file is damaged."""
    with rasterio.open(path) as written:
        for _, window in written.block_windows(1):
            written.read(window=window)


def mask_profile(grid: RasterGrid) -> dict:
    """rasterio creation profile of a uint8 mask GeoTIFF on `grid` in the label layer's layout
    (the label layer itself, and drafts the app opens as a starting label)."""
    return {
        **CREATION_OPTIONS,
        "width": grid.width,
        "height": grid.height,
        "count": 1,
        "dtype": "uint8",
        "crs": grid.crs,
        "transform": grid.transform,
    }
