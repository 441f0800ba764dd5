"""The one atomic writer: complete files or none, sidecars moved, leftovers removed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from isegsat.inference.atomic_file import atomic_path, write_atomically


def test_a_failed_write_leaves_the_old_file_and_no_leftover(tmp_path: Path) -> None:
    target = tmp_path / "state.pt"
    target.write_bytes(b"old")

    def fail(handle) -> None:
        handle.write(b"half")
        raise RuntimeError("disk went away")

    with pytest.raises(RuntimeError):
        write_atomically(target, fail)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.pt"]
    write_atomically(target, lambda handle: handle.write(b"new"))
    assert target.read_bytes() == b"new"
    assert target.stat().st_mode & 0o777 == 0o666 & ~_umask()


def test_the_writer_sees_the_real_suffix_and_sidecars_move_with_the_main_file(
    tmp_path: Path,
) -> None:
    target = tmp_path / "footprints.shp"
    (tmp_path / "footprints.cpg").write_text("stale")
    with atomic_path(target, (".dbf", ".cpg")) as tmp:
        assert tmp.suffix == ".shp" and tmp.name.startswith(".") and ".tmp" in tmp.name
        tmp.write_text("shapes")
        tmp.with_suffix(".dbf").write_text("table")
    assert target.read_text() == "shapes"
    assert (tmp_path / "footprints.dbf").read_text() == "table"
    assert not (tmp_path / "footprints.cpg").exists()  # a sidecar the writer did not make
    assert sorted(p.name for p in tmp_path.iterdir()) == ["footprints.dbf", "footprints.shp"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
