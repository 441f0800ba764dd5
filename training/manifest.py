"""The prepared-data contract: ``manifest.csv`` beside PNG crops.

``isegsat-prepare`` writes it; training (``dataset``, ``trainer``) and evaluation read it through
``read_manifest``. One row per crop; paths in the file are relative to its folder, the records
hold them absolute. Crops are RGB PNGs; masks are 0/255 PNGs (a pixel is a building when > 127).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from isegsat.inference.atomic_file import atomic_path

MANIFEST_NAME = "manifest.csv"
COLUMNS = (
    "crop_id",
    "city",
    "tile",
    "row",
    "col",
    "image",
    "mask",
    "building_fraction",
    "split",
)
"""Columns in file order. ``city`` is the Inria city, or a real set's name; ``split`` is train,
val or test."""
_READ_COLUMNS = ("crop_id", "city", "image", "mask", "building_fraction", "split")


class DataError(ValueError):
    """Prepared data that cannot be used: missing manifest, column or file, unknown split or
    city (the message says what and how to fix it)."""


@dataclass(frozen=True)
class CropRecord:
    """One prepared crop: ``image`` an RGB PNG and ``mask`` a 0/255 PNG (absolute paths).

    ``tile``: the source image the crop was cut from (the manifest's ``tile`` column; "" when a
    manifest lacks it): crops of one tile are one scene.
    """

    crop_id: str
    city: str
    image: Path
    mask: Path
    building_fraction: float
    split: str
    tile: str = ""


def read_manifest(data_dir: str | Path, split: str | None = None) -> list[CropRecord]:
    """The crops listed in ``data_dir/manifest.csv`` in file order (optionally one split)."""
    data_dir = Path(data_dir)
    manifest = data_dir / MANIFEST_NAME
    if not manifest.is_file():
        raise DataError(
            f"no {MANIFEST_NAME} in {data_dir}: run `isegsat-prepare --inria ROOT --out "
            f"{data_dir}` (or --folder ROOT) first, or pass the folder it wrote with --data"
        )
    with manifest.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in _READ_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{manifest} lacks the columns {missing}")
        rows = list(reader)
    return [
        CropRecord(
            row["crop_id"],
            row["city"],
            data_dir / row["image"],
            data_dir / row["mask"],
            float(row["building_fraction"]),
            row["split"],
            row.get("tile") or "",
        )
        for row in rows
        if split is None or row["split"] == split
    ]


def write_manifest(out: Path, rows: Sequence[Mapping[str, object]]) -> Path:
    """Write ``out/manifest.csv`` atomically from rows keyed by ``COLUMNS``; returns its path."""
    manifest = out / MANIFEST_NAME
    try:
        with atomic_path(manifest) as tmp, tmp.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
    except OSError as error:
        raise OSError(error.errno, f"cannot write {manifest}: {error.strerror or error}") from error
    return manifest


def read_image(path: Path) -> np.ndarray:
    """HxWx3 uint8 RGB of a crop image (OpenCV reads BGR; converted)."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise DataError(f"cannot read image {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def read_mask(path: Path) -> np.ndarray:
    """HxW uint8 ground truth of a crop mask: 1 building (pixel > 127), 0 background."""
    mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise DataError(f"cannot read mask {path}")
    return (mask > 127).astype(np.uint8)


def load_crop(record: CropRecord) -> tuple[np.ndarray, np.ndarray]:
    """(HxWx3 uint8 RGB, HxW uint8 {0, 1}) of one prepared crop."""
    return read_image(record.image), read_mask(record.mask)


def check_files(record: CropRecord) -> None:
    """Raise DataError when the crop's image or mask file is missing."""
    for path in (record.image, record.mask):
        if not path.is_file():
            raise DataError(f"crop {record.crop_id}: missing file {path}")
