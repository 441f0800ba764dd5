"""A deterministic stand-in for an RITM model, for the app tests that need exact masks."""

from __future__ import annotations

import time

import torch
from torch import nn


class BrightNearClicks(nn.Module):
    """Deterministic RITM-convention test model: an object is every bright pixel (mean RGB > 0.5)
    within `reach` px of a positive click, minus pixels within `reach` of a negative click.

    Input image (B, 4, H, W) (RGB + prev mask), points (B, 2N, 3) rows (y, x, index); returns
    {'instances': logits (B, 1, H, W)} of +8 / -8. `delay_s` makes each call slow (stale tests).
    """

    with_prev_mask = True
    with_aux_output = False
    norm_radius = 5

    def __init__(self, reach: float = 40.0, delay_s: float = 0.0) -> None:
        super().__init__()
        self.reach, self.delay_s = reach, delay_s
        self.calls = 0
        self.anchor = nn.Parameter(torch.zeros(1))

    def forward(self, image: torch.Tensor, points: torch.Tensor) -> dict[str, torch.Tensor]:
        self.calls += 1
        time.sleep(self.delay_s)
        b, _, h, w = image.shape
        bright = image[:, :3].mean(dim=1, keepdim=True) > 0.5
        ys = torch.arange(h, dtype=torch.float32).view(1, 1, h, 1)
        xs = torch.arange(w, dtype=torch.float32).view(1, 1, 1, w)
        half = points.shape[1] // 2
        near_pos = torch.zeros((b, 1, h, w), dtype=torch.bool)
        near_neg = torch.zeros_like(near_pos)
        for i in range(b):
            for k, (y, x, _) in enumerate(points[i].tolist()):
                if y < 0:
                    continue
                near = (ys[0] - y) ** 2 + (xs[0] - x) ** 2 <= self.reach**2
                target = near_pos if k < half else near_neg
                target[i] |= near
        obj = bright & near_pos & ~near_neg
        return {"instances": torch.where(obj, 8.0, -8.0) + 0 * self.anchor}


class BrightContext(nn.Module):
    """Deterministic click-free segmenter whose output depends on context, as a CNN's does: the
    probability is ``sigmoid(steep * (box_mean(brightness) - 0.5))`` over a (2·reach+1)² box
    with zero padding, so near a window's edge it sees black and under-segments: tiling without
    blending cuts a building crossing a window border in two.

    RITM calling convention of a baseline model: image (B, 3 or 4, H, W) RGB in [0, 1] (+ a
    previous-mask channel that is ignored), points (B, 2N, 3); returns {'instances': logits}.
    """

    with_aux_output = False

    def __init__(self, reach: int = 12, steep: float = 20.0, with_prev_mask: bool = True) -> None:
        super().__init__()
        self.reach, self.steep, self.with_prev_mask = reach, steep, with_prev_mask
        self.calls = 0

    def forward(self, image: torch.Tensor, points: torch.Tensor) -> dict[str, torch.Tensor]:
        self.calls += 1
        bright = image[:, :3].mean(dim=1, keepdim=True)
        size = 2 * self.reach + 1
        mean = nn.functional.avg_pool2d(
            bright, size, stride=1, padding=self.reach, count_include_pad=True
        )
        return {"instances": self.steep * (mean - 0.5)}
