"""`isegsat [IMAGE] [--mask MASK] [--weights CKPT] [--device cpu|cuda]` — start the app.

Without IMAGE the bundled sample scene opens with its imperfect label as MASK. The model is
CKPT, else `$ISEGSAT_WEIGHTS`, else the bundled default; without any, the app runs without a
model and says so in the status bar.

Qt, torch and the window are imported only after the arguments are parsed, so `--help` and a
usage error answer at once.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from isegsat.app.platform_check import missing_packages_message, missing_xcb_packages
from isegsat.inference.precision import PRECISIONS

if TYPE_CHECKING:
    from isegsat.app.main_window import MainWindow

GENERATING_SAMPLE = "Generating the sample scene (first start only)…"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="isegsat",
        description="Click-based building annotation on aerial GeoTIFFs (RITM HRNet).",
    )
    parser.add_argument(
        "image",
        nargs="?",
        type=Path,
        help="GeoTIFF (or any GDAL raster); default: the bundled sample scene with its "
        "imperfect label",
    )
    parser.add_argument(
        "--mask",
        type=Path,
        help="existing building mask to start the labels from (0/1, 0/255 or Inria RGB, on the "
        "image grid); default: the image's saved labels, else none",
    )
    parser.add_argument(
        "--weights",
        type=Path,
        help="model checkpoint (.pth); default: $ISEGSAT_WEIGHTS, else the bundled model",
    )
    parser.add_argument(
        "--device",
        choices=("cpu", "cuda"),
        help="where the model runs; default: the settings' device, else CUDA when available",
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        help="the model's number format; fp32 forces full precision; default: the settings' "
        "precision, else auto (bf16 where the CPU or GPU runs it faster)",
    )
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def start(window: MainWindow, args: argparse.Namespace) -> None:
    """Open the image (or the sample scene) and start loading the model."""
    from PySide6.QtWidgets import QApplication

    from isegsat.resources import synth

    if args.weights is not None:
        window.load_model(args.weights)
    else:
        window.load_default_model()
    if args.image is not None:
        window.open_image(args.image, args.mask)
        return
    if not synth.sample_scene_paths().exists:  # only the first start writes it (10-20 s)
        window.statusBar().showMessage(GENERATING_SAMPLE)
        QApplication.processEvents()
    scene = synth.ensure_sample_scene()
    window.open_image(scene.image_path, scene.label_path)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    missing = missing_xcb_packages()
    if missing:  # Qt would abort with a message naming the wrong library
        print(missing_packages_message(missing), file=sys.stderr)
        return 1
    from PySide6.QtWidgets import QApplication

    from isegsat.app.main_window import MainWindow
    from isegsat.app.settings import APPLICATION, ORGANISATION

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    window = MainWindow(device=args.device, precision=args.precision)
    app.aboutToQuit.connect(window.shutdown)
    window.show()
    start(window, args)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
