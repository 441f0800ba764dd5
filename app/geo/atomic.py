"""Geodata outputs that appear complete or not at all, with clear errors: the writable-folder
check and the full-disk diagnosis around the project's one atomic writer
(``isegsat.inference.atomic_file``)."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from isegsat.inference.atomic_file import atomic_path


def check_writable_directory(path: Path) -> None:
    """Raise OSError with a clear message when `path`'s directory is missing or read-only."""
    directory = path.parent
    if not directory.is_dir():
        raise OSError(f"output directory does not exist: {directory}")
    if not os.access(directory, os.W_OK):
        raise OSError(f"output directory is not writable: {directory}")


# A write that fails while its directory has less free space than this failed on a full disk.
DISK_FULL_BYTES = 1024 * 1024


def free_bytes(directory: Path) -> int | None:
    """Bytes still writable in `directory`'s filesystem (by root too), None when unknown."""
    try:
        stats = os.statvfs(directory)
    except OSError:
        return None
    return stats.f_bfree * stats.f_frsize


def disk_full_error(path: Path, exc: BaseException) -> OSError | None:
    """An ENOSPC OSError naming `path` when `exc` (an I/O failure writing it: OSError, including
    rasterio's RasterioIOError, or a GDAL/OGR error) happened on a full disk, else None.

    GDAL reports a full disk as a generic I/O error ("IO error writing tag data"), so the free
    space left in the directory decides; call it before the partial output is deleted.
    """
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        free = free_bytes(path.parent)
    elif isinstance(exc, OSError) or type(exc).__module__.split(".")[0] in ("rasterio", "pyogrio"):
        free = free_bytes(path.parent)
        if free is None or free >= DISK_FULL_BYTES:
            return None
    else:
        return None
    left = "" if free is None else f", {free} bytes free"
    return OSError(
        errno.ENOSPC, f"No space left on device: {path.parent} is full{left} ({_short(exc)})"
    )


def _short(exc: BaseException, limit: int = 160) -> str:
    """The first line of an error message, cut in the middle when longer than `limit`
    (OGR quotes whole SQL scripts in its errors)."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if len(text) <= limit:
        return text
    return text[: limit // 2] + " … " + text[-limit // 2 :]


@contextmanager
def atomic_output(path: Path, sidecar_suffixes: tuple[str, ...] = ()) -> Iterator[Path]:
    """Yield a temporary path to write; on success move it (and sidecars such as .dbf/.prj of a
    shapefile, same stem) onto `path` (``atomic_path``: the main file last, fsynced), on any
    exception delete what was written.

    A missing or read-only folder is refused before anything is written; a failure on a full
    disk is raised as an ENOSPC OSError saying so (see `disk_full_error`).
    """
    check_writable_directory(path)
    with atomic_path(path, sidecar_suffixes) as tmp:
        try:
            yield tmp
        except Exception as exc:
            full = disk_full_error(path, exc)
            if full is not None:
                raise full from exc
            raise
