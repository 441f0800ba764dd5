"""Renders the real main window on a small sample-like scene to a PNG artifact (not compared)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtGui import QImage

from isegsat.app.tools.screenshot import (
    WINDOW_SIZE,
    largest_building,
    qimage_to_rgb,
    render_main_window,
    save_png,
)
from isegsat.resources.synth import ensure_sample_scene


def _rgb(path: Path) -> np.ndarray:
    image = QImage(str(path))
    assert not image.isNull()
    return qimage_to_rgb(image)


def test_main_window_screenshot_is_a_real_rendering(qtbot, tmp_path: Path) -> None:
    scene = ensure_sample_scene(tmp_path / "sample", size=1024)
    png = render_main_window(
        scene.image_path, scene.label_path, tmp_path / "window.png", settings_dir=tmp_path / "qs"
    )
    rgb = _rgb(png)
    assert rgb.shape[:2] == (WINDOW_SIZE[1], WINDOW_SIZE[0])
    centre = rgb[200:-200, 200:-400]  # the canvas: image plus label overlay
    assert centre.std() > 20, "the canvas looks blank"
    assert len(np.unique(centre.reshape(-1, 3), axis=0)) > 500
    blue_label = (centre[..., 2].astype(int) - centre[..., 0]) > 60
    assert blue_label.mean() > 0.01, "no label overlay drawn"


def test_largest_building_lies_inside_the_biggest_blob() -> None:
    mask = np.zeros((40, 60), np.uint8)
    mask[2:6, 2:6] = 1
    mask[10:30, 20:50] = 1
    row, col = largest_building(mask)
    assert 10 <= row < 30 and 20 <= col < 50
    assert largest_building(np.zeros((5, 5), np.uint8)) is None


def test_save_png_falls_back_to_a_palette_when_too_big(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    rgb = np.ascontiguousarray(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8))
    image = QImage(rgb.data, 160, 120, 480, QImage.Format.Format_RGB888).copy()
    full = save_png(image, tmp_path / "full.png")
    small = save_png(image, tmp_path / "small.png", max_kb=full.stat().st_size / 1024 / 2)
    assert small.stat().st_size < full.stat().st_size
    reread = QImage(str(small))
    assert reread.format() == QImage.Format.Format_Indexed8 and reread.colorCount() <= 256
    error = np.abs(_rgb(small).astype(int) - rgb).mean()
    assert error < 40, "the palette image should still resemble the original"
