"""Label overlay drawing: chunks from the label layer, the hidden (re-predicted) box, opacity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QGraphicsScene
from rasterio.windows import Window

from isegsat.app.geo import LabelLayer
from isegsat.app.overlay import LABEL_COLOUR, LabelOverlay, mask_to_pixmap
from isegsat.inference.box import Box


@pytest.fixture
def labels(scene, tmp_path: Path):
    layer = LabelLayer.create(tmp_path / "labels.tif", like=scene.path)
    row, col, h, w = scene.buildings[0]
    layer.write(Window(col, row, w, h), np.ones((h, w), np.uint8))
    yield layer
    layer.close()


def alpha(overlay: LabelOverlay, y: int, x: int) -> int:
    (item,) = overlay._items.values()
    return item.pixmap().toImage().pixelColor(x, y).alpha()


def test_mask_to_pixmap_is_transparent_outside_the_mask(qapp) -> None:
    mask = np.zeros((4, 6), np.uint8)
    mask[1, 2] = 1
    image = mask_to_pixmap(mask, LABEL_COLOUR).toImage()
    assert (image.width(), image.height()) == (6, 4)
    assert image.pixelColor(2, 1) == LABEL_COLOUR and image.pixelColor(0, 0).alpha() == 0


def test_label_chunks_follow_writes_hidden_box_and_zoom(qapp, labels, scene) -> None:
    graphics = QGraphicsScene()
    overlay = LabelOverlay(graphics)
    overlay.set_labels(labels, scene.height, scene.width)
    overlay.set_opacity(0.3)
    overlay.update_visible(QRectF(0, 0, scene.width, scene.height), downsample=1.0)
    row, col, h, w = scene.buildings[0]
    assert alpha(overlay, row + 1, col + 1) == 255 and alpha(overlay, 0, 0) == 0
    overlay.set_hidden(Box(row, col, 10, 10))
    assert alpha(overlay, row + 1, col + 1) == 0 and alpha(overlay, row + 12, col + 12) == 255
    overlay.set_hidden(None)
    labels.write(Window(0, 0, 4, 4), np.ones((4, 4), np.uint8))
    overlay.refresh(Box(0, 0, 4, 4))
    assert alpha(overlay, 0, 0) == 255
    (item,) = overlay._items.values()
    assert item.opacity() == pytest.approx(0.3) and item.isVisible()
    overlay.update_visible(QRectF(0, 0, scene.width, scene.height), downsample=16.0)
    assert not item.isVisible()
