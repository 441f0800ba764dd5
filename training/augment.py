"""RITM's training augmentation for an image + mask pair (OpenCV/numpy, aligned geometry).

Order (RITM ``hrnet18_cocolvis_itermask_3p``): uniform random resize by 0.75-1.40, horizontal flip
(p 0.5), zero padding up to the crop size, random crop, brightness/contrast (p 0.75; brightness
±0.25 of 255, contrast -0.15..+0.40) and an RGB shift of ±10 per channel (p 0.75).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np


def augment(
    image: np.ndarray,
    mask: np.ndarray,
    crop_size: Sequence[int],
    rng: np.random.Generator,
    scale_range: Sequence[float] = (0.75, 1.40),
) -> tuple[np.ndarray, np.ndarray]:
    """A random training view of ``image`` (HxWx3 uint8 RGB) and ``mask`` (HxW uint8).

    Returns (crop_h x crop_w x 3 uint8, crop_h x crop_w uint8); the mask is resized with nearest
    neighbour on the same pixel-centre grid as the bilinear image resize (cv2 NEAREST_EXACT), so
    its values stay in the input's set and it stays aligned; padding is 0 in both.
    """
    image, mask = random_resize(image, mask, rng, scale_range)
    if rng.random() < 0.5:
        image, mask = image[:, ::-1], mask[:, ::-1]
    image, mask = random_crop(image, mask, crop_size, rng)
    return color_jitter(image, rng), np.ascontiguousarray(mask)


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
