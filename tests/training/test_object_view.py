"""Object-window training views: the window, the view, and dataset items built from them."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from isegsat.inference.box import Box
from isegsat.training.config import config_from_dict
from isegsat.training.dataset import ClickSegmentationDataset
from isegsat.training.manifest import read_manifest
from isegsat.training.object_view import MIN_WINDOW, object_view, object_window
from isegsat.training.points_sampler import MultiPointSampler, building_objects


def _scene(size: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Three roofs of different sizes on textured ground; the image's red channel marks roofs."""
    rng = np.random.default_rng(3)
    mask = np.zeros((size, size), np.uint8)
    cv2.rectangle(mask, (20, 30), (59, 59), 255, -1)  # 40x30
    cv2.rectangle(mask, (120, 20), (153, 53), 255, -1)  # 34x34
    cv2.rectangle(mask, (90, 120), (169, 179), 255, -1)  # 80x60
    image = rng.integers(40, 90, (size, size, 3), dtype=np.uint8)
    image[mask > 0, 0] = 230
    return image, mask


def test_window_is_square_inside_the_crop_and_holds_the_building() -> None:
    rng = np.random.default_rng(0)
    building = Box(40, 60, 30, 20)
    for _ in range(200):
        window = object_window(building, (300, 260), rng, (1.3, 4.0))
        assert window.height == window.width
        assert 1.3 * 30 - 1 <= window.height <= 4.0 * 30 + 1 and window.height >= MIN_WINDOW
        assert window.row >= 0 and window.row_stop <= 300
        assert window.col >= 0 and window.col_stop <= 260
        assert window.row <= building.row and building.row_stop <= window.row_stop
        assert window.col <= building.col and building.col_stop <= window.col_stop


def test_window_is_capped_by_the_crop_and_small_houses_get_the_minimum() -> None:
    rng = np.random.default_rng(1)
    big = object_window(Box(10, 10, 150, 180), (200, 240), rng, (3.0, 3.0))
    assert big.height == 200 and big.row == 0  # capped at the crop's shorter side
    small = object_window(Box(100, 100, 5, 6), (200, 240), rng, (2.0, 2.0))
    assert small.height == MIN_WINDOW


def test_view_shows_one_building_at_the_scale_drawn() -> None:
    image, mask = _scene()
    rng = np.random.default_rng(2)
    ratios = []
    for _ in range(40):
        view = object_view(image, mask, (96, 96), rng, (2.0, 3.0), 50, kind="ritm")
        assert view.image.shape == (96, 96, 3) and view.image.dtype == np.uint8
        assert view.target.shape == view.mask.shape == (96, 96) and view.target.dtype == bool
        assert len(building_objects(view.target, 1)) == 1
        assert ((view.mask > 0) | ~view.target).all()  # the target is one of the view's roofs
        red = view.image[..., 0].astype(float)  # RITM's jitter is monotonic per channel
        roof = red > (red.min() + red.max()) / 2
        assert (roof == (view.mask > 0)).mean() > 0.9
        box = Box.of_mask(view.target)
        ratios.append(96 / max(box.height, box.width))
    assert min(ratios) >= 1.9 and max(ratios) <= 3.2


def test_view_of_a_crop_without_buildings_is_none() -> None:
    image, mask = _scene()
    rng = np.random.default_rng(0)
    assert object_view(image, np.zeros_like(mask), (64, 64), rng) is None


def test_sampler_keeps_the_given_target_alone() -> None:
    _, mask = _scene()
    objects = building_objects(mask, 50)
    sampler = MultiPointSampler(max_num_points=6, merge_objects_prob=1.0)
    rng = np.random.default_rng(0)
    for _ in range(20):
        sample = sampler.sample(objects, rng, target_index=1)
        np.testing.assert_array_equal(sample.mask > 0, objects[1])


def test_dataset_object_views_target_one_building_with_clicks_on_it(
    prepared_crops: Path,
) -> None:
    records = read_manifest(prepared_crops, split="train")
    sampler = MultiPointSampler(max_num_points=6, merge_objects_prob=1.0)
    dataset = ClickSegmentationDataset(
        records,
        sampler,
        crop_size=(64, 64),
        min_object_area=20,
        epoch_len=40,
        target="building",
        augmentation="sensor",
        object_view_prob=1.0,
        object_view_scale=(2.0, 3.0),
    )
    torch.manual_seed(0)
    for index in range(10):
        item = dataset[index]
        target = item["instances"][0].numpy() > 0
        assert len(building_objects(target, 1)) == 1  # never merged in an object view
        points = item["points"].numpy()
        positives = points[:6][points[:6, 0] >= 0].astype(int)
        assert len(positives) >= 1 and target[positives[:, 0], positives[:, 1]].all()


def test_object_view_settings_are_checked() -> None:
    config = config_from_dict({"data": ["a"], "object_view_prob": 0.5})
    assert config.object_view_scale == [1.3, 4.0]
    with pytest.raises(ValueError, match="object_view_prob"):
        config_from_dict({"data": ["a"], "object_view_prob": 2.0})
    with pytest.raises(ValueError, match="object_view_scale"):
        config_from_dict({"data": ["a"], "object_view_scale": [3.0, 2.0]})
