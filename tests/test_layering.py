"""The model, training and geodata cores and the GUI-free app modules never import Qt (the
app's widgets are the only Qt layer)."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QT_MODULES = ("PySide6", "PyQt5", "PyQt6", "pytestqt", "shiboken6")
QT_FREE_TREES = ("inference", "training", "app/geo")
QT_FREE_APP_MODULES = (
    "app/annotation.py",
    "app/document.py",
    "app/navigation.py",
    "app/object_window.py",
    "app/plain_errors.py",
    "app/platform_check.py",
    "app/tile_progress.py",
)


def _imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


@pytest.mark.parametrize("tree", QT_FREE_TREES)
def test_core_trees_do_not_import_qt(tree: str) -> None:
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in sorted((ROOT / tree).rglob("*.py"))
        for name in _imported_modules(path)
        if name.split(".")[0] in QT_MODULES
    ]
    assert not offenders, "Qt imported outside app/: " + ", ".join(offenders)


@pytest.mark.parametrize("module", QT_FREE_APP_MODULES)
def test_gui_free_app_modules_do_not_import_qt(module: str) -> None:
    offenders = [
        name for name in _imported_modules(ROOT / module) if name.split(".")[0] in QT_MODULES
    ]
    assert not offenders, f"{module} imports Qt: " + ", ".join(offenders)


def test_gui_free_modules_load_no_qt_even_indirectly() -> None:
    """Importing them (and everything they import) in a fresh interpreter loads no Qt."""
    modules = [f"isegsat.{m.removesuffix('.py').replace('/', '.')}" for m in QT_FREE_APP_MODULES]
    modules += ["isegsat.app.geo", "isegsat.inference"]
    code = (
        f"import sys; import {', '.join(modules)}; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {QT_MODULES!r}))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]", run.stdout


@pytest.mark.parametrize("tree", ("inference",))
def test_inference_does_not_import_training_or_app(tree: str) -> None:
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in sorted((ROOT / tree).rglob("*.py"))
        for name in _imported_modules(path)
        if name.startswith(("isegsat.training", "isegsat.app"))
    ]
    assert not offenders, "inference must not depend on upper layers: " + ", ".join(offenders)
