"""What one adaptation of the model to a scene is, and what its outcome says (Qt-free).

The app fine-tunes a copy of the model in use on the scene's samples (`scene_samples`) by running
the training package's command line, never importing it:

    isegsat-adapt --samples DIR --weights CKPT --out OUT.pth --report REPORT.json
                  [--steps N] [--device auto|cpu|cuda] [--hold-back K] [--nice N]

Exit status 0: the adapted model was accepted and OUT written; 3: refused (worse on the held-back
sample, OUT not written); 2: bad input (stderr holds one ``isegsat-adapt: error: ...`` line).
REPORT.json (written on 0 and 3) holds accepted, reason, samples, held_back, steps, seconds,
device, before/after {noc85, iou} and out. Adapted checkpoints and their reports go to
``<label file>.samples/adapted/adapted_<n>.pth`` / ``.json``, n counting up from 1.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ADAPT_MODULE = "isegsat.training.adapt_cli"
MIN_SAMPLES = 2  # one held back to judge the adapted model, at least one to train on
ADAPT_NICE = 10  # the process's niceness: annotation keeps the CPU it needs
EXIT_ACCEPTED, EXIT_BAD_INPUT, EXIT_REFUSED = 0, 2, 3
_ADAPTED = re.compile(r"adapted_(\d+)\.(pth|json)")


def default_command() -> tuple[str, ...]:
    """The adaptation program and its leading arguments: this Python running the training
    package's module (the app never imports it)."""
    return (sys.executable, "-m", ADAPT_MODULE)


@dataclass(frozen=True)
class AdaptRun:
    """One adaptation: `weights` (the checkpoint in use) fine-tuned on the samples in `samples`
    (`count` of them) into `out`, with its report at `report`."""

    samples: Path
    weights: Path
    out: Path
    report: Path
    count: int
    device: str = "auto"
    nice: int = ADAPT_NICE

    def arguments(self) -> list[str]:
        """The command-line arguments after the program (see the module docstring)."""
        return [
            "--samples", str(self.samples), "--weights", str(self.weights),
            "--out", str(self.out), "--report", str(self.report),
            "--device", self.device, "--nice", str(self.nice),
        ]  # fmt: skip


def next_run(samples: Path, weights: Path, count: int) -> AdaptRun:
    """The next unused ``adapted/adapted_<n>`` pair in the samples folder `samples` (created)."""
    adapted = Path(samples) / "adapted"
    adapted.mkdir(parents=True, exist_ok=True)
    used = [int(m.group(1)) for p in adapted.iterdir() if (m := _ADAPTED.fullmatch(p.name))]
    n = max(used, default=0) + 1
    return AdaptRun(
        Path(samples), Path(weights), adapted / f"adapted_{n}.pth", adapted / f"adapted_{n}.json",
        count,
    )  # fmt: skip


def read_report(path: Path) -> dict:
    """The run's REPORT.json as a dict ({} when it is missing or not a JSON object)."""
    try:
        report = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return report if isinstance(report, dict) else {}


def _number(value: object, digits: int) -> str:
    return f"{value:.{digits}f}" if isinstance(value, int | float) else "?"


def noc_change(report: dict) -> str:
    """'NoC85 a → b, IoU c → d' on the held-back samples, before → after adaptation."""
    before = report.get("before") if isinstance(report.get("before"), dict) else {}
    after = report.get("after") if isinstance(report.get("after"), dict) else {}
    return (
        f"NoC85 {_number(before.get('noc85'), 2)} → {_number(after.get('noc85'), 2)}, "
        f"IoU {_number(before.get('iou'), 3)} → {_number(after.get('iou'), 3)}"
    )


def error_line(stderr: str) -> str:
    """The ``isegsat-adapt: error: ...`` line of the program's stderr, else its last line."""
    lines = [line.strip() for line in stderr.replace("\r", "\n").splitlines() if line.strip()]
    errors = [line for line in lines if "error:" in line]
    if errors:
        return errors[-1]
    return lines[-1] if lines else "no message"


def refused_message(report: dict) -> str:
    """The status text of a refused adaptation (exit status 3)."""
    return (
        f"Adaptation refused, worse on {report.get('held_back', '?')} held-back tile(s) "
        f"({noc_change(report)}): keeping the current model."
    )


def accepted_message(report: dict, run: AdaptRun) -> str:
    """The status text of an adapted model that is being swapped in (exit status 0)."""
    return (
        f"Adapted model {run.out.name} on {report.get('samples', run.count)} samples "
        f"({_number(report.get('seconds'), 0)} s on {report.get('device', '?')}; held-back "
        f"{noc_change(report)}) is swapped in. Model ▸ Use the previous model goes back."
    )
