"""The wheel's package list covers every package folder of the tree (none silently left out)
except the ``tools`` subpackages (benchmarks, the screenshot tool), which it omits on purpose:
they run from a source checkout with ``python -m``, and no module the wheel ships imports them."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Deliberately not in the wheel. A new package anywhere else must be listed in pyproject.toml.
TOOLS = {
    "isegsat.app.tools",
    "isegsat.app.geo.tools",
    "isegsat.inference.tools",
    "isegsat.training.tools",
    "isegsat.resources.synth.tools",
}


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


def _tree_packages() -> set[str]:
    package_dir, _ = _declared()
    found = set()
    for name, folder in package_dir.items():
        found |= _package_folders(name, ROOT / folder)
    return found


def _in_tools(name: str) -> bool:
    return any(name == tool or name.startswith(tool + ".") for tool in TOOLS)


def test_every_package_folder_but_the_tools_is_in_the_wheel() -> None:
    _, packages = _declared()
    found = _tree_packages()
    assert found >= TOOLS, "a tools package listed here no longer exists"
    assert not any(_in_tools(name) for name in found - TOOLS), "tools hold no subpackages"
    assert packages == found - TOOLS


def test_a_new_subpackage_would_be_reported(tmp_path: Path) -> None:
    (tmp_path / "geo").mkdir()
    (tmp_path / "__init__.py").write_text("")
    (tmp_path / "geo" / "__init__.py").write_text("")
    assert _package_folders("isegsat.app", tmp_path) == {"isegsat.app", "isegsat.app.geo"}


def _imports(module: Path, name: str) -> set[str]:
    """Dotted names ``module`` (the file of package-or-module ``name``) imports, relative ones
    resolved."""
    package = name if module.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            base = base[: len(base) - node.level + 1] if node.level else []
            stem = ".".join([*base, *([node.module] if node.module else [])])
            found.add(stem)
            found |= {f"{stem}.{alias.name}" for alias in node.names}
    return found


def test_no_shipped_module_imports_a_tool() -> None:
    package_dir, packages = _declared()
    offenders = []
    for package in packages:
        top = next(p for p in package_dir if package == p or package.startswith(p + "."))
        folder = ROOT / package_dir[top] / Path(*package[len(top) :].split(".")[1:])
        for module in folder.glob("*.py"):
            name = package if module.name == "__init__.py" else f"{package}.{module.stem}"
            offenders += [f"{name} -> {i}" for i in _imports(module, name) if _in_tools(i)]
    assert not offenders, offenders


@pytest.mark.slow
def test_the_built_wheel_omits_the_tools(tmp_path: Path) -> None:
    source = tmp_path / "source"  # a copy: building in the checkout would leave build/ there
    package_dir, _ = _declared()
    for name in ("pyproject.toml", "README.md"):
        source.mkdir(exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    for folder in package_dir.values():
        ignore = shutil.ignore_patterns("__pycache__", "*.ovr.tmp")
        shutil.copytree(ROOT / folder, source / folder, ignore=ignore)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(tmp_path), str(source)],
        check=True,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("isegsat-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    modules = {n.removesuffix(".py").replace("/", ".") for n in names if n.endswith(".py")}
    assert "isegsat.app.main" in modules and "isegsat.app.geo.labels" in modules
    assert not [m for m in modules if _in_tools(m)]
    assert not [n for n in names if "bench" in n or "screenshot.py" in n]
