"""MultiPointSampler: target choice, click placement and counts, determinism."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from isegsat.training.points_sampler import MultiPointSampler, building_objects, geometric_probs


def _buildings(size: int = 96) -> np.ndarray:
    """Three separate roofs (30x20, 16x16, 24x12 px) and one 6x6 shed below the area limit."""
    mask = np.zeros((size, size), np.uint8)
    cv2.rectangle(mask, (5, 5), (34, 24), 1, -1)
    cv2.rectangle(mask, (60, 10), (75, 25), 1, -1)
    cv2.rectangle(mask, (20, 60), (43, 71), 1, -1)
    cv2.rectangle(mask, (80, 80), (85, 85), 1, -1)
    return mask


def _split(points: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    positives, negatives = points[:n], points[n:]
    return positives[positives[:, 0] >= 0], negatives[negatives[:, 0] >= 0]


def test_building_objects_are_components_above_min_area() -> None:
    objects = building_objects(_buildings(), min_area=80)
    assert sorted(int(o.sum()) for o in objects) == [256, 288, 600]
    assert len(building_objects(_buildings(), min_area=10)) == 4


def test_positives_inside_target_negatives_outside_counts_bounded() -> None:
    objects = building_objects(_buildings())
    sampler = MultiPointSampler(max_num_points=24)
    rng = np.random.default_rng(0)
    counts, merged = [], 0
    for _ in range(300):
        sample = sampler.sample(objects, rng)
        assert sample.points.shape == (48, 3) and sample.points.dtype == np.float32
        positives, negatives = _split(sample.points, 24)
        target = sample.mask > 0
        assert 1 <= len(positives) <= 24 and len(negatives) <= 24
        ys, xs = positives[:, 0].astype(int), positives[:, 1].astype(int)
        assert target[ys, xs].all()
        ys, xs = negatives[:, 0].astype(int), negatives[:, 1].astype(int)
        assert not target[ys, xs].any()
        matches = [bool((target & o).any()) for o in objects]
        assert all(
            np.array_equal(target & o, o) for o, hit in zip(objects, matches, strict=True) if hit
        )
        merged += sum(matches) == 2
        counts.append(len(positives))
    # P(1 positive) = 0.2 / (1 - 0.8^24) ~ 0.2; merging happens with probability 0.15.
    assert 0.1 < np.mean(np.array(counts) == 1) < 0.35
    assert 20 < merged < 75


def test_sampling_is_deterministic_for_a_seed() -> None:
    objects = building_objects(_buildings())
    sampler = MultiPointSampler()
    first = sampler.sample(objects, np.random.default_rng(7))
    again = sampler.sample(objects, np.random.default_rng(7))
    other = sampler.sample(objects, np.random.default_rng(8))
    np.testing.assert_array_equal(first.points, again.points)
    np.testing.assert_array_equal(first.mask, again.mask)
    assert not np.array_equal(first.points, other.points)


def test_single_object_negatives_come_from_background_and_border() -> None:
    objects = building_objects(_buildings())[:1]
    sampler = MultiPointSampler(max_num_points=8)
    rng = np.random.default_rng(1)
    for _ in range(50):
        sample = sampler.sample(objects, rng)
        np.testing.assert_array_equal(sample.mask > 0, objects[0])
        negatives = _split(sample.points, 8)[1].astype(int)
        assert not (sample.mask > 0)[negatives[:, 0], negatives[:, 1]].any()


def test_geometric_probs_and_empty_input() -> None:
    probs = geometric_probs(4, 0.5)
    np.testing.assert_allclose(probs, np.array([8, 4, 2, 1]) / 15)
    with pytest.raises(ValueError, match="at least one object"):
        MultiPointSampler().sample([], np.random.default_rng(0))
