"""ZoomIn boxes and crops on hand-made cases (numbers worked out by hand from RITM's rules).

RITM states its boxes with inclusive bounds; `inclusive(top, bottom, left, right)` builds the
half-open `Box` of those bounds, so the hand-computed numbers read as RITM's.
"""

import numpy as np
import pytest
import torch

from isegsat.inference.box import Box
from isegsat.inference.clicks import Click
from isegsat.inference.zoom_in import (
    OBJECT_REFINE_RATIO,
    ZoomIn,
    box_iou,
    clamp_box,
    crop_shape,
    expand_box,
    holds_positive_clicks,
    mask_box,
    object_roi,
    object_zoom_in,
)

inclusive = Box.from_inclusive


def _prob_with_block(shape, top, bottom, left, right, value=0.9):
    prob = np.zeros(shape, dtype=np.float32)
    prob[top : bottom + 1, left : right + 1] = value
    return prob


def test_mask_box_is_tight():
    mask = np.zeros((20, 30), dtype=bool)
    mask[4, 7] = mask[11, 25] = True
    assert mask_box(mask) == inclusive(4, 11, 7, 25)
    assert mask_box(mask).height == 8 and mask_box(mask).width == 19


def test_expand_box_rounds_half_to_even_like_ritm():
    # 10x20 box, centre (14.5, 39.5), expanded to 14x28: edges 7.5, 21.5, 25.5, 53.5.
    assert expand_box(inclusive(10, 19, 30, 49), 1.4, 1) == inclusive(8, 22, 26, 54)


def test_expand_box_enforces_the_minimum_size():
    assert expand_box(inclusive(50, 50, 60, 61), 1.4, 200) == inclusive(-50, 150, -40, 160)


def test_clamp_box_cuts_to_the_image():
    assert clamp_box(inclusive(-50, 150, -40, 160), 120, 90) == inclusive(0, 119, 0, 89)
    assert clamp_box(inclusive(3, 9, 4, 8), 120, 90) == inclusive(3, 9, 4, 8)


def test_box_iou():
    assert box_iou(inclusive(0, 9, 0, 9), inclusive(0, 9, 0, 9)) == 1.0
    assert box_iou(inclusive(0, 9, 0, 9), inclusive(5, 14, 0, 9)) == pytest.approx(5 / 15)
    assert box_iou(inclusive(0, 9, 0, 9), inclusive(5, 14, 5, 14)) == pytest.approx((5 / 15) ** 2)
    assert box_iou(inclusive(0, 9, 0, 9), inclusive(20, 29, 0, 9)) == 0.0


def test_object_roi_adds_positive_clicks_only():
    mask = np.zeros((100, 100), dtype=bool)
    mask[40:50, 40:60] = True
    assert object_roi(mask, [], 1.4, 10) == inclusive(38, 52, 36, 64)
    with_clicks = [Click(52, 50, True), Click(99, 99, False)]
    # Rows 40..52 (13 px) → 18.2 px around 46; the negative click is ignored.
    assert object_roi(mask, with_clicks, 1.4, 10) == inclusive(37, 55, 36, 64)
    assert not mask[52, 50], "the caller's mask is left alone"


def test_object_roi_is_clamped_to_the_image():
    mask = np.zeros((120, 90), dtype=bool)
    mask[0:5, 80:90] = True
    assert object_roi(mask, [], 1.4, 200) == inclusive(0, 102, 0, 89)


def test_positive_clicks_on_the_last_row_or_column_count_as_outside():
    box = inclusive(10, 20, 30, 40)
    assert holds_positive_clicks(box, [Click(10, 30, True), Click(19, 39, True)])
    assert not holds_positive_clicks(box, [Click(20, 35, True)])
    assert not holds_positive_clicks(box, [Click(15, 40, True)])
    assert holds_positive_clicks(box, [Click(0, 0, False)])


def test_crop_shape_keeps_aspect_with_longest_side_at_target():
    assert crop_shape(inclusive(0, 199, 0, 299), 400) == (267, 400)
    assert crop_shape(inclusive(0, 332, 0, 516), 400) == (258, 400)
    assert crop_shape(inclusive(0, 99, 0, 49), 400) == (400, 200)


def test_first_clicks_run_on_the_full_image():
    zoom = ZoomIn(skip_clicks=2, min_crop_size=10)
    prob = _prob_with_block((100, 100), 40, 49, 40, 59)
    assert zoom.select_roi(prob, [Click(45, 50, True)]) is None
    assert zoom.select_roi(prob, [Click(45, 50, True), Click(44, 45, True)]) is None
    assert zoom.roi is None


def test_empty_previous_prediction_runs_on_the_full_image_and_keeps_the_box():
    zoom = ZoomIn(min_crop_size=10)
    clicks = [Click(45, 50, True), Click(44, 45, True)]
    assert zoom.select_roi(np.zeros((100, 100), np.float32), clicks) is None
    assert zoom.roi is None
    assert zoom.select_roi(_prob_with_block((100, 100), 40, 49, 40, 59), clicks) == inclusive(
        38, 52, 36, 64
    )
    empty_again = np.full((100, 100), 0.5, np.float32)  # not above prob_thresh
    assert zoom.select_roi(empty_again, [*clicks, Click(3, 3, False)]) is None
    assert zoom.roi == inclusive(38, 52, 36, 64)


def test_box_is_kept_while_clicks_stay_inside_and_iou_is_high():
    zoom = ZoomIn(min_crop_size=10)
    clicks = [Click(45, 50, True), Click(44, 45, True)]
    assert zoom.select_roi(_prob_with_block((100, 100), 40, 49, 40, 59), clicks) == inclusive(
        38, 52, 36, 64
    )
    # Shifted prediction: its box (38, 52, 37, 65) has IoU 28/30 with the current one → kept.
    shifted = _prob_with_block((100, 100), 40, 49, 41, 60)
    assert zoom.select_roi(shifted, [*clicks, Click(90, 90, False)]) == inclusive(38, 52, 36, 64)


def test_box_is_recomputed_when_a_positive_click_falls_outside():
    zoom = ZoomIn(min_crop_size=10)
    prob = _prob_with_block((100, 100), 40, 49, 40, 59)
    clicks = [Click(45, 50, True), Click(44, 45, True)]
    zoom.select_roi(prob, clicks)
    assert zoom.select_roi(prob, [*clicks, Click(52, 50, True)]) == inclusive(37, 55, 36, 64)


def test_box_is_recomputed_when_iou_drops_below_threshold():
    zoom = ZoomIn(min_crop_size=10)
    clicks = [Click(45, 50, True), Click(44, 45, True)]
    zoom.select_roi(_prob_with_block((100, 100), 40, 49, 40, 59), clicks)
    moved = _prob_with_block((100, 100), 10, 19, 10, 29)
    # Mask rows 10..45, cols 10..50 (positive clicks included) → IoU with the old box 0.29.
    assert zoom.select_roi(moved, [*clicks, Click(15, 20, False)]) == inclusive(2, 53, 1, 59)


def test_reset_forgets_the_box():
    zoom = ZoomIn(min_crop_size=10)
    zoom.select_roi(_prob_with_block((100, 100), 40, 49, 40, 59), [Click(45, 50, True)] * 2)
    zoom.reset()
    assert zoom.roi is None


def test_bad_settings_are_rejected():
    with pytest.raises(ValueError, match="skip_clicks"):
        ZoomIn(skip_clicks=0)
    with pytest.raises(ValueError, match="positive"):
        ZoomIn(target_size=0)


def test_crop_resizes_box_content_with_aligned_corners():
    zoom = ZoomIn(target_size=40)
    rows = torch.arange(60, dtype=torch.float32).view(1, 1, 60, 1).expand(1, 2, 60, 80)
    cols = torch.arange(80, dtype=torch.float32).view(1, 1, 1, 80).expand(1, 2, 60, 80)
    image = (rows * 100 + cols).contiguous()
    box = inclusive(10, 29, 5, 14)  # 20 x 10 → 40 x 20
    crop = zoom.crop(image, box)
    assert crop.shape == (1, 2, 40, 20)
    assert crop[0, 0, 0, 0] == image[0, 0, 10, 5]
    assert crop[0, 1, -1, -1] == image[0, 1, 29, 14]
    # Bilinear resize of a linear ramp is the ramp sampled at aligned positions.
    expected_rows = 10 + torch.arange(40) * 19 / 39
    torch.testing.assert_close(crop[0, 0, :, 0], expected_rows * 100 + 5)


def test_crop_clicks_map_full_image_pixels_into_the_crop():
    zoom = ZoomIn(target_size=40)
    box = inclusive(10, 29, 5, 14)
    yx = zoom.crop_clicks(box, [Click(10, 5, True), Click(20, 14, False)])
    np.testing.assert_allclose(yx, [[0.0, 0.0], [20.0, 18.0]])


def test_paste_fills_the_box_and_zeroes_the_rest():
    crop = torch.linspace(0, 1, 40 * 20).view(1, 1, 40, 20)
    full = ZoomIn.paste(crop, inclusive(10, 29, 5, 14), 60, 80)
    assert full.shape == (1, 1, 60, 80)
    assert full[0, 0, 10, 5] == crop[0, 0, 0, 0]
    assert full[0, 0, 29, 14] == crop[0, 0, -1, -1]
    outside = torch.ones(60, 80, dtype=torch.bool)
    outside[10:30, 5:15] = False
    assert torch.count_nonzero(full[0, 0][outside]) == 0


def test_inclusive_rules_meet_half_open_boxes_at_the_boundary():
    # RITM's box rows 10..19, cols 30..49 is the half-open Box(row 10, col 30, 10 x 20).
    assert inclusive(10, 19, 30, 49) == Box(10, 30, 10, 20)
    expanded = expand_box(Box(10, 30, 10, 20), 1.4, 1)
    assert expanded == Box(8, 26, 15, 29)  # inclusive rows 8..22, cols 26..54
    assert (expanded.last_row, expanded.last_col) == (22, 54)
    assert clamp_box(Box(-50, -40, 201, 201), 120, 90) == Box(0, 0, 120, 90)


def test_refine_roi_is_the_clicked_blob_expanded_and_becomes_the_object_box():
    prob = np.zeros((120, 160), dtype=np.float32)
    prob[40:50, 60:80] = 0.9  # the clicked house
    prob[90:110, 10:30] = 0.9  # a neighbour
    clicks = [Click(45, 70, True)]
    assert ZoomIn(min_crop_size=10).refine_roi(prob, clicks) is None  # RITM: no refinement
    zoom = ZoomIn(min_crop_size=10, refine_ratio=3.0)
    box = zoom.refine_roi(prob, clicks)
    house = np.zeros(prob.shape, dtype=bool)
    house[40:50, 60:80] = True
    assert box == object_roi(house, clicks, 3.0, 10) == zoom.roi
    assert box.height in (30, 31) and box.width in (60, 61)  # 3x the house, not the neighbour
    zoom.reset()
    assert zoom.refine_roi(prob, [Click(5, 5, True)]) is None  # no blob under the click
    assert zoom.refine_roi(prob, [Click(45, 70, False)]) is None and zoom.roi is None
    with pytest.raises(ValueError, match="refine_ratio"):
        ZoomIn(refine_ratio=0.0)


def test_object_zoom_in_refines_on_the_clicked_house_enlarged_by_the_object_ratio():
    prob = np.zeros((400, 400), dtype=np.float32)
    prob[180:220, 170:230] = 0.9  # a 40 x 60 px house
    zoom = object_zoom_in()
    box = zoom.refine_roi(prob, [Click(200, 200, True)])
    assert zoom.refine_ratio == OBJECT_REFINE_RATIO
    # the house fills 1 / OBJECT_REFINE_RATIO of the refined view per side, centred
    assert abs(box.height - OBJECT_REFINE_RATIO * 40) <= 1
    assert abs(box.width - OBJECT_REFINE_RATIO * 60) <= 1
    assert box.row < 180 and box.row + box.height > 220
