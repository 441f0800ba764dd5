"""Build external overviews (<image>.ovr) the way QGIS / gdaladdo do: factors 2, 4, 8, ... until the
coarsest level fits in 256 x 256 px, average resampling, compressed like the image."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from os import PathLike
from pathlib import Path

import rasterio
from rasterio.enums import Resampling
from rasterio.errors import RasterioError

from isegsat.app.geo.errors import Cancelled, RasterError

MIN_OVERVIEW_SIZE = 256
_POLL_SECONDS = 0.25
ProgressCallback = Callable[[float], None]
CancelHook = Callable[[], bool]


def overview_factors(width: int, height: int, min_size: int = MIN_OVERVIEW_SIZE) -> list[int]:
    """Power-of-two decimation factors whose last level is the first to fit in min_size px."""
    factors: list[int] = []
    factor = 1
    while math.ceil(width / factor) > min_size or math.ceil(height / factor) > min_size:
        factor *= 2
        factors.append(factor)
    return factors


def build_overviews(
    path: str | PathLike,
    progress: ProgressCallback | None = None,
    cancel: CancelHook | None = None,
    resampling: Resampling = Resampling.average,
) -> list[int]:
    """Write `<path>.ovr` with all overview factors; return the factors built.

    Safe to call from a worker thread; needs write access to the image's directory. GDAL builds
    all levels in one pass (each level from the previous one) on a helper thread, which it can
    neither interrupt nor report on, so while it runs the calling thread estimates
    `progress(fraction)` from the growing .ovr size (0.0 first, at most 0.95 until done, then 1.0).
    `cancel()` is polled too: a cancel stops the build before it starts, or discards its result
    once GDAL returns; either way the .ovr is removed and `Cancelled` is raised.
    An existing .ovr is replaced; on failure no partial .ovr is left.
    Raises RasterError when the file cannot be read or the .ovr cannot be written.
    """
    path = Path(path)
    ovr = path.with_name(path.name + ".ovr")
    try:
        with rasterio.open(path) as ds:
            factors = overview_factors(ds.width, ds.height)
            options = _overview_options(ds.profile)
    except RasterioError as exc:
        raise RasterError(f"cannot open {path} to build overviews: {exc}") from exc
    if progress:
        progress(0.0)
    if cancel is not None and cancel():
        raise Cancelled(f"overview build for {path} cancelled")
    if factors:
        ovr.unlink(missing_ok=True)
        expected_bytes = path.stat().st_size * sum(1 / f**2 for f in factors)
        failures: list[BaseException] = []

        def run() -> None:
            try:
                with rasterio.Env(TIFF_USE_OVR=True, **options), rasterio.open(path, "r+") as ds:
                    ds.build_overviews(factors, resampling)
            except BaseException as exc:  # re-raised in the calling thread
                failures.append(exc)

        worker = threading.Thread(target=run, name=f"overviews {path.name}", daemon=True)
        worker.start()
        cancelled = False
        while worker.is_alive():
            worker.join(_POLL_SECONDS)
            cancelled = cancelled or (cancel is not None and cancel())
            if progress and worker.is_alive() and not cancelled:
                written = ovr.stat().st_size if ovr.exists() else 0
                progress(min(0.95, written / max(expected_bytes, 1.0)))
        if failures or cancelled:
            ovr.unlink(missing_ok=True)
        if cancelled:
            raise Cancelled(f"overview build for {path} cancelled")
        if failures:
            raise RasterError(
                f"cannot build overviews for {path} (writing {ovr}): {failures[0]}"
            ) from failures[0]
    if progress:
        progress(1.0)
    return factors


def _overview_options(profile: dict) -> dict[str, str]:
    """GDAL config options so the .ovr is tiled and compressed like the image."""
    compress = str(profile.get("compress") or "deflate").upper()
    options = {"COMPRESS_OVERVIEW": compress, "BIGTIFF_OVERVIEW": "IF_SAFER"}
    if compress == "JPEG" and profile.get("count") == 3 and profile.get("dtype") == "uint8":
        options.update(PHOTOMETRIC_OVERVIEW="YCBCR", INTERLEAVE_OVERVIEW="PIXEL")
    elif compress == "JPEG":
        options["COMPRESS_OVERVIEW"] = "DEFLATE"
    return options
