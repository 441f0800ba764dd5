"""Imperfect labels: seeded perturbations of a building mask, as Inria's labels err.

The study that relabels Inria names three kinds of label error: buildings missing from the label,
phantom buildings where there is none, and masks shifted from the roofs. ``perturb_label`` makes
all of them (plus erosion or dilation of the outlines) from a true mask, so that training can feed
an imperfect label as the previous mask (a click must fix what it points at and keep the rest) and
evaluation can start its "from an imperfect label" protocol from one.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class LabelNoise:
    """How strongly ``perturb_label`` damages a mask.

    ``drop_fraction``: (low, high) share of the buildings (8-connected components) removed;
    ``phantoms``: (low, high) number of phantom buildings added (rectangles of a kept building's
    size, or 12-40 px when none is kept); ``max_shift``: largest shift in pixels along y and x;
    ``morph_prob``: probability of one erosion or dilation of 1-2 px.
    """

    drop_fraction: tuple[float, float] = (0.1, 0.4)
    phantoms: tuple[int, int] = (0, 2)
    max_shift: int = 4
    morph_prob: float = 0.5


DEFAULT_NOISE = LabelNoise()


def perturb_label(
    mask: np.ndarray, rng: np.random.Generator, noise: LabelNoise = DEFAULT_NOISE
) -> np.ndarray:
    """A damaged copy of ``mask`` (HxW, nonzero = building): HxW uint8 {0, 1}.

    Buildings are dropped, phantoms added, the whole label shifted by up to ``max_shift`` px (the
    uncovered border is background) and, with ``morph_prob``, eroded or dilated. The result
    depends only on ``mask``, ``rng``'s state and ``noise``.
    """
    height, width = mask.shape
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        (mask > 0).astype(np.uint8), connectivity=8
    )
    buildings = np.arange(1, count)
    drop = rng.uniform(*noise.drop_fraction)
    n_drop = int(round(drop * len(buildings)))
    dropped = rng.choice(buildings, size=n_drop, replace=False) if n_drop else np.empty(0, int)
    kept = np.setdiff1d(buildings, dropped)
    out = np.isin(labels, kept).astype(np.uint8)
    sizes = stats[kept][:, [cv2.CC_STAT_WIDTH, cv2.CC_STAT_HEIGHT]] if len(kept) else None
    for _ in range(int(rng.integers(noise.phantoms[0], noise.phantoms[1] + 1))):
        if sizes is not None:
            w, h = sizes[int(rng.integers(len(sizes)))]
        else:
            w, h = rng.integers(12, 41, size=2)
        w, h = int(min(w, width)), int(min(h, height))
        x0 = int(rng.integers(0, width - w + 1))
        y0 = int(rng.integers(0, height - h + 1))
        out[y0 : y0 + h, x0 : x0 + w] = 1
    if noise.max_shift:
        dy, dx = (int(v) for v in rng.integers(-noise.max_shift, noise.max_shift + 1, size=2))
        out = shift(out, dy, dx)
    if rng.random() < noise.morph_prob:
        size = 2 * int(rng.integers(1, 3)) + 1
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
        operation = cv2.erode if rng.random() < 0.5 else cv2.dilate
        out = operation(out, kernel)
    return out


def shift(mask: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``mask`` moved by (dy, dx) pixels (down, right positive); uncovered pixels are 0."""
    out = np.zeros_like(mask)
    height, width = mask.shape
    src_y = slice(max(0, -dy), height - max(0, dy))
    src_x = slice(max(0, -dx), width - max(0, dx))
    dst_y = slice(max(0, dy), height - max(0, -dy))
    dst_x = slice(max(0, dx), width - max(0, -dx))
    out[dst_y, dst_x] = mask[src_y, src_x]
    return out
