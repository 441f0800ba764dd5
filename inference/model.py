"""RITM's ``HRNetModel``: click disks + previous mask → HRNet-OCR → mask logits.

Calling convention (RITM's): ``model(image, points)`` with

* ``image`` float (B, 3 + with_prev_mask, H, W): RGB in [0, 1], then the previous mask
  (probability or binary, in [0, 1]) when the model was built ``with_prev_mask``;
* ``points`` float (B, 2N, 3): rows ``(y, x, index)`` in pixels of ``image`` — the first N rows are
  positive clicks, the last N negative ones; unused rows are ``(-1, -1, -1)``.

It returns ``{'instances': logits (B, 1, H, W)}`` plus ``'instances_aux'`` (same shape) when built
``with_aux_output``. ImageNet normalisation happens inside the model.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from isegsat.inference.hrnet import STEM_CHANNELS, HighResolutionNet

RITM_CLASS_NAME = "isegm.model.is_hrnet_model.HRNetModel"
BATCHNORM_CLASS_NAME = "torch.nn.modules.batchnorm.BatchNorm2d"
IMAGENET_MEAN_STD = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])

RITM_DEFAULTS: dict[str, Any] = {
    "width": 48,
    "ocr_width": 256,
    "small": False,
    "backbone_lr_mult": 0.1,
    "norm_layer": nn.BatchNorm2d,
    "use_rgb_conv": True,
    "with_aux_output": False,
    "norm_radius": 260,
    "use_disks": False,
    "cpu_dist_maps": False,
    "clicks_groups": None,
    "with_prev_mask": False,
    "use_leaky_relu": False,
    "binary_prev_mask": False,
    "conv_extend": False,
    "norm_mean_std": IMAGENET_MEAN_STD,
}
"""Constructor parameters of RITM's ``HRNetModel`` (with ``ISModel``'s) and their defaults."""

_ITERMASK_COMMON = {
    "with_aux_output": True,
    "use_leaky_relu": True,
    "use_rgb_conv": False,
    "use_disks": True,
    "norm_radius": 5,
    "with_prev_mask": True,
}
ARCHITECTURES: dict[str, dict[str, Any]] = {
    "hrnet18": {"width": 18, "ocr_width": 64, "small": False, **_ITERMASK_COMMON},
    "hrnet18s": {"width": 18, "ocr_width": 48, "small": True, **_ITERMASK_COMMON},
    "hrnet32": {"width": 32, "ocr_width": 128, "small": False, **_ITERMASK_COMMON},
}
"""RITM's released iterative-training-with-mask (IT-M) configurations, by short name."""


class ScaleLayer(nn.Module):
    """Multiplies its input by ``|scale * lr_mult|`` (one learnable scalar ``scale``)."""

    def __init__(self, init_value: float = 1.0, lr_mult: float = 1.0) -> None:
        super().__init__()
        self.lr_mult = lr_mult
        self.scale = nn.Parameter(torch.full((1,), init_value / lr_mult))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.abs(self.scale * self.lr_mult)


class DistMaps(nn.Module):
    """Encodes clicks as two maps (positive, negative) at the resolution of the input.

    With ``use_disks`` each map is 1 inside a disk of radius ``norm_radius`` pixels around any
    click of its kind and 0 elsewhere; otherwise it is ``tanh(2 · d / norm_radius)`` of the
    distance ``d`` to the nearest click (1 far away or without clicks).
    """

    def __init__(self, norm_radius: float, use_disks: bool = False) -> None:
        super().__init__()
        self.norm_radius = norm_radius
        self.use_disks = use_disks

    def forward(self, points: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """``points`` (B, 2N, 3) float (y, x, index) → maps (B, 2, height, width) float32."""
        batch, rows, _ = points.shape
        points = points.float()
        ys = torch.arange(height, dtype=torch.float32, device=points.device)
        xs = torch.arange(width, dtype=torch.float32, device=points.device)
        dy = (ys.view(1, 1, height, 1) - points[:, :, 0, None, None]) ** 2
        dx = (xs.view(1, 1, 1, width) - points[:, :, 1, None, None]) ** 2
        if not self.use_disks:
            dy = dy / self.norm_radius**2
            dx = dx / self.norm_radius**2
        squared = dy + dx  # B, 2N, H, W
        unused = points[:, :, :2].amax(dim=2) < 0
        squared = squared.masked_fill(unused[:, :, None, None], 1e6)
        nearest = squared.view(batch, 2, rows // 2, height, width).amin(dim=2)
        if self.use_disks:
            return (nearest <= self.norm_radius**2).float()
        return torch.tanh(2 * torch.sqrt(nearest))


def _set_lr_mult(module: nn.Module, lr_mult: float) -> None:
    """Tag each ``weight``/``bias`` under ``module`` with ``lr_mult`` (RITM's LRMult)."""
    for child in module.modules():
        for name in ("weight", "bias"):
            param = getattr(child, name, None)
            if isinstance(param, nn.Parameter):
                param.lr_mult = lr_mult


def _check_norm_layer(norm_layer: Any) -> None:
    if norm_layer is nn.BatchNorm2d or norm_layer == BATCHNORM_CLASS_NAME:
        return
    raise ValueError(f"only BatchNorm2d norm_layer is supported, got {norm_layer!r}")


class HRNetModel(nn.Module):
    """RITM ``HRNetModel`` (``isegm.model.is_hrnet_model.HRNetModel``), same parameters and keys.

    The constructor takes RITM's parameters with RITM's defaults (see ``RITM_DEFAULTS``);
    ``clicks_groups`` is not supported (no released HRNet model uses it). ``config_params`` holds
    every parameter value and ``specified_params`` those passed explicitly, so a checkpoint can
    record them in RITM's serialisation layout.

    Submodules: ``feature_extractor`` (HRNet + OCR; backbone parameters tagged ``lr_mult`` 0.1,
    OCR heads 1.0, as RITM), ``maps_transform`` (Conv1S, lr_mult 1) or ``rgb_conv``,
    ``dist_maps``.
    """

    def __init__(self, **params: Any) -> None:
        super().__init__()
        unknown = sorted(set(params) - set(RITM_DEFAULTS))
        if unknown:
            raise TypeError(f"unknown HRNetModel parameter(s): {', '.join(unknown)}")
        config = {**RITM_DEFAULTS, **params}
        _check_norm_layer(config["norm_layer"])
        if config["clicks_groups"] is not None:
            raise ValueError("clicks_groups is not supported (no released RITM HRNet uses it)")
        self.config_params = config
        self.specified_params = frozenset(params)
        self.with_aux_output = bool(config["with_aux_output"])
        self.with_prev_mask = bool(config["with_prev_mask"])
        self.binary_prev_mask = bool(config["binary_prev_mask"])
        self.norm_radius = config["norm_radius"]
        mean, std = config["norm_mean_std"]
        self.register_buffer("norm_mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("norm_std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

        maps_channels = 2 + int(self.with_prev_mask)
        self.rgb_conv: nn.Sequential | None = None
        self.maps_transform: nn.Module | None = None
        activation = nn.LeakyReLU(0.2) if config["use_leaky_relu"] else nn.ReLU(inplace=True)
        if config["use_rgb_conv"]:
            mixed = 6 + maps_channels
            self.rgb_conv = nn.Sequential(
                nn.Conv2d(3 + maps_channels, mixed, 1),
                nn.BatchNorm2d(mixed),
                activation,
                nn.Conv2d(mixed, 3, 1),
            )
        elif config["conv_extend"]:
            self.maps_transform = nn.Conv2d(maps_channels, STEM_CHANNELS, 3, stride=2, padding=1)
            _set_lr_mult(self.maps_transform, 0.1)
        else:
            self.maps_transform = nn.Sequential(
                nn.Conv2d(maps_channels, 16, 1),
                activation,
                nn.Conv2d(16, STEM_CHANNELS, 3, stride=2, padding=1),
                ScaleLayer(init_value=0.05, lr_mult=1),
            )
        self.dist_maps = DistMaps(self.norm_radius, use_disks=bool(config["use_disks"]))

        self.feature_extractor = HighResolutionNet(
            width=config["width"], ocr_width=config["ocr_width"], small=config["small"]
        )
        _set_lr_mult(self.feature_extractor, config["backbone_lr_mult"])
        if config["ocr_width"] > 0:
            for head in ("ocr_distri_head", "ocr_gather_head", "conv3x3_ocr"):
                _set_lr_mult(getattr(self.feature_extractor, head), 1.0)

    @property
    def input_channels(self) -> int:
        """Channels ``image`` must have: RGB, plus the previous mask when ``with_prev_mask``."""
        return 3 + int(self.with_prev_mask)

    def forward(self, image: torch.Tensor, points: torch.Tensor) -> dict[str, torch.Tensor]:
        self._check_inputs(image, points)
        rgb = image[:, :3]
        height, width = image.shape[-2:]
        maps = self.dist_maps(points, height, width).to(image.dtype)
        if self.with_prev_mask:
            prev_mask = image[:, 3:]
            if self.binary_prev_mask:
                prev_mask = (prev_mask > 0.5).to(image.dtype)
            maps = torch.cat((prev_mask, maps), dim=1)
        rgb = (rgb - self.norm_mean) / self.norm_std

        if self.rgb_conv is not None:
            logits, aux_logits = self.feature_extractor(self.rgb_conv(torch.cat((rgb, maps), 1)))
        else:
            logits, aux_logits = self.feature_extractor(rgb, self.maps_transform(maps))

        outputs = {"instances": _upsample(logits, height, width)}
        if self.with_aux_output:
            outputs["instances_aux"] = _upsample(aux_logits, height, width)
        return outputs

    def _check_inputs(self, image: torch.Tensor, points: torch.Tensor) -> None:
        if image.ndim != 4 or image.shape[1] != self.input_channels:
            raise ValueError(
                f"image must be (B, {self.input_channels}, H, W), got {tuple(image.shape)}"
            )
        if points.ndim != 3 or points.shape[2] != 3 or points.shape[1] % 2 or not points.shape[1]:
            raise ValueError(f"points must be (B, 2N, 3) with N >= 1, got {tuple(points.shape)}")
        if points.shape[0] != image.shape[0]:
            raise ValueError(
                f"image batch {image.shape[0]} and points batch {points.shape[0]} differ"
            )


def _upsample(logits: torch.Tensor, height: int, width: int) -> torch.Tensor:
    return F.interpolate(logits, size=(height, width), mode="bilinear", align_corners=True)


def build_model(arch: str = "hrnet18s", **params: Any) -> HRNetModel:
    """A freshly initialised ``HRNetModel`` of a named IT-M architecture.

    ``arch`` is one of ``ARCHITECTURES`` ("hrnet18", "hrnet18s", "hrnet32"); ``params`` override
    its RITM constructor parameters (width, ocr_width, small, with_aux_output, norm_radius, ...).
    """
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose from {', '.join(ARCHITECTURES)}")
    return HRNetModel(**{**ARCHITECTURES[arch], **params})


def architecture_name(params: dict[str, Any]) -> str | None:
    """The ``ARCHITECTURES`` name whose backbone (width, ocr_width, small) matches ``params``."""
    keys = ("width", "ocr_width", "small")
    for name, preset in ARCHITECTURES.items():
        if all(params.get(key, RITM_DEFAULTS[key]) == preset[key] for key in keys):
            return name
    return None
