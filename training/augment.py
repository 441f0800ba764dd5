"""Training augmentation for an image + mask pair (OpenCV/numpy, aligned geometry).

``"ritm"`` (RITM ``hrnet18_cocolvis_itermask_3p``): uniform random resize by 0.75-1.40, horizontal
flip (p 0.5), zero padding up to the crop size, random crop, brightness/contrast (p 0.75;
brightness ±0.25 of 255, contrast -0.15..+0.40) and an RGB shift of ±10 per channel (p 0.75).

``"sensor"`` bridges sensors and places for overhead imagery: the same resize (pass a wider
``scale_range``, e.g. 0.5-2), any of the 8 rotations/flips of the square (a roof has no "up"),
random crop, then ``sensor_jitter``: brightness/contrast, gamma, hue and saturation, RGB shift,
blur or sharpening, sensor noise, JPEG artefacts, haze and grey (panchromatic) images, each with
its own probability. Photometric changes never touch the mask.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

AUGMENTATIONS = ("ritm", "sensor")


def augment(
    image: np.ndarray,
    mask: np.ndarray,
    crop_size: Sequence[int],
    rng: np.random.Generator,
    scale_range: Sequence[float] = (0.75, 1.40),
    kind: str = "ritm",
) -> tuple[np.ndarray, np.ndarray]:
    """A random training view of ``image`` (HxWx3 uint8 RGB) and ``mask`` (HxW uint8).

    Returns (crop_h x crop_w x 3 uint8, crop_h x crop_w uint8); the mask is resized with nearest
    neighbour on the same pixel-centre grid as the bilinear image resize (cv2 NEAREST_EXACT), so
    its values stay in the input's set and it stays aligned; padding is 0 in both. ``kind`` is
    one of ``AUGMENTATIONS`` (see the module docstring).
    """
    if kind not in AUGMENTATIONS:
        raise ValueError(f"augmentation must be one of {', '.join(AUGMENTATIONS)}, got {kind!r}")
    image, mask = random_resize(image, mask, rng, scale_range)
    image, mask = random_orientation(image, mask, rng, kind)
    image, mask = random_crop(image, mask, crop_size, rng)
    return photometric_jitter(np.ascontiguousarray(image), rng, kind), np.ascontiguousarray(mask)


def random_orientation(
    image: np.ndarray, mask: np.ndarray, rng: np.random.Generator, kind: str
) -> tuple[np.ndarray, np.ndarray]:
    """The geometric part of ``kind`` after the resize: any of the 8 rotations/flips
    (``"sensor"``) or a horizontal flip with probability 0.5 (``"ritm"``); views, not copies."""
    if kind == "sensor":
        return random_dihedral(image, mask, rng)
    if rng.random() < 0.5:
        return image[:, ::-1], mask[:, ::-1]
    return image, mask


def photometric_jitter(image: np.ndarray, rng: np.random.Generator, kind: str) -> np.ndarray:
    """The photometric part of ``kind``: ``sensor_jitter`` or ``color_jitter`` (HxWx3 uint8)."""
    return sensor_jitter(image, rng) if kind == "sensor" else color_jitter(image, rng)


def random_dihedral(
    image: np.ndarray, mask: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """One of the 8 rotations by 90° and reflections of the square, the same for both."""
    turns = int(rng.integers(4))
    image, mask = np.rot90(image, turns), np.rot90(mask, turns)
    if rng.random() < 0.5:
        image, mask = image[:, ::-1], mask[:, ::-1]
    return image, mask


def random_resize(
    image: np.ndarray, mask: np.ndarray, rng: np.random.Generator, scale_range: Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    scale = rng.uniform(*scale_range)
    height, width = mask.shape
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return (
        cv2.resize(image, size, interpolation=cv2.INTER_LINEAR),
        cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST_EXACT),
    )


def random_crop(
    image: np.ndarray, mask: np.ndarray, crop_size: Sequence[int], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Zero-pad to at least ``crop_size`` (centred, like RITM's PadIfNeeded), then crop randomly."""
    crop_h, crop_w = crop_size
    height, width = mask.shape
    pad_h, pad_w = max(0, crop_h - height), max(0, crop_w - width)
    if pad_h or pad_w:
        pads = ((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2))
        image = np.pad(image, (*pads, (0, 0)))
        mask = np.pad(mask, pads)
        height, width = mask.shape
    top = int(rng.integers(0, height - crop_h + 1))
    left = int(rng.integers(0, width - crop_w + 1))
    return image[top : top + crop_h, left : left + crop_w], mask[
        top : top + crop_h, left : left + crop_w
    ]


def color_jitter(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Brightness/contrast then RGB shift, each with probability 0.75; uint8 in, uint8 out."""
    out = image.astype(np.float32)
    if rng.random() < 0.75:
        contrast = 1.0 + rng.uniform(-0.15, 0.40)
        brightness = rng.uniform(-0.25, 0.25) * 255.0
        out = out * contrast + brightness
    if rng.random() < 0.75:
        out = out + rng.uniform(-10.0, 10.0, size=3).astype(np.float32)
    return np.clip(out, 0, 255).astype(np.uint8)


def sensor_jitter(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Photometric changes between sensors, places and seasons; HxWx3 uint8 in and out.

    In order, each with its own probability: brightness/contrast and RGB shift (RITM's, 0.75
    each), gamma 0.6-1.6 (0.3), hue shift ±12° and saturation x0.6-1.4 (0.3), Gaussian blur
    sigma 0.4-1.4 or unsharp masking (0.25), Gaussian noise sigma 2-8 (0.2), haze: a blend
    towards light grey by 0.1-0.35 (0.1), grey (0.1) and JPEG re-encoding at quality 30-90 (0.2).
    """
    out = color_jitter(image, rng).astype(np.float32)
    if rng.random() < 0.3:
        gamma = float(np.exp(rng.uniform(np.log(0.6), np.log(1.6))))
        out = 255.0 * (out / 255.0) ** gamma
    if rng.random() < 0.3:
        hsv = cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_RGB2HSV)
        hsv = hsv.astype(np.float32)
        hsv[..., 0] = (hsv[..., 0] + rng.uniform(-6.0, 6.0)) % 180.0  # OpenCV hue is 0-179
        hsv[..., 1] *= rng.uniform(0.6, 1.4)
        hsv = np.clip(hsv, 0, [179, 255, 255]).astype(np.uint8)
        out = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB).astype(np.float32)
    if rng.random() < 0.25:
        sigma = rng.uniform(0.4, 1.4)
        blurred = cv2.GaussianBlur(out, (0, 0), sigma)
        out = blurred if rng.random() < 0.6 else out + rng.uniform(0.5, 1.5) * (out - blurred)
    if rng.random() < 0.2:
        out = out + rng.normal(0.0, rng.uniform(2.0, 8.0), size=out.shape).astype(np.float32)
    if rng.random() < 0.1:
        strength = rng.uniform(0.1, 0.35)
        out = (1.0 - strength) * out + strength * rng.uniform(180.0, 230.0)
    out = np.clip(out, 0, 255).astype(np.uint8)
    if rng.random() < 0.1:
        out = np.repeat(cv2.cvtColor(out, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    if rng.random() < 0.2:
        quality = int(rng.integers(30, 91))
        _, encoded = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, quality])
        out = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED).reshape(out.shape)
    return out
