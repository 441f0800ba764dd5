"""Right-angle regularisation of raster-derived outlines."""

from __future__ import annotations

import numpy as np
import shapely
from shapely import affinity
from shapely.geometry import Polygon, box

from isegsat.app.geo.polygonize import polygonize_block
from isegsat.app.geo.regularize import dominant_angle, iou, regularize_polygon


def _pixelated(shape: Polygon, size: int = 80) -> Polygon:
    """Rasterise a shape at 1 px and polygonize it back (a staircase outline)."""
    centres = shapely.points(np.stack(np.mgrid[0:size, 0:size][::-1], axis=-1) + 0.5)
    mask = shapely.contains(shape, centres).astype(np.uint8)
    (polygon,) = polygonize_block(mask)
    return polygon


def _right_angles(polygon: Polygon) -> bool:
    xy = np.asarray(polygon.exterior.coords)
    edges = np.diff(xy, axis=0)
    following = np.roll(edges, -1, axis=0)
    cosines = np.sum(edges * following, axis=1) / (
        np.linalg.norm(edges, axis=1) * np.linalg.norm(following, axis=1)
    )
    return bool(np.all(np.abs(cosines) < 1e-6))


def test_rotated_l_shape_becomes_six_right_angled_corners() -> None:
    truth = affinity.rotate(box(20, 20, 60, 36).union(box(20, 20, 34, 60)), 25, origin=(40, 40))
    staircase = _pixelated(truth)
    assert len(staircase.exterior.coords) > 30
    result = regularize_polygon(staircase, tolerance=1.5)
    assert len(result.exterior.coords) == 7 and _right_angles(result)
    assert abs(dominant_angle(result) - 25) < 2
    assert iou(result, truth) > 0.93


def test_bad_fits_keep_the_original_outline() -> None:
    triangle = _pixelated(Polygon([(10, 10), (70, 10), (10, 70)]))
    assert regularize_polygon(triangle, tolerance=1.5).equals(triangle)
    strict = _pixelated(affinity.rotate(box(20, 20, 60, 45), 30, origin=(40, 40)))
    assert regularize_polygon(strict, tolerance=1.5, min_iou=0.999).equals(strict)


def test_courtyard_hole_is_kept_square() -> None:
    building = box(10, 10, 60, 50).difference(box(25, 22, 45, 38))
    result = regularize_polygon(_pixelated(building), tolerance=1.5)
    assert len(result.interiors) == 1 and _right_angles(result)
    assert iou(result, building) > 0.97
