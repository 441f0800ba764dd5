"""``isegsat-prepare``: cut GeoTIFF tiles + building masks into PNG crops and a manifest.

Inputs: the Inria Aerial Image Labeling layout (``AerialImageDataset/train/images/<city><n>.tif``
with ``.../train/gt/<city><n>.tif``), a real-data set folder (``--folder ROOT``: ``ROOT/images``
+ ``ROOT/gt``) or two folders of pairs (``--pairs``). Pairs match by file stem; images are 8-bit
GeoTIFF, PNG or JPEG (RGB, RGBA or grey), masks single-band GeoTIFF or PNG with values 0/255 or 0/1
(a colour-coded RGB mask is refused). With ``--gsd M`` georeferenced images (and their masks) are
resampled to M metres per pixel on the ground; images without georeferencing keep their pixels
unless ``--scale`` is given.

Output, in ``OUT``: ``images/<crop_id>.png`` (RGB), ``masks/<crop_id>.png`` (0/255) and
``manifest.csv`` (crop_id, city, tile, row, col, image, mask, building_fraction, split; for a set
folder ``city`` is the set's name). Crops are ``crop`` x ``crop`` windows that cover the image,
evenly spaced (overlapping a little when the size is not a multiple of ``crop``: 5000 px tiles →
10 x 10 crops of 500 px); an image smaller than ``crop`` is one crop of its own size. Splits:
Inria tiles 1-5 are ``test``; a set folder holds out every ``--val-every``-th image (by sorted
stem) or the ``--val-names`` images as ``val``, so no image is in two splits. Rasterio is imported
here only, so training from a prepared folder never needs it.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from isegsat.inference.atomic_file import write_atomically
from isegsat.training.manifest import write_manifest

INRIA_TILE = re.compile(r"^(?P<city>[a-z-]+?)(?P<n>\d+)\.tif$")
"""Inria tile file name: city (lower-case letters and '-') followed by the tile number."""
INRIA_TEST_TILES = frozenset(range(1, 6))
"""Tiles 1-5 of every city form the test split (the study's and Inria's validation split)."""
IMAGE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg")
MASK_SUFFIXES = (".tif", ".tiff", ".png")
MASK_VALUES = (0, 1, 255)
"""Values a building mask may hold (0 = background; 1 or 255 = building)."""
RESAMPLE_TOLERANCE = 0.01
"""Scale factors within 1 ± this keep the image's pixels."""


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
class PrepareOptions:
    """How tiles become crops: ``crop`` px windows after resampling to ``gsd`` metres per pixel
    (georeferenced images) or by ``scale`` (images without georeferencing); None = keep."""

    crop: int = 500
    gsd: float | None = None
    scale: float | None = None


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
    val_every: int = 0,
    val_names: Iterable[str] = (),
) -> list[TilePair]:
    """Image + mask pairs with the same file stem in two folders, all from one ``city`` (set).

    A tile is in the ``test`` split when its stem, or the number at its end, is in
    ``test_tiles``; else in ``val`` when its stem is in ``val_names`` or it is every
    ``val_every``-th pair in sorted order (the 5th, 10th, ... for 5; a set of fewer images has
    none); else in ``train``.
    """
    images_dir, masks_dir = Path(images_dir), Path(masks_dir)
    if not re.fullmatch(r"[A-Za-z0-9_-]+", city):
        raise PrepareError(f"set/city name must be letters, digits, '_' or '-', got {city!r}")
    if val_every < 0:
        raise PrepareError(f"--val-every must be >= 0, got {val_every}")
    images = _files_by_stem(images_dir, IMAGE_SUFFIXES)
    masks = _files_by_stem(masks_dir, MASK_SUFFIXES)
    paired = _check_pairing(set(images), set(masks), images_dir, masks_dir, allow_missing)
    wanted, held_out = {str(t) for t in test_tiles}, set(val_names)
    unknown = sorted(held_out - paired)
    if unknown:
        raise PrepareError(f"--val-names not found in {images_dir}: {', '.join(unknown)}")
    pairs = []
    for position, stem in enumerate(sorted(paired, key=_natural_key), start=1):
        number = re.search(r"(\d+)$", stem)
        if stem in wanted or (number is not None and str(int(number[1])) in wanted):
            split = "test"
        elif stem in held_out or (val_every and position % val_every == 0):
            split = "val"
        else:
            split = "train"
        pairs.append(TilePair(f"{city}_{stem}", city, stem, images[stem], masks[stem], split))
    if not pairs:
        raise PrepareError(f"no image files found in {images_dir}")
    return pairs


def set_folder_pairs(
    root: str | Path,
    name: str | None = None,
    val_every: int = 5,
    val_names: Iterable[str] = (),
    allow_missing: bool = False,
) -> list[TilePair]:
    """The pairs of a real-data set folder (``root/images`` + ``root/gt``); ``name`` (default:
    the folder's name) becomes the manifest's ``city`` column."""
    root = Path(root)
    if not (root / "images").is_dir() or not (root / "gt").is_dir():
        raise PrepareError(f"{root} must hold images/ and gt/ folders (masks in gt/)")
    return folder_pairs(
        root / "images",
        root / "gt",
        name or root.resolve().name,
        allow_missing=allow_missing,
        val_every=val_every,
        val_names=val_names,
    )


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
    pairs: Sequence[TilePair],
    out: str | Path,
    crop: int = 500,
    workers: int = 1,
    gsd: float | None = None,
    scale: float | None = None,
) -> PrepareResult:
    """Cut every pair into ``crop``-pixel PNG crops under ``out`` and write ``out/manifest.csv``.

    ``gsd`` / ``scale``: see ``PrepareOptions``. Existing complete crops are kept (each PNG is
    written to a tmp file then renamed), so an interrupted run with the same options resumes; the
    manifest is written last, from the crops on disk.
    """
    if crop < 16:
        raise ValueError(f"crop must be at least 16 pixels, got {crop}")
    for name, value in (("gsd", gsd), ("scale", scale)):
        if value is not None and value <= 0:
            raise ValueError(f"{name} must be > 0, got {value}")
    options = PrepareOptions(crop, gsd, scale)
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, object]] = []
    written = 0
    progress = tqdm(total=len(pairs), desc="tiles", unit="tile", disable=None)
    if workers <= 1:
        results = (crop_tile(pair, out, options) for pair in pairs)
        for tile_rows, tile_written in results:
            rows.extend(tile_rows)
            written += tile_written
            progress.update()
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(crop_tile, pair, out, options) for pair in pairs]
            for future in as_completed(futures):
                tile_rows, tile_written = future.result()
                rows.extend(tile_rows)
                written += tile_written
                progress.update()
    progress.close()
    rows.sort(key=lambda row: (row["city"], _natural_key(str(row["tile"])), row["row"], row["col"]))
    manifest = write_manifest(out, rows)
    return PrepareResult(manifest, len(rows), written, len(rows) - written)


def crop_tile(
    pair: TilePair, out: Path, options: PrepareOptions
) -> tuple[list[dict[str, object]], int]:
    """Write the missing crops of one tile; return its manifest rows and the number written."""
    import rasterio

    rows: list[dict[str, object]] = []
    written = 0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
            with rasterio.open(pair.image) as image_src, rasterio.open(pair.mask) as mask_src:
                source = TileSource(pair, image_src, mask_src, options)
                height, width = source.shape
                rows_at = crop_starts(height, options.crop)
                cols_at = crop_starts(width, options.crop)
                for r, top in enumerate(rows_at):
                    for c, left in enumerate(cols_at):
                        crop_id = f"{pair.name}_r{r}_c{c}"
                        image_path = out / "images" / f"{crop_id}.png"
                        mask_path = out / "masks" / f"{crop_id}.png"
                        if image_path.exists() and mask_path.exists():
                            mask = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
                        else:
                            rgb, mask = source.read(top, left, options.crop)
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


def crop_starts(length: int, crop: int) -> list[int]:
    """Start offsets of ``crop``-px windows covering ``length`` px, evenly spaced, the last one
    flush with the end ([0] when ``length <= crop``: one window of ``length`` px)."""
    if length <= crop:
        return [0]
    count = -(-length // crop)
    return [round(i * (length - crop) / (count - 1)) for i in range(count)]


class TileSource:
    """One pair's pixels as crops: RGB uint8 and a 0/255 mask on the (resampled) image grid.

    Without resampling crops are windowed reads (a 5000² Inria tile is never read whole); with a
    scale factor the pair is read once, resized (image: area when shrinking, bilinear when
    enlarging; mask: area coverage >= 0.5 when shrinking, nearest when enlarging) and sliced.
    """

    def __init__(self, pair: TilePair, image_src, mask_src, options: PrepareOptions) -> None:
        if (image_src.height, image_src.width) != (mask_src.height, mask_src.width):
            raise PrepareError(
                f"{pair.image.name}: image is {image_src.width}x{image_src.height} but its "
                f"mask is {mask_src.width}x{mask_src.height}"
            )
        if image_src.count not in (1, 3, 4) or image_src.dtypes[0] != "uint8":
            raise PrepareError(
                f"{pair.image}: need an 8-bit RGB, RGBA or grey image, got "
                f"{image_src.count} band(s) of {image_src.dtypes[0]}"
            )
        if mask_src.count != 1 and mask_src.count not in (3, 4):
            raise PrepareError(f"{pair.mask}: a mask needs one band, got {mask_src.count}")
        self.pair = pair
        self.image_src, self.mask_src = image_src, mask_src
        self.factor = resample_factor(image_src, options)
        self.arrays: tuple[np.ndarray, np.ndarray] | None = None
        self.shape = (image_src.height, image_src.width)
        if self.factor != 1.0:
            self.arrays = self._resampled()
            self.shape = self.arrays[1].shape

    def read(self, top: int, left: int, crop: int) -> tuple[np.ndarray, np.ndarray]:
        """(h x w x 3 uint8 RGB, h x w uint8 0/255) of the window at (top, left), h, w <= crop."""
        from rasterio.windows import Window

        height, width = self.shape
        h, w = min(crop, height - top), min(crop, width - left)
        if self.arrays is not None:
            rgb, mask = self.arrays
            return rgb[top : top + h, left : left + w], mask[top : top + h, left : left + w]
        window = Window(left, top, w, h)
        return self._rgb(self.image_src.read(window=window)), self._mask(
            self.mask_src.read(window=window)
        )

    def _resampled(self) -> tuple[np.ndarray, np.ndarray]:
        rgb, mask = self._rgb(self.image_src.read()), self._mask(self.mask_src.read())
        height, width = mask.shape
        size = (max(1, round(width * self.factor)), max(1, round(height * self.factor)))
        shrink = self.factor < 1.0
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        if shrink:
            coverage = cv2.resize((mask > 0).astype(np.float32), size, interpolation=cv2.INTER_AREA)
            mask = (coverage >= 0.5).astype(np.uint8) * 255
        else:
            mask = cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST_EXACT)
        return rgb, mask

    def _rgb(self, bands: np.ndarray) -> np.ndarray:
        """(C, h, w) uint8 with C in 1, 3, 4 → (h, w, 3) RGB; grey is repeated."""
        rgb = np.repeat(bands, 3, axis=0) if len(bands) == 1 else bands[:3]
        return np.ascontiguousarray(np.moveaxis(rgb, 0, -1))

    def _mask(self, bands: np.ndarray) -> np.ndarray:
        """(C, h, w) mask bands → (h, w) uint8 0/255; refuses colour masks and other values."""
        if len(bands) > 1:
            if not (bands[1:3] == bands[0]).all():
                raise PrepareError(
                    f"{self.pair.mask.name}: an RGB (colour-coded) mask; need a single-band "
                    "building mask with 0 = background and 255 (or 1) = building"
                )
            bands = bands[:1]
        mask = bands[0]
        if not np.isin(mask, MASK_VALUES).all():
            found = ", ".join(str(v) for v in np.unique(mask)[:8])
            raise PrepareError(
                f"{self.pair.mask.name}: mask values must be 0/255 or 0/1, found {found}"
            )
        return (mask > 0).astype(np.uint8) * 255


def resample_factor(src, options: PrepareOptions) -> float:
    """Pixel scale factor for ``src``: its ground resolution / ``options.gsd`` when it is
    georeferenced and a gsd is asked, else ``options.scale``; 1.0 within the tolerance."""
    from isegsat.training.ground_resolution import ground_resolution

    native = ground_resolution(src) if options.gsd else None
    factor = native / options.gsd if native is not None else (options.scale or 1.0)
    return 1.0 if abs(factor - 1.0) <= RESAMPLE_TOLERANCE else factor


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
    return {p.name for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".tif"}


def _files_by_stem(folder: Path, suffixes: Sequence[str]) -> dict[str, Path]:
    """The files of ``folder`` with one of ``suffixes`` by stem; two files of one stem raise."""
    if not folder.is_dir():
        raise PrepareError(f"folder not found: {folder}")
    files: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix.lower() in suffixes:
            if path.stem in files:
                raise PrepareError(f"two files named {path.stem}.* in {folder}")
            files[path.stem] = path
    return files


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
        description="Cut Inria tiles, a real-data set folder (images/ + gt/) or image + mask "
        "pairs into PNG crops and a manifest.csv.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--inria", metavar="ROOT", help="folder holding AerialImageDataset (or it, or its train/)"
    )
    source.add_argument(
        "--folder",
        metavar="ROOT",
        help="real-data set folder holding images/ and gt/ (GeoTIFF, PNG or JPEG)",
    )
    source.add_argument(
        "--pairs",
        nargs=2,
        metavar=("IMAGES_DIR", "MASKS_DIR"),
        help="images and masks matched by file stem",
    )
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--crop", type=int, default=500, help="crop size in pixels")
    parser.add_argument(
        "--gsd",
        type=float,
        help="resample georeferenced images to this ground resolution (metres per pixel)",
    )
    parser.add_argument(
        "--scale",
        type=float,
        help="resize factor for images without georeferencing (e.g. 0.5 halves them)",
    )
    parser.add_argument(
        "--workers", type=int, default=min(8, os.cpu_count() or 1), help="processes"
    )
    parser.add_argument(
        "--name", help="set name for --folder (the manifest's city column; default: folder name)"
    )
    parser.add_argument("--city", help="city (set) name of --pairs tiles (required with --pairs)")
    parser.add_argument(
        "--test-tiles", default="", help="--pairs tiles in the test split, e.g. '1-5' or 'a,b'"
    )
    parser.add_argument(
        "--val-every",
        type=int,
        default=5,
        help="--folder: every N-th image (sorted by name) goes to the val split; 0 = none",
    )
    parser.add_argument(
        "--val-names", default="", help="--folder: comma-separated image stems for the val split"
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
        elif args.folder:
            pairs = set_folder_pairs(
                args.folder,
                args.name,
                args.val_every,
                [n for n in args.val_names.split(",") if n],
                allow_missing=args.allow_missing,
            )
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
        result = prepare(
            pairs, args.out, crop=args.crop, workers=args.workers, gsd=args.gsd, scale=args.scale
        )
    except (PrepareError, ValueError, OSError) as error:
        print(f"isegsat-prepare: error: {error}", file=sys.stderr)
        return 2
    splits = Counter(p.split for p in pairs)
    counts = ", ".join(f"{n} {split}" for split, n in sorted(splits.items()))
    print(
        f"{len(pairs)} tiles ({counts}) -> {result.crops} "
        f"crops ({result.written} written, {result.skipped} already there); {result.manifest}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
