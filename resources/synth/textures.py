"""Noise fields and colour palettes for synthetic aerial scenes.

All fields are float32 arrays of shape (H, W) in image pixel coordinates; colours are RGB triples
in 0..255. Randomness always comes from the caller's ``numpy.random.Generator``.
"""

from __future__ import annotations

import cv2
import numpy as np

# Palettes (RGB). Roofs deliberately share tones with asphalt, concrete and bare soil so that a
# model cannot separate buildings by colour alone.
ROOF_FLAT = np.array(
    [
        [150, 150, 148], [176, 174, 168], [205, 205, 200], [120, 118, 115], [92, 92, 95],
        [70, 72, 74], [160, 150, 135], [190, 185, 175], [135, 128, 118], [105, 100, 96],
    ],
    dtype=np.float32,
)  # fmt: skip
ROOF_PITCHED = np.array(
    [
        [110, 108, 106], [80, 78, 78], [140, 90, 70], [160, 105, 80], [120, 75, 60],
        [95, 85, 75], [150, 140, 125], [70, 75, 85], [130, 120, 110], [170, 160, 150],
        [100, 70, 55], [60, 62, 66],
    ],
    dtype=np.float32,
)  # fmt: skip
ASPHALT = np.array([[78, 78, 80], [95, 94, 94], [110, 108, 106], [66, 67, 70]], np.float32)
CONCRETE = np.array(
    [[170, 168, 160], [185, 182, 175], [155, 152, 146], [200, 196, 188]], np.float32
)
GRASS = np.array(
    [[92, 118, 62], [110, 130, 70], [80, 105, 58], [125, 135, 80], [140, 138, 95]], np.float32
)
SOIL = np.array([[150, 128, 100], [130, 112, 90], [170, 150, 120], [118, 100, 80]], np.float32)
FIELD = np.array(
    [
        [120, 140, 70], [190, 170, 110], [150, 130, 95], [100, 125, 60], [175, 165, 120],
        [140, 120, 85], [85, 110, 55],
    ],
    dtype=np.float32,
)  # fmt: skip
TREE = np.array([[48, 68, 38], [58, 78, 42], [40, 58, 36], [66, 82, 48], [52, 64, 40]], np.float32)
CAR = np.array(
    [
        [235, 235, 235], [30, 30, 32], [160, 162, 165], [120, 122, 128], [150, 30, 30],
        [30, 50, 110], [200, 200, 195], [60, 60, 62], [90, 20, 20], [210, 190, 150],
    ],
    dtype=np.float32,
)  # fmt: skip
POOL = np.array([[70, 170, 200], [90, 190, 210], [60, 150, 190]], np.float32)


def pick(rng: np.random.Generator, palette: np.ndarray, jitter: float = 12.0) -> np.ndarray:
    """One colour (3,) float32 from ``palette``, jittered (mostly in brightness), in 0..255."""
    colour = palette[rng.integers(len(palette))] + rng.normal(0.0, jitter * 0.35, 3)
    colour += rng.normal(0.0, jitter)  # brightness jitter shared by the channels
    return np.clip(colour, 0, 255).astype(np.float32)


def value_noise(
    rng: np.random.Generator,
    shape: tuple[int, int],
    scale: float,
    octaves: int = 3,
    persistence: float = 0.5,
) -> np.ndarray:
    """Multi-octave value noise, (H, W) float32 roughly in [-1, 1].

    ``scale`` is the feature size of the coarsest octave in pixels; each further octave halves it.
    Octaves are summed on the finest octave's lattice (small) and upsampled to full size once.
    """
    height, width = shape
    finest = max(scale / 2 ** (octaves - 1), 1.0)
    grid_h, grid_w = int(np.ceil(height / finest)) + 4, int(np.ceil(width / finest)) + 4
    total = np.zeros((grid_h, grid_w), np.float32)
    amplitude, norm = 1.0, 0.0
    for octave in range(octaves):
        factor = 2 ** (octaves - 1 - octave)
        coarse = rng.uniform(-1.0, 1.0, (grid_h // factor + 2, grid_w // factor + 2))
        up = cv2.resize(coarse.astype(np.float32), None, fx=factor, fy=factor,
                        interpolation=cv2.INTER_CUBIC)  # fmt: skip
        total += amplitude * up[:grid_h, :grid_w]
        norm += amplitude
        amplitude *= persistence
    total /= norm
    if finest <= 1.0:
        return np.ascontiguousarray(total[:height, :width])
    needed = total[: int(np.ceil(height / finest)) + 1, : int(np.ceil(width / finest)) + 1]
    return cv2.resize(needed, (width, height), interpolation=cv2.INTER_CUBIC)


def blend_colours(field: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 mix of two RGB colours by ``field`` (H, W) float in [-1, 1]."""
    level = cv2.convertScaleAbs(np.ascontiguousarray(field), alpha=127.5, beta=127.5)
    t = np.linspace(0.0, 1.0, 256)[:, None]
    table = np.clip(low + (high - low) * t, 0, 255).astype(np.uint8).reshape(256, 1, 3)
    return cv2.LUT(cv2.merge([level, level, level]), table)
