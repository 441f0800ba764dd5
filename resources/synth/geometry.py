"""Planar geometry helpers: oriented rectangles, the scene frame and OpenCV polygon drawing.

Points are float arrays ``(N, 2)`` holding ``(x, y)`` image pixel coordinates (x to the right,
y downwards), the order OpenCV drawing functions expect. Polygons are drawn with 4 bits of
sub-pixel precision and ``LINE_8`` so that image and mask use exactly the same pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

_SHIFT = 4
_ONE = 1 << _SHIFT


def to_cv(points: np.ndarray) -> np.ndarray:
    """(N, 2) float (x, y) → (N, 2) int32 fixed-point points for OpenCV's ``shift=4``."""
    return np.round(np.asarray(points, np.float64) * _ONE).astype(np.int32)


def fill(image: np.ndarray, polygons: list[np.ndarray], value) -> None:
    """Fill polygons (each (N, 2) float x, y) into ``image`` in place with ``value``.

    Each polygon is drawn on its own: one ``cv2.fillPoly`` call with several overlapping
    polygons would leave their overlaps unfilled (even-odd rule).
    """
    for polygon in polygons:
        cv2.fillPoly(image, [to_cv(polygon)], value, cv2.LINE_8, _SHIFT)


def polyline(image: np.ndarray, points: np.ndarray, value, thickness: float, closed=False) -> None:
    """Draw a (N, 2) float polyline of ``thickness`` pixels into ``image`` in place."""
    cv2.polylines(
        image, [to_cv(points)], closed, value, max(int(round(thickness)), 1), cv2.LINE_8, _SHIFT
    )


def rectangle(center, length: float, width: float, angle: float) -> np.ndarray:
    """Corners (4, 2): ``length`` px along direction ``angle`` (radians), ``width`` px across."""
    c, s = np.cos(angle), np.sin(angle)
    along = np.array([c, s]) * (length / 2.0)
    across = np.array([-s, c]) * (width / 2.0)
    center = np.asarray(center, np.float64)
    return np.array(
        [
            center - along - across,
            center + along - across,
            center + along + across,
            center - along + across,
        ]
    )


def sweep(polygon: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Convex hull of a convex polygon and its copy moved by ``offset`` (x, y): its cast shadow."""
    points = np.concatenate([polygon, polygon + offset]).astype(np.float32)
    return cv2.convexHull(points)[:, 0, :].astype(np.float64)


@dataclass(frozen=True)
class Frame:
    """A rotated street-grid frame: local (u, v) metres-free pixel coordinates → image (x, y).

    ``u`` runs along ``angle`` (radians from the image x axis), ``v`` across it; the local origin
    sits at ``center`` (x, y) in the image.
    """

    center: tuple[float, float]
    angle: float

    def to_image(self, uv: np.ndarray) -> np.ndarray:
        """(N, 2) local (u, v) → (N, 2) image (x, y)."""
        uv = np.asarray(uv, np.float64)
        c, s = np.cos(self.angle), np.sin(self.angle)
        x = self.center[0] + uv[..., 0] * c - uv[..., 1] * s
        y = self.center[1] + uv[..., 0] * s + uv[..., 1] * c
        return np.stack([x, y], axis=-1)

    def rect(self, u0: float, v0: float, u1: float, v1: float) -> np.ndarray:
        """Image corners (4, 2) of the local axis-aligned rectangle [u0, u1] × [v0, v1]."""
        return self.to_image(np.array([[u0, v0], [u1, v0], [u1, v1], [u0, v1]], np.float64))
