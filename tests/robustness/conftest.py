"""Fixtures for the bad-input tests: a really full disk, a read-only folder, tiny georeferenced
rasters, and the Qt app fixtures of tests/app/conftest.py (imported from that file, not copied).

A full disk is a small tmpfs mounted for the test (needs root, as on this machine and in CI) and
filled up with a filler file. Where mounting is not permitted the fixture falls back to a
simulation: `os.fsync` of any file inside the folder fails with ENOSPC, which the label journal,
the atomic output helper and checkpoint saving all call before an output counts as written.
Tests that need the real thing (GDAL writing, PNG crops) call `disk.require_real()`.
"""

from __future__ import annotations

import errno
import importlib.util
import itertools
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# The app fixtures (settings redirected to tmp_path, no dangling QThreads, the tiny scene, the
# deterministic test model, a random-init HRNet18s checkpoint), loaded under a unique module name.
_spec = importlib.util.spec_from_file_location(
    "isegsat_tests_app_conftest", ROOT / "tests" / "app" / "conftest.py"
)
app_fixtures = sys.modules[_spec.name] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(app_fixtures)
redirect_settings = app_fixtures.redirect_settings
no_dangling_qthreads = app_fixtures.no_dangling_qthreads
scene = app_fixtures.scene
test_model = app_fixtures.test_model
hrnet_checkpoint = app_fixtures.hrnet_checkpoint
write_scene = app_fixtures.write_scene


class Disk:
    """A folder whose filesystem can be made full (`fill`) and freed again (`release`)."""

    def __init__(self, path: Path, real: bool, monkeypatch: pytest.MonkeyPatch) -> None:
        self.path = path
        self.real = real
        self.full = False
        self._fillers = itertools.count()
        if not real:
            self.simulate_enospc(monkeypatch)

    def require_real(self) -> None:
        if not self.real:
            pytest.skip("needs a really full filesystem (mounting a tmpfs is not permitted here)")

    def fill(self) -> None:
        """Use up every free byte (real tmpfs) or make fsync fail with ENOSPC (simulation)."""
        self.full = True
        if not self.real:
            return
        fd = os.open(self.path / f".filler{next(self._fillers)}", os.O_WRONLY | os.O_CREAT)
        try:
            for chunk in (b"\0" * 65536, b"\0" * 4096, b"\0"):
                try:
                    while True:
                        os.write(fd, chunk)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
        finally:
            os.close(fd)

    def release(self) -> None:
        self.full = False
        for filler in self.path.glob(".filler*"):
            filler.unlink()

    def files(self) -> list[str]:
        """Names in the folder except the fillers (what a test left behind)."""
        return sorted(p.name for p in self.path.iterdir() if not p.name.startswith(".filler"))

    def simulate_enospc(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """While `full`, fsync of a file in the folder fails with ENOSPC (writes succeed)."""
        real_fsync = os.fsync
        inside = str(self.path.resolve()) + os.sep

        def fsync(fd: int) -> None:
            target = os.readlink(f"/proc/self/fd/{fd}") if isinstance(fd, int) else ""
            if self.full and target.startswith(inside):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            real_fsync(fd)

        monkeypatch.setattr(os, "fsync", fsync)


def _mount_tmpfs(path: Path, size: str) -> bool:
    """Mount a tmpfs of `size` on `path`; False when this process may not mount."""
    if os.geteuid() != 0:
        return False
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
        capture_output=True,
    )
    return result.returncode == 0


def _unmount(path: Path) -> None:
    """Unmount (lazily if a handle is still open, e.g. after a failing test)."""
    if subprocess.run(["umount", str(path)], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


@pytest.fixture
def make_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Disk]]:
    """Factory of `Disk`s: `make_disk(size="256k", simulated=False)`, a fresh tmpfs each call
    (simulated when asked or when mounting is not permitted); unmounted at teardown."""
    mounted: list[Path] = []
    count = itertools.count()

    def make(size: str = "256k", simulated: bool = False) -> Disk:
        path = tmp_path / f"disk{next(count)}"
        path.mkdir()
        if not simulated and _mount_tmpfs(path, size):
            mounted.append(path)
            return Disk(path, True, monkeypatch)
        return Disk(path, False, monkeypatch)

    yield make
    for path in mounted:
        _unmount(path)


@pytest.fixture(params=["tmpfs", "fsync-enospc"])
def full_disk_dir(request: pytest.FixtureRequest, make_disk) -> Disk:
    """A 256 KiB filesystem to `fill()`: a real tmpfs (skipped where mounting is not
    permitted) and the fsync simulation (runs everywhere)."""
    disk = make_disk("256k", simulated=request.param != "tmpfs")
    if request.param == "tmpfs":
        disk.require_real()
    return disk


@pytest.fixture
def real_full_disk(make_disk) -> Disk:
    """A real 256 KiB tmpfs (GDAL, OGR and PNG writes happen in C and never call os.fsync);
    skipped where mounting is not permitted."""
    disk = make_disk("256k")
    disk.require_real()
    return disk


class ReadOnlyDir:
    """A tmpfs folder: put files in `path`, then `seal()` remounts it read-only (root ignores
    permission bits, not a read-only mount)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def seal(self) -> Path:
        subprocess.run(["mount", "-o", "remount,ro", str(self.path)], check=True)
        return self.path


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[ReadOnlyDir]:
    """A `ReadOnlyDir` on its own 64 MiB tmpfs; skips where mounting is not permitted."""
    path = tmp_path / "read_only"
    path.mkdir()
    if not _mount_tmpfs(path, "64m"):
        pytest.skip("mounting a tmpfs is not permitted here")
    yield ReadOnlyDir(path)
    _unmount(path)
