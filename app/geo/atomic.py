"""Write-to-temporary-then-rename helpers: outputs appear complete or not at all."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def sync_directory(directory: Path) -> None:
    """fsync a directory so a new, renamed or deleted entry survives a crash (best effort)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    """Flush a closed file's data to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temporary_sibling(path: Path) -> Path:
    """A hidden, unique temporary name in the same directory with the same suffix."""
    return path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.tmp{path.suffix}")


def check_writable_directory(path: Path) -> None:
    """Raise OSError with a clear message when `path`'s directory is missing or read-only."""
    directory = path.parent
    if not directory.is_dir():
        raise OSError(f"output directory does not exist: {directory}")
    if not os.access(directory, os.W_OK):
        raise OSError(f"output directory is not writable: {directory}")


@contextmanager
def atomic_output(path: Path, sidecar_suffixes: tuple[str, ...] = ()) -> Iterator[Path]:
    """Yield a temporary path to write; on success move it (and sidecars such as .dbf/.prj of a
    shapefile, same stem) onto `path`, on any exception delete what was written.

    The main file is renamed last, so a reader never sees it next to stale sidecars.
    """
    check_writable_directory(path)
    tmp = temporary_sibling(path)
    sidecars = [(tmp.with_suffix(s), path.with_suffix(s)) for s in sidecar_suffixes]
    try:
        yield tmp
        for tmp_sidecar, final_sidecar in sidecars:
            if tmp_sidecar.exists():
                fsync_file(tmp_sidecar)
                os.replace(tmp_sidecar, final_sidecar)
            else:
                final_sidecar.unlink(missing_ok=True)
        fsync_file(tmp)
        os.replace(tmp, path)
        sync_directory(path.parent)
    finally:
        for leftover in [tmp, *(t for t, _ in sidecars)]:
            leftover.unlink(missing_ok=True)
