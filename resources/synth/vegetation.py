"""Tree canopies and hedges: blobby dark-green crowns, sun-side highlights and cast shadows.

Trees are collected on the canvas as (x, y, radius) in pixels and hedges as polylines; ``render``
draws them last so crowns can overhang roofs, roads and lawns (the building mask is unaffected).
"""

from __future__ import annotations

import cv2
import numpy as np

from . import textures
from .canvas import Canvas, Sun, darken
from .geometry import to_cv


def scatter_trees(
    canvas: Canvas,
    region: np.ndarray,
    count: int,
    radius_range: tuple[float, float],
    rng: np.random.Generator,
) -> None:
    """Add up to ``count`` trees at random pixels where ``region`` (H, W bool) holds and no
    building or road lies under the crown's centre or its four half-radius points."""
    height, width = canvas.shape
    ys = rng.integers(0, height, count)
    xs = rng.integers(0, width, count)
    radii = rng.uniform(*radius_range, count)
    keep = region[ys, xs]
    for dx, dy in ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)):
        px = np.clip(xs + dx * radii * 0.6, 0, width - 1).astype(int)
        py = np.clip(ys + dy * radii * 0.6, 0, height - 1).astype(int)
        keep &= canvas.occupied[py, px] == 0
    canvas.trees.extend(zip(xs[keep], ys[keep], radii[keep], strict=True))


def render(canvas: Canvas, sun: Sun, rng: np.random.Generator, tree_height_px: float) -> None:
    """Draw canopies and their shadows into ``canvas.albedo`` / ``canvas.shade`` (in place)."""
    if not canvas.trees and not canvas.hedges:
        return
    height, width = canvas.shape
    crown = np.zeros((height, width), np.float32)
    colour = np.zeros((height, width, 3), np.uint8)
    trees = np.array(canvas.trees, np.float64).reshape(-1, 3)
    tints = textures.TREE[rng.integers(len(textures.TREE), size=len(trees))]
    tints = np.clip(tints + rng.normal(0, 6, (len(trees), 3)), 0, 255)
    for level, scale in ((0.35, 1.0), (0.7, 0.66), (1.0, 0.33)):
        for (x, y, radius), tint in zip(trees, tints, strict=True):
            center = (int(round(x * 16)), int(round(y * 16)))
            cv2.circle(crown, center, int(radius * scale * 16), level, -1, cv2.LINE_8, 4)
            if scale == 1.0:
                cv2.circle(colour, center, int(radius * 16), tint.tolist(), -1, cv2.LINE_8, 4)
    for points, thickness in canvas.hedges:
        tint = textures.pick(rng, textures.TREE, 6).tolist()
        cv2.polylines(crown, [to_cv(points)], False, 0.8, int(thickness), cv2.LINE_8, 4)
        cv2.polylines(colour, [to_cv(points)], False, tint, int(thickness), cv2.LINE_8, 4)
    crown = cv2.GaussianBlur(crown, (0, 0), 2.5)
    leaves = textures.value_noise(rng, (height, width), 7.0, octaves=2)
    crown = cv2.multiply(crown, cv2.addWeighted(leaves, 0.45, leaves, 0.0, 1.0))
    canopy = (crown > 0.22).view(np.uint8)

    # A crown casts an elongated shadow displaced away from the sun.
    cast = np.zeros_like(canopy)
    for fraction in (0.55, 0.7, 0.85, 1.0):
        shift = np.round(sun.offset(tree_height_px * fraction)).astype(int)
        cv2.bitwise_or(cast, _translate(canopy, int(shift[0]), int(shift[1])), dst=cast)
    cast = cv2.subtract(cast, canopy)
    darken(canvas.shade, cast, sun.shadow_strength + 0.08)

    # Slopes facing the sun (gradient pointing away from the shadow direction) are lit.
    gx = cv2.Sobel(crown, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(crown, cv2.CV_32F, 0, 1, ksize=3)
    dx, dy = (float(v) for v in sun.direction)
    tree_shade = cv2.addWeighted(gx, -1.6 * dx, gy, -1.6 * dy, 0.8)
    tree_shade = cv2.scaleAdd(leaves, 0.25, tree_shade)
    np.clip(tree_shade, 0.35, 1.4, out=tree_shade)
    np.copyto(canvas.shade, tree_shade, where=canopy.view(bool))
    np.copyto(canvas.albedo, colour, where=canopy.view(bool)[..., None])


def _translate(mask: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """``mask`` moved by (dx, dy) pixels, zero-filled at the borders."""
    out = np.zeros_like(mask)
    height, width = mask.shape
    ys_src = slice(max(-dy, 0), height - max(dy, 0))
    xs_src = slice(max(-dx, 0), width - max(dx, 0))
    ys_dst = slice(max(dy, 0), height - max(-dy, 0))
    xs_dst = slice(max(dx, 0), width - max(-dx, 0))
    out[ys_dst, xs_dst] = mask[ys_src, xs_src]
    return out
