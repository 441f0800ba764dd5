"""Helpers shared by the dialog tests (plain functions; each test module wraps them in fixtures)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from PySide6.QtCore import QSettings
from rasterio.crs import CRS
from rasterio.windows import Window

from isegsat.app.geo import LabelLayer
from isegsat.app.settings import AppSettings

# UTM 33N, 0.3 m pixels, top-left corner in Vienna: a real-looking Inria-like grid.
SCENE_CRS = CRS.from_epsg(32633)
SCENE_TRANSFORM = Affine(0.3, 0.0, 601_200.0, 0.0, -0.3, 5_340_600.0)
# Two buildings (row0, row1, col0, col1) in scene pixels: 24x30 px and 20x20 px.
BUILDINGS = ((10, 34, 12, 42), (70, 90, 80, 100))


def redirected_settings(tmp_path: Path) -> AppSettings:
    """An ``AppSettings`` whose INI file lives under ``tmp_path`` (never the user's real one)."""
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "qs"))
    settings = AppSettings()
    assert str(tmp_path) in settings.file_name
    return settings


def write_scene(
    path: Path, size: int = 128, crs: CRS | None = SCENE_CRS, transform: Affine = SCENE_TRANSFORM
) -> Path:
    """A size x size 3-band uint8 GeoTIFF: grey ground with darker roofs at ``BUILDINGS``."""
    rng = np.random.default_rng(7)
    image = rng.integers(90, 140, size=(3, size, size), dtype=np.uint8)
    for r0, r1, c0, c1 in BUILDINGS:
        image[:, r0:r1, c0:c1] = 60
    profile = {
        "driver": "GTiff", "width": size, "height": size, "count": 3, "dtype": "uint8",
        "crs": crs, "transform": transform,
    }  # fmt: skip
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(image)
    return path


def labelled_layer(image_path: Path, label_path: Path) -> LabelLayer:
    """A label layer on the image grid with ``BUILDINGS`` accepted (one write each)."""
    layer = LabelLayer.create(label_path, like=image_path)
    for r0, r1, c0, c1 in BUILDINGS:
        layer.write(Window(c0, r0, c1 - c0, r1 - r0), np.ones((r1 - r0, c1 - c0), np.uint8))
    return layer
