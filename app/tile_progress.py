"""Tile progress (current tile, tiles done) kept beside the label layer, so a quit or a crash
never loses it (GUI-free).

The state lives in `<labels>.progress.json` next to the label GeoTIFF and is rewritten through
the project's one atomic writer (`isegsat.inference.atomic_file`: temporary sibling, fsync,
rename) whenever it changes, so a crash leaves the previous or the new state, never half a file.
A file for another image size or grid, or one that cannot be parsed, is ignored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from isegsat.inference.atomic_file import write_atomically

FORMAT_VERSION = 1


@dataclass(frozen=True)
class TileProgress:
    """Tile progress of an image of `height` x `width` px cut into `tile_size` px tiles;
    tile numbers are 0-based, row-major from the top-left."""

    height: int
    width: int
    tile_size: int
    tile_index: int
    done: frozenset[int]


def progress_path(label_path: Path) -> Path:
    """Where the progress of the label layer at `label_path` is kept."""
    return label_path.with_name(label_path.name + ".progress.json")


def save_progress(path: Path, progress: TileProgress) -> None:
    """Write `progress` to `path` atomically and durably (raises OSError, e.g. disk full)."""
    record = {
        "version": FORMAT_VERSION,
        "height": progress.height,
        "width": progress.width,
        "tile_size": progress.tile_size,
        "tile_index": progress.tile_index,
        "done": sorted(progress.done),
    }
    text = json.dumps(record, indent=1).encode("utf-8")
    write_atomically(path, lambda handle: handle.write(text))


def load_progress(path: Path, height: int, width: int) -> TileProgress | None:
    """The progress stored at `path` for an image of `height` x `width` px; None when there is
    none, it is unreadable or it belongs to an image of another size."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        progress = TileProgress(
            height=int(record["height"]),
            width=int(record["width"]),
            tile_size=int(record["tile_size"]),
            tile_index=int(record["tile_index"]),
            done=frozenset(int(i) for i in record["done"]),
        )
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if (progress.height, progress.width) != (height, width) or progress.tile_size <= 0:
        return None
    return progress


class ProgressKeeper:
    """Saves a session's tile progress to one file whenever it differs from what was saved."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._saved: TileProgress | None = None

    def keep(self, progress: TileProgress) -> None:
        """Save `progress` unless it is what the file already holds (raises OSError)."""
        if progress != self._saved:
            save_progress(self.path, progress)
            self._saved = progress
