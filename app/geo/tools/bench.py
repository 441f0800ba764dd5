"""Benchmark of the geodata layer: `python -m isegsat.app.geo.tools.bench [--size 20000]`.

Generates, in a temporary directory, a size x size RGB tiled JPEG GeoTIFF (synthetic roofs on
textured ground, written block by block) with external overviews and a copy without, then prints:
time to open + first screen (1920 x 1080) at fit-to-window zoom and at 1:1, reads/s while panning
random screens at 1:1 and at 1/4, label-layer edit + save time, footprint export time of
synthetic buildings to GPKG and SHP, and peak RSS. Figures, not tests.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin
from rasterio.windows import Window

from isegsat.app.geo.export import export_footprints
from isegsat.app.geo.labels import LabelLayer
from isegsat.app.geo.overviews import build_overviews
from isegsat.app.geo.raster import RasterSource

SCREEN = (1080, 1920)  # rows, cols
BLOCK = 512
CRS = "EPSG:32631"


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synthetic_blocks(count: int = 8, seed: int = 0) -> list[np.ndarray]:
    """A few (3, 512, 512) uint8 aerial-looking blocks reused across the scene."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:BLOCK, 0:BLOCK]
    blocks = []
    for _ in range(count):
        ground = 80 + 20 * np.sin(xx / rng.uniform(20, 60)) * np.cos(yy / rng.uniform(20, 60))
        image = np.repeat(ground[None], 3, axis=0) + rng.normal(0, 6, (3, BLOCK, BLOCK))
        for _ in range(12):
            r, c = rng.integers(0, BLOCK - 60, 2)
            h, w = rng.integers(15, 60, 2)
            image[:, r : r + h, c : c + w] = rng.integers(120, 240, (3, 1, 1))
        blocks.append(np.clip(image, 0, 255).astype(np.uint8))
    return blocks


def _tiled_profile(size: int, count: int, **creation: str) -> dict:
    """Profile of a size x size uint8 GeoTIFF of ``count`` bands, BLOCK px tiles, 0.3 m pixels
    in CRS, plus the GDAL creation options ``creation``."""
    return {
        "driver": "GTiff",
        "width": size,
        "height": size,
        "count": count,
        "dtype": "uint8",
        "crs": CRS,
        "transform": from_origin(440_000, 5_420_000, 0.3, 0.3),
        "tiled": True,
        "blockxsize": BLOCK,
        "blockysize": BLOCK,
        **creation,
    }


def write_scene(path: Path, size: int) -> None:
    """size x size RGB JPEG-compressed tiled GeoTIFF (0.3 m pixels), written block by block."""
    blocks = synthetic_blocks()
    profile = _tiled_profile(size, 3, compress="jpeg", photometric="ycbcr", bigtiff="if_safer")
    with rasterio.open(path, "w", **profile) as ds:
        for i, row in enumerate(range(0, size, BLOCK)):
            for j, col in enumerate(range(0, size, BLOCK)):
                h, w = min(BLOCK, size - row), min(BLOCK, size - col)
                data = blocks[(i * 7 + j * 3) % len(blocks)][:, :h, :w]
                ds.write(data, window=Window(col, row, w, h))


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def bench_viewer(path: Path, label: str, size: int, pans: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    source = RasterSource.open(path)
    fit_scale = max(size / SCREEN[1], size / SCREEN[0])
    fit_shape = (round(size / fit_scale), round(size / fit_scale))
    source.read(Window(0, 0, size, size), fit_shape)
    first_fit = time.perf_counter() - start
    source.close()

    start = time.perf_counter()
    source = RasterSource.open(path)
    centre = Window((size - SCREEN[1]) // 2, (size - SCREEN[0]) // 2, SCREEN[1], SCREEN[0])
    source.read(centre, SCREEN)
    first_1to1 = time.perf_counter() - start
    print(
        f"  {label}: open + first screen: fit-to-window {first_fit:.2f} s, 1:1 {first_1to1:.2f} s"
    )
    for zoom, factor in (("1:1", 1), ("1/4", 4)):
        w, h = min(size, SCREEN[1] * factor), min(size, SCREEN[0] * factor)
        start = time.perf_counter()
        for _ in range(pans):
            col, row = rng.integers(0, size - w + 1), rng.integers(0, size - h + 1)
            source.read(Window(int(col), int(row), w, h), (h // factor, w // factor))
        rate = pans / (time.perf_counter() - start)
        print(f"  {label}: panning at {zoom}: {rate:.1f} reads/s (random {w}x{h} windows)")
    source.close()


def synthetic_mask(path: Path, buildings: int, seed: int = 0) -> int:
    """Mask GeoTIFF with about `buildings` rectangles/L-shapes on a grid; returns its size."""
    rng = np.random.default_rng(seed)
    per_row = int(np.ceil(np.sqrt(buildings)))
    pitch = 40
    size = per_row * pitch
    mask = np.zeros((size, size), np.uint8)
    for k in range(buildings):
        r, c = (k // per_row) * pitch + 5, (k % per_row) * pitch + 5
        h, w = rng.integers(12, 30, 2)
        mask[r : r + h, c : c + w] = 255
        if k % 3 == 0:
            mask[r + h - 6 : r + h, c + w : c + w + 8] = 255  # L-shape wing
    profile = _tiled_profile(size, 1, compress="deflate")
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(mask, 1)
    return size


def bench_labels(image: Path, work: Path, size: int, edits: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    layer, create_s = timed(LabelLayer.create, work / "labels.tif", image)
    start = time.perf_counter()
    for _ in range(edits):
        col, row = rng.integers(0, size - 400, 2)
        mask = np.zeros((400, 400), np.uint8)
        mask[50:350, 80:300] = 1
        layer.write(Window(int(col), int(row), 400, 400), mask)
    write_ms = (time.perf_counter() - start) / edits * 1000
    _, flush_s = timed(layer.flush)
    layer.close()
    print(
        f"  label layer {size}x{size}: create {create_s:.2f} s, write (journaled, fsync) "
        f"{write_ms:.1f} ms per 400x400 edit, save of {edits} edits {flush_s:.2f} s"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m isegsat.app.geo.tools.bench", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--size", type=int, default=20_000, help="scene width = height, px")
    parser.add_argument("--buildings", type=int, default=10_000)
    parser.add_argument("--pans", type=int, default=20, help="random reads per zoom level")
    parser.add_argument("--edits", type=int, default=50, help="label edits before the save")
    parser.add_argument("--dir", type=Path, default=None, help="work directory (default: temp)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        work = Path(tmp)
        with_ovr, without_ovr = work / "scene_ovr.tif", work / "scene_plain.tif"
        _, seconds = timed(write_scene, with_ovr, args.size)
        megabytes = with_ovr.stat().st_size / 2**20
        print(
            f"scene {args.size}x{args.size} RGB JPEG tiled: written in {seconds:.1f} s "
            f"({megabytes:.0f} MiB)"
        )
        os.link(with_ovr, without_ovr)
        factors, seconds = timed(build_overviews, with_ovr)
        print(f"build_overviews {factors}: {seconds:.1f} s")
        print(f"peak RSS after generation: {peak_rss_mb():.0f} MiB")
        bench_viewer(with_ovr, "with overviews", args.size, args.pans)
        print(f"peak RSS: {peak_rss_mb():.0f} MiB")
        bench_viewer(without_ovr, "without overviews", args.size, max(2, args.pans // 5))
        print(f"peak RSS: {peak_rss_mb():.0f} MiB")
        bench_labels(with_ovr, work, args.size, args.edits)
        mask = work / "buildings.tif"
        mask_size = synthetic_mask(mask, args.buildings)
        for suffix in (".gpkg", ".shp"):
            result, seconds = timed(export_footprints, mask, work / f"footprints{suffix}")
            print(
                f"export {result.count} buildings ({mask_size}x{mask_size} mask) to "
                f"{suffix}: {seconds:.2f} s"
            )
        result, seconds = timed(
            export_footprints, mask, work / "regular.gpkg", simplify=0.3, regularize=True
        )
        print(
            f"export {result.count} buildings to .gpkg with --simplify 0.3 --regularize: "
            f"{seconds:.2f} s"
        )
        print(f"peak RSS at the end: {peak_rss_mb():.0f} MiB")


if __name__ == "__main__":
    main()
