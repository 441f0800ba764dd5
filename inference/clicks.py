"""Clicks: the click record, RITM's evaluation click simulator and RITM's points encoding.

Coordinates are pixel (row, column) = (y, x) in the image the clicks belong to, origin top-left.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

PADDING_ROW = (-1.0, -1.0, -1.0)


@dataclass(frozen=True)
class Click:
    """One user click at pixel (y, x); positive = "object here", negative = "not object"."""

    y: int
    x: int
    is_positive: bool


def next_click(
    gt_mask: np.ndarray,
    pred_mask: np.ndarray,
    clicks: Sequence[Click] = (),
    ignore_label: int = -1,
) -> Click:
    """The click RITM's evaluation clicker makes next, given the ground truth and the prediction.

    gt_mask: HxW int or bool, 1 = object, ``ignore_label`` = ignored, anything else = background.
    pred_mask: HxW bool (or 0/1) prediction. clicks: clicks made so far; their pixels are never
    chosen again. The largest error region wins: the false-negative (gt & ~pred) and false-positive
    (~gt & pred) maps, both without ignored pixels, are zero-padded by one pixel, distance
    transformed (exact L2) and cropped back; clicked pixels get distance 0. The click is positive
    only when the false-negative maximum is strictly larger than the false-positive one, and lands
    on the first pixel (row-major order) holding that maximum.

    When no error pixel is left (or every one was clicked) both maxima are 0 and, like RITM, the
    result is a negative click at the first pixel of the image, (0, 0).
    """
    gt = np.asarray(gt_mask)
    pred = np.asarray(pred_mask)
    if gt.ndim != 2 or gt.shape != pred.shape:
        raise ValueError(
            "gt_mask and pred_mask must be HxW arrays of one shape, "
            f"got {gt.shape} and {pred.shape}"
        )
    object_mask = gt == 1
    pred = pred.astype(bool)
    counted = gt != ignore_label
    not_clicked = np.ones(gt.shape, dtype=bool)
    for click in clicks:
        check_inside(click.y, click.x, gt.shape)
        not_clicked[click.y, click.x] = False

    fn_distance = _padded_distance(object_mask & ~pred & counted) * not_clicked
    fp_distance = _padded_distance(~object_mask & pred & counted) * not_clicked
    fn_max = fn_distance.max()
    fp_max = fp_distance.max()
    is_positive = bool(fn_max > fp_max)
    distance, peak = (fn_distance, fn_max) if is_positive else (fp_distance, fp_max)
    rows, cols = np.nonzero(distance == peak)
    return Click(y=int(rows[0]), x=int(cols[0]), is_positive=is_positive)


def clicks_to_points(click_lists: Sequence[Sequence[Click]]) -> np.ndarray:
    """Encode a batch of click sequences as RITM's points array.

    Returns (B, 2N, 3) float32, rows (y, x, index of the click in its sequence): the first N rows
    are the positive clicks, the next N the negative ones, each group padded with (-1, -1, -1);
    N = max(1, the largest count of positive or of negative clicks in any sequence).
    """
    coords = [np.array([(c.y, c.x) for c in clicks], dtype=np.float64) for clicks in click_lists]
    positive = [np.array([c.is_positive for c in clicks], dtype=bool) for clicks in click_lists]
    return encode_points(coords, positive)


def encode_points(coords: Sequence[np.ndarray], positive: Sequence[np.ndarray]) -> np.ndarray:
    """RITM points array from per-sequence click coordinates, which may be fractional.

    coords[b]: (K_b, 2) float (y, x) of sequence b's clicks in order; positive[b]: (K_b,) bool.
    Same layout as ``clicks_to_points``; the index column is the click's position in its sequence.
    """
    if len(coords) != len(positive) or not coords:
        raise ValueError("need one positive-flag array per coordinate array, and at least one")
    per_group = max(
        [1] + [int(flags.sum()) for flags in positive] + [int((~flags).sum()) for flags in positive]
    )
    points = np.full((len(coords), 2 * per_group, 3), PADDING_ROW, dtype=np.float32)
    for row, (yx, flags) in enumerate(zip(coords, positive, strict=True)):
        yx = np.asarray(yx, dtype=np.float64).reshape(-1, 2)
        flags = np.asarray(flags, dtype=bool)
        order = np.arange(len(flags), dtype=np.float64)
        rows = np.column_stack([yx, order])
        pos_rows, neg_rows = rows[flags], rows[~flags]
        points[row, : len(pos_rows)] = pos_rows
        points[row, per_group : per_group + len(neg_rows)] = neg_rows
    return points


def error_distance_maps(
    gt_mask: np.ndarray, pred_mask: np.ndarray, ignore_label: int = -1
) -> tuple[np.ndarray, np.ndarray]:
    """Distance maps of the false-negative and false-positive regions (as ``next_click`` uses).

    gt_mask: HxW int or bool (1 = object, ``ignore_label`` = ignored); pred_mask: HxW bool.
    Returns (fn_distance, fp_distance), HxW float32: for each error pixel its exact L2 distance
    to the nearest non-error pixel or the image border, 0 elsewhere. (Added for training's
    iterative click simulation.)
    """
    gt = np.asarray(gt_mask)
    pred = np.asarray(pred_mask).astype(bool)
    object_mask = gt == 1
    counted = gt != ignore_label
    return (
        _padded_distance(object_mask & ~pred & counted),
        _padded_distance(~object_mask & pred & counted),
    )


def _padded_distance(mask: np.ndarray) -> np.ndarray:
    """Exact L2 distance of each True pixel to the nearest False pixel or to the image border."""
    padded = np.pad(mask, 1, mode="constant").astype(np.uint8)
    return cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]


def check_inside(y: int, x: int, shape: tuple[int, ...]) -> None:
    """Raise ValueError unless integer pixel (y, x) lies in an image of ``shape`` (H, W, ...)."""
    y, x = operator.index(y), operator.index(x)
    if not (0 <= y < shape[0] and 0 <= x < shape[1]):
        raise ValueError(f"click (y={y}, x={x}) is outside the {shape[0]}x{shape[1]} image")
