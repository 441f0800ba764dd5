"""One writer per label layer: a lock file beside it, held with an OS lock while the layer is open.

`lock_label_layer(label_path)` creates `<label>.lock` (e.g. `city_labels.tif.lock`), takes an
exclusive `flock` on it and writes who holds it (pid, host, UTC time) into it for the message a
second opener gets. The OS releases the flock when the holder's process ends in any way
(`kill -9` and crashes included), so a lock file left behind is stale as soon as its flock can be
taken: the next opener takes it over, nobody has to delete it. The lock covers the labels GeoTIFF
and its journal, and two openers in one process (two windows) exclude each other too (each holds
its own open file). `LayerLock.release()` removes the file and drops the flock.

Where `flock` is missing or refused (some network file systems) the record decides: a lock of
another host, or of a running process on this host, is respected; one of a process that is gone
(same host) is taken over.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from isegsat.app.geo.errors import RasterError

try:
    import fcntl
except ImportError:  # not POSIX: the record alone decides
    fcntl = None

_RETRIES = 5


@dataclass(frozen=True)
class LockHolder:
    """Who holds a label layer: process id, host name and since when (UTC, ISO 8601)."""

    pid: int
    host: str
    since: str

    @classmethod
    def me(cls) -> LockHolder:
        now = datetime.now(UTC).replace(microsecond=0)
        return cls(os.getpid(), socket.gethostname(), now.isoformat())

    def describe(self) -> str:
        since = self.since.replace("T", " ").replace("+00:00", " UTC")
        who = "this isegsat" if self.is_me else "isegsat"
        return f"{who} (process {self.pid} on host {self.host}, since {since})"

    @property
    def is_me(self) -> bool:
        return self.pid == os.getpid() and self.host == socket.gethostname()

    def is_running(self) -> bool:
        """False only when this host's process `pid` is known to be gone."""
        if self.host != socket.gethostname() or os.name != "posix":
            return True
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # another user's live process
            return True
        return True


class LayerLockedError(RasterError):
    """The label layer is open for writing elsewhere; `holder` says where (None: unknown)."""

    def __init__(self, message: str, holder: LockHolder | None) -> None:
        super().__init__(message)
        self.holder = holder


def lock_path(label_path: str | os.PathLike) -> Path:
    """`<label>.lock`, beside the label GeoTIFF and its journal."""
    label_path = Path(label_path)
    return label_path.with_name(label_path.name + ".lock")


def read_holder(path: Path) -> LockHolder | None:
    """The holder recorded in lock file `path` (None when missing, empty or unreadable)."""
    try:
        return _parse(path.read_bytes())
    except OSError:
        return None


def _parse(raw: bytes) -> LockHolder | None:
    try:
        data = json.loads(raw.decode("utf-8"))
        return LockHolder(int(data["pid"]), str(data["host"]), str(data["since"]))
    except (ValueError, KeyError, TypeError):
        return None


class LayerLock:
    """A held lock on one label layer (see the module docstring); release it on close."""

    def __init__(self, path: Path, fd: int, holder: LockHolder, took_over: LockHolder | None):
        self.path = path
        self.holder = holder
        self.took_over = took_over  # the stale holder replaced, if any
        self._fd: int | None = fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Remove the lock file and drop the OS lock (idempotent)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            if _same_file(fd, self.path):
                self.path.unlink(missing_ok=True)
        finally:
            os.close(fd)  # drops the flock

    def __enter__(self) -> LayerLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def lock_label_layer(label_path: str | os.PathLike) -> LayerLock:
    """Take the write lock of the label layer at `label_path`.

    Raises LayerLockedError (naming the holder) when another process or window holds it, and
    RasterError when the lock file cannot be created (e.g. a read-only folder).
    """
    label_path = Path(label_path)
    path = lock_path(label_path)
    for _ in range(_RETRIES):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise RasterError(f"cannot create the lock file {path}: {exc}") from exc
        try:
            locked = _try_flock(fd)
            if locked is False:
                raise _locked_error(label_path, read_holder(path))
            if not _same_file(fd, path):  # released and removed meanwhile: lock the new file
                os.close(fd)
                continue
            previous = _read_fd(fd)
            if locked is None and previous is not None and previous.is_running():
                raise _locked_error(label_path, previous)
            holder = LockHolder.me()
            _write_fd(fd, holder)
        except BaseException:
            _close_quietly(fd)
            raise
        return LayerLock(path, fd, holder, previous)
    raise RasterError(f"cannot lock {label_path}: its lock file {path} keeps changing")


def _locked_error(label_path: Path, holder: LockHolder | None) -> LayerLockedError:
    who = holder.describe() if holder is not None else "another isegsat"
    message = (
        f"The labels {label_path} are open for writing in {who}. Two windows must never write "
        f"one label layer: close the image there first. If no isegsat runs there any more, "
        f"delete {lock_path(label_path)}."
    )
    return LayerLockedError(message, holder)


def _try_flock(fd: int) -> bool | None:
    """True: locked; False: someone else holds it; None: no OS lock here (record decides)."""
    if fcntl is None:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES):
            return False
        return None  # ENOLCK, EOPNOTSUPP, ...: the file system offers no flock
    return True


def _same_file(fd: int, path: Path) -> bool:
    try:
        mine, named = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (mine.st_dev, mine.st_ino) == (named.st_dev, named.st_ino)


def _read_fd(fd: int) -> LockHolder | None:
    os.lseek(fd, 0, os.SEEK_SET)
    raw = b""
    while chunk := os.read(fd, 4096):
        raw += chunk
    return _parse(raw)


def _write_fd(fd: int, holder: LockHolder) -> None:
    record = {"pid": holder.pid, "host": holder.host, "since": holder.since, "app": "isegsat"}
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, (json.dumps(record) + "\n").encode("utf-8"))
    os.fsync(fd)


def _close_quietly(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)
