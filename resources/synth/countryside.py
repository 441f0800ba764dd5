"""Rural content: crop fields, winding roads, farmsteads along them and forest."""

from __future__ import annotations

import numpy as np

from . import textures, vegetation
from .blocks import houses
from .buildings import Building, footprint, place
from .canvas import Canvas, Sun
from .geometry import Frame, polyline
from .streets import draw_road, driveway, m


def fields(canvas: Canvas, rng: np.random.Generator) -> None:
    """Cover the ground with a rotated patchwork of crop fields and meadows with row stripes."""
    height, width = canvas.shape
    frame = Frame((width / 2, height / 2), float(rng.uniform(0, np.pi)))
    reach = np.hypot(height, width) / 2 + m(50)
    u = -reach
    while u < reach:
        du = m(rng.uniform(60, 250))
        v = -reach
        while v < reach:
            dv = m(rng.uniform(40, 200))
            if rng.random() < 0.7:
                box = frame.rect(u, v, u + du, v + dv)
                colour = textures.pick(rng, textures.FIELD, 10)
                canvas.surface([box], colour)
                if rng.random() < 0.6:  # plough or crop rows
                    dark = tuple((colour * rng.uniform(0.82, 0.92)).tolist())
                    spacing = m(rng.uniform(1.5, 4))
                    along_u = rng.random() < 0.5
                    for t in np.arange(spacing / 2, (dv if along_u else du), spacing):
                        if along_u:
                            row = frame.to_image(np.array([[u, v + t], [u + du, v + t]]))
                        else:
                            row = frame.to_image(np.array([[u + t, v], [u + t, v + dv]]))
                        polyline(canvas.albedo, row, dark, 1)
            v += dv
        u += du


def winding_road(canvas: Canvas, rng: np.random.Generator) -> np.ndarray:
    """A random-walk polyline (N, 2) that enters the scene at one border and wanders across."""
    height, width = canvas.shape
    side = rng.integers(4)
    start = [
        (rng.uniform(0, width), -m(20)),
        (width + m(20), rng.uniform(0, height)),
        (rng.uniform(0, width), height + m(20)),
        (-m(20), rng.uniform(0, height)),
    ][side]
    toward_center = np.arctan2(height / 2 - start[1], width / 2 - start[0])
    heading = toward_center + rng.normal(0, 0.4)
    points = [np.array(start, float)]
    step = m(25)
    limit = int(3 * (height + width) / step)
    for _ in range(limit):
        heading += rng.normal(0, 0.12)
        nxt = points[-1] + step * np.array([np.cos(heading), np.sin(heading)])
        points.append(nxt)
        if not (-m(40) <= nxt[0] <= width + m(40) and -m(40) <= nxt[1] <= height + m(40)):
            break
    return np.array(points)


def farmsteads(
    canvas: Canvas, road: np.ndarray, road_width: float, rng: np.random.Generator, density: float
) -> None:
    """Houses and barns set back from ``road`` (N, 2), each with a gravel drive and trees."""
    for i in range(1, len(road) - 1):
        if rng.random() > density:
            continue
        tangent = road[i + 1] - road[i - 1]
        angle = float(np.arctan2(tangent[1], tangent[0]))
        normal = np.array([-np.sin(angle), np.cos(angle)]) * rng.choice([-1, 1])
        setback = road_width / 2 + m(rng.uniform(8, 35))
        length, depth = m(rng.uniform(10, 20)), m(rng.uniform(8, 13))
        center = road[i] + normal * (setback + depth / 2)
        if not canvas.inside(*center):
            continue
        roof = str(rng.choice(["gabled", "hipped", "flat"], p=[0.6, 0.3, 0.1]))
        house = Building(
            parts=footprint(
                center,
                angle + rng.normal(0, 0.05),
                length,
                depth,
                str(rng.choice(["rect", "L", "T"], p=[0.6, 0.3, 0.1])),
                rng,
            ),
            roof=roof,
            colour=textures.pick(rng, textures.ROOF_PITCHED),
            height_px=m(rng.uniform(4, 9)),
        )
        if not place(canvas, house, m(3)):
            continue
        gravel = textures.pick(rng, textures.SOIL if rng.random() < 0.5 else textures.CONCRETE)
        driveway(canvas, road[i] + normal * road_width * 0.3, center, m(rng.uniform(3, 5)), gravel)
        if rng.random() < 0.5:  # barn or shed beside the house
            along = np.array([np.cos(angle), np.sin(angle)]) * rng.choice([-1, 1])
            barn_len, barn_dep = m(rng.uniform(12, 35)), m(rng.uniform(8, 18))
            barn_center = center + along * (length / 2 + barn_len / 2 + m(rng.uniform(5, 15)))
            barn_center = barn_center + normal * m(rng.uniform(0, 15))
            barn = Building(
                parts=footprint(
                    barn_center, angle + rng.normal(0, 0.05), barn_len, barn_dep, "rect", rng
                ),
                roof=str(rng.choice(["gabled", "flat"], p=[0.7, 0.3])),
                colour=textures.pick(rng, textures.ROOF_FLAT),
                height_px=m(rng.uniform(5, 10)),
            )
            place(canvas, barn, m(3))
        for _ in range(int(rng.integers(2, 8))):
            spot = center + rng.normal(0, m(15), 2)
            if canvas.inside(*spot) and not canvas.occupied[int(spot[1]), int(spot[0])]:
                canvas.trees.append((spot[0], spot[1], m(rng.uniform(2.5, 6))))


def forest_floor(canvas: Canvas, rng: np.random.Generator, cover: float) -> np.ndarray:
    """Paint dark forest floor where a coarse noise field exceeds the quantile for ``cover``
    (0..1) and return that region, (H, W) bool."""
    height, width = canvas.shape
    field = textures.value_noise(rng, (height, width), m(250), octaves=3)
    threshold = np.quantile(field[::16, ::16], 1.0 - cover)
    region = field > threshold
    floor = textures.pick(rng, textures.TREE, 4) * rng.uniform(0.8, 1.1)
    canvas.albedo[region] = np.clip(floor, 0, 255).astype(np.uint8)
    return region


def hamlet(
    canvas: Canvas, road: np.ndarray, road_width: float, rng: np.random.Generator, sun: Sun
) -> None:
    """A short side street leaving ``road`` (N, 2) at a random vertex, lined with houses."""
    i = int(rng.integers(1, len(road) - 1))
    tangent = road[i + 1] - road[i - 1]
    angle = float(np.arctan2(tangent[1], tangent[0])) + np.pi / 2 * rng.choice([-1, 1])
    frame = Frame((float(road[i][0]), float(road[i][1])), angle)
    length = m(rng.uniform(120, 320))
    street = m(rng.uniform(4.5, 6.5))
    draw_road(canvas, frame.to_image(np.array([[0.0, 0.0], [length, 0.0]])), street, rng,
              paint=False)  # fmt: skip
    start, edge = road_width / 2 + m(4), street / 2 + m(1.5)
    depth = m(rng.uniform(28, 42))
    houses(canvas, frame, (start, edge, length, edge + depth), rng, sun)
    flipped = Frame(frame.center, angle + np.pi)
    houses(canvas, flipped, (-length, edge, -start, edge + depth), rng, sun)


def rural(canvas: Canvas, sun: Sun, rng: np.random.Generator) -> None:
    """Fields and forest floor, winding roads (about 3 per 600 m of extent) with farmsteads,
    then dense trees over the forest region."""
    fields(canvas, rng)
    woods = forest_floor(canvas, rng, cover=rng.uniform(0.15, 0.5))
    height, width = canvas.shape
    extent = (height + width) / 2
    roads = []
    for _ in range(int(rng.integers(2, 5) * max(extent / m(600), 1.0))):
        road = winding_road(canvas, rng)
        road_width = m(rng.uniform(4.5, 7.5))
        draw_road(canvas, road, road_width, rng, paint=rng.random() < 0.5)
        roads.append((road, road_width))
    area_km2 = height * width * (m(1) ** -2) / 1e6
    for _ in range(rng.poisson(1.2 * area_km2)):
        road, road_width = roads[rng.integers(len(roads))]
        hamlet(canvas, road, road_width, rng, sun)
    for road, road_width in roads:
        farmsteads(canvas, road, road_width, rng, density=rng.uniform(0.25, 0.6))
    count = int(woods.mean() * height * width / (m(3.5) ** 2))
    vegetation.scatter_trees(canvas, woods, count, (m(2.5), m(6)), rng)
