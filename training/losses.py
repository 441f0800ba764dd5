"""RITM's losses: normalised focal loss on the main output, sigmoid BCE on the auxiliary one."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def normalized_focal_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    alpha: float = 0.5,
    gamma: float = 2.0,
    ignore_label: float = -1,
    eps: float = 1e-12,
) -> torch.Tensor:
    """RITM's ``NormalizedFocalLossSigmoid`` (from logits), one value per sample.

    logits, target: (B, 1, H, W); target 1 = object, 0 = background, ``ignore_label`` ignored.
    With p = sigmoid(logits) and p_t = 1 - |target - p|, the focal weights (1 - p_t)^gamma are
    rescaled per sample so they sum to the number of counted pixels (the scale is detached), then
    loss = sum(-a_t · w · log(p_t)) / (number of counted pixels), a_t = alpha on the object and
    1 - alpha on the background. A perfect prediction gives 0. Returns (B,) float32.
    """
    logits, target = logits.float(), target.float()
    counted = target != ignore_label
    is_object = target > 0.5
    prob = torch.sigmoid(logits)
    alpha_t = torch.where(is_object, alpha, 1.0 - alpha) * counted
    p_t = torch.where(counted, 1.0 - (target - prob).abs(), torch.ones_like(prob))
    weight = (1.0 - p_t) ** gamma
    dims = (-1, -2)
    count = counted.sum(dim=dims, keepdim=True)
    scale = (count / (weight.sum(dim=dims, keepdim=True) + eps)).detach()
    loss = -alpha_t * weight * scale * torch.log((p_t + eps).clamp(max=1.0)) * counted
    per_sample_dims = tuple(range(1, loss.dim()))
    return loss.sum(dim=per_sample_dims) / (counted.sum(dim=per_sample_dims) + eps)


def sigmoid_bce(
    logits: torch.Tensor, target: torch.Tensor, ignore_label: float = -1
) -> torch.Tensor:
    """Per-pixel sigmoid binary cross-entropy averaged per sample (ignored pixels count as 0,
    RITM's ``SigmoidBinaryCrossEntropyLoss``). (B, 1, H, W) → (B,) float32."""
    logits, target = logits.float(), target.float()
    counted = target != ignore_label
    target = torch.where(counted, target, torch.zeros_like(target))
    loss = F.binary_cross_entropy_with_logits(logits, target, reduction="none") * counted
    return loss.mean(dim=tuple(range(1, loss.dim())))


def ritm_loss(
    outputs: dict[str, torch.Tensor],
    target: torch.Tensor,
    alpha: float = 0.5,
    gamma: float = 2.0,
    aux_weight: float = 0.4,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Batch-mean NFL on ``outputs['instances']`` + ``aux_weight`` × BCE on ``'instances_aux'``
    (when present). Returns the scalar loss and its detached parts for logging."""
    main = normalized_focal_loss(outputs["instances"], target, alpha, gamma).mean()
    parts = {"nfl": main.detach()}
    loss = main
    if "instances_aux" in outputs and aux_weight > 0:
        aux = sigmoid_bce(outputs["instances_aux"], target).mean()
        parts["aux_bce"] = aux.detach()
        loss = loss + aux_weight * aux
    return loss, parts
