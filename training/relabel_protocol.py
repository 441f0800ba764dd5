"""The relabelling protocol: the tile protocol started from an imperfect label of the crop.

The mission is to relabel tiles whose labels miss buildings, hold phantom ones and are shifted.
Per crop, ``perturb_label`` damages the true mask with a generator seeded from ``seed`` and the
crop id (``crop_rng``: every model and every run gets the same label) — or, with a ``draft``
model, the starting label is that non-interactive segmenter's mask of the crop (the pre-label
workflow: ``isegsat-prelabel``, then clicks). That label is both the predictor's previous mask
before the first click (``Predictor.set_prev_mask``) and the mask the evaluation clicker corrects
first. The label's IoU with the truth is IoU@0; then the clicks run as in the tile protocol
(``evaluate_sample``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from isegsat.inference import Predictor
from isegsat.inference.segmenter import predict_without_clicks
from isegsat.inference.threshold import PRED_THRESHOLD
from isegsat.training.evaluation import (
    CropResult,
    crop_rng,
    evaluate_crops,
)
from isegsat.training.label_noise import perturb_label
from isegsat.training.manifest import CropRecord
from isegsat.training.metrics import DEFAULT_MAX_CLICKS


def starting_label(gt_mask: np.ndarray, seed: int, crop_id: str) -> np.ndarray:
    """HxW uint8 {0, 1} imperfect label of a crop: ``perturb_label`` of ``gt_mask`` (HxW, 1 =
    building) with the crop's generator ``crop_rng(seed, crop_id)``."""
    return perturb_label(np.asarray(gt_mask) == 1, crop_rng(seed, crop_id))


def evaluate_crops_relabel(
    crops: Sequence[CropRecord],
    predictor: Predictor,
    max_clicks: int = DEFAULT_MAX_CLICKS["relabel"],
    seed: int = 0,
    pred_thr: float = PRED_THRESHOLD,
    desc: str = "relabel",
    draft: torch.nn.Module | None = None,
) -> list[CropResult]:
    """The relabel protocol on each crop (tqdm progress bar); ``start_iou`` holds IoU@0.

    draft: a non-interactive segmenter in eval mode on the predictor's device; when given, each
    crop starts from its mask (probability > ``pred_thr``) instead of a perturbed true label.
    """

    def start(image: np.ndarray, gt: np.ndarray, crop_id: str) -> np.ndarray:
        if draft is None:
            return starting_label(gt, seed, crop_id)
        return draft_label(draft, image, predictor.device, pred_thr)

    return evaluate_crops(crops, predictor, max_clicks, pred_thr, desc, start_label=start)


def draft_label(
    model: torch.nn.Module, image: np.ndarray, device: torch.device, pred_thr: float
) -> np.ndarray:
    """HxW uint8 {0, 1} mask of ``image`` (HxWx3 uint8) by a non-interactive segmenter, as
    ``isegsat-prelabel`` draws it (one pass, probability > ``pred_thr``)."""
    return (predict_without_clicks(model, image, device) > pred_thr).astype(np.uint8)
