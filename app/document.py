"""Opening an image with its label layer (GUI-free; the recovery question is passed in).

The label layer lives beside the image as `<stem>_labels.tif` (LabelLayer.default_path) or, when
that folder is not writable, in the user cache. An existing layer is continued (after asking
whether to recover unsaved journaled edits); a given mask starts a new layer only when none exists
yet or `restart_from_mask` is set.

One writer per label layer: the layer's lock (`geo.layer_lock`) is taken before the layer is read,
recovered or created, and released when the document closes. A layer held by another window or
process raises `LayerLockedError` (naming the holder) and nothing of it is touched.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rasterio.windows import Window

from isegsat.app.geo import GridMismatchError, LabelLayer, RasterError, RasterSource
from isegsat.app.geo.layer_lock import LayerLock, LayerLockedError, lock_label_layer


@dataclass(frozen=True, eq=False)
class Document:
    image_path: Path
    source: RasterSource
    labels: LabelLayer
    note: str  # what happened to the labels, for the status bar
    lock: LayerLock | None = None  # this document's write lock on the label layer

    def close(self) -> None:
        try:
            self.labels.close()
            self.source.close()
        finally:
            if self.lock is not None:
                self.lock.release()


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
    """Open `image_path` and its label layer; raises RasterError with a readable message
    (LayerLockedError when another window or process writes that label layer)."""
    source = RasterSource.open(image_path)
    try:
        _check_complete(source)
        labels, lock, note = _open_labels(
            source, image_path, mask_path, ask_recovery, restart_from_mask
        )
    except Exception:
        source.close()
        raise
    if lock.took_over is not None:
        note += f" (its lock, left by {lock.took_over.describe()}, was stale)"
    return Document(Path(image_path), source, labels, note, lock)


def _check_complete(source: RasterSource) -> None:
    """Read the image's bottom-right pixels, which lie at the end of a GeoTIFF: a truncated file
    fails here, when it opens, instead of later in every display tile (raises RasterError)."""
    source.read_full_res_rgb(Window(source.width - 1, source.height - 1, 1, 1))


def _open_labels(source, image_path, mask_path, ask_recovery, restart_from_mask):
    """(labels, lock, note): the layer is locked before it is read, recovered or created."""
    candidates = [LabelLayer.default_path(image_path), fallback_label_path(image_path)]
    existing = next((p for p in candidates if p.exists()), None)
    if existing is not None and not (mask_path is not None and restart_from_mask):
        lock = lock_label_layer(existing)
        try:
            recover = not LabelLayer.has_unsaved_recovery(existing) or ask_recovery(existing)
            labels = LabelLayer.open(existing, like=source, recover=recover)
        except BaseException:
            lock.release()
            raise
        return labels, lock, f"continuing labels {existing}"
    errors = []
    for path in candidates:
        try:
            lock = lock_label_layer(path)
        except LayerLockedError:
            raise
        except RasterError as exc:  # e.g. a read-only folder: try the next place
            errors.append(str(exc))
            continue
        try:
            if mask_path is not None:
                labels = LabelLayer.from_mask(mask_path, like=source, path=path)
                return labels, lock, f"labels {path} started from {Path(mask_path).name}"
            return LabelLayer.create(path, like=source), lock, f"new labels {path}"
        except RasterError as exc:
            lock.release()
            if isinstance(exc, GridMismatchError):
                raise
            errors.append(str(exc))
        except BaseException:
            lock.release()
            raise
    raise RasterError("; ".join(dict.fromkeys(errors)))
