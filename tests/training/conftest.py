"""Fixtures for the preparation and training tests: a tiny synthetic Inria tree and its crops."""

from __future__ import annotations

from pathlib import Path

import pytest

from isegsat.resources.synth import write_inria_layout
from isegsat.training.prepare import inria_pairs, prepare

TILE_SIZE = 192
CROP = 96
TILES_PER_CITY = 6  # tiles 1-5 are the test split, tile 6 trains


@pytest.fixture(scope="session")
def inria_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``root/AerialImageDataset/train/{images,gt}``: 5 cities x 6 georeferenced 192 px tiles."""
    root = tmp_path_factory.mktemp("inria")
    write_inria_layout(root, tiles_per_city=TILES_PER_CITY, size=TILE_SIZE, seed=3)
    return root


@pytest.fixture(scope="session")
def prepared_crops(inria_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``isegsat-prepare`` output of ``inria_root`` with 96 px crops (120 crops, 20 train)."""
    out = tmp_path_factory.mktemp("prepared_crops")
    prepare(inria_pairs(inria_root), out, crop=CROP, workers=1)
    return out
