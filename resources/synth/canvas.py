"""The mutable drawing surface a scene is composed on, plus the sun that lights it.

Arrays (all in image pixel coordinates, row = y, column = x):

- ``albedo`` (H, W, 3) uint8 RGB surface colour before lighting;
- ``shade`` (H, W) float32 multiplicative lighting (1 = flat ground in sun);
- ``shadow`` (H, W) uint8 {0, 1}: ground covered by cast building shadows;
- ``mask`` (H, W) uint8 {0, 1}: building footprints (the ground truth);
- ``occupied`` (H, W) uint8 {0, 1}: planning grid of roads, buildings and their clearances.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .geometry import fill


@dataclass(frozen=True)
class Sun:
    """Sun for one scene.

    ``direction`` is the unit (x, y) image vector along which shadows fall; ``shadow_per_px`` the
    shadow length per pixel of object height (1 / tan(elevation)); ``elevation`` in radians.
    """

    direction: np.ndarray
    elevation: float
    shadow_strength: float  # shade factor inside a cast shadow, e.g. 0.5

    @property
    def shadow_per_px(self) -> float:
        return float(1.0 / np.tan(self.elevation))

    def offset(self, height_px: float) -> np.ndarray:
        """Shadow displacement (x, y) in pixels of an object ``height_px`` pixels tall."""
        return self.direction * height_px * self.shadow_per_px

    def facet_shade(self, downslope: np.ndarray, pitch: float) -> float:
        """Brightness of a roof facet relative to flat ground (Lambert + ambient).

        ``downslope`` is the facet's horizontal unit normal (x, y); ``pitch`` its slope in radians.
        """
        towards_sun = -self.direction
        ambient = 0.45
        lit = np.sin(pitch) * np.cos(self.elevation) * float(np.dot(downslope, towards_sun))
        lit += np.cos(pitch) * np.sin(self.elevation)
        return float((ambient + max(lit, 0.0)) / (ambient + np.sin(self.elevation)))


@dataclass
class Canvas:
    """Layers of one scene under construction; see the module docstring for the arrays."""

    albedo: np.ndarray
    shade: np.ndarray
    shadow: np.ndarray
    mask: np.ndarray
    occupied: np.ndarray
    buildings: list = field(default_factory=list)
    trees: list = field(default_factory=list)  # (x, y, radius_px)
    hedges: list = field(default_factory=list)  # ((N, 2) polyline, thickness_px)

    @classmethod
    def empty(cls, height: int, width: int) -> Canvas:
        return cls(
            albedo=np.zeros((height, width, 3), np.uint8),
            shade=np.ones((height, width), np.float32),
            shadow=np.zeros((height, width), np.uint8),
            mask=np.zeros((height, width), np.uint8),
            occupied=np.zeros((height, width), np.uint8),
        )

    @property
    def shape(self) -> tuple[int, int]:
        return self.mask.shape

    def surface(self, polygons: list[np.ndarray], colour: np.ndarray) -> None:
        """Paint ground-level polygons (roads, lawns, lots) with an RGB colour."""
        fill(self.albedo, polygons, tuple(float(c) for c in colour))

    def is_free(self, polygons: list[np.ndarray]) -> bool:
        """True when none of ``polygons`` touches an occupied pixel (checked in a local window)."""
        points = np.concatenate(polygons)
        height, width = self.shape
        x0, y0 = np.floor(points.min(axis=0)).astype(int) - 1
        x1, y1 = np.ceil(points.max(axis=0)).astype(int) + 2
        if x1 <= 0 or y1 <= 0 or x0 >= width or y0 >= height:
            return False
        x0, y0 = max(x0, 0), max(y0, 0)
        x1, y1 = min(x1, width), min(y1, height)
        window = self.occupied[y0:y1, x0:x1]
        if not window.any():
            return True
        probe = np.zeros_like(window)
        fill(probe, [p - (x0, y0) for p in polygons], 1)
        return not bool((probe & window).any())

    def occupy(self, polygons: list[np.ndarray]) -> None:
        fill(self.occupied, polygons, 1)

    def inside(self, x: float, y: float) -> bool:
        height, width = self.shape
        return 0 <= x < width and 0 <= y < height


def darken(shade: np.ndarray, where: np.ndarray, factor: float) -> None:
    """Multiply ``shade`` (H, W float32) by ``factor`` where ``where`` (H, W uint8/bool) is set."""
    scaled = cv2.addWeighted(shade, float(factor), shade, 0.0, 0.0)
    np.copyto(shade, scaled, where=where.view(bool) if where.dtype == np.uint8 else where)
