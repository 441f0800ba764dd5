"""``generate_scene``: procedural 0.3 m/pixel aerial scenes with exact building masks.

Styles: ``"urban"`` (dense street grid, big flat roofs, perimeter blocks, parking, little green),
``"suburban"`` (detached houses with gabled/hipped roofs, lawns, driveways, pools, street trees),
``"rural"`` (fields, winding roads, farmsteads, forest).

Annotation convention (like Inria): the mask is the building footprint as seen from above;
roof parts hidden under overhanging tree crowns stay building; cast shadows are not building.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from . import buildings, countryside, sensor, textures, vegetation
from .blocks import BLOCK_FILLERS
from .canvas import Canvas, Sun, darken
from .geometry import Frame
from .streets import draw_road, m, road_cars

STYLES = ("urban", "suburban", "rural")


@dataclass(frozen=True)
class SyntheticScene:
    """One generated scene: ``image`` (H, W, 3) uint8 RGB, ``mask`` (H, W) uint8 {0, 1}.

    ``shadow_direction`` is the unit (x, y) image vector along which shadows fall.
    """

    image: np.ndarray
    mask: np.ndarray
    style: str
    shadow_direction: tuple[float, float] = (0.0, 0.0)


@dataclass(frozen=True)
class _GridStyle:
    block_u_m: tuple[float, float]
    block_v_m: tuple[float, float]
    road_m: tuple[float, float]
    sidewalk_m: tuple[float, float]
    blocks: dict[str, float]
    street_trees: float  # probability of a tree every ~12 m of kerb
    axis_aligned: bool
    cars_per_100m: float


_GRID_STYLES = {
    "urban": _GridStyle(
        block_u_m=(90, 200), block_v_m=(60, 120), road_m=(10, 17), sidewalk_m=(2, 4),
        blocks={"dense": 0.64, "perimeter": 0.16, "commercial": 0.1, "parking": 0.05, "park": 0.05},
        street_trees=0.25, axis_aligned=True, cars_per_100m=3.0,
    ),
    "suburban": _GridStyle(
        block_u_m=(110, 260), block_v_m=(55, 95), road_m=(7, 10.5), sidewalk_m=(0, 2),
        blocks={"houses": 0.7, "crescent": 0.18, "commercial": 0.06, "park": 0.04, "parking": 0.02},
        street_trees=0.35, axis_aligned=False, cars_per_100m=0.8,
    ),
}  # fmt: skip


def generate_scene(height: int, width: int, seed: int, style: str = "suburban") -> SyntheticScene:
    """Generate an (H, W) aerial scene at 0.3 m/pixel; deterministic for a given ``seed``.

    Returns a ``SyntheticScene`` whose ``mask`` marks building footprints (1) exactly on the
    pixels where the roofs were drawn.
    """
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; expected one of {STYLES}")
    if height < 16 or width < 16:
        raise ValueError(f"scene must be at least 16×16 pixels, got {height}×{width}")
    rng = np.random.default_rng(seed)
    canvas = Canvas.empty(height, width)
    sun = _random_sun(rng)
    _ground(canvas, rng, style)
    if style == "rural":
        countryside.rural(canvas, sun, rng)
    else:
        _street_grid(canvas, sun, rng, _GRID_STYLES[style])
    buildings.render_shadows(canvas, sun)
    darken(canvas.shade, canvas.shadow, sun.shadow_strength)
    buildings.render_roofs(canvas, sun, rng)
    vegetation.render(canvas, sun, rng, tree_height_px=m(rng.uniform(4, 9)))
    grain = textures.value_noise(rng, (height, width), 3.0, octaves=2)
    grime = textures.value_noise(rng, (height, width), m(8), octaves=3)
    detail = cv2.addWeighted(grain, 0.06, grime, 0.08, 1.0)
    canvas.shade = cv2.multiply(canvas.shade, detail)
    image = sensor.degrade(sensor.expose(canvas.albedo, canvas.shade, rng), rng)
    direction = (float(sun.direction[0]), float(sun.direction[1]))
    return SyntheticScene(image=image, mask=canvas.mask, style=style, shadow_direction=direction)


def _random_sun(rng: np.random.Generator) -> Sun:
    azimuth = rng.uniform(0, 2 * np.pi)
    return Sun(
        direction=np.array([np.cos(azimuth), np.sin(azimuth)]),
        elevation=float(np.deg2rad(rng.uniform(30, 65))),
        shadow_strength=float(rng.uniform(0.4, 0.6)),
    )


def _ground(canvas: Canvas, rng: np.random.Generator, style: str) -> None:
    height, width = canvas.shape
    palette_a, palette_b = (textures.GRASS, textures.SOIL)
    if style == "urban":
        palette_a, palette_b = textures.CONCRETE, textures.GRASS
    field = textures.value_noise(rng, (height, width), m(rng.uniform(20, 80)), octaves=4)
    canvas.albedo[:] = textures.blend_colours(
        field, textures.pick(rng, palette_a), textures.pick(rng, palette_b)
    )


def _street_grid(canvas: Canvas, sun: Sun, rng: np.random.Generator, style: _GridStyle) -> None:
    height, width = canvas.shape
    if style.axis_aligned:
        angle = float(rng.choice([0.0, np.pi / 2]) + np.deg2rad(rng.normal(0, 2)))
    else:
        angle = float(rng.uniform(0, np.pi))
    frame = Frame((width / 2, height / 2), angle)
    reach = np.hypot(height, width) / 2 + m(60)
    road_w = m(rng.uniform(*style.road_m))
    sidewalk = m(rng.uniform(*style.sidewalk_m))
    kerb = road_w / 2 + sidewalk + m(1.0)  # blocks start past the road's occupied clearance
    us = _positions(rng, reach, m(style.block_u_m[0]), m(style.block_u_m[1]))
    vs = _positions(rng, reach, m(style.block_v_m[0]), m(style.block_v_m[1]))
    lines = [np.array([[u, -reach], [u, reach]]) for u in us]
    lines += [np.array([[-reach, v], [reach, v]]) for v in vs]
    for line in lines:
        draw_road(canvas, frame.to_image(line), road_w, rng, sidewalk)
    for line in lines:
        road_cars(canvas, frame.to_image(line), road_w, rng, sun, style.cars_per_100m)
    kinds = list(style.blocks)
    # Each scene re-weights its block mix, so tiles of one style differ in character.
    weights = np.array([style.blocks[k] for k in kinds]) * rng.uniform(0.4, 1.6, len(kinds))
    for ua, ub in zip(us[:-1], us[1:], strict=True):
        for va, vb in zip(vs[:-1], vs[1:], strict=True):
            box = (ua + kerb, va + kerb, ub - kerb, vb - kerb)
            corners = frame.rect(*box)
            if (
                corners[:, 0].max() < 0
                or corners[:, 1].max() < 0
                or corners[:, 0].min() >= width
                or corners[:, 1].min() >= height
            ):
                continue
            kind = kinds[rng.choice(len(kinds), p=weights / weights.sum())]
            BLOCK_FILLERS[kind](canvas, frame, box, rng, sun)
            _street_trees(canvas, frame, box, rng, style.street_trees)


def _positions(rng: np.random.Generator, reach: float, low: float, high: float) -> np.ndarray:
    """Road centre-line positions from below -reach to above reach with random block sizes."""
    positions = [-reach - rng.uniform(0, high)]
    while positions[-1] < reach:
        positions.append(positions[-1] + rng.uniform(low, high))
    return np.array(positions)


def _street_trees(canvas, frame: Frame, box, rng, probability: float) -> None:
    u0, v0, u1, v1 = box
    spacing = m(12)
    for u in np.arange(u0 + spacing / 2, u1, spacing):
        for v in (v0 + m(1.5), v1 - m(1.5)):
            if rng.random() < probability:
                x, y = frame.to_image(np.array([u, v]))
                if canvas.inside(x, y) and not canvas.occupied[int(y), int(x)]:
                    canvas.trees.append((x, y, m(rng.uniform(2.5, 5))))
