"""Training dataset over a prepared folder: items, augmentation alignment, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from isegsat.training.augment import random_crop, random_resize
from isegsat.training.dataset import ClickSegmentationDataset, DataError, load_crop, read_manifest
from isegsat.training.points_sampler import MultiPointSampler


def test_items_have_ritm_shapes_and_clicks_on_the_target(prepared: Path) -> None:
    records = read_manifest(prepared, split="train")
    assert len(records) == 20
    dataset = ClickSegmentationDataset(
        records, MultiPointSampler(max_num_points=6), crop_size=(64, 80), min_object_area=20
    )
    assert len(dataset) == sum(r.building_fraction > 0 for r in records)
    torch.manual_seed(0)
    for index in range(6):
        item = dataset[index]
        assert item["images"].shape == (3, 64, 80) and item["images"].dtype == torch.float32
        assert 0.0 <= float(item["images"].min()) <= float(item["images"].max()) <= 1.0
        target = item["instances"][0].numpy() > 0
        assert item["instances"].shape == (1, 64, 80) and target.any()
        points = item["points"].numpy()
        assert points.shape == (12, 3)
        positives = points[:6][points[:6, 0] >= 0].astype(int)
        assert len(positives) >= 1 and target[positives[:, 0], positives[:, 1]].all()


def test_validation_items_are_deterministic_and_baseline_has_no_clicks(prepared: Path) -> None:
    records = read_manifest(prepared, split="test")
    sampler = MultiPointSampler(max_num_points=4)
    val = ClickSegmentationDataset(records, sampler, crop_size=(64, 64), train=False)
    first, again = val[3], val[3]
    for key in first:
        torch.testing.assert_close(first[key], again[key])
    baseline = ClickSegmentationDataset(records, sampler, (64, 64), train=False, interactive=False)
    item = baseline[3]
    assert (item["points"] == -1).all()
    _, mask = load_crop(baseline.records[3])
    np.testing.assert_array_equal(item["instances"][0].numpy(), mask[16:80, 16:80])


def test_geometry_keeps_image_and_mask_aligned() -> None:
    rng = np.random.default_rng(0)
    mask = np.zeros((50, 70), np.uint8)
    mask[10:30, 20:45] = 1
    image = np.repeat(mask[..., None] * 200, 3, axis=2).astype(np.uint8)
    for _ in range(20):
        big_image, big_mask = random_resize(image, mask, rng, (0.75, 1.4))
        crop_image, crop_mask = random_crop(big_image, big_mask, (60, 60), rng)
        assert crop_mask.shape == (60, 60) and crop_image.shape == (60, 60, 3)
        disagree = (crop_image[..., 0] > 100) != (crop_mask > 0)
        assert disagree.mean() < 0.005  # only ties at the edges


def test_missing_manifest_says_to_run_prepare(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="isegsat-prepare"):
        read_manifest(tmp_path)


def test_split_without_buildings_is_refused(prepared: Path) -> None:
    empty = [r for r in read_manifest(prepared) if r.building_fraction == 0]
    with pytest.raises(DataError, match="no crop with a building"):
        ClickSegmentationDataset(empty, MultiPointSampler())
