"""Accepted tiles kept as training samples: the session's accept hook, the store's folder (a
prepared set the training package reads), replacement, writes off the GUI thread."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
from rasterio.windows import Window

from isegsat.app.annotation import AnnotationSession
from isegsat.app.annotation_types import AcceptedTile, Mode, PredictResult, SessionConfig
from isegsat.app.geo import LabelLayer
from isegsat.app.geo.boxes import to_window
from isegsat.app.scene_samples import MANIFEST_COLUMNS, SceneSamples, samples_folder
from isegsat.inference import Click
from isegsat.inference.box import Box
from isegsat.training.manifest import COLUMNS, load_crop, read_manifest


@pytest.fixture
def labels(scene, tmp_path: Path):
    layer = LabelLayer.create(tmp_path / "labels.tif", like=scene.path)
    yield layer
    layer.close()


@pytest.fixture
def store(scene_source, tmp_path: Path):
    samples = SceneSamples(samples_folder(tmp_path / "city1_labels.tif"), scene_source, "city1")
    yield samples
    samples.close()


def tile(box: Box, rows: slice, cols: slice, clicks: tuple[Click, ...] = ()) -> AcceptedTile:
    mask = np.zeros((box.height, box.width), np.uint8)
    mask[rows, cols] = 1
    return AcceptedTile(box, mask, clicks)


def session_on(labels, source, **config) -> AnnotationSession:
    return AnnotationSession(labels, source, source.height, source.width, SessionConfig(**config))


def test_a_tile_accept_carries_box_final_mask_and_clicks(labels, scene_source) -> None:
    session = session_on(labels, scene_source, tile_size=64, threshold=0.5)
    request = session.click(30, 30, True).request
    prob = np.zeros((64, 64), np.float32)
    prob[20:40, 24:48] = 0.9
    session.apply(PredictResult(request.seq, request.target_id, prob, 0.0, "CPU"))
    accepted = session.accept().accepted
    assert accepted.box == Box(0, 0, 64, 64) and accepted.clicks == (Click(30, 30, True),)
    assert np.array_equal(accepted.mask, labels.read(Window(0, 0, 64, 64)))
    # accepted without clicks: a sample of its label when it holds a building, else none
    assert session.accept().accepted is None  # tile 1 is empty
    labels.write(Window(128, 0, 10, 10), np.ones((10, 10), np.uint8))
    kept = session.accept().accepted
    assert kept.box == Box(0, 128, 64, 64) and kept.clicks == () and kept.mask.sum() == 100


def test_an_object_accept_is_no_tile_sample(labels, scene_source) -> None:
    session = session_on(labels, scene_source)
    session.set_mode(Mode.OBJECT)
    request = session.click(30, 40, True).request
    prob = np.zeros((request.box.height, request.box.width), np.float32)
    prob[10:30, 10:30] = 0.9
    session.apply(PredictResult(request.seq, request.target_id, prob, 0.0, "CPU"))
    change = session.accept()
    assert change.label_box is not None and change.accepted is None


def test_the_folder_is_a_prepared_set_the_training_package_reads(store, scene_source) -> None:
    box = Box(64, 128, 64, 64)
    clicks = (Click(70, 140, True), Click(100, 130, False))
    assert store.add(tile(box, slice(5, 20), slice(0, 30), clicks)).result(10) == 1
    assert MANIFEST_COLUMNS == COLUMNS
    (record,) = read_manifest(store.folder)
    assert record.crop_id == "city1_y64_x128_64x64" and record.city == "city1"
    assert record.split == "train"
    assert record.building_fraction == pytest.approx(15 * 30 / 64**2, abs=1e-6)
    image, mask = load_crop(record)
    assert np.array_equal(image, scene_source.read_full_res_rgb(to_window(box)))
    assert mask.dtype == np.uint8 and mask.sum() == 15 * 30 and mask[5:20, 0:30].all()
    header, row = (store.folder / "manifest.csv").read_text().splitlines()
    assert header.split(",") == list(COLUMNS)
    assert row.split(",")[2:7] == ["city1", "64", "128", "images/city1_y64_x128_64x64.png",
                                   "masks/city1_y64_x128_64x64.png"]  # fmt: skip
    (line,) = (store.folder / "clicks.jsonl").read_text().splitlines()
    item = json.loads(line)
    assert item["id"] == record.crop_id and item["box"] == [64, 128, 64, 64]
    assert item["clicks"] == [[6, 12, True], [36, 2, False]]  # tile-local (y, x, positive)
    assert item["accepted"].endswith("+00:00")


def test_accepting_a_tile_again_replaces_its_sample_and_moves_it_last(store) -> None:
    first, second = Box(0, 0, 64, 64), Box(0, 64, 64, 64)
    store.add(tile(first, slice(0, 4), slice(0, 4)))
    store.add(tile(second, slice(0, 8), slice(0, 8)))
    assert store.add(tile(first, slice(0, 10), slice(0, 10))).result(10) == 2
    records = read_manifest(store.folder)
    assert [r.crop_id for r in records] == ["city1_y0_x64_64x64", "city1_y0_x0_64x64"]
    assert load_crop(records[1])[1].sum() == 100  # the latest mask wins
    ids = [json.loads(s)["id"] for s in (store.folder / "clicks.jsonl").read_text().splitlines()]
    assert ids == [r.crop_id for r in records]


def test_writes_run_off_the_calling_thread_and_finish_on_close(scene_source, tmp_path) -> None:
    threads: list[threading.Thread] = []
    original = scene_source.read_full_res_rgb

    def recording_read(window):
        threads.append(threading.current_thread())
        return original(window)

    scene_source.read_full_res_rgb = recording_read
    folder = tmp_path / "s.samples"
    samples = SceneSamples(folder, scene_source, "city1")
    futures = [
        samples.add(tile(Box(0, 64 * i, 64, 64), slice(0, 2), slice(0, 2))) for i in (0, 1, 2)
    ]
    samples.close()  # waits for the three writes
    assert all(f.done() for f in futures) and samples.count == 3
    assert threads and all(t is not threading.current_thread() for t in threads)
    assert len(read_manifest(folder)) == 3 and len(list((folder / "images").glob("*.png"))) == 3
    with pytest.raises(RuntimeError):
        samples.add(tile(Box(0, 0, 64, 64), slice(0, 2), slice(0, 2)))
    again = SceneSamples(folder, scene_source, "city1")  # a reopened scene continues its set
    try:
        assert again.loaded.result(10) == 3
        assert again.add(tile(Box(64, 0, 64, 64), slice(0, 2), slice(0, 2))).result(10) == 4
    finally:
        again.close()
    assert not list(folder.rglob("*.tmp*"))  # the atomic writer left nothing behind


def test_a_failed_write_is_the_future_s_error_and_keeps_the_set_valid(store) -> None:
    store.add(tile(Box(0, 0, 64, 64), slice(0, 2), slice(0, 2))).result(10)
    wrong = AcceptedTile(Box(0, 64, 64, 64), np.ones((10, 10), np.uint8), ())
    with pytest.raises(ValueError):
        store.add(wrong).result(10)
    assert store.count == 1 and len(read_manifest(store.folder)) == 1
