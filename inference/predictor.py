"""Click-by-click prediction for one image, as RITM's ``BasePredictor`` (ZoomIn + flip TTA).

Each click costs one forward pass of the model (a batch of two when flipping; two passes for a
first click that ZoomIn's ``refine_ratio`` runs again on its blob). The map fed to the
model as its previous-mask channel is the previous probability map (or the external starting mask,
or zeros), at full image size; ZoomIn crops and resizes it together with the image.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from isegsat.inference.box import Box
from isegsat.inference.clicks import Click, check_inside, encode_points
from isegsat.inference.device import pick_device
from isegsat.inference.fuse import fuse_for_inference
from isegsat.inference.precision import Precision, autocast, resolve_precision
from isegsat.inference.zoom_in import ZoomIn

TIMING_SIZE = 256  # px, the dummy pass that times the formats for precision="auto"


@dataclass(frozen=True)
class _Step:
    """What undoing one click restores: the ZoomIn box and the probability map before the click.

    ``values`` is the full HxW map when ``box`` is None, else the map's content inside ``box``
    (the map is exactly zero outside the box the prediction was zoomed into).
    """

    zoom_roi: Box | None
    box: Box | None
    values: np.ndarray


class Predictor:
    """Interactive segmentation of one image at a time with an RITM-convention model.

    model: called as ``model(image (B, 3 [+1], H, W), points (B, 2N, 3))`` returning
    ``{'instances': logits}``, with a ``with_prev_mask`` attribute.
    zoom_in: True for RITM's default ZoomIn, a ``ZoomIn`` for custom settings, False for none.
    flip: RITM's horizontal-flip test-time augmentation (mean of the two logit maps).
    device: as ``pick_device`` (None: CUDA when available, else CPU).
    fuse: run ``fuse_for_inference(model)`` — an eval-mode copy with BatchNorms folded into the
    convolutions, so later changes to ``model`` are not seen; with False the model itself is
    moved to the device and must be in eval mode.
    precision: ``fp32`` (default), ``bf16``/``fp16`` autocast, or ``auto`` (the fastest format the
    device runs natively, timed on a dummy pass; see ``isegsat.inference.precision``). The
    resolved format is ``self.precision``; probability maps are float32 whatever it is.

    Probability maps handed out are HxW float32 in [0, 1] and read-only (copy before editing).
    Undo history: per click, one float32 map of the image (first click and clicks run on the full
    image) or of the zoom box only (zoomed clicks), i.e. at most 4·H·W bytes per click.
    """

    def __init__(
        self,
        model: nn.Module,
        zoom_in: bool | ZoomIn = True,
        flip: bool = True,
        device: str | torch.device | None = None,
        fuse: bool = True,
        precision: str = "fp32",
    ) -> None:
        self.device = pick_device(device)
        self.model = (fuse_for_inference(model) if fuse else model).to(self.device)
        self.flip = flip
        self.precision: Precision = resolve_precision(precision, self.device, self._timing_pass)
        self._image: torch.Tensor | None = None
        self.zoom_in: ZoomIn | None = None
        self.set_zoom_in(zoom_in)
        self._start: np.ndarray | None = None
        self._prob: np.ndarray | None = None
        self._prob_box: Box | None = None
        self._prev: torch.Tensor | None = None
        self._clicks: tuple[Click, ...] = ()
        self._history: list[_Step] = []

    @property
    def clicks(self) -> tuple[Click, ...]:
        """Clicks since the last ``set_image``/``set_prev_mask``/``reset``, oldest first."""
        return self._clicks

    @property
    def prob(self) -> np.ndarray | None:
        """Current HxW float32 probability map (read-only): the latest prediction, or before any
        click the starting mask (zeros unless ``set_prev_mask``); None before ``set_image``."""
        return None if self._prob is None else _read_only(self._prob)

    def set_image(self, rgb: np.ndarray) -> None:
        """Start on a new image: HxWx3 uint8, or float in [0, 1]. Clears clicks and any external
        starting mask."""
        rgb = np.asarray(rgb)
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[0] == 0 or rgb.shape[1] == 0:
            raise ValueError(f"image must be an HxWx3 array, got shape {rgb.shape}")
        if rgb.dtype == np.uint8:
            pixels = rgb.astype(np.float32) / 255.0
        elif np.issubdtype(rgb.dtype, np.floating):
            pixels = rgb.astype(np.float32)
            if not (np.isfinite(pixels).all() and pixels.min() >= 0.0 and pixels.max() <= 1.0):
                raise ValueError("a float image must hold finite values in [0, 1]")
        else:
            raise ValueError(f"image must be uint8 or float in [0, 1], got dtype {rgb.dtype}")
        tensor = torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))
        self._image = tensor.unsqueeze(0).to(self.device)
        self._start = np.zeros(rgb.shape[:2], dtype=np.float32)
        self.reset()

    def set_prev_mask(self, mask: np.ndarray | None) -> None:
        """Start the object from an existing mask (HxW bool, or float in [0, 1]) fed as the
        previous mask of the first click; None goes back to zeros. Clears the clicks."""
        height, width = self._image_size()
        if mask is None:
            self._start = np.zeros((height, width), dtype=np.float32)
        else:
            values = np.asarray(mask)
            if values.shape != (height, width):
                raise ValueError(
                    f"mask must be {height}x{width} like the image, got {values.shape}"
                )
            values = values.astype(np.float32)
            if not (np.isfinite(values).all() and values.min() >= 0.0 and values.max() <= 1.0):
                raise ValueError("mask values must lie in [0, 1]")
            self._start = values
        self.reset()

    def set_zoom_in(self, zoom_in: bool | ZoomIn) -> None:
        """Change the ZoomIn settings as in the constructor (True: RITM's, a ``ZoomIn``, False:
        none), e.g. ``object_zoom_in()`` for one building; clears the clicks of an image."""
        self.zoom_in = zoom_in if isinstance(zoom_in, ZoomIn) else ZoomIn() if zoom_in else None
        if self._image is not None:
            self.reset()

    def reset(self) -> None:
        """Drop all clicks; the probability map goes back to the starting mask."""
        self._image_size()
        self._clicks = ()
        self._history = []
        if self.zoom_in is not None:
            self.zoom_in.reset()
        self._set_prob(self._start, None)

    def add_click(self, y: int, x: int, is_positive: bool) -> np.ndarray:
        """Add a click at pixel (y, x) of the image; returns the new HxW float32 probability map."""
        height, width = self._image_size()
        check_inside(y, x, (height, width))
        if self.model.training:
            raise ValueError("the model is in training mode; call model.eval() first")
        click = Click(operator.index(y), operator.index(x), bool(is_positive))
        clicks = (*self._clicks, click)
        step = self._snapshot()
        box = self.zoom_in.select_roi(self._prob, clicks) if self.zoom_in is not None else None
        prev = self._prev
        try:
            with torch.inference_mode():
                self._set_prob(self._predict(clicks, box, prev), box)
                if box is None and self.zoom_in is not None:
                    refined = self.zoom_in.refine_roi(self._prob, clicks)
                    if refined is not None:
                        self._set_prob(self._predict(clicks, refined, prev), refined)
        except BaseException:
            if self.zoom_in is not None:
                self.zoom_in.roi = step.zoom_roi
            raise
        self._history.append(step)
        self._clicks = clicks
        return self.prob

    def set_clicks(self, clicks: Sequence[Click]) -> np.ndarray:
        """Converge to ``clicks`` (oldest first, pixels of the image); returns the probability map.

        The longest common prefix of ``self.clicks`` and ``clicks`` is kept, the clicks after it
        are undone (exact maps, no model call) and the missing ones added (one model call each),
        so the result equals a fresh replay of ``clicks`` after ``reset()``. Every click is checked
        first: one outside the image raises ValueError with the predictor unchanged. When the
        model fails on an added click, the predictor holds the clicks added before it.
        """
        height, width = self._image_size()
        want = tuple(
            Click(operator.index(c.y), operator.index(c.x), bool(c.is_positive)) for c in clicks
        )
        for click in want:
            check_inside(click.y, click.x, (height, width))
        keep = 0
        for have, wanted in zip(self._clicks, want, strict=False):
            if have != wanted:
                break
            keep += 1
        for _ in range(len(self._clicks) - keep):
            self.undo()
        for click in want[keep:]:
            self.add_click(click.y, click.x, click.is_positive)
        return self.prob

    def undo(self) -> np.ndarray:
        """Remove the last click and return the probability map from before it (exactly); with no
        click to undo, returns the current map unchanged."""
        self._image_size()
        if self._history:
            step = self._history.pop()
            self._clicks = self._clicks[:-1]
            if self.zoom_in is not None:
                self.zoom_in.roi = step.zoom_roi
            if step.box is None:
                self._set_prob(step.values, None)
            else:
                prob = np.zeros_like(self._prob)
                prob[step.box.slices] = step.values
                self._set_prob(prob, step.box)
        return self.prob

    def _image_size(self) -> tuple[int, int]:
        if self._image is None:
            raise RuntimeError("no image: call set_image first")
        return self._image.shape[2], self._image.shape[3]

    def _snapshot(self) -> _Step:
        zoom_roi = self.zoom_in.roi if self.zoom_in is not None else None
        if self._prob_box is None:
            return _Step(zoom_roi, None, self._prob)
        return _Step(zoom_roi, self._prob_box, self._prob[self._prob_box.slices].copy())

    def _set_prob(self, prob: np.ndarray | torch.Tensor, box: Box | None) -> None:
        """Make ``prob`` (HxW array, or (1, 1, H, W) tensor on the device) the current map."""
        if isinstance(prob, torch.Tensor):
            self._prev = prob
            self._prob = prob[0, 0].cpu().numpy()
        else:
            self._prob = prob
            self._prev = torch.from_numpy(prob)[None, None].to(self.device)
        self._prob_box = box

    def _predict(
        self, clicks: tuple[Click, ...], box: Box | None, prev: torch.Tensor
    ) -> torch.Tensor:
        """(1, 1, H, W) probability map after ``clicks`` with ``prev`` ((1, 1, H, W), the map
        before the newest click) as the previous mask (inside inference mode)."""
        net_input = self._image
        if self.model.with_prev_mask:
            net_input = torch.cat((net_input, prev), dim=1)
        positive = np.array([c.is_positive for c in clicks], dtype=bool)
        if box is None:
            coords = np.array([(c.y, c.x) for c in clicks], dtype=np.float64)
        else:
            net_input = self.zoom_in.crop(net_input, box)
            coords = self.zoom_in.crop_clicks(box, clicks)
        prob = torch.sigmoid(self._logits(net_input, coords, positive, self.precision))
        if box is None:
            return prob
        return ZoomIn.paste(prob, box, *self._image_size())

    def _logits(
        self,
        net_input: torch.Tensor,
        coords: np.ndarray,
        positive: np.ndarray,
        precision: Precision,
    ) -> torch.Tensor:
        """(1, 1, h, w) float32 logits for a (1, C, h, w) input and (K, 2) click coordinates in
        it, the model run in ``precision``; with flip, the mean of the logits of the input and of
        its mirror image (mirrored back)."""
        coord_lists = [coords]
        if self.flip:
            mirrored = coords.copy()
            mirrored[:, 1] = net_input.shape[3] - 1 - coords[:, 1]
            coord_lists.append(mirrored)
            net_input = torch.cat((net_input, net_input.flip(3)), dim=0)
        points = encode_points(coord_lists, [positive] * len(coord_lists))
        with autocast(precision, self.device):
            logits = self.model(net_input, torch.from_numpy(points).to(self.device))["instances"]
        logits = logits.float()
        if logits.shape[2:] != net_input.shape[2:]:
            logits = F.interpolate(
                logits, size=net_input.shape[2:], mode="bilinear", align_corners=True
            )
        if self.flip:
            logits = 0.5 * (logits[:1] + logits[1:].flip(3))
        return logits

    def _timing_pass(self, precision: Precision) -> None:
        """One click's forward pass on a blank TIMING_SIZE² image in ``precision`` (``auto``)."""
        channels = 4 if self.model.with_prev_mask else 3
        blank = torch.zeros((1, channels, TIMING_SIZE, TIMING_SIZE), device=self.device)
        centre = np.array([[TIMING_SIZE // 2, TIMING_SIZE // 2]], dtype=np.float64)
        with torch.inference_mode():
            self._logits(blank, centre, np.array([True]), precision)


def _read_only(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view
