"""Append-only, fsync'ed journal of label window writes (crash recovery for LabelLayer).

File layout: the 8-byte magic `ISEGJRN1`, then records. A record is a little-endian header
(tag b"WIN1", col_off, row_off, width, height, payload length, CRC32 of the payload; uint32s)
followed by the payload: zlib-compressed `np.packbits` of the window's {0,1} mask, row-major.
A torn or corrupt tail (a crash in the middle of an append) ends the replay; earlier records are
kept.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from rasterio.windows import Window

from isegsat.inference.atomic_file import atomic_path, sync_directory

MAGIC = b"ISEGJRN1"
_TAG = b"WIN1"
_HEADER = struct.Struct("<4s6I")


def journal_path(label_path: Path) -> Path:
    """Sidecar journal of a label GeoTIFF: `<label>.journal`."""
    return label_path.with_name(label_path.name + ".journal")


def pack_mask(mask: np.ndarray) -> bytes:
    """(H, W) {0,1} mask -> compact bytes (packbits + zlib)."""
    return zlib.compress(np.packbits(mask.astype(bool), axis=None).tobytes(), 1)


def unpack_mask(payload: bytes, height: int, width: int) -> np.ndarray:
    """Inverse of pack_mask: (height, width) uint8 {0,1}."""
    bits = np.frombuffer(zlib.decompress(payload), dtype=np.uint8)
    return np.unpackbits(bits, count=height * width).reshape(height, width)


def read_journal(path: Path) -> tuple[list[tuple[Window, bytes]], int]:
    """Valid records (window, packed mask) in order and the byte length they span.

    A missing file or a wrong magic gives no records; reading stops at the first torn/corrupt one.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], 0
    if not data.startswith(MAGIC):
        return [], 0
    records: list[tuple[Window, bytes]] = []
    offset = len(MAGIC)
    while offset + _HEADER.size <= len(data):
        tag, col, row, width, height, length, crc = _HEADER.unpack_from(data, offset)
        start = offset + _HEADER.size
        payload = data[start : start + length]
        if tag != _TAG or len(payload) != length or zlib.crc32(payload) != crc:
            break
        records.append((Window(col, row, width, height), payload))
        offset = start + length
    return records, offset


class Journal:
    """Appends records durably (write + fsync before `append` returns).

    A failed append (e.g. a full disk) is cut off again, so the journal stays a valid sequence
    of records and later appends are still replayed.
    """

    def __init__(self, path: Path, valid_length: int = 0) -> None:
        """Open for appending; bytes past `valid_length` (a torn tail) are cut off first."""
        self.path = path
        new = not path.exists() or valid_length < len(MAGIC)
        # Unbuffered: nothing of a failed append can linger in a buffer and be written later.
        self._file = open(path, "w+b" if new else "r+b", buffering=0)  # noqa: SIM115 - kept open
        try:
            if new:
                self._length = 0
                self._write_durably(MAGIC)
                sync_directory(path.parent)
            else:
                self._file.truncate(valid_length)
                self._file.seek(valid_length)
                self._length = valid_length
        except OSError:
            self._file.close()
            raise

    @property
    def length(self) -> int:
        """Bytes of valid records written so far (magic included): a record boundary."""
        return self._length

    def keep_after(self, offset: int) -> None:
        """Durably replace the journal by one holding only the records after byte `offset` (a
        former `length`): the records up to it are saved elsewhere now (a finished save).

        The shorter journal is written under a temporary name, fsynced and renamed over this
        one (the project's atomic writer), so a crash leaves one of the two whole; appends go
        on into the new file. Raises OSError (this journal unchanged and still appended to)
        when it cannot be written."""
        tail = os.pread(self._file.fileno(), self._length - offset, offset)
        handle = None
        try:
            with atomic_path(self.path) as tmp:
                handle = open(tmp, "w+b", buffering=0)  # noqa: SIM115 - kept open as the journal
                view = memoryview(MAGIC + tail)
                while view:
                    view = view[handle.write(view) :]
        except BaseException:
            if handle is not None:
                handle.close()
            raise
        old, self._file = self._file, handle
        self._length = len(MAGIC) + len(tail)
        old.close()

    def append(self, window: Window, packed: bytes) -> None:
        """Record that `window` now holds the packed mask; raises OSError (journal unchanged)
        when the record cannot be written and synced."""
        self.append_many(((window, packed),))

    def append_many(self, records: Sequence[tuple[Window, bytes]]) -> None:
        """Record several (window, packed mask) changes with one write and one fsync; raises
        OSError (journal unchanged) when they cannot be written and synced."""
        data = bytearray()
        for window, packed in records:
            data += _HEADER.pack(
                _TAG,
                int(window.col_off),
                int(window.row_off),
                int(window.width),
                int(window.height),
                len(packed),
                zlib.crc32(packed),
            )
            data += packed
        self._write_durably(bytes(data))

    def _write_durably(self, data: bytes) -> None:
        """Write all of `data` at the end and fsync; on failure cut the file back."""
        try:
            view = memoryview(data)
            while view:
                view = view[self._file.write(view) :]
            os.fsync(self._file.fileno())
        except OSError:
            try:
                self._file.truncate(self._length)
                self._file.seek(self._length)
            except OSError:
                pass  # (truncating frees space); read_journal's CRC check drops a torn tail anyway
            raise
        self._length += len(data)

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()

    def discard(self) -> None:
        """Close and delete the journal (its content is saved elsewhere or abandoned)."""
        self.close()
        self.path.unlink(missing_ok=True)
        sync_directory(self.path.parent)
