"""Typed, validated access to the app's persistent settings (QSettings "isegsat"/"isegsat").

Every key has one default, declared in ``DEFAULTS``; a stored value that is missing, of the wrong
type or out of range reads back as that default, so a corrupt settings file never breaks the app.
Setters reject bad values with ``ValueError``. Settings live in an INI file in the user scope, so
tests redirect them with ``QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, dir)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings

from isegsat.app.export_job import ExportFormat
from isegsat.inference.precision import PRECISIONS
from isegsat.inference.threshold import PRED_THRESHOLD

ORGANISATION = "isegsat"
APPLICATION = "isegsat"
MAX_RECENT = 10
MAX_BAND_CHOICES = 50

_DEVICE_PATTERN = re.compile(r"^(cpu|mps|cuda(:\d+)?)$")


@dataclass(frozen=True)
class SettingsDefaults:
    """Default value of every scalar setting."""

    tile_size: int = 500
    opacity: float = 0.45
    threshold: float = PRED_THRESHOLD
    autosave_seconds: int = 60
    device: str | None = None  # None: pick CUDA when available, else CPU
    precision: str = "auto"  # the model's number format (isegsat.inference.precision)
    adapt_every: int = 0  # adapt the model every N accepted tiles of a scene (0: only on demand)


DEFAULTS = SettingsDefaults()


def _as_int(raw: Any) -> int:
    if isinstance(raw, bool):
        raise ValueError("a boolean is not an integer setting")
    if isinstance(raw, float) and not raw.is_integer():
        raise ValueError(f"{raw} is not an integer")
    return int(raw)


def _valid_tile_size(raw: Any) -> int:
    value = _as_int(raw)
    if not 64 <= value <= 4096:
        raise ValueError(f"tile size must be within 64..4096 pixels, got {value}")
    return value


def _valid_opacity(raw: Any) -> float:
    value = float(raw)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"opacity must be within 0..1, got {value}")
    return value


def _valid_threshold(raw: Any) -> float:
    value = float(raw)
    if not 0.0 < value < 1.0:
        raise ValueError(f"threshold must be strictly between 0 and 1, got {value}")
    return value


def _valid_autosave(raw: Any) -> int:
    value = _as_int(raw)
    if not 10 <= value <= 3600:
        raise ValueError(f"autosave interval must be within 10..3600 s, got {value}")
    return value


def _valid_adapt_every(raw: Any) -> int:
    value = _as_int(raw)
    if not 0 <= value <= 10000:
        raise ValueError(f"adapt every must be within 0..10000 accepted tiles, got {value}")
    return value


def _valid_device(raw: Any) -> str | None:
    if raw is None or raw == "":
        return None
    value = str(raw).strip().lower()
    if not _DEVICE_PATTERN.match(value):
        raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'mps', got {raw!r}")
    return value


def _valid_precision(raw: Any) -> str:
    value = str(raw).strip().lower()
    if value not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {raw!r}")
    return value


class AppSettings:
    """Typed wrapper around a ``QSettings`` store; reads fall back to ``DEFAULTS``."""

    def __init__(self, store: QSettings | None = None) -> None:
        self._store = store or QSettings(
            QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANISATION, APPLICATION
        )

    @property
    def file_name(self) -> str:
        """Path of the backing settings file."""
        return self._store.fileName()

    def sync(self) -> None:
        """Write pending changes to disk."""
        self._store.sync()

    # -- scalar settings -------------------------------------------------------------------

    def _read(self, key: str, validate: Callable[[Any], Any]) -> Any:
        raw = self._store.value(key)
        if raw is None:
            return getattr(DEFAULTS, key)
        try:
            return validate(raw)
        except (TypeError, ValueError):
            return getattr(DEFAULTS, key)

    def _write(self, key: str, validate: Callable[[Any], Any], value: Any) -> None:
        try:
            checked = validate(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"invalid {key} setting: {exc}") from exc
        self._store.setValue(key, "" if checked is None else checked)

    @property
    def tile_size(self) -> int:
        """Edge of the square tile the annotator accepts at once, in image pixels."""
        return self._read("tile_size", _valid_tile_size)

    @tile_size.setter
    def tile_size(self, value: int) -> None:
        self._write("tile_size", _valid_tile_size, value)

    @property
    def opacity(self) -> float:
        """Mask overlay opacity in [0, 1]."""
        return self._read("opacity", _valid_opacity)

    @opacity.setter
    def opacity(self, value: float) -> None:
        self._write("opacity", _valid_opacity, value)

    @property
    def threshold(self) -> float:
        """Probability above which a pixel is a building, in (0, 1)."""
        return self._read("threshold", _valid_threshold)

    @threshold.setter
    def threshold(self, value: float) -> None:
        self._write("threshold", _valid_threshold, value)

    @property
    def autosave_seconds(self) -> int:
        """Interval between automatic saves of the labels GeoTIFF, in seconds (10..3600)."""
        return self._read("autosave_seconds", _valid_autosave)

    @autosave_seconds.setter
    def autosave_seconds(self, value: int) -> None:
        self._write("autosave_seconds", _valid_autosave, value)

    @property
    def adapt_every(self) -> int:
        """Adapt the model to the open scene automatically every N accepted tiles (0: off)."""
        return self._read("adapt_every", _valid_adapt_every)

    @adapt_every.setter
    def adapt_every(self, value: int) -> None:
        self._write("adapt_every", _valid_adapt_every, value)

    @property
    def device(self) -> str | None:
        """Torch device for inference ("cpu", "cuda", "cuda:N", "mps"), None for automatic."""
        return self._read("device", _valid_device)

    @device.setter
    def device(self, value: str | None) -> None:
        self._write("device", _valid_device, value)

    @property
    def precision(self) -> str:
        """The model's number format: "auto" (bf16 where the hardware runs it faster), "fp32",
        "bf16" or "fp16"."""
        return self._read("precision", _valid_precision)

    @precision.setter
    def precision(self, value: str) -> None:
        self._write("precision", _valid_precision, value)

    # -- the last export's choices ---------------------------------------------------------

    @property
    def export_format(self) -> ExportFormat | None:
        """The format of the last export (None before any, or for an unknown name)."""
        raw = self._store.value("export_format")
        return ExportFormat.__members__.get(raw) if isinstance(raw, str) else None

    @export_format.setter
    def export_format(self, value: ExportFormat) -> None:
        self._store.setValue("export_format", value.name)

    @property
    def export_folder(self) -> Path | None:
        """The folder of the last export (None before any)."""
        raw = self._store.value("export_folder")
        return Path(raw) if isinstance(raw, str) and raw else None

    @export_folder.setter
    def export_folder(self, value: Path) -> None:
        self._store.setValue("export_folder", str(Path(value).expanduser().resolve()))

    # -- display bands per image -----------------------------------------------------------

    def image_bands(self, image: Path | str) -> tuple[int, int, int] | None:
        """The bands last chosen for `image` as (R, G, B), 1-based (None: its default bands)."""
        return self._read_band_choices().get(_resolved(image))

    def set_image_bands(self, image: Path | str, bands: tuple[int, int, int] | None) -> None:
        """Remember `bands` for `image` (None forgets them); the newest MAX_BAND_CHOICES are
        kept."""
        if bands is not None and (len(bands) != 3 or any(int(b) < 1 for b in bands)):
            raise ValueError(f"invalid image_bands setting: {bands}")
        key = _resolved(image)
        choices = {k: v for k, v in self._read_band_choices().items() if k != key}
        if bands is not None:
            choices = {key: tuple(int(b) for b in bands), **choices}
        rows = [f"{','.join(map(str, v))}|{k}" for k, v in choices.items()]
        self._store.setValue("image_bands", rows[:MAX_BAND_CHOICES])

    def _read_band_choices(self) -> dict[str, tuple[int, int, int]]:
        raw = self._store.value("image_bands")
        raw = [raw] if isinstance(raw, str) else raw
        choices: dict[str, tuple[int, int, int]] = {}
        for row in raw if isinstance(raw, list) else []:
            bands, sep, path = str(row).partition("|")
            try:
                parsed = tuple(int(b) for b in bands.split(","))
            except ValueError:
                continue
            if sep and path and len(parsed) == 3 and min(parsed) >= 1:
                choices.setdefault(path, parsed)
        return choices

    # -- most-recently-used lists ----------------------------------------------------------

    def _read_paths(self, key: str) -> list[Path]:
        raw = self._store.value(key)
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, list):
            return []
        paths: list[Path] = []
        for item in raw:
            if isinstance(item, str) and item and Path(item) not in paths:
                paths.append(Path(item))
        return paths[:MAX_RECENT]

    def _push_path(self, key: str, path: Path | str) -> None:
        resolved = Path(path).expanduser().resolve()
        paths = [resolved] + [p for p in self._read_paths(key) if p != resolved]
        self._store.setValue(key, [str(p) for p in paths[:MAX_RECENT]])

    def _drop_path(self, key: str, path: Path | str) -> None:
        resolved = Path(path).expanduser().resolve()
        self._store.setValue(key, [str(p) for p in self._read_paths(key) if p != resolved])

    @property
    def recent_files(self) -> list[Path]:
        """Recently opened rasters, most recent first (at most ``MAX_RECENT``)."""
        return self._read_paths("recent_files")

    def add_recent_file(self, path: Path | str) -> None:
        """Put ``path`` (made absolute) at the top of the recent rasters."""
        self._push_path("recent_files", path)

    def remove_recent_file(self, path: Path | str) -> None:
        """Forget ``path``, e.g. after it failed to open."""
        self._drop_path("recent_files", path)

    @property
    def recent_checkpoints(self) -> list[Path]:
        """Recently chosen model checkpoints, most recent first (at most ``MAX_RECENT``)."""
        return self._read_paths("recent_checkpoints")

    def add_recent_checkpoint(self, path: Path | str) -> None:
        """Put ``path`` (made absolute) at the top of the recent checkpoints."""
        self._push_path("recent_checkpoints", path)

    def remove_recent_checkpoint(self, path: Path | str) -> None:
        """Forget ``path``, e.g. after it failed to load."""
        self._drop_path("recent_checkpoints", path)


def _resolved(path: Path | str) -> str:
    return str(Path(path).expanduser().resolve())
