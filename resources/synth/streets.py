"""Roads with sidewalks and lane paint, parking lots, driveways and cars.

Coordinates are image pixels (x, y); lengths are pixels unless a name ends in ``_m`` (metres).
"""

from __future__ import annotations

import numpy as np

from . import textures
from .canvas import Canvas, Sun
from .geometry import Frame, fill, polyline, rectangle, sweep

PIXEL_M = 0.3  # ground sampling distance, metres per pixel


def m(metres: float) -> float:
    """Metres → pixels at the scene's 0.3 m ground sampling distance."""
    return metres / PIXEL_M


def draw_road(
    canvas: Canvas,
    points: np.ndarray,
    width: float,
    rng: np.random.Generator,
    sidewalk: float = 0.0,
    paint: bool = True,
    asphalt: np.ndarray | None = None,
) -> None:
    """Draw and occupy a road along the (N, 2) polyline ``points``: sidewalks, asphalt, paint."""
    if sidewalk > 0:
        polyline(
            canvas.albedo,
            points,
            tuple(textures.pick(rng, textures.CONCRETE).tolist()),
            width + 2 * sidewalk,
        )
    colour = textures.pick(rng, textures.ASPHALT, 6) if asphalt is None else asphalt
    polyline(canvas.albedo, points, tuple(colour.tolist()), width)
    polyline(canvas.occupied, points, 1, width + 2 * sidewalk + m(1.0))
    if paint and width > m(5.5):
        yellow = rng.random() < 0.5
        paint_colour = (200, 180, 100) if yellow else (200, 200, 195)
        _dashes(canvas.albedo, points, paint_colour, dash=m(3), gap=m(6), thickness=1.3)
        if width > m(11) and rng.random() < 0.6:
            for side in (-1, 1):
                _dashes(
                    canvas.albedo,
                    _offset_line(points, side * width * 0.25),
                    (220, 220, 215),
                    m(3),
                    m(9),
                    1.2,
                )


def _offset_line(points: np.ndarray, distance: float) -> np.ndarray:
    """Shift a polyline sideways by ``distance`` px (per-segment normals, vertex-averaged)."""
    tangent = np.gradient(points, axis=0)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True) + 1e-9
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
    return points + normal * distance


def _dashes(image, points: np.ndarray, colour, dash: float, gap: float, thickness: float) -> None:
    for a, b in zip(points[:-1], points[1:], strict=True):
        length = float(np.linalg.norm(b - a))
        if length < 1:
            continue
        starts = np.arange(0.0, length, dash + gap)
        direction = (b - a) / length
        for start in starts:
            end = min(start + dash, length)
            polyline(
                image, np.array([a + direction * start, a + direction * end]), colour, thickness
            )


def draw_car(canvas: Canvas, center, angle: float, rng: np.random.Generator, sun: Sun) -> None:
    """A car ~4.5 × 1.9 m at ``center`` (x, y) heading ``angle``: body, glass, small shadow."""
    length, width = m(rng.uniform(4.0, 5.2)), m(rng.uniform(1.7, 2.0))
    body = rectangle(center, length, width, angle)
    fill(canvas.shadow, [sweep(body, sun.offset(m(1.4)))], 1)
    canvas.surface([body], textures.pick(rng, textures.CAR, 8))
    heading = np.array([np.cos(angle), np.sin(angle)])
    glass = rectangle(
        np.asarray(center) + heading * length * 0.12, length * 0.3, width * 0.8, angle
    )
    canvas.surface([glass], np.array([45, 50, 58]) + rng.normal(0, 5, 3))


def parking_lot(
    canvas: Canvas,
    frame: Frame,
    box: tuple[float, float, float, float],
    rng: np.random.Generator,
    sun: Sun,
    fill_rate: float | None = None,
) -> None:
    """Asphalt lot over local box (u0, v0, u1, v1) with painted stalls in rows along u and cars."""
    u0, v0, u1, v1 = box
    canvas.surface([frame.rect(u0, v0, u1, v1)], textures.pick(rng, textures.ASPHALT, 8))
    stall_w, stall_d, aisle = m(2.6), m(5.4), m(7.0)
    rate = rng.uniform(0.25, 0.9) if fill_rate is None else fill_rate
    line_colour = (210, 210, 205)
    v = v0 + m(1.0)
    facing = 1
    while v + stall_d < v1 - m(1.0):
        u_positions = np.arange(u0 + m(1.0), u1 - m(1.0) - stall_w, stall_w)
        for u in u_positions:
            edge = frame.to_image(np.array([[u, v], [u, v + stall_d]]))
            polyline(canvas.albedo, edge, line_colour, 1)
            if rng.random() < rate:
                center = frame.to_image(np.array([u + stall_w / 2, v + stall_d / 2]))
                jitter = rng.normal(0, 0.04)
                draw_car(canvas, center, frame.angle + np.pi / 2 * facing + jitter, rng, sun)
        v += stall_d + (aisle if facing > 0 else 0)
        facing = -facing
    canvas.occupy([frame.rect(u0, v0, u1, v1)])


def driveway(canvas: Canvas, start, end, width: float, colour: np.ndarray) -> None:
    """Paved strip of ``width`` px from ``start`` to ``end`` (x, y); marked as occupied."""
    start, end = np.asarray(start, float), np.asarray(end, float)
    vector = end - start
    length = float(np.linalg.norm(vector))
    if length < 1:
        return
    angle = float(np.arctan2(vector[1], vector[0]))
    strip = rectangle((start + end) / 2, length, width, angle)
    canvas.surface([strip], colour)
    canvas.occupy([strip])


def road_cars(
    canvas: Canvas,
    points: np.ndarray,
    width: float,
    rng: np.random.Generator,
    sun: Sun,
    per_100m: float,
) -> None:
    """Cars driving or parked along a road polyline (N, 2), ``per_100m`` cars per 100 m."""
    for a, b in zip(points[:-1], points[1:], strict=True):
        vector = b - a
        length = float(np.linalg.norm(vector))
        if length < 1:
            continue
        direction = vector / length
        normal = np.array([-direction[1], direction[0]])
        angle = float(np.arctan2(direction[1], direction[0]))
        for t in rng.uniform(0, length, rng.poisson(per_100m * length / m(100))):
            lane = rng.choice([-1, 1])
            center = a + direction * t + normal * lane * width * rng.uniform(0.2, 0.35)
            if canvas.inside(*center):
                draw_car(canvas, center, angle + (np.pi if lane < 0 else 0.0), rng, sun)
