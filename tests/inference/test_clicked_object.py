"""Object mode's clicked-building rule on hand-made masks."""

import numpy as np

from isegsat.inference import Click
from isegsat.inference.clicked_object import clicked_object


def two_roofs_and_a_lot() -> np.ndarray:
    """40x60 bool prediction: roof A, roof B touching A at one corner (8-connected to it) and a
    parking lot apart from both."""
    pred = np.zeros((40, 60), dtype=bool)
    pred[5:15, 5:15] = True  # A
    pred[15:25, 15:25] = True  # B, diagonal neighbour of A
    pred[5:35, 40:55] = True  # the lot
    return pred


def test_keeps_the_blob_under_a_positive_click_only():
    pred = two_roofs_and_a_lot()
    kept = clicked_object(pred, [Click(20, 45, True)])
    assert kept.dtype == np.uint8 and kept.shape == pred.shape
    np.testing.assert_array_equal(kept, pred & (np.arange(60) >= 40)[None, :])


def test_corner_touching_roofs_are_one_building_and_negative_clicks_keep_nothing():
    pred = two_roofs_and_a_lot()
    kept = clicked_object(pred, [Click(8, 8, True), Click(30, 50, False)])
    assert kept.sum() == 200 and kept[20, 20] == 1 and kept[20, 45] == 0
    assert clicked_object(pred, [Click(20, 45, False)]).sum() == 0


def test_the_edited_building_keeps_its_blob_without_a_positive_click():
    pred = two_roofs_and_a_lot()
    initial = np.zeros(pred.shape, dtype=np.uint8)
    initial[30:32, 50:52] = 1  # the label's old building, inside the lot's blob
    kept = clicked_object(pred, [Click(2, 2, False)], initial)
    assert kept.sum() == 30 * 15 and kept[10, 10] == 0
    assert initial.sum() == 4  # the caller's mask is left as it was


def test_an_empty_prediction_gives_an_empty_mask():
    empty = np.zeros((8, 8), dtype=bool)
    assert not clicked_object(empty, [Click(4, 4, True)]).any()
