"""`isegsat [IMAGE] [--mask MASK] [--weights CKPT] [--device cpu|cuda]` — start the app.

Without IMAGE the bundled sample scene opens with its imperfect label as MASK. The model is
CKPT, else `$ISEGSAT_WEIGHTS`, else the bundled default; without any, the app runs without a
model and says so in the status bar.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication

from isegsat.app.main_window import MainWindow
from isegsat.app.settings import APPLICATION, ORGANISATION
from isegsat.training import synth


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="isegsat",
        description="Click-based building annotation on aerial GeoTIFFs (RITM HRNet). Without "
        "IMAGE the bundled sample scene opens with its imperfect label.",
    )
    parser.add_argument("image", nargs="?", type=Path, help="GeoTIFF (or any GDAL raster)")
    parser.add_argument("--mask", type=Path, help="existing building mask to relabel")
    parser.add_argument(
        "--weights", type=Path, help="model checkpoint (.pth); default $ISEGSAT_WEIGHTS or bundled"
    )
    parser.add_argument("--device", choices=("cpu", "cuda"), help="default: CUDA if available")
    return parser.parse_args(argv)


def start(window: MainWindow, args: argparse.Namespace) -> None:
    """Open the image (or the sample scene) and start loading the model."""
    if args.weights is not None:
        window.load_model(args.weights)
    else:
        window.load_default_model()
    if args.image is not None:
        window.open_image(args.image, args.mask)
        return
    window.statusBar().showMessage("Preparing the sample scene (first start only)…")
    QApplication.processEvents()
    scene = synth.ensure_sample_scene()
    window.open_image(scene.image_path, scene.label_path)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    window = MainWindow(device=args.device)
    app.aboutToQuit.connect(window.shutdown)
    window.show()
    start(window, args)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
