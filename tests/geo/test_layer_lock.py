"""One writer per label layer: the lock file beside it, across windows and processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from isegsat.app.geo.layer_lock import (
    LayerLockedError,
    lock_label_layer,
    lock_path,
    read_holder,
)

HOLD = (
    "import sys, time\n"
    "from isegsat.app.geo.layer_lock import lock_label_layer\n"
    "lock = lock_label_layer(sys.argv[1])\n"
    "print('locked', flush=True)\n"
    "time.sleep(120)\n"
)


@pytest.fixture
def label(tmp_path: Path) -> Path:
    return tmp_path / "city_labels.tif"


def hold_in_another_process(label: Path) -> subprocess.Popen:
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(label)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout.readline().strip() == "locked"
    return child


def test_a_second_lock_is_refused_with_who_holds_it_and_since_when(label: Path) -> None:
    first = lock_label_layer(label)
    assert lock_path(label) == label.with_name("city_labels.tif.lock")
    assert read_holder(lock_path(label)) == first.holder
    with pytest.raises(LayerLockedError) as refused:
        lock_label_layer(label)  # a second window of this process
    text = str(refused.value)
    assert str(label) in text and f"process {os.getpid()}" in text
    assert socket.gethostname() in text and first.holder.since[:10] in text
    assert refused.value.holder == first.holder
    first.release()
    assert not lock_path(label).exists()  # released on close
    again = lock_label_layer(label)
    assert again.took_over is None
    again.release()
    again.release()  # idempotent


def test_a_lock_held_by_another_process_is_refused_and_taken_over_after_kill_9(
    label: Path,
) -> None:
    child = hold_in_another_process(label)
    try:
        with pytest.raises(LayerLockedError, match=f"process {child.pid} on host"):
            lock_label_layer(label)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        child.stdout.close()
    assert lock_path(label).exists()  # left behind by the killed process
    with lock_label_layer(label) as lock:  # stale: its flock died with the process
        assert lock.took_over is not None and lock.took_over.pid == child.pid
        assert read_holder(lock_path(label)).pid == os.getpid()


def test_a_stale_record_of_a_process_that_is_gone_is_taken_over(label: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(10)
    record = {"pid": gone.pid, "host": socket.gethostname(), "since": "2026-01-01T00:00:00+00:00"}
    lock_path(label).write_text(json.dumps(record))
    with lock_label_layer(label) as lock:
        assert lock.took_over.pid == gone.pid and lock.holder.pid == os.getpid()
    assert not lock_path(label).exists()


def test_a_garbled_lock_file_does_not_block(label: Path) -> None:
    lock_path(label).write_bytes(b"\x00half a record")
    with lock_label_layer(label) as lock:
        assert lock.took_over is None and lock.held
    assert not lock.held


def test_an_unwritable_folder_is_a_raster_error_not_a_lock(tmp_path: Path) -> None:
    from isegsat.app.geo import RasterError

    missing = tmp_path / "no such folder" / "city_labels.tif"
    with pytest.raises(RasterError, match="cannot create the lock file") as failed:
        lock_label_layer(missing)
    assert not isinstance(failed.value, LayerLockedError)
