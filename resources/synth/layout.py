"""``write_inria_layout``: a synthetic stand-in for the Inria Aerial Image Labeling training set.

Writes ``root/AerialImageDataset/train/images/<city><n>.tif`` (RGB) and ``.../gt/<city><n>.tif``
(1 band, 0/255) for n = 1..tiles_per_city, georeferenced in each city's UTM zone at 0.3 m/pixel.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .geotiff import north_up_transform, write_mask, write_rgb
from .scene import STYLES, generate_scene
from .streets import PIXEL_M

INRIA_CITIES = ("austin", "chicago", "kitsap", "tyrol-w", "vienna")

# EPSG code, style weights and an approximate UTM origin (west, north) in metres per city.
CITY_CRS = {
    "austin": "EPSG:26914", "chicago": "EPSG:26916", "kitsap": "EPSG:26910",
    "tyrol-w": "EPSG:32632", "vienna": "EPSG:32633",
}  # fmt: skip
CITY_STYLES = {
    "austin": {"suburban": 1.0}, "chicago": {"urban": 1.0}, "kitsap": {"rural": 1.0},
    "tyrol-w": {"rural": 0.6, "suburban": 0.4}, "vienna": {"urban": 1.0},
}  # fmt: skip
CITY_ORIGIN = {
    "austin": (615000.0, 3354000.0), "chicago": (442000.0, 4640000.0),
    "kitsap": (515000.0, 5280000.0), "tyrol-w": (630000.0, 5240000.0),
    "vienna": (595000.0, 5345000.0),
}  # fmt: skip
_GRID_COLUMNS = 6


@dataclass(frozen=True)
class TileJob:
    """Everything one worker needs to write one tile (picklable)."""

    city: str
    number: int
    size: int
    seed: int
    style: str
    image_path: Path
    gt_path: Path


def tile_seed(seed: int, city: str, number: int) -> int:
    """Deterministic 63-bit scene seed for tile ``number`` of ``city`` under the run ``seed``."""
    sequence = np.random.SeedSequence([seed, zlib.crc32(city.encode()), number])
    return int(sequence.generate_state(1, np.uint64)[0] >> np.uint64(1))


def tile_style(city: str, scene_seed: int, styles: dict[str, dict[str, float]] | None) -> str:
    """The style of one tile, drawn from the city's {style: weight} (``styles`` overrides)."""
    weights = (styles or {}).get(city) or CITY_STYLES[city]
    names = sorted(weights)
    unknown = set(names) - set(STYLES)
    if unknown:
        raise ValueError(f"unknown style(s) {sorted(unknown)} for {city}; expected {STYLES}")
    p = np.array([weights[n] for n in names], float)
    return names[np.random.default_rng(scene_seed).choice(len(names), p=p / p.sum())]


def tile_transform(city: str, number: int, size: int):
    """North-up transform of tile ``number``: tiles sit on a 6-wide grid from the city origin."""
    west, north = CITY_ORIGIN[city]
    row, col = divmod(number - 1, _GRID_COLUMNS)
    extent = size * PIXEL_M
    return north_up_transform(west + col * extent, north - row * extent)


def write_tile(job: TileJob) -> str:
    """Generate and write one tile; returns its name ``<city><n>``."""
    scene = generate_scene(job.size, job.size, job.seed, job.style)
    crs = CITY_CRS[job.city]
    transform = tile_transform(job.city, job.number, job.size)
    write_mask(job.gt_path, scene.mask, crs, transform)
    write_rgb(job.image_path, scene.image, crs, transform)
    return f"{job.city}{job.number}"


def write_inria_layout(
    root: str | os.PathLike,
    tiles_per_city: int = 36,
    size: int = 5000,
    seed: int = 0,
    cities: Sequence[str] = INRIA_CITIES,
    styles: dict[str, dict[str, float]] | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> Path:
    """Write a synthetic Inria-layout training set under ``root`` and return its
    ``AerialImageDataset`` folder. Existing tiles (image and gt both present) are skipped, so an
    interrupted run resumes. ``styles`` maps city → {style: weight} and overrides ``CITY_STYLES``.
    ``workers`` processes (default min(2, CPUs)) generate tiles in parallel.
    """
    if tiles_per_city < 1:
        raise ValueError(f"tiles_per_city must be >= 1, got {tiles_per_city}")
    if size < 64:
        raise ValueError(f"tile size must be >= 64 pixels, got {size}")
    unknown = sorted(set(cities) - set(INRIA_CITIES))
    if unknown:
        raise ValueError(f"unknown cities {unknown}; expected some of {INRIA_CITIES}")
    dataset = Path(root) / "AerialImageDataset"
    train = dataset / "train"
    jobs = []
    for city in cities:
        for number in range(1, tiles_per_city + 1):
            image_path = train / "images" / f"{city}{number}.tif"
            gt_path = train / "gt" / f"{city}{number}.tif"
            if image_path.exists() and gt_path.exists():
                continue
            scene_seed = tile_seed(seed, city, number)
            style = tile_style(city, scene_seed, styles)
            jobs.append(TileJob(city, number, size, scene_seed, style, image_path, gt_path))
    (train / "images").mkdir(parents=True, exist_ok=True)
    (train / "gt").mkdir(parents=True, exist_ok=True)
    workers = workers or min(2, os.cpu_count() or 1)
    bar = tqdm(total=len(jobs), desc="synthetic tiles", unit="tile", disable=not progress)
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            write_tile(job)
            bar.update()
    else:
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            for future in as_completed([pool.submit(write_tile, job) for job in jobs]):
                future.result()
                bar.update()
    bar.close()
    return dataset
