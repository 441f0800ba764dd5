"""`isegsat-prelabel IMAGE --out DRAFT.tif`: a first building mask of a whole scene, no clicks.

Runs a non-interactive segmenter (`isegsat-train --preset baseline`) over the scene window by
window (see `isegsat.app.prelabel`) and writes a 0/255 mask on the image's grid that the app opens
as the starting label: `isegsat IMAGE --mask DRAFT.tif`. An interrupted run resumes when the same
command is run again. Arguments are parsed before torch is imported, so `--help` answers at once.

Under `torchrun --nproc-per-node N -m isegsat.app.prelabel_cli ...` (or `torchrun ...
$(which isegsat-prelabel) ...`) the N processes share the windows (see
`isegsat.app.prelabel_ranks`): one GPU each with `--device cuda`, or N CPU processes; process 0
alone writes, reports progress and prints.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from isegsat.app.geo.export_cli import DefaultsFormatter
from isegsat.app.prelabel import DEFAULT_OVERLAP, DEFAULT_TILE
from isegsat.inference.threshold import PRED_THRESHOLD

if TYPE_CHECKING:
    from isegsat.app.prelabel import TileLayout
    from isegsat.app.prelabel_ranks import Ranks

PROG = "isegsat-prelabel"
OUTPUT_SUFFIXES = (".tif", ".tiff")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Pre-label a whole scene with a building segmenter that needs no clicks "
        "(an `isegsat-train --preset baseline` checkpoint), window by window with blended "
        "overlaps; the 0/255 mask GeoTIFF on the image's grid opens in the app with "
        "`isegsat IMAGE --mask DRAFT.tif`. Rerun the same command to resume an interrupted run.",
        formatter_class=DefaultsFormatter,
    )
    parser.add_argument("image", type=Path, help="the scene: a GeoTIFF or any GDAL raster")
    parser.add_argument(
        "--out", type=Path, required=True, help="mask to write (.tif), e.g. DRAFT.tif"
    )
    parser.add_argument(
        "--weights",
        type=Path,
        help="non-interactive checkpoint (isegsat-train --preset baseline); default: the "
        "bundled one, when installed",
    )
    parser.add_argument(
        "--device", choices=("cpu", "cuda"), help="where the model runs; default: CUDA if present"
    )
    parser.add_argument("--tile", type=int, default=DEFAULT_TILE, help="window side, px")
    parser.add_argument(
        "--overlap",
        type=int,
        default=DEFAULT_OVERLAP,
        help="minimum overlap of neighbouring windows, px (at most half the tile); "
        "probabilities are blended over it",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=PRED_THRESHOLD,
        help="a pixel is a building when its blended probability is above this",
    )
    parser.add_argument(
        "--restart",
        action="store_true",
        help="discard an unfinished run of --out instead of resuming it",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.out.suffix.lower() not in OUTPUT_SUFFIXES:
        return _error(f"--out {args.out.name}: the mask is a GeoTIFF, name it .tif")
    if args.out.resolve() == args.image.resolve():
        return _error("--out must not be the image itself")

    from isegsat.app.geo.errors import RasterError
    from isegsat.app.prelabel import TileLayout, check_inputs

    try:
        grid = check_inputs(args.image, args.out)
        layout = TileLayout(grid.width, grid.height, args.tile, args.overlap)
    except (RasterError, OSError, ValueError) as exc:
        return _error(exc)
    if not 0.0 < args.threshold < 1.0:
        return _error(f"--threshold must be between 0 and 1, got {args.threshold}")
    weights = args.weights
    if weights is None:
        from isegsat.resources import bundled_prelabel_model_path

        weights = bundled_prelabel_model_path()
        if weights is None:
            return _error(
                "no pre-labelling model is bundled yet: pass --weights CKPT, a checkpoint "
                "written by `isegsat-train --preset baseline`"
            )

    from isegsat.app.prelabel_ranks import ALONE, join_torchrun, launched_by_torchrun

    ranks = join_torchrun() if launched_by_torchrun() else ALONE
    try:
        return _prelabel(args, layout, weights, ranks)
    finally:
        ranks.close()


def _prelabel(args: argparse.Namespace, layout: TileLayout, weights: Path, ranks: Ranks) -> int:
    """Load the model and run the scene; with several processes, every step is collective."""
    from tqdm import tqdm

    from isegsat.app.geo.errors import Cancelled, RasterError
    from isegsat.app.prelabel import PrelabelError, load_prelabeller, prelabel_scene, state_folder
    from isegsat.app.prelabel_ranks import AnotherProcessFailed, local_device, together
    from isegsat.inference.checkpoint import CheckpointError

    leader = ranks.rank == 0
    say = _error if leader else _quiet_error
    device = local_device(args.device, ranks)
    try:
        segment, model_id = together(
            ranks,
            lambda: load_prelabeller(weights, device),
            (CheckpointError, RuntimeError, ValueError),
        )
    except (CheckpointError, RuntimeError, ValueError, AnotherProcessFailed) as exc:
        return say(exc)
    bar = tqdm(
        total=layout.count,
        desc=PROG,
        unit="window",
        disable=args.quiet or not leader,
        dynamic_ncols=True,
    )

    def progress(done: int, total: int) -> None:
        bar.n = done
        bar.refresh()

    try:
        result = prelabel_scene(
            args.image,
            args.out,
            segment,
            tile=args.tile,
            overlap=args.overlap,
            threshold=args.threshold,
            model_id=model_id,
            restart=args.restart,
            progress=progress,
            ranks=ranks,
        )
    except KeyboardInterrupt:
        bar.close()
        if leader:
            print(
                f"{PROG}: interrupted; the finished rows of windows are kept in "
                f"{state_folder(args.out)}: run the same command again to resume",
                file=sys.stderr,
            )
        return 130
    except (PrelabelError, RasterError, Cancelled, OSError, AnotherProcessFailed) as exc:
        bar.close()
        return say(exc)
    bar.close()
    if leader:
        resumed = f", resumed: {result.windows_run} run now" if result.resumed else ""
        shared = f" in {ranks.world} processes" if ranks.world > 1 else ""
        print(
            f"wrote {result.path}: {result.windows} windows{resumed}{shared}, "
            f"{100 * result.building_fraction:.1f} % building pixels, {result.seconds:.1f} s; "
            f"open it with: isegsat {args.image} --mask {result.path}"
        )
    return 0


def _quiet_error(message: object) -> int:
    """A non-leading process's error: process 0 prints it (it learns of it through ``together``)."""
    return 2


def _error(message: object) -> int:
    text = str(message).strip().splitlines()
    print(f"{PROG}: error: {text[0] if text else type(message).__name__}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
