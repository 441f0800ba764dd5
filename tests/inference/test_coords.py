"""Changes of coordinates: image position <-> pixel <-> box-local <-> network input, image <-> map.

Values are worked out by hand; every pair of conversions is also checked as a round trip.
"""

import numpy as np
import pytest
from affine import Affine
from rasterio.transform import rowcol, xy

from isegsat.inference.box import Box
from isegsat.inference.clicks import Click
from isegsat.inference.coords import (
    box_in_box,
    box_to_image,
    clicks_to_box,
    image_to_box,
    image_to_input,
    input_shape,
    input_to_image,
    map_to_pixel,
    pixel_at,
    pixel_to_map,
    shapely_matrix,
)

# Rotated and skewed: x = 2 col + 0.5 row + 100, y = 0.25 col - 3 row + 200.
SKEWED = Affine(2.0, 0.5, 100.0, 0.25, -3.0, 200.0)
NORTH_UP = Affine(0.3, 0.0, 440_000.0, 0.0, -0.3, 5_420_000.0)


def test_pixel_at_floors_positions():
    assert pixel_at(3.0, 4.99) == (3, 4)
    assert pixel_at(0.5, 0.0) == (0, 0)
    assert pixel_at(-0.25, 7.5) == (-1, 7)


def test_clicks_to_and_from_a_box():
    box = Box(100, 40, 64, 80)
    click = Click(110, 45, False)
    local = image_to_box(box, click)
    assert local == Click(10, 5, False)
    assert box_to_image(box, local) == click
    assert clicks_to_box(box, [Click(100, 40, True), click]) == (Click(0, 0, True), local)


def test_box_in_box_selects_the_same_pixels():
    outer, inner = Box(10, 20, 30, 40), Box(15, 30, 5, 6)
    assert box_in_box(outer, inner) == Box(5, 10, 5, 6)
    image = np.arange(100 * 100).reshape(100, 100)
    on_outer = image[outer.slices]
    np.testing.assert_array_equal(on_outer[box_in_box(outer, inner).slices], image[inner.slices])


def test_input_shape_of_a_non_square_crop():
    assert input_shape(Box(0, 0, 200, 300), 400) == (267, 400)
    assert input_shape(Box(7, 9, 100, 50), 400) == (400, 200)


def test_image_to_input_on_a_non_square_crop():
    box = Box(10, 5, 20, 10)  # 20 x 10 -> 40 x 20: both axes scale by 2
    shape = (40, 20)
    yx = image_to_input(box, shape, np.array([[10, 5], [20, 14], [29.5, 9.25]]))
    np.testing.assert_allclose(yx, [[0, 0], [20, 18], [39, 8.5]])
    box = Box(0, 100, 300, 200)  # 300 x 200 -> 400 x 267: rows x 4/3, columns x 1.335
    shape = input_shape(box, 400)
    assert shape == (400, 267)
    np.testing.assert_allclose(image_to_input(box, shape, [(150, 200)]), [[200, 133.5]])


def test_input_round_trip():
    box = Box(37, 11, 123, 58)
    shape = input_shape(box, 400)
    yx = np.random.default_rng(0).uniform([37, 11], [160, 69], size=(50, 2))
    np.testing.assert_allclose(input_to_image(box, shape, image_to_input(box, shape, yx)), yx)


def test_pixel_to_map_on_a_skewed_transform():
    assert pixel_to_map(SKEWED, 4.0, 10.0) == pytest.approx((122.0, 190.5))
    assert pixel_to_map(SKEWED, 0.0, 0.0) == pytest.approx((100.0, 200.0))
    y, x = map_to_pixel(SKEWED, 122.0, 190.5)
    assert (y, x) == pytest.approx((4.0, 10.0))


def test_pixel_to_map_on_arrays_and_round_trip():
    rng = np.random.default_rng(1)
    ys, xs = rng.uniform(-5, 500, 20), rng.uniform(-5, 700, 20)
    for transform in (SKEWED, NORTH_UP):
        map_x, map_y = pixel_to_map(transform, ys, xs)
        back_y, back_x = map_to_pixel(transform, map_x, map_y)
        np.testing.assert_allclose(back_y, ys, atol=1e-6)
        np.testing.assert_allclose(back_x, xs, atol=1e-6)


def test_pixel_centres_agree_with_rasterio():
    row, col = 17, 42
    expected = xy(SKEWED, row, col, offset="center")
    assert pixel_to_map(SKEWED, row + 0.5, col + 0.5) == pytest.approx(expected)
    map_x, map_y = pixel_to_map(NORTH_UP, row + 0.5, col + 0.5)
    assert pixel_at(*map_to_pixel(NORTH_UP, map_x, map_y)) == tuple(rowcol(NORTH_UP, map_x, map_y))


def test_shapely_matrix_maps_like_the_transform():
    shapely = pytest.importorskip("shapely")
    from shapely.affinity import affine_transform

    point = affine_transform(shapely.Point(10.0, 4.0), shapely_matrix(SKEWED))  # (x, y) vertex
    assert (point.x, point.y) == pytest.approx(pixel_to_map(SKEWED, 4.0, 10.0))
