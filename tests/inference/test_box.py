"""The one pixel box: half-open bounds, the inclusive boundary, intersections and clipping."""

import numpy as np
import pytest

from isegsat.inference.box import Box


def test_half_open_bounds_and_slices():
    box = Box(10, 20, 3, 5)  # rows 10, 11, 12; columns 20..24
    assert (box.row_stop, box.col_stop) == (13, 25)
    assert (box.last_row, box.last_col) == (12, 24)
    assert box.shape == (3, 5)
    image = np.arange(40 * 40).reshape(40, 40)
    assert image[box.slices].shape == (3, 5)
    assert image[box.slices][0, 0] == image[10, 20] and image[box.slices][-1, -1] == image[12, 24]


def test_contains_excludes_the_stop_row_and_column():
    box = Box(10, 20, 3, 5)
    assert box.contains(10, 20) and box.contains(12.99, 24.5)
    assert not box.contains(13, 20) and not box.contains(10, 25)
    assert not box.contains(9.99, 22)


def test_inclusive_bounds_round_trip():
    box = Box.from_inclusive(4, 11, 7, 25)
    assert box == Box(4, 7, 8, 19)
    assert Box.from_inclusive(box.row, box.last_row, box.col, box.last_col) == box
    assert Box.from_inclusive(5, 5, 6, 6) == Box(5, 6, 1, 1)


def test_of_mask_is_tight():
    mask = np.zeros((20, 30), dtype=bool)
    mask[4, 7] = mask[11, 25] = True
    assert Box.of_mask(mask) == Box(4, 7, 8, 19)
    with pytest.raises(ValueError):
        Box.of_mask(np.zeros((3, 3), bool))


def test_intersection_and_clip():
    a, b = Box(0, 0, 10, 10), Box(5, 8, 10, 10)
    assert a.intersection(b) == Box(5, 8, 5, 2) == b.intersection(a)
    assert a.intersection(Box(20, 20, 5, 5)).empty
    assert Box(-5, -3, 20, 10).clip(12, 6) == Box(0, 0, 12, 6)
    assert Box(3, 2, 4, 4).clip(12, 6) == Box(3, 2, 4, 4)


def test_negative_sides_are_rejected():
    with pytest.raises(ValueError):
        Box(0, 0, -1, 4)
