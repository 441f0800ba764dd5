"""Exports of a building mask: GeoTIFF mask and footprint polygons (GeoPackage, Shapefile,
GeoJSON), streamed block by block so memory does not grow with the scene.

`source` is a LabelLayer (unsaved edits included) or the path of a mask raster (values > 0 are
buildings; Inria 0/255 or RGB gt and 0/1 masks work). Outputs are written under a temporary name
in the target directory and renamed into place, so a failed or cancelled export leaves nothing.
"""

from __future__ import annotations

import errno
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np
import pyogrio.raw
import rasterio
import shapely
from pyogrio.errors import DataLayerError, DataSourceError, FieldError, GeometryError
from pyproj import Transformer
from rasterio._err import CPLE_BaseError  # GDAL errors rasterio does not wrap (e.g. on close)
from rasterio.errors import RasterioError
from rasterio.windows import Window
from rasterio.windows import transform as window_transform

from isegsat.app.geo.atomic import atomic_output
from isegsat.app.geo.errors import (
    Cancelled,
    ExportCancelled,
    ExportError,
    GeoWarning,
    RasterError,
)
from isegsat.app.geo.grid import RasterGrid, block_windows, clip_window, integer_window
from isegsat.app.geo.labels import LabelLayer, verify_written_raster
from isegsat.app.geo.measure import AreaMeter
from isegsat.app.geo.polygonize import DEFAULT_BLOCK, polygonize_scene, to_map_coordinates
from isegsat.app.geo.regularize import DEFAULT_MIN_IOU, regularize_polygon

ProgressCallback = Callable[[float], None]
CancelHook = Callable[[], bool]

DRIVERS = {".gpkg": "GPKG", ".shp": "ESRI Shapefile", ".geojson": "GeoJSON", ".json": "GeoJSON"}
SHAPEFILE_SIDECARS = (".shx", ".dbf", ".prj", ".cpg")
LAYER_NAME = "footprints"
# The minimum building area the app's export dialog and isegsat-export start from, m² (the
# Python API drops nothing unless asked).
DEFAULT_MIN_AREA_M2 = 2.0
# GeoPackage 1.3: what GDAL 3.6 (QGIS LTR) and older read without a warning (GDAL ≥ 3.7
# would write 1.4, which those call an unrecognized version).
GPKG_VERSION = "1.3"
# Features buffered before an append to the output file.
_WRITE_BATCH = 5000
_PYOGRIO_ERRORS = (DataSourceError, DataLayerError, FieldError, GeometryError)


@dataclass(frozen=True)
class FootprintExport:
    """Result of export_footprints: output path, driver, feature count, CRS written (or None)."""

    path: Path
    driver: str
    count: int
    crs: str | None


class _MaskFile:
    """Read-only mask raster with the LabelLayer reading interface (grid + read(window))."""

    def __init__(self, path: Path) -> None:
        try:
            self._dataset = rasterio.open(path)
        except RasterioError as exc:
            raise ExportError(f"cannot open mask {path}: {exc}") from exc
        self.grid = RasterGrid.of(self._dataset)
        self.path = path

    def read(self, window: Window) -> np.ndarray:
        data = self._dataset.read(window=window)
        threshold = 0.5 if data.dtype.kind == "f" else 0
        return (np.nan_to_num(data) > threshold).any(axis=0).astype(np.uint8)

    def close(self) -> None:
        self._dataset.close()


def _open_source(source: LabelLayer | str | PathLike) -> tuple[LabelLayer | _MaskFile, bool]:
    """(reader, opened_here) for a LabelLayer or a mask path."""
    if isinstance(source, LabelLayer):
        return source, False
    path = Path(source)
    if not path.is_file():
        raise ExportError(f"mask not found: {path}")
    return _MaskFile(path), True


def _export_window(grid: RasterGrid, window: Window | None) -> Window:
    """The integer window to export, clipped to the grid (ExportError when empty/outside)."""
    if window is None:
        return grid.full_window
    try:
        inside = clip_window(integer_window(window), grid.width, grid.height)
    except RasterError as exc:
        raise ExportError(f"bad export window {window}: {exc}") from exc
    if inside is None:
        raise ExportError(
            f"export window {window} lies outside the {grid.width}x{grid.height} px mask"
        )
    return inside


def _read(reader, window: Window) -> np.ndarray:
    try:
        return reader.read(window)
    except (RasterError, RasterioError, CPLE_BaseError) as exc:
        # rasterio's "Read failed. See previous exception for details." chains GDAL's reason.
        detail = exc.__cause__ if "previous exception" in str(exc) and exc.__cause__ else exc
        raise ExportError(f"cannot read the mask {reader.path} at {window}: {detail}") from exc


def export_mask_geotiff(
    source: LabelLayer | str | PathLike,
    out_path: str | PathLike,
    *,
    window: Window | None = None,
    foreground: int = 255,
    block: int = DEFAULT_BLOCK,
    progress: ProgressCallback | None = None,
    cancel: CancelHook | None = None,
) -> Path:
    """Write the mask (or a window of it) as a tiled DEFLATE uint8 GeoTIFF on the same CRS and
    pixel grid, buildings = `foreground` (255 or 1), background 0. Returns the output path."""
    if foreground not in (1, 255):
        raise ExportError(f"foreground value must be 1 or 255, got {foreground}")
    out_path = Path(out_path)
    reader, opened = _open_source(source)
    try:
        grid = reader.grid
        area = _export_window(grid, window)
        _warn_without_crs(grid, out_path)
        profile = {
            "driver": "GTiff",
            "width": area.width,
            "height": area.height,
            "count": 1,
            "dtype": "uint8",
            "crs": grid.crs,
            "transform": window_transform(area, grid.transform),
            "tiled": True,
            "blockxsize": 512,
            "blockysize": 512,
            "compress": "deflate",
            "sparse_ok": True,
            "bigtiff": "if_safer",
        }
        windows = list(block_windows(area, block))
        with atomic_output(out_path) as tmp:
            with rasterio.open(tmp, "w", **profile) as out:
                for done, part in enumerate(windows, start=1):
                    if cancel is not None and cancel():
                        raise ExportCancelled(f"export to {out_path} cancelled")
                    mask = _read(reader, part)
                    if mask.any():
                        local = Window(
                            part.col_off - area.col_off,
                            part.row_off - area.row_off,
                            *mask.shape[::-1],
                        )
                        out.write(mask * np.uint8(foreground), 1, window=local)
                    if progress is not None:
                        progress(done / len(windows))
            verify_written_raster(tmp)
    except (RasterioError, CPLE_BaseError, OSError) as exc:
        raise ExportError(f"cannot write {out_path}: {exc}") from exc
    finally:
        if opened:
            reader.close()
    return out_path


def export_footprints(
    source: LabelLayer | str | PathLike,
    out_path: str | PathLike,
    *,
    driver: str | None = None,
    window: Window | None = None,
    min_area_m2: float = 0.0,
    simplify: float = 0.0,
    regularize: bool = False,
    min_iou: float = DEFAULT_MIN_IOU,
    block: int = DEFAULT_BLOCK,
    progress: ProgressCallback | None = None,
    cancel: CancelHook | None = None,
) -> FootprintExport:
    """Polygonize the mask (or a window of it) into building footprints and write them.

    driver: "GPKG", "ESRI Shapefile" or "GeoJSON"; None = from the suffix (.gpkg, .shp,
    .geojson/.json). Outlines are simplified with `simplify` map units, optionally regularised to
    right angles (fits with IoU < min_iou are rejected); then every polygon (each part of one
    that came apart) below `min_area_m2` is dropped, so the minimum holds for what is written.
    Attributes: id, area_m2, perimeter_m (Shapefile: perim_m), true ground metres for any CRS.
    GeoJSON is written in EPSG:4326 (RFC 7946), GeoPackages as version 1.3 (read without warnings
    by GDAL 3.6). A raster without CRS gives a GeoWarning and coordinates in its transform's
    units (pixels), with no .prj.
    Raises ExportError (ExportCancelled on cancel); no partial file is left.
    """
    out_path = Path(out_path)
    driver = driver or DRIVERS.get(out_path.suffix.lower())
    if driver not in DRIVERS.values():
        raise ExportError(
            f"unsupported footprint format for {out_path.name}: use .gpkg, .shp or .geojson"
        )
    if min_area_m2 < 0 or simplify < 0:
        raise ExportError("min_area_m2 and simplify must be >= 0")
    reader, opened = _open_source(source)
    try:
        grid = reader.grid
        area = _export_window(grid, window)
        _warn_without_crs(grid, out_path)
        writer = _FeatureWriter(out_path, driver, grid)
        sidecars = SHAPEFILE_SIDECARS if driver == "ESRI Shapefile" else ()
        with atomic_output(out_path, sidecars) as tmp:
            writer.path = tmp
            for batch in polygonize_scene(
                lambda w: _read(reader, w), area, block, progress=progress, cancel=cancel
            ):
                geometries = to_map_coordinates(batch, grid.transform)
                writer.add(
                    *_finish(
                        geometries, writer.meter, min_area_m2, simplify, regularize, min_iou, grid
                    )
                )
            writer.close()
            writer.verify()
    except Cancelled as exc:
        raise ExportCancelled(f"export to {out_path} cancelled") from exc
    except (RasterioError, CPLE_BaseError, OSError, *_PYOGRIO_ERRORS) as exc:
        raise ExportError(f"cannot write {out_path}: {exc}") from exc
    finally:
        if opened:
            reader.close()
    return FootprintExport(out_path, driver, writer.count, writer.crs_name)


def _finish(
    geometries: np.ndarray,
    meter: AreaMeter,
    min_area_m2: float,
    simplify: float,
    regularize: bool,
    min_iou: float,
    grid: RasterGrid,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Simplify, regularise, split into single polygons, drop those below `min_area_m2`; return
    (polygons, area_m2, perimeter_m)."""
    if geometries.size == 0:
        return geometries, np.zeros(0), np.zeros(0)
    if simplify > 0:
        geometries = shapely.simplify(geometries, simplify, preserve_topology=True)
    if regularize:
        pixel = max(abs(grid.transform.a), abs(grid.transform.e))
        tolerance = max(simplify, 1.5 * pixel)
        geometries = np.asarray(
            [regularize_polygon(g, tolerance, min_iou) for g in geometries], dtype=object
        )
    geometries = shapely.get_parts(geometries)  # a multi-part result counts part by part
    geometries = geometries[shapely.get_type_id(geometries) == 3]  # polygons only
    geometries = geometries[~shapely.is_empty(geometries)]
    areas, perimeters = meter.measure(geometries)
    keep = areas >= min_area_m2
    return geometries[keep], areas[keep], perimeters[keep]


class _FeatureWriter:
    """Buffers footprints and appends them to the output layer through pyogrio."""

    def __init__(self, final_path: Path, driver: str, grid: RasterGrid) -> None:
        self.path = final_path  # replaced by the temporary name while writing
        self.layer = {"GPKG": LAYER_NAME, "GeoJSON": final_path.stem}.get(driver)
        self.driver = driver
        self.meter = AreaMeter(grid.crs)
        self.count = 0
        self._created = False
        self._buffer: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._buffered = 0
        self._to_wgs84 = None
        self.crs_name: str | None = None
        if grid.crs is not None:
            if driver == "GeoJSON":
                self._to_wgs84 = Transformer.from_crs(
                    grid.crs.to_wkt(), "EPSG:4326", always_xy=True
                )
                self.crs_name = "EPSG:4326"
            else:
                epsg = grid.crs.to_epsg()
                self.crs_name = f"EPSG:{epsg}" if epsg else grid.crs.to_wkt()
        perimeter = "perim_m" if driver == "ESRI Shapefile" else "perimeter_m"
        self.fields = ["id", "area_m2", perimeter]

    def add(self, geometries: np.ndarray, areas: np.ndarray, perimeters: np.ndarray) -> None:
        if geometries.size == 0:
            return
        self._buffer.append((geometries, areas, perimeters))
        self._buffered += geometries.size
        if self._buffered >= _WRITE_BATCH:
            self._write()

    def close(self) -> None:
        """Write what is buffered; creates the (possibly empty) layer."""
        if self._buffer or not self._created:
            self._write()

    def verify(self) -> None:
        """Read the written layer back: OGR reports some write failures (a full disk) only as
        log messages, leaving an empty file. Raises a pyogrio error or OSError when it is not
        complete."""
        found = pyogrio.read_info(self.path, layer=self.layer)["features"]
        if found != self.count:
            raise OSError(
                errno.EIO, f"{self.path.name} holds {found} of the {self.count} footprints written"
            )

    def _write(self) -> None:
        if self._buffer:
            geometries = np.concatenate([b[0] for b in self._buffer])
            areas = np.concatenate([b[1] for b in self._buffer])
            perimeters = np.concatenate([b[2] for b in self._buffer])
        else:
            geometries, areas, perimeters = np.zeros(0, object), np.zeros(0), np.zeros(0)
        self._buffer.clear()
        self._buffered = 0
        if self._to_wgs84 is not None and geometries.size:
            transformer = self._to_wgs84
            geometries = shapely.transform(
                geometries,
                lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])),
            )
        ids = np.arange(self.count + 1, self.count + geometries.size + 1, dtype=np.int64)
        layer_options = {"RFC7946": "YES"} if self.driver == "GeoJSON" else None
        dataset_options = {"VERSION": GPKG_VERSION} if self.driver == "GPKG" else None
        with warnings.catch_warnings():
            # No CRS was already reported as a GeoWarning; pyogrio would repeat it per batch.
            warnings.filterwarnings("ignore", message="'crs' was not provided")
            warnings.filterwarnings("ignore", message="No SRS set on layer")
            pyogrio.raw.write(
                self.path,
                geometry=shapely.to_wkb(geometries) if geometries.size else np.zeros(0, object),
                field_data=[ids, np.round(areas, 3), np.round(perimeters, 3)],
                fields=self.fields,
                layer=self.layer,
                driver=self.driver,
                geometry_type="Polygon",
                crs=self.crs_name,
                append=self._created,
                layer_options=None if self._created else layer_options,
                dataset_options=None if self._created else dataset_options,
            )
        self._created = True
        self.count += geometries.size


def _warn_without_crs(grid: RasterGrid, out_path: Path) -> None:
    if grid.crs is None:
        warnings.warn(
            f"the mask has no CRS: {out_path.name} gets coordinates in pixel/transform units and "
            "no projection (.prj)",
            GeoWarning,
            stacklevel=3,
        )
