"""Pre-label a whole scene with a segmenter that needs no clicks, window by window (no Qt).

The scene is cut into windows of ``tile`` px spread evenly so that neighbours overlap by at
least ``overlap`` px (``TileLayout``). Each window's building probability is blended with its
neighbours' by a linear weight ramp over the overlap (weights sum to 1 at every pixel), so a
building crossing a window border comes out whole and without a seam; the blended probability is
thresholded (``prob > threshold``) into a 0/255 uint8 mask on the image's grid, in the label
layer's GeoTIFF layout (``isegsat IMAGE --mask DRAFT.tif`` opens it as the starting label).

Memory is bounded by one row of windows, whatever the raster's height: a float32 accumulator of
at most ``tile`` rows × the raster's width, fewer than 512 + ``tile`` finished rows waiting for a
whole 512-row band of output blocks, and the source's cache of the 512 px tiles one row of
windows reads (about 150 MB in all for a 20 000 px wide scene at the defaults); pixels are read
window by window through ``RasterSource``.

Resumable: after every row of windows, the finished bands go to ``<out>.prelabel/partial.tif``,
and ``<out>.prelabel/state.json`` records the settings, the rows of windows done and the file
holding the accumulator carried to the next row. A rerun with the same settings continues from
there (at most one row of windows is recomputed); the completed mask is copied to ``out``
atomically (``atomic_output``) and the sidecar folder removed.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property, partial
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.errors import RasterioError
from rasterio.windows import Window

from isegsat.app.geo.atomic import atomic_output, check_writable_directory, disk_full_error
from isegsat.app.geo.errors import Cancelled, RasterError
from isegsat.app.geo.grid import RasterGrid, block_windows
from isegsat.app.geo.labels import BLOCK, FOREGROUND, mask_profile, verify_written_raster
from isegsat.app.geo.raster import TILE_SIZE, RasterSource
from isegsat.app.prelabel_ranks import ALONE, Ranks, together
from isegsat.inference.atomic_file import write_atomically
from isegsat.inference.threshold import PRED_THRESHOLD

DEFAULT_TILE = 512
DEFAULT_OVERLAP = 64
MIN_TILE = 32
STATE_VERSION = 1
_MAX_READ_CACHE_MB = 256.0  # RasterSource's default cap

Segment = Callable[[np.ndarray], np.ndarray]
"""(h, w, 3) uint8 RGB window -> (h, w) float building probability in [0, 1]."""


class PrelabelError(Exception):
    """Pre-labelling cannot start or go on; the message says why (nothing final is written)."""


# ----------------------------------------------------------------------------- layout


def window_offsets(length: int, tile: int, overlap: int) -> tuple[int, ...]:
    """Offsets of the fewest ``min(tile, length)`` px windows that cover ``length`` px with
    neighbours overlapping by at least ``overlap`` px, spread evenly from 0 to the end."""
    size = min(tile, length)
    if size == length:
        return (0,)
    count = math.ceil((length - overlap) / (tile - overlap))
    return tuple(round(i * (length - size) / (count - 1)) for i in range(count))


def blend_weights(offsets: tuple[int, ...], size: int, length: int, overlap: int) -> list:
    """Per window, (size,) float32 weights along one axis: a linear ramp over ``overlap`` px at
    every edge that is not the raster's, normalised so the windows' weights sum to 1 at each
    pixel (a partition of unity: blending needs no second accumulator)."""
    ramp = max(1, min(overlap, size // 2))
    up = (np.arange(ramp) + 0.5) / ramp
    raw = []
    for offset in offsets:
        weight = np.ones(size)
        if offset > 0:
            weight[:ramp] = np.minimum(weight[:ramp], up)
        if offset + size < length:
            weight[-ramp:] = np.minimum(weight[-ramp:], up[::-1])
        raw.append(weight)
    total = np.zeros(length)
    for offset, weight in zip(offsets, raw, strict=True):
        total[offset : offset + size] += weight
    return [
        (weight / total[offset : offset + size]).astype(np.float32)
        for offset, weight in zip(offsets, raw, strict=True)
    ]


@dataclass(frozen=True)
class TileLayout:
    """The windows of a ``width`` × ``height`` px raster: rows of windows (``row_offsets``)
    × columns (``col_offsets``), each ``tile_height`` × ``tile_width`` px (the tile, or the
    raster's side when smaller). Window index = row * len(col_offsets) + column."""

    width: int
    height: int
    tile: int = DEFAULT_TILE
    overlap: int = DEFAULT_OVERLAP

    def __post_init__(self) -> None:
        if self.tile < MIN_TILE:
            raise ValueError(f"tile must be at least {MIN_TILE} px, got {self.tile}")
        if not 0 <= self.overlap <= self.tile // 2:
            raise ValueError(
                f"overlap must be between 0 and half the tile ({self.tile // 2} px), "
                f"got {self.overlap}"
            )

    @property
    def tile_width(self) -> int:
        return min(self.tile, self.width)

    @property
    def tile_height(self) -> int:
        return min(self.tile, self.height)

    @cached_property
    def col_offsets(self) -> tuple[int, ...]:
        return window_offsets(self.width, self.tile, self.overlap)

    @cached_property
    def row_offsets(self) -> tuple[int, ...]:
        return window_offsets(self.height, self.tile, self.overlap)

    @cached_property
    def col_weights(self) -> list:
        return blend_weights(self.col_offsets, self.tile_width, self.width, self.overlap)

    @cached_property
    def row_weights(self) -> list:
        return blend_weights(self.row_offsets, self.tile_height, self.height, self.overlap)

    @property
    def count(self) -> int:
        return len(self.col_offsets) * len(self.row_offsets)

    def window(self, row: int, col: int) -> Window:
        """Window (col_off, row_off, width, height) in full-resolution pixels of the raster."""
        return Window(
            self.col_offsets[col], self.row_offsets[row], self.tile_width, self.tile_height
        )


# ----------------------------------------------------------------------------- model


def load_prelabeller(weights: Path, device: str | None = None) -> tuple[Segment, dict[str, Any]]:
    """(segment, model id) of a non-interactive checkpoint (``isegsat-train --preset
    baseline``) on ``device`` (None: CUDA when present). The id (path, size, mtime) joins a
    run's settings so that a resume refuses another model. Raises CheckpointError (missing,
    foreign or click-based checkpoint) or RuntimeError / ValueError (unavailable device)."""
    from isegsat.inference.segmenter import load_segmenter, predict_without_clicks

    weights = Path(weights)
    model, _ = load_segmenter(weights, device)
    target = next(model.parameters()).device
    stat = weights.stat()
    model_id = {
        "weights": str(weights.resolve()),
        "bytes": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
    }

    def segment(rgb: np.ndarray) -> np.ndarray:
        return predict_without_clicks(model, rgb, target)

    return segment, model_id


# ----------------------------------------------------------------------------- run


@dataclass(frozen=True)
class PrelabelResult:
    """A finished pre-labelling: the mask written, its windows (all, and those run by this
    call: fewer after a resume) and the share of building pixels."""

    path: Path
    windows: int
    windows_run: int
    resumed: bool
    building_fraction: float
    seconds: float


def state_folder(out: Path) -> Path:
    """Sidecar folder of an unfinished run writing ``out``: ``<out>.prelabel/``."""
    out = Path(out)
    return out.with_name(out.name + ".prelabel")


def check_inputs(image: Path, out: Path) -> RasterGrid:
    """The image's grid, after checking it is a raster whose first and last pixels can be read
    and that ``out``'s folder is writable (RasterError / OSError otherwise): what can fail
    before a model is loaded."""
    with RasterSource.open(image, cache_mb=1) as source:
        grid = source.grid
        for col, row in ((0, 0), (grid.width - 1, grid.height - 1)):  # a truncated file fails
            source.read_full_res_rgb(Window(col, row, 1, 1))
    check_writable_directory(Path(out))
    return grid


def prelabel_scene(
    image: Path,
    out: Path,
    segment: Segment,
    *,
    tile: int = DEFAULT_TILE,
    overlap: int = DEFAULT_OVERLAP,
    threshold: float = PRED_THRESHOLD,
    model_id: Mapping[str, Any] | None = None,
    restart: bool = False,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    ranks: Ranks = ALONE,
) -> PrelabelResult:
    """Segment the whole of ``image`` window by window and write the 0/255 mask to ``out``.

    ``model_id`` (plain JSON values, e.g. the checkpoint's path, size and mtime) joins the
    settings a resumed run must share. An unfinished run of ``out`` with the same settings is
    continued; one with other settings raises PrelabelError unless ``restart``. ``progress(done,
    total)`` is called after each window (and once at the start); ``cancel()`` returning True
    stops before the next window with ``Cancelled``, like an interruption: the rows of windows
    already done are kept for a rerun. Raises RasterError (unreadable image), PrelabelError
    (unwritable output, full disk, other settings).

    ``ranks``: when several processes (torchrun) pre-label the scene together, each calls this
    with its ``Ranks`` and runs every ``world``-th window; process 0 writes the mask (the same
    mask as one process writes) and the state, and reports progress. An error in any process
    stops all of them (the others raise ``AnotherProcessFailed``); the rows already written
    stay resumable.
    """
    image, out = Path(image), Path(out)
    start = time.perf_counter()
    if not 0.0 < threshold < 1.0:
        raise PrelabelError(f"threshold must be between 0 and 1, got {threshold}")
    with RasterSource.open(image, cache_mb=0) as probe:
        layout = TileLayout(probe.width, probe.height, tile, overlap)
    leader = ranks.rank == 0
    with RasterSource.open(image, cache_mb=_read_cache_mb(layout)) as source:
        settings = _settings(image, layout, threshold, model_id)
        run = _together(
            ranks, lambda: _begin(out, source.grid, settings, restart) if leader else None
        )
        rows_done, first_row = ranks.share((run.rows_done, run.sums.start) if leader else None)
        sums = run.sums if leader else RowSums(layout, first_row)
        columns = len(layout.col_offsets)
        done_before = done = rows_done * columns
        if progress is not None:
            progress(done, layout.count)

        def run_windows(row: int) -> None:
            sums.reserve(row)
            for col in range(columns):
                if (row * columns + col) % ranks.world != ranks.rank:
                    continue
                if cancel is not None and cancel():
                    raise Cancelled(
                        f"pre-labelling stopped after {done + col} of {layout.count} windows"
                    )
                sums.add(row, col, _window_probability(source, layout.window(row, col), segment))
                if progress is not None:
                    progress(done + col + 1, layout.count)

        for row in range(rows_done, len(layout.row_offsets)):
            _together(ranks, partial(run_windows, row))
            ranks.sum_to_leader(sums.values)
            if leader:
                _together(ranks, partial(run.finish_row, row, threshold))
            else:
                sums.take_final(row)
                sums.values[:] = 0  # the leader holds the sums now
                _together(ranks, lambda: None)
            done += columns
            if progress is not None:
                progress(done, layout.count)
    fraction = ranks.share(_together(ranks, run.complete if leader else lambda: None))
    seconds = time.perf_counter() - start
    return PrelabelResult(out, layout.count, done - done_before, done_before > 0, fraction, seconds)


def _begin(out: Path, grid: RasterGrid, settings: dict, restart: bool) -> _Run:
    try:
        check_writable_directory(out)
        return _Run.begin(out, grid, settings, restart)
    except (OSError, RasterioError) as exc:
        raise PrelabelError(f"cannot start writing {out}: {_reason(out, exc)}") from exc


def _together(ranks: Ranks, action: Callable[[], Any]) -> Any:
    """``action()`` as one step of all processes (see ``prelabel_ranks.together``)."""
    return together(ranks, action, (PrelabelError, RasterError, Cancelled, OSError))


def _read_cache_mb(layout: TileLayout) -> float:
    """The source's tile cache: the bands of 512 px tiles one row of windows reads across the
    scene's width (RGB + validity, 4 bytes a pixel), so each tile is read from GDAL once."""
    bands = math.ceil(layout.tile_height / TILE_SIZE) + 1
    return min(_MAX_READ_CACHE_MB, bands * TILE_SIZE * layout.width * 4 / 2**20)


def _window_probability(source: RasterSource, window: Window, segment: Segment) -> np.ndarray:
    """(h, w) float32 probability of one window; pixels without data (nodata, alpha) are 0."""
    rgb, valid = source.read_with_mask(window)
    prob = np.asarray(segment(rgb), dtype=np.float32)
    if prob.shape != valid.shape:
        raise PrelabelError(f"the model returned {prob.shape} for a {valid.shape} window")
    return np.where(valid, prob, np.float32(0))


def _settings(
    image: Path, layout: TileLayout, threshold: float, model_id: Mapping[str, Any] | None
) -> dict[str, Any]:
    stat = image.stat()
    return {
        "image": str(image.resolve()),
        "image_bytes": stat.st_size,
        "image_mtime_ns": stat.st_mtime_ns,
        "size": [layout.width, layout.height],
        "tile": layout.tile,
        "overlap": layout.overlap,
        "threshold": threshold,
        "model": dict(model_id or {}),
    }


def _reason(path: Path, exc: BaseException) -> str:
    full = disk_full_error(path, exc)
    if full is not None:
        return full.strerror
    return (str(exc) or type(exc).__name__).splitlines()[0]


class RowSums:
    """Blended building probabilities of raster rows ``start`` … ``start + len(values)``:
    ``values`` is (rows, raster width) float32, the windows' probabilities × their blend weights
    summed (``TileLayout`` weights sum to 1, so a pixel every window covering it has added is its
    blended probability). Sums of several processes add up to the sums of one."""

    def __init__(self, layout: TileLayout, start: int = 0) -> None:
        self.layout = layout
        self.start = start
        self.values = np.zeros((0, layout.width), np.float32)

    def reserve(self, row: int) -> None:
        """Grow ``values`` (with zeros) to reach the bottom of window row ``row``."""
        needed = self.layout.row_offsets[row] + self.layout.tile_height - self.start
        if needed > len(self.values):
            grown = np.zeros((needed, self.layout.width), np.float32)
            grown[: len(self.values)] = self.values
            self.values = grown

    def add(self, row: int, col: int, prob: np.ndarray) -> None:
        """Blend window (row, col)'s (h, w) probability in."""
        self.reserve(row)
        top = self.layout.row_offsets[row] - self.start
        left = self.layout.col_offsets[col]
        height, width = prob.shape
        weight = self.layout.row_weights[row][:, None] * self.layout.col_weights[col][None, :]
        self.values[top : top + height, left : left + width] += prob * weight

    def take_final(self, row: int) -> np.ndarray:
        """Remove and return the (n, width) rows that no window after row ``row`` reaches."""
        offsets = self.layout.row_offsets
        end = offsets[row + 1] if row + 1 < len(offsets) else self.layout.height
        final = self.values[: end - self.start]
        self.values = self.values[end - self.start :].copy()
        self.start = end
        return final


class _Run:
    """The on-disk state of one pre-labelling of ``out`` and the rows it carries in memory.

    Rows [0, written) are in partial.tif (whole 512-row bands until the end); ``finished`` holds
    the thresholded rows [written, sums.start); ``sums`` the blended probabilities of the rows
    from ``sums.start`` on that the next row of windows adds to.
    """

    def __init__(self, out: Path, grid: RasterGrid, layout: TileLayout, state: dict) -> None:
        self.out, self.grid, self.layout = out, grid, layout
        self.folder = state_folder(out)
        self.partial = self.folder / "partial.tif"
        self.settings = state["settings"]
        self.rows_done: int = state["rows_done"]
        self.written: int = state["written"]
        self.building_pixels: int = state["building_pixels"]
        self.carry_file: str | None = state["carry"]
        self.finished = np.zeros((0, grid.width), np.uint8)
        self.sums = RowSums(layout, state["final_end"])
        if self.carry_file:
            with np.load(self.folder / self.carry_file, allow_pickle=False) as carry:
                self.finished, self.sums.values = carry["finished"], carry["accumulator"]

    @classmethod
    def begin(cls, out: Path, grid: RasterGrid, settings: dict, restart: bool) -> _Run:
        folder = state_folder(out)
        layout = TileLayout(grid.width, grid.height, settings["tile"], settings["overlap"])
        state_path = folder / "state.json"
        if folder.exists() and not restart:
            state = _read_state(state_path)
            if state is not None:
                differences = _differences(state["settings"], settings)
                if differences:
                    raise PrelabelError(
                        f"{folder} holds an unfinished pre-labelling with other settings "
                        f"({'; '.join(differences)}): rerun with the same settings to resume "
                        "it, or add --restart"
                    )
                return cls(out, grid, layout, state)
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir()
        with rasterio.open(folder / "partial.tif", "w", **mask_profile(grid)):
            pass
        state = {
            "version": STATE_VERSION,
            "settings": settings,
            "rows_done": 0,
            "windows_done": 0,
            "windows": layout.count,
            "written": 0,
            "final_end": 0,
            "building_pixels": 0,
            "carry": None,
        }
        _write_json(state_path, state)
        return cls(out, grid, layout, state)

    def finish_row(self, row: int, threshold: float) -> None:
        """Threshold the rows no later window reaches, write whole bands, save the state."""
        final = self.sums.take_final(row)
        mask = (final > threshold).astype(np.uint8) * np.uint8(FOREGROUND)
        self.building_pixels += int(np.count_nonzero(mask))
        self.finished = np.concatenate([self.finished, mask])
        last = row + 1 == len(self.layout.row_offsets)
        bands = len(self.finished) if last else len(self.finished) // BLOCK * BLOCK
        try:
            if bands:
                self._write_rows(self.finished[:bands])
                self.finished = self.finished[bands:].copy()
                self.written += bands
            self.rows_done = row + 1
            self._save()
        except (OSError, RasterioError) as exc:
            raise PrelabelError(
                f"cannot write {self.partial}: {_reason(self.partial, exc)}"
            ) from exc

    def _write_rows(self, rows: np.ndarray) -> None:
        window = Window(0, self.written, self.grid.width, len(rows))
        with rasterio.open(self.partial, "r+") as partial:
            for block in block_windows(window, BLOCK):
                data = rows[
                    block.row_off - self.written : block.row_off - self.written + block.height,
                    block.col_off : block.col_off + block.width,
                ]
                if data.any():  # sparse: empty blocks stay unwritten
                    partial.write(data, 1, window=block)

    def _save(self) -> None:
        old = self.carry_file
        self.carry_file = None
        if len(self.finished) or len(self.sums.values):
            self.carry_file = f"carry-{self.rows_done}.npz"
            write_atomically(
                self.folder / self.carry_file,
                lambda handle: np.savez(
                    handle, finished=self.finished, accumulator=self.sums.values
                ),
            )
        _write_json(
            self.folder / "state.json",
            {
                "version": STATE_VERSION,
                "settings": self.settings,
                "rows_done": self.rows_done,
                "windows_done": self.rows_done * len(self.layout.col_offsets),
                "windows": self.layout.count,
                "written": self.written,
                "final_end": self.sums.start,
                "building_pixels": self.building_pixels,
                "carry": self.carry_file,
            },
        )
        if old and old != self.carry_file:
            (self.folder / old).unlink(missing_ok=True)

    def complete(self) -> float:
        """Copy the finished partial mask onto ``out`` atomically, remove the sidecar folder and
        return the share of building pixels."""
        try:
            with atomic_output(self.out) as tmp:
                with (
                    rasterio.open(self.partial) as partial,
                    rasterio.open(tmp, "w", **mask_profile(self.grid)) as final,
                ):
                    for window in block_windows(self.grid.full_window, BLOCK):
                        data = partial.read(1, window=window)
                        if data.any():
                            final.write(data, 1, window=window)
                verify_written_raster(tmp)
        except (OSError, RasterioError) as exc:
            raise PrelabelError(f"cannot write {self.out}: {_reason(self.out, exc)}") from exc
        shutil.rmtree(self.folder, ignore_errors=True)
        return self.building_pixels / (self.grid.width * self.grid.height)


def _read_state(path: Path) -> dict | None:
    """The saved state, or None when the folder has none (a run killed while starting)."""
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise PrelabelError(f"unreadable {path} ({exc}): add --restart to start over") from exc
    if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
        raise PrelabelError(f"{path} is from another version: add --restart to start over")
    return state


def _differences(saved: Mapping[str, Any], wanted: Mapping[str, Any]) -> list[str]:
    """'key X then, Y now' for each setting that changed."""
    keys = sorted(set(saved) | set(wanted))
    changed = [key for key in keys if saved.get(key) != wanted.get(key)]
    return [f"{key} {saved.get(key)!r} then, {wanted.get(key)!r} now" for key in changed]


def _write_json(path: Path, value: Mapping[str, Any]) -> None:
    text = json.dumps(value, indent=1).encode("utf-8")
    write_atomically(path, lambda handle: handle.write(text))


__all__ = [
    "DEFAULT_OVERLAP",
    "DEFAULT_TILE",
    "PrelabelError",
    "PrelabelResult",
    "TileLayout",
    "blend_weights",
    "check_inputs",
    "prelabel_scene",
    "state_folder",
    "window_offsets",
]
