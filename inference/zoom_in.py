"""RITM's ZoomIn: run the model on an enlarged crop around the object instead of the whole image.

After the first click(s) the object's box is taken from the previous prediction (probability above
``prob_thresh``, plus the positive clicks), expanded, clamped to the image, and kept while it stays
valid; the crop is resized so its longest side is ``target_size`` and the crop's prediction is
pasted back into an otherwise zero full-size map. Boxes are inclusive pixel boxes in full-image
coordinates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from isegsat.inference.clicks import Click


class Box(NamedTuple):
    """Inclusive pixel box: rows ``top..bottom`` and columns ``left..right``."""

    top: int
    bottom: int
    left: int
    right: int

    @property
    def height(self) -> int:
        return self.bottom - self.top + 1

    @property
    def width(self) -> int:
        return self.right - self.left + 1

    @property
    def slices(self) -> tuple[slice, slice]:
        """(rows, columns) slices selecting the box from an HxW array."""
        return slice(self.top, self.bottom + 1), slice(self.left, self.right + 1)


def mask_box(mask: np.ndarray) -> Box:
    """Tight box of the True pixels of a non-empty HxW bool mask."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return Box(int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1]))


def expand_box(box: Box, ratio: float, min_size: float) -> Box:
    """Scale the box about its centre by ``ratio``, each side at least ``min_size`` pixels long.

    Like RITM, the new edges are centre ∓ half the new size, rounded half to even.
    """
    row_centre = 0.5 * (box.top + box.bottom)
    col_centre = 0.5 * (box.left + box.right)
    height = max(ratio * box.height, min_size)
    width = max(ratio * box.width, min_size)
    return Box(
        round(row_centre - 0.5 * height),
        round(row_centre + 0.5 * height),
        round(col_centre - 0.5 * width),
        round(col_centre + 0.5 * width),
    )


def clamp_box(box: Box, height: int, width: int) -> Box:
    """The box cut to an image of ``height`` x ``width`` pixels."""
    return Box(
        max(0, box.top), min(height - 1, box.bottom), max(0, box.left), min(width - 1, box.right)
    )


def box_iou(a: Box, b: Box) -> float:
    """IoU of two inclusive boxes (product of the row-range and column-range IoUs, as RITM)."""
    return _range_iou(a.top, a.bottom, b.top, b.bottom) * _range_iou(
        a.left, a.right, b.left, b.right
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
        box.top <= c.y < box.bottom and box.left <= c.x < box.right for c in clicks if c.is_positive
    )


def crop_shape(box: Box, target_size: int) -> tuple[int, int]:
    """(height, width) the box is resized to: longest side ``target_size``, aspect kept."""
    scale = target_size / max(box.height, box.width)
    return round(box.height * scale), round(box.width * scale)


@dataclass
class ZoomIn:
    """RITM's ZoomIn transform with its state: the object box in use (``roi``).

    Defaults are RITM's evaluation/demo ones. The first ``skip_clicks`` clicks (at least 1) run on
    the full image.
    """

    target_size: int = 400
    skip_clicks: int = 1
    expansion_ratio: float = 1.4
    min_crop_size: int = 200
    recompute_iou: float = 0.5
    prob_thresh: float = 0.5
    roi: Box | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.skip_clicks < 1:
            raise ValueError(f"skip_clicks must be at least 1, got {self.skip_clicks}")
        if self.target_size < 1 or self.min_crop_size < 1 or self.expansion_ratio <= 0:
            raise ValueError("target_size, min_crop_size and expansion_ratio must be positive")

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
        """(K, 2) float (y, x) of the clicks in the pixels of ``crop(…, box)``."""
        height, width = crop_shape(box, self.target_size)
        yx = np.array([(c.y, c.x) for c in clicks], dtype=np.float64).reshape(-1, 2)
        yx[:, 0] = height * (yx[:, 0] - box.top) / box.height
        yx[:, 1] = width * (yx[:, 1] - box.left) / box.width
        return yx

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
    intersection = max(0, min(a1, b1) - max(a0, b0) + 1)
    union = max(1e-6, max(a1, b1) - min(a0, b0) + 1)
    return intersection / union
