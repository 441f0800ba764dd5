"""Plain-words explanations of the failures an annotator meets: a file that is no model checkpoint,
a damaged or incomplete raster (GUI-free; the dialogs and the status bar show these texts).

Each explanation says what is wrong with the file and what to do; library jargon (GDAL's
``TIFFReadDirectory``, PyTorch's advice to load with ``weights_only=False``, which would run code
from the file) is left out or kept short at the end.
"""

from __future__ import annotations

import re
from pathlib import Path

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_ZIP_MAGIC = b"PK\x03\x04"
_TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
# GDAL/libtiff phrases of a file that ends before its directory or its pixel blocks do.
_DAMAGED_TIFF = ("TIFFReadDirectory", "Read failed", "TIFFFill", "TIFFRead", "IReadBlock")
UNREADABLE_CHECKPOINT = "not a readable torch checkpoint"  # isegsat.inference's wording
WHAT_TO_OPEN = "Open an RITM HRNet checkpoint or one written by isegsat-train."


def _head(path: Path, size: int = 4096) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(size)
    except OSError:
        return b""


def _looks_like_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def explain_checkpoint_failure(name: str, path: Path | None, error: BaseException) -> str:
    """Why the model `name` (file `path`, None for an in-memory model) failed to load.

    A file torch cannot read at all is described by what it is (text, an incomplete archive,
    something else); the loader's own messages about a readable file of the wrong kind (a bare
    state dict, another architecture, missing keys) are kept. PyTorch's ``weights_only`` advice is
    never repeated: isegsat loads tensors only, on purpose.
    """
    text = _ANSI.sub("", str(error)).strip()
    if path is None or UNREADABLE_CHECKPOINT not in text:
        reason = text if path is None else text.removeprefix(f"{path}: ")
        return f"{name}: {reason or type(error).__name__}"
    head = _head(path)
    if head.startswith(_ZIP_MAGIC):
        what = "is incomplete or damaged (a cut-off download or copy?). Copy it again"
        return f"{name} {what} from where it came from."
    if _looks_like_text(head):
        return f"{name} is a text file, not a model checkpoint. {WHAT_TO_OPEN}"
    if not head:
        return f"{name} is empty, not a model checkpoint. {WHAT_TO_OPEN}"
    return (
        f"{name} is not a model checkpoint isegsat can read: it is not a PyTorch file of "
        f"tensors (isegsat never loads files that hold Python code or objects). {WHAT_TO_OPEN}"
    )


def explain_raster_failure(path: Path, message: str) -> str:
    """Why the raster at `path` cannot be opened or read (`message`: the RasterError's text), in
    plain words, GDAL's detail last."""
    text = _ANSI.sub("", message).strip()
    head = _head(Path(path), 4)
    named = Path(path).name in text  # not a failure of another file (e.g. the label layer)
    if named and head.startswith(_TIFF_MAGICS) and any(p in text for p in _DAMAGED_TIFF):
        return (
            f"{Path(path).name} is incomplete or damaged: the file ends before its image data "
            f"does (an interrupted download or copy?). Copy it again from its source. "
            f"(GDAL: {text})"
        )
    return text
