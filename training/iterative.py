"""Iterative click simulation during training (RITM ``batch_forward`` / ``get_next_points``).

Before the gradient pass, the model (in eval mode, without gradient) predicts 0..max clicks times;
after each prediction one click is added to each sample in its larger error region and the
prediction becomes the previous-mask input of the next pass.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from isegsat.inference.clicks import error_distance_maps
from isegsat.inference.threshold import PRED_THRESHOLD


def error_click(
    target: np.ndarray, predicted: np.ndarray, rng: np.random.Generator
) -> tuple[int, int, bool] | None:
    """One training click on the larger error of ``predicted`` vs ``target`` (HxW bool).

    RITM's rule: positive when the largest distance-to-boundary of the false negatives beats
    that of the false positives; the click is a random pixel whose distance exceeds half that
    maximum. Returns (y, x, is_positive) in pixels, or None when there is no error.
    """
    fn_distance, fp_distance = error_distance_maps(target, predicted)
    fn_max, fp_max = float(fn_distance.max()), float(fp_distance.max())
    if max(fn_max, fp_max) == 0:
        return None
    is_positive = fn_max > fp_max
    distance = fn_distance if is_positive else fp_distance
    inner = np.argwhere(distance > max(fn_max, fp_max) / 2.0)
    y, x = inner[rng.integers(len(inner))]
    return int(y), int(x), bool(is_positive)


def next_training_points(
    prob: torch.Tensor,
    target: torch.Tensor,
    points: torch.Tensor,
    click_index: int,
    rng: np.random.Generator,
    pred_threshold: float = PRED_THRESHOLD,
) -> torch.Tensor:
    """``points`` with one more click per sample (``error_click``), as RITM's
    ``get_next_points``.

    prob: (B, 1, H, W) predicted probabilities; target: (B, 1, H, W) {0, 1}; points:
    (B, 2N, 3) (y, x, index) rows, positives first. The click is written in row N - click_index
    (positive) or 2N - click_index (negative) with index ``click_index`` (≥ 1). A sample without
    error keeps its points. Returns a new tensor on ``points``' device.
    """
    if click_index < 1:
        raise ValueError("click_index counts the added clicks from 1")
    predicted = (prob[:, 0] > pred_threshold).cpu().numpy()
    objects = (target[:, 0] > 0.5).cpu().numpy()
    updated = points.detach().cpu().clone()
    per_group = points.shape[1] // 2
    for b in range(predicted.shape[0]):
        click = error_click(objects[b], predicted[b], rng)
        if click is None:
            continue
        y, x, is_positive = click
        row = (per_group if is_positive else 2 * per_group) - click_index
        updated[b, row] = torch.tensor([float(y), float(x), float(click_index)])
    return updated.to(points.device)


@torch.no_grad()
def simulate_clicks(
    model: nn.Module,
    images: torch.Tensor,
    target: torch.Tensor,
    points: torch.Tensor,
    num_clicks: int,
    rng: np.random.Generator,
    with_prev_mask: bool = True,
    prev_mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run ``num_clicks`` no-gradient passes in eval mode, adding one click after each.

    images: (B, 3, H, W) RGB [0, 1]; prev_mask: (B, 1, H, W) the first passes' previous mask
    (an imperfect label in [0, 1]; None = zeros). Returns (prev_mask (B, 1, H, W) float32: the
    last predicted probability, the given one when num_clicks = 0; points (B, 2N, 3) with the
    added clicks). The model's train/eval mode is restored.
    """
    if prev_mask is None:
        prev_mask = torch.zeros_like(images[:, :1])
    was_training = model.training
    model.eval()
    try:
        for click_index in range(1, num_clicks + 1):
            net_input = torch.cat((images, prev_mask), dim=1) if with_prev_mask else images
            prev_mask = torch.sigmoid(model(net_input, points)["instances"].float())
            points = next_training_points(prev_mask, target, points, click_index, rng)
    finally:
        model.train(was_training)
    return prev_mask, points
