"""InferenceWorker: background loading, stale requests dropped, failures as signals, OOM."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from fakes.models import BrightNearClicks
from fakes.signals import SignalRecorder

from isegsat.app.annotation import AnnotationSession
from isegsat.app.geo import LabelLayer
from isegsat.app.inference_worker import InferenceWorker, LoadRequest

TIMEOUT_MS = 30000


@pytest.fixture
def worker():
    worker = InferenceWorker(zoom_in=False, flip=False)
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture
def session(scene, tmp_path: Path):
    labels = LabelLayer.create(tmp_path / "labels.tif", like=scene.path)
    yield AnnotationSession(labels, scene.path, scene.height, scene.width)
    labels.close()


def load(qtbot, worker: InferenceWorker, request: LoadRequest):
    with qtbot.waitSignal(worker.model_ready, timeout=TIMEOUT_MS) as ready:
        worker.load(request)
    return ready.args[0]


def test_three_fast_clicks_only_the_newest_result_is_applied(qtbot, worker, session, scene):
    load(qtbot, worker, LoadRequest(model=BrightNearClicks(delay_s=0.3).eval()))
    recorder = SignalRecorder()
    worker.result_ready.connect(recorder.record)
    results = recorder.values
    row, col, h, w = scene.buildings[0]
    requests = [session.click(row + h // 2, col + 10 * i, True).request for i in range(1, 4)]
    for request in requests:
        worker.submit(request)
    qtbot.waitUntil(lambda: any(r.seq == requests[-1].seq for r in results), timeout=TIMEOUT_MS)
    applied = [r.seq for r in results if session.apply(r) is not None]
    assert applied == [requests[-1].seq]
    assert len(results) <= 2 and requests[1].seq not in [r.seq for r in results]
    assert session.current_mask()[row : row + h, col : col + w].all()


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
