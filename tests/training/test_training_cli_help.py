"""`--help` of the training command lines answers without loading torch and documents every
option (with its default where it has one)."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from isegsat.resources.synth import cli as synth_cli
from isegsat.training import adapt_cli, eval_cli, prepare, train_cli
from isegsat.training.tools import adapt_bench

MODULES = {
    "isegsat.training.adapt_cli": adapt_cli,
    "isegsat.training.tools.adapt_bench": adapt_bench,
    "isegsat.training.train_cli": train_cli,
    "isegsat.training.eval_cli": eval_cli,
    "isegsat.training.prepare": prepare,
    "isegsat.resources.synth.cli": synth_cli,
}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_help_does_not_load_torch(module: str) -> None:
    code = (
        f"import sys\nfrom {module} import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('TORCH', 'torch' in sys.modules)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "usage:" in run.stdout and run.stdout.splitlines()[-1] == "TORCH False", run.stdout


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_option_has_help_that_names_its_default(module: str) -> None:
    parser = MODULES[module].build_parser()
    options = parser.format_help().split("options:", 1)[1]
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction) or not action.option_strings:
            continue
        assert action.help, f"{action.dest} has no help"
        if action.default not in (None, False, argparse.SUPPRESS):
            entry = options.split(action.option_strings[-1], 1)[1].split("\n  -")[0]
            assert "default" in entry, f"{action.dest}: {entry}"
