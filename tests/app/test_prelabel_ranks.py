"""isegsat-prelabel split across processes (torchrun): the windows are shared, the mask is the
one a single process writes, an error in one process stops all of them, and a run resumes with
another number of processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from fakes.models import BrightContext
from fakes.ranks import run_as_processes
from fakes.rasters import read_band, write_raster

from isegsat.app.geo import Cancelled
from isegsat.app.prelabel import PrelabelError, prelabel_scene, state_folder
from isegsat.app.prelabel_ranks import AnotherProcessFailed, local_device
from isegsat.inference.segmenter import predict_without_clicks
from isegsat.resources import bundled_prelabel_model_path

CPU = torch.device("cpu")
TILING = {"tile": 128, "overlap": 32}  # 3 × 3 windows on the 260 × 300 scene


def _scene(path: Path, height: int = 260, width: int = 300) -> Path:
    rng = np.random.default_rng(3)
    rgb = (40 + rng.integers(0, 20, size=(3, height, width))).astype(np.uint8)
    for row, col, h, w in ((40, 110, 24, 40), (100, 80, 60, 30), (180, 200, 40, 60)):
        rgb[:, row : row + h, col : col + w] = 215  # the first two cross window borders
    return write_raster(path, rgb, block=64)


class _Counted:
    """A BrightContext segmenter that counts its windows and can fail at its ``fail_at``-th."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.model = BrightContext().eval()
        self.windows = 0
        self.fail_at = fail_at

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        self.windows += 1
        if self.windows == self.fail_at:
            raise OSError("the scene's file went away")
        return predict_without_clicks(self.model, rgb, CPU)


@pytest.fixture
def scene(tmp_path: Path) -> Path:
    return _scene(tmp_path / "scene.tif")


@pytest.fixture
def reference(scene: Path, tmp_path: Path) -> np.ndarray:
    out = tmp_path / "one_process.tif"
    prelabel_scene(scene, out, _Counted(), **TILING)
    return read_band(out)


@pytest.mark.parametrize("world", [2, 4])
def test_processes_share_the_windows_and_write_the_mask_of_one(scene, reference, tmp_path, world):
    out = tmp_path / "shared.tif"
    segmenters = [_Counted() for _ in range(world)]
    progress: list[int] = []

    def job(ranks):
        report = (lambda done, total: progress.append(done)) if ranks.rank == 0 else None
        result = prelabel_scene(
            scene, out, segmenters[ranks.rank], ranks=ranks, progress=report, **TILING
        )
        return result, ranks.sums_shapes

    outcomes = run_as_processes(world, job)
    for outcome in outcomes:
        assert not isinstance(outcome, BaseException), outcome
    # window i (row-major) is run by process i % world: 9 windows in all, each once
    assert [s.windows for s in segmenters] == [len(range(r, 9, world)) for r in range(world)]
    leader, _ = outcomes[0]
    assert leader.windows == leader.windows_run == 9 and not leader.resumed
    assert progress[0] == 0 and progress[-1] == 9 and progress == sorted(progress)
    assert len(outcomes[0][1]) == 3  # the sums were added up once per row of windows
    np.testing.assert_array_equal(read_band(out), reference)
    assert reference.any() and not state_folder(out).exists()


def test_an_error_in_one_process_stops_all_and_the_run_resumes(scene, reference, tmp_path):
    out = tmp_path / "shared.tif"
    # process 1 runs windows 1, 3, 5, 7: its third (window 5) is in the second row of windows
    segmenters = [_Counted(), _Counted(fail_at=3)]
    outcomes = run_as_processes(
        2, lambda ranks: prelabel_scene(scene, out, segmenters[ranks.rank], ranks=ranks, **TILING)
    )
    assert isinstance(outcomes[1], OSError)
    assert isinstance(outcomes[0], AnotherProcessFailed)
    assert "process 1: the scene's file went away" in str(outcomes[0])
    state = json.loads((state_folder(out) / "state.json").read_text())
    assert state["rows_done"] == 1 and not out.exists()

    result = prelabel_scene(scene, out, _Counted(), **TILING)  # one process finishes it
    assert result.resumed and result.windows_run == 6
    np.testing.assert_array_equal(read_band(out), reference)


def test_a_run_of_one_process_resumes_with_two(scene, reference, tmp_path):
    out = tmp_path / "shared.tif"
    alone = _Counted()
    with pytest.raises(Cancelled):
        prelabel_scene(scene, out, alone, cancel=lambda: alone.windows >= 4, **TILING)
    outcomes = run_as_processes(
        2, lambda ranks: prelabel_scene(scene, out, _Counted(), ranks=ranks, **TILING)
    )
    assert outcomes[0].resumed and outcomes[0].windows_run == 6, outcomes
    np.testing.assert_array_equal(read_band(out), reference)


def test_other_settings_are_refused_in_every_process(scene, tmp_path):
    out = tmp_path / "shared.tif"
    alone = _Counted()
    with pytest.raises(Cancelled):
        prelabel_scene(scene, out, alone, cancel=lambda: alone.windows >= 4, **TILING)
    outcomes = run_as_processes(
        2, lambda ranks: prelabel_scene(scene, out, _Counted(), ranks=ranks, tile=128, overlap=16)
    )
    assert isinstance(outcomes[0], PrelabelError) and "--restart" in str(outcomes[0])
    assert isinstance(outcomes[1], AnotherProcessFailed) and "--restart" in str(outcomes[1])


def test_each_process_gets_its_own_gpu(monkeypatch):
    class Two:
        rank, world = 1, 2

    monkeypatch.setenv("LOCAL_RANK", "1")
    assert local_device("cpu", Two()) == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert local_device("cuda", Two()) == local_device(None, Two()) == "cuda:1"
    Two.world = 1
    assert local_device("cuda", Two()) == "cuda"


def test_the_command_under_torchrun_writes_the_mask_of_one_process(tmp_path):
    """The real thing: `torchrun --nproc-per-node 2` starts two CPU processes over gloo."""
    scene = _scene(tmp_path / "scene.tif", height=96, width=280)  # 4 windows of 96 px
    weights = bundled_prelabel_model_path()
    assert weights is not None, "the pre-labelling model is bundled with the package"
    common = ["--weights", str(weights), "--device", "cpu", "--tile", "96", "--overlap", "16"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    alone = subprocess.run(
        [sys.executable, "-m", "isegsat.app.prelabel_cli", str(scene), "--out",
         str(tmp_path / "alone.tif"), "--quiet", *common],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert alone.returncode == 0, alone.stderr
    shared = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         "-m", "isegsat.app.prelabel_cli", str(scene), "--out", str(tmp_path / "shared.tif"),
         *common],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert shared.returncode == 0, shared.stderr
    assert shared.stdout.count("wrote ") == 1 and "4 windows in 2 processes" in shared.stdout
    a, b = read_band(tmp_path / "alone.tif"), read_band(tmp_path / "shared.tif")
    assert a.shape == b.shape == (96, 280) and 0.01 < np.count_nonzero(a) / a.size < 0.5
    # the same windows and blending; only the order of float additions may differ
    assert np.count_nonzero(a != b) <= a.size // 10_000


def test_the_split_benchmark_prints_seconds_speed_up_and_differences(tmp_path, capfd):
    from isegsat.app.tools import prelabel_split_bench

    scene = _scene(tmp_path / "scene.tif", height=96, width=280)
    assert prelabel_split_bench.main([str(scene), "--processes", "1", "1", "--cores", "1"]) == 0
    lines = [line for line in capfd.readouterr().out.splitlines() if "process(es)" in line]
    assert len(lines) == 2 and all("speed-up" in line and "0 px differ" in line for line in lines)
