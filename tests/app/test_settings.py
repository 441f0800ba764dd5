"""AppSettings: typed values, defaults, fallback on corrupt values, recent lists."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures_dialogs import redirected_settings
from PySide6.QtCore import QSettings

from isegsat.app.settings import DEFAULTS, MAX_BAND_CHOICES, MAX_RECENT, AppSettings


@pytest.fixture
def app_settings(tmp_path: Path) -> AppSettings:
    return redirected_settings(tmp_path)


def test_defaults_when_nothing_is_stored(app_settings: AppSettings) -> None:
    assert app_settings.tile_size == 500
    assert app_settings.opacity == pytest.approx(0.45)
    assert app_settings.threshold == pytest.approx(0.49)
    assert app_settings.autosave_seconds == 60
    assert app_settings.device is None
    assert app_settings.precision == "auto"
    assert app_settings.recent_files == []
    assert app_settings.recent_checkpoints == []


def test_values_survive_a_new_instance_through_the_ini_file(app_settings: AppSettings) -> None:
    app_settings.tile_size = 256
    app_settings.opacity = 0.7
    app_settings.threshold = 0.3
    app_settings.autosave_seconds = 120
    app_settings.device = "CUDA:1"
    app_settings.precision = "FP32"
    app_settings.sync()

    again = AppSettings()
    assert again.file_name == app_settings.file_name
    assert (again.tile_size, again.opacity, again.threshold) == (256, 0.7, 0.3)
    assert again.autosave_seconds == 120
    assert again.device == "cuda:1"
    assert again.precision == "fp32"
    app_settings.device = None
    assert AppSettings().device is None


@pytest.mark.parametrize(
    ("key", "stored"),
    [
        ("tile_size", "huge"),
        ("tile_size", "12"),
        ("tile_size", "500.5"),
        ("opacity", "1.5"),
        ("opacity", "nan"),
        ("threshold", "0"),
        ("threshold", "x"),
        ("autosave_seconds", "-5"),
        ("autosave_seconds", "0"),
        ("device", "tpu"),
        ("precision", "int4"),
    ],
)
def test_invalid_stored_values_fall_back_to_defaults(
    app_settings: AppSettings, key: str, stored: str
) -> None:
    raw = QSettings(app_settings.file_name, QSettings.Format.IniFormat)
    raw.setValue(key, stored)
    raw.sync()
    assert getattr(AppSettings(), key) == getattr(DEFAULTS, key)


@pytest.mark.parametrize(
    ("key", "value"),
    [("tile_size", 10), ("opacity", -0.1), ("threshold", 1.0), ("autosave_seconds", 1.5)],
)
def test_setters_reject_out_of_range_values(
    app_settings: AppSettings, key: str, value: float
) -> None:
    with pytest.raises(ValueError, match=f"invalid {key}"):
        setattr(app_settings, key, value)
    assert getattr(app_settings, key) == getattr(DEFAULTS, key)


def test_recent_files_are_most_recent_first_unique_and_capped(
    app_settings: AppSettings, tmp_path: Path
) -> None:
    paths = [tmp_path / f"scene{i}.tif" for i in range(MAX_RECENT + 3)]
    for path in paths:
        app_settings.add_recent_file(path)
    app_settings.add_recent_file(paths[5])

    recent = AppSettings().recent_files
    assert len(recent) == MAX_RECENT
    assert recent[0] == paths[5].resolve()
    assert recent[1] == paths[-1].resolve()
    assert len(set(recent)) == MAX_RECENT
    assert paths[0].resolve() not in recent

    app_settings.remove_recent_file(paths[5])
    assert paths[5].resolve() not in app_settings.recent_files


def test_recent_checkpoints_are_kept_apart_from_recent_files(
    app_settings: AppSettings, tmp_path: Path
) -> None:
    app_settings.add_recent_checkpoint(tmp_path / "a.pth")
    app_settings.add_recent_checkpoint(tmp_path / "b.pth")
    assert app_settings.recent_checkpoints == [tmp_path / "b.pth", tmp_path / "a.pth"]
    assert app_settings.recent_files == []
    raw = QSettings(app_settings.file_name, QSettings.Format.IniFormat)
    raw.setValue("recent_checkpoints", 42)
    raw.sync()
    assert AppSettings().recent_checkpoints == []


def test_band_choices_are_kept_per_image_and_survive_junk(
    app_settings: AppSettings, tmp_path: Path
) -> None:
    a, b = tmp_path / "a.tif", tmp_path / "b.tif"
    assert app_settings.image_bands(a) is None
    app_settings.set_image_bands(a, (4, 3, 2))
    app_settings.set_image_bands(b, (1, 1, 1))
    assert app_settings.image_bands(a) == (4, 3, 2) and app_settings.image_bands(b) == (1, 1, 1)
    app_settings.set_image_bands(a, None)
    assert app_settings.image_bands(a) is None and app_settings.image_bands(b) == (1, 1, 1)
    with pytest.raises(ValueError):
        app_settings.set_image_bands(a, (0, 1, 2))
    app_settings._store.setValue("image_bands", ["x,y|/nowhere", "2,2|/short", 7, "3,2,1|"])
    assert app_settings.image_bands("/nowhere") is None and app_settings.image_bands(a) is None
    for i in range(MAX_BAND_CHOICES + 5):
        app_settings.set_image_bands(tmp_path / f"{i}.tif", (3, 2, 1))
    assert app_settings.image_bands(tmp_path / "0.tif") is None  # the oldest are dropped
    assert app_settings.image_bands(tmp_path / f"{MAX_BAND_CHOICES + 4}.tif") == (3, 2, 1)
