"""Status bar widgets: cursor position (pixels, map coordinates, CRS), device, click latency, a
busy indicator while the model loads or predicts, and "Open folder" after files were written."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QStatusBar

from isegsat.app.geo import RasterSource
from isegsat.inference.coords import pixel_at, pixel_to_map

if TYPE_CHECKING:
    from isegsat.app.inference_worker import ModelInfo


def crs_name(crs) -> str:
    if crs is None:
        return "no CRS"
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.to_string()


def describe_position(source: RasterSource, x: float, y: float) -> str:
    """'col, row px | E x, N y (CRS)' for image pixel position (x, y) (fractional pixels)."""
    if not (0 <= x < source.width and 0 <= y < source.height):
        return ""
    row, col = pixel_at(y, x)
    east, north = pixel_to_map(source.transform, y, x)
    return f"px {col}, {row}  |  {east:.2f}, {north:.2f}  {crs_name(source.crs)}"


class StatusWidgets:
    def __init__(self, bar: QStatusBar) -> None:
        self.bar = bar
        self.position = QLabel()
        self.device = QLabel("no model")
        self.latency = QLabel()
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setMaximumWidth(120)
        self.busy.setVisible(False)
        self.predicting = QLabel("predicting…")
        self.predicting.setVisible(False)
        self.open_folder = QPushButton("Open folder")
        self.open_folder.setFlat(True)
        self.open_folder.setVisible(False)
        self.open_folder.clicked.connect(self._open_folder)
        self.folder: Path | None = None
        widgets = (self.open_folder, self.position, self.predicting, self.busy, self.device)
        for widget in (*widgets, self.latency):
            bar.addPermanentWidget(widget)

    def show_position(self, source: RasterSource | None, x: float, y: float) -> None:
        self.position.setText(describe_position(source, x, y) if source is not None else "")

    def show_loading(self, name: str) -> None:
        self.busy.setVisible(True)
        self.device.setText(f"loading {name}…")

    def show_model(self, info: ModelInfo) -> None:
        """ "<checkpoint> on <device> · <number format>", e.g. "isegsat_hrnet18s_real.pth on CPU ·
        bf16"."""
        self.busy.setVisible(False)
        self.device.setText(f"{info.name} on {info.device} · {info.precision}")

    def show_no_model(self, why: str) -> None:
        self.busy.setVisible(False)
        self.device.setText(why)

    def show_latency(self, seconds: float) -> None:
        self.latency.setText(f"last click {seconds * 1000:.0f} ms")

    def show_predicting(self, pending: bool) -> None:
        """Say "predicting…" while the model works on the newest click (the latency stays)."""
        self.predicting.setVisible(pending)

    def show_written(self, text: str, path: Path) -> None:
        """Show what was written where (`text` names `path`) and offer to open its folder."""
        self.folder = Path(path).parent
        self.bar.showMessage(text, 30000)
        self.open_folder.setToolTip(str(self.folder))
        self.open_folder.setVisible(True)

    def _open_folder(self) -> None:
        if self.folder is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.folder)))
