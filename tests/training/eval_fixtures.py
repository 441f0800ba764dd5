"""Tiny seeded aerial crops, a ground-truth oracle and an ``isegsat-prepare`` folder for tests.

Plain functions; the evaluation test modules wrap them in fixtures.
"""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from isegsat.resources.synth import generate_scene
from isegsat.training.manifest import COLUMNS as MANIFEST_HEADER


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

    crops[i]: {"crop_id", "city", "split", "image" HxWx3 uint8 RGB, "mask" HxW {0,1}}; crop ids
    end in ``_r<row>_c<col>`` (the part before is the tile, which may hold '_').
    """
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rows = []
    for crop in crops:
        crop_id = crop["crop_id"]
        cv2.imwrite(str(root / "images" / f"{crop_id}.png"), crop["image"][:, :, ::-1])
        cv2.imwrite(str(root / "masks" / f"{crop_id}.png"), crop["mask"].astype(np.uint8) * 255)
        tile, row, col = crop_id.rsplit("_", 2)
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


def small_city_set(size: int = 64) -> list[dict]:
    """Five test crops (austin x3 with one empty, vienna x2) and one train crop (chicago).

    Crops are ``generate_scene`` aerial scenes: the first seeds giving a building-free rural scene
    and scenes with buildings in the urban/suburban styles.
    """
    layout = [
        ("austin1_r0_c0", "austin", "test", "suburban"),
        ("austin1_r0_c1", "austin", "test", "rural"),
        ("austin2_r1_c0", "austin", "test", "urban"),
        ("vienna3_r0_c0", "vienna", "test", "urban"),
        ("vienna3_r0_c1", "vienna", "test", "suburban"),
        ("chicago9_r0_c0", "chicago", "train", "suburban"),
    ]
    crops = []
    seeds = iter(range(1000))
    for crop_id, city, split, style in layout:
        want_buildings = style != "rural"
        scene = next(
            scene
            for scene in (generate_scene(size, size, seed, style) for seed in seeds)
            if scene.mask.any() == want_buildings
        )
        crops.append(
            {
                "crop_id": crop_id,
                "city": city,
                "split": split,
                "image": scene.image,
                "mask": scene.mask.astype(np.int32),
            }
        )
    return crops


class PrevMaskEcho(nn.Module):
    """Test double with RITM's model interface that returns its previous-mask channel as the
    prediction (ignores the image and the clicks): shows what mask a predictor started from."""

    with_prev_mask = True
    norm_radius = 5

    def forward(self, image: torch.Tensor, points: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"instances": (image[:, 3:4] - 0.5) * 100.0}


def real_set_crops(name: str, shapes: list[tuple[int, int]], seed: int = 0) -> list[dict]:
    """Crops of a prepared real set (``city`` = the set's name, split ``val``, the last one
    ``train``), of the given (height, width) shapes: non-square, not 500², with buildings."""
    crops = []
    for index, (height, width) in enumerate(shapes):
        image, mask = aerial_crop(seed + index, size=max(height, width), buildings=3)
        crops.append(
            {
                "crop_id": f"{name}_img{index}_r0_c0",
                "city": name,
                "split": "train" if index == len(shapes) - 1 else "val",
                "image": np.ascontiguousarray(image[:height, :width]),
                "mask": np.ascontiguousarray(mask[:height, :width]),
            }
        )
    return crops
