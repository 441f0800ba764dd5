"""Viewer benchmark on the real widgets: ``python -m isegsat.app.tools.bench [--size 20000]``.

Writes two scenes into a cache folder (reused by later runs):

* an Inria-like tile: 5000 x 5000 px, 0.3 m, UTM, stored like the Inria distribution (uncompressed
  strips, no overviews) with a synthetic suburban scene;
* a big scene: size x size px (default 20 000), tiled 512 px JPEG-YCbCr, written block by block
  from synthetic chips, with external overviews built by ``isegsat.app.geo.build_overviews``.

Each scene is opened in a fresh process (so peak RSS is per scene) in the real ``MainWindow``
(offscreen, 1280 x 860). Figures: time to open plus first screen rendered (until the tile loader
has delivered every visible tile and the view has painted), per-step pan times (scroll by a third
of the view, until every newly visible tile is in and painted) as p50 / p95 / max, the longest
GUI event-loop stall (gap between 5 ms timer ticks), time to show the whole scene (fit), peak
RSS and, with a model (``--weights``, default: the bundled one), the click latency in the window:
model load until ready (warm-up pass included), the first click of the session and the later
clicks (from the click until the session has the answer), on a tile of the scene.

Label saves (the Inria-like tile; ``--saves-only`` measures only these): the labels start from a
dense mask of the whole tile and every 512 px tile is edited, then the longest GUI stall of a
save is measured twice: with the old path, the synchronous ``LabelLayer.flush()`` on the GUI
thread, and with the window's autosave, which writes on the layer's save thread.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

VIEW_SIZE = (1280, 860)
INRIA_SIZE = 5000
CRS = "EPSG:32633"
ORIGIN = (601_200.0, 5_340_600.0)  # west, north in metres
PIXEL_M = 0.3
CHIP = 2048
STYLES = ("urban", "suburban", "rural", "urban")
BENCH_VERSION = "v1"


# ---------------------------------------------------------------------------------- scenes
def _profile(width: int, height: int) -> dict:
    from affine import Affine

    return {
        "driver": "GTiff", "width": width, "height": height, "count": 3, "dtype": "uint8",
        "crs": CRS, "transform": Affine(PIXEL_M, 0, ORIGIN[0], 0, -PIXEL_M, ORIGIN[1]),
        "photometric": "RGB", "interleave": "pixel",
    }  # fmt: skip


def write_inria_like_tile(path: Path, size: int = INRIA_SIZE, seed: int = 1) -> Path:
    """A size x size synthetic suburban tile stored as Inria ships them: uncompressed strips and
    no overviews."""
    import rasterio

    from isegsat.inference.atomic_file import atomic_path
    from isegsat.resources.synth import generate_scene

    scene = generate_scene(size, size, seed, "suburban")
    with atomic_path(path) as tmp, rasterio.open(tmp, "w", **_profile(size, size)) as ds:
        ds.write(np.moveaxis(scene.image, 2, 0))
    return path


def write_big_scene(
    path: Path, size: int, seed: int = 2, chip: int = CHIP, log: Callable[[str], None] = print
) -> Path:
    """A size x size tiled JPEG GeoTIFF written ``chip`` rows at a time from flipped synthetic
    chips (chip x chip px), then external overviews (.ovr) built by the app's geodata code."""
    import rasterio
    from rasterio.windows import Window

    from isegsat.app.geo import build_overviews
    from isegsat.resources.synth import generate_scene

    chips = [generate_scene(chip, chip, seed + i, s).image for i, s in enumerate(STYLES)]
    rng = np.random.default_rng(seed)
    tmp = path.with_name(f".{path.name}.tmp.tif")
    options = {"tiled": True, "blockxsize": 512, "blockysize": 512, "compress": "JPEG",
               "photometric": "YCBCR", "jpeg_quality": 90, "bigtiff": "if_safer"}  # fmt: skip
    try:
        with rasterio.open(tmp, "w", **{**_profile(size, size), **options}) as ds:
            for row in range(0, size, chip):
                height = min(chip, size - row)
                strip = np.empty((height, size, 3), np.uint8)
                for col in range(0, size, chip):
                    piece = chips[rng.integers(len(chips))][:: rng.choice((1, -1))]
                    piece = piece[:, :: rng.choice((1, -1))]
                    width = min(chip, size - col)
                    strip[:, col : col + width] = piece[:height, :width]
                ds.write(np.moveaxis(strip, 2, 0), window=Window(0, row, size, height))
                log(f"  wrote rows {row + height}/{size}")
        log("  building overviews")
        build_overviews(tmp)
        os.replace(tmp.with_name(tmp.name + ".ovr"), path.with_name(path.name + ".ovr"))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
        tmp.with_name(tmp.name + ".ovr").unlink(missing_ok=True)
    return path


def ensure_inria_tile(folder: Path) -> Path:
    """The Inria-like bench tile in ``folder``, generated on first use."""
    folder.mkdir(parents=True, exist_ok=True)
    inria = folder / f"inria_like_{INRIA_SIZE}_{BENCH_VERSION}.tif"
    if not inria.exists():
        print(f"writing {inria}", flush=True)
        write_inria_like_tile(inria)
    return inria


def ensure_scenes(folder: Path, size: int) -> list[Path]:
    """Both bench scenes in ``folder``, generated on first use."""
    inria = ensure_inria_tile(folder)
    big = folder / f"big_{size}_{BENCH_VERSION}.tif"
    if not big.exists():
        print(f"writing {big} (block by block)", flush=True)
        write_big_scene(big, size, log=lambda text: print(text, flush=True))
    return [inria, big]


# ---------------------------------------------------------------------------------- measuring
def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS"))
    return int(line.split()[1]) / 1024


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class StallMonitor:
    """Longest gap between ticks of a 5 ms timer: how long the GUI thread was ever blocked."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.longest_ms = 0.0
        self._last = time.perf_counter()
        self._timer = QTimer(interval=5)
        self._timer.timeout.connect(self._tick)
        self._timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.longest_ms = max(self.longest_ms, 1000 * (now - self._last))
        self._last = now

    def reset(self) -> None:
        self.longest_ms, self._last = 0.0, time.perf_counter()

    def stop(self) -> None:
        self._timer.stop()


def _paint(canvas) -> None:
    canvas.viewport().repaint()


def dense_mask(size: int, seed: int = 3) -> np.ndarray:
    """(size, size) uint8 {0,1}: rectangular roofs of 8-60 px covering about a third of the
    scene, so every 512 px tile holds buildings (a dense starting label)."""
    rng = np.random.default_rng(seed)
    mask = np.zeros((size, size), np.uint8)
    count = size * size // 4000
    rows, cols = rng.integers(0, size, count), rng.integers(0, size, count)
    heights, widths = rng.integers(8, 60, count), rng.integers(8, 60, count)
    for row, col, height, width in zip(rows, cols, heights, widths, strict=True):
        mask[row : row + height, col : col + width] = 1
    return mask


def _touch_every_tile(labels, seed: int) -> int:
    """One undo step that rewrites every 512 px tile of the layer with new dense roofs (so every
    tile is pending); returns the number of tiles."""
    from isegsat.app.geo.grid import block_windows
    from isegsat.app.geo.labels import BLOCK

    size = max(labels.width, labels.height)
    roofs = dense_mask(size, seed)
    windows = list(block_windows(labels.grid.full_window, BLOCK))
    labels.write_group(
        (w, roofs[w.row_off : w.row_off + w.height, w.col_off : w.col_off + w.width])
        for w in windows
    )
    return len(windows)


def time_saves(window, monitor: StallMonitor) -> dict:
    """Longest GUI stall and duration of a save of a layer with every tile edited: the old
    synchronous flush on the GUI thread, then the autosave through the save thread."""
    from PySide6.QtWidgets import QApplication

    from isegsat.app.tools.screenshot import wait_until

    labels = window.document.labels
    tiles = _touch_every_tile(labels, seed=11)
    QApplication.processEvents()
    monitor.reset()
    start = time.perf_counter()
    labels.flush()  # before: what the autosave timer ran on the GUI thread
    sync_s = time.perf_counter() - start
    settle = time.perf_counter() + 0.05
    wait_until(lambda: time.perf_counter() > settle, 10)  # ticks after the save close the gap
    sync_stall = monitor.longest_ms

    _touch_every_tile(labels, seed=12)
    answers: list[tuple[str, str]] = []
    window.labels_saved.connect(lambda reason, error: answers.append((reason, error)))
    QApplication.processEvents()
    monitor.reset()
    start = time.perf_counter()
    window.autosave.timeout.emit()  # after: written on the label layer's save thread
    wait_until(lambda: bool(answers), 600)
    background_s = time.perf_counter() - start
    settle = time.perf_counter() + 0.05
    wait_until(lambda: time.perf_counter() > settle, 10)
    if answers[0][1]:
        raise RuntimeError(f"the background save failed: {answers[0][1]}")
    return {
        "save_tiles": tiles,
        "save_sync_s": sync_s,
        "save_sync_stall_ms": sync_stall,
        "save_background_s": background_s,
        "save_background_stall_ms": monitor.longest_ms,
    }


def measure_saves(path: Path) -> dict:
    """Open ``path`` in the real MainWindow with a dense starting label and time its saves
    (``time_saves``; this process)."""
    from PySide6.QtWidgets import QApplication

    from isegsat.app.tools.screenshot import isolate_settings

    app = QApplication.instance() or QApplication([])
    isolate_settings()
    window = _open_dense(path)
    monitor = StallMonitor()
    try:
        figures = time_saves(window, monitor)
    finally:
        monitor.stop()
        window.shutdown()
        window.close()
        app.processEvents()
    return {"scene": path.name, **figures}


def _open_dense(path: Path):
    """A shown MainWindow (no model) with ``path`` open, its labels started from a dense mask."""
    import rasterio

    from isegsat.app.geo import LabelLayer
    from isegsat.app.main_window import MainWindow
    from isegsat.app.settings import AppSettings

    label_path = LabelLayer.default_path(path)
    for stale in (label_path, label_path.with_name(label_path.name + ".journal")):
        stale.unlink(missing_ok=True)
    mask_path = path.with_name(f"{path.stem}_dense_mask.tif")
    with rasterio.open(path) as image:
        profile = {**image.profile, "count": 1, "photometric": "minisblack"}
        roofs = dense_mask(max(image.width, image.height))[: image.height, : image.width]
    with rasterio.open(mask_path, "w", **profile) as out:
        out.write(roofs * np.uint8(255), 1)
    window = MainWindow(settings=AppSettings(), device="cpu")
    window.resize(*VIEW_SIZE)
    window.show()
    try:
        if not window.open_image(path, mask_path, restart_from_mask=True):
            raise RuntimeError(f"MainWindow could not open {path}")
    finally:
        mask_path.unlink(missing_ok=True)
    return window


def measure(path: Path, steps: int, weights: Path | None = None, clicks: int = 5) -> dict:
    """Open ``path`` in the real MainWindow and time first screen, pans and fit, then, with
    ``weights``, the model load and ``clicks`` clicks on the current tile (this process)."""
    from PySide6.QtWidgets import QApplication

    from isegsat.app.tools.screenshot import isolate_settings, visible_tiles_loaded, wait_until

    app = QApplication.instance() or QApplication([])
    isolate_settings()
    from isegsat.app.geo import LabelLayer
    from isegsat.app.main_window import MainWindow
    from isegsat.app.settings import AppSettings

    for stale in (LabelLayer.default_path(path),):
        stale.unlink(missing_ok=True)
        stale.with_name(stale.name + ".journal").unlink(missing_ok=True)
    window = MainWindow(settings=AppSettings(), device="cpu")
    window.resize(*VIEW_SIZE)
    window.show()
    app.processEvents()
    canvas = window.canvas
    rss_idle = _rss_mb()
    monitor = StallMonitor()

    start = time.perf_counter()
    if not window.open_image(path):
        raise RuntimeError(f"MainWindow could not open {path}")
    open_call = time.perf_counter() - start
    wait_until(lambda: visible_tiles_loaded(window), 120)
    _paint(canvas)
    first_screen = time.perf_counter() - start
    open_stall = monitor.longest_ms

    monitor.reset()
    hbar, vbar = canvas.horizontalScrollBar(), canvas.verticalScrollBar()
    dx, dy = canvas.viewport().width() // 3, canvas.viewport().height() // 5
    direction = 1
    pan_ms: list[float] = []
    for _ in range(steps):
        if not hbar.minimum() <= hbar.value() + direction * dx <= hbar.maximum():
            direction = -direction
        step_start = time.perf_counter()
        hbar.setValue(hbar.value() + direction * dx)
        vbar.setValue(min(vbar.value() + dy, vbar.maximum()))
        wait_until(lambda: visible_tiles_loaded(window), 120)
        _paint(canvas)
        pan_ms.append(1000 * (time.perf_counter() - step_start))
    pan_stall = monitor.longest_ms
    scale = canvas.scale_factor()

    fit_start = time.perf_counter()
    canvas.fit()
    wait_until(lambda: visible_tiles_loaded(window), 120)
    _paint(canvas)
    fit_s = time.perf_counter() - fit_start
    click_figures = time_clicks(window, weights, clicks) if weights is not None else {}

    monitor.stop()
    window.shutdown()
    window.close()
    app.processEvents()
    return {
        "scene": path.name,
        "file_mb": path.stat().st_size / 2**20,
        "open_call_s": open_call,
        "first_screen_s": first_screen,
        "open_stall_ms": open_stall,
        "pan_ms": _percentiles(pan_ms),
        "pan_stall_ms": pan_stall,
        "pan_image_px": steps * dx / scale,
        "view_scale": scale,
        "fit_s": fit_s,
        "rss_idle_mb": rss_idle,
        "rss_peak_mb": _peak_rss_mb(),
        **click_figures,
    }


def time_clicks(window, weights: Path, clicks: int) -> dict:
    """Load ``weights`` (until ready, warm-up included), then time ``clicks`` positive clicks on
    a diagonal of the current tile, each until the session holds the model's answer."""
    from isegsat.app.tools.screenshot import wait_until

    start = time.perf_counter()
    window.load_model(weights)
    wait_until(lambda: window.controller.model_ready, 300)
    load_s = time.perf_counter() - start
    window.controller.show_tile()
    session = window.controller.session
    box = session.tile_box
    seconds = []
    for k in range(clicks):
        offset = (k + 1) / (clicks + 1)
        row, col = box.row + int(offset * box.height), box.col + int(offset * box.width)
        click_start = time.perf_counter()
        window.controller.click(row, col, True)
        wait_until(lambda: not session.pending, 300)
        seconds.append(time.perf_counter() - click_start)
    return {"model_load_s": load_s, "first_click_s": seconds[0], "later_clicks_s": seconds[1:]}


def _percentiles(values: list[float]) -> tuple[float, float, float]:
    """(p50, p95, max) of the values."""
    return float(np.percentile(values, 50)), float(np.percentile(values, 95)), max(values)


def _report(rows: list[dict]) -> str:
    """Human-readable figures, one block per scene."""
    lines = []
    for r in rows:
        p50, p95, worst = r["pan_ms"]
        lines += [
            f"{r['scene']} ({r['file_mb']:.0f} MB on disk)",
            f"  open + first screen rendered  {r['first_screen_s']:.2f} s (open_image call "
            f"{r['open_call_s']:.2f} s, longest GUI stall {r['open_stall_ms']:.0f} ms)",
            f"  pan step until painted         p50 {p50:.0f} ms, p95 {p95:.0f} ms, "
            f"max {worst:.0f} ms (longest GUI stall {r['pan_stall_ms']:.0f} ms; "
            f"{r['pan_image_px']:.0f} image px at {r['view_scale']:.2f} screen px / image px)",
            f"  fit whole scene until painted  {r['fit_s']:.2f} s",
            f"  RSS                            {r['rss_idle_mb']:.0f} MB idle window, "
            f"{r['rss_peak_mb']:.0f} MB peak",
        ]
        if "first_click_s" in r:
            later = r["later_clicks_s"]
            lines.append(
                f"  model load (warm-up included)  {r['model_load_s']:.2f} s; first click "
                f"{r['first_click_s']:.3f} s, later clicks p50 "
                f"{float(np.median(later)) if later else float('nan'):.3f} s"
            )
    return "\n".join(lines)


def _saves_report(r: dict) -> str:
    """The label-save figures: GUI stall before (GUI-thread flush) and after (save thread)."""
    before, after = r["save_sync_stall_ms"], r["save_background_stall_ms"]
    return "\n".join(
        [
            f"{r['scene']}: saving a dense label layer with all {r['save_tiles']} tiles edited",
            f"  before: flush on the GUI thread      longest GUI stall {before:.0f} ms "
            f"(save {r['save_sync_s']:.2f} s)",
            f"  after: autosave on the save thread   longest GUI stall {after:.0f} ms "
            f"(save {r['save_background_s']:.2f} s; heartbeat 5 ms)",
            f"  GUI stall before / after             {before / max(after, 1e-3):.1f}x",
        ]
    )


def _child(args: list[str]) -> dict:
    """Run this module with ``args`` in a fresh process; its JSON figures (SystemExit on error)."""
    done = subprocess.run(
        [sys.executable, "-m", "isegsat.app.tools.bench", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
        raise SystemExit(done.returncode)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m isegsat.app.tools.bench",
        description="Time opening and panning big rasters in the real main window (offscreen).",
    )
    parser.add_argument("--size", type=int, default=20_000, help="edge of the big scene in px")
    parser.add_argument("--steps", type=int, default=40, help="pan steps per scene")
    parser.add_argument("--dir", type=Path, help="scene cache (default: user cache/isegsat/bench)")
    parser.add_argument(
        "--weights", type=Path, help="model for the click figures (default: the bundled one)"
    )
    parser.add_argument("--no-clicks", action="store_true", help="skip the click figures")
    parser.add_argument(
        "--saves-only",
        action="store_true",
        help="only the label-save GUI stall on the Inria-like tile (dense layer)",
    )
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # child-process mode
    parser.add_argument("--measure-saves", type=Path, help=argparse.SUPPRESS)  # child mode
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    weights = None
    if not args.no_clicks:
        from isegsat.resources import default_model_path

        weights = args.weights or default_model_path()
    if args.measure is not None:
        print(json.dumps(measure(args.measure, args.steps, weights)))
        return 0
    if args.measure_saves is not None:
        print(json.dumps(measure_saves(args.measure_saves)))
        return 0
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "isegsat" / "bench"
    if args.saves_only:
        inria = ensure_inria_tile(args.dir or cache)
        print(_saves_report(_child(["--measure-saves", str(inria)])))
        return 0
    scenes = ensure_scenes(args.dir or cache, args.size)
    rows = []
    for scene in scenes:
        command = ["--measure", str(scene), "--steps", str(args.steps)]
        command += ["--weights", str(weights)] if weights is not None else ["--no-clicks"]
        rows.append(_child(command))
    saves = _child(["--measure-saves", str(scenes[0])])
    print(f"view {VIEW_SIZE[0]}x{VIEW_SIZE[1]} offscreen, {args.steps} pan steps of 1/3 view width")
    print(_report(rows))
    print(_saves_report(saves))
    return 0


if __name__ == "__main__":
    sys.exit(main())
