"""Fixtures for the Qt app tests: redirected settings, no dangling threads, a tiny georeferenced
scene, a deterministic test model and a small random-init HRNet18s checkpoint."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from affine import Affine
from PySide6.QtCore import QSettings, QThread
from rasterio.crs import CRS
from torch import nn

from isegsat.inference import build_model, save_checkpoint

SCENE_CRS = CRS.from_epsg(32633)  # WGS 84 / UTM 33N
SCENE_TRANSFORM = Affine(0.3, 0.0, 500000.0, 0.0, -0.3, 5000000.0)


@pytest.fixture(autouse=True)
def redirect_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """QSettings (and the label fallback cache) live under tmp_path, never in the user's home."""
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "qs"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("ISEGSAT_WEIGHTS", raising=False)


@pytest.fixture(autouse=True)
def no_dangling_qthreads(monkeypatch: pytest.MonkeyPatch):
    """Fail a test that leaves a QThread running (the thread is stopped so the run goes on).

    Started threads are held by strong references until the check, so a leaked one cannot be
    garbage-collected while running (which aborts the interpreter)."""
    started: list[QThread] = []
    original_start = QThread.start

    def tracking_start(self, *args):
        started.append(self)
        return original_start(self, *args)

    monkeypatch.setattr(QThread, "start", tracking_start)
    yield
    running = [thread for thread in started if thread.isRunning()]
    for thread in running:
        stop = getattr(thread, "stop", None)
        stop() if stop is not None else (thread.quit(), thread.wait(2000))
    assert not running, f"test left QThreads running: {running}"


@dataclass(frozen=True)
class Scene:
    """A 160 x 192 px RGB GeoTIFF: dark ground with two bright buildings (row, col, h, w)."""

    path: Path
    buildings: tuple[tuple[int, int, int, int], ...]
    height: int = 160
    width: int = 192


def write_scene(path: Path) -> Scene:
    rng = np.random.default_rng(0)
    height, width = 160, 192
    rgb = (40 + rng.integers(0, 20, size=(3, height, width))).astype(np.uint8)
    buildings = ((20, 24, 30, 40), (96, 120, 36, 44))
    for row, col, h, w in buildings:
        rgb[:, row : row + h, col : col + w] = (210, 200, 190)[0]
    profile = dict(
        driver="GTiff", width=width, height=height, count=3, dtype="uint8",
        crs=SCENE_CRS, transform=SCENE_TRANSFORM, tiled=True, blockxsize=64, blockysize=64,
    )  # fmt: skip
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(rgb)
    return Scene(path, buildings)


@pytest.fixture
def scene(tmp_path: Path) -> Scene:
    folder = tmp_path / "scene"
    folder.mkdir()
    return write_scene(folder / "city1.tif")


class BrightNearClicks(nn.Module):
    """Deterministic RITM-convention test model: an object is every bright pixel (mean RGB > 0.5)
    within `reach` px of a positive click, minus pixels within `reach` of a negative click.

    Input image (B, 4, H, W) (RGB + prev mask), points (B, 2N, 3) rows (y, x, index); returns
    {'instances': logits (B, 1, H, W)} of +8 / -8. `delay_s` makes each call slow (stale tests).
    """

    with_prev_mask = True
    with_aux_output = False
    norm_radius = 5

    def __init__(self, reach: float = 40.0, delay_s: float = 0.0) -> None:
        super().__init__()
        self.reach, self.delay_s = reach, delay_s
        self.calls = 0
        self.anchor = nn.Parameter(torch.zeros(1))

    def forward(self, image: torch.Tensor, points: torch.Tensor) -> dict[str, torch.Tensor]:
        self.calls += 1
        time.sleep(self.delay_s)
        b, _, h, w = image.shape
        bright = image[:, :3].mean(dim=1, keepdim=True) > 0.5
        ys = torch.arange(h, dtype=torch.float32).view(1, 1, h, 1)
        xs = torch.arange(w, dtype=torch.float32).view(1, 1, 1, w)
        half = points.shape[1] // 2
        near_pos = torch.zeros((b, 1, h, w), dtype=torch.bool)
        near_neg = torch.zeros_like(near_pos)
        for i in range(b):
            for k, (y, x, _) in enumerate(points[i].tolist()):
                if y < 0:
                    continue
                near = (ys[0] - y) ** 2 + (xs[0] - x) ** 2 <= self.reach**2
                target = near_pos if k < half else near_neg
                target[i] |= near
        obj = bright & near_pos & ~near_neg
        return {"instances": torch.where(obj, 8.0, -8.0) + 0 * self.anchor}


@pytest.fixture
def test_model() -> BrightNearClicks:
    return BrightNearClicks().eval()


@pytest.fixture(scope="session")
def hrnet_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-init HRNet18s saved with save_checkpoint (real loading path, meaningless output)."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "hrnet18s_random.pth"
    save_checkpoint(build_model("hrnet18s"), path, {"note": "random init, tests only"})
    return path
