"""Overlays drawn over the image: the label layer, the current target (frame + prediction, a busy
mark while the model works on it), clicks, and the tiles already done.

All items live in image-pixel scene coordinates. The label layer is drawn in chunks of CHUNK x
CHUNK pixels read from the label store (small windowed reads) only when zoomed in enough (at most
MAX_DOWNSAMPLE image pixels per screen pixel); a hidden box (the tile being re-predicted) is left
out so the prediction replaces the old label there.

Two view toggles: outlines (`set_outline`: labels and prediction drawn as OUTLINE_PX wide inner
borders instead of filled; label chunks are read with a margin so no line appears at a chunk
border) and the probability map (`TargetOverlay.set_probability`: the model's probability on
the target drawn through PROBABILITY_RAMP, faint near 0 and opaque near 1, instead of the
thresholded mask).
"""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QImage, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
)

from isegsat.app.annotation_types import LabelStore, Target
from isegsat.app.geo.boxes import to_window
from isegsat.inference.box import Box
from isegsat.inference.coords import box_in_box

CHUNK = 512
MAX_DOWNSAMPLE = 8.0
LABEL_COLOUR = QColor(0, 140, 255)
PREDICTION_COLOUR = QColor(255, 210, 0)
CLICK_COLOURS = {True: QColor(0, 220, 0), False: QColor(230, 0, 0)}
FRAME_COLOUR = QColor(255, 255, 255)
BUSY_COLOUR = QColor(255, 150, 0)
DONE_COLOUR = QColor(0, 200, 120)
BUSY_TEXT = "model working…"
OUTLINE_PX = 2  # width of a drawn outline, in image pixels
# (probability, colour) anchors of the probability ramp (viridis-like: dark violet to yellow).
PROBABILITY_RAMP = ((0.0, (68, 1, 84)), (0.25, (59, 82, 139)), (0.5, (33, 145, 140)),
                    (0.75, (94, 201, 98)), (1.0, (253, 231, 37)))  # fmt: skip
PROBABILITY_OPACITY = 0.75
PREDICTION_OPACITY = 0.55
_DOT = 9.0
_KERNEL = np.ones((3, 3), np.uint8)


def mask_to_pixmap(mask: np.ndarray, colour: QColor) -> QPixmap:
    """(h, w) {0, 1} mask → pixmap: `colour` where 1, transparent where 0."""
    mask = np.ascontiguousarray(mask, dtype=np.uint8)
    h, w = mask.shape
    image = QImage(mask.data, w, h, w, QImage.Format.Format_Indexed8)
    image.setColorTable([QColor(0, 0, 0, 0).rgba(), colour.rgba()])
    return QPixmap.fromImage(image)


def outline(mask: np.ndarray, width: int = OUTLINE_PX, margin: int = 0) -> np.ndarray:
    """(h, w) {0, 1} mask → its inner border `width` px wide (8-neighbour erosion), {0, 1} uint8.

    Pixels beyond the array count as background. `margin` px on each side are context only
    (neighbouring data, so no border is drawn where a shape merely leaves the array) and are cut
    off the result: (h - 2·margin, w - 2·margin).
    """
    mask = np.ascontiguousarray(mask, dtype=np.uint8)
    padded = np.pad(mask, width)
    eroded = cv2.erode(padded, _KERNEL, iterations=width)[width:-width, width:-width]
    edge = mask & (1 - eroded)
    h, w = edge.shape
    return edge[margin : h - margin, margin : w - margin]


def _probability_table() -> list[int]:
    """256 ARGB colours: the ramp's colour at value/255, alpha rising from 35 to 255."""
    stops = np.array([p for p, _ in PROBABILITY_RAMP])
    colours = np.array([c for _, c in PROBABILITY_RAMP], dtype=float)
    values = np.linspace(0, 1, 256)
    rgb = np.stack([np.interp(values, stops, colours[:, i]) for i in range(3)], axis=1)
    rgba = np.column_stack([rgb, 35 + 220 * values]).round().astype(int)
    return [QColor(int(r), int(g), int(b), int(a)).rgba() for r, g, b, a in rgba]


_PROBABILITY_TABLE = _probability_table()


def probability_to_pixmap(prob: np.ndarray) -> QPixmap:
    """(h, w) float probability in [0, 1] → pixmap coloured through PROBABILITY_RAMP."""
    levels = np.ascontiguousarray(np.round(np.clip(prob, 0, 1) * 255), dtype=np.uint8)
    h, w = levels.shape
    image = QImage(levels.data, w, h, w, QImage.Format.Format_Indexed8)
    image.setColorTable(_PROBABILITY_TABLE)
    return QPixmap.fromImage(image)


class LabelOverlay:
    """Chunked drawing of the label layer at a shared opacity."""

    def __init__(self, scene: QGraphicsScene) -> None:
        self._scene = scene
        self._labels: LabelStore | None = None
        self._size = (0, 0)
        self._items: dict[tuple[int, int], QGraphicsPixmapItem] = {}
        self._hidden: Box | None = None
        self.opacity = 0.45
        self.outlined = False

    def set_outline(self, outlined: bool) -> None:
        """Draw the labels as outlines (True) or filled (False); redraws the drawn chunks."""
        if outlined == self.outlined:
            return
        self.outlined = outlined
        for r, c in list(self._items):
            self._draw(r, c)

    def set_labels(self, labels: LabelStore | None, height: int = 0, width: int = 0) -> None:
        self.clear()
        self._labels, self._size = labels, (height, width)

    def clear(self) -> None:
        for item in self._items.values():
            self._scene.removeItem(item)
        self._items.clear()

    def set_opacity(self, opacity: float) -> None:
        self.opacity = opacity
        for item in self._items.values():
            item.setOpacity(opacity)

    def set_hidden(self, box: Box | None) -> None:
        if box == self._hidden:
            return
        old, self._hidden = self._hidden, box
        for changed in (old, box):
            if changed is not None:
                self.refresh(changed)

    def update_visible(self, rect: QRectF, downsample: float) -> None:
        """Draw the chunks intersecting `rect` (scene coords) when zoomed in enough."""
        visible = downsample <= MAX_DOWNSAMPLE
        for item in self._items.values():
            item.setVisible(visible)
        if not visible or self._labels is None:
            return
        height, width = self._size
        r0, c0 = max(0, int(rect.top()) // CHUNK), max(0, int(rect.left()) // CHUNK)
        r1 = min((height - 1) // CHUNK, int(rect.bottom()) // CHUNK)
        c1 = min((width - 1) // CHUNK, int(rect.right()) // CHUNK)
        for r in range(r0, r1 + 1):
            for c in range(c0, c1 + 1):
                if (r, c) not in self._items:
                    self._draw(r, c)

    def refresh(self, box: Box) -> None:
        """Redraw the already drawn chunks intersecting `box` (after a write or undo); with
        outlines also those within OUTLINE_PX of it, whose border pixels may have changed."""
        m = OUTLINE_PX if self.outlined else 0
        r0, c0 = max(box.row - m, 0) // CHUNK, max(box.col - m, 0) // CHUNK
        r1 = (box.row + box.height - 1 + m) // CHUNK
        c1 = (box.col + box.width - 1 + m) // CHUNK
        for r in range(r0, r1 + 1):
            for c in range(c0, c1 + 1):
                if (r, c) in self._items:
                    self._draw(r, c)

    def _draw(self, r: int, c: int) -> None:
        height, width = self._size
        chunk = Box(
            r * CHUNK, c * CHUNK, min(CHUNK, height - r * CHUNK), min(CHUNK, width - c * CHUNK)
        )
        if self.outlined:
            mask = outline(self._read_padded(chunk, OUTLINE_PX), margin=OUTLINE_PX)
        else:
            mask = np.array(self._labels.read(to_window(chunk)), dtype=np.uint8)
        hidden = self._hidden
        if hidden is not None:
            mask[box_in_box(chunk, hidden.intersection(chunk)).slices] = 0
        item = self._items.get((r, c))
        if item is None:
            item = QGraphicsPixmapItem()
            item.setPos(chunk.col, chunk.row)
            item.setZValue(10)
            item.setOpacity(self.opacity)
            self._scene.addItem(item)
            self._items[(r, c)] = item
        item.setPixmap(mask_to_pixmap(mask, LABEL_COLOUR))

    def _read_padded(self, box: Box, margin: int) -> np.ndarray:
        """The label on `box` grown by `margin` px on each side (zeros beyond the image)."""
        padded = Box(
            box.row - margin, box.col - margin, box.height + 2 * margin, box.width + 2 * margin
        )
        inside = padded.clip(*self._size)
        out = np.zeros(padded.shape, np.uint8)
        out[box_in_box(padded, inside).slices] = np.asarray(self._labels.read(to_window(inside)))
        return out


class TargetOverlay:
    """The current tile/object: dashed frame, thresholded prediction and click dots."""

    def __init__(self, scene: QGraphicsScene) -> None:
        self._scene = scene
        self._frame = QGraphicsRectItem()
        self._frame.setZValue(30)
        self._frame.setVisible(False)
        scene.addItem(self._frame)
        self._busy = QGraphicsSimpleTextItem(BUSY_TEXT)
        self._busy.setBrush(QBrush(BUSY_COLOUR))
        self._busy.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        self._busy.setZValue(45)
        self._busy.setVisible(False)
        scene.addItem(self._busy)
        self.set_busy(False)
        self._mask = QGraphicsPixmapItem()
        self._mask.setZValue(20)
        self._mask.setOpacity(PREDICTION_OPACITY)
        scene.addItem(self._mask)
        self._dots: list[QGraphicsEllipseItem] = []
        self.outlined = False
        self.probability = False
        self._shown: tuple = (None, None, None)

    def set_outline(self, outlined: bool) -> None:
        """Draw the thresholded prediction as an outline (True) or filled (False)."""
        self.outlined = outlined
        self.show(*self._shown)

    def set_probability(self, probability: bool) -> None:
        """Show the model's probability map on the target instead of the thresholded mask."""
        self.probability = probability
        self.show(*self._shown)

    def show(self, frame: Box | None, target: Target | None, mask: np.ndarray | None) -> None:
        """Draw `frame` (tile or object box), `mask` ((h, w) {0,1} on target.box) and clicks;
        in probability view target.prob instead of `mask` once the model has answered."""
        self._shown = (frame, target, mask)
        self._frame.setVisible(frame is not None)
        if frame is not None:
            self._frame.setRect(QRectF(frame.col, frame.row, frame.width, frame.height))
            self._busy.setPos(frame.col, frame.row)
        self._busy.setVisible(self.busy and frame is not None)
        for dot in self._dots:
            self._scene.removeItem(dot)
        self._dots.clear()
        if target is None or mask is None:
            self._mask.setVisible(False)
            return
        if self.probability and target.prob is not None:
            self._mask.setPixmap(probability_to_pixmap(target.prob))
            self._mask.setOpacity(PROBABILITY_OPACITY)
        else:
            drawn = outline(mask) if self.outlined else mask
            self._mask.setPixmap(mask_to_pixmap(drawn, PREDICTION_COLOUR))
            self._mask.setOpacity(PREDICTION_OPACITY)
        self._mask.setPos(target.box.col, target.box.row)
        self._mask.setVisible(True)
        for click in target.clicks:
            self._dots.append(self._dot(click.x + 0.5, click.y + 0.5, click.is_positive))

    def set_busy(self, busy: bool) -> None:
        """Mark the frame (orange, with "model working…") while a prediction is pending."""
        self.busy = busy
        pen = QPen(BUSY_COLOUR if busy else FRAME_COLOUR, 3 if busy else 2, Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        self._frame.setPen(pen)
        self._busy.setVisible(busy and self._frame.isVisible())

    def _dot(self, x: float, y: float, positive: bool) -> QGraphicsEllipseItem:
        dot = QGraphicsEllipseItem(-_DOT / 2, -_DOT / 2, _DOT, _DOT)
        dot.setPos(x, y)
        dot.setBrush(QBrush(CLICK_COLOURS[positive]))
        dot.setPen(QPen(QColor(255, 255, 255), 1))
        dot.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        dot.setZValue(40)
        self._scene.addItem(dot)
        return dot


class DoneTilesOverlay:
    """Tiles already done: a light tint and an outline on each, below the labels."""

    def __init__(self, scene: QGraphicsScene) -> None:
        self._item = QGraphicsPathItem()
        pen = QPen(DONE_COLOUR, 1)
        pen.setCosmetic(True)
        self._item.setPen(pen)
        tint = QColor(DONE_COLOUR)
        tint.setAlpha(40)
        self._item.setBrush(QBrush(tint))
        self._item.setZValue(5)
        scene.addItem(self._item)
        self.boxes: tuple[Box, ...] = ()

    def show(self, boxes: tuple[Box, ...]) -> None:
        """Draw exactly `boxes` (image pixels); nothing is redrawn when they did not change."""
        if boxes == self.boxes:
            return
        self.boxes = boxes
        path = QPainterPath()
        for box in boxes:
            path.addRect(QRectF(box.col, box.row, box.width, box.height))
        self._item.setPath(path)
