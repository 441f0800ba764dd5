"""View toggles and the band choice of the main window.

- Labels as outlines (L): the label layer and the prediction are drawn as outlines instead of
  filled (`LabelOverlay` / `TargetOverlay.set_outline`).
- Probability map (M): the current target shows the model's probability through a colour ramp
  instead of the thresholded mask (`TargetOverlay.set_probability`).
- Bands… (Ctrl+B): which bands of the image are red, green and blue. They are set on the
  document's `RasterSource`, which the display and the model both read, remembered per image in
  the settings and applied again when that image opens.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from isegsat.app.bands_dialog import choose_bands
from isegsat.app.document import Document
from isegsat.app.geo import RasterError

if TYPE_CHECKING:
    from isegsat.app.main_window import MainWindow


class ViewControls(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        actions = window.named_actions
        actions["outline"].toggled.connect(self.set_outline)
        actions["probability"].toggled.connect(self.set_probability)
        actions["bands"].triggered.connect(self.ask_bands)

    def set_outline(self, outlined: bool) -> None:
        controller = self.window.controller
        controller.labels.set_outline(outlined)
        controller.target.set_outline(outlined)
        self._say("Labels drawn as outlines" if outlined else "Labels drawn filled")

    def set_probability(self, shown: bool) -> None:
        self.window.controller.target.set_probability(shown)
        if shown:
            self._say("Probability map of the framed target (dark: 0, yellow: 1) after a click")
        else:
            self._say("Thresholded prediction")

    # ------------------------------------------------------------------ bands
    def document_opened(self, document: Document) -> None:
        """Show the bands last chosen for this image (before its first tiles are read)."""
        bands = self.window.settings.image_bands(document.image_path)
        if bands is None or bands == document.source.bands:
            return
        try:
            document.source.set_bands(bands)
        except RasterError:  # the file changed (fewer bands): back to its default bands
            self.window.settings.set_image_bands(document.image_path, None)

    def ask_bands(self) -> None:
        document = self.window.document
        if document is None:
            self.window.dialogs.error("No image", "Open an image first, then choose its bands.")
            return
        bands = choose_bands(self.window, document.source)
        if bands is not None:
            self.apply_bands(bands)

    def apply_bands(self, bands: tuple[int, int, int]) -> bool:
        """Show (and feed the model) `bands` of the open image as R, G, B; remember them."""
        document = self.window.document
        if document is None:
            return False
        source = document.source
        if bands == source.bands:
            return True
        try:
            source.set_bands(bands)
        except RasterError as exc:
            self.window.dialogs.error("Cannot show these bands", str(exc))
            return False
        remembered = None if source.bands == source.default_bands() else source.bands
        self.window.settings.set_image_bands(document.image_path, remembered)
        self.window.canvas.reload_tiles()
        r, g, b = source.bands
        self._say(f"Bands {r}, {g}, {b} shown as red, green, blue (the model sees them too)")
        return True

    def _say(self, text: str) -> None:
        self.window.statusBar().showMessage(text, 6000)
