"""Edited 512 px tiles of a label layer that its GeoTIFF does not hold yet.

A tile is the whole (h, w) uint8 {0,1} content of one block of the grid (the saved file plus
every edit since), so folding it into the file is one block write. While a save writes a new
file (`begin_save` .. `saved` / `save_failed`), the tiles it writes are frozen (read-only arrays,
never changed) and later edits go into fresh pending tiles that start from them: the save can
read its snapshot on another thread without a lock while the layer keeps editing.

Not thread-safe by itself: the label layer guards every call with its lock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
from rasterio.errors import WindowError
from rasterio.windows import Window, intersection

from isegsat.app.geo.label_file import BLOCK

Key = tuple[int, int]  # (tile row, tile column) of the 512 px grid


def paste(target: np.ndarray, target_window: Window, source: np.ndarray, window: Window) -> None:
    """Copy the overlap of two integer grid windows from `source` ((h, w) of `window`) into
    `target` ((h, w) of `target_window`); nothing when they do not overlap."""
    try:
        overlap = intersection(target_window, window)
    except WindowError:
        return
    into = Window(
        overlap.col_off - target_window.col_off,
        overlap.row_off - target_window.row_off,
        overlap.width,
        overlap.height,
    )
    out_of = Window(
        overlap.col_off - window.col_off,
        overlap.row_off - window.row_off,
        overlap.width,
        overlap.height,
    )
    target[into.toslices()] = source[out_of.toslices()]


class TileStore:
    """Pending tiles of a width x height grid. `read_saved(window)` reads a window of the saved
    file as (h, w) uint8 {0,1} (the layer's dataset, under the layer's lock)."""

    def __init__(self, width: int, height: int, read_saved: Callable[[Window], np.ndarray]) -> None:
        self.width, self.height = width, height
        self._read_saved = read_saved
        self._pending: dict[Key, np.ndarray] = {}
        self._saving: dict[Key, np.ndarray] = {}  # frozen while a save writes them

    @property
    def dirty(self) -> bool:
        """Some tile is not in the saved file yet (pending, or being saved)."""
        return bool(self._pending or self._saving)

    @property
    def pending_count(self) -> int:
        """Tiles edited since the last save began."""
        return len(self._pending)

    def tile_window(self, key: Key) -> Window:
        ty, tx = key
        c0, r0 = tx * BLOCK, ty * BLOCK
        return Window(c0, r0, min(BLOCK, self.width - c0), min(BLOCK, self.height - r0))

    def keys_of(self, window: Window) -> Iterator[Key]:
        """Tiles an integer window inside the grid touches, row by row."""
        for ty in range(window.row_off // BLOCK, (window.row_off + window.height - 1) // BLOCK + 1):
            for tx in range(
                window.col_off // BLOCK, (window.col_off + window.width - 1) // BLOCK + 1
            ):
                yield ty, tx

    def overlay(self, out: np.ndarray, window: Window) -> None:
        """Paste what the tiles hold over `out`, the saved content ((h, w)) of `window`."""
        for key in self.keys_of(window):
            tile = self._pending.get(key)
            if tile is None:
                tile = self._saving.get(key)
            if tile is not None:
                paste(out, window, tile, self.tile_window(key))

    def apply(self, window: Window, mask: np.ndarray) -> None:
        """Put a (h, w) {0,1} mask of an integer window inside the grid into the pending tiles
        (a tile first edited starts from the tile being saved, else from the saved file)."""
        for key in self.keys_of(window):
            tile_window = self.tile_window(key)
            tile = self._pending.get(key)
            if tile is None:
                frozen = self._saving.get(key)
                tile = frozen.copy() if frozen is not None else self._read_saved(tile_window)
                self._pending[key] = tile
            paste(tile, tile_window, mask, window)

    def begin_save(self) -> dict[Window, np.ndarray]:
        """Freeze the pending tiles for a save: {tile window: read-only (h, w) {0,1} tile}
        (empty when nothing is pending). Raises RuntimeError while another save runs."""
        if self._saving:
            raise RuntimeError("a save of these tiles is already running")
        self._saving, self._pending = self._pending, {}
        for tile in self._saving.values():
            tile.setflags(write=False)
        return {self.tile_window(key): tile for key, tile in self._saving.items()}

    def saved(self) -> None:
        """The frozen tiles are in the saved file now (whose reader `read_saved` uses)."""
        self._saving = {}

    def save_failed(self) -> None:
        """The save did not happen: its tiles are pending again (newer edits kept on top)."""
        for key, tile in self._saving.items():
            if key not in self._pending:
                tile.setflags(write=True)  # no reader holds it any more
                self._pending[key] = tile
        self._saving = {}
