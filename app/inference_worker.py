"""The thread that owns the model: loads checkpoints and answers `PredictRequest`s.

Only the newest pending request is kept: submitting while the worker is busy replaces the waiting
one, so a fast clicker's intermediate states are never computed. The worker keeps a stateful
`Predictor` per model: one that serves both modes, or (the bundled default pair) one for object
mode and one for tile mode, picked by the request's mode. A request for a new target (another
target id, another image, other display bands, another model or mode: the target key is the
request's `RasterSource` object, its target id, the source's bands, the predictor and the mode)
reads the crop from that source (the document's own, shared with the display), sets the mode's
ZoomIn (object mode: `object_zoom_in`, one building enlarged from the first click on; tile mode:
RITM's), the image and the initial mask; then `Predictor.set_clicks` converges to the request's
clicks. A request whose source was closed (its
document is gone) is dropped without a signal. Other failures are emitted as
`failed(title, message)`; a CUDA out-of-memory moves the model to the CPU, emits `warning` and
retries.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PySide6.QtCore import Signal
from torch import nn

from isegsat.app.annotation_types import Mode, PredictRequest, PredictResult
from isegsat.app.geo import RasterSource, SourceClosedError
from isegsat.app.geo.boxes import to_window
from isegsat.app.plain_errors import explain_checkpoint_failure
from isegsat.app.request_thread import RequestThread
from isegsat.inference import Predictor, load_model, pick_device
from isegsat.inference.zoom_in import zoom_in_for

WARM_UP_SIZE = 320  # px, about a zoomed crop (ZoomIn's longest side is 400)


@dataclass(frozen=True, eq=False)
class LoadRequest:
    """Load the checkpoint at `path`, or take `model` (an RITM-convention nn.Module) as is, on
    `device` (None: CUDA when available) in the number format `precision` ("auto", "fp32",
    "bf16", "fp16"; see isegsat.inference.precision). With `tile_path`, that checkpoint serves
    tile mode and `path`'s model object mode; without, `path`'s model serves both."""

    path: Path | None = None
    model: nn.Module | None = None
    device: str | None = None
    precision: str = "fp32"
    tile_path: Path | None = None


@dataclass(frozen=True)
class ModelInfo:
    """What runs: checkpoint name(s) (the tile-mode one after a "+" when there are two), device
    in words ("CPU", "GPU <name>"), resolved format."""

    name: str
    device: str
    precision: str


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"GPU {torch.cuda.get_device_name(device)}"
    return "CPU"


def warm_up(predictor: Predictor) -> None:
    """One dummy click on a blank WARM_UP_SIZE² image, so the first real click does not pay for
    the framework's one-time set-up (kernel selection, allocations); the worker sets the first
    target's image afterwards as for any new target."""
    blank = np.zeros((WARM_UP_SIZE, WARM_UP_SIZE, 3), np.uint8)
    predictor.set_image(blank)
    predictor.add_click(WARM_UP_SIZE // 2, WARM_UP_SIZE // 2, True)
    predictor.reset()


class InferenceWorker(RequestThread):
    """Start with `start()`, stop with `stop()` (joins the thread); tests may instead call
    `set_synchronous(True)` and never start it (see `RequestThread`)."""

    model_loading = Signal(str)
    model_ready = Signal(object)  # ModelInfo
    result_ready = Signal(object)  # PredictResult
    failed = Signal(str, str)  # title, message
    warning = Signal(str)

    def __init__(self, zoom_in: bool = True, flip: bool = True, parent=None) -> None:
        super().__init__(parent)
        self._zoom_in, self._flip = zoom_in, flip
        self._load: LoadRequest | None = None
        self._predict: PredictRequest | None = None
        self._predictor: Predictor | None = None  # both modes, or object mode beside a tile one
        self._tile_predictor: Predictor | None = None  # tile mode's own model, if any
        # (source, target id, display bands, predictor, mode) the predictor's image was read for
        self._target: tuple[RasterSource, int, tuple[int, ...], Predictor, Mode] | None = None
        self._model_name = ""
        self._precision = "fp32"  # as requested by the last load

    @property
    def has_model(self) -> bool:
        return self._predictor is not None or self._load is not None

    def load(self, request: LoadRequest) -> None:
        self._post(lambda: setattr(self, "_load", request))

    def submit(self, request: PredictRequest) -> None:
        self._post(lambda: setattr(self, "_predict", request))

    def _next_job(self):
        """A pending load first (clicks wait for the model), else the newest prediction."""
        if self._load is not None:
            load, self._load = self._load, None
            return lambda: self._do_load(load)
        if self._predict is not None:
            predict, self._predict = self._predict, None
            return lambda: self._do_predict(predict)
        return None

    # ------------------------------------------------------------------ jobs (worker thread)
    def _do_load(self, request: LoadRequest) -> None:
        first = request.path.name if request.path is not None else type(request.model).__name__
        name = first
        if request.tile_path is not None:
            name = f"{first} + {request.tile_path.name} (tile mode)"
        self.model_loading.emit(name)
        try:
            device = pick_device(request.device)
            if request.model is not None:
                model = request.model.to(device).eval()
            else:
                model = load_model(request.path, device)
            predictor = self._ready_predictor(model, device, request.precision)
        except Exception as exc:  # a bad checkpoint must never kill the app
            self._load_failed(first, request.path, exc)
            return
        tile_predictor = None
        if request.tile_path is not None:
            try:
                tile_model = load_model(request.tile_path, device)
                tile_predictor = self._ready_predictor(tile_model, device, request.precision)
            except Exception as exc:
                self._load_failed(request.tile_path.name, request.tile_path, exc)
                return
        self._predictor, self._tile_predictor = predictor, tile_predictor
        self._target = None
        self._model_name = name
        self._precision = request.precision
        self.model_ready.emit(self._info())

    def _load_failed(self, name: str, path: Path | None, exc: Exception) -> None:
        self.failed.emit("Cannot load the model", explain_checkpoint_failure(name, path, exc))

    def _ready_predictor(self, model: nn.Module, device: torch.device, precision: str) -> Predictor:
        """A warmed-up predictor of `model` (on the CPU when the GPU is too small for it)."""
        predictor = Predictor(
            model, zoom_in=self._zoom_in, flip=self._flip, device=device, precision=precision
        )
        try:
            warm_up(predictor)
        except torch.OutOfMemoryError:  # a too-small GPU: the CPU it is, as for clicks
            predictor = self._cpu_predictor(predictor.model, precision)
            warm_up(predictor)
        return predictor

    def _do_predict(self, request: PredictRequest) -> None:
        if self._predictor is None:
            self.failed.emit("No model", "Open a checkpoint (Model menu) before clicking.")
            return
        started = time.perf_counter()
        try:
            try:
                prob = self._converge(request)
            except torch.OutOfMemoryError:
                self._fall_back_to_cpu()
                prob = self._converge(request)
        except SourceClosedError:  # its document closed before the crop was read: cancelled
            self._target = None
            return
        except Exception as exc:
            self._target = None
            self.failed.emit("Prediction failed", str(exc))
            return
        latency = time.perf_counter() - started
        device = device_name(self._predictor.device)
        self.result_ready.emit(
            PredictResult(request.seq, request.target_id, prob.copy(), latency, device)
        )

    def _converge(self, request: PredictRequest) -> np.ndarray:
        """The (h, w) probability map of `request`, from its mode's predictor's current state."""
        predictor = self._predictor_for(request.mode)
        source = request.source
        target = self._target
        if (
            target is None
            or target[0] is not source
            or target[3] is not predictor
            or target[1:3] != (request.target_id, source.bands)
            or target[4] is not request.mode
        ):  # another target, image, band choice, model or mode: read the crop again
            self._target = None
            bands = source.bands
            predictor.set_zoom_in(zoom_in_for(request.mode is Mode.OBJECT, self._zoom_in))
            predictor.set_image(source.read_full_res_rgb(to_window(request.box)))
            predictor.set_prev_mask(request.prev_mask)
            self._target = (source, request.target_id, bands, predictor, request.mode)
        return predictor.set_clicks(request.clicks)

    def _predictor_for(self, mode: Mode) -> Predictor:
        if mode is Mode.TILE and self._tile_predictor is not None:
            return self._tile_predictor
        return self._predictor

    def _cpu_predictor(self, model: nn.Module, requested: str) -> Predictor:
        """A CPU predictor for `model` after a GPU out-of-memory, in the `requested` format
        when it is fp32, else the CPU's own choice (the GPU's format may not exist here); emits
        `warning`."""
        model = model.to("cpu")
        torch.cuda.empty_cache()
        self.warning.emit("The GPU ran out of memory: the model now runs on the CPU.")
        precision = "fp32" if requested == "fp32" else "auto"
        return Predictor(
            model, zoom_in=self._zoom_in, flip=self._flip, device="cpu", precision=precision
        )

    def _fall_back_to_cpu(self) -> None:
        """Move the loaded model(s) to the CPU during clicks; `model_ready` tells the new device."""
        self._predictor = self._cpu_predictor(self._predictor.model, self._precision)
        if self._tile_predictor is not None:
            self._tile_predictor = self._cpu_predictor(self._tile_predictor.model, self._precision)
        self._target = None
        self.model_ready.emit(self._info())

    def _info(self) -> ModelInfo:
        predictor = self._predictor
        return ModelInfo(self._model_name, device_name(predictor.device), predictor.precision)
