"""An export of the label layer, described by an immutable request and run off the GUI thread.

``run_export`` does the work on whatever thread calls it (tests call it directly);
``ExportThread`` runs it on a worker thread and reports progress, success, failure and
cancellation as signals. A failed or cancelled export leaves no file (the geodata exporters write
to a temporary name and rename on success).
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal
from rasterio.windows import Window

from isegsat.app.geo import ExportCancelled, ExportError, GeoWarning, LabelLayer
from isegsat.app.geo.export import export_footprints, export_mask_geotiff


class ExportFormat(Enum):
    """Output kinds: (menu text, file suffix, GeoTIFF foreground value or OGR driver)."""

    MASK_255 = ("Mask GeoTIFF, buildings = 255", ".tif", 255)
    MASK_01 = ("Mask GeoTIFF, buildings = 1", ".tif", 1)
    GPKG = ("Footprints GeoPackage", ".gpkg", "GPKG")
    SHAPEFILE = ("Footprints Shapefile", ".shp", "ESRI Shapefile")
    GEOJSON = ("Footprints GeoJSON (EPSG:4326)", ".geojson", "GeoJSON")

    @property
    def text(self) -> str:
        return self.value[0]

    @property
    def suffix(self) -> str:
        return self.value[1]

    @property
    def is_mask(self) -> bool:
        return isinstance(self.value[2], int)


@dataclass(frozen=True)
class ExportRequest:
    """What to export. ``window`` is in image pixels (None = whole scene); ``simplify`` is the
    outline tolerance in map units of the raster's CRS; ``min_area_m2`` drops smaller buildings.
    The footprint options are ignored for mask formats."""

    format: ExportFormat
    output: Path
    window: Window | None = None
    simplify: float = 0.0
    regularize: bool = False
    min_area_m2: float = 0.0


@dataclass(frozen=True)
class ExportOutcome:
    """A finished export: the file, the number of footprints (None for masks), warnings."""

    path: Path
    features: int | None
    warnings: tuple[str, ...] = ()


def run_export(
    request: ExportRequest,
    labels: LabelLayer,
    progress: Callable[[float], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> ExportOutcome:
    """Write the export; ``progress(fraction in [0, 1])``, ``cancel() -> True`` stops it.

    Raises ExportError with a readable message (ExportCancelled when cancelled). Geodata
    warnings (e.g. a scene without CRS) are returned in the outcome instead of being raised.
    """
    kind = request.format
    # catch_warnings swaps process-wide state; harmless here: the GUI thread emits no warnings
    # while the modal export runs.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", GeoWarning)
        if kind.is_mask:
            path = export_mask_geotiff(
                labels, request.output, window=request.window, foreground=kind.value[2],
                progress=progress, cancel=cancel,
            )  # fmt: skip
            features = None
        else:
            result = export_footprints(
                labels, request.output, driver=kind.value[2], window=request.window,
                min_area_m2=request.min_area_m2, simplify=request.simplify,
                regularize=request.regularize, progress=progress, cancel=cancel,
            )  # fmt: skip
            path, features = result.path, result.count
    notes = tuple(str(w.message) for w in caught if issubclass(w.category, GeoWarning))
    return ExportOutcome(Path(path), features, notes)


class ExportThread(QThread):
    """Runs one ``run_export`` on its own thread. Exactly one of ``succeeded(ExportOutcome)``,
    ``failed(str)`` or ``cancelled()`` is emitted before ``finished``; ``progressed`` carries
    per-mille steps (0..1000)."""

    progressed = Signal(int)
    succeeded = Signal(object)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(
        self, request: ExportRequest, labels: LabelLayer, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.request = request
        self._labels = labels
        self._stop = threading.Event()
        self._last_step = -1
        # Set by run() before `finished`; read them after wait() (no cross-thread callable).
        self.outcome: ExportOutcome | None = None
        self.error: str | None = None

    def cancel(self) -> None:
        """Ask the export to stop at its next block (thread-safe)."""
        self._stop.set()

    def _report(self, fraction: float) -> None:
        step = int(round(1000 * min(max(fraction, 0.0), 1.0)))
        if step != self._last_step:
            self._last_step = step
            self.progressed.emit(step)

    def run(self) -> None:
        try:
            outcome = run_export(self.request, self._labels, self._report, self._stop.is_set)
        except ExportCancelled:
            self.cancelled.emit()
        except ExportError as exc:
            self.error = str(exc)
            self.failed.emit(self.error)
        except Exception as exc:  # a bug must reach the user, not kill the thread silently
            self.error = f"unexpected {type(exc).__name__}: {exc}"
            self.failed.emit(self.error)
        else:
            self.outcome = outcome
            self.succeeded.emit(outcome)
