"""The app's "Pre-label scene": the pre-labeller over the open image on a worker thread.

`PrelabelThread` loads the non-interactive model, runs `prelabel.prelabel_scene` over the whole
image into a draft GeoTIFF beside the label layer (resumable: a cancelled run continues where it
stopped the next time), then computes the label-layer blocks the draft changes
(`draft.draft_edits`). The GUI thread only applies those blocks (`AnnotationSession.apply_draft`,
one undoable step). It follows `progress_dialog.ProgressThread`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal

from isegsat.app.annotation_types import LabelStore
from isegsat.app.draft import Edit, draft_edits
from isegsat.app.geo.errors import Cancelled, RasterError
from isegsat.app.geo.grid import RasterGrid
from isegsat.app.prelabel import (
    DEFAULT_OVERLAP,
    DEFAULT_TILE,
    PrelabelError,
    PrelabelResult,
    Segment,
    load_prelabeller,
    prelabel_scene,
)
from isegsat.inference.box import Box
from isegsat.inference.checkpoint import CheckpointError


def draft_path(label_path: Path) -> Path:
    """Where the app keeps a scene's draft: ``<labels>.draft.tif`` beside the label layer."""
    return label_path.with_name(f"{label_path.stem}.draft.tif")


@dataclass(frozen=True)
class PrelabelRequest:
    """One pre-labelling of the open scene. `accepted`: tiles whose labels the draft keeps;
    `labels`: the label layer (thread-safe reads), `grid` its grid; `device` None = auto."""

    image: Path
    draft: Path
    weights: Path
    labels: LabelStore
    grid: RasterGrid
    accepted: tuple[Box, ...] = ()
    device: str | None = None
    tile: int = DEFAULT_TILE
    overlap: int = DEFAULT_OVERLAP
    load: Callable[[Path, str | None], tuple[Segment, dict[str, Any]]] = load_prelabeller
    """(weights, device) -> (segment, model id); `prelabel.load_prelabeller` reads a checkpoint."""


@dataclass(frozen=True)
class PrelabelOutcome:
    """A finished pre-labelling: the draft written and the label blocks it changes."""

    result: PrelabelResult
    edits: tuple[Edit, ...]


class PrelabelThread(QThread):
    """Runs one `PrelabelRequest`; `outcome` (None after a cancel) or `error` is set before
    `finished`. `progressed` carries per-mille steps (0..1000) over the windows."""

    progressed = Signal(int)

    def __init__(self, request: PrelabelRequest, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.request = request
        self._stop = threading.Event()
        self.outcome: PrelabelOutcome | None = None
        self.error: str | None = None

    def cancel(self) -> None:
        """Stop before the next window (thread-safe); finished windows are kept for a rerun."""
        self._stop.set()

    def _report(self, done: int, total: int) -> None:
        self.progressed.emit(int(1000 * done / max(total, 1)))

    def run(self) -> None:
        request = self.request
        try:
            segment, model_id = request.load(request.weights, request.device)
            result = prelabel_scene(
                request.image,
                request.draft,
                segment,
                tile=request.tile,
                overlap=request.overlap,
                model_id=model_id,
                progress=self._report,
                cancel=self._stop.is_set,
            )
            edits = draft_edits(
                result.path, request.labels, request.grid, request.accepted, self._stop.is_set
            )
            self.outcome = PrelabelOutcome(result, tuple(edits))
        except Cancelled:
            self.outcome = None
        except (CheckpointError, PrelabelError, RasterError, OSError, RuntimeError) as exc:
            self.error = str(exc)
        except Exception as exc:  # a bug must reach the user, not end the thread silently
            self.error = f"pre-labelling failed unexpectedly: {type(exc).__name__}: {exc}"
