"""Atomic GeoTIFF writers for synthetic images and masks (tmp file in the folder, then rename)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.enums import Resampling

from isegsat.inference.atomic_file import atomic_path

from .streets import PIXEL_M


def north_up_transform(west: float, north: float, pixel_m: float = PIXEL_M) -> Affine:
    """Affine of a north-up grid whose top-left corner is (west, north) in map units (metres)."""
    return Affine(pixel_m, 0.0, west, 0.0, -pixel_m, north)


def write_rgb(
    path: Path,
    image: np.ndarray,
    crs: str,
    transform: Affine,
    overviews: tuple[int, ...] = (),
    block: int = 256,
) -> None:
    """Write (H, W, 3) uint8 RGB as a tiled JPEG-YCbCr GeoTIFF, with optional overviews."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 image, got {image.shape} {image.dtype}")
    creation = dict(compress="JPEG", photometric="YCBCR", jpeg_quality=92, interleave="pixel")
    bands = np.moveaxis(image, 2, 0)
    _write(path, bands, crs, transform, block, overviews, Resampling.average, creation)


def write_mask(
    path: Path,
    mask: np.ndarray,
    crs: str,
    transform: Affine,
    overviews: tuple[int, ...] = (),
    block: int = 256,
) -> None:
    """Write an (H, W) {0, 1} mask as a 1-band uint8 0/255 DEFLATE GeoTIFF."""
    if mask.ndim != 2:
        raise ValueError(f"expected an (H, W) mask, got shape {mask.shape}")
    data = (mask > 0).astype(np.uint8)[None] * np.uint8(255)
    creation = dict(compress="DEFLATE", predictor=2)
    _write(path, data, crs, transform, block, overviews, Resampling.nearest, creation)


def _write(
    path: Path,
    bands: np.ndarray,
    crs: str,
    transform: Affine,
    block: int,
    overviews: tuple[int, ...],
    resampling: Resampling,
    creation: dict,
) -> None:
    """Write (bands, H, W) uint8 as a tiled GeoTIFF with the ``creation`` options, atomically."""
    count, height, width = bands.shape
    profile = dict(
        driver="GTiff", height=height, width=width, count=count, dtype="uint8", crs=crs,
        transform=transform, tiled=True, blockxsize=block, blockysize=block, **creation,
    )  # fmt: skip
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        dst.write(bands)
        if overviews:
            dst.build_overviews(list(overviews), resampling)
            dst.update_tags(ns="rio_overview", resampling=resampling.name)
