"""View toggles and the band choice: labels as outlines, the probability map, bands of a 4-band
raster (display and model), remembered per image; the help lists the new keys."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fakes.scenes import write_scene_raster
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QDialogButtonBox, QGraphicsScene
from rasterio.windows import Window

from isegsat.app.annotation_types import Target
from isegsat.app.bands_dialog import BandsDialog
from isegsat.app.geo import LabelLayer, RasterSource
from isegsat.app.help_dialog import shortcut_rows
from isegsat.app.main_window import MainWindow
from isegsat.app.overlay import (
    PREDICTION_COLOUR,
    LabelOverlay,
    TargetOverlay,
    outline,
    probability_to_pixmap,
)
from isegsat.inference.box import Box

TIMEOUT_MS = 20000


def click(qtbot, win: MainWindow, y: int, x: int) -> None:
    pos = win.canvas.mapFromScene(QPointF(x + 0.5, y + 0.5))
    with qtbot.waitSignal(win.controller.result_applied, timeout=TIMEOUT_MS):
        qtbot.mouseClick(win.canvas.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def label_alpha(overlay: LabelOverlay, y: int, x: int) -> int:
    (item,) = overlay._items.values()
    return item.pixmap().toImage().pixelColor(x, y).alpha()


def target_pixel(win: MainWindow, y: int, x: int) -> QColor:
    """Colour of the target overlay's pixmap at image pixel (y, x)."""
    item = win.controller.target._mask
    image = item.pixmap().toImage()
    return image.pixelColor(x - round(item.pos().x()), y - round(item.pos().y()))


# ---------------------------------------------------------------------- outlines
def test_outline_is_the_inner_border_and_ignores_the_margin_side() -> None:
    mask = np.zeros((12, 12), np.uint8)
    mask[2:10, 2:10] = 1
    edge = outline(mask, width=2)
    assert edge[2, 5] and edge[3, 5] and not edge[4, 5] and not edge[5, 5]
    assert edge.sum() == 8 * 8 - 4 * 4 and not edge[0, 0]
    full = np.ones((10, 10), np.uint8)  # a shape that goes on past the array's sides...
    assert outline(full, width=1, margin=1).sum() == 0  # ...only context: no line there
    assert outline(full, width=1).sum() == 36  # without margin the array's side is an edge


def test_outline_mode_leaves_the_interior_of_a_labelled_building_unpainted(
    qapp, scene, tmp_path: Path
) -> None:
    layer = LabelLayer.create(tmp_path / "labels.tif", like=scene.path)
    row, col, h, w = scene.buildings[0]
    layer.write(Window(col, row, w, h), np.ones((h, w), np.uint8))
    overlay = LabelOverlay(QGraphicsScene())
    overlay.set_labels(layer, scene.height, scene.width)
    overlay.update_visible(QRectF(0, 0, scene.width, scene.height), downsample=1.0)
    centre = (row + h // 2, col + w // 2)
    assert label_alpha(overlay, *centre) == 255
    overlay.set_outline(True)
    assert label_alpha(overlay, *centre) == 0  # interior unpainted
    assert label_alpha(overlay, row, col + w // 2) == 255  # the border is drawn
    assert label_alpha(overlay, row + h - 1, col + w - 1) == 255
    assert label_alpha(overlay, row - 1, col + w // 2) == 0  # outside stays clear
    overlay.set_hidden(Box(row, col, h, w))  # the re-predicted tile hides its label outline too
    assert label_alpha(overlay, row, col + w // 2) == 0
    overlay.set_hidden(None)
    overlay.set_outline(False)
    assert label_alpha(overlay, *centre) == 255
    layer.close()


def test_probability_pixmap_shows_intermediate_values(qapp) -> None:
    prob = np.tile(np.linspace(0, 1, 64, dtype=np.float32), (4, 1))
    image = probability_to_pixmap(prob).toImage()
    colours = {image.pixelColor(x, 0).rgba() for x in range(64)}
    assert len(colours) > 32  # a ramp, not two values
    low, mid, high = (image.pixelColor(x, 0) for x in (0, 32, 63))
    assert low.alpha() < mid.alpha() < high.alpha() == 255
    assert len({low.rgb(), mid.rgb(), high.rgb()}) == 3
    overlay = TargetOverlay(QGraphicsScene())
    box = Box(10, 20, 4, 64)
    target = Target(1, box, np.zeros((4, 64), np.uint8), prob=prob, answered=0)
    overlay.show(box, target, (prob >= 0.5).astype(np.uint8))
    thresholded = overlay._mask.pixmap().toImage()
    assert thresholded.pixelColor(10, 0).alpha() == 0 and thresholded.pixelColor(50, 0) == (
        PREDICTION_COLOUR
    )
    overlay.set_probability(True)
    shown = overlay._mask.pixmap().toImage()
    assert shown.pixelColor(32, 0) == mid and shown.pixelColor(10, 0).alpha() > 0
    overlay.set_probability(False)
    assert overlay._mask.pixmap().toImage().pixelColor(10, 0).alpha() == 0


def test_outline_and_probability_toggles_redraw_the_target_in_the_window(
    qtbot, window, scene
) -> None:
    assert window.open_image(scene.path)
    row, col, h, w = scene.buildings[0]
    click(qtbot, window, row + h // 2, col + w // 2)
    centre = (row + h // 2, col + w // 2)
    assert target_pixel(window, *centre) == PREDICTION_COLOUR
    qtbot.keyClick(window.canvas, Qt.Key.Key_L)
    assert window.named_actions["outline"].isChecked()
    assert target_pixel(window, *centre).alpha() == 0  # interior of the prediction unpainted
    assert target_pixel(window, row, col + w // 2) == PREDICTION_COLOUR
    qtbot.keyClick(window.canvas, Qt.Key.Key_M)
    assert window.named_actions["probability"].isChecked()
    prob = window.controller.session.target.prob
    expected = probability_to_pixmap(prob).toImage()
    top, left = window.controller.session.target.box.row, window.controller.session.target.box.col
    for y, x in (centre, (row + h + 20, col)):  # a building pixel and ground: the ramp's colours
        assert target_pixel(window, y, x) == expected.pixelColor(x - left, y - top)
    assert target_pixel(window, row + h + 20, col).alpha() > 0  # low probability still shown
    qtbot.keyClick(window.canvas, Qt.Key.Key_M)
    assert target_pixel(window, *centre).alpha() == 0  # back to the (outlined) mask


# ---------------------------------------------------------------------- bands
@pytest.fixture
def four_band(tmp_path: Path, scene) -> Path:
    """The scene's RGB plus a 4th band in which only building 1 is bright (building 0 dark)."""
    folder = tmp_path / "four"
    folder.mkdir()
    with RasterSource.open(scene.path) as source:
        rgb = source.read(Window(0, 0, scene.width, scene.height)).transpose(2, 0, 1)
    band4 = np.full((scene.height, scene.width), 30, np.uint8)
    row, col, h, w = scene.buildings[1]
    band4[row : row + h, col : col + w] = 230
    return write_scene_raster(folder / "nir.tif", np.concatenate([rgb, band4[None]]))


def test_bands_dialog_starts_at_the_current_bands_and_restores_defaults(qtbot, four_band):
    with RasterSource.open(four_band) as source:
        source.set_bands((4, 3, 2))
        dialog = BandsDialog(source)
        qtbot.addWidget(dialog)
        assert dialog.bands() == (4, 3, 2)
        assert [dialog.pickers[0].itemText(i) for i in range(4)][3].startswith("4 (")
        dialog.pickers[1].setCurrentIndex(3)
        assert dialog.bands() == (4, 4, 2)
        buttons = dialog.findChild(QDialogButtonBox)
        buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).click()
        assert dialog.bands() == source.default_bands() == (1, 2, 3)


def test_chosen_bands_are_shown_fed_to_the_model_and_remembered(
    qtbot, window, four_band, scene, monkeypatch
) -> None:
    assert window.open_image(four_band)
    source = window.document.source
    assert source.count == 4 and source.bands == (1, 2, 3)
    monkeypatch.setattr("isegsat.app.view_controls.choose_bands", lambda parent, src: (4, 4, 4))
    window.named_actions["bands"].trigger()
    assert source.bands == (4, 4, 4)
    assert "4, 4, 4" in window.statusBar().currentMessage()
    # the display: building 0 is dark in band 4, building 1 bright
    qtbot.waitUntil(lambda: bool(window.canvas.loaded_keys()), timeout=TIMEOUT_MS)
    (item,) = [window.canvas._items[k] for k in window.canvas.loaded_keys() if k.level == 0]
    image = item.pixmap().toImage()
    (r0, c0, h0, w0), (r1, c1, h1, w1) = scene.buildings
    assert image.pixelColor(c0 + w0 // 2, r0 + h0 // 2).red() == 30
    assert image.pixelColor(c1 + w1 // 2, r1 + h1 // 2).red() == 230
    # the model sees the same bands: building 0 is not bright there, so nothing is predicted
    click(qtbot, window, r0 + h0 // 2, c0 + w0 // 2)
    assert window.controller.session.current_mask().sum() == 0
    window.named_actions["reset"].trigger()
    window.named_actions["object_mode"].trigger()
    click(qtbot, window, r1 + h1 // 2, c1 + w1 // 2)
    assert window.controller.session.current_mask().sum() == h1 * w1
    # remembered for this image
    assert window.settings.image_bands(four_band) == (4, 4, 4)
    window.close_document()
    assert window.open_image(four_band)
    assert window.document.source.bands == (4, 4, 4)
    assert window.view.apply_bands((1, 2, 3))
    assert window.settings.image_bands(four_band) is None  # the default is not stored


def test_a_band_choice_for_a_file_that_lost_bands_falls_back_to_the_default(
    qtbot, window, scene
) -> None:
    window.settings.set_image_bands(scene.path, (4, 3, 2))  # the RGB scene has 3 bands
    assert window.open_image(scene.path)
    assert window.document.source.bands == (1, 2, 3)
    assert window.settings.image_bands(scene.path) is None


def test_the_help_lists_the_new_view_keys(qtbot, window) -> None:
    rows = dict(shortcut_rows(window.named_actions.values()))
    assert rows["Labels as outlines"] == "L"
    assert rows["Probability map"] == "M"
    assert rows["Bands…"] == "Ctrl+B"


def test_outlines_have_no_line_at_chunk_borders_and_follow_writes_across_them(
    qapp, tmp_path: Path
) -> None:
    from affine import Affine

    from isegsat.app.geo import RasterGrid
    from isegsat.app.overlay import CHUNK

    grid = RasterGrid(CHUNK + 100, 64, "EPSG:32633", Affine(0.3, 0, 500000, 0, -0.3, 5000000))
    layer = LabelLayer.create(tmp_path / "wide_labels.tif", like=grid)
    layer.write(Window(CHUNK - 20, 10, 40, 30), np.ones((30, 40), np.uint8))  # across the border
    overlay = LabelOverlay(QGraphicsScene())
    overlay.set_labels(layer, 64, CHUNK + 100)
    overlay.set_outline(True)
    overlay.update_visible(QRectF(0, 0, CHUNK + 100, 64), downsample=1.0)

    def alpha_at(y: int, x: int) -> int:
        item = overlay._items[(0, x // CHUNK)]
        return item.pixmap().toImage().pixelColor(x % CHUNK, y).alpha()

    assert alpha_at(25, CHUNK - 1) == 0 and alpha_at(25, CHUNK) == 0  # no seam
    assert alpha_at(25, CHUNK - 20) == 255 and alpha_at(25, CHUNK + 19) == 255
    layer.write(Window(CHUNK - 20, 10, 20, 30), np.zeros((30, 20), np.uint8))  # left part gone
    overlay.refresh(Box(10, CHUNK - 20, 30, 20))  # the box lies in chunk 0 only
    assert alpha_at(25, CHUNK) == 255  # chunk 1's new left border is drawn
    layer.close()
