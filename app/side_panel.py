"""Dock panel: threshold and opacity sliders, tile size, progress and target summary."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDockWidget,
    QFormLayout,
    QLabel,
    QProgressBar,
    QSlider,
    QSpinBox,
    QWidget,
)

from isegsat.app.annotation import AnnotationSession
from isegsat.app.annotation_types import Mode


def _slider(value: float) -> QSlider:
    slider = QSlider(Qt.Orientation.Horizontal)
    slider.setRange(1, 99)
    slider.setValue(round(value * 100))
    return slider


class SidePanel(QDockWidget):
    threshold_changed = Signal(float)
    opacity_changed = Signal(float)
    tile_size_changed = Signal(int)

    def __init__(self, threshold: float, opacity: float, tile_size: int, parent=None) -> None:
        super().__init__("Annotation", parent)
        self.setObjectName("annotation_panel")
        body = QWidget()
        form = QFormLayout(body)
        self.mode = QLabel("-")
        self.threshold = _slider(threshold)
        self.opacity = _slider(opacity)
        self.tile_size = QSpinBox()
        self.tile_size.setRange(64, 4096)
        self.tile_size.setSingleStep(50)
        self.tile_size.setValue(tile_size)
        self.tile_size.setKeyboardTracking(False)
        self.progress = QProgressBar()
        self.tile = QLabel("-")
        self.clicks = QLabel("-")
        self.brush = QLabel("-")
        form.addRow("Mode", self.mode)
        form.addRow("Threshold", self.threshold)
        form.addRow("Label opacity", self.opacity)
        form.addRow("Tile size (px)", self.tile_size)
        form.addRow("Tiles done", self.progress)
        form.addRow("Current tile", self.tile)
        form.addRow("Clicks", self.clicks)
        form.addRow("Brush radius", self.brush)
        self.setWidget(body)
        for widget in (self.threshold, self.opacity, self.tile_size):
            widget.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.threshold.valueChanged.connect(lambda v: self.threshold_changed.emit(v / 100))
        self.opacity.valueChanged.connect(lambda v: self.opacity_changed.emit(v / 100))
        self.tile_size.valueChanged.connect(self.tile_size_changed)

    def show_session(self, session: AnnotationSession | None, brush_radius: int) -> None:
        self.brush.setText(f"{brush_radius} px")
        if session is None:
            self.mode.setText("no image")
            return
        self.mode.setText("Tile" if session.mode is Mode.TILE else "Object")
        self.progress.setRange(0, session.grid.count)
        self.progress.setValue(len(session.done))
        self.progress.setFormat(f"{len(session.done)} / {session.grid.count}")
        self.tile.setText(f"{session.tile_index + 1} of {session.grid.count}")
        clicks = session.target.clicks if session.target is not None else ()
        positive = sum(c.is_positive for c in clicks)
        self.clicks.setText(f"{len(clicks)} ({positive} +, {len(clicks) - positive} −)")
