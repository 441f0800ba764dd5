"""Sensor augmentation: shapes and dtypes, the mask follows every geometric change."""

from __future__ import annotations

import numpy as np
import pytest

from isegsat.training.augment import augment, random_dihedral, sensor_jitter


def _roofs(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(90, 120, 3) uint8 image whose bright pixels are exactly the (90, 120) uint8 mask."""
    rng = np.random.default_rng(seed)
    mask = np.zeros((90, 120), np.uint8)
    for _ in range(5):
        y, x = rng.integers(0, 70), rng.integers(0, 100)
        mask[y : y + rng.integers(8, 20), x : x + rng.integers(8, 20)] = 1
    image = np.repeat((40 + 170 * mask)[..., None], 3, axis=2).astype(np.uint8)
    return image, mask


@pytest.mark.parametrize("seed", range(12))
def test_sensor_views_keep_the_mask_on_the_roofs(seed: int) -> None:
    image, mask = _roofs(seed)
    rng = np.random.default_rng(seed)
    view, view_mask = augment(image, mask, (64, 64), rng, (0.5, 2.0), kind="sensor")
    assert view.shape == (64, 64, 3) and view.dtype == np.uint8
    assert view_mask.shape == (64, 64) and view_mask.dtype == np.uint8
    assert set(np.unique(view_mask)) <= {0, 1}
    grey = view.astype(np.float32).mean(axis=2)
    inside, outside = view_mask > 0, (view_mask == 0) & (grey > 0)  # zero padding excluded
    if inside.sum() > 20 and outside.sum() > 20:
        assert np.median(grey[inside]) > np.median(grey[outside]) + 30


def test_dihedral_views_are_the_eight_symmetries() -> None:
    image, mask = _roofs(1)
    image = image[:80, :80]
    mask = mask[:80, :80]
    seen = set()
    for seed in range(200):
        view, view_mask = random_dihedral(image, mask, np.random.default_rng(seed))
        assert ((view[..., 0] > 100) == (view_mask > 0)).all()
        seen.add(view_mask.tobytes())
    assert len(seen) == 8


def test_sensor_jitter_changes_colours_not_shape() -> None:
    image, _ = _roofs(2)
    outputs = [sensor_jitter(image, np.random.default_rng(s)) for s in range(30)]
    assert all(o.shape == image.shape and o.dtype == np.uint8 for o in outputs)
    assert sum(not np.array_equal(o, image) for o in outputs) >= 25
    greys = [
        o for o in outputs if (o[..., 0] == o[..., 1]).all() and (o[..., 1] == o[..., 2]).all()
    ]
    assert greys  # the input is grey already: colour jitter must not be the only change
    with pytest.raises(ValueError, match="augmentation"):
        augment(image, image[..., 0], (32, 32), np.random.default_rng(0), kind="fancy")
