"""Tiny, seeded aerial-like crops and an ``isegsat-prepare``-style folder for evaluation tests.

Plain functions; the evaluation test modules wrap them in fixtures.
"""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

MANIFEST_HEADER = (
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


def aerial_crop(seed: int, size: int = 64, buildings: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """(HxWx3 uint8 RGB, HxW int32 {0,1}) crop: grass/asphalt ground, rotated roofs with shadows.

    Roofs are red-dominant (red > 0.6) and the ground is not (red < 0.45), which lets
    ``RedRoofOracle`` segment them exactly.
    """
    rng = np.random.default_rng(seed)
    ground = rng.normal((70, 95, 60), 8, size=(size, size, 3))
    road_row = int(rng.integers(size // 4, 3 * size // 4))
    ground[road_row : road_row + size // 8] = rng.normal(
        (100, 100, 104), 5, size=(size // 8, size, 3)
    )
    image = np.clip(ground, 0, 110).astype(np.uint8)
    mask = np.zeros((size, size), dtype=np.uint8)
    footprints = []
    for _ in range(buildings):
        centre = rng.uniform(0.25 * size, 0.75 * size, 2)
        sides = rng.uniform(0.15 * size, 0.3 * size, 2)
        angle = float(rng.uniform(0, 90))
        footprints.append(cv2.boxPoints(((centre[0], centre[1]), (sides[0], sides[1]), angle)))
    for corners in footprints:
        cv2.fillPoly(image, [np.round(corners + size * 0.04).astype(np.int32)], (35, 38, 40))
    for corners in footprints:
        roof = tuple(int(v) for v in rng.integers((170, 60, 50), (230, 110, 90)))
        cv2.fillPoly(image, [np.round(corners).astype(np.int32)], roof)
        cv2.fillPoly(mask, [np.round(corners).astype(np.int32)], 1)
    return image, mask.astype(np.int32)


class RedRoofOracle(nn.Module):
    """Test double with RITM's model interface whose logits are the ground truth of ``aerial_crop``.

    It thresholds the red channel (roofs red > 0.6, ground red < 0.45) and ignores clicks and
    the previous mask, so any correct evaluation gives IoU ~1 from the first click on.
    """

    with_prev_mask = True
    norm_radius = 5

    def forward(self, image: torch.Tensor, points: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"instances": (image[:, :1] - 0.53) * 100.0}


def write_prepared_dir(root: Path, crops: list[dict]) -> Path:
    """An ``isegsat-prepare`` output folder: PNG crops and manifest.csv, in list order.

    crops[i]: {"crop_id", "city", "split", "image" HxWx3 uint8 RGB, "mask" HxW {0,1}}.
    """
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rows = []
    for crop in crops:
        crop_id = crop["crop_id"]
        cv2.imwrite(str(root / "images" / f"{crop_id}.png"), crop["image"][:, :, ::-1])
        cv2.imwrite(str(root / "masks" / f"{crop_id}.png"), crop["mask"].astype(np.uint8) * 255)
        tile, row, col = crop_id.split("_")
        rows.append(
            {
                "crop_id": crop_id,
                "city": crop["city"],
                "tile": tile,
                "row": row[1:],
                "col": col[1:],
                "image": f"images/{crop_id}.png",
                "mask": f"masks/{crop_id}.png",
                "building_fraction": f"{float(np.mean(crop['mask'])):.6f}",
                "split": crop["split"],
            }
        )
    with (root / "manifest.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=MANIFEST_HEADER)
        writer.writeheader()
        writer.writerows(rows)
    return root


def small_city_set(seed: int = 0, size: int = 64) -> list[dict]:
    """Five test crops (austin x3 with one empty, vienna x2) and one train crop (chicago)."""
    layout = [
        ("austin1_r0_c0", "austin", "test", 2),
        ("austin1_r0_c1", "austin", "test", 0),
        ("austin2_r1_c0", "austin", "test", 1),
        ("vienna3_r0_c0", "vienna", "test", 3),
        ("vienna3_r0_c1", "vienna", "test", 1),
        ("chicago9_r0_c0", "chicago", "train", 2),
    ]
    crops = []
    for index, (crop_id, city, split, buildings) in enumerate(layout):
        image, mask = aerial_crop(seed + index, size, buildings)
        crops.append(
            {"crop_id": crop_id, "city": city, "split": split, "image": image, "mask": mask}
        )
    return crops
