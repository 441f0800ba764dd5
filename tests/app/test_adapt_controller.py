"""Learning from the annotator in the main window: accepted tiles become samples, Model ▸ Adapt
runs the adaptation program (here a fake that obeys the `isegsat-adapt` contract) in a
background process, one at a time, and swaps in, keeps, refuses or reports what it made."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QInputDialog

from isegsat.app.adaptation import MIN_SAMPLES, AdaptRun, next_run
from isegsat.app.annotation_types import AcceptedTile, Mode
from isegsat.app.scene_samples import samples_folder
from isegsat.app.settings import AppSettings
from isegsat.inference.box import Box
from isegsat.training.manifest import read_manifest

TIMEOUT_MS = 20000

# A stand-in for `python -m isegsat.training.adapt_cli`: MODE is 0 (accept: copies the weights
# to OUT), 3 (refuse), 2 (bad input), "crash" (a traceback) or "sleep" (runs until stopped).
FAKE = """
import argparse, json, shutil, sys, time
MODE = {mode!r}
parser = argparse.ArgumentParser(prog="isegsat-adapt")
for name in ("--samples", "--weights", "--out", "--report", "--device", "--nice", "--steps",
             "--hold-back"):
    parser.add_argument(name)
args = parser.parse_args()
with open(args.report + ".args", "w") as handle:
    json.dump(sys.argv[1:], handle)
print("reading samples", flush=True)
if MODE == "sleep":
    time.sleep(60)
if MODE == "crash":
    raise ZeroDivisionError("the fake fell over")
if MODE == 2:
    print("isegsat-adapt: error: no manifest.csv in " + args.samples, file=sys.stderr)
    sys.exit(2)
accepted = MODE == 0
if accepted:
    shutil.copyfile(args.weights, args.out)
report = {{"accepted": accepted, "reason": "better" if accepted else "worse on the held-back tile",
          "samples": 3, "held_back": 1, "steps": 5, "seconds": 1.5, "device": "cpu",
          "before": {{"noc85": 3.0, "iou": 0.8}}, "after": {{"noc85": 2.0 if accepted else 4.5,
          "iou": 0.9 if accepted else 0.7}}, "out": args.out if accepted else None}}
with open(args.report, "w") as handle:
    json.dump(report, handle)
print("step 5/5 loss 0.1", flush=True)
sys.exit(MODE)
"""


def fake_program(tmp_path: Path, mode) -> tuple[str, str]:
    script = tmp_path / f"fake_adapt_{mode}.py"
    script.write_text(FAKE.format(mode=mode))
    return (sys.executable, str(script))


@pytest.fixture
def loads(window, tmp_path, monkeypatch) -> list[Path]:
    """The window's model loads by the path tile mode gets, recorded (each one "succeeds" at
    once) instead of run; the model in use, for both modes, starts as the checkpoint `base.pth`."""
    requested: list[Path] = []

    def load_model(path=None, model=None, tile_path=None):
        requested.append(tile_path or path)
        window.model_path, window.tile_model_path = path, tile_path or path

    monkeypatch.setattr(window, "load_model", load_model)
    window.model_path = window.tile_model_path = tmp_path / "base.pth"
    window.model_path.write_bytes(b"weights")
    return requested


def keep_tiles(qtbot, window, count: int, first: int = 0) -> None:
    """`count` accepted 64 px tiles of the open scene from tile `first` on (row-major, 3 a row),
    written as samples."""
    adapt = window.adapt
    before = adapt.samples.count
    for k in range(first, first + count):
        mask = np.zeros((64, 64), np.uint8)
        mask[:10, : 10 + k] = 1
        adapt.keep_tile(AcceptedTile(Box(64 * (k // 3), 64 * (k % 3), 64, 64), mask, ()))
    qtbot.waitUntil(lambda: adapt.samples.count == before + count, timeout=TIMEOUT_MS)


def wait_run(qtbot, window) -> None:
    qtbot.waitUntil(lambda: not window.adapt.busy, timeout=TIMEOUT_MS)


def message(window) -> str:
    return window.statusBar().currentMessage()


def test_accepting_tiles_in_the_window_writes_samples_beside_the_labels(qtbot, window, scene):
    window.open_image(scene.path)
    row, col, h, w = scene.buildings[0]
    pos = window.canvas.mapFromScene(QPointF(col + w / 2, row + h / 2))
    with qtbot.waitSignal(window.controller.result_applied, timeout=TIMEOUT_MS):
        qtbot.mouseClick(window.canvas.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    (click,) = window.controller.session.target.clicks
    window.named_actions["accept"].trigger()
    folder = samples_folder(window.document.labels.path)
    qtbot.waitUntil(lambda: window.adapt.samples.count == 1, timeout=TIMEOUT_MS)
    (record,) = read_manifest(folder)
    assert record.city == scene.path.stem and "samples: 1" in window.adapt.label.text()
    clicks = json.loads((folder / "clicks.jsonl").read_text())["clicks"]
    assert clicks == [[click.y, click.x, True]]  # tile 0 starts at (0, 0)
    window.controller.set_mode(Mode.OBJECT)  # an accepted object is no tile sample
    (row2, col2, h2, w2) = scene.buildings[1]
    pos = window.canvas.mapFromScene(QPointF(col2 + w2 / 2, row2 + h2 / 2))
    with qtbot.waitSignal(window.controller.result_applied, timeout=TIMEOUT_MS):
        qtbot.mouseClick(window.canvas.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    window.named_actions["accept"].trigger()
    assert window.adapt.samples.when_written().result(10) == 1


def test_an_accepted_adaptation_is_swapped_in_and_the_previous_model_comes_back(
    qtbot, window, scene, loads, tmp_path
):
    window.adapt.command = fake_program(tmp_path, 0)
    window.open_image(scene.path)
    previous = window.named_actions["previous_model"]
    assert not previous.isEnabled()
    keep_tiles(qtbot, window, 3)
    base = window.model_path
    window.named_actions["adapt"].trigger()
    wait_run(qtbot, window)
    folder = samples_folder(window.document.labels.path)
    out = folder / "adapted" / "adapted_1.pth"
    assert loads == [out] and out.read_bytes() == b"weights"
    args = json.loads((folder / "adapted" / "adapted_1.json.args").read_text())
    assert args[args.index("--samples") + 1] == str(folder)
    assert args[args.index("--weights") + 1] == str(base)
    assert args[args.index("--nice") + 1] == "10" and "--device" in args
    assert "swapped in" in message(window) and "NoC85 3.00 → 2.00" in message(window)
    assert window.adapt.previous == [base] and previous.isEnabled()
    assert window.model_path == base  # object mode keeps its model: the samples are tiles
    previous.trigger()
    assert loads == [out, base] and not previous.isEnabled()
    window.named_actions["adapt"].trigger()  # from the base model again: the next number
    wait_run(qtbot, window)
    assert loads[-1] == folder / "adapted" / "adapted_2.pth"


def test_a_refused_adaptation_keeps_the_model_and_says_why(qtbot, window, scene, loads, tmp_path):
    window.adapt.command = fake_program(tmp_path, 3)
    window.open_image(scene.path)
    keep_tiles(qtbot, window, 2)
    window.adapt.adapt()
    wait_run(qtbot, window)
    assert loads == [] and window.adapt.previous == []
    assert "refused" in message(window) and "NoC85 3.00 → 4.50" in message(window)


def test_bad_input_is_reported_with_the_error_line(qtbot, window, scene, loads, tmp_path):
    window.adapt.command = fake_program(tmp_path, 2)
    window.open_image(scene.path)
    keep_tiles(qtbot, window, 2)
    window.adapt.adapt()
    wait_run(qtbot, window)
    assert loads == []
    assert "isegsat-adapt: error: no manifest.csv in" in message(window)
    assert window.controller.session is not None  # annotation goes on


def test_too_few_samples_are_refused_before_starting(qtbot, window, scene, loads, tmp_path):
    window.adapt.command = fake_program(tmp_path, 0)
    window.open_image(scene.path)
    keep_tiles(qtbot, window, MIN_SAMPLES - 1)
    window.adapt.adapt()
    qtbot.waitUntil(lambda: "at least 2" in message(window), timeout=TIMEOUT_MS)
    assert window.adapt.process is None and loads == []


def test_one_run_at_a_time_and_closing_the_document_cancels_it(
    qtbot, window, scene, loads, tmp_path
):
    window.adapt.command = fake_program(tmp_path, "sleep")
    window.open_image(scene.path)
    keep_tiles(qtbot, window, 2)
    window.adapt.adapt()
    qtbot.waitUntil(lambda: "reading samples" in window.adapt.label.text(), timeout=TIMEOUT_MS)
    window.adapt.adapt()
    assert "already running" in message(window)
    out = window.adapt.run.out
    window.close_document()
    assert window.adapt.process is None and not window.adapt.busy
    assert loads == [] and not out.exists()


def test_automatic_adaptation_every_n_accepted_tiles(qtbot, window, scene, loads, tmp_path):
    window.adapt.command = fake_program(tmp_path, 0)
    window.settings.adapt_every = 2
    window.open_image(scene.path)
    keep_tiles(qtbot, window, 1)
    assert not window.adapt.busy
    keep_tiles(qtbot, window, 1, first=1)
    qtbot.waitUntil(lambda: len(loads) == 1, timeout=TIMEOUT_MS)
    assert loads[0].name == "adapted_1.pth"


def test_a_model_without_checkpoint_file_is_not_adapted(qtbot, window, scene):
    window.open_image(scene.path)  # the fixture's model is loaded from memory
    window.adapt.adapt()
    assert "no checkpoint file" in message(window) and not window.adapt.busy


def test_run_numbers_count_up_past_reports_and_checkpoints(tmp_path: Path) -> None:
    first = next_run(tmp_path, tmp_path / "w.pth", 2)
    assert isinstance(first, AdaptRun) and first.out.name == "adapted_1.pth"
    first.report.write_text("{}")  # a refused run leaves its report only
    assert next_run(tmp_path, tmp_path / "w.pth", 2).out.name == "adapted_2.pth"


def test_the_swap_goes_through_the_worker_s_model_loading(
    qtbot, window, scene, tmp_path, hrnet_checkpoint
):
    with qtbot.waitSignal(window.worker.model_ready, timeout=TIMEOUT_MS):
        window.load_model(hrnet_checkpoint)
    assert window.model_path == hrnet_checkpoint
    window.adapt.command = fake_program(tmp_path, 0)
    window.open_image(scene.path)
    keep_tiles(qtbot, window, 2)
    with qtbot.waitSignal(window.worker.model_ready, timeout=TIMEOUT_MS) as ready:
        window.adapt.adapt()
    assert ready.args[0].name == f"{hrnet_checkpoint.name} + adapted_1.pth (tile mode)"
    assert window.tile_model_path.name == "adapted_1.pth" and window.model_path == hrnet_checkpoint
    assert window.controller.model_ready and window.adapt.previous == [hrnet_checkpoint]
    with qtbot.waitSignal(window.worker.model_ready, timeout=TIMEOUT_MS) as ready:
        window.named_actions["previous_model"].trigger()
    assert ready.args[0].name == hrnet_checkpoint.name
    assert window.model_path == window.tile_model_path == hrnet_checkpoint


def test_the_automatic_setting_is_asked_stored_and_validated(window, monkeypatch):
    assert window.settings.adapt_every == 0  # default: only on demand
    monkeypatch.setattr(QInputDialog, "getInt", lambda *args: (5, True))
    window.named_actions["adapt_every"].trigger()
    assert AppSettings().adapt_every == 5 and "every 5" in message(window)
    with pytest.raises(ValueError):
        window.settings.adapt_every = -1


def test_a_crash_or_a_missing_program_is_reported(qtbot, window, scene, loads, tmp_path):
    window.adapt.command = fake_program(tmp_path, "crash")
    window.open_image(scene.path)
    keep_tiles(qtbot, window, 2)
    window.adapt.adapt()
    wait_run(qtbot, window)
    assert "ZeroDivisionError: the fake fell over" in message(window) and loads == []
    window.adapt.command = (str(tmp_path / "no_such_program"),)
    window.adapt.adapt()
    wait_run(qtbot, window)
    assert "could not start" in message(window) and loads == []


@pytest.mark.slow
def test_the_real_adaptation_program_on_a_tiny_scene(qtbot, window, scene, hrnet_checkpoint):
    """The training package's own command line (a few steps on 64 px views) reads the samples
    the app wrote and its adapted model is swapped in, or its refusal reported."""
    with qtbot.waitSignal(window.worker.model_ready, timeout=TIMEOUT_MS):
        window.load_model(hrnet_checkpoint)
    quick = ("--steps", "2", "--batch-size", "2", "--crop-size", "64", "--no-zoom-in")
    window.adapt.command = (*window.adapt.command, *quick)
    window.open_image(scene.path)
    keep_tiles(qtbot, window, 3)
    window.adapt.adapt()
    qtbot.waitUntil(lambda: not window.adapt.busy, timeout=240000)
    text = message(window)
    assert "swapped in" in text or "refused" in text, text
