"""Building footprints (rectangles, L, T, U; any rotation) and their roofs and cast shadows.

A footprint is a union of oriented rectangular ``Part``s in image pixel coordinates. Each part gets
its own roof: gabled (two facets split by a ridge), hipped (two trapezoids + two triangles) or flat
(parapet + rooftop fixtures). Facets are lit by the scene's ``Sun``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import textures
from .canvas import Canvas, Sun
from .geometry import fill, polyline, rectangle, sweep

ROOF_KINDS = ("flat", "gabled", "hipped")
SHAPES = ("rect", "L", "T", "U")


@dataclass(frozen=True)
class Part:
    """Oriented rectangle: ``length`` px along ``angle`` (radians), ``width`` px across."""

    center: tuple[float, float]
    length: float
    width: float
    angle: float

    def polygon(self, grow: float = 0.0) -> np.ndarray:
        return rectangle(self.center, self.length + 2 * grow, self.width + 2 * grow, self.angle)


@dataclass(frozen=True)
class Building:
    parts: tuple[Part, ...]
    roof: str
    colour: np.ndarray  # (3,) float RGB
    height_px: float

    def polygons(self, grow: float = 0.0) -> list[np.ndarray]:
        return [part.polygon(grow) for part in self.parts]


def footprint(
    center: tuple[float, float], angle: float, length: float, depth: float, shape: str, rng
) -> tuple[Part, ...]:
    """Parts of a ``shape`` footprint with outer size ``length`` × ``depth`` px around ``center``.

    ``length`` runs along ``angle``; wings of L/T/U shapes are 35–60 % of the outer size.
    """
    c, s = np.cos(angle), np.sin(angle)
    along, across = np.array([c, s]), np.array([-s, c])
    center = np.asarray(center, np.float64)

    def part(u0: float, v0: float, u1: float, v1: float) -> Part:
        mid = center + along * ((u0 + u1) / 2) + across * ((v0 + v1) / 2)
        return Part((float(mid[0]), float(mid[1])), u1 - u0, v1 - v0, angle)

    hl, hd = length / 2, depth / 2
    wing_d = depth * rng.uniform(0.4, 0.6)
    wing_l = length * rng.uniform(0.3, 0.5)
    if shape == "rect":
        return (part(-hl, -hd, hl, hd),)
    if shape == "L":
        return (part(-hl, -hd, hl, -hd + wing_d), part(-hl, -hd, -hl + wing_l, hd))
    if shape == "T":
        return (part(-hl, -hd, hl, -hd + wing_d), part(-wing_l / 2, -hd, wing_l / 2, hd))
    if shape == "U":
        wing_l = min(wing_l, length * 0.35)
        return (
            part(-hl, -hd, hl, -hd + wing_d),
            part(-hl, -hd, -hl + wing_l, hd),
            part(hl - wing_l, -hd, hl, hd),
        )
    raise ValueError(f"unknown footprint shape {shape!r}; expected one of {SHAPES}")


def place(canvas: Canvas, building: Building, clearance: float) -> bool:
    """Add ``building`` when its footprint grown by ``clearance`` px is free; mark it occupied."""
    grown = building.polygons(clearance)
    if not canvas.is_free(grown):
        return False
    canvas.occupy(grown)
    canvas.buildings.append(building)
    return True


def render_shadows(canvas: Canvas, sun: Sun) -> None:
    """Mark the ground covered by every building's cast shadow in ``canvas.shadow``."""
    for building in canvas.buildings:
        offset = sun.offset(building.height_px)
        fill(canvas.shadow, [sweep(p, offset) for p in building.polygons()], 1)


def render_roofs(canvas: Canvas, sun: Sun, rng: np.random.Generator) -> None:
    """Draw all roofs (albedo + facet shading) and their footprints into ``canvas.mask``."""
    for building in canvas.buildings:
        polygons = building.polygons()
        fill(canvas.mask, polygons, 1)
        canvas.surface(polygons, building.colour)
        fill(canvas.shade, polygons, 1.0)
        for part in building.parts:
            if building.roof == "flat":
                _flat_roof(canvas, part, building, sun, rng)
            else:
                _pitched_roof(canvas, part, building, sun, rng)


def _pitched_roof(canvas: Canvas, part: Part, building: Building, sun: Sun, rng) -> None:
    angle, long_side, short_side = part.angle, part.length, part.width
    if part.width > part.length:
        angle, long_side, short_side = angle + np.pi / 2, part.width, part.length
    along = np.array([np.cos(angle), np.sin(angle)])
    across = np.array([-along[1], along[0]])
    center = np.asarray(part.center)
    pitch = np.deg2rad(rng.uniform(22, 40))
    corners = rectangle(center, long_side, short_side, angle)  # p0 -a-c, p1 +a-c, p2 +a+c, p3 -a+c
    if building.roof == "hipped":
        half_ridge = max(long_side - short_side, 0.0) / 2
        r0, r1 = center - along * half_ridge, center + along * half_ridge
        facets = [
            (np.array([corners[0], corners[1], r1, r0]), -across),
            (np.array([corners[3], corners[2], r1, r0]), across),
            (np.array([corners[0], r0, corners[3]]), -along),
            (np.array([corners[1], r1, corners[2]]), along),
        ]
    else:
        r0, r1 = center - along * long_side / 2, center + along * long_side / 2
        facets = [
            (np.array([corners[0], corners[1], r1, r0]), -across),
            (np.array([corners[3], corners[2], r1, r0]), across),
        ]
    for polygon, normal in facets:
        fill(canvas.shade, [polygon], sun.facet_shade(normal, pitch))
    course = tuple(np.clip(building.colour * rng.uniform(0.88, 0.96), 0, 255).tolist())
    for offset in np.arange(-short_side / 2, short_side / 2, rng.uniform(2.0, 3.5))[1:]:
        ends = center + across * offset + np.outer([-0.5, 0.5], along) * long_side
        polyline(canvas.albedo, ends, course, 1)  # shingle / tile courses parallel to the ridge
    eave_colour = np.clip(building.colour * rng.uniform(0.6, 0.85), 0, 255)
    polyline(canvas.albedo, corners, tuple(eave_colour.tolist()), 1, closed=True)
    ridge_colour = np.clip(building.colour * rng.uniform(0.85, 1.15), 0, 255)
    polyline(canvas.albedo, np.array([r0, r1]), tuple(ridge_colour.tolist()), 1.5)
    if rng.random() < 0.12 and short_side > 20:
        _solar_panels(canvas, center, along, across, long_side, short_side, sun, rng)


def _solar_panels(canvas, center, along, across, long_side, short_side, sun, rng) -> None:
    side = across if np.dot(across, -sun.direction) > 0 else -across
    panel_center = center + side * short_side * 0.25 + along * rng.uniform(-0.2, 0.2) * long_side
    angle = np.arctan2(along[1], along[0])
    panel = rectangle(panel_center, long_side * rng.uniform(0.3, 0.6), short_side * 0.3, angle)
    canvas.surface([panel], np.array([40, 48, 70]) + rng.normal(0, 6, 3))


def _flat_roof(canvas: Canvas, part: Part, building: Building, sun: Sun, rng) -> None:
    polygon = part.polygon()
    along = np.array([np.cos(part.angle), np.sin(part.angle)])
    across = np.array([-along[1], along[0]])
    center = np.asarray(part.center)
    if rng.random() < 0.4:  # membrane or gravel seams along the long side
        seam = tuple(np.clip(building.colour * rng.uniform(0.9, 1.1), 0, 255).tolist())
        for v in np.arange(-part.width / 2, part.width / 2, rng.uniform(4, 10))[1:]:
            ends = center + across * v + np.outer([-0.5, 0.5], along) * part.length
            polyline(canvas.albedo, ends, seam, 1)
    for _ in range(int(rng.integers(0, 3))):  # stains and repaired patches
        spot = center + along * rng.uniform(-0.3, 0.3) * part.length
        spot = spot + across * rng.uniform(-0.3, 0.3) * part.width
        size = rng.uniform(0.1, 0.4, 2) * (part.length, part.width)
        patch = rectangle(spot, size[0], size[1], part.angle)
        canvas.surface([patch], np.clip(building.colour * rng.uniform(0.85, 1.12), 0, 255))
    rim = np.clip(building.colour * rng.uniform(0.7, 1.2), 0, 255)
    polyline(canvas.albedo, polygon, tuple(rim.tolist()), rng.uniform(1.5, 3.5), closed=True)
    if rng.random() < 0.25 and min(part.length, part.width) > 40:  # penthouse / upper storey
        scale = rng.uniform(0.35, 0.7, 2)
        spot = center + along * rng.uniform(-0.15, 0.15) * part.length
        upper = rectangle(spot, part.length * scale[0], part.width * scale[1], part.angle)
        _shadow_on(canvas, polygon, sweep(upper, sun.offset(rng.uniform(10, 25))), sun)
        canvas.surface([upper], np.clip(building.colour * rng.uniform(0.85, 1.15), 0, 255))
        fill(canvas.shade, [upper], 1.0)
        polyline(canvas.albedo, upper, tuple(rim.tolist()), 1.5, closed=True)
    for _ in range(int(rng.poisson(part.length * part.width / 2500.0))):
        spot = center + along * rng.uniform(-0.4, 0.4) * part.length
        spot = spot + across * rng.uniform(-0.4, 0.4) * part.width
        if rng.random() < 0.7:  # AC unit / vent: a light box with its own small shadow
            size = rng.uniform(3, 10, 2)
            box = rectangle(spot, size[0], size[1], part.angle)
            _shadow_on(canvas, polygon, sweep(box, sun.offset(rng.uniform(2, 6))), sun)
            fill(canvas.shade, [box], 1.05)
            canvas.surface([box], textures.pick(rng, textures.ROOF_FLAT[:3], 10) + 20)
        else:  # skylight: a dark glazed rectangle
            size = rng.uniform(4, 14, 2)
            box = rectangle(spot, size[0], size[1], part.angle)
            canvas.surface([box], np.array([70, 80, 95]) + rng.normal(0, 10, 3))


def _shadow_on(canvas: Canvas, roof: np.ndarray, shadow: np.ndarray, sun: Sun) -> None:
    """Darken ``canvas.shade`` where the ``shadow`` polygon falls on the ``roof`` polygon only."""
    height, width = canvas.shape
    x0, y0 = np.maximum(np.floor(shadow.min(axis=0)).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(shadow.max(axis=0)).astype(int) + 1, (width, height))
    if x1 <= x0 or y1 <= y0:
        return
    on_roof = np.zeros((y1 - y0, x1 - x0), np.uint8)
    in_shadow = np.zeros_like(on_roof)
    fill(on_roof, [roof - (x0, y0)], 1)
    fill(in_shadow, [shadow - (x0, y0)], 1)
    window = canvas.shade[y0:y1, x0:x1]
    window[(on_roof & in_shadow).astype(bool)] *= sun.shadow_strength + 0.1
