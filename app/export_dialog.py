"""Export dialog: format, footprint options, area and output path; the export runs on a worker
thread behind a cancellable progress dialog, and errors are shown in a message box.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)
from rasterio.windows import Window

from isegsat.app.export_job import ExportFormat, ExportOutcome, ExportRequest, ExportThread
from isegsat.app.geo import LabelLayer, RasterSource
from isegsat.app.geo.export import DEFAULT_MIN_AREA_M2
from isegsat.app.progress_dialog import run_with_progress
from isegsat.app.settings import AppSettings


def _map_unit(source: RasterSource) -> str:
    """Short name of the CRS's unit ("m", "ft", "°", ...); without CRS "px" for a pixel grid,
    else "units" (the transform's)."""
    if source.crs is None:
        return "px" if abs(source.transform.a) == 1.0 else "units"
    if source.crs.is_geographic:
        return "°"
    units = source.crs.linear_units or ""
    return {"metre": "m", "meter": "m", "foot": "ft", "us survey foot": "ftUS"}.get(
        units.lower(), units or "units"
    )


class ExportDialog(QDialog):
    """Collects an ``ExportRequest``; ``request()`` is valid after the dialog is accepted."""

    def __init__(
        self,
        source: RasterSource,
        current_window: Window | None,
        parent: QWidget | None = None,
        last_format: ExportFormat | None = None,
        last_folder: Path | None = None,
    ) -> None:
        """`last_format` and `last_folder` (the previous export's choices) preselect the format
        and put the default output file in that folder (when it still exists)."""
        super().__init__(parent)
        self.setWindowTitle("Export labels")
        self._source = source
        folder = last_folder if last_folder is not None and last_folder.is_dir() else None
        self._folder = folder or source.path.parent
        self._current_window = current_window
        pixel = abs(source.transform.a) or 1.0
        unit = _map_unit(source)

        self.format = QComboBox(self)
        for kind in ExportFormat:
            self.format.addItem(kind.text, kind)
        if last_format is not None:
            self.format.setCurrentIndex(list(ExportFormat).index(last_format))
        decimals = max(2, 2 - math.floor(math.log10(pixel)))  # one pixel shows 3 digits
        self.simplify = QDoubleSpinBox(self, decimals=decimals, maximum=1000.0, suffix=f" {unit}")
        self.simplify.setSingleStep(pixel)
        self.simplify.setValue(pixel)
        self.simplify.setToolTip("Douglas-Peucker tolerance of the outlines, in map units")
        self.regularize = QCheckBox("Square the corners (regularise)", self)
        self.min_area = QDoubleSpinBox(self, decimals=1, maximum=1e6, suffix=" m²")
        self.min_area.setValue(DEFAULT_MIN_AREA_M2)
        self.min_area.setToolTip(
            f"Footprints smaller than this after simplifying/regularising are dropped (default "
            f"{DEFAULT_MIN_AREA_M2:g} m², as isegsat-export)"
        )
        self.whole_scene = QRadioButton(f"Whole scene ({source.width} × {source.height} px)", self)
        self.current_tile = QRadioButton("Current tile", self)
        self.whole_scene.setChecked(True)
        self.current_tile.setEnabled(current_window is not None)
        if current_window is not None:
            self.current_tile.setText(
                f"Current tile ({int(current_window.width)} × {int(current_window.height)} px)"
            )
        self.output = QLineEdit(self)
        self.output.setMinimumWidth(360)
        self._default_output = ""
        browse = QPushButton("Browse…", self)
        browse.clicked.connect(self._browse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.output)
        path_row.addWidget(browse)

        form = QFormLayout()
        form.addRow("Format", self.format)
        form.addRow("Simplify", self.simplify)
        form.addRow("", self.regularize)
        form.addRow("Minimum area", self.min_area)
        form.addRow("Area", self.whole_scene)
        form.addRow("", self.current_tile)
        form.addRow("Output", path_row)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)

        self.format.currentIndexChanged.connect(self._format_changed)
        self._format_changed()

    def chosen_format(self) -> ExportFormat:
        return self.format.currentData()

    def request(self) -> ExportRequest:
        """The export the dialog currently describes."""
        window = self._current_window if self.current_tile.isChecked() else None
        return ExportRequest(
            format=self.chosen_format(),
            output=Path(self.output.text()).expanduser(),
            window=window,
            simplify=self.simplify.value(),
            regularize=self.regularize.isChecked(),
            min_area_m2=self.min_area.value(),
        )

    def _format_changed(self) -> None:
        kind = self.chosen_format()
        for widget in (self.simplify, self.regularize, self.min_area):
            widget.setEnabled(not kind.is_mask)
        text = self.output.text().strip()
        if not text or text == self._default_output:
            stem = self._source.path.stem + ("_buildings" if kind.is_mask else "_footprints")
            self._default_output = str(self._folder / (stem + kind.suffix))
            self.output.setText(self._default_output)
        else:
            self.output.setText(str(Path(text).with_suffix(kind.suffix)))

    def _browse(self) -> None:
        kind = self.chosen_format()
        name, _ = QFileDialog.getSaveFileName(
            self, "Export to", self.output.text(), f"{kind.text} (*{kind.suffix})"
        )
        if name:
            self.output.setText(str(Path(name).with_suffix(kind.suffix)))

    def accept(self) -> None:
        """Accept only a writable output path; confirm before replacing an existing file."""
        problem = output_problem(self.request().output)
        if problem:
            QMessageBox.critical(self, "Cannot export there", problem)
            return
        output = self.request().output
        if output.exists():
            answer = QMessageBox.question(self, "Replace file?", f"{output} exists. Replace it?")
            if answer != QMessageBox.StandardButton.Yes:
                return
        super().accept()


def output_problem(path: Path) -> str | None:
    """Why ``path`` cannot be written (missing or read-only folder, a folder), else None."""
    if not path.name:
        return "Choose an output file."
    if path.is_dir():
        return f"{path} is a folder; choose a file name."
    if not path.parent.is_dir():
        return f"The folder {path.parent} does not exist."
    if not os.access(path.parent, os.W_OK):
        return f"The folder {path.parent} is read-only; choose another one."
    return None


def confirm_without_crs(parent: QWidget | None, source: RasterSource) -> bool:
    """Warn that a scene without CRS exports in pixel coordinates; True to go on."""
    if source.crs is not None:
        return True
    answer = QMessageBox.warning(
        parent,
        "No coordinate reference system",
        f"{source.path.name} has no CRS: the export gets pixel/transform coordinates and no "
        "projection, so GIS software cannot place it on a map. Export anyway?",
        QMessageBox.StandardButton.Ok | QMessageBox.StandardButton.Cancel,
    )
    return answer == QMessageBox.StandardButton.Ok


def run_export_thread(parent: QWidget | None, thread: ExportThread) -> ExportOutcome | None:
    """Run ``thread`` behind a modal progress dialog with Cancel, keeping the GUI responsive;
    return the outcome, or None after a cancel or an error message box."""
    return run_with_progress(parent, thread, "Export", "Exporting…", "Export failed")


def run_export_dialog(
    parent: QWidget | None,
    label_layer: LabelLayer,
    raster_source: RasterSource,
    current_window: Window | None = None,
    settings: AppSettings | None = None,
) -> Path | None:
    """Ask for export options, export on a worker thread and return the written path (None when
    cancelled or failed; failures are shown in a message box). ``current_window`` (image
    pixels) enables the "Current tile" choice; ``settings`` remember the format and folder."""
    last = (settings.export_format, settings.export_folder) if settings else (None, None)
    dialog = ExportDialog(raster_source, current_window, parent, *last)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    request = dialog.request()
    if settings is not None:
        settings.export_format = request.format
        settings.export_folder = request.output.parent
    if not confirm_without_crs(parent, raster_source):
        return None
    thread = ExportThread(request, label_layer)
    outcome = run_export_thread(parent, thread)
    thread.deleteLater()
    return None if outcome is None else outcome.path
