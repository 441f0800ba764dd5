"""Benchmark of the scene pre-labeller:
`python -m isegsat.app.tools.prelabel_bench [--sizes 5000 20000]`.

For each size, a child process generates a size x size RGB tiled JPEG GeoTIFF (the geodata
benchmark's synthetic roofs, `geo.tools.bench.write_scene`) in a temporary folder and pre-labels
it with `prelabel_scene` at the defaults (512 px windows, 64 px overlap), then prints the windows,
seconds, windows per second and the child's peak RSS. Each size runs in its own process, so its
peak RSS is its own: the pipeline's memory grows with the scene's width (one row of windows),
not with its area (16x the pixels from 5 000² to 20 000²).

The segmenter is a model-free stand-in by default (brightness, so the figures are the pipeline's:
reads, blending, writing), or a real non-interactive checkpoint with `--weights` (on the CPU
about 0.3 s per window for HRNet18s: 20 000² is 1 849 windows). Figures, not tests.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from isegsat.app.geo.tools.bench import peak_rss_mb, write_scene
from isegsat.app.prelabel import load_prelabeller, prelabel_scene


def brightness(rgb: np.ndarray) -> np.ndarray:
    """(h, w, 3) uint8 -> (h, w) float32: bright pixels (the synthetic roofs) are buildings."""
    return (rgb.mean(axis=2, dtype=np.float32) > 115).astype(np.float32)


def run_one(size: int, weights: Path | None, device: str | None) -> None:
    """Generate one scene and pre-label it; prints one line of figures."""
    with tempfile.TemporaryDirectory(prefix="isegsat-prelabel-bench-") as folder:
        image = Path(folder) / f"scene_{size}.tif"
        start = time.perf_counter()
        write_scene(image, size)
        generated = time.perf_counter() - start
        rss_before = peak_rss_mb()
        segment = brightness if weights is None else load_prelabeller(weights, device)[0]
        result = prelabel_scene(image, Path(folder) / "draft.tif", segment)
        rate = result.windows / result.seconds
        print(
            f"{size:>6}²  {result.windows:>5} windows  {result.seconds:7.1f} s  "
            f"{rate:6.1f} windows/s  {100 * result.building_fraction:5.1f} % building  "
            f"peak RSS {peak_rss_mb():6.0f} MiB (after generating the scene "
            f"in {generated:.0f} s: {rss_before:.0f} MiB)",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m isegsat.app.tools.prelabel_bench", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 20000])
    parser.add_argument(
        "--weights", type=Path, help="a non-interactive checkpoint (default: stand-in)"
    )
    parser.add_argument("--device", help="cpu or cuda (default: CUDA when present)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # the child process's size
    args = parser.parse_args(argv)
    if args.one is not None:
        run_one(args.one, args.weights, args.device)
        return 0
    segmenter = args.weights or "brightness stand-in (pipeline only)"
    print(f"prelabel_scene, 512 px windows, 64 px overlap; segmenter: {segmenter}")
    for size in args.sizes:
        extra = ["--weights", str(args.weights)] if args.weights else []
        extra += ["--device", args.device] if args.device else []
        module = "isegsat.app.tools.prelabel_bench"
        command = [sys.executable, "-m", module, "--one", str(size), *extra]
        if subprocess.run(command, check=False).returncode != 0:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
