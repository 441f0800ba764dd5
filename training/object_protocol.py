"""The object protocol: one building at a time, in a window about three times its size.

A building is an 8-connected component of the crop's mask with at least ``min_area`` pixels
(``building_objects``, the rule training uses to pick objects). Its window is a square of side
``WINDOW_SCALE`` x the longer side of the building's bounding box (at least ``MIN_WINDOW`` px),
centred on that box and clipped to the crop; the target is that building's component only (other
buildings in the window are background). The clicks then run as in the tile protocol
(``evaluate_sample``, same clicker and predictor), up to ``DEFAULT_MAX_CLICKS["object"]`` = 10.
With ``max_objects`` a crop evaluates at most that many buildings, chosen with the crop's
seeded generator (``crop_rng``), so every model sees the same buildings.

What is scored is what object mode gives the annotator: the components of the thresholded
prediction that hold a positive click (``isegsat.inference.clicked_object``); the clicker also
places its next click on the errors of that mask. ``whole_prediction=True`` scores the network's
whole thresholded mask instead (every blob, neighbours included), the network alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from isegsat.inference import Predictor
from isegsat.inference.box import Box
from isegsat.inference.clicked_object import clicked_object
from isegsat.inference.threshold import PRED_THRESHOLD
from isegsat.inference.zoom_in import clamp_box, expand_box, mask_box
from isegsat.training.evaluation import CropResult, crop_rng, evaluate_sample
from isegsat.training.manifest import CropRecord, read_image, read_mask
from isegsat.training.metrics import DEFAULT_MAX_CLICKS
from isegsat.training.points_sampler import building_objects

WINDOW_SCALE = 3.0
MIN_WINDOW = 64


@dataclass(frozen=True)
class ObjectWindow:
    """One building to evaluate: ``object_id`` its index among the crop's buildings (label
    order), ``box`` its window (half-open, in crop pixels), ``target`` the window-sized hxw int32
    mask, 1 on this building and 0 elsewhere."""

    object_id: int
    box: Box
    target: np.ndarray


def object_windows(
    mask: np.ndarray,
    max_objects: int | None = None,
    rng: np.random.Generator | None = None,
) -> list[ObjectWindow]:
    """The windows of the buildings of a crop's mask (HxW, nonzero = building), by object id.

    With ``max_objects`` and more buildings than that, ``rng`` (required then) picks which ones.
    """
    objects = building_objects(np.asarray(mask))
    chosen = range(len(objects))
    if max_objects is not None and len(objects) > max_objects:
        if rng is None:
            raise ValueError("choosing max_objects buildings needs an rng")
        chosen = sorted(int(i) for i in rng.choice(len(objects), max_objects, replace=False))
    windows = []
    for index in chosen:
        building = objects[index]
        bounds = mask_box(building)
        side = max(WINDOW_SCALE * max(bounds.height, bounds.width), MIN_WINDOW)
        box = clamp_box(expand_box(bounds, 1.0, side), *building.shape)
        windows.append(ObjectWindow(index, box, building[box.slices].astype(np.int32)))
    return windows


def evaluate_crops_objects(
    crops: Sequence[CropRecord],
    predictor: Predictor,
    max_clicks: int = DEFAULT_MAX_CLICKS["object"],
    max_objects: int | None = None,
    seed: int = 0,
    pred_thr: float = PRED_THRESHOLD,
    desc: str = "object",
    whole_prediction: bool = False,
) -> list[CropResult]:
    """The object protocol on each crop (tqdm progress bar over crops): one ``CropResult`` per
    building, its ``object_id`` set. ``whole_prediction`` scores every blob of the prediction
    instead of the clicked building (see the module docstring)."""
    shown = None if whole_prediction else clicked_object
    results = []
    for crop in tqdm(crops, desc=desc, unit="crop"):
        image, gt = read_image(crop.image), read_mask(crop.mask)
        for window in object_windows(gt, max_objects, crop_rng(seed, crop.crop_id)):
            sample = evaluate_sample(
                image[window.box.slices],
                window.target,
                predictor,
                max_clicks,
                pred_thr,
                shown=shown,
            )
            results.append(
                CropResult(
                    crop.crop_id,
                    crop.city,
                    sample.ious,
                    sample.seconds_per_click,
                    object_id=window.object_id,
                )
            )
    return results
