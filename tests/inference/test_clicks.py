"""RITM evaluation clicker and points encoding on hand-made masks."""

import dataclasses

import numpy as np
import pytest

from isegsat.inference.clicks import Click, clicks_to_points, next_click


def _mask(shape, *blocks, value=1, fill=0):
    """Integer mask of ``shape`` with ``value`` in each inclusive block (r0, r1, c0, c1)."""
    mask = np.full(shape, fill, dtype=np.int64)
    for r0, r1, c0, c1 in blocks:
        mask[r0 : r1 + 1, c0 : c1 + 1] = value
    return mask


def test_click_is_frozen():
    click = Click(3, 4, True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        click.y = 5


def test_missed_object_gets_positive_click_at_its_centre():
    gt = _mask((9, 9), (2, 6, 1, 5))
    assert next_click(gt, np.zeros_like(gt, dtype=bool)) == Click(4, 3, True)


def test_tie_goes_to_first_pixel_in_row_major_order():
    # A 3-row bar: every inner pixel of the middle row is 2 px from the padded border.
    gt = _mask((6, 10), (0, 2, 0, 7))
    assert next_click(gt, np.zeros((6, 10), dtype=bool)) == Click(1, 1, True)


def test_image_border_counts_as_background_through_padding():
    gt = np.ones((5, 5), dtype=np.int64)
    assert next_click(gt, np.zeros((5, 5), dtype=bool)) == Click(2, 2, True)


def test_equal_error_sizes_give_a_negative_click():
    gt = _mask((7, 12), (1, 3, 1, 3))
    pred = _mask((7, 12), (1, 3, 7, 9)).astype(bool)
    assert next_click(gt, pred) == Click(2, 8, False)


def test_strictly_larger_false_negative_gives_a_positive_click():
    gt = _mask((9, 14), (1, 5, 1, 5))
    pred = _mask((9, 14), (1, 3, 9, 11)).astype(bool)
    assert next_click(gt, pred) == Click(3, 3, True)


def test_larger_false_positive_gives_a_negative_click():
    gt = _mask((9, 14), (1, 3, 1, 3))
    pred = _mask((9, 14), (1, 5, 7, 11)).astype(bool)
    assert next_click(gt, pred) == Click(3, 9, False)


def test_single_missed_pixel_inside_the_prediction():
    gt = _mask((7, 7), (1, 5, 1, 5))
    pred = _mask((7, 7), (1, 5, 1, 5)).astype(bool)
    pred[3, 3] = False
    assert next_click(gt, pred) == Click(3, 3, True)


def test_ignored_pixels_are_never_errors():
    gt = _mask((12, 12), (0, 11, 0, 7), value=-1)
    gt[8:11, 9:12] = 1
    pred = np.zeros((12, 12), dtype=bool)
    pred[0:12, 0:8] = True  # all ignored: would otherwise be a huge false positive
    assert next_click(gt, pred) == Click(9, 10, True)


def test_custom_ignore_label():
    gt = _mask((8, 8), (0, 7, 0, 7), value=255)
    gt[2:5, 2:5] = 1
    pred = np.ones((8, 8), dtype=bool)
    pred[2:5, 2:5] = False
    assert next_click(gt, pred, ignore_label=255) == Click(3, 3, True)
    # With the default label, 255 is background and the predicted frame around the hole is a
    # false positive as deep as the hole (2 px), so the tie goes to a negative click.
    assert next_click(gt, pred) == Click(1, 6, False)


def test_clicked_pixels_are_not_chosen_again():
    gt = _mask((7, 7), (1, 5, 1, 5))
    pred = np.zeros((7, 7), dtype=bool)
    assert next_click(gt, pred, [Click(3, 3, True)]) == Click(2, 2, True)
    # Clicks of either sign block their pixel.
    assert next_click(gt, pred, [Click(3, 3, False), Click(2, 2, True)]) == Click(2, 3, True)


def test_no_error_left_gives_negative_click_at_origin():
    gt = _mask((6, 6), (1, 4, 1, 4))
    assert next_click(gt, gt.astype(bool)) == Click(0, 0, False)
    single_error = gt.astype(bool)
    single_error[2, 2] = False
    assert next_click(gt, single_error) == Click(2, 2, True)
    assert next_click(gt, single_error, [Click(2, 2, True)]) == Click(0, 0, False)


def test_next_click_rejects_bad_input():
    gt = np.zeros((4, 5), dtype=np.int64)
    with pytest.raises(ValueError, match="one shape"):
        next_click(gt, np.zeros((5, 4), dtype=bool))
    with pytest.raises(ValueError, match="one shape"):
        next_click(np.zeros((2, 3, 4)), np.zeros((2, 3, 4), dtype=bool))
    with pytest.raises(ValueError, match="outside"):
        next_click(gt, np.zeros((4, 5), dtype=bool), [Click(4, 0, True)])


def test_points_put_positives_first_then_negatives_with_sequence_index():
    clicks = [Click(1, 2, True), Click(3, 4, False), Click(5, 6, True)]
    points = clicks_to_points([clicks])
    assert points.dtype == np.float32
    expected = [[1, 2, 0], [5, 6, 2], [3, 4, 1], [-1, -1, -1]]
    np.testing.assert_array_equal(points, np.array([expected], dtype=np.float32))


def test_points_pad_every_sequence_to_the_batch_maximum():
    batch = [
        [Click(0, 1, False), Click(2, 3, False), Click(4, 5, False)],
        [Click(7, 8, True)],
    ]
    points = clicks_to_points(batch)
    assert points.shape == (2, 6, 3)
    pad = [-1, -1, -1]
    np.testing.assert_array_equal(points[0], [pad, pad, pad, [0, 1, 0], [2, 3, 1], [4, 5, 2]])
    np.testing.assert_array_equal(points[1], [[7, 8, 0], pad, pad, pad, pad, pad])


def test_points_without_clicks_are_one_padded_pair():
    np.testing.assert_array_equal(clicks_to_points([[]]), np.full((1, 2, 3), -1, np.float32))
