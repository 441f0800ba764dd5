"""A small 2×2 preview mosaic of generated scenes (the README picture)."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from .scene import generate_scene

# (style, seed, draw the mask outline) for the four 384² panels, row by row.
PANELS = (
    ("urban", 11, False),
    ("suburban", 12, False),
    ("rural", 14, False),
    ("suburban", 15, True),
)


def preview_mosaic(panel: int = 384) -> np.ndarray:
    """(2·panel, 2·panel, 3) uint8 RGB: urban, suburban / rural, suburban with the mask outlined
    in magenta."""
    tiles = []
    for style, seed, outline in PANELS:
        scene = generate_scene(panel, panel, seed, style)
        image = scene.image.copy()
        if outline:
            edge = cv2.morphologyEx(scene.mask, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
            image[edge.astype(bool)] = (255, 0, 255)
        tiles.append(image)
    return np.vstack([np.hstack(tiles[:2]), np.hstack(tiles[2:])])


def write_preview(path: str | os.PathLike, panel: int = 384) -> Path:
    """Write the mosaic as a 256-colour PNG (≈ 240 KB at the default size)."""
    path = Path(path)
    image = Image.fromarray(preview_mosaic(panel))
    image.quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(
        path, optimize=True
    )
    return path
