"""``isegsat-prepare``: cut GeoTIFF tiles + building masks into PNG crops and a manifest.

Input is the Inria Aerial Image Labeling layout (``AerialImageDataset/train/images/<city><n>.tif``
with ``.../train/gt/<city><n>.tif``, gt 0/255) or any folder of GeoTIFF + mask pairs matched by
file name (``--pairs``). Output, in ``OUT``: ``images/<crop_id>.png`` (RGB), ``masks/<crop_id>.png``
(0/255) and ``manifest.csv`` (crop_id, city, tile, row, col, image, mask, building_fraction,
split). Crops are non-overlapping ``crop`` x ``crop`` windows; the edge remainder is dropped
(5000 px tiles → 10 x 10 crops of 500 px). Rasterio is imported here only, so training from a
prepared folder never needs it.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import sys
import warnings
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from isegsat.inference.atomic_file import write_atomically

INRIA_TILE = re.compile(r"^(?P<city>[a-z-]+?)(?P<n>\d+)\.tif$")
"""Inria tile file name: city (lower-case letters and '-') followed by the tile number."""
INRIA_TEST_TILES = frozenset(range(1, 6))
"""Tiles 1-5 of every city form the test split (the study's and Inria's validation split)."""
MANIFEST_COLUMNS = (
    "crop_id",
    "city",
    "tile",
    "row",
    "col",
    "image",
    "mask",
    "building_fraction",
    "split",
)
PAIR_SUFFIXES = (".tif", ".tiff")


class PrepareError(ValueError):
    """The input folder is not a valid dataset layout (message names the offending files)."""


@dataclass(frozen=True)
class TilePair:
    """One image tile and its mask; ``name`` prefixes the crop ids (``<city><n>`` for Inria)."""

    name: str
    city: str
    tile: str
    image: Path
    mask: Path
    split: str


@dataclass(frozen=True)
class PrepareResult:
    manifest: Path
    crops: int
    written: int
    skipped: int


def find_inria_train_dir(root: str | Path) -> Path:
    """The ``AerialImageDataset/train`` folder under ``root`` (which may be that folder itself,
    ``AerialImageDataset`` or the folder holding it)."""
    root = Path(root)
    for candidate in (root / "AerialImageDataset" / "train", root / "train", root):
        if (candidate / "images").is_dir() and (candidate / "gt").is_dir():
            return candidate
    raise PrepareError(
        f"no Inria layout under {root}: expected AerialImageDataset/train/images and .../gt "
        "(pass the folder holding AerialImageDataset, AerialImageDataset itself or its train/)"
    )


def inria_pairs(root: str | Path, allow_missing: bool = False) -> list[TilePair]:
    """Inria tiles paired by file name; the city comes from the file name only.

    Raises ``PrepareError`` naming files whose name is not ``<city><n>.tif``, images without a
    mask and masks without an image; with ``allow_missing`` unpaired files are skipped with a
    warning instead.
    """
    train = find_inria_train_dir(root)
    images = _tif_names(train / "images")
    masks = _tif_names(train / "gt")
    bad_names = sorted(name for name in images | masks if not INRIA_TILE.match(name))
    if bad_names:
        raise PrepareError(
            f"file names not of the form <city><n>.tif in {train}: {', '.join(bad_names)}"
        )
    paired = _check_pairing(images, masks, train / "images", train / "gt", allow_missing)
    pairs = []
    for name in sorted(paired):
        match = INRIA_TILE.match(name)
        city, number = match["city"], int(match["n"])
        split = "test" if number in INRIA_TEST_TILES else "train"
        pairs.append(
            TilePair(
                f"{city}{number}",
                city,
                str(number),
                train / "images" / name,
                train / "gt" / name,
                split,
            )
        )
    if not pairs:
        raise PrepareError(f"no image tiles found in {train / 'images'}")
    return pairs


def folder_pairs(
    images_dir: str | Path,
    masks_dir: str | Path,
    city: str,
    test_tiles: Iterable[str] = (),
    allow_missing: bool = False,
) -> list[TilePair]:
    """GeoTIFF + mask pairs with the same file name in two folders, all from one ``city``.

    A tile is in the test split when its file stem, or the number at its end, is in
    ``test_tiles``.
    """
    images_dir, masks_dir = Path(images_dir), Path(masks_dir)
    if not re.fullmatch(r"[A-Za-z0-9-]+", city):
        raise PrepareError(f"city name must be letters, digits or '-', got {city!r}")
    images = _tif_names(images_dir)
    masks = _tif_names(masks_dir)
    paired = _check_pairing(images, masks, images_dir, masks_dir, allow_missing)
    wanted = {str(t) for t in test_tiles}
    pairs = []
    for name in sorted(paired):
        stem = Path(name).stem
        number = re.search(r"(\d+)$", stem)
        is_test = stem in wanted or (number is not None and str(int(number[1])) in wanted)
        pairs.append(
            TilePair(
                f"{city}_{stem}",
                city,
                stem,
                images_dir / name,
                masks_dir / name,
                "test" if is_test else "train",
            )
        )
    if not pairs:
        raise PrepareError(f"no GeoTIFF tiles found in {images_dir}")
    return pairs


def parse_tile_list(text: str) -> list[str]:
    """``"1-5,12,austin7"`` → ``["1", "2", "3", "4", "5", "12", "austin7"]``."""
    tiles: list[str] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        bounds = re.fullmatch(r"(\d+)-(\d+)", part)
        if bounds:
            tiles.extend(str(n) for n in range(int(bounds[1]), int(bounds[2]) + 1))
        else:
            tiles.append(str(int(part)) if part.isdigit() else part)
    return tiles


def prepare(
    pairs: Sequence[TilePair], out: str | Path, crop: int = 500, workers: int = 1
) -> PrepareResult:
    """Cut every pair into ``crop``-pixel PNG crops under ``out`` and write ``out/manifest.csv``.

    Existing complete crops are kept (each PNG is written to a tmp file then renamed), so an
    interrupted run resumes; the manifest is written last, from the crops on disk.
    """
    if crop < 16:
        raise ValueError(f"crop must be at least 16 pixels, got {crop}")
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, object]] = []
    written = 0
    progress = tqdm(total=len(pairs), desc="tiles", unit="tile", disable=None)
    if workers <= 1:
        results = (crop_tile(pair, out, crop) for pair in pairs)
        for tile_rows, tile_written in results:
            rows.extend(tile_rows)
            written += tile_written
            progress.update()
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(crop_tile, pair, out, crop) for pair in pairs]
            for future in as_completed(futures):
                tile_rows, tile_written = future.result()
                rows.extend(tile_rows)
                written += tile_written
                progress.update()
    progress.close()
    rows.sort(key=lambda row: (row["city"], _natural_key(str(row["tile"])), row["row"], row["col"]))
    manifest = out / "manifest.csv"
    tmp = manifest.with_suffix(".csv.tmp")
    try:
        with tmp.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=MANIFEST_COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
        tmp.replace(manifest)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise OSError(error.errno, f"cannot write {manifest}: {error.strerror or error}") from error
    return PrepareResult(manifest, len(rows), written, len(rows) - written)


def crop_tile(pair: TilePair, out: Path, crop: int) -> tuple[list[dict[str, object]], int]:
    """Write the missing crops of one tile; return its manifest rows and the number written."""
    import rasterio
    from rasterio.windows import Window

    rows: list[dict[str, object]] = []
    written = 0
    try:
        with rasterio.open(pair.image) as image_src, rasterio.open(pair.mask) as mask_src:
            if (image_src.height, image_src.width) != (mask_src.height, mask_src.width):
                raise PrepareError(
                    f"{pair.image.name}: image is {image_src.width}x{image_src.height} but its "
                    f"mask is {mask_src.width}x{mask_src.height}"
                )
            if image_src.count < 3 or image_src.dtypes[0] != "uint8":
                raise PrepareError(
                    f"{pair.image}: need an 8-bit RGB GeoTIFF, got {image_src.count} band(s) "
                    f"of {image_src.dtypes[0]}"
                )
            n_rows, n_cols = image_src.height // crop, image_src.width // crop
            if n_rows == 0 or n_cols == 0:
                warnings.warn(f"{pair.image.name} is smaller than one {crop}px crop", stacklevel=2)
            for r in range(n_rows):
                for c in range(n_cols):
                    crop_id = f"{pair.name}_r{r}_c{c}"
                    image_path = out / "images" / f"{crop_id}.png"
                    mask_path = out / "masks" / f"{crop_id}.png"
                    if image_path.exists() and mask_path.exists():
                        mask = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
                    else:
                        window = Window(c * crop, r * crop, crop, crop)
                        rgb = np.moveaxis(image_src.read((1, 2, 3), window=window), 0, -1)
                        mask = (mask_src.read(window=window) > 0).any(axis=0)
                        mask = mask.astype(np.uint8) * 255
                        _write_png(image_path, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
                        _write_png(mask_path, mask)
                        written += 1
                    rows.append(
                        {
                            "crop_id": crop_id,
                            "city": pair.city,
                            "tile": pair.tile,
                            "row": r,
                            "col": c,
                            "image": f"images/{crop_id}.png",
                            "mask": f"masks/{crop_id}.png",
                            "building_fraction": f"{float((mask > 0).mean()):.6f}",
                            "split": pair.split,
                        }
                    )
    except rasterio.errors.RasterioIOError as error:
        raise PrepareError(f"cannot read {pair.image.name} or its mask: {error}") from error
    return rows, written


def _write_png(path: Path, array: np.ndarray) -> None:
    ok, encoded = cv2.imencode(".png", array)
    if not ok:
        raise OSError(f"PNG encoding failed for {path}")
    try:
        write_atomically(path, lambda handle: handle.write(encoded.tobytes()))
    except OSError as error:
        raise OSError(error.errno, f"cannot write {path}: {error.strerror or error}") from error


def _tif_names(folder: Path) -> set[str]:
    if not folder.is_dir():
        raise PrepareError(f"folder not found: {folder}")
    return {p.name for p in folder.iterdir() if p.is_file() and p.suffix.lower() in PAIR_SUFFIXES}


def _check_pairing(
    images: set[str], masks: set[str], images_dir: Path, masks_dir: Path, allow_missing: bool
) -> set[str]:
    """The names present in both folders; unpaired names raise (or warn with allow_missing)."""
    no_mask = sorted(images - masks)
    no_image = sorted(masks - images)
    problems = []
    if no_mask:
        problems.append(f"images without a mask in {masks_dir}: {', '.join(no_mask)}")
    if no_image:
        problems.append(f"masks without an image in {images_dir}: {', '.join(no_image)}")
    if problems:
        message = "; ".join(problems)
        if not allow_missing:
            raise PrepareError(message + " (use --allow-missing to skip them)")
        warnings.warn("skipping unpaired files: " + message, stacklevel=3)
    return images & masks


def _natural_key(text: str) -> tuple[int, str]:
    return (int(text), "") if text.isdigit() else (sys.maxsize, text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="isegsat-prepare",
        description="Cut Inria (or any GeoTIFF + mask pairs) into PNG crops and a manifest.csv.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--inria", metavar="ROOT", help="folder holding AerialImageDataset (or it, or its train/)"
    )
    source.add_argument(
        "--pairs",
        nargs=2,
        metavar=("IMAGES_DIR", "MASKS_DIR"),
        help="GeoTIFF images and masks matched by file name",
    )
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--crop", type=int, default=500, help="crop size in pixels (500)")
    parser.add_argument(
        "--workers", type=int, default=min(8, os.cpu_count() or 1), help="processes"
    )
    parser.add_argument("--city", help="city name of --pairs tiles (required with --pairs)")
    parser.add_argument(
        "--test-tiles", default="", help="--pairs tiles in the test split, e.g. '1-5' or 'a,b'"
    )
    parser.add_argument(
        "--allow-missing", action="store_true", help="skip unpaired files with a warning"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.inria:
            pairs = inria_pairs(args.inria, allow_missing=args.allow_missing)
        else:
            if not args.city:
                parser.error("--pairs needs --city NAME")
            pairs = folder_pairs(
                args.pairs[0],
                args.pairs[1],
                args.city,
                parse_tile_list(args.test_tiles),
                allow_missing=args.allow_missing,
            )
        result = prepare(pairs, args.out, crop=args.crop, workers=args.workers)
    except (PrepareError, ValueError, OSError) as error:
        print(f"isegsat-prepare: error: {error}", file=sys.stderr)
        return 2
    splits = {split: sum(p.split == split for p in pairs) for split in ("train", "test")}
    print(
        f"{len(pairs)} tiles ({splits['train']} train, {splits['test']} test) -> {result.crops} "
        f"crops ({result.written} written, {result.skipped} already there); {result.manifest}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
