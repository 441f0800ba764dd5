"""`isegsat` command line: arguments, opening IMAGE with --mask and --weights, the sample scene."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from fakes.scenes import write_scene
from rasterio.windows import Window

from isegsat.app import main as app_main
from isegsat.app.main_window import MainWindow
from isegsat.app.settings import AppSettings
from isegsat.resources.synth import SampleScene

TIMEOUT_MS = 30000


def write_gt(image: Path, buildings) -> Path:
    """An Inria-style 0/255 single-band mask on the image grid labelling only `buildings`."""
    with rasterio.open(image) as ds:
        profile = dict(ds.profile, count=1)
        gt = np.zeros((ds.height, ds.width), np.uint8)
    for row, col, h, w in buildings:
        gt[row : row + h, col : col + w] = 255
    path = image.with_name(image.stem + "_gt.tif")
    with rasterio.open(path, "w", **profile) as out:
        out.write(gt, 1)
    return path


@pytest.fixture
def window(qtbot):
    win = MainWindow(AppSettings())
    qtbot.addWidget(win)
    yield win
    win.shutdown()


def test_arguments() -> None:
    args = app_main.parse_args(
        ["a.tif", "--mask", "m.tif", "--weights", "w.pth", "--device", "cpu"]
    )
    assert (args.image, args.mask, args.weights, args.device) == (
        Path("a.tif"), Path("m.tif"), Path("w.pth"), "cpu",
    )  # fmt: skip
    assert app_main.parse_args([]).image is None
    assert app_main.parse_args([]).precision is None  # the settings decide (default auto)
    assert app_main.parse_args(["--precision", "fp32"]).precision == "fp32"
    for bad in (["--device", "tpu"], ["--precision", "int8"]):
        with pytest.raises(SystemExit):
            app_main.parse_args(bad)


def test_start_opens_image_mask_and_weights(qtbot, window, scene, hrnet_checkpoint):
    gt = write_gt(scene.path, scene.buildings[:1])
    args = app_main.parse_args(
        [str(scene.path), "--mask", str(gt), "--weights", str(hrnet_checkpoint)]
    )
    with qtbot.waitSignal(window.worker.model_ready, timeout=TIMEOUT_MS) as ready:
        app_main.start(window, args)
    assert ready.args[0].name == hrnet_checkpoint.name
    row, col, h, w = scene.buildings[0]
    label = window.document.labels.read(Window(0, 0, scene.width, scene.height))
    assert label[row : row + h, col : col + w].all() and label.sum() == h * w


def test_without_arguments_opens_the_sample_scene_and_says_there_is_no_model(
    qtbot, window, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    folder = tmp_path / "sample"
    folder.mkdir()
    sample = write_scene(folder / "sample.tif")
    label = write_gt(sample.path, sample.buildings[1:])
    monkeypatch.setattr(
        "isegsat.resources.synth.ensure_sample_scene", lambda: SampleScene(sample.path, label)
    )
    monkeypatch.setattr("isegsat.resources.default_model_path", lambda: None)
    app_main.start(window, app_main.parse_args([]))
    assert window.document.image_path == sample.path
    assert window.document.labels.read(Window(0, 0, sample.width, sample.height)).sum() > 0
    assert "no model" in window.status.device.text()
    window.controller.click(30, 30, True)
    assert window.controller.session.target is None  # nothing recorded without a model


@pytest.mark.parametrize("generated_before", [False, True])
def test_the_generating_message_shows_only_when_the_sample_scene_is_generated(
    qtbot, window, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, generated_before: bool
):
    folder = tmp_path / "sample"
    folder.mkdir()
    sample = write_scene(folder / "sample.tif")
    label = write_gt(sample.path, sample.buildings[1:])
    cached = SampleScene(sample.path, label)
    missing = SampleScene(folder / "none.tif", folder / "none_label.tif")
    monkeypatch.setattr(
        "isegsat.resources.synth.sample_scene_paths",
        lambda: cached if generated_before else missing,
    )
    monkeypatch.setattr("isegsat.resources.synth.ensure_sample_scene", lambda: cached)
    monkeypatch.setattr("isegsat.resources.default_model_path", lambda: None)
    messages: list[str] = []
    window.statusBar().messageChanged.connect(messages.append)
    app_main.start(window, app_main.parse_args([]))
    assert window.document.image_path == sample.path
    generating = [m for m in messages if m == app_main.GENERATING_SAMPLE]
    assert len(generating) == (0 if generated_before else 1)
    assert not any("sample scene" in m.lower() for m in messages if m not in generating)
