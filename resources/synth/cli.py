"""``isegsat-synth``: write synthetic Inria-layout tiles, the sample scene or a single scene."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .geotiff import north_up_transform, write_mask, write_rgb
from .layout import INRIA_CITIES, write_inria_layout
from .preview import write_preview
from .sample import ensure_sample_scene
from .scene import STYLES, generate_scene

DESCRIPTION = (
    "Write synthetic 0.3 m aerial scenes with exact building masks: an Inria-layout training set, "
    "the app's sample scene, a single scene or a preview mosaic of the styles."
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="isegsat-synth", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    inria = sub.add_parser("inria", help="Inria-layout training set (images/ + gt/)")
    inria.add_argument("--out", type=Path, required=True, help="root folder (gets images/ and gt/)")
    inria.add_argument(
        "--tiles-per-city",
        type=int,
        default=36,
        help="tiles written per city (default: %(default)s)",
    )
    inria.add_argument(
        "--size", type=int, default=5000, help="tile side in pixels (default: %(default)s)"
    )
    inria.add_argument(
        "--seed", type=int, default=0, help="random seed of the first tile (default: %(default)s)"
    )
    inria.add_argument(
        "--workers",
        type=int,
        default=None,
        help="parallel processes (default: 2, or 1 on a one-core machine)",
    )
    inria.add_argument(
        "--cities",
        nargs="+",
        default=list(INRIA_CITIES),
        help=f"city names (default: Inria's five, {' '.join(INRIA_CITIES)})",
    )
    sample = sub.add_parser("sample", help="the demo scene with an imperfect label")
    sample.add_argument(
        "--out", type=Path, default=None, help="cache folder (default: ~/.cache/isegsat/sample)"
    )
    sample.add_argument(
        "--size", type=int, default=4000, help="scene side in pixels (default: %(default)s)"
    )
    scene = sub.add_parser("scene", help="one scene: FILE.tif and FILE_mask.tif")
    scene.add_argument("--out", type=Path, required=True, help="FILE.tif to write")
    scene.add_argument(
        "--size", type=int, default=2000, help="scene side in pixels (default: %(default)s)"
    )
    scene.add_argument(
        "--style",
        choices=STYLES,
        default="suburban",
        help="kind of settlement (default: %(default)s)",
    )
    scene.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    preview = sub.add_parser("preview", help="2x2 PNG mosaic of the styles (README picture)")
    preview.add_argument("--out", type=Path, required=True, help="PNG file to write")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "inria":
            path = write_inria_layout(
                args.out,
                args.tiles_per_city,
                args.size,
                args.seed,
                args.cities,
                workers=args.workers,
            )
            print(path)
        elif args.command == "sample":
            result = ensure_sample_scene(args.out, size=args.size)
            print(result.image_path)
            print(result.label_path)
        elif args.command == "preview":
            print(write_preview(args.out))
        else:
            generated = generate_scene(args.size, args.size, args.seed, args.style)
            transform = north_up_transform(500000.0, 5000000.0)
            mask_path = args.out.with_name(f"{args.out.stem}_mask.tif")
            write_rgb(args.out, generated.image, "EPSG:32633", transform)
            write_mask(mask_path, generated.mask, "EPSG:32633", transform)
            print(args.out)
            print(mask_path)
    except (ValueError, OSError) as error:
        print(f"isegsat-synth: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
