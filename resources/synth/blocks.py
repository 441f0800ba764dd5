"""Fill city blocks with content: detached houses, dense urban parcels, perimeter blocks,
commercial boxes with parking, parking lots and parks (curved streets live in ``crescent``).

A block is an axis-aligned box ``(u0, v0, u1, v1)`` in the street ``Frame``'s local pixel
coordinates, already inset from the surrounding roads and sidewalks.
"""

from __future__ import annotations

import numpy as np

from . import textures
from .buildings import Building, footprint, place
from .canvas import Canvas, Sun
from .crescent import crescent
from .geometry import Frame, polyline
from .streets import driveway, m, parking_lot

Box = tuple[float, float, float, float]


def _jitter(rng: np.random.Generator, degrees: float) -> float:
    return float(np.deg2rad(rng.normal(0.0, degrees)))


def houses(canvas: Canvas, frame: Frame, box: Box, rng: np.random.Generator, sun: Sun) -> None:
    """Detached houses on lots along both long sides, with driveways, pools, trees, hedges."""
    u0, v0, u1, v1 = box
    depth = v1 - v0
    rows = [(v0, v1, 1)]
    if depth > m(45):  # two rows of lots, back to back, facing opposite streets
        rows = [(v0, v0 + depth / 2, 1), (v1, v0 + depth / 2, -1)]
    lawn = textures.pick(rng, textures.GRASS, 8)
    # Houses of one development share a few roof colours.
    roofs = np.stack([textures.pick(rng, textures.ROOF_PITCHED) for _ in range(3)])
    for front, back, sign in rows:
        u = u0
        while u < u1 - m(10):
            lot_w = min(m(rng.uniform(15, 30)), u1 - u)
            lot_lawn = np.clip(lawn * rng.uniform(0.9, 1.1) + rng.normal(0, 3, 3), 0, 255)
            _house_lot(canvas, frame, (u, u + lot_w), front, back, sign, lot_lawn, roofs, rng, sun)
            u += lot_w


def _house_lot(canvas, frame, span, front, back, sign, lawn, roofs, rng, sun) -> None:
    lot_u0, lot_u1 = span
    lot_depth = abs(back - front)
    canvas.surface([frame.rect(lot_u0, min(front, back), lot_u1, max(front, back))], lawn)
    if rng.random() < 0.08:  # empty lot: just lawn and trees
        _lot_trees(canvas, frame, span, front, back, rng, 4)
        return
    width = min(m(rng.uniform(9, 21)), lot_u1 - lot_u0 - m(3))
    house_depth = min(m(rng.uniform(8, 15)), lot_depth * 0.55)
    if width < m(6) or house_depth < m(6):
        return
    setback = m(rng.uniform(4, 10))
    u_center = (lot_u0 + lot_u1) / 2 + rng.uniform(-1, 1) * ((lot_u1 - lot_u0) - width) / 2 * 0.5
    v_center = front + sign * (setback + house_depth / 2)
    center = frame.to_image(np.array([u_center, v_center]))
    shape = rng.choice(["rect", "L", "T", "U"], p=[0.55, 0.3, 0.1, 0.05])
    roof = rng.choice(["gabled", "hipped", "flat"], p=[0.45, 0.45, 0.1])
    building = Building(
        parts=footprint(center, frame.angle + _jitter(rng, 1.5), width, house_depth, shape, rng),
        roof=str(roof),
        colour=textures.pick(rng, roofs if rng.random() < 0.7 else textures.ROOF_PITCHED, 8),
        height_px=m(rng.uniform(3.5, 8.0)),
    )
    if not place(canvas, building, m(1.5)):
        return
    paving = textures.pick(rng, textures.CONCRETE, 10)
    drive_w = m(rng.uniform(3, 5.5))
    side = rng.choice([-1, 1])
    drive_u = u_center + side * (width / 2 - drive_w / 2)
    start = frame.to_image(np.array([drive_u, v_center - sign * house_depth / 2]))
    end = frame.to_image(np.array([drive_u, front - sign * m(2.5)]))
    driveway(canvas, start, end, drive_w, paving)
    house_back = v_center + sign * house_depth / 2
    if rng.random() < 0.25 and abs(back - house_back) > m(8):
        pool_v = (house_back + back) / 2
        pool_u = u_center + rng.uniform(-0.3, 0.3) * width
        size_u, size_v = m(rng.uniform(4, 10)), m(rng.uniform(3, 5))
        rim = frame.rect(
            pool_u - size_u / 2 - m(1),
            pool_v - size_v / 2 - m(1),
            pool_u + size_u / 2 + m(1),
            pool_v + size_v / 2 + m(1),
        )
        if canvas.is_free([rim]):
            canvas.surface([rim], textures.pick(rng, textures.CONCRETE, 8))
            water = frame.rect(
                pool_u - size_u / 2, pool_v - size_v / 2, pool_u + size_u / 2, pool_v + size_v / 2
            )
            canvas.surface([water], textures.pick(rng, textures.POOL, 8))
            canvas.occupy([rim])
    if rng.random() < 0.12 and abs(back - house_back) > m(8):
        shed_v = back - sign * m(3.5)
        shed_center = frame.to_image(np.array([rng.uniform(lot_u0 + m(3), lot_u1 - m(3)), shed_v]))
        shed = Building(
            parts=footprint(shed_center, frame.angle, m(rng.uniform(3, 5)), m(3), "rect", rng),
            roof=str(rng.choice(["flat", "gabled"])),
            colour=textures.pick(rng, textures.ROOF_PITCHED),
            height_px=m(2.5),
        )
        place(canvas, shed, m(1))
    if rng.random() < 0.2:
        edge = frame.to_image(np.array([[lot_u0, front + sign * setback], [lot_u0, back]]))
        canvas.hedges.append((edge, m(1.4)))
    _lot_trees(canvas, frame, span, front, back, rng, int(rng.integers(0, 4)))


def _lot_trees(canvas, frame, span, front, back, rng, count) -> None:
    for _ in range(count):
        uv = np.array([rng.uniform(*span), rng.uniform(min(front, back), max(front, back))])
        x, y = frame.to_image(uv)
        if canvas.inside(x, y) and not canvas.occupied[int(y), int(x)]:
            canvas.trees.append((x, y, m(rng.uniform(2.0, 5.5))))


def dense(canvas: Canvas, frame: Frame, box: Box, rng: np.random.Generator, sun: Sun) -> None:
    """Urban block split into parcels that are mostly covered by flat-roofed buildings."""
    u0, v0, u1, v1 = box
    canvas.surface([frame.rect(*box)], textures.pick(rng, textures.CONCRETE, 10))
    if v1 - v0 > m(50) and rng.random() < 0.5:  # service alley down the middle
        mid = (v0 + v1) / 2
        alley = m(rng.uniform(4, 6))
        canvas.surface(
            [frame.rect(u0, mid - alley / 2, u1, mid + alley / 2)],
            textures.pick(rng, textures.ASPHALT, 6),
        )
        boxes = [(u0, v0, u1, mid - alley / 2), (u0, mid + alley / 2, u1, v1)]
    else:
        boxes = [box]
    for sub in boxes:
        for parcel in _split(sub, rng, m(rng.uniform(18, 50))):
            _parcel(canvas, frame, parcel, rng, sun)


def _split(box: Box, rng, max_size: float) -> list[Box]:
    u0, v0, u1, v1 = box
    du, dv = u1 - u0, v1 - v0
    if max(du, dv) <= max_size:
        return [box]
    t = rng.uniform(0.3, 0.7)
    if du >= dv:
        cut = u0 + du * t
        return _split((u0, v0, cut, v1), rng, max_size) + _split((cut, v0, u1, v1), rng, max_size)
    cut = v0 + dv * t
    return _split((u0, v0, u1, cut), rng, max_size) + _split((u0, cut, u1, v1), rng, max_size)


def _parcel(canvas, frame, parcel: Box, rng, sun) -> None:
    u0, v0, u1, v1 = parcel
    if rng.random() < 0.05:
        if (u1 - u0) > m(15) and (v1 - v0) > m(15):
            parking_lot(canvas, frame, parcel, rng, sun)
        else:
            _lot_trees(canvas, frame, (u0, u1), v0, v1, rng, 2)
        return
    inset = m(rng.uniform(0.3, 2.0))
    length, depth = (u1 - u0) - 2 * inset, (v1 - v0) - 2 * inset
    if length < m(6) or depth < m(6):
        return
    center = frame.to_image(np.array([(u0 + u1) / 2, (v0 + v1) / 2]))
    shape = rng.choice(["rect", "L", "U", "T"], p=[0.82, 0.1, 0.05, 0.03])
    roof = "flat" if rng.random() < 0.88 else str(rng.choice(["gabled", "hipped"]))
    building = Building(
        parts=footprint(center, frame.angle, length, depth, shape, rng),
        roof=roof,
        colour=textures.pick(rng, textures.ROOF_FLAT if roof == "flat" else textures.ROOF_PITCHED),
        height_px=m(rng.uniform(6, 40) if rng.random() < 0.8 else rng.uniform(40, 90)),
    )
    place(canvas, building, m(0.3))


def perimeter(canvas: Canvas, frame: Frame, box: Box, rng: np.random.Generator, sun: Sun) -> None:
    """European perimeter block: a ring of terraced buildings around a green courtyard."""
    u0, v0, u1, v1 = box
    canvas.surface([frame.rect(*box)], textures.pick(rng, textures.GRASS, 10))
    depth = m(rng.uniform(11, 17))
    if (u1 - u0) < 3 * depth or (v1 - v0) < 3 * depth:
        dense(canvas, frame, box, rng, sun)
        return
    strips = [
        (u0, v0, u1, v0 + depth),
        (u0, v1 - depth, u1, v1),
        (u0, v0 + depth, u0 + depth, v1 - depth),
        (u1 - depth, v0 + depth, u1, v1 - depth),
    ]
    for strip in strips:
        for seg in _split(strip, rng, m(rng.uniform(15, 40))):
            su0, sv0, su1, sv1 = seg
            center = frame.to_image(np.array([(su0 + su1) / 2, (sv0 + sv1) / 2]))
            roof = str(rng.choice(["gabled", "flat", "hipped"], p=[0.5, 0.35, 0.15]))
            palette = textures.ROOF_FLAT if roof == "flat" else textures.ROOF_PITCHED
            building = Building(
                parts=footprint(center, frame.angle, su1 - su0 - 2, sv1 - sv0 - 2, "rect", rng),
                roof=roof,
                colour=textures.pick(rng, palette),
                height_px=m(rng.uniform(12, 25)),
            )
            place(canvas, building, 0.5)
    _lot_trees(canvas, frame, (u0 + depth, u1 - depth), v0 + depth, v1 - depth, rng, 8)


def commercial(canvas: Canvas, frame: Frame, box: Box, rng: np.random.Generator, sun: Sun) -> None:
    """A big flat-roofed box (shop, warehouse, school) beside its parking lot."""
    u0, v0, u1, v1 = box
    share = rng.uniform(0.35, 0.65)
    split = u0 + (u1 - u0) * share
    building_box, lot_box = ((u0, v0, split, v1), (split + m(2), v0, u1, v1))
    if rng.random() < 0.5:
        building_box, lot_box = (
            (u1 - (split - u0), v0, u1, v1),
            (u0, v0, u1 - (split - u0) - m(2), v1),
        )
    canvas.surface([frame.rect(*box)], textures.pick(rng, textures.CONCRETE, 10))
    bu0, bv0, bu1, bv1 = building_box
    inset = m(rng.uniform(2, 6))
    center = frame.to_image(np.array([(bu0 + bu1) / 2, (bv0 + bv1) / 2]))
    building = Building(
        parts=footprint(
            center,
            frame.angle,
            bu1 - bu0 - 2 * inset,
            bv1 - bv0 - 2 * inset,
            str(rng.choice(["rect", "L"], p=[0.8, 0.2])),
            rng,
        ),
        roof="flat",
        colour=textures.pick(rng, textures.ROOF_FLAT),
        height_px=m(rng.uniform(5, 14)),
    )
    place(canvas, building, m(1))
    if lot_box[2] - lot_box[0] > m(12):
        parking_lot(canvas, frame, lot_box, rng, sun)


def parking(canvas: Canvas, frame: Frame, box: Box, rng: np.random.Generator, sun: Sun) -> None:
    parking_lot(canvas, frame, box, rng, sun)


def park(canvas: Canvas, frame: Frame, box: Box, rng: np.random.Generator, sun: Sun) -> None:
    """Lawn with scattered trees and a footpath."""
    u0, v0, u1, v1 = box
    canvas.surface([frame.rect(*box)], textures.pick(rng, textures.GRASS, 10))
    path = frame.to_image(np.array([[u0, rng.uniform(v0, v1)], [u1, rng.uniform(v0, v1)]]))
    fill_colour = tuple(textures.pick(rng, textures.CONCRETE).tolist())
    polyline(canvas.albedo, path, fill_colour, m(2.5))
    area = (u1 - u0) * (v1 - v0)
    _lot_trees(canvas, frame, (u0, u1), v0, v1, rng, int(area / m(12) ** 2))


BLOCK_FILLERS = {
    "crescent": crescent,
    "houses": houses,
    "dense": dense,
    "perimeter": perimeter,
    "commercial": commercial,
    "parking": parking,
    "park": park,
}
