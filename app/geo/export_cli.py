"""`isegsat-export`: export a building mask GeoTIFF as a mask GeoTIFF or footprint polygons.

isegsat-export MASK.tif --to OUT.gpkg|.shp|.geojson|.tif [--simplify M] [--regularize]
               [--min-area M2 (default 2)] [--window col,row,w,h] [--values 255|1]
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from rasterio.windows import Window

from isegsat.app.geo.errors import ExportError, GeoWarning
from isegsat.app.geo.export import (
    DEFAULT_MIN_AREA_M2,
    DRIVERS,
    export_footprints,
    export_mask_geotiff,
)
from isegsat.app.geo.polygonize import DEFAULT_BLOCK
from isegsat.app.geo.regularize import DEFAULT_MIN_IOU

RASTER_SUFFIXES = (".tif", ".tiff")


def parse_window(text: str) -> Window:
    """'col,row,width,height' (integers, pixels) -> Window."""
    try:
        col, row, width, height = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"window must be 4 integers col,row,width,height, got {text!r}"
        ) from None
    if width <= 0 or height <= 0:
        raise argparse.ArgumentTypeError(f"window width and height must be > 0, got {text!r}")
    return Window(col, row, width, height)


class DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows every option's default, except the empty ones (None, off switches)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="isegsat-export",
        description="Export a building mask (GeoTIFF, > 0 = building) as a mask GeoTIFF or as "
        "footprint polygons (GeoPackage, Shapefile, GeoJSON in WGS84).",
        formatter_class=DefaultsFormatter,
    )
    parser.add_argument("mask", type=Path, help="mask raster, e.g. a label layer GeoTIFF")
    parser.add_argument(
        "--to",
        type=Path,
        required=True,
        help="output: .gpkg, .shp, .geojson (footprints) or .tif (mask)",
    )
    parser.add_argument(
        "--simplify",
        type=float,
        default=0.0,
        help="Douglas-Peucker tolerance, map units of the mask's CRS (0 = exact pixel outlines)",
    )
    parser.add_argument(
        "--regularize", action="store_true", help="square building outlines to right angles"
    )
    parser.add_argument(
        "--min-iou",
        type=float,
        default=DEFAULT_MIN_IOU,
        help="keep the original outline when the regularised fit has a lower IoU",
    )
    parser.add_argument(
        "--min-area",
        type=float,
        default=DEFAULT_MIN_AREA_M2,
        help="drop footprints smaller than this after simplifying/regularising, m² (as the app)",
    )
    parser.add_argument(
        "--window",
        type=parse_window,
        default=None,
        help="export only col,row,width,height (pixels); default: the whole mask",
    )
    parser.add_argument(
        "--values", type=int, choices=(255, 1), default=255, help="mask GeoTIFF building value"
    )
    parser.add_argument(
        "--block", type=int, default=DEFAULT_BLOCK, help="processing block size, pixels"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    suffix = args.to.suffix.lower()
    if suffix not in RASTER_SUFFIXES and suffix not in DRIVERS:
        print(
            f"isegsat-export: error: unsupported output {args.to.name}: "
            "use .gpkg, .shp, .geojson or .tif",
            file=sys.stderr,
        )
        return 2
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", GeoWarning)
            if suffix in RASTER_SUFFIXES:
                export_mask_geotiff(
                    args.mask, args.to, window=args.window, foreground=args.values, block=args.block
                )
                summary = f"wrote mask {args.to}"
            else:
                result = export_footprints(
                    args.mask,
                    args.to,
                    window=args.window,
                    min_area_m2=args.min_area,
                    simplify=args.simplify,
                    regularize=args.regularize,
                    min_iou=args.min_iou,
                    block=args.block,
                )
                summary = (
                    f"wrote {result.count} footprints to {result.path} ({result.crs or 'no CRS'})"
                )
        for warning in caught:
            print(f"isegsat-export: warning: {warning.message}", file=sys.stderr)
    except ExportError as exc:
        print(f"isegsat-export: error: {exc}", file=sys.stderr)
        return 1
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
