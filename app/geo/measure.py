"""True ground area (m²) and perimeter (m) of polygons in any raster CRS.

- Projected CRS in linear units with little scale distortion (UTM, national grids): planar
  area/length times the unit's size in metres.
- Geographic CRS (degrees) and Mercator variants (EPSG:3857 etc., whose scale grows with
  latitude): geodesic area/perimeter on the CRS's ellipsoid (pyproj.Geod).
- No CRS: planar values in the transform's units (pixels when the transform is the identity).
"""

from __future__ import annotations

import numpy as np
import shapely
from pyproj import CRS as ProjCRS
from pyproj import Transformer
from rasterio.crs import CRS


class AreaMeter:
    """Computes (area_m2, perimeter_m) arrays for polygons given in `crs` coordinates."""

    def __init__(self, crs: CRS | None) -> None:
        self.crs = crs
        self._geodesic = None
        self._unit = 1.0
        if crs is None:
            return
        proj = ProjCRS.from_user_input(crs.to_wkt())
        method = proj.coordinate_operation.method_name.lower() if proj.coordinate_operation else ""
        mercator = "mercator" in method and "transverse" not in method
        if proj.is_geographic or mercator:
            geographic = proj.geodetic_crs
            self._geodesic = (
                geographic.get_geod(),
                Transformer.from_crs(proj, geographic, always_xy=True),
            )
        else:
            self._unit = float(proj.axis_info[0].unit_conversion_factor or 1.0)

    @property
    def is_metric(self) -> bool:
        """False when there is no CRS (values are in unreferenced transform units)."""
        return self.crs is not None

    def measure(self, polygons: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(area_m2, perimeter_m), float64 arrays aligned with the object array `polygons`."""
        if polygons.size == 0:
            return np.zeros(0), np.zeros(0)
        if self._geodesic is None:
            return shapely.area(polygons) * self._unit**2, shapely.length(polygons) * self._unit
        geod, transformer = self._geodesic
        lonlat = shapely.transform(
            polygons, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))
        )
        pairs = [geod.geometry_area_perimeter(p) for p in lonlat]
        areas = np.abs(np.array([a for a, _ in pairs], dtype=np.float64))
        perimeters = np.array([p for _, p in pairs], dtype=np.float64)
        return areas, perimeters
