"""GUI-free geodata: raster display reads, the label layer, overviews and exports (no Qt)."""

from isegsat.app.geo.errors import (
    Cancelled,
    ExportCancelled,
    ExportError,
    GeoWarning,
    GridMismatchError,
    RasterError,
)
from isegsat.app.geo.grid import RasterGrid
from isegsat.app.geo.labels import LabelLayer
from isegsat.app.geo.overviews import build_overviews, overview_factors
from isegsat.app.geo.raster import TILE_SIZE, RasterSource

__all__ = [
    "TILE_SIZE",
    "Cancelled",
    "ExportCancelled",
    "ExportError",
    "GeoWarning",
    "GridMismatchError",
    "LabelLayer",
    "RasterError",
    "RasterGrid",
    "RasterSource",
    "build_overviews",
    "overview_factors",
]
