"""At run time too, the Qt-free modules load no Qt: importing every module of the import-linter
contract "Qt-free app modules and app/geo import no Qt" (pyproject.toml), plus the cores, in a
fresh interpreter leaves PySide6 out of ``sys.modules``. The static layer rules themselves are
import-linter's (``lint-imports`` in .ci/run; tests/test_import_contracts.py)."""

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QT_MODULES = ("PySide6", "PyQt5", "PyQt6", "pytestqt", "shiboken6")


def _qt_free_modules() -> list[str]:
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = settings["tool"]["importlinter"]["contracts"]
    (contract,) = [
        c
        for c in contracts
        if "PySide6" in c.get("forbidden_modules", ())
        and any(m.startswith("isegsat.app") for m in c["source_modules"])
    ]
    return list(contract["source_modules"])


def test_gui_free_modules_load_no_qt_even_indirectly() -> None:
    modules = [*_qt_free_modules(), "isegsat.inference.predictor", "isegsat.training.trainer"]
    assert "isegsat.app.annotation" in modules and "isegsat.app.geo" in modules
    code = (
        f"import sys; import {', '.join(modules)}; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {QT_MODULES!r}))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]", run.stdout
