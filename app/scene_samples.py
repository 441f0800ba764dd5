"""The accepted tiles of a scene kept as training samples, beside its label layer (Qt-free).

Layout of ``<label file>.samples/`` (a prepared set of ``isegsat.training``, which reads it with
``read_manifest`` / ``load_crop``):

- ``images/<crop_id>.png``: the tile as the model saw it, (h, w, 3) uint8 RGB (display bands);
- ``masks/<crop_id>.png``: its accepted label, (h, w) uint8, 0 background / 255 building;
- ``manifest.csv``: one row per sample, columns ``MANIFEST_COLUMNS`` (crop_id, city and tile = the
  image's stem, row and col = the tile's offset in image pixels, image and mask relative to the
  folder, building_fraction, split = ``train``), in acceptance order, the most recent last;
- ``clicks.jsonl``: one JSON object per sample in the same order: ``{"id": crop_id, "clicks":
  [[y, x, positive], ...] (tile-local pixels), "box": [row, col, height, width] (image pixels),
  "accepted": ISO 8601 UTC time}``.

A sample's id is its tile's box, so accepting the same tile again replaces its sample (and moves
it to the end). Every write (the crop read from the document's thread-safe `RasterSource`, the
PNGs, the manifest and clicks rewritten whole through the project's atomic writer) runs on the
store's single worker thread, in submission order; the PNGs are written before the manifest
that names them, so the folder is a valid prepared set at any moment. `close()` waits for the
writes in flight; close the store before the raster source.
"""

from __future__ import annotations

import csv
import io
import json
import re
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

from isegsat.app.annotation_types import AcceptedTile
from isegsat.app.geo.boxes import to_window
from isegsat.app.geo.raster import RasterSource
from isegsat.inference.atomic_file import write_atomically

SAMPLES_SUFFIX = ".samples"
MANIFEST_NAME = "manifest.csv"
CLICKS_NAME = "clicks.jsonl"
# The training package's manifest columns (isegsat.training.manifest.COLUMNS, which the app may
# not import); a contract test holds the two equal.
MANIFEST_COLUMNS = (
    "crop_id", "city", "tile", "row", "col", "image", "mask", "building_fraction", "split",
)  # fmt: skip
SPLIT = "train"


def samples_folder(label_path: Path) -> Path:
    """``<label file>.samples`` beside the label layer at `label_path`."""
    label_path = Path(label_path)
    return label_path.with_name(label_path.name + SAMPLES_SUFFIX)


def crop_id_of(scene: str, row: int, col: int, height: int, width: int) -> str:
    """A sample's id (and file stem) from its scene and tile box: ``<scene>_y<row>_x<col>_<h>x<w>``
    with characters other than letters, digits, ``.``, ``-`` and ``_`` replaced by ``_``."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", scene) or "scene"
    return f"{safe}_y{row}_x{col}_{height}x{width}"


@dataclass(frozen=True)
class SampleRecord:
    """One kept sample: its manifest row and its clicks line (see the module docstring)."""

    crop_id: str
    row: int
    col: int
    height: int
    width: int
    building_fraction: float
    clicks: tuple[tuple[int, int, bool], ...]  # (y, x, positive), tile-local pixels
    accepted: str  # ISO 8601 UTC

    def manifest_row(self, scene: str) -> dict[str, object]:
        return {
            "crop_id": self.crop_id,
            "city": scene,
            "tile": scene,
            "row": self.row,
            "col": self.col,
            "image": f"images/{self.crop_id}.png",
            "mask": f"masks/{self.crop_id}.png",
            "building_fraction": f"{self.building_fraction:.6f}",
            "split": SPLIT,
        }

    def clicks_line(self) -> str:
        return json.dumps(
            {
                "id": self.crop_id,
                "clicks": [[y, x, positive] for y, x, positive in self.clicks],
                "box": [self.row, self.col, self.height, self.width],
                "accepted": self.accepted,
            }
        )


class SceneSamples:
    """The samples of one scene in `folder` (see the module docstring).

    `scene` is the image's stem (the manifest's city and tile); `source` the document's raster
    source the tile crops are read from. Samples already in the folder are read on the worker
    first, so a reopened scene continues its set.
    """

    def __init__(self, folder: Path, source: RasterSource, scene: str) -> None:
        self.folder = Path(folder)
        self.source = source
        self.scene = scene
        self._records: dict[str, SampleRecord] = {}  # acceptance order; guarded by _lock
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scene-samples")
        self._closed = False
        self.loaded: Future[int] = self._executor.submit(self._load)

    @property
    def count(self) -> int:
        """Samples written so far (the ones still being written are not counted)."""
        with self._lock:
            return len(self._records)

    def records(self) -> list[SampleRecord]:
        """The written samples in manifest order (a copy)."""
        with self._lock:
            return list(self._records.values())

    def add(self, tile: AcceptedTile) -> Future[int]:
        """Keep `tile` as a sample, replacing an earlier one of the same box; returns a future
        of the number of samples once it is written (its exception: why it was not)."""
        if self._closed:
            raise RuntimeError(f"the samples of {self.scene} are closed")
        box = tile.box
        clicks = tuple((c.y - box.row, c.x - box.col, bool(c.is_positive)) for c in tile.clicks)
        mask = np.asarray(tile.mask, dtype=np.uint8)
        record = SampleRecord(
            crop_id_of(self.scene, box.row, box.col, box.height, box.width),
            box.row, box.col, box.height, box.width,
            float((mask > 0).mean()) if mask.size else 0.0,
            clicks,
            datetime.now(UTC).isoformat(timespec="seconds"),
        )  # fmt: skip
        return self._executor.submit(self._write, record, tile, mask)

    def when_written(self) -> Future[int]:
        """A future of the sample count once every write submitted so far has finished."""
        return self._executor.submit(lambda: self.count)

    def close(self) -> None:
        """Wait for the writes in flight and stop the worker (idempotent)."""
        self._closed = True
        self._executor.shutdown(wait=True)

    # ------------------------------------------------------------------ worker thread
    def _load(self) -> int:
        """Read the samples already in the folder (rows whose files are missing are dropped)."""
        manifest = self.folder / MANIFEST_NAME
        if not manifest.is_file():
            return 0
        clicks: dict[str, dict] = {}
        lines = self.folder / CLICKS_NAME
        if lines.is_file():
            for line in lines.read_text(encoding="utf-8").splitlines():
                try:
                    item = json.loads(line)
                    clicks[str(item["id"])] = item
                except (ValueError, KeyError, TypeError):
                    continue
        records: dict[str, SampleRecord] = {}
        with manifest.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                record = self._parse(row, clicks.get(row.get("crop_id", "")))
                if record is not None:
                    records[record.crop_id] = record
        with self._lock:
            self._records = records
            return len(records)

    def _parse(self, row: dict[str, str], item: dict | None) -> SampleRecord | None:
        try:
            crop_id = row["crop_id"]
            image = self.folder / row["image"]
            mask = self.folder / row["mask"]
            if not (image.is_file() and mask.is_file()):
                return None
            box = item.get("box") if item else None
            if box is not None and len(box) == 4:
                height, width = int(box[2]), int(box[3])
            else:
                height, width = cv2.imread(str(mask), cv2.IMREAD_GRAYSCALE).shape
            clicks = tuple((int(y), int(x), bool(p)) for y, x, p in (item or {}).get("clicks", ()))
            accepted = str((item or {}).get("accepted", ""))
            return SampleRecord(
                crop_id, int(row["row"]), int(row["col"]), height, width,
                float(row["building_fraction"]), clicks, accepted,
            )  # fmt: skip
        except (KeyError, ValueError, TypeError, AttributeError):
            return None

    def _write(self, record: SampleRecord, tile: AcceptedTile, mask: np.ndarray) -> int:
        rgb = self.source.read_full_res_rgb(to_window(tile.box))  # (h, w, 3) uint8 RGB
        if rgb.shape[:2] != mask.shape:
            raise ValueError(f"tile {record.crop_id}: mask {mask.shape} on image {rgb.shape}")
        _write_png(self.folder / "images" / f"{record.crop_id}.png", rgb[:, :, ::-1])
        _write_png(self.folder / "masks" / f"{record.crop_id}.png", (mask > 0) * np.uint8(255))
        with self._lock:  # only this thread changes the records: a copy, committed once written
            records = dict(self._records)
        records.pop(record.crop_id, None)
        records[record.crop_id] = record
        self._write_index(list(records.values()))
        with self._lock:
            self._records = records
        return len(records)

    def _write_index(self, records: list[SampleRecord]) -> None:
        """Rewrite manifest.csv and clicks.jsonl whole (each atomically), clicks first."""
        lines = "".join(r.clicks_line() + "\n" for r in records).encode("utf-8")
        write_atomically(self.folder / CLICKS_NAME, lambda handle: handle.write(lines))
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, fieldnames=MANIFEST_COLUMNS, lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(r.manifest_row(self.scene) for r in records)
        data = text.getvalue().encode("utf-8")
        write_atomically(self.folder / MANIFEST_NAME, lambda handle: handle.write(data))


def _write_png(path: Path, array: np.ndarray) -> None:
    """Encode `array` ((h, w) or (h, w, 3) BGR uint8) as PNG and write it atomically."""
    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(array))
    if not ok:
        raise OSError(f"PNG encoding failed for {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, lambda handle: handle.write(encoded.tobytes()))
