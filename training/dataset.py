"""Datasets over a folder prepared by ``isegsat-prepare`` (``manifest.csv`` + PNG crops).

No rasterio here: training only reads the PNG crops.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from isegsat.training.augment import augment
from isegsat.training.iterative import error_click
from isegsat.training.label_noise import perturb_label
from isegsat.training.manifest import CropRecord, DataError, load_crop
from isegsat.training.object_view import object_view
from isegsat.training.points_sampler import MultiPointSampler, building_objects, empty_points

MAX_AUGMENT_TRIES = 20
TARGETS = ("all", "building", "mixed")
"""What a training sample segments: all buildings of the view, one building, or either (per
sample, one building with probability ``building_prob``)."""


class ClickSegmentationDataset(Dataset):
    """Training samples: augmented crop, target object mask and sampled clicks (RITM style).

    Item: ``{'images': float32 (3, H, W) RGB in [0, 1], 'instances': float32 (1, H, W) {0, 1},
    'points': float32 (2·max_num_points, 3), 'prev_mask': float32 (1, H, W) {0, 1}}`` with
    (H, W) = ``crop_size``. Crops without any building are skipped (as RITM does); a view whose
    crop misses every building is redrawn. ``train=False`` gives deterministic views for
    validation (centre crop, no colour change, seeded by index). ``interactive=False`` returns
    no clicks (all padding) and the whole building mask as target (the non-interactive
    baseline). ``target`` picks what one sample segments: ``"all"`` = every building of the view
    as one object (the study's protocol, where a crop's whole building mask is the target),
    ``"building"`` = one connected building (or a RITM merge of a few), as RITM trains on
    instance datasets, ``"mixed"`` = one building with probability ``building_prob``, else all.

    ``record_weights`` (one per record, any scale): training draws records with these odds
    instead of in order (several prepared sets mixed with per-set weights). ``augmentation``:
    ``"ritm"`` or ``"sensor"`` (``isegsat.training.augment``). With probability
    ``relabel_prob`` a training sample is a relabelling one: target = every building, previous
    mask = an imperfect copy of it (``perturb_label``) and one click on its larger error, in
    row 0 (positive) or row ``max_num_points`` (negative); otherwise ``prev_mask`` is zeros.
    With probability ``object_view_prob`` a one-building training sample is an object view
    instead of a random view (``isegsat.training.object_view``: the building in a window of
    ``object_view_scale`` x its size, as object mode shows it); the window's other buildings
    are its negatives' "other buildings".
    """

    def __init__(
        self,
        records: list[CropRecord],
        sampler: MultiPointSampler,
        crop_size: tuple[int, int] = (320, 480),
        scale_range: tuple[float, float] = (0.75, 1.40),
        min_object_area: int = 80,
        epoch_len: int = 0,
        train: bool = True,
        interactive: bool = True,
        target: str = "all",
        building_prob: float = 0.5,
        record_weights: list[float] | None = None,
        augmentation: str = "ritm",
        relabel_prob: float = 0.0,
        object_view_prob: float = 0.0,
        object_view_scale: tuple[float, float] = (1.3, 4.0),
    ) -> None:
        if target not in TARGETS:
            raise ValueError(f"target must be one of {', '.join(TARGETS)}, got {target!r}")
        if record_weights is not None and len(record_weights) != len(records):
            raise ValueError("record_weights needs one weight per record")
        keep = [i for i, r in enumerate(records) if r.building_fraction > 0]
        self.records = [records[i] for i in keep]
        if not self.records:
            raise DataError("no crop with a building in this split; nothing to train on")
        self.odds = None
        if record_weights is not None:
            odds = np.asarray([record_weights[i] for i in keep], dtype=np.float64)
            if (odds < 0).any() or odds.sum() <= 0:
                raise ValueError("record_weights must be >= 0 with a positive sum")
            self.odds = odds / odds.sum()
        self.building_prob = building_prob
        self.augmentation = augmentation
        self.relabel_prob = relabel_prob
        self.object_view_prob = object_view_prob
        self.object_view_scale = tuple(object_view_scale)
        self.sampler = sampler
        self.crop_size = tuple(crop_size)
        self.scale_range = tuple(scale_range)
        self.min_object_area = min_object_area
        self.epoch_len = epoch_len or len(self.records)
        self.train = train
        self.interactive = interactive
        self.target = target

    def __len__(self) -> int:
        return self.epoch_len

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        # Training draws from torch's RNG (seeded per DataLoader worker and per rank);
        # validation views depend on the index only.
        seed = int(torch.randint(2**62, ()).item()) if self.train else index
        rng = np.random.default_rng(seed)
        record_index = self._pick(index, rng)
        for _ in range(MAX_AUGMENT_TRIES):
            image, mask = load_crop(self.records[record_index])
            image, mask = self._view(image, mask, rng)
            objects = building_objects(mask, self.min_object_area)
            if objects:
                break
            record_index = self._pick(None, rng)
        else:
            raise DataError("could not find a crop view holding a building")
        prev_mask = np.zeros(mask.shape, np.float32)
        if not self.interactive:
            instances = mask.astype(np.float32)
            points = empty_points(self.sampler.max_num_points)
        elif self.train and rng.random() < self.relabel_prob:
            instances, prev_mask, points = self._relabel_sample(objects, rng)
        else:
            one_building = self.target == "building" or (
                self.target == "mixed" and rng.random() < self.building_prob
            )
            window = None
            # no draw when object views are off, so those runs keep their random stream
            framed = one_building and self.train and self.object_view_prob > 0
            if framed and rng.random() < self.object_view_prob:
                window = self._object_view(record_index, rng)
            if window is not None:
                image, objects = window
            elif not one_building:
                objects = [np.logical_or.reduce(objects)]
            target = self.sampler.sample(objects, rng, 0 if window is not None else None)
            instances, points = target.mask, target.points
        return {
            "images": torch.from_numpy(image).permute(2, 0, 1).float().div_(255.0),
            "instances": torch.from_numpy(instances)[None],
            "points": torch.from_numpy(points),
            "prev_mask": torch.from_numpy(prev_mask)[None],
        }

    def _object_view(
        self, record_index: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, list[np.ndarray]] | None:
        """(crop_size image, objects with the target first) of an object view of the record, or
        None when its crop holds no building of ``min_object_area`` px."""
        image, mask = load_crop(self.records[record_index])
        view = object_view(
            image,
            mask,
            self.crop_size,
            rng,
            self.object_view_scale,
            self.min_object_area,
            self.augmentation,
        )
        if view is None:
            return None
        others = building_objects(view.mask * ~view.target, self.min_object_area)
        return view.image, [view.target, *others]

    def _pick(self, index: int | None, rng: np.random.Generator) -> int:
        """The record of item ``index`` (in order), or a random one (by ``odds`` when given)."""
        if self.odds is not None and self.train:
            return int(rng.choice(len(self.records), p=self.odds))
        if index is None:
            return int(rng.integers(len(self.records)))
        return index % len(self.records)

    def _relabel_sample(
        self, objects: list[np.ndarray], rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(target, imperfect label, points with one click on its larger error)."""
        target = np.logical_or.reduce(objects)
        label = perturb_label(target, rng)
        points = empty_points(self.sampler.max_num_points)
        click = error_click(target, label > 0, rng)
        if click is not None:
            y, x, is_positive = click
            points[0 if is_positive else self.sampler.max_num_points] = (y, x, 0)
        return target.astype(np.float32), label.astype(np.float32), points

    def _view(
        self, image: np.ndarray, mask: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        if self.train:
            return augment(
                image, mask, self.crop_size, rng, self.scale_range, kind=self.augmentation
            )
        return _center_view(image, mask, self.crop_size)


def _center_view(
    image: np.ndarray, mask: np.ndarray, crop_size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Centre crop (zero-padded when the crop is larger than the image)."""
    crop_h, crop_w = crop_size
    pad_h, pad_w = max(0, crop_h - mask.shape[0]), max(0, crop_w - mask.shape[1])
    if pad_h or pad_w:
        pads = ((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2))
        image, mask = np.pad(image, (*pads, (0, 0))), np.pad(mask, pads)
    top, left = (mask.shape[0] - crop_h) // 2, (mask.shape[1] - crop_w) // 2
    return (
        np.ascontiguousarray(image[top : top + crop_h, left : left + crop_w]),
        np.ascontiguousarray(mask[top : top + crop_h, left : left + crop_w]),
    )
