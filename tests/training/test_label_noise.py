"""Imperfect labels: dropped buildings, phantoms, shifts; seeded."""

from __future__ import annotations

import cv2
import numpy as np

from isegsat.training.label_noise import LabelNoise, perturb_label, shift


def _blocks(count: int = 10) -> np.ndarray:
    """Ten 30 x 24 px houses (about 9 x 7 m at 0.3 m) in two rows on a 160 x 300 px crop."""
    mask = np.zeros((160, 300), np.uint8)
    for i in range(count):
        y, x = 20 + 80 * (i % 2), 10 + 29 * i
        mask[y : y + 30, x : x + 24] = 1
    return mask


def _components(mask: np.ndarray) -> int:
    return cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)[0] - 1


def test_buildings_are_dropped_and_phantoms_added_in_the_asked_numbers() -> None:
    mask = _blocks()
    only_drop = LabelNoise(drop_fraction=(0.3, 0.3), phantoms=(0, 0), max_shift=0, morph_prob=0)
    out = perturb_label(mask, np.random.default_rng(0), only_drop)
    assert out.dtype == np.uint8 and set(np.unique(out)) <= {0, 1}
    assert _components(out) == 7 and not (out & ~mask.astype(bool)).any()
    phantoms = LabelNoise(drop_fraction=(0, 0), phantoms=(3, 3), max_shift=0, morph_prob=0)
    out = perturb_label(np.zeros_like(mask), np.random.default_rng(1), phantoms)
    assert 1 <= _components(out) <= 3 and out.sum() >= 12 * 12


def test_default_noise_damages_but_keeps_most_of_the_label() -> None:
    mask = _blocks()
    ious = []
    for seed in range(20):
        out = perturb_label(mask, np.random.default_rng(seed)).astype(bool)
        ious.append((out & (mask > 0)).sum() / (out | (mask > 0)).sum())
    assert min(ious) > 0.3 and max(ious) < 0.98 and 0.5 < np.mean(ious) < 0.9


def test_the_same_seed_gives_the_same_label() -> None:
    mask = _blocks()
    first = perturb_label(mask, np.random.default_rng(7))
    again = perturb_label(mask, np.random.default_rng(7))
    other = perturb_label(mask, np.random.default_rng(8))
    assert np.array_equal(first, again) and not np.array_equal(first, other)


def test_shift_moves_pixels_and_clears_the_uncovered_border() -> None:
    mask = np.zeros((5, 6), np.uint8)
    mask[0, 0] = mask[4, 5] = 1
    moved = shift(mask, -1, -2)  # (0, 0) leaves the grid, (4, 5) goes to (3, 3)
    assert moved.sum() == 1 and moved[3, 3] == 1 and moved[4, 5] == 0
    assert shift(mask, 2, 3)[2, 3] == 1 and shift(mask, 1, -2).sum() == 0
