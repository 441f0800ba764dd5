"""View ▸ Bands…: which bands of a multi-band raster are shown as red, green and blue.

The model reads the same `RasterSource`, so it sees the bands the annotator sees.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from isegsat.app.geo import RasterSource

CHANNELS = ("Red", "Green", "Blue")


def band_names(source: RasterSource) -> list[str]:
    """Each band with its colour interpretation: "1 (red)", ..., "4 (undefined)"."""
    return [f"{i + 1} ({ci.name})" for i, ci in enumerate(source.colorinterp)]


class BandsDialog(QDialog):
    """Three band pickers (R, G, B) starting at the source's current bands; Restore Defaults
    selects its default bands. `bands()` is the choice."""

    def __init__(self, source: RasterSource, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Bands")
        self._default = source.default_bands()
        names = band_names(source)
        form = QFormLayout()
        self.pickers: list[QComboBox] = []
        for channel, band in zip(CHANNELS, source.bands, strict=True):
            picker = QComboBox()
            picker.addItems(names)
            picker.setCurrentIndex(band - 1)
            form.addRow(channel, picker)
            self.pickers.append(picker)
        note = QLabel(
            f"{source.path.name} has {source.count} bands. The model sees the bands shown here."
        )
        note.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.RestoreDefaults,
            parent=self,
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        restore = buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults)
        restore.clicked.connect(lambda: self.select(self._default))
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def select(self, bands: tuple[int, int, int]) -> None:
        for picker, band in zip(self.pickers, bands, strict=True):
            picker.setCurrentIndex(band - 1)

    def bands(self) -> tuple[int, int, int]:
        """The chosen (R, G, B) bands, 1-based."""
        r, g, b = (picker.currentIndex() + 1 for picker in self.pickers)
        return r, g, b


def choose_bands(parent: QWidget | None, source: RasterSource) -> tuple[int, int, int] | None:
    """Ask for the display bands of `source` (modal); None when cancelled."""
    dialog = BandsDialog(source, parent)
    return dialog.bands() if dialog.exec() == QDialog.DialogCode.Accepted else None
