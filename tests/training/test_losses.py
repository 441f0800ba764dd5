"""RITM losses: normalised focal loss and sigmoid BCE against hand computations."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from isegsat.training.losses import normalized_focal_loss, ritm_loss, sigmoid_bce


def _nfl_by_hand(probs: list[float], labels: list[int], alpha: float, gamma: float) -> float:
    p_t = [p if y == 1 else 1 - p for p, y in zip(probs, labels, strict=True)]
    weights = [(1 - pt) ** gamma for pt in p_t]
    scale = len(p_t) / sum(weights)
    alphas = [alpha if y == 1 else 1 - alpha for y in labels]
    terms = [-a * w * scale * math.log(pt) for a, w, pt in zip(alphas, weights, p_t, strict=True)]
    return sum(terms) / len(p_t)


def test_normalized_focal_loss_matches_hand_computation() -> None:
    probs, labels = [0.9, 0.3, 0.2, 0.6], [1, 1, 0, 0]
    logits = torch.logit(torch.tensor(probs)).view(1, 1, 2, 2)
    target = torch.tensor(labels, dtype=torch.float32).view(1, 1, 2, 2)
    for alpha, gamma in ((0.5, 2.0), (0.25, 1.0)):
        loss = normalized_focal_loss(logits, target, alpha=alpha, gamma=gamma)
        assert loss.shape == (1,)
        assert float(loss) == pytest.approx(_nfl_by_hand(probs, labels, alpha, gamma), rel=1e-5)


def test_normalized_focal_loss_is_zero_when_perfect_and_ignores_label() -> None:
    target = torch.tensor([[1.0, 0.0], [0.0, 1.0]]).view(1, 1, 2, 2)
    perfect = (target * 2 - 1) * 40
    assert float(normalized_focal_loss(perfect, target)) == pytest.approx(0.0, abs=1e-6)
    logits = torch.tensor([[2.0, -1.0], [5.0, 0.5]]).view(1, 1, 2, 2)
    ignored = target.clone()
    ignored[0, 0, 1, 0] = -1  # the worst pixel (logit 5 on background) no longer counts
    kept = [(2.0, 1), (-1.0, 0), (0.5, 1)]
    expected = _nfl_by_hand([torch.sigmoid(torch.tensor(v)).item() for v, _ in kept],
                            [y for _, y in kept], 0.5, 2.0)  # fmt: skip
    assert float(normalized_focal_loss(logits, ignored)) == pytest.approx(expected, rel=1e-5)


def test_normalized_focal_loss_gradient_scale_is_detached() -> None:
    logits = torch.tensor([0.5, -0.3, 1.2, -2.0]).view(1, 1, 2, 2).requires_grad_()
    target = torch.tensor([1.0, 0.0, 0.0, 1.0]).view(1, 1, 2, 2)
    normalized_focal_loss(logits, target).sum().backward()
    grad = logits.grad.flatten()
    # Every pixel is pushed towards its label (no sign flip from the normaliser).
    assert (grad[[0, 3]] < 0).all() and (grad[[1, 2]] > 0).all()


def test_bce_and_combined_loss() -> None:
    logits = torch.randn(2, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    target = (torch.rand(2, 1, 4, 4, generator=torch.Generator().manual_seed(1)) > 0.5).float()
    expected = F.binary_cross_entropy_with_logits(logits, target, reduction="none").mean((1, 2, 3))
    torch.testing.assert_close(sigmoid_bce(logits, target), expected)
    aux = logits.flip(-1)
    loss, parts = ritm_loss({"instances": logits, "instances_aux": aux}, target, aux_weight=0.4)
    total = normalized_focal_loss(logits, target).mean() + 0.4 * sigmoid_bce(aux, target).mean()
    torch.testing.assert_close(loss, total)
    assert set(parts) == {"nfl", "aux_bce"}
    loss_main_only, parts = ritm_loss({"instances": logits}, target)
    torch.testing.assert_close(loss_main_only, normalized_focal_loss(logits, target).mean())
