"""Training dataset over a prepared_crops folder: items, augmentation alignment, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from isegsat.training.augment import random_crop, random_resize
from isegsat.training.dataset import ClickSegmentationDataset
from isegsat.training.manifest import DataError, load_crop, read_manifest
from isegsat.training.points_sampler import MultiPointSampler, building_objects


def test_items_have_ritm_shapes_and_clicks_on_the_target(prepared_crops: Path) -> None:
    records = read_manifest(prepared_crops, split="train")
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


def test_validation_is_deterministic_and_baseline_has_no_clicks(prepared_crops: Path) -> None:
    records = read_manifest(prepared_crops, split="test")
    sampler = MultiPointSampler(max_num_points=4)
    val = ClickSegmentationDataset(records, sampler, crop_size=(64, 64), train=False)
    first, again = val[3], val[3]
    for key in first:
        torch.testing.assert_close(first[key], again[key])
    baseline = ClickSegmentationDataset(records, sampler, (64, 64), train=False, interactive=False)
    # a crop whose 64 px centre holds a building (other indices are redrawn elsewhere)
    index, mask = next(
        (i, mask[16:80, 16:80])
        for i, (_, mask) in enumerate(map(load_crop, baseline.records))
        if building_objects(mask[16:80, 16:80], baseline.min_object_area)
    )
    item = baseline[index]
    assert (item["points"] == -1).all()
    np.testing.assert_array_equal(item["instances"][0].numpy(), mask)


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


def test_split_without_buildings_is_refused(prepared_crops: Path) -> None:
    empty = [r for r in read_manifest(prepared_crops) if r.building_fraction == 0]
    with pytest.raises(DataError, match="no crop with a building"):
        ClickSegmentationDataset(empty, MultiPointSampler())


def test_target_all_is_every_building_and_target_building_is_one(prepared_crops: Path) -> None:
    records = read_manifest(prepared_crops, split="test")
    sampler = MultiPointSampler(max_num_points=4, merge_objects_prob=0.0)
    views = {
        target: ClickSegmentationDataset(
            records, sampler, (64, 64), min_object_area=5, train=False, target=target
        )
        for target in ("all", "building")
    }
    # a crop whose 64 px centre holds several buildings
    index, centre = next(
        (i, mask[16:80, 16:80])
        for i, (_, mask) in enumerate(map(load_crop, views["all"].records))
        if len(building_objects(mask[16:80, 16:80], 5)) >= 2
    )
    whole = views["all"][index]["instances"][0].numpy()
    np.testing.assert_array_equal(whole, centre)
    one = views["building"][index]["instances"][0].numpy() > 0
    assert one.any() and one.sum() < centre.sum()
    assert any((one == obj).all() for obj in building_objects(centre, 5))


def test_unknown_target_is_refused(prepared_crops: Path) -> None:
    with pytest.raises(ValueError, match="target must be one of"):
        ClickSegmentationDataset(read_manifest(prepared_crops), MultiPointSampler(), target="x")
