"""RITM's ``MultiPointSampler``: a target object and random positive/negative clicks on it.

Inria crops hold many buildings but no instance ids, so an *object* is one 8-connected component
of the building mask (after augmentation; components under ``min_object_area`` pixels are dropped,
touching buildings count as one). The target is one object, or with probability
``merge_objects_prob`` the union of 2..``max_num_merged_objects`` objects, as RITM does.

Clicks (RITM semantics): the number of positives is 1 + k with P(k) ∝ ``prob_gamma``^k,
k < ``max_num_points``, drawn uniformly inside the target eroded by 3 px (p 0.9, unless that
leaves ≤ 10 px); with merged objects every object gets one click first, the rest come from the
union. The number of negatives is k with P(k) ∝ ``prob_gamma``^k, k ≤ ``max_num_points``; each
comes from one strategy picked per click: background anywhere (p 0.1), other buildings (p 0.4;
background when there are none) or a border band around the target of width
ceil(0.1·sqrt(area)) (p 0.5).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class SampledTarget:
    """``mask`` HxW float32 {0, 1} target; ``points`` (2·max_num_points, 3) float32 rows
    (y, x, index) in pixels of the crop: positives first, then negatives, padded with -1."""

    mask: np.ndarray
    points: np.ndarray


def building_objects(mask: np.ndarray, min_area: int = 80) -> list[np.ndarray]:
    """8-connected components of ``mask`` (HxW, nonzero = building) with ≥ ``min_area`` pixels,
    each as an HxW bool array."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        (mask > 0).astype(np.uint8), connectivity=8
    )
    return [labels == i for i in range(1, count) if stats[i, cv2.CC_STAT_AREA] >= min_area]


def geometric_probs(count: int, gamma: float) -> np.ndarray:
    """Probabilities ∝ gamma^k for k = 0..count-1 (RITM ``generate_probs``)."""
    probs = gamma ** np.arange(count, dtype=np.float64)
    return probs / probs.sum()


class MultiPointSampler:
    """Samples a target and its clicks from a crop's objects (see the module docstring)."""

    def __init__(
        self,
        max_num_points: int = 24,
        prob_gamma: float = 0.8,
        merge_objects_prob: float = 0.15,
        max_num_merged_objects: int = 2,
        expand_ratio: float = 0.1,
        positive_erode_prob: float = 0.9,
        positive_erode_iters: int = 3,
        negative_probs: tuple[float, float, float] = (0.1, 0.4, 0.5),
    ) -> None:
        self.max_num_points = max_num_points
        self.merge_objects_prob = merge_objects_prob
        self.max_num_merged_objects = max_num_merged_objects
        self.expand_ratio = expand_ratio
        self.positive_erode_prob = positive_erode_prob
        self.positive_erode_iters = positive_erode_iters
        self.negative_probs = np.asarray(negative_probs, dtype=np.float64)
        self._pos_probs = geometric_probs(max_num_points, prob_gamma)
        self._neg_probs = geometric_probs(max_num_points + 1, prob_gamma)

    def sample(
        self,
        objects: Sequence[np.ndarray],
        rng: np.random.Generator,
        target_index: int | None = None,
    ) -> SampledTarget:
        """Pick the target among ``objects`` (non-empty list of HxW bool masks) and its clicks.

        ``target_index``: that object is the target, alone (no merge); the others still serve
        as negatives."""
        if not objects:
            raise ValueError("need at least one object to sample a target from")
        if target_index is not None:
            chosen = np.array([target_index])
        else:
            count = 1
            if len(objects) > 1 and rng.random() < self.merge_objects_prob:
                count = int(rng.integers(2, min(len(objects), self.max_num_merged_objects) + 1))
            chosen = rng.choice(len(objects), size=count, replace=False)
        target = np.logical_or.reduce([objects[i] for i in chosen])
        others = [objects[i] for i in range(len(objects)) if i not in set(chosen.tolist())]

        positive_areas = [self._erode(objects[i], rng) for i in chosen]
        positives = self._positive_points(positive_areas, rng)
        background = ~target
        negative_areas = (
            background,
            np.logical_or.reduce(others) if others else background,
            self._border(target),
        )
        negatives = self._negative_points(negative_areas, rng)
        return SampledTarget(target.astype(np.float32), self._encode(positives, negatives))

    def _positive_points(
        self, areas: Sequence[np.ndarray], rng: np.random.Generator
    ) -> list[tuple[int, int]]:
        coords = [np.argwhere(area) for area in areas]
        if len(coords) == 1:
            count = 1 + int(rng.choice(self.max_num_points, p=self._pos_probs))
            return [tuple(coords[0][rng.integers(len(coords[0]))]) for _ in range(count)]
        points = [tuple(c[rng.integers(len(c))]) for c in coords]  # one per merged object
        extra = int(rng.choice(self.max_num_points + 1, p=self._neg_probs))
        for _ in range(min(extra, self.max_num_points - len(points))):
            c = coords[rng.integers(len(coords))]
            points.append(tuple(c[rng.integers(len(c))]))
        return points

    def _negative_points(
        self, areas: Sequence[np.ndarray], rng: np.random.Generator
    ) -> list[tuple[int, int]]:
        count = int(rng.choice(self.max_num_points + 1, p=self._neg_probs))
        coords: list[np.ndarray | None] = [None] * len(areas)
        points = []
        for _ in range(count):
            strategy = int(rng.choice(len(areas), p=self.negative_probs))
            if coords[strategy] is None:
                coords[strategy] = np.argwhere(areas[strategy])
            candidates = coords[strategy]
            if len(candidates):
                points.append(tuple(candidates[rng.integers(len(candidates))]))
        return points

    def _erode(self, mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if rng.random() > self.positive_erode_prob:
            return mask
        kernel = np.ones((3, 3), np.uint8)
        eroded = cv2.erode(mask.astype(np.uint8), kernel, iterations=self.positive_erode_iters)
        return eroded.astype(bool) if eroded.sum() > 10 else mask

    def _border(self, target: np.ndarray) -> np.ndarray:
        radius = int(np.ceil(self.expand_ratio * np.sqrt(target.sum())))
        kernel = np.ones((3, 3), np.uint8)
        expanded = cv2.dilate(target.astype(np.uint8), kernel, iterations=radius).astype(bool)
        return expanded & ~target

    def _encode(
        self, positives: list[tuple[int, int]], negatives: list[tuple[int, int]]
    ) -> np.ndarray:
        n = self.max_num_points
        points = np.full((2 * n, 3), -1.0, dtype=np.float32)
        for offset, group in ((0, positives[:n]), (n, negatives[:n])):
            for k, (y, x) in enumerate(group):
                points[offset + k] = (y, x, k)
        return points


def empty_points(max_num_points: int) -> np.ndarray:
    """(2·max_num_points, 3) float32 of padding rows: no clicks (the non-interactive baseline)."""
    return np.full((2 * max_num_points, 3), -1.0, dtype=np.float32)
