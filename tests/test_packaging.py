"""The wheel's package list covers every package folder of the tree (none silently left out)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _declared() -> tuple[dict[str, str], set[str]]:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    return setuptools["package-dir"], set(setuptools["packages"])


def _package_folders(name: str, folder: Path) -> set[str]:
    """``name`` and the dotted names of every folder below ``folder`` that holds Python code."""
    found = {name}
    for init in folder.rglob("__init__.py"):
        relative = init.parent.relative_to(folder)
        if relative.parts:
            found.add(".".join((name, *relative.parts)))
    for module in folder.rglob("*.py"):
        if module.parent != folder and not (module.parent / "__init__.py").exists():
            raise AssertionError(f"{module} is in a folder without __init__.py: not installed")
    return found


def test_every_package_folder_is_in_the_wheel() -> None:
    package_dir, packages = _declared()
    expected = set()
    for name, folder in package_dir.items():
        expected |= _package_folders(name, ROOT / folder)
    assert packages == expected


def test_a_new_subpackage_would_be_reported(tmp_path: Path) -> None:
    (tmp_path / "geo").mkdir()
    (tmp_path / "__init__.py").write_text("")
    (tmp_path / "geo" / "__init__.py").write_text("")
    assert _package_folders("isegsat.app", tmp_path) == {"isegsat.app", "isegsat.app.geo"}
