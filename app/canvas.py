"""Tiled image canvas: a QGraphicsView whose scene units are full-resolution image pixels.

Scene point (x, y) is the image position (y, x) of `isegsat.inference.coords` (pixel (row, col)
covers [row, row + 1) x [col, col + 1)); a click goes to the pixel holding it (`pixel_at`).

Display tiles come from a `TileLoader` thread at the pyramid level matching the zoom; coarser
tiles stay underneath as a fallback while finer ones stream in. Wheel zooms around the cursor;
a left/middle drag pans; a left/right click without drag emits `clicked(y, x, positive)`, a
Ctrl+left click `navigate_clicked(y, x)` (move to the tile there); in brush mode the left drag
paints a stroke handed to `BrushTool`.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QCoreApplication, QEvent, QPoint, QPointF, QRectF, Qt, Signal, Slot
from PySide6.QtGui import QBrush, QColor, QMouseEvent, QPainter, QPixmap, QWheelEvent
from PySide6.QtWidgets import QGraphicsPixmapItem, QGraphicsScene, QGraphicsView

from isegsat.app.brush import BrushTool
from isegsat.app.geo import RasterSource
from isegsat.app.tile_loader import TileImage, TileKey, TileLoader, visible_keys
from isegsat.inference.coords import pixel_at

_DRAG_PIXELS = 4
_MAX_ITEMS = 400


class ImageCanvas(QGraphicsView):
    clicked = Signal(int, int, bool)  # y, x (image pixels), positive
    navigate_clicked = Signal(int, int)  # y, x (image pixels) of a Ctrl+left click
    cursor_moved = Signal(float, float)  # x, y (image pixels, fractional)
    view_changed = Signal()
    load_failed = Signal(str)  # a display tile could not be read

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setBackgroundBrush(QBrush(QColor(40, 40, 40)))
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setDragMode(QGraphicsView.DragMode.NoDrag)
        self.setMouseTracking(True)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        self.setAcceptDrops(False)
        self.brush = BrushTool(self.scene())
        self._source: RasterSource | None = None
        self._loader: TileLoader | None = None
        self._items: dict[TileKey, QGraphicsPixmapItem] = {}
        self._press: QPointF | None = None
        self._press_button = Qt.MouseButton.NoButton
        self._dragging = False
        self.horizontalScrollBar().valueChanged.connect(self._update_tiles)
        self.verticalScrollBar().valueChanged.connect(self._update_tiles)

    # ------------------------------------------------------------------ image
    def set_source(self, source: RasterSource) -> None:
        self.close_source()
        self._source = source
        self.scene().setSceneRect(QRectF(0, 0, source.width, source.height))
        self._start_loader(source)
        self.fit()

    def reload_tiles(self) -> None:
        """Read every shown tile again (the source's display changed, e.g. its bands); the view
        stays where it is. The loader is restarted and the tiles it had already sent are taken
        in and dropped with the others, so no tile of the old display survives."""
        if self._source is None or self._loader is None:
            return
        self._loader.stop()
        QCoreApplication.sendPostedEvents(self, QEvent.Type.MetaCall)  # its last tiles
        for item in self._items.values():
            self.scene().removeItem(item)
        self._items.clear()
        self._start_loader(self._source)
        self._update_tiles()

    def _start_loader(self, source: RasterSource) -> None:
        self._loader = TileLoader(source, self)
        self._loader.tile_ready.connect(self._add_tile)
        self._loader.failed.connect(self.load_failed)
        self._loader.start()

    def close_source(self) -> None:
        if self._loader is not None:
            self._loader.stop()
            self._loader = None
        for item in self._items.values():
            self.scene().removeItem(item)
        self._items.clear()
        self._source = None

    # ------------------------------------------------------------------ zoom
    def scale_factor(self) -> float:
        """Screen pixels per image pixel."""
        return self.transform().m11()

    def fit(self) -> None:
        self.fitInView(self.sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)
        self._update_tiles()

    def actual_size(self) -> None:
        self.zoom_by(1.0 / self.scale_factor())

    def zoom_by(self, factor: float, anchor: QPoint | None = None) -> None:
        """Zoom by `factor` keeping the scene point under viewport position `anchor` (default:
        the viewport centre) in place."""
        anchor = anchor if anchor is not None else self.viewport().rect().center()
        new = min(max(self.scale_factor() * factor, 1 / 256), 32.0)
        factor = new / self.scale_factor()
        before = self.mapToScene(anchor)
        centre = self.mapToScene(self.viewport().rect().center())
        self.scale(factor, factor)
        self.centerOn(centre)
        self.centerOn(centre - (self.mapToScene(anchor) - before))
        self._update_tiles()

    def fit_box(self, x: float, y: float, w: float, h: float, margin: float = 0.05) -> None:
        """Zoom and scroll so the image rectangle (x, y, w, h) fills the view, plus a margin."""
        rect = QRectF(x, y, w, h).adjusted(-margin * w, -margin * h, margin * w, margin * h)
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        self._update_tiles()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        self.zoom_by(1.0015 ** event.angleDelta().y(), event.position().toPoint())

    # ------------------------------------------------------------------ mouse
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._press = event.position()
        self._press_button = event.button()
        self._dragging = False
        if self.brush.active and event.button() == Qt.MouseButton.LeftButton:
            self.brush.begin(self.mapToScene(event.position().toPoint()))

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        scene = self.mapToScene(event.position().toPoint())
        self.cursor_moved.emit(scene.x(), scene.y())
        if self.brush.active:
            self.brush.hover(scene)
        if self._press is None:
            return
        if self.brush.stroking:
            self.brush.extend(scene)
            return
        delta = event.position() - self._press
        if self._dragging or abs(delta.x()) + abs(delta.y()) > _DRAG_PIXELS:
            self._dragging = True
            self._press = event.position()
            h, v = self.horizontalScrollBar(), self.verticalScrollBar()
            h.setValue(h.value() - round(delta.x()))
            v.setValue(v.value() - round(delta.y()))

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self.brush.stroking:
            self.brush.finish()
        elif not self._dragging and self._press is not None:
            scene = self.mapToScene(event.position().toPoint())
            button = event.button()
            y, x = pixel_at(scene.y(), scene.x())
            control = event.modifiers() & Qt.KeyboardModifier.ControlModifier
            if control and button == Qt.MouseButton.LeftButton:
                self.navigate_clicked.emit(y, x)
            elif button in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
                positive = button == Qt.MouseButton.LeftButton
                self.clicked.emit(y, x, positive)
        self._press = None
        self._dragging = False

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._update_tiles()

    # ------------------------------------------------------------------ tiles
    def level(self) -> int:
        if self._source is None:
            return 0
        downsample = 1.0 / max(self.scale_factor(), 1e-9)
        level = int(math.floor(math.log2(downsample))) if downsample >= 2 else 0
        return min(level, self._source.max_level)

    def _update_tiles(self) -> None:
        self.view_changed.emit()
        if self._source is None or self._loader is None:
            return
        src = self._source
        rect = self.mapToScene(self.viewport().rect()).boundingRect()
        coarse = visible_keys(src.max_level, 0, 0, src.width, src.height, src.width, src.height)
        wanted = visible_keys(
            self.level(),
            rect.left(),
            rect.top(),
            rect.right(),
            rect.bottom(),
            src.width,
            src.height,
        )
        self._loader.request([k for k in coarse + wanted if k not in self._items])
        if len(self._items) > _MAX_ITEMS:
            self._evict(set(coarse) | set(wanted))

    def _evict(self, keep: set[TileKey]) -> None:
        for key in [k for k in self._items if k not in keep]:
            self.scene().removeItem(self._items.pop(key))

    @Slot(object)  # from the loader thread, queued to the GUI thread
    def _add_tile(self, tile: TileImage) -> None:
        if self._source is None or tile.key in self._items:
            return
        item = QGraphicsPixmapItem(QPixmap.fromImage(tile.image))
        item.setPos(tile.window.col_off, tile.window.row_off)
        item.setScale(2**tile.key.level)
        item.setZValue(-100 - tile.key.level)
        item.setTransformationMode(Qt.TransformationMode.FastTransformation)
        self.scene().addItem(item)
        self._items[tile.key] = item

    def loaded_keys(self) -> set[TileKey]:
        return set(self._items)
