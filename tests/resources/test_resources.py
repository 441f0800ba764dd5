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
