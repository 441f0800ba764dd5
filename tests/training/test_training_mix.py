"""Training on several prepared sets: per-set weights, mixed targets, relabelling samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from isegsat.training.config import config_from_dict
from isegsat.training.dataset import ClickSegmentationDataset
from isegsat.training.manifest import read_manifest
from isegsat.training.points_sampler import MultiPointSampler, building_objects
from isegsat.training.trainer import training_records


def _dataset(records, **options) -> ClickSegmentationDataset:
    sampler = MultiPointSampler(max_num_points=6)
    return ClickSegmentationDataset(
        records, sampler, crop_size=(64, 64), min_object_area=20, epoch_len=60, **options
    )


def test_relabel_samples_start_from_an_imperfect_label_with_a_click_on_its_error(
    prepared_crops: Path,
) -> None:
    dataset = _dataset(read_manifest(prepared_crops, split="train"), relabel_prob=1.0)
    torch.manual_seed(0)
    for index in range(8):
        item = dataset[index]
        target = item["instances"][0].numpy() > 0
        label = item["prev_mask"][0].numpy()
        assert item["prev_mask"].shape == (1, 64, 64) and set(np.unique(label)) <= {0.0, 1.0}
        errors = target != (label > 0)
        points = item["points"].numpy()
        clicked = points[points[:, 0] >= 0].astype(int)
        if errors.any():
            assert len(clicked) == 1 and errors[clicked[0, 0], clicked[0, 1]]
            is_positive = points[0, 0] >= 0
            assert target[clicked[0, 0], clicked[0, 1]] == is_positive
        # the target is every building of the view, as in the tile protocol
        objects = building_objects(target, 1)
        assert len(objects) >= 1


def test_mixed_targets_give_single_buildings_and_whole_views(prepared_crops: Path) -> None:
    records = read_manifest(prepared_crops, split="train")
    dataset = _dataset(records, target="mixed", building_prob=0.5)
    torch.manual_seed(1)
    single = whole = 0
    for index in range(30):
        item = dataset[index]
        assert not item["prev_mask"].any()
        target = item["instances"][0].numpy() > 0
        count = len(building_objects(target, 1))
        single += count == 1
        whole += count > 1
    assert single > 3 and whole > 3


def test_folder_weights_set_each_folders_share(prepared_crops: Path, tmp_path: Path) -> None:
    config = config_from_dict(
        {"data": [str(prepared_crops), str(prepared_crops)], "data_weights": [3.0, 1.0]}
        | {"weights": "unused.pth"}
    )
    records, weights = training_records(config)
    half = len(records) // 2
    assert len(records) == 2 * len(read_manifest(prepared_crops, split="train"))
    assert sum(weights[:half]) == pytest.approx(3.0) and sum(weights[half:]) == pytest.approx(1.0)
    dataset = _dataset(records, record_weights=weights)
    assert dataset.odds[: len(dataset.odds) // 2].sum() == pytest.approx(0.75)


def test_data_settings_are_checked() -> None:
    assert config_from_dict({"data": "crops"}).data == ["crops"]
    with pytest.raises(ValueError, match="one weight per data folder"):
        config_from_dict({"data": ["a", "b"], "data_weights": [1.0]})
    with pytest.raises(ValueError, match="relabel_prob"):
        config_from_dict({"data": ["a"], "relabel_prob": 1.5})
    with pytest.raises(ValueError, match="augmentation"):
        config_from_dict({"data": ["a"], "augmentation": "fancy"})
