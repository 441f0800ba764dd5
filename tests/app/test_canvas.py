"""ImageCanvas: tiles stream from the loader thread at the zoom's pyramid level; zoom about the
cursor keeps the image point under it fixed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from fakes.scenes import SCENE_CRS, SCENE_TRANSFORM
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from isegsat.app.canvas import ImageCanvas
from isegsat.app.geo import RasterSource
from isegsat.app.tile_loader import TileKey

SIZE = 2048


@pytest.fixture
def big_source(tmp_path: Path):
    """A 2048 x 2048 RGB GeoTIFF (max pyramid level 2) with a horizontal gradient."""
    path = tmp_path / "big.tif"
    gradient = np.broadcast_to((np.arange(SIZE) // 8).astype(np.uint8), (3, SIZE, SIZE))
    profile = dict(
        driver="GTiff", width=SIZE, height=SIZE, count=3, dtype="uint8", crs=SCENE_CRS,
        transform=SCENE_TRANSFORM, tiled=True, blockxsize=256, blockysize=256, compress="deflate",
    )  # fmt: skip
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(gradient)
    source = RasterSource.open(path)
    yield source
    source.close()


@pytest.fixture
def canvas(qtbot, big_source):
    view = ImageCanvas()
    qtbot.addWidget(view)
    view.resize(640, 480)
    view.show()
    view.set_source(big_source)
    yield view
    view.close_source()


def test_fit_streams_the_coarse_and_the_matching_level(qtbot, canvas):
    assert canvas.level() == 2  # 2048 px into ~480 px: about 4 image px per screen px
    qtbot.waitUntil(lambda: TileKey(2, 0, 0) in canvas.loaded_keys(), timeout=10000)
    item = canvas._items[TileKey(2, 0, 0)]
    assert item.scale() == 4 and item.pixmap().width() == 512


def test_one_to_one_loads_full_resolution_tiles_of_the_view(qtbot, canvas):
    canvas.centerOn(1500, 700)
    canvas.actual_size()
    assert canvas.level() == 0 and canvas.scale_factor() == pytest.approx(1)
    qtbot.waitUntil(lambda: TileKey(0, 2, 1) in canvas.loaded_keys(), timeout=10000)
    levels = {key.level for key in canvas.loaded_keys()}
    assert levels <= {0, 2} and TileKey(0, 0, 3) not in canvas.loaded_keys()
    item = canvas._items[TileKey(0, 2, 1)]
    assert (item.pos().x(), item.pos().y()) == (1024, 512)


def test_wheel_zoom_keeps_the_point_under_the_cursor(qtbot, canvas):
    cursor = QPoint(400, 150)
    before = canvas.mapToScene(cursor)
    event = QWheelEvent(
        QPointF(cursor), QPointF(canvas.viewport().mapToGlobal(cursor)), QPoint(), QPoint(0, 480),
        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
        False,
    )  # fmt: skip
    QApplication.sendEvent(canvas.viewport(), event)
    assert canvas.scale_factor() > 0.4
    after = canvas.mapToScene(cursor)
    assert abs(after.x() - before.x()) < 3 and abs(after.y() - before.y()) < 3


def test_drag_pans_without_clicking(qtbot, canvas):
    canvas.actual_size()
    clicks = []
    canvas.clicked.connect(lambda *args: clicks.append(args))
    viewport = canvas.viewport()
    start = canvas.mapToScene(viewport.rect().center())
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=QPoint(300, 200))
    qtbot.mouseMove(viewport, QPoint(250, 180))
    qtbot.mouseMove(viewport, QPoint(200, 160))
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=QPoint(200, 160))
    moved = canvas.mapToScene(viewport.rect().center()) - start
    assert (
        clicks == []
        and moved.x() == pytest.approx(100, abs=2)
        and moved.y() == pytest.approx(40, abs=2)
    )
