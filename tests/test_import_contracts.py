"""The layer contracts of pyproject.toml (import-linter) hold for the tree and catch a wrong import.

A wrong import is tried on a copy of the tree renamed ``isegcopy`` (import-linter reads source
files; nothing is imported), so the real packages are never touched.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("inference", "resources", "training", "app")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter not installed")


def _lint(
    config: Path | None = None, pythonpath: Path | None = None
) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    args = [str(LINT_IMPORTS), "--no-cache"] + ([str(config)] if config else [])
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)


def _copy_tree(tmp_path: Path) -> tuple[Path, Path]:
    """(folder holding the ``isegcopy`` namespace package, as ``isegsat`` is one, and its
    contracts file)."""
    package = tmp_path / "isegcopy"
    package.mkdir()
    for name in PACKAGES:
        for source in (ROOT / name).rglob("*.py"):
            target = package / name / source.relative_to(ROOT / name)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(source.read_text(encoding="utf-8").replace("isegsat.", "isegcopy."))
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    text = _as_toml(settings["tool"]["importlinter"]).replace("isegsat.", "isegcopy.")
    config = tmp_path / "contracts.toml"
    config.write_text(text)
    return tmp_path, config


def _as_toml(section: dict) -> str:
    def value(v: object) -> str:
        if isinstance(v, list):
            return "[" + ", ".join(value(item) for item in v) + "]"
        if isinstance(v, bool):
            return "true" if v else "false"
        return f'"{v}"'

    lines = ["[tool.importlinter]"]
    lines += [f"{k} = {value(v)}" for k, v in section.items() if k != "contracts"]
    for contract in section["contracts"]:
        lines += ["", "[[tool.importlinter.contracts]]"]
        lines += [f"{k} = {value(v)}" for k, v in contract.items()]
    return "\n".join(lines) + "\n"


def test_the_tree_keeps_every_contract() -> None:
    run = _lint()
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


@pytest.mark.parametrize(
    ("module", "bad_import", "contract"),
    [
        ("inference/device.py", "import isegcopy.app.geo", "inference imports nothing of ours"),
        ("resources/__init__.py", "import isegcopy.training", "resources import only inference"),
        ("training/prepare.py", "import isegcopy.app.document", "training never imports the app"),
        ("app/main.py", "import isegcopy.training.prepare", "no arrow from the app into training"),
        ("app/geo/measure.py", "import isegcopy.app.document", "app layers"),
        ("app/annotation.py", "import isegcopy.app.main_window", "app layers"),
        ("app/geo/measure.py", "from PySide6 import QtCore", "Qt-free app modules"),
        ("app/tile_progress.py", "from PySide6 import QtCore", "Qt-free app modules"),
    ],
)
def test_a_wrong_import_breaks_its_contract(
    tmp_path: Path, module: str, bad_import: str, contract: str
) -> None:
    folder, config = _copy_tree(tmp_path)
    clean = _lint(config, folder)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    target = folder / "isegcopy" / module
    target.write_text(target.read_text() + f"\n{bad_import}  # deliberately wrong\n")
    broken = _lint(config, folder)
    assert broken.returncode == 1, broken.stdout
    verdicts = [
        line
        for line in broken.stdout.splitlines()
        if line.startswith(contract) and line.endswith(("KEPT", "BROKEN"))
    ]
    assert len(verdicts) == 1 and verdicts[0].endswith("BROKEN"), broken.stdout


def test_a_new_app_module_must_be_placed_in_a_layer(tmp_path: Path) -> None:
    folder, config = _copy_tree(tmp_path)
    (folder / "isegcopy" / "app" / "unplaced.py").write_text("X = 1\n")
    run = _lint(config, folder)
    assert run.returncode == 1 and "isegcopy.app.unplaced" in run.stdout, run.stdout
