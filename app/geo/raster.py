"""RasterSource: display and model reads from any GDAL raster, at any zoom, from several threads.

Coordinates: windows are `rasterio.windows.Window` in full-resolution pixels (x right, y down).
Display output is (H, W, 3) uint8 RGB. Pixels that are masked (nodata, alpha = 0, internal mask,
NaN) or outside the raster are returned black (0, 0, 0); `read_with_mask` also returns the
validity mask so a viewer can draw them transparent instead.

Zoomed-out reads go through a pyramid of power-of-two levels: level L holds the raster decimated
by 2**L and is read from GDAL with `out_shape`, so GDAL serves it from the matching overview when
the file has one. Level tiles of 512 x 512 px are kept in a bounded LRU cache.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from os import PathLike
from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import ColorInterp
from rasterio.errors import RasterioError
from rasterio.windows import Window

from isegsat.app.geo.errors import RasterError, SourceClosedError
from isegsat.app.geo.grid import RasterGrid, check_window
from isegsat.app.geo.stretch import apply_stretch, percentile_range
from isegsat.app.geo.tile_cache import TileCache

TILE_SIZE = 512
# Long side of the decimated read used for the percentile stretch.
_STATS_LONG_SIDE = 1024
# Rasters without overviews larger than this (pixels) are sampled by a grid of small windows.
_STATS_FULL_READ_LIMIT = 4096 * 4096
_STATS_GRID = 8
_STATS_WINDOW = 128
_SUPPORTED_KINDS = "uifb"


class RasterSource:
    """A raster opened for display. Create with `RasterSource.open(path)`.

    Thread safety: each thread gets its own rasterio dataset handle; the tile cache is locked.
    `close()` may come from any thread: it waits for reads in flight in other threads (one
    window each, e.g. the model worker's crop), then closes every handle; a read after it raises
    `SourceClosedError` instead of reopening the file.
    """

    def __init__(self, path: Path, bands: tuple[int, ...] | None, cache_mb: float) -> None:
        self.path = path
        self._local = threading.local()
        self._handles: list = []
        self._handles_lock = threading.Lock()
        self.cache = TileCache(cache_mb)
        self._use = threading.Condition()  # guards _readers and _closed
        self._readers = 0
        self._closed = False
        try:
            self._describe(self._dataset(), bands)
        except BaseException:
            self.close()
            raise

    def _describe(self, ds, bands: tuple[int, ...] | None) -> None:
        """Read the raster's metadata and set up display bands and stretch."""
        self.width: int = ds.width
        self.height: int = ds.height
        self.count: int = ds.count
        self.dtype: np.dtype = np.dtype(ds.dtypes[0])
        self.crs = ds.crs if ds.crs else None
        self.transform = ds.transform
        self.nodata = ds.nodata
        self.colorinterp: tuple[ColorInterp, ...] = tuple(ds.colorinterp)
        self.overview_factors: tuple[int, ...] = tuple(ds.overviews(1))
        self._palette = _palette_lut(ds)
        self._check_supported()
        # (bands, stretch), swapped as one: a tile is read and stretched with one pair
        self._display: tuple[tuple[int, int, int], np.ndarray | None] = (
            self.default_bands(),
            None,
        )
        self.set_bands(bands)

    # ----------------------------------------------------------------- construction

    @classmethod
    def open(
        cls, path: str | PathLike, bands: tuple[int, ...] | None = None, cache_mb: float = 256.0
    ) -> RasterSource:
        """Open any raster GDAL reads (GeoTIFF, COG, BigTIFF, VRT, ...).

        bands: 1-based display bands, 3 for RGB or 1 for grey; None = `default_bands()` (the
        bands tagged red/green/blue, else the first three non-alpha bands, else the first band as
        grey). cache_mb caps the display tile cache.
        Raises RasterError with the reason when the file is missing or not a readable raster.
        """
        path = Path(path)
        if not path.exists():
            raise RasterError(f"raster not found: {path}")
        if path.is_dir():
            raise RasterError(f"expected a raster file, got a directory: {path}")
        try:
            return cls(path, None if bands is None else tuple(bands), cache_mb)
        except RasterError:
            raise
        except (RasterioError, OSError, ValueError) as exc:
            raise RasterError(f"cannot open {path} as a raster: {exc}") from exc

    def _check_supported(self) -> None:
        if self.width <= 0 or self.height <= 0 or self.count <= 0:
            raise RasterError(f"{self.path} has no pixels or no bands")
        if self.dtype.kind not in _SUPPORTED_KINDS:
            raise RasterError(f"{self.path}: pixel type {self.dtype} cannot be displayed")

    def _dataset(self):
        """This thread's rasterio dataset handle (opened on first use)."""
        ds = getattr(self._local, "dataset", None)
        if ds is None:
            ds = rasterio.open(self.path)
            self._local.dataset = ds
            with self._handles_lock:
                self._handles.append(ds)
        return ds

    @property
    def closed(self) -> bool:
        return self._closed

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """Hold the source open for one read (raises SourceClosedError once it is closed)."""
        with self._use:
            if self._closed:
                raise SourceClosedError(f"{self.path} was closed")
            self._readers += 1
        try:
            yield
        finally:
            with self._use:
                self._readers -= 1
                self._use.notify_all()

    def close(self) -> None:
        """Wait for reads in flight, then close every thread's handle and drop the cache."""
        with self._use:
            self._closed = True
            while self._readers:
                self._use.wait()
        with self._handles_lock:
            for ds in self._handles:
                ds.close()
            self._handles.clear()
        self._local = threading.local()
        self.cache.clear()

    def __enter__(self) -> RasterSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ----------------------------------------------------------------- properties

    @property
    def grid(self) -> RasterGrid:
        return RasterGrid(self.width, self.height, self.crs, self.transform)

    @property
    def max_level(self) -> int:
        """Coarsest pyramid level: the raster decimated to about one tile."""
        return max(0, math.ceil(math.log2(max(self.width, self.height) / TILE_SIZE)))

    def default_bands(self) -> tuple[int, int, int]:
        """The bands tagged red, green, blue if all present, else bands 1-3 (skipping alpha
        bands), else the first band as grey."""
        tagged = [ColorInterp.red, ColorInterp.green, ColorInterp.blue]
        if all(ci in self.colorinterp for ci in tagged):
            return tuple(self.colorinterp.index(ci) + 1 for ci in tagged)
        colour = [i + 1 for i, ci in enumerate(self.colorinterp) if ci != ColorInterp.alpha] or [1]
        return tuple(colour[:3]) if len(colour) >= 3 else (colour[0],) * 3

    @property
    def bands(self) -> tuple[int, int, int]:
        """The 1-based bands shown as red, green, blue (the model's input too)."""
        return self._display[0]

    @property
    def stretch(self) -> np.ndarray | None:
        """(3, 2) 2-98 % range of the display bands for non-8-bit data, else None."""
        return self._display[1]

    def set_bands(self, bands: tuple[int, ...] | None) -> None:
        """Choose display bands (1-based; 3 = RGB, 1 = grey; None = default) and recompute the
        percentile stretch for non-8-bit data. Clears the tile cache. Safe while other threads
        read: each tile is read with either the old or the new bands and stretch, never a mix,
        and cached under its bands."""
        if bands is None:
            chosen = self.default_bands()
        else:
            bands = tuple(int(b) for b in bands)
            if len(bands) not in (1, 3):
                raise RasterError(f"choose 1 (grey) or 3 (RGB) display bands, got {bands}")
            bad = [b for b in bands if not 1 <= b <= self.count]
            if bad:
                raise RasterError(f"band(s) {bad} do not exist: {self.path} has {self.count}")
            chosen = bands * 3 if len(bands) == 1 else bands
        if self.dtype == np.uint8:
            stretch = None
        else:
            with self._reading():
                stretch = self._compute_stretch(chosen)
        self._display = (chosen, stretch)
        self.cache.clear()

    def _compute_stretch(self, bands: tuple[int, int, int]) -> np.ndarray:
        """2-98 % range per band of `bands` from an overview / decimated read, never a full
        read."""
        ds = self._dataset()
        try:
            if self.overview_factors or self.width * self.height <= _STATS_FULL_READ_LIMIT:
                scale = max(1.0, max(self.width, self.height) / _STATS_LONG_SIDE)
                shape = (max(1, round(self.height / scale)), max(1, round(self.width / scale)))
                whole = Window(0, 0, self.width, self.height)
                data, valid = self._read_raw(ds, whole, shape, bands)
            else:
                data, valid = self._sample_windows(ds, bands)
        except (RasterioError, OSError) as exc:
            message = f"cannot read {self.path} to compute the display stretch: {exc}"
            raise RasterError(message) from exc
        return percentile_range(data, valid)

    def _sample_windows(self, ds, bands: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
        """A grid of small full-resolution windows spread over a big raster without overviews."""
        size = min(_STATS_WINDOW, self.width, self.height)
        cols = np.linspace(0, self.width - size, _STATS_GRID).astype(int)
        rows = np.linspace(0, self.height - size, _STATS_GRID).astype(int)
        parts = [
            self._read_raw(ds, Window(int(c), int(r), size, size), (size, size), bands)
            for r in rows
            for c in cols
        ]
        data = np.concatenate([p[0] for p in parts], axis=2)
        valid = np.concatenate([p[1] for p in parts], axis=1)
        return data, valid

    # ----------------------------------------------------------------- reads

    def read(self, window: Window, out_shape: tuple[int, int] | None = None) -> np.ndarray:
        """Display RGB (out_h, out_w, 3) uint8 of `window`, resampled to out_shape (default: the
        window's size). Zoomed-out reads use overviews. Outside/masked pixels are black."""
        return self.read_with_mask(window, out_shape)[0]

    def read_full_res_rgb(self, window: Window) -> np.ndarray:
        """Full-resolution display RGB (h, w, 3) uint8 of `window` (the model's input)."""
        check_window(window)
        shape = (max(1, round(window.height)), max(1, round(window.width)))
        return self.read_with_mask(window, shape)[0]

    def read_valid_mask(
        self, window: Window, out_shape: tuple[int, int] | None = None
    ) -> np.ndarray:
        """(out_h, out_w) bool: True where the pixel holds data (inside, not nodata/alpha/NaN)."""
        return self.read_with_mask(window, out_shape)[1]

    def read_with_mask(
        self, window: Window, out_shape: tuple[int, int] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(rgb (H, W, 3) uint8, valid (H, W) bool) for `window` resampled to out_shape.

        Windows may extend past the raster (the outside is black and invalid); an empty window or
        out_shape raises RasterError.
        """
        check_window(window)
        if out_shape is None:
            out_shape = (max(1, round(window.height)), max(1, round(window.width)))
        out_h, out_w = (int(v) for v in out_shape)
        if out_h <= 0 or out_w <= 0:
            raise RasterError(f"output shape must be positive, got {out_shape}")
        with self._reading():
            return self._read_with_mask(window, out_h, out_w)

    def _read_with_mask(
        self, window: Window, out_h: int, out_w: int
    ) -> tuple[np.ndarray, np.ndarray]:
        level = self.level_for(window, (out_h, out_w))
        factor = 2**level
        xs = window.col_off + (np.arange(out_w) + 0.5) * (window.width / out_w)
        ys = window.row_off + (np.arange(out_h) + 0.5) * (window.height / out_h)
        inside_x = (xs >= 0) & (xs < self.width)
        inside_y = (ys >= 0) & (ys < self.height)
        rgb = np.zeros((out_h, out_w, 3), dtype=np.uint8)
        valid = np.zeros((out_h, out_w), dtype=bool)
        if not inside_x.any() or not inside_y.any():
            return rgb, valid
        level_w, level_h = self._level_size(level)
        lx = np.clip(np.floor(xs / factor).astype(np.int64), 0, level_w - 1)
        ly = np.clip(np.floor(ys / factor).astype(np.int64), 0, level_h - 1)
        tx0, tx1 = lx[inside_x].min() // TILE_SIZE, lx[inside_x].max() // TILE_SIZE
        ty0, ty1 = ly[inside_y].min() // TILE_SIZE, ly[inside_y].max() // TILE_SIZE
        mosaic_rgb, mosaic_valid = self._mosaic(level, tx0, tx1, ty0, ty1)
        cols = lx[inside_x] - tx0 * TILE_SIZE
        rows = ly[inside_y] - ty0 * TILE_SIZE
        block = np.ix_(np.flatnonzero(inside_y), np.flatnonzero(inside_x))
        rgb[block] = mosaic_rgb[np.ix_(rows, cols)]
        valid[block] = mosaic_valid[np.ix_(rows, cols)]
        return rgb, valid

    def level_for(self, window: Window, out_shape: tuple[int, int]) -> int:
        """Pyramid level (decimation 2**level) used to draw `window` into out_shape pixels."""
        scale = min(window.width / out_shape[1], window.height / out_shape[0])
        if scale < 2:
            return 0
        return min(int(math.floor(math.log2(scale))), self.max_level)

    def _level_size(self, level: int) -> tuple[int, int]:
        factor = 2**level
        return math.ceil(self.width / factor), math.ceil(self.height / factor)

    def _mosaic(
        self, level: int, tx0: int, tx1: int, ty0: int, ty1: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Tiles tx0..tx1 x ty0..ty1 of a level stitched into one (rgb, valid) pair."""
        level_w, level_h = self._level_size(level)
        width = min((tx1 + 1) * TILE_SIZE, level_w) - tx0 * TILE_SIZE
        height = min((ty1 + 1) * TILE_SIZE, level_h) - ty0 * TILE_SIZE
        rgb = np.zeros((height, width, 3), dtype=np.uint8)
        valid = np.zeros((height, width), dtype=bool)
        for ty in range(ty0, ty1 + 1):
            for tx in range(tx0, tx1 + 1):
                tile_rgb, tile_valid = self._tile(level, tx, ty)
                r = (ty - ty0) * TILE_SIZE
                c = (tx - tx0) * TILE_SIZE
                h, w = tile_valid.shape
                rgb[r : r + h, c : c + w] = tile_rgb
                valid[r : r + h, c : c + w] = tile_valid
        return rgb, valid

    def _tile(self, level: int, tx: int, ty: int) -> tuple[np.ndarray, np.ndarray]:
        """Display tile (rgb, valid) of a pyramid level, from the cache or read from GDAL."""
        bands, stretch = self._display
        key = (level, tx, ty, bands)
        cached = self.cache.get(key)
        if cached is not None:
            return cached  # type: ignore[return-value]
        factor = 2**level
        level_w, level_h = self._level_size(level)
        c0, r0 = tx * TILE_SIZE, ty * TILE_SIZE
        tile_w, tile_h = min(TILE_SIZE, level_w - c0), min(TILE_SIZE, level_h - r0)
        window = Window(
            c0 * factor,
            r0 * factor,
            min(tile_w * factor, self.width - c0 * factor),
            min(tile_h * factor, self.height - r0 * factor),
        )
        try:
            data, valid = self._read_raw(self._dataset(), window, (tile_h, tile_w), bands)
        except (RasterioError, OSError) as exc:
            raise RasterError(f"cannot read pixels {window} of {self.path}: {exc}") from exc
        rgb = self._to_display(data, bands, stretch)
        rgb[~valid] = 0
        tile = (rgb, valid)
        self.cache.put(key, tile)
        return tile

    def _read_raw(
        self, ds, window: Window, shape: tuple[int, int], bands: tuple[int, int, int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Raw values (3, h, w) of `bands` (each unique band read once) and validity (h, w)."""
        unique = sorted(set(bands))
        data = ds.read(unique, window=window, out_shape=(len(unique), *shape))
        valid = ds.dataset_mask(window=window, out_shape=shape) > 0
        if data.dtype.kind == "f":
            valid &= np.isfinite(data).all(axis=0)
        return data[[unique.index(b) for b in bands]], valid

    def _to_display(self, data: np.ndarray, bands, stretch: np.ndarray | None) -> np.ndarray:
        if self._palette is not None and bands == (1, 1, 1):
            return self._palette[data[0]]
        return apply_stretch(data, stretch)


def _palette_lut(ds) -> np.ndarray | None:
    """(256, 3) uint8 lookup table for a single-band 8-bit paletted raster, else None."""
    if ds.count != 1 or ds.dtypes[0] != "uint8" or ds.colorinterp[0] != ColorInterp.palette:
        return None
    try:
        colormap = ds.colormap(1)
    except ValueError:
        return None
    lut = np.zeros((256, 3), dtype=np.uint8)
    for value, rgba in colormap.items():
        lut[value] = rgba[:3]
    return lut
