"""Curved residential streets: a bowed street through a suburban block, houses along both sides.

Houses face the street: each footprint is rotated to the local street direction, so a block
holds buildings at many angles, as in subdivisions with crescents and loops.
"""

from __future__ import annotations

import numpy as np

from . import textures
from .buildings import Building, footprint, place
from .canvas import Canvas, Sun
from .geometry import Frame
from .streets import draw_road, driveway, m

Box = tuple[float, float, float, float]


def crescent(canvas: Canvas, frame: Frame, box: Box, rng: np.random.Generator, sun: Sun) -> None:
    """Lawn over ``box`` (local u0, v0, u1, v1), a bowed street joining the roads at u0 and u1,
    and houses with driveways on both of its sides."""
    u0, v0, u1, v1 = box
    canvas.surface([frame.rect(*box)], textures.pick(rng, textures.GRASS, 8))
    t = np.linspace(0.0, 1.0, 40)
    bow = (v1 - v0) * rng.uniform(0.1, 0.25) * rng.choice([-1, 1])
    u = u0 - m(4) + (u1 - u0 + m(8)) * t
    v = (v0 + v1) / 2 + bow * np.sin(np.pi * t) - bow / 2
    street = frame.to_image(np.stack([u, v], axis=1))
    street_w = m(rng.uniform(6.5, 9))
    draw_road(canvas, street, street_w, rng, paint=False)
    roofs = np.stack([textures.pick(rng, textures.ROOF_PITCHED) for _ in range(3)])
    paving = textures.pick(rng, textures.CONCRETE, 10)
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(street, axis=0), axis=1))])
    for side in (-1, 1):
        s = m(rng.uniform(5, 15))
        while s < arc[-1] - m(10):
            lot = m(rng.uniform(16, 26))
            _house(canvas, street, arc, s + lot / 2, side, street_w, roofs, paving, rng)
            s += lot


def _house(canvas, street, arc, s, side, street_w, roofs, paving, rng) -> None:
    i = int(np.clip(np.searchsorted(arc, s), 1, len(street) - 1))
    tangent = street[i] - street[i - 1]
    tangent /= np.linalg.norm(tangent) + 1e-9
    normal = np.array([-tangent[1], tangent[0]]) * side
    point = street[i - 1] + tangent * (s - arc[i - 1])
    width, depth = m(rng.uniform(10, 19)), m(rng.uniform(8, 14))
    setback = street_w / 2 + m(rng.uniform(5, 10))
    center = point + normal * (setback + depth / 2)
    if not canvas.inside(*center):
        return
    roof = str(rng.choice(["gabled", "hipped"]))
    building = Building(
        parts=footprint(
            center,
            float(np.arctan2(tangent[1], tangent[0])),
            width,
            depth,
            str(rng.choice(["rect", "L", "T"], p=[0.55, 0.35, 0.1])),
            rng,
        ),  # fmt: skip
        roof=roof,
        colour=textures.pick(rng, roofs if rng.random() < 0.7 else textures.ROOF_PITCHED, 8),
        height_px=m(rng.uniform(3.5, 8)),
    )
    if not place(canvas, building, m(1.5)):
        return
    drive_w = m(rng.uniform(3, 5))
    offset = tangent * rng.choice([-1, 1]) * (width / 2 - drive_w / 2)
    front = center - normal * depth / 2 + offset
    driveway(canvas, front, point + offset + normal * street_w * 0.3, drive_w, paving)
    for _ in range(int(rng.integers(0, 4))):
        spot = center + normal * rng.uniform(-0.5, 1.5) * depth + tangent * rng.normal(0, width)
        if canvas.inside(*spot) and not canvas.occupied[int(spot[1]), int(spot[0])]:
            canvas.trees.append((spot[0], spot[1], m(rng.uniform(2.0, 5.0))))
