"""``ensure_sample_scene``: a ready-to-open demo scene plus an imperfect existing label.

The scene (urban west half, suburban east half joined by an arterial road) is generated
deterministically on first use into the user cache and reused afterwards. The label mimics an
outdated vector layer: ~15 % of buildings missing, a few phantom buildings, one shifted patch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from . import geometry, textures
from .geotiff import north_up_transform, write_mask, write_rgb
from .scene import generate_scene
from .streets import m

SAMPLE_VERSION = "sample-v1"
SAMPLE_CRS = "EPSG:26914"  # NAD83 / UTM zone 14N (Austin, Texas)
SAMPLE_ORIGIN = (620000.0, 3352000.0)  # west, north in metres
SAMPLE_SEED = 20240611
OVERVIEWS = (2, 4, 8)


@dataclass(frozen=True)
class SampleScene:
    """Paths of the sample image (RGB GeoTIFF) and its imperfect label (0/255 GeoTIFF)."""

    image_path: Path
    label_path: Path

    @property
    def exists(self) -> bool:
        """Both files are there (the scene was generated before)."""
        return self.image_path.exists() and self.label_path.exists()


@dataclass(frozen=True)
class SampleArrays:
    """In-memory sample: ``image`` (H, W, 3) uint8, ``truth`` and ``label`` (H, W) uint8 {0, 1}."""

    image: np.ndarray
    truth: np.ndarray
    label: np.ndarray


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/isegsat/sample`` or ``~/.cache/isegsat/sample``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "isegsat" / "sample"


def build_sample(size: int = 4000, seed: int = SAMPLE_SEED) -> SampleArrays:
    """Generate the sample scene (size × size pixels) and its degraded label in memory."""
    if size < 128:
        raise ValueError(f"sample size must be >= 128 pixels, got {size}")
    rng = np.random.default_rng(seed)
    west = size // 2
    urban = generate_scene(size, west, seed, "urban")
    suburban = generate_scene(size, size - west, seed + 1, "suburban")
    image = np.concatenate([urban.image, suburban.image], axis=1)
    truth = np.concatenate([urban.mask, suburban.mask], axis=1)
    _arterial(image, truth, west, rng)
    return SampleArrays(image=image, truth=truth, label=degrade_label(truth, rng))


def _arterial(image: np.ndarray, truth: np.ndarray, x: int, rng: np.random.Generator) -> None:
    """Paint a north–south arterial road over the seam at column ``x`` (in place)."""
    half = int(m(9))
    x0, x1 = max(x - half, 0), min(x + half, image.shape[1])
    asphalt = textures.pick(rng, textures.ASPHALT, 4)
    strip = np.clip(asphalt + rng.normal(0, 4, (image.shape[0], x1 - x0, 3)), 0, 255)
    image[:, x0:x1] = strip.astype(np.uint8)
    image[::40, x - 1 : x + 1] = (215, 190, 90)
    image[1::40, x - 1 : x + 1] = (215, 190, 90)
    image[:, x0:x1] = cv2.GaussianBlur(image[:, x0:x1], (0, 0), 0.8)
    truth[:, x0:x1] = 0


def degrade_label(truth: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An outdated copy of ``truth`` (H, W uint8 {0, 1}): ~15 % of buildings removed, phantom
    rectangles added on empty ground, and one block of labels shifted by 6–10 pixels."""
    count, components = cv2.connectedComponents(truth, connectivity=8)
    label = truth.copy()
    if count > 2:
        drop = np.zeros(count, bool)
        chosen = rng.choice(np.arange(1, count), max(1, round(0.15 * (count - 1))), replace=False)
        drop[chosen] = True
        label[drop[components]] = 0
    height, width = truth.shape
    wanted = max(3, int(height * width / 1_500_000))
    for _ in range(wanted * 20):  # rejection sampling: phantoms only on empty ground
        if wanted == 0:
            break
        center = (rng.uniform(0, width), rng.uniform(0, height))
        box = geometry.rectangle(
            center, m(rng.uniform(8, 18)), m(rng.uniform(7, 12)), rng.uniform(0, np.pi)
        )
        x0, y0 = np.maximum(np.floor(box.min(axis=0)).astype(int), 0)
        x1, y1 = np.minimum(np.ceil(box.max(axis=0)).astype(int) + 1, (width, height))
        if x1 <= x0 or y1 <= y0:
            continue
        probe = np.zeros((y1 - y0, x1 - x0), np.uint8)
        geometry.fill(probe, [box - (x0, y0)], 1)
        if not (probe & truth[y0:y1, x0:x1]).any():
            label[y0:y1, x0:x1] |= probe
            wanted -= 1
    patch = max(min(height, width) // 6, 32)
    y0, x0 = rng.integers(0, height - patch), rng.integers(0, width - patch)
    dy, dx = (rng.integers(6, 11) * rng.choice([-1, 1]) for _ in range(2))
    shifted = np.roll(label, (int(dy), int(dx)), axis=(0, 1))
    label[y0 : y0 + patch, x0 : x0 + patch] = shifted[y0 : y0 + patch, x0 : x0 + patch]
    return label


def sample_scene_paths(cache_dir: str | os.PathLike | None = None, size: int = 4000) -> SampleScene:
    """Where `ensure_sample_scene` keeps the scene (nothing is generated; see `.exists`)."""
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    stem = SAMPLE_VERSION if size == 4000 else f"{SAMPLE_VERSION}-{size}"
    return SampleScene(folder / f"{stem}.tif", folder / f"{stem}_label.tif")


def ensure_sample_scene(
    cache_dir: str | os.PathLike | None = None, size: int = 4000
) -> SampleScene:
    """Return the cached sample scene, generating it on first call (≈10–20 s for 4000²).

    Files: ``<cache>/sample-v1[-<size>].tif`` (tiled 512, JPEG-YCbCr, overviews 2/4/8,
    EPSG:26914, 0.3 m) and ``..._label.tif`` (0/255 on the same grid). Both are written to
    temporary files and renamed, so an interrupted first run leaves no corrupt cache.
    """
    scene = sample_scene_paths(cache_dir, size)
    if scene.exists:
        return scene
    arrays = build_sample(size)
    transform = north_up_transform(*SAMPLE_ORIGIN)
    write_mask(scene.label_path, arrays.label, SAMPLE_CRS, transform, OVERVIEWS, block=512)
    write_rgb(scene.image_path, arrays.image, SAMPLE_CRS, transform, OVERVIEWS, block=512)
    return scene
