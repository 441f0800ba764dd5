"""Camera and sensor effects: lighting, colour cast, sensor noise, blur and JPEG artefacts."""

from __future__ import annotations

import cv2
import numpy as np


def expose(albedo: np.ndarray, shade: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Light ``albedo`` (H, W, 3 uint8) by ``shade`` (H, W float32) under a random per-scene colour
    cast, brightness, contrast and haze; returns (H, W, 3) uint8 RGB."""
    gain = rng.uniform(0.85, 1.15) * (1.0 + rng.normal(0.0, 0.03, 3))
    contrast = rng.uniform(0.8, 1.2)
    haze = rng.uniform(0.0, 25.0) * (1.0 + rng.normal(0.0, 0.1, 3))
    shadow_tint = np.array([1.12, 1.0, 0.85])  # blue sky light fills shadows
    noise_sigma = rng.uniform(3.0, 7.0)
    height, width = shade.shape
    out = np.empty(albedo.shape, np.uint8)
    for channel in range(3):
        lit = albedo[..., channel].astype(np.float32)
        lit *= shade ** shadow_tint[channel] if channel != 1 else shade
        lit -= 110.0
        lit *= contrast * gain[channel]
        lit += 110.0 * gain[channel] + haze[channel]
        lit += _noise(rng, height, width, noise_sigma)
        np.clip(lit, 0, 255, out=lit)
        out[..., channel] = lit
    return out


def _noise(rng: np.random.Generator, height: int, width: int, sigma: float) -> np.ndarray:
    """(H, W) float32 Gaussian sensor noise, tiled from a 509² patch (a prime period)."""
    tile = rng.normal(0.0, sigma, (509, 509)).astype(np.float32)
    reps = (height // 509 + 1, width // 509 + 1)
    return np.tile(tile, reps)[:height, :width]


def degrade(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mild optical blur and a JPEG round trip (quality 70–95) of an (H, W, 3) uint8 RGB image."""
    blurred = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.5, 1.0))
    quality = int(rng.integers(70, 96))
    ok, encoded = cv2.imencode(".jpg", blurred[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding of the synthetic scene failed")
    return np.ascontiguousarray(cv2.imdecode(encoded, cv2.IMREAD_COLOR)[..., ::-1])
