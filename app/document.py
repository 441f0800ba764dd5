"""Opening an image with its label layer (GUI-free; the recovery question is passed in).

The label layer lives beside the image as `<stem>_labels.tif` (LabelLayer.default_path) or, when
that folder is not writable, in the user cache. An existing layer is continued (after asking
whether to recover unsaved journaled edits); a given mask starts a new layer only when none exists
yet or `restart_from_mask` is set.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rasterio.windows import Window

from isegsat.app.geo import GridMismatchError, LabelLayer, RasterError, RasterSource


@dataclass(frozen=True, eq=False)
class Document:
    image_path: Path
    source: RasterSource
    labels: LabelLayer
    note: str  # what happened to the labels, for the status bar

    def close(self) -> None:
        self.labels.close()
        self.source.close()


def fallback_label_path(image_path: Path) -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "isegsat" / "labels"
    cache.mkdir(parents=True, exist_ok=True)
    return cache / LabelLayer.default_path(image_path).name


def open_document(
    image_path: Path,
    mask_path: Path | None = None,
    ask_recovery: Callable[[Path], bool] = lambda path: True,
    restart_from_mask: bool = False,
) -> Document:
    """Open `image_path` and its label layer; raises RasterError with a readable message."""
    source = RasterSource.open(image_path)
    try:
        _check_complete(source)
        labels, note = _open_labels(source, image_path, mask_path, ask_recovery, restart_from_mask)
    except Exception:
        source.close()
        raise
    return Document(Path(image_path), source, labels, note)


def _check_complete(source: RasterSource) -> None:
    """Read the image's bottom-right pixels, which lie at the end of a GeoTIFF: a truncated file
    fails here, when it opens, instead of later in every display tile (raises RasterError)."""
    source.read_full_res_rgb(Window(source.width - 1, source.height - 1, 1, 1))


def _open_labels(source, image_path, mask_path, ask_recovery, restart_from_mask):
    candidates = [LabelLayer.default_path(image_path), fallback_label_path(image_path)]
    existing = next((p for p in candidates if p.exists()), None)
    if existing is not None and not (mask_path is not None and restart_from_mask):
        recover = not LabelLayer.has_unsaved_recovery(existing) or ask_recovery(existing)
        labels = LabelLayer.open(existing, like=source, recover=recover)
        return labels, f"continuing labels {existing}"
    errors = []
    for path in candidates:
        try:
            if mask_path is not None:
                labels = LabelLayer.from_mask(mask_path, like=source, path=path)
                return labels, f"labels {path} started from {Path(mask_path).name}"
            return LabelLayer.create(path, like=source), f"new labels {path}"
        except GridMismatchError:
            raise
        except RasterError as exc:
            errors.append(str(exc))
    raise RasterError("; ".join(dict.fromkeys(errors)))
