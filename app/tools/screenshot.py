"""Driving the real main window headless, and the README screenshot.

``python -m isegsat.app.tools.screenshot [OUT.png] [--weights CKPT]`` opens the sample scene
(``isegsat.resources.synth.ensure_sample_scene``) with its existing label in the real
``MainWindow`` offscreen, accepts a few tiles, clicks a building when a model is available, and
saves the window as a PNG (default ``resources/screenshot.png``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtGui import QImage

WINDOW_SIZE = (1280, 860)
README_MAX_KB = 400
DEFAULT_OUTPUT = Path(__file__).resolve().parents[2] / "resources" / "screenshot.png"


def isolate_settings(folder: Path | None = None) -> None:
    """Point the app's QSettings at ``folder`` (default: a fresh temporary folder), never at the
    user's settings."""
    from PySide6.QtCore import QSettings

    folder = folder or Path(tempfile.mkdtemp(prefix="isegsat-settings-"))
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))


def wait_until(condition: Callable[[], bool], timeout_s: float = 60.0) -> None:
    """Process Qt events until ``condition()`` holds; TimeoutError after ``timeout_s``."""
    from PySide6.QtWidgets import QApplication

    deadline = time.perf_counter() + timeout_s
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError(f"gave up waiting after {timeout_s:.0f} s")
        QApplication.processEvents()
        time.sleep(0.001)


def visible_tiles_loaded(window) -> bool:
    """True when the canvas holds every display tile of its current level inside the view."""
    from isegsat.app.tile_loader import visible_keys

    canvas, source = window.canvas, window.canvas_source
    if source is None:
        return False
    rect = canvas.mapToScene(canvas.viewport().rect()).boundingRect()
    wanted = visible_keys(
        canvas.level(), rect.left(), rect.top(), rect.right(), rect.bottom(),
        source.width, source.height,
    )  # fmt: skip
    return set(wanted) <= canvas.loaded_keys()


def largest_building(mask: np.ndarray) -> tuple[int, int] | None:
    """(row, col) inside the largest connected blob of an (h, w) {0,1} mask, None when empty."""
    import cv2

    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), 4)
    if count < 2:
        return None
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    rows, cols = np.nonzero(labels == biggest)
    middle = len(rows) // 2
    order = np.lexsort((cols, rows))
    return int(rows[order[middle]]), int(cols[order[middle]])


def click_a_building(window, timeout_s: float = 120.0) -> bool:
    """Left-click the largest labelled building of the current tile and wait for the model's
    answer; False when there is no building there."""
    from isegsat.app.geo.boxes import to_window

    session = window.controller.session
    box = session.tile_box
    spot = largest_building(session.labels.read(to_window(box)))
    if spot is None:
        return False
    window.controller.click(box.row + spot[0], box.col + spot[1], True)
    wait_until(lambda: not session.pending, timeout_s)
    return True


def qimage_to_rgb(image: QImage) -> np.ndarray:
    """(h, w, 3) uint8 RGB copy of any QImage."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    h, w, stride = image.height(), image.width(), image.bytesPerLine()
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(h, stride)
    return rows[:, : 3 * w].reshape(h, w, 3).copy()


def palette_image(rgb: np.ndarray, colours: int = 256, seed: int = 0) -> QImage:
    """Indexed-colour QImage of (h, w, 3) uint8 RGB with a k-means palette (no dithering, so it
    compresses well as PNG); the palette is fitted on a pixel sample."""
    import cv2

    h, w, _ = rgb.shape
    pixels = rgb.reshape(-1, 3).astype(np.float32)
    rng = np.random.default_rng(seed)
    sample = pixels[rng.choice(len(pixels), min(len(pixels), 60_000), replace=False)]
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    cv2.setRNGSeed(seed)
    _, _, centres = cv2.kmeans(sample, colours, None, criteria, 1, cv2.KMEANS_PP_CENTERS)
    index = np.empty(len(pixels), np.uint8)
    squared = (centres**2).sum(axis=1)
    for start in range(0, len(pixels), 65_536):
        chunk = pixels[start : start + 65_536]
        index[start : start + 65_536] = (squared - 2 * chunk @ centres.T).argmin(axis=1)
    index = np.ascontiguousarray(index.reshape(h, w))
    image = QImage(index.data, w, h, w, QImage.Format.Format_Indexed8)
    table = np.clip(centres.round(), 0, 255).astype(np.uint32)
    image.setColorTable([int(0xFF000000 | r << 16 | g << 8 | b) for r, g, b in table])
    return image.copy()  # own the pixels: `index` dies with this frame


def save_png(image: QImage, path: Path, max_kb: float | None = None) -> Path:
    """Save ``image`` as PNG; if that exceeds ``max_kb``, save a 256-colour version instead."""
    path.parent.mkdir(parents=True, exist_ok=True)
    saved = image.save(str(path), "PNG")
    if saved and max_kb is not None and path.stat().st_size > max_kb * 1024:
        saved = palette_image(qimage_to_rgb(image)).save(str(path), "PNG", 0)
    if not saved:
        raise OSError(f"cannot write {path}")
    return path


def render_main_window(
    image: Path,
    mask: Path | None,
    out_png: Path,
    accept_tiles: int = 3,
    weights: Path | None = None,
    max_kb: float | None = None,
    settings_dir: Path | None = None,
) -> Path:
    """Open ``image`` (labels started from ``mask``) in the real MainWindow offscreen, accept
    ``accept_tiles`` tiles, click a building when ``weights`` is given, save the window as PNG
    (reduced to a 256-colour palette when it would exceed ``max_kb``). The app's settings go to
    ``settings_dir`` (default: a temporary folder)."""
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    isolate_settings(settings_dir)
    from isegsat.app.main_window import MainWindow
    from isegsat.app.settings import AppSettings

    window = MainWindow(settings=AppSettings(), device="cpu")
    try:
        window.resize(*WINDOW_SIZE)
        window.show()
        if weights is not None:
            window.load_model(weights)
            wait_until(lambda: window.controller.model_ready, 300)
        if not window.open_image(image, mask, restart_from_mask=mask is not None):
            raise RuntimeError(f"the main window could not open {image}")
        for _ in range(accept_tiles):
            window.controller.accept()
        window.controller.show_tile()
        if weights is not None:
            click_a_building(window)
        window.canvas.zoom_by(0.6)
        wait_until(lambda: visible_tiles_loaded(window))
        window.statusBar().clearMessage()  # the open message shows a local cache path
        app.processEvents()
        save_png(window.grab().toImage(), out_png, max_kb)
    finally:
        window.shutdown()
        window.close()
        window.deleteLater()
        app.processEvents()
    return out_png


def usable_checkpoint(path: Path) -> bool:
    """True when ``path`` loads as a model (checked before the window tries, headless)."""
    from isegsat.inference import CheckpointError, load_model

    try:
        load_model(path, "cpu")
    except (CheckpointError, OSError, RuntimeError) as exc:
        print(f"not using {path}: {exc}", file=sys.stderr)
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m isegsat.app.tools.screenshot",
        description="Render the main window on the sample scene to a PNG (offscreen).",
    )
    parser.add_argument(
        "out", nargs="?", type=Path, default=DEFAULT_OUTPUT, help="PNG (default: %(default)s)"
    )
    parser.add_argument("--weights", type=Path, help="checkpoint (default: the bundled model)")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from isegsat.resources import default_model_path
    from isegsat.resources.synth import ensure_sample_scene

    scene = ensure_sample_scene()
    weights = args.weights or default_model_path()
    if weights is not None and not usable_checkpoint(weights):
        weights = None  # the window would stop on a modal error box
    render_main_window(
        scene.image_path, scene.label_path, args.out, weights=weights, max_kb=README_MAX_KB
    )
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
