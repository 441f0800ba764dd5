"""Atomic GeoTIFF writers for synthetic images and masks (tmp file in the folder, then rename)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.enums import Resampling

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
    profile = dict(
        driver="GTiff",
        height=image.shape[0],
        width=image.shape[1],
        count=3,
        dtype="uint8",
        crs=crs,
        transform=transform,
        tiled=True,
        blockxsize=block,
        blockysize=block,
        compress="JPEG",
        photometric="YCBCR",
        jpeg_quality=92,
        interleave="pixel",
    )
    _write(path, np.moveaxis(image, 2, 0), profile, overviews, Resampling.average)


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
    profile = dict(
        driver="GTiff",
        height=mask.shape[0],
        width=mask.shape[1],
        count=1,
        dtype="uint8",
        crs=crs,
        transform=transform,
        tiled=True,
        blockxsize=block,
        blockysize=block,
        compress="DEFLATE",
        predictor=2,
    )
    data = (mask > 0).astype(np.uint8)[None] * np.uint8(255)
    _write(path, data, profile, overviews, Resampling.nearest)


def _write(path: Path, bands: np.ndarray, profile: dict, overviews, resampling) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # not *.tif: globbers skip it
    try:
        with rasterio.open(tmp, "w", **profile) as dst:
            dst.write(bands)
            if overviews:
                dst.build_overviews(list(overviews), resampling)
                dst.update_tags(ns="rio_overview", resampling=resampling.name)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
