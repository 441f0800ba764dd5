"""Write a file all at once or not at all: the project's one atomic writer.

A writer gets a hidden temporary sibling (``.<name>.<random>.tmp<suffix>``: the real suffix is
kept so GDAL/OGR pick their driver from it, and ``*.tmp*`` finds leftovers); when it succeeds the
file (and its sidecars, e.g. a shapefile's .dbf/.shx/.prj) is fsynced and renamed over the
target, the main file last, and the directory is fsynced so the rename survives a crash. On any
failure everything written is removed and the target is untouched.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


def _default_mode() -> int:
    """The permission bits a plain ``open(path, "w")`` would give (0o666 minus the umask)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def temporary_sibling(path: Path) -> Path:
    """A hidden, unique temporary name beside ``path`` with the same suffix."""
    return path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.tmp{path.suffix}")


def fsync_file(path: Path) -> None:
    """Flush a closed file's data to disk."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def sync_directory(directory: Path) -> None:
    """fsync a directory so a new, renamed or deleted entry survives a crash (best effort)."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


@contextmanager
def atomic_path(path: Path, sidecar_suffixes: Sequence[str] = ()) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` for a writer that takes a path (GDAL, OGR,
    OpenCV, ``open``); when the block ends without error, move it (and the sidecars of the same
    stem with ``sidecar_suffixes``; a stale sidecar the writer did not make is removed) onto
    ``path``. Results get the usual permissions; on any failure nothing is left behind.
    """
    path = Path(path)
    temporary = temporary_sibling(path)
    sidecars = [(temporary.with_suffix(s), path.with_suffix(s)) for s in sidecar_suffixes]
    try:
        yield temporary
        mode = _default_mode()
        for written, final in sidecars:
            if written.exists():
                fsync_file(written)
                os.chmod(written, mode)
                os.replace(written, final)
            else:
                final.unlink(missing_ok=True)
        fsync_file(temporary)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
        sync_directory(path.parent)
    finally:
        for leftover in [temporary, *(written for written, _ in sidecars)]:
            leftover.unlink(missing_ok=True)


def write_atomically(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Call ``write(handle)`` on a binary file that replaces ``path`` only when it succeeds
    (see ``atomic_path``)."""
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        write(handle)
