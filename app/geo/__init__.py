"""GUI-free geodata: raster display reads, the label layer, overviews and exports (no Qt).

Importing this package caps GDAL's block cache at 256 MB (GDAL's default is 5 % of RAM) unless
GDAL_CACHEMAX is already set, so reading a huge raster keeps a bounded footprint; the display
tile cache of each RasterSource comes on top (256 MB by default).
"""

import os

os.environ.setdefault("GDAL_CACHEMAX", "256")

from isegsat.app.geo.errors import (
    Cancelled,
    ExportCancelled,
    ExportError,
    GeoWarning,
    GridMismatchError,
    RasterError,
    SourceClosedError,
)
from isegsat.app.geo.export import FootprintExport, export_footprints, export_mask_geotiff
from isegsat.app.geo.grid import RasterGrid
from isegsat.app.geo.labels import LabelLayer
from isegsat.app.geo.overviews import build_overviews, overview_factors
from isegsat.app.geo.raster import TILE_SIZE, RasterSource

__all__ = [
    "TILE_SIZE",
    "Cancelled",
    "ExportCancelled",
    "ExportError",
    "FootprintExport",
    "GeoWarning",
    "GridMismatchError",
    "LabelLayer",
    "RasterError",
    "RasterGrid",
    "RasterSource",
    "SourceClosedError",
    "build_overviews",
    "export_footprints",
    "export_mask_geotiff",
    "overview_factors",
]
