"""Ground resolution of a georeferenced raster, in metres per pixel on the ground.

A raster's ``res`` is in CRS units: degrees for EPSG:4326, Web-Mercator "metres" (inflated by
1 / cos(latitude)) for EPSG:3857. The ground distance is measured instead: the raster's centre
pixel and its right and lower neighbours are taken to longitude/latitude and their geodesic
distances on the WGS84 ellipsoid are averaged.
"""

from __future__ import annotations

from pyproj import Geod
from rasterio.io import DatasetReader
from rasterio.warp import transform as warp_transform

WGS84 = Geod(ellps="WGS84")


def is_georeferenced(src: DatasetReader) -> bool:
    """True when ``src`` has a CRS and a geotransform other than the identity (pixel grid)."""
    return src.crs is not None and not src.transform.is_identity


def ground_resolution(src: DatasetReader) -> float | None:
    """Metres per pixel at the raster's centre (mean of x and y), None when not georeferenced."""
    if not is_georeferenced(src):
        return None
    row, col = src.height / 2.0, src.width / 2.0
    points = [src.transform @ (c, r) for r, c in ((row, col), (row, col + 1), (row + 1, col))]
    lons, lats = warp_transform(src.crs, "EPSG:4326", *zip(*points, strict=True))
    _, _, dx = WGS84.inv(lons[0], lats[0], lons[1], lats[1])
    _, _, dy = WGS84.inv(lons[0], lats[0], lons[2], lats[2])
    return (abs(dx) + abs(dy)) / 2.0
