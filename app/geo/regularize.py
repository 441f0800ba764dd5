"""Right-angle regularisation of building outlines.

For each polygon: find its dominant orientation (length-weighted mean of edge directions modulo
90°, after a light simplification that removes the pixel staircase), rotate it to that axis, snap
every edge to horizontal or vertical and merge runs of parallel edges, then rotate back. If the
snapped outline is invalid or its IoU with the original is below `min_iou`, the minimum rotated
rectangle is tried; if that also fits badly the original polygon is kept.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from shapely import affinity
from shapely.geometry import LinearRing, Polygon

DEFAULT_MIN_IOU = 0.85


def iou(a: Polygon, b: Polygon) -> float:
    """Intersection over union of two polygons (0 when both are empty)."""
    union = a.union(b).area
    return a.intersection(b).area / union if union > 0 else 0.0


def dominant_angle(polygon: Polygon) -> float:
    """Dominant edge direction of the exterior in degrees, in [0, 90)."""
    xy = np.asarray(polygon.exterior.coords)
    d = np.diff(xy, axis=0)
    lengths = np.hypot(d[:, 0], d[:, 1])
    angles = np.arctan2(d[:, 1], d[:, 0])
    # Directions are 90°-periodic: average on the circle of 4 * angle.
    s = np.sum(lengths * np.sin(4 * angles))
    c = np.sum(lengths * np.cos(4 * angles))
    return math.degrees(math.atan2(s, c) / 4) % 90.0


def _snap_ring(coords: np.ndarray) -> list[tuple[float, float]] | None:
    """Axis-aligned version of a closed ring (already rotated so its walls are ~axis-aligned).

    Each edge is classed horizontal or vertical; consecutive edges of one class merge into one
    wall at their length-weighted mean position; corners are the wall intersections.
    """
    d = np.diff(coords, axis=0)
    lengths = np.hypot(d[:, 0], d[:, 1])
    keep = lengths > 0
    if keep.sum() < 4:
        return None
    starts, d, lengths = coords[:-1][keep], d[keep], lengths[keep]
    horizontal = np.abs(d[:, 0]) >= np.abs(d[:, 1])
    mids = starts + d / 2
    walls: list[list[float]] = []  # [is_horizontal, weighted position sum, total length]
    for is_h, mid, length in zip(horizontal, mids, lengths, strict=True):
        position = mid[1] if is_h else mid[0]
        if walls and walls[-1][0] == is_h:
            walls[-1][1] += position * length
            walls[-1][2] += length
        else:
            walls.append([is_h, position * length, length])
    if len(walls) > 1 and walls[0][0] == walls[-1][0]:
        last = walls.pop()
        walls[0][1] += last[1]
        walls[0][2] += last[2]
    if len(walls) < 4 or len(walls) % 2:
        return None
    positions = [w[1] / w[2] for w in walls]
    corners = []
    for i, wall in enumerate(walls):
        j = (i + 1) % len(walls)
        x, y = (positions[j], positions[i]) if wall[0] else (positions[i], positions[j])
        corners.append((x, y))
    return corners


def _orthogonalize(polygon: Polygon, angle: float) -> Polygon | None:
    centre = polygon.centroid
    rotated = affinity.rotate(polygon, -angle, origin=centre)
    exterior = _snap_ring(np.asarray(rotated.exterior.coords))
    if exterior is None:
        return None
    holes = []
    for interior in rotated.interiors:
        hole = _snap_ring(np.asarray(interior.coords))
        if hole is not None and LinearRing(hole).is_valid:
            holes.append(hole)
    snapped = Polygon(exterior, holes)
    if not snapped.is_valid or snapped.area <= 0:
        return None
    return affinity.rotate(snapped, angle, origin=centre)


def regularize_polygon(
    polygon: Polygon, tolerance: float, min_iou: float = DEFAULT_MIN_IOU
) -> Polygon:
    """Right-angled outline of `polygon` or the polygon itself when no fit reaches min_iou.

    tolerance: simplification distance (map units) applied before estimating walls, about 1-2
    pixels so the raster staircase disappears.
    """
    if polygon.is_empty or polygon.area <= 0:
        return polygon
    simplified = shapely.simplify(polygon, tolerance, preserve_topology=True)
    if simplified.is_empty or not isinstance(simplified, Polygon):
        simplified = polygon
    angle = dominant_angle(simplified)
    ortho = _orthogonalize(simplified, angle)
    if ortho is not None and iou(ortho, polygon) >= min_iou:
        return ortho
    rectangle = polygon.minimum_rotated_rectangle
    if isinstance(rectangle, Polygon) and iou(rectangle, polygon) >= min_iou:
        return rectangle
    return polygon
