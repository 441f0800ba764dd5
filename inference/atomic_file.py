"""Write a file all at once or not at all: temporary sibling, fsync, rename over the target."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


def _default_mode() -> int:
    """The permission bits a plain ``open(path, "w")`` would give (0o666 minus the umask)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (hidden, ending in ``.tmp``, so globs for the real
    suffix skip it) for a writer that takes a path (GDAL, OpenCV); when the block ends without
    error the file is fsynced and renamed over ``path``. On any failure it is removed and
    ``path`` is untouched. The result has the usual permissions (not the 0600 of ``mkstemp``).
    """
    descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(descriptor)
    temporary = Path(name)
    try:
        yield temporary
        descriptor = os.open(temporary, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.chmod(temporary, _default_mode())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_atomically(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Call ``write(handle)`` on a binary file that replaces ``path`` only when it succeeds
    (see ``atomic_path``)."""
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        write(handle)
