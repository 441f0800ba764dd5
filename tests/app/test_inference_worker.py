"""InferenceWorker: background loading, stale requests dropped, failures as signals, OOM, the
document's source shared with the worker (closed sources, other images).

Tests that need a deterministic order run the worker in synchronous mode (`sync_worker`: posted
work runs in the test's thread); the others run the real thread.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from fakes.models import BrightNearClicks
from fakes.scenes import write_scene_raster
from fakes.signals import SignalRecorder

from isegsat.app.annotation import AnnotationSession
from isegsat.app.annotation_types import Mode, PredictRequest
from isegsat.app.geo import LabelLayer, RasterSource
from isegsat.app.inference_worker import InferenceWorker, LoadRequest
from isegsat.inference import Click
from isegsat.inference.box import Box

TIMEOUT_MS = 30000


@pytest.fixture
def worker():
    worker = InferenceWorker(zoom_in=False, flip=False)
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture
def sync_worker():
    """A worker in synchronous mode: never started, each post runs in the caller's thread."""
    worker = InferenceWorker(zoom_in=False, flip=False)
    worker.set_synchronous(True)
    yield worker
    worker.stop()


def session_on(source: RasterSource, tmp_path: Path) -> AnnotationSession:
    labels = LabelLayer.create(tmp_path / f"labels_{id(source)}.tif", like=source)
    return AnnotationSession(labels, source, source.height, source.width)


@pytest.fixture
def session(scene_source, tmp_path: Path):
    session = session_on(scene_source, tmp_path)
    yield session
    session.labels.close()


def load(qtbot, worker: InferenceWorker, request: LoadRequest):
    with qtbot.waitSignal(worker.model_ready, timeout=TIMEOUT_MS) as ready:
        worker.load(request)
    return ready.args[0]


class RunsDuringForward(BrightNearClicks):
    """Calls `hook()` at the start of every forward pass (a function is shared, not copied, by
    the predictor's fused deep copy of the model)."""

    def __init__(self, hook) -> None:
        super().__init__()
        self.hook = hook

    def forward(self, image, points):
        self.hook()
        return super().forward(image, points)


def test_clicks_made_while_the_worker_is_busy_only_the_newest_is_computed(
    sync_worker, session, scene
):
    arrivals = []  # submits made while the model runs, as clicks during a slow prediction

    def arrive() -> None:
        while arrivals:
            arrivals.pop(0)()

    sync_worker.load(LoadRequest(model=RunsDuringForward(arrive).eval()))
    assert sync_worker.has_model
    recorder = SignalRecorder()
    sync_worker.result_ready.connect(recorder.record)
    row, col, h, w = scene.buildings[0]
    requests = [session.click(row + h // 2, col + 10 * i, True).request for i in range(1, 4)]
    arrivals += [lambda: sync_worker.submit(requests[1]), lambda: sync_worker.submit(requests[2])]
    sync_worker.submit(requests[0])  # runs now; the second request is replaced by the third
    results = recorder.values
    assert [r.seq for r in results] == [requests[0].seq, requests[2].seq]
    applied = [r.seq for r in results if session.apply(r) is not None]
    assert applied == [requests[-1].seq]
    assert session.current_mask()[row : row + h, col : col + w].all()


def test_three_fast_clicks_on_the_thread_end_with_the_newest_result(qtbot, worker, session, scene):
    load(qtbot, worker, LoadRequest(model=BrightNearClicks(delay_s=0.1).eval()))
    recorder = SignalRecorder()
    worker.result_ready.connect(recorder.record)
    results = recorder.values
    row, col, h, w = scene.buildings[0]
    requests = [session.click(row + h // 2, col + 10 * i, True).request for i in range(1, 4)]
    for request in requests:
        worker.submit(request)
    qtbot.waitUntil(lambda: any(r.seq == requests[-1].seq for r in results), timeout=TIMEOUT_MS)
    applied = [r.seq for r in results if session.apply(r) is not None]
    assert applied == [requests[-1].seq]  # however many the thread computed (its timing)
    assert session.current_mask()[row : row + h, col : col + w].all()


def test_a_request_whose_source_was_closed_is_dropped_without_a_signal(
    sync_worker, session, scene, tmp_path: Path
):
    sync_worker.load(LoadRequest(model=BrightNearClicks().eval()))
    results, failures = SignalRecorder(), SignalRecorder()
    sync_worker.result_ready.connect(results.record)
    sync_worker.failed.connect(failures.record)
    closing = RasterSource.open(scene.path)
    closed_session = session_on(closing, tmp_path)
    request = closed_session.click(30, 40, True).request
    closing.close()  # the document closed before the worker took its request
    sync_worker.submit(request)
    assert results.values == [] and failures.values == []
    closed_session.labels.close()
    fresh = session.click(30, 40, True).request  # the worker goes on with the next document
    sync_worker.submit(fresh)
    assert [r.seq for r in results.values] == [fresh.seq] and failures.values == []


def test_closing_the_source_waits_for_the_read_in_flight(
    qtbot, worker, scene, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    load(qtbot, worker, LoadRequest(model=BrightNearClicks().eval()))
    source = RasterSource.open(scene.path)
    session = session_on(source, tmp_path)
    reading, release = threading.Event(), threading.Event()
    read = source._read_with_mask

    def slow_read(*args):  # the worker's crop read, held open until released
        reading.set()
        assert release.wait(TIMEOUT_MS / 1000)
        return read(*args)

    monkeypatch.setattr(source, "_read_with_mask", slow_read)
    results, failures = SignalRecorder(), SignalRecorder()
    worker.result_ready.connect(results.record)
    worker.failed.connect(failures.record)
    request = session.click(30, 40, True).request
    worker.submit(request)
    assert reading.wait(TIMEOUT_MS / 1000)
    closer = threading.Thread(target=source.close)  # as Document.close on the GUI thread
    closer.start()
    closer.join(0.3)
    assert closer.is_alive(), "close() must wait for the worker's read"
    release.set()
    closer.join(TIMEOUT_MS / 1000)
    assert not closer.is_alive() and source.closed
    qtbot.waitUntil(lambda: len(results.values) == 1, timeout=TIMEOUT_MS)
    assert results.values[0].seq == request.seq and failures.values == []
    session.labels.close()


def test_the_same_target_id_on_another_image_reads_that_image(
    sync_worker, scene, scene_source, tmp_path: Path
):
    sync_worker.load(LoadRequest(model=BrightNearClicks().eval()))
    results = SignalRecorder()
    sync_worker.result_ready.connect(results.record)
    dark = np.full((3, scene.height, scene.width), 40, np.uint8)
    row, col, h, w = scene.buildings[0]
    box, click = Box(0, 0, scene.height, scene.width), Click(row + h // 2, col + w // 2, True)
    zeros = np.zeros((scene.height, scene.width), np.float32)
    with RasterSource.open(write_scene_raster(tmp_path / "dark.tif", dark)) as other:
        for seq, source in enumerate((scene_source, other), start=1):
            sync_worker.submit(PredictRequest(seq, 7, source, box, zeros, (click,)))
    bright, blank = (r.prob for r in results.values)
    assert bright[row : row + h, col : col + w].min() > 0.9
    assert blank.max() < 0.1, "the second image's pixels, not the first's prediction"


def test_a_band_change_on_the_same_target_is_read_again(sync_worker, tmp_path: Path):
    """Bands 1-3 hold a bright roof, band 4 is dark: after set_bands((4, 4, 4)) the next click of
    the same target must see the dark band, not the crop read before."""
    sync_worker.load(LoadRequest(model=BrightNearClicks().eval()))
    results = SignalRecorder()
    sync_worker.result_ready.connect(results.record)
    data = np.full((4, 64, 80), 40, np.uint8)
    data[:3, 20:40, 30:50] = 220
    box, zeros = Box(0, 0, 64, 80), np.zeros((64, 80), np.float32)
    first, second = Click(30, 40, True), Click(25, 35, True)
    with RasterSource.open(write_scene_raster(tmp_path / "four.tif", data)) as source:
        sync_worker.submit(PredictRequest(1, 3, source, box, zeros, (first,)))
        source.set_bands((4, 4, 4))
        sync_worker.submit(PredictRequest(2, 3, source, box, zeros, (first, second)))
    roof, dark = (r.prob for r in results.values)
    assert roof[20:40, 30:50].min() > 0.9
    assert dark.max() < 0.1, "the crop in the new bands, not the one read before"


def test_with_a_tile_model_each_mode_runs_its_own(
    sync_worker, scene, scene_source, hrnet_checkpoint
):
    """The bundled pair: object mode runs `path`'s model, tile mode the `tile_path` one, and a
    switch of model reads the target's crop again."""
    forwards = []
    fake = RunsDuringForward(lambda: forwards.append(1)).eval()
    infos, results = SignalRecorder(), SignalRecorder()
    sync_worker.model_ready.connect(infos.record)
    sync_worker.result_ready.connect(results.record)
    sync_worker.load(LoadRequest(model=fake, device="cpu", tile_path=hrnet_checkpoint))
    assert infos.values[0].name == "RunsDuringForward + hrnet18s_random.pth (tile mode)"
    forwards.clear()  # the warm-up's
    row, col, h, w = scene.buildings[0]
    box, click = Box(0, 0, scene.height, scene.width), Click(row + h // 2, col + w // 2, True)
    zeros = np.zeros((scene.height, scene.width), np.float32)
    for seq, mode in enumerate((Mode.OBJECT, Mode.TILE, Mode.OBJECT), start=1):
        sync_worker.submit(PredictRequest(seq, 7, scene_source, box, zeros, (click,), mode))
    by_fake, by_tile_model, again = (r.prob for r in results.values)
    assert len(forwards) == 2, "the fake ran for the two object-mode requests only"
    assert by_fake[row : row + h, col : col + w].min() > 0.9
    assert not np.allclose(by_tile_model, by_fake)  # the random HRNet's answer, not the fake's
    np.testing.assert_array_equal(again, by_fake)


def test_object_mode_refines_the_first_click_and_tile_mode_runs_ritms_zoom_in(scene, scene_source):
    """One model for both modes: an object-mode first click runs twice (again on its blob's box,
    `object_zoom_in`), a tile-mode one once, on the same target id."""
    forwards = []
    worker = InferenceWorker(zoom_in=True, flip=False)
    worker.set_synchronous(True)
    results = SignalRecorder()
    worker.result_ready.connect(results.record)
    worker.load(LoadRequest(model=RunsDuringForward(lambda: forwards.append(1)).eval()))
    row, col, h, w = scene.buildings[0]
    box, click = Box(0, 0, scene.height, scene.width), Click(row + h // 2, col + w // 2, True)
    zeros = np.zeros((scene.height, scene.width), np.float32)
    counts = []
    for seq, mode in enumerate((Mode.OBJECT, Mode.TILE, Mode.OBJECT), start=1):
        forwards.clear()
        worker.submit(PredictRequest(seq, 7, scene_source, box, zeros, (click,), mode))
        counts.append(len(forwards))
    worker.stop()
    assert counts == [2, 1, 2]
    by_object, by_tile, again = (r.prob for r in results.values)
    # the fake reaches 40 network px from a click; zoomed in, the roof's corners fall outside
    assert by_object[row + 5 : row + h - 5, col + 5 : col + w - 5].min() > 0.9
    assert by_tile[row : row + h, col : col + w].min() > 0.9
    np.testing.assert_array_equal(again, by_object)


def test_a_bad_tile_model_is_reported_and_the_model_in_use_stays(
    sync_worker, scene, scene_source, tmp_path: Path
):
    failures, results = [], SignalRecorder()
    sync_worker.failed.connect(lambda *args: failures.append(args))  # synchronous: same thread
    sync_worker.result_ready.connect(results.record)
    sync_worker.load(LoadRequest(model=BrightNearClicks().eval()))
    bad = tmp_path / "tile_truncated.pth"
    bad.write_bytes(b"PK\x03\x04 truncated")
    sync_worker.load(LoadRequest(model=BrightNearClicks().eval(), tile_path=bad))
    ((title, message),) = failures
    assert title == "Cannot load the model" and "tile_truncated.pth" in message
    box, zeros = (
        Box(0, 0, scene.height, scene.width),
        np.zeros((scene.height, scene.width), np.float32),
    )
    sync_worker.submit(PredictRequest(1, 1, scene_source, box, zeros, (Click(5, 5, True),)))
    assert len(results.values) == 1  # the first load's model still answers


def test_synchronous_mode_is_refused_while_the_thread_runs(worker):
    with pytest.raises(RuntimeError, match="running"):
        worker.set_synchronous(True)
    assert not worker.synchronous


def test_a_random_init_hrnet_checkpoint_loads_and_predicts(qtbot, hrnet_checkpoint, session):
    worker = InferenceWorker()  # RITM defaults: ZoomIn + flip
    worker.start()
    try:
        info = load(qtbot, worker, LoadRequest(path=hrnet_checkpoint, device="cpu"))
        assert info.name == "hrnet18s_random.pth" and info.device == "CPU"
        request = session.click(30, 40, True).request
        with qtbot.waitSignal(worker.result_ready, timeout=TIMEOUT_MS) as done:
            worker.submit(request)
        result = done.args[0]
        assert result.seq == request.seq and result.prob.shape == (
            request.box.height,
            request.box.width,
        )
        assert result.prob.dtype == np.float32 and 0 <= result.prob.min() <= result.prob.max() <= 1
    finally:
        worker.stop()


def test_a_bad_checkpoint_is_reported_not_raised(qtbot, worker, tmp_path: Path):
    bad = tmp_path / "truncated.pth"
    bad.write_bytes(b"PK\x03\x04 truncated")
    with qtbot.waitSignal(worker.failed, timeout=TIMEOUT_MS) as failed:
        worker.load(LoadRequest(path=bad))
    title, message = failed.args
    assert title == "Cannot load the model" and "truncated.pth" in message
    assert worker.isRunning()


def test_predicting_without_a_model_is_reported(qtbot, worker, session):
    with qtbot.waitSignal(worker.failed, timeout=TIMEOUT_MS) as failed:
        worker.submit(session.click(10, 10, True).request)
    assert failed.args[0] == "No model"


class OutOfMemoryOnce(BrightNearClicks):
    """Raises CUDA's out-of-memory error on its first call, like a too-small GPU would."""

    def forward(self, image, points):
        if self.calls == 0:
            self.calls += 1
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return super().forward(image, points)


def test_out_of_memory_falls_back_to_cpu_with_a_warning(qtbot, worker, session, scene):
    # The warm-up pass at load time meets the out-of-memory, so no click ever does.
    loaded = SignalRecorder()
    worker.model_ready.connect(loaded.record)
    with qtbot.waitSignal(worker.warning, timeout=TIMEOUT_MS) as warned:
        load(qtbot, worker, LoadRequest(model=OutOfMemoryOnce().eval()))
    assert "CPU" in warned.args[0]
    assert [info.device for info in loaded.values] == ["CPU"]  # one load, one model_ready
    row, col, h, w = scene.buildings[0]
    with qtbot.waitSignal(worker.result_ready, timeout=TIMEOUT_MS) as done:
        worker.submit(session.click(row + h // 2, col + w // 2, True).request)
    assert done.args[0].device == "CPU"
    assert session.apply(done.args[0]) is not None
    assert session.current_mask()[row : row + h, col : col + w].all()
