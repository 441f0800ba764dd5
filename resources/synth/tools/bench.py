"""Timing of ``generate_scene``: ``python -m isegsat.resources.synth.tools.bench [SIZE] [REPEATS]``.

Prints wall-clock seconds per scene for each style on one process (the generator is
single-threaded numpy/OpenCV apart from OpenCV's own worker threads).
"""

from __future__ import annotations

import sys
import time

import cv2

from ..scene import STYLES, generate_scene


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    size = int(args[0]) if args else 5000
    repeats = int(args[1]) if len(args) > 1 else 2
    cv2.setNumThreads(1)
    print(f"generate_scene {size}x{size}, {repeats} seeds per style, 1 OpenCV thread")
    for style in STYLES:
        times = []
        for seed in range(repeats):
            start = time.perf_counter()
            scene = generate_scene(size, size, seed, style)
            times.append(time.perf_counter() - start)
        print(
            f"{style:9s} mean {sum(times) / len(times):6.2f} s  min {min(times):6.2f} s  "
            f"building fraction {scene.mask.mean():.3f} (last seed)"
        )


if __name__ == "__main__":
    main()
