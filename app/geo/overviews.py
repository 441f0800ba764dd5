"""Build external overviews (<image>.ovr) the way QGIS / gdaladdo do: factors 2, 4, 8, ... until the
coarsest level fits in 256 x 256 px, average resampling, compressed like the image."""

from __future__ import annotations

import math
from collections.abc import Callable
from os import PathLike
from pathlib import Path

import rasterio
from rasterio.enums import Resampling
from rasterio.errors import RasterioError

from isegsat.app.geo.errors import Cancelled, RasterError

MIN_OVERVIEW_SIZE = 256
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

    Safe to call from a worker thread. All levels are computed in one GDAL pass (each level from
    the previous one), which GDAL cannot interrupt or report on: `progress(fraction)` is called
    with 0.0 before and 1.0 after, and `cancel()` is polled before the pass starts (then the build
    raises `Cancelled`). An existing .ovr is replaced; on failure no partial .ovr is left.
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
    if not factors:
        return factors
    ovr.unlink(missing_ok=True)
    try:
        with rasterio.Env(TIFF_USE_OVR=True, **options), rasterio.open(path, "r+") as ds:
            ds.build_overviews(factors, resampling)
    except (RasterioError, OSError) as exc:
        ovr.unlink(missing_ok=True)
        raise RasterError(f"cannot build overviews for {path} (writing {ovr}): {exc}") from exc
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
