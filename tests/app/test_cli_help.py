"""`--help` of the app's command lines answers without loading torch or Qt (what made it take
seconds), and documents every option with its default."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest
from fakes.scenes import write_scene

from isegsat.app import main as app_main
from isegsat.app import prelabel_cli
from isegsat.app.export_dialog import ExportDialog
from isegsat.app.geo import RasterSource, export_cli
from isegsat.app.geo.export import DEFAULT_MIN_AREA_M2

HEAVY = ("torch", "PySide6")


@pytest.mark.parametrize(
    "module", ["isegsat.app.main", "isegsat.app.geo.export_cli", "isegsat.app.prelabel_cli"]
)
def test_help_loads_neither_torch_nor_qt(module: str):
    code = (
        f"import sys\nfrom {module} import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print('LOADED', sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "usage:" in run.stdout and run.stdout.splitlines()[-1] == "LOADED []", run.stdout


@pytest.mark.parametrize(
    "build_parser", [app_main.build_parser, export_cli.build_parser, prelabel_cli.build_parser]
)
def test_every_option_has_help_that_names_its_default(build_parser):
    built = build_parser()
    for action in built._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        assert action.help, f"{action.dest} has no help"
    options = built.format_help().split("options:", 1)[1]
    for action in built._actions:
        if action.default not in (None, False, argparse.SUPPRESS) and action.option_strings:
            entry = options.split(action.option_strings[-1], 1)[1].split("\n  -")[0]
            assert "default" in entry, f"{action.dest}: {entry}"


def test_the_export_minimum_area_default_is_the_apps(qtbot, tmp_path):
    args = export_cli.build_parser().parse_args(["m.tif", "--to", "o.gpkg"])
    assert args.min_area == DEFAULT_MIN_AREA_M2 == 2.0
    help_text = " ".join(export_cli.build_parser().format_help().split())
    assert f"(default: {DEFAULT_MIN_AREA_M2})" in help_text
    with RasterSource.open(write_scene(tmp_path / "s.tif").path) as source:
        dialog = ExportDialog(source, None)
        qtbot.addWidget(dialog)
        assert dialog.min_area.value() == DEFAULT_MIN_AREA_M2
        assert f"default {DEFAULT_MIN_AREA_M2:g} m²" in dialog.min_area.toolTip()
