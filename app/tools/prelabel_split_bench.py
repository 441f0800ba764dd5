"""Benchmark of `isegsat-prelabel` split across processes:
`python -m isegsat.app.tools.prelabel_split_bench IMAGE [--processes 1 2] [--device cpu]`.

Runs the real command on IMAGE once per entry of `--processes`, in that order, in one run: 1 as a
plain process, N > 1 under `torchrun --standalone --nproc-per-node N` (on the CPU each process
gets cores / N threads, so every variant uses the same cores; on CUDA each its own GPU). Prints
per variant the wall time (process start to exit: model loading included), the speed-up over
the first variant and how many pixels of its mask differ from the first one's. Figures, not
tests: compare the variants of one run, as ratios.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio


def command(processes: int, image: Path, out: Path, options: list[str]) -> list[str]:
    cli = ["-m", "isegsat.app.prelabel_cli", str(image), "--out", str(out), "--quiet", *options]
    if processes == 1:
        return [sys.executable, *cli]
    launch = ["-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}"]
    return [sys.executable, *launch, *cli]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", type=Path)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--weights", type=Path, help="default: the bundled pre-labeller")
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    options = ["--device", args.device]
    if args.weights is not None:
        options += ["--weights", str(args.weights)]
    first: tuple[float, np.ndarray] | None = None
    print(f"{args.image.name}: {args.device}, {args.cores} cores")
    with tempfile.TemporaryDirectory(prefix="isegsat-split-bench-") as folder:
        for processes in args.processes:
            out = Path(folder) / f"draft_{processes}.tif"
            threads = max(1, args.cores // processes) if args.device == "cpu" else args.cores
            env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
            start = time.perf_counter()
            done = subprocess.run(command(processes, args.image, out, options), env=env)
            seconds = time.perf_counter() - start
            if done.returncode != 0:
                print(f"{processes} process(es): failed with exit status {done.returncode}")
                return 1
            with rasterio.open(out) as draft:
                mask = draft.read(1)
            if first is None:
                first = (seconds, mask)
            differ = int(np.count_nonzero(mask != first[1]))
            print(
                f"{processes} process(es) × {threads} thread(s): {seconds:6.1f} s  "
                f"speed-up {first[0] / seconds:4.2f}×  {differ} px differ from the first"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
