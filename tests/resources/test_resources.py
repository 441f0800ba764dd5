"""The default-model lookup honours the environment override and the bundled file."""

from pathlib import Path

import pytest

from isegsat import resources


def test_env_var_overrides_bundled_model(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    ckpt = tmp_path / "mine.pth"
    monkeypatch.setenv(resources.WEIGHTS_ENV_VAR, str(ckpt))
    assert resources.default_model_path() == ckpt


def test_without_override_the_bundled_model_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(resources.WEIGHTS_ENV_VAR, raising=False)
    assert resources.default_model_path() == resources.bundled_model_path()


def test_the_bundled_default_model_has_a_tile_mode_companion(tmp_path: Path) -> None:
    """Tile mode gets the tile-trained companion of the bundled model only; any other
    checkpoint (a user's, an adapted one) serves both modes."""
    bundled, tile = resources.bundled_model_path(), resources.bundled_tile_model_path()
    if bundled is None or tile is None:
        pytest.skip("bundled weights not installed")
    assert resources.tile_model_for(bundled) == tile != bundled
    mine = tmp_path / "mine.pth"
    mine.write_bytes(b"weights")
    assert resources.tile_model_for(mine) is None and resources.tile_model_for(None) is None
