"""Brush and eraser: a stroke previewed on the canvas, rasterised into a mask on release.

Stroke points are in image pixels (x, y floats); `Stroke.rasterise()` gives the (h, w) bool
footprint on the integer `Box` covering the stroke, clipped to the image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from PySide6.QtCore import QObject, QPointF, Qt, Signal
from PySide6.QtGui import QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsEllipseItem, QGraphicsPathItem, QGraphicsScene

from isegsat.inference.box import Box

# Brush radii [ and ] step through, in image pixels: about 25 % apart, so three presses up and
# three down always come back to where they started.
RADII = (1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32, 40, 48, 64, 80, 100, 128, 160, 200)


@dataclass(frozen=True)
class Stroke:
    points: tuple[tuple[float, float], ...]  # (x, y) image pixels
    radius: int
    erase: bool

    def rasterise(self, height: int, width: int) -> tuple[Box, np.ndarray] | None:
        """(box, footprint (h, w) bool) of the stroke inside a height x width image, or None."""
        xs = [p[0] for p in self.points]
        ys = [p[1] for p in self.points]
        r = self.radius
        col0, row0 = max(0, math.floor(min(xs)) - r), max(0, math.floor(min(ys)) - r)
        col1 = min(width, math.ceil(max(xs)) + r + 1)
        row1 = min(height, math.ceil(max(ys)) + r + 1)
        if col1 <= col0 or row1 <= row0:
            return None
        box = Box(row0, col0, row1 - row0, col1 - col0)
        canvas = np.zeros((box.height, box.width), dtype=np.uint8)
        pts = [(round(x) - col0, round(y) - row0) for x, y in self.points]
        for p in pts:
            cv2.circle(canvas, p, r, 1, thickness=-1)
        for a, b in zip(pts[:-1], pts[1:], strict=True):
            cv2.line(canvas, a, b, 1, thickness=2 * r + 1)
        return box, canvas.astype(bool)


class BrushTool(QObject):
    """Brush state (active, erase, radius) and the live stroke preview in `scene`."""

    stroke_finished = Signal(object)  # Stroke

    def __init__(self, scene: QGraphicsScene) -> None:
        super().__init__(scene)
        self._scene = scene
        self.active = False
        self.erase = False
        self.radius = 8
        self._points: list[tuple[float, float]] = []
        self._preview: QGraphicsPathItem | None = None
        self._outline = QGraphicsEllipseItem()
        pen = QPen(QColor(255, 255, 255), 1)
        pen.setCosmetic(True)
        self._outline.setPen(pen)
        self._outline.setZValue(60)
        self._outline.setVisible(False)
        scene.addItem(self._outline)

    @property
    def stroking(self) -> bool:
        return self._preview is not None

    def set_tool(self, active: bool, erase: bool = False) -> None:
        self.active, self.erase = active, erase
        self._outline.setVisible(False)

    def hover(self, pos: QPointF) -> None:
        """Show the brush footprint outline centred on `pos` (image pixels) while active."""
        self._outline.setVisible(self.active)
        r = self.radius + 0.5
        self._outline.setRect(pos.x() - r, pos.y() - r, 2 * r, 2 * r)

    def resize(self, step: int) -> None:
        """Move the radius to the next larger (step > 0) or smaller entry of RADII."""
        if step > 0:
            self.radius = next((r for r in RADII if r > self.radius), RADII[-1])
        else:
            self.radius = next((r for r in reversed(RADII) if r < self.radius), RADII[0])

    def begin(self, pos: QPointF) -> None:
        self._points = [(pos.x(), pos.y())]
        colour = QColor(255, 80, 80, 150) if self.erase else QColor(80, 160, 255, 150)
        pen = QPen(colour, 2 * self.radius + 1)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        self._preview = QGraphicsPathItem()
        self._preview.setPen(pen)
        self._preview.setZValue(50)
        self._scene.addItem(self._preview)
        self._redraw()

    def extend(self, pos: QPointF) -> None:
        self._points.append((pos.x(), pos.y()))
        self._redraw()

    def finish(self) -> None:
        stroke = Stroke(tuple(self._points), self.radius, self.erase)
        self._scene.removeItem(self._preview)
        self._preview = None
        self._points = []
        self.stroke_finished.emit(stroke)

    def _redraw(self) -> None:
        path = QPainterPath(QPointF(*self._points[0]))
        for x, y in self._points[1:]:
            path.lineTo(x, y)
        if len(self._points) == 1:
            path.lineTo(self._points[0][0] + 0.01, self._points[0][1])
        self._preview.setPath(path)
