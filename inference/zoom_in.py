"""RITM's ZoomIn: run the model on an enlarged crop around the object instead of the whole image.

After the first click(s) the object's box is taken from the previous prediction (probability above
``prob_thresh``, plus the positive clicks), expanded, clamped to the image, and kept while it stays
valid; the crop is resized so its longest side is ``target_size`` and the crop's prediction is
pasted back into an otherwise zero full-size map.

Boxes are ``isegsat.inference.box.Box`` (half-open, full-image pixels). RITM states its rules with
inclusive bounds (top, bottom, left, right); where the arithmetic depends on that (the centre and
edges in ``expand_box``, the click test in ``holds_positive_clicks``) it reads ``last_row`` /
``last_col`` and builds with ``Box.from_inclusive``. The crop <-> network-input changes of
coordinates are ``isegsat.inference.coords``'.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from isegsat.inference.box import Box
from isegsat.inference.clicked_object import clicked_object
from isegsat.inference.clicks import Click
from isegsat.inference.coords import image_to_input, input_shape

__all__ = [
    "Box",
    "ZoomIn",
    "box_iou",
    "clamp_box",
    "crop_shape",
    "expand_box",
    "holds_positive_clicks",
    "mask_box",
    "object_roi",
    "OBJECT_REFINE_RATIO",
    "object_zoom_in",
    "zoom_in_for",
]


def mask_box(mask: np.ndarray) -> Box:
    """Tight box of the True pixels of a non-empty HxW bool mask."""
    return Box.of_mask(mask)


def expand_box(box: Box, ratio: float, min_size: float) -> Box:
    """Scale the box about its centre by ``ratio``, each side at least ``min_size`` pixels long.

    Like RITM, on inclusive bounds: the centre is the mean of the first and last row (column),
    the new first/last rows are centre ∓ half the new size, rounded half to even.
    """
    row_centre = 0.5 * (box.row + box.last_row)
    col_centre = 0.5 * (box.col + box.last_col)
    height = max(ratio * box.height, min_size)
    width = max(ratio * box.width, min_size)
    return Box.from_inclusive(
        round(row_centre - 0.5 * height),
        round(row_centre + 0.5 * height),
        round(col_centre - 0.5 * width),
        round(col_centre + 0.5 * width),
    )


def clamp_box(box: Box, height: int, width: int) -> Box:
    """The box cut to an image of ``height`` x ``width`` pixels."""
    return box.clip(height, width)


def box_iou(a: Box, b: Box) -> float:
    """IoU of two boxes (product of the row-range and column-range IoUs, as RITM)."""
    return _range_iou(a.row, a.row_stop, b.row, b.row_stop) * _range_iou(
        a.col, a.col_stop, b.col, b.col_stop
    )


def object_roi(
    pred_mask: np.ndarray, clicks: Sequence[Click], expansion_ratio: float, min_crop_size: float
) -> Box:
    """The crop box for an object: box of ``pred_mask`` and the positive clicks, expanded, clamped.

    pred_mask: HxW bool with at least one True pixel.
    """
    mask = pred_mask.copy()
    for click in clicks:
        if click.is_positive:
            mask[click.y, click.x] = True
    box = expand_box(mask_box(mask), expansion_ratio, min_crop_size)
    return clamp_box(box, *mask.shape)


def holds_positive_clicks(box: Box, clicks: Sequence[Click]) -> bool:
    """Whether every positive click lies in the box — RITM's test, which excludes the last row
    and the last column of the box."""
    return all(
        box.row <= c.y < box.last_row and box.col <= c.x < box.last_col
        for c in clicks
        if c.is_positive
    )


def crop_shape(box: Box, target_size: int) -> tuple[int, int]:
    """(height, width) the box is resized to: longest side ``target_size``, aspect kept
    (``coords.input_shape``)."""
    return input_shape(box, target_size)


@dataclass
class ZoomIn:
    """RITM's ZoomIn transform with its state: the object box in use (``roi``).

    Defaults are RITM's evaluation/demo ones. The first ``skip_clicks`` clicks (at least 1) run on
    the full image. ``refine_ratio`` (None in RITM) is for one building in a window about three
    times its size (``object_zoom_in``): a click that ran on the full image is run once more on
    the box of the clicked blob (``refine_roi``) expanded by that ratio, which becomes ``roi``, so
    a small house is seen enlarged and a large one whole from the first click on.
    """

    target_size: int = 400
    skip_clicks: int = 1
    expansion_ratio: float = 1.4
    min_crop_size: int = 200
    recompute_iou: float = 0.5
    prob_thresh: float = 0.5
    refine_ratio: float | None = None
    roi: Box | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.skip_clicks < 1:
            raise ValueError(f"skip_clicks must be at least 1, got {self.skip_clicks}")
        if self.target_size < 1 or self.min_crop_size < 1 or self.expansion_ratio <= 0:
            raise ValueError("target_size, min_crop_size and expansion_ratio must be positive")
        if self.refine_ratio is not None and self.refine_ratio <= 0:
            raise ValueError(f"refine_ratio must be positive, got {self.refine_ratio}")

    def refine_roi(self, prob: np.ndarray, clicks: Sequence[Click]) -> Box | None:
        """After a click run on the full image: the box to run it again on, or None (no
        ``refine_ratio``, or no blob of ``prob`` > ``prob_thresh`` under a positive click);
        updates ``roi``. prob: HxW float, that click's prediction; clicks: all clicks, in
        full-image pixels. The box is ``object_roi`` of the clicked blob (``clicked_object``)."""
        if self.refine_ratio is None:
            return None
        blob = clicked_object(prob > self.prob_thresh, clicks).astype(bool)
        if not blob.any():
            return None
        self.roi = object_roi(blob, clicks, self.refine_ratio, self.min_crop_size)
        return self.roi

    def reset(self) -> None:
        """Forget the object box (new image or new object)."""
        self.roi = None

    def select_roi(self, prev_prob: np.ndarray, clicks: Sequence[Click]) -> Box | None:
        """The box to run this prediction on, or None for the full image; updates ``roi``.

        prev_prob: HxW float, the prediction before the newest click; clicks: all clicks, the
        newest last, in full-image pixels. The object box is recomputed when there is none yet,
        when a positive click falls outside it, or when its IoU with the box of the previous
        prediction drops below ``recompute_iou``. With no pixel above ``prob_thresh`` the full
        image is used and the box kept (RITM would paste the full-image prediction into the stale
        box; see the README).
        """
        if len(clicks) <= self.skip_clicks:
            return None
        pred_mask = prev_prob > self.prob_thresh
        if not pred_mask.any():
            return None
        current = object_roi(pred_mask, clicks, self.expansion_ratio, self.min_crop_size)
        if (
            self.roi is None
            or not holds_positive_clicks(self.roi, clicks)
            or box_iou(current, self.roi) < self.recompute_iou
        ):
            self.roi = current
        return self.roi

    def crop(self, image: torch.Tensor, box: Box) -> torch.Tensor:
        """(B, C, H, W) full image → (B, C, h, w) box content resized bilinearly (corners aligned)
        to ``crop_shape(box, target_size)``."""
        rows, cols = box.slices
        return F.interpolate(
            image[:, :, rows, cols],
            size=crop_shape(box, self.target_size),
            mode="bilinear",
            align_corners=True,
        )

    def crop_clicks(self, box: Box, clicks: Sequence[Click]) -> np.ndarray:
        """(K, 2) float (y, x) of the clicks in the pixels of ``crop(…, box)``
        (``coords.image_to_input``)."""
        yx = np.array([(c.y, c.x) for c in clicks], dtype=np.float64).reshape(-1, 2)
        return image_to_input(box, crop_shape(box, self.target_size), yx)

    @staticmethod
    def paste(crop_prob: torch.Tensor, box: Box, height: int, width: int) -> torch.Tensor:
        """(1, 1, h, w) crop prediction → (1, 1, height, width) map: the crop resized bilinearly
        (corners aligned) back onto the box, zero everywhere else."""
        full = crop_prob.new_zeros((1, 1, height, width))
        rows, cols = box.slices
        full[:, :, rows, cols] = F.interpolate(
            crop_prob, size=(box.height, box.width), mode="bilinear", align_corners=True
        )
        return full


def _range_iou(a0: int, a1: int, b0: int, b1: int) -> float:
    """IoU of the half-open ranges [a0, a1) and [b0, b1) (RITM's inclusive formula, whose
    ``+ 1`` terms are the exclusive ends here)."""
    intersection = max(0, min(a1, b1) - max(a0, b0))
    union = max(1e-6, max(a1, b1) - min(a0, b0))
    return intersection / union


OBJECT_REFINE_RATIO = 4.0
"""How much object mode's refined first click enlarges its blob's box (``ZoomIn.refine_ratio``);
chosen among x3 / x4 / x5 with the object protocol on the real val buildings (the figures are in
MODEL_CARD.md)."""


def object_zoom_in() -> ZoomIn:
    """ZoomIn for object mode (one building in a window about 3x its size): the first click is
    run again on its blob's box x``OBJECT_REFINE_RATIO``, and zoomed crops of at least 100 px
    are resized to a longest side of 192 px instead of RITM's 200 px and 400 px, which enlarge a
    house too far for a model trained on 224² views at 0.5-2x. Measured on the real val
    buildings (MODEL_CARD.md): NoC10@85 and the IoU after one and three clicks all improve."""
    return ZoomIn(target_size=192, min_crop_size=100, refine_ratio=OBJECT_REFINE_RATIO)


def zoom_in_for(one_building: bool, enabled: bool = True) -> bool | ZoomIn:
    """The ``Predictor`` zoom_in argument for a target: ``object_zoom_in()`` for one building
    (object mode, the object protocol), True (RITM's) for a tile, False when ZoomIn is off."""
    if not enabled:
        return False
    return object_zoom_in() if one_building else True
