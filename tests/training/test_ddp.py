"""DDP: torchrun with two CPU processes (gloo) trains and writes one checkpoint, unchanged code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch

from isegsat.inference import load_checkpoint


def test_torchrun_two_cpu_processes(prepared_crops: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "ddp"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        "-m", "isegsat.training.train_cli", "--data", str(prepared_crops), "--out", str(run_dir),
        "--preset", "scratch", "--arch", "hrnet18s", "--crop-size", "64", "64",
        "--batch-size", "2", "--epoch-len", "8", "--epochs", "1", "--workers", "0",
        "--device", "cpu", "--val-every", "0",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 process(es)" in done.stderr
    _, metadata = load_checkpoint(run_dir / "last.pth")
    # 8 samples split over 2 ranks, batch 2 per rank: 2 steps each.
    assert metadata["global_step"] == 2 and metadata["epochs"] == 1
    state = torch.load(run_dir / "train_state.pt", map_location="cpu", weights_only=True)
    assert state["epoch"] == 1
    assert sorted(p.name for p in run_dir.glob("*.pth")) == ["epoch_1.pth", "last.pth"]
