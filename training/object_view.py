"""Object-window training views: one building seen as object mode shows it.

Object mode (and the object protocol) run a building's first click on a window about three
times its size and, from the first click on, on its box enlarged 3x (the refined first click)
or 1.4x (later clicks, RITM's ZoomIn) resized to about 192 px. A random 224² view of a 500² crop
at 0.5-2x rarely frames one building like that. An object view does: it picks one building of
the prepared crop, cuts a square window of ``k`` x the longer side of its box (``k`` uniform in
``scale_range``, at least ``MIN_WINDOW`` px, at most the crop's shorter side) around it, a little
off centre at random (object mode's windows are centred on the building), and resizes the window
to the training crop size. Orientation and photometric jitter are ``augment``'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from isegsat.inference.box import Box
from isegsat.training.augment import photometric_jitter, random_orientation
from isegsat.training.points_sampler import building_objects

MIN_WINDOW = 64
"""Shortest window side in crop pixels (the object protocol's minimum window)."""
JITTER = 0.5
"""How far off centre the building may sit, as a share of the window's free room per side."""


@dataclass(frozen=True)
class ObjectView:
    """One object-window view at the training crop size (h, w): ``image`` hxwx3 uint8 RGB,
    ``target`` hxw bool (the chosen building), ``mask`` hxw uint8 (every building of the
    window, the target included, nonzero = building)."""

    image: np.ndarray
    target: np.ndarray
    mask: np.ndarray


def object_view(
    image: np.ndarray,
    mask: np.ndarray,
    crop_size: Sequence[int],
    rng: np.random.Generator,
    scale_range: Sequence[float] = (1.3, 4.0),
    min_object_area: int = 80,
    kind: str = "sensor",
) -> ObjectView | None:
    """A random object view of a prepared crop, or None when it holds no building.

    image: HxWx3 uint8 RGB; mask: HxW uint8 (nonzero = building), same grid; buildings are the
    8-connected components with at least ``min_object_area`` pixels (``building_objects``).
    ``kind``: the ``augment`` kind whose orientation and jitter are applied.
    """
    image, mask = random_orientation(image, mask, rng, kind)
    objects = building_objects(mask, min_object_area)
    if not objects:
        return None
    chosen = objects[int(rng.integers(len(objects)))]
    window = object_window(Box.of_mask(chosen), mask.shape, rng, scale_range)
    rows, cols = window.slices
    crop_h, crop_w = crop_size
    size = (crop_w, crop_h)
    view = cv2.resize(np.ascontiguousarray(image[rows, cols]), size, interpolation=cv2.INTER_LINEAR)
    nearest = cv2.INTER_NEAREST_EXACT
    target = cv2.resize(chosen[rows, cols].astype(np.uint8), size, interpolation=nearest)
    view_mask = cv2.resize(np.ascontiguousarray(mask[rows, cols]), size, interpolation=nearest)
    return ObjectView(photometric_jitter(view, rng, kind), target > 0, view_mask)


def object_window(
    building: Box, shape: tuple[int, int], rng: np.random.Generator, scale_range: Sequence[float]
) -> Box:
    """The square window of a view around ``building`` (its box) in a crop of ``shape`` (H, W).

    Side: uniform ``scale_range`` x the box's longer side, clamped to ``[MIN_WINDOW, min(H, W)]``.
    The window is centred on the box, moved by up to ``JITTER`` x its free room on each axis,
    and shifted inside the crop where it would cross the crop's border.
    """
    height, width = shape
    longer = max(building.height, building.width)
    side = round(rng.uniform(*scale_range) * longer)
    side = int(min(max(side, MIN_WINDOW), height, width))
    row = _offset(building.row, building.row_stop, side, height, rng)
    col = _offset(building.col, building.col_stop, side, width, rng)
    return Box(row, col, side, side)


def _offset(start: int, stop: int, side: int, length: int, rng: np.random.Generator) -> int:
    """Start of a window of ``side`` px on an axis of ``length`` px around [start, stop): the
    centred start moved by up to ``JITTER`` x the free room on either side, inside the axis."""
    room = max(0, side - (stop - start)) / 2
    centred = (start + stop - side) / 2 + rng.uniform(-JITTER, JITTER) * room
    return int(np.clip(round(centred), 0, length - side))
