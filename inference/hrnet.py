"""HRNet-W(18|32|48) backbone with an OCR head, laid out like RITM's ``HighResolutionNet``.

Module attribute names and ``nn.Sequential`` nesting mirror RITM exactly, because the released
checkpoints address parameters by those names (``layer1.0.conv1.weight``,
``stage3.2.fuse_layers.1.0.0.0.weight``, ``ocr_distri_head.conv_bn_dropout.1.0.running_mean``...).

All tensors are float ``(B, C, H, W)``. The stem downsamples by 4; every branch ``i`` of the
multi-resolution stages works at stride ``4 * 2**i``; the heads return logits at stride 4.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

STEM_CHANNELS = 64
"""Channels after the two stride-2 stem convolutions (and of the click-map features added to it)."""


def _resize_like(x: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Bilinearly resize ``x`` to the spatial size of ``reference`` (corner-aligned, as RITM)."""
    return F.interpolate(x, size=reference.shape[-2:], mode="bilinear", align_corners=True)


def _conv_bn(
    in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, relu: bool = True
) -> nn.Sequential:
    """Bias-free convolution + BatchNorm (+ ReLU); padding keeps the size at stride 1."""
    layers: list[nn.Module] = [
        nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=kernel_size // 2,
            bias=False,
        ),
        nn.BatchNorm2d(out_channels),
    ]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class BasicBlock(nn.Module):
    """Two 3×3 conv-BN layers with an identity (or projected) shortcut; expansion 1."""

    expansion = 1

    def __init__(
        self, in_channels: int, channels: int, downsample: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + shortcut)


class Bottleneck(nn.Module):
    """1×1 → 3×3 → 1×1 conv-BN bottleneck with a shortcut; output has ``4 * channels``."""

    expansion = 4

    def __init__(
        self, in_channels: int, channels: int, downsample: nn.Module | None = None
    ) -> None:
        super().__init__()
        out_channels = channels * self.expansion
        self.conv1 = nn.Conv2d(in_channels, channels, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv3 = nn.Conv2d(channels, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + shortcut)


def _residual_stack(
    block: type[BasicBlock] | type[Bottleneck], in_channels: int, channels: int, num_blocks: int
) -> nn.Sequential:
    """``num_blocks`` residual blocks; the first projects the shortcut when channels change."""
    out_channels = channels * block.expansion
    projection = None
    if in_channels != out_channels:
        projection = _conv_bn(in_channels, out_channels, 1, relu=False)
    blocks = [block(in_channels, channels, projection)]
    blocks += [block(out_channels, channels) for _ in range(num_blocks - 1)]
    return nn.Sequential(*blocks)


def _fuse_path(source: int, target: int, channels: list[int]) -> nn.Module | None:
    """Layer carrying branch ``source`` into branch ``target`` of a multi-resolution module.

    Lower resolution → higher: 1×1 conv-BN (upsampled in ``forward``). Higher → lower: a chain of
    stride-2 3×3 conv-BN, ReLU between links but not after the last. Same branch: ``None``.
    """
    if source == target:
        return None
    if source > target:
        return _conv_bn(channels[source], channels[target], 1, relu=False)
    steps = target - source
    links = [_conv_bn(channels[source], channels[source], 3, stride=2) for _ in range(steps - 1)]
    links.append(_conv_bn(channels[source], channels[target], 3, stride=2, relu=False))
    return nn.Sequential(*links)


class HighResolutionModule(nn.Module):
    """Parallel residual branches followed by an all-to-all exchange between resolutions."""

    def __init__(self, channels: list[int], num_blocks: int) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            _residual_stack(BasicBlock, width, width, num_blocks) for width in channels
        )
        self.fuse_layers = nn.ModuleList(
            nn.ModuleList(_fuse_path(src, dst, channels) for src in range(len(channels)))
            for dst in range(len(channels))
        )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        features = [branch(x) for branch, x in zip(self.branches, features, strict=True)]
        fused = []
        for dst, paths in enumerate(self.fuse_layers):
            total = None
            for src, path in enumerate(paths):  # summed in branch order, as RITM does
                if path is None:
                    moved = features[src]
                elif src > dst:
                    moved = _resize_like(path(features[src]), features[dst])
                else:
                    moved = path(features[src])
                total = moved if total is None else total + moved
            fused.append(self.relu(total))
        return fused


def _transition(previous: list[int], current: list[int]) -> nn.ModuleList:
    """Adapt the branches of one stage to the next stage (adding one lower-resolution branch).

    Kept branches get a 3×3 conv-BN-ReLU only when their width changes (else ``None``); the new
    branch is made from the previous lowest-resolution branch by a stride-2 3×3 conv-BN-ReLU.
    """
    layers: list[nn.Module | None] = []
    for index, out_channels in enumerate(current):
        if index < len(previous):
            same = previous[index] == out_channels
            layers.append(None if same else _conv_bn(previous[index], out_channels, 3))
        else:
            layers.append(nn.Sequential(_conv_bn(previous[-1], out_channels, 3, stride=2)))
    return nn.ModuleList(layers)


class SpatialGather(nn.Module):
    """OCR object regions: soft-assignment-weighted average of pixel features per class.

    ``features`` (B, C, h, w) and ``class_logits`` (B, K, h, w) → context (B, C, K, 1).
    """

    def forward(self, features: torch.Tensor, class_logits: torch.Tensor) -> torch.Tensor:
        weights = F.softmax(class_logits.flatten(2), dim=2)  # B, K, hw
        context = torch.matmul(weights, features.flatten(2).transpose(1, 2))  # B, K, C
        return context.transpose(1, 2).unsqueeze(3)


class ObjectAttention(nn.Module):
    """OCR pixel-to-region attention: each pixel attends to the K object-region features."""

    def __init__(self, channels: int, key_channels: int) -> None:
        super().__init__()
        self.key_channels = key_channels
        self.f_pixel = self._projection(channels, key_channels, depth=2)
        self.f_object = self._projection(channels, key_channels, depth=2)
        self.f_down = self._projection(channels, key_channels, depth=1)
        self.f_up = self._projection(key_channels, channels, depth=1)

    @staticmethod
    def _projection(in_channels: int, out_channels: int, depth: int) -> nn.Sequential:
        layers: list[nn.Module] = []
        for step in range(depth):
            source = in_channels if step == 0 else out_channels
            layers.append(nn.Conv2d(source, out_channels, 1, bias=False))
            layers.append(nn.Sequential(nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)))
        return nn.Sequential(*layers)

    def forward(self, pixels: torch.Tensor, regions: torch.Tensor) -> torch.Tensor:
        batch, _, height, width = pixels.shape
        query = self.f_pixel(pixels).flatten(2).transpose(1, 2)  # B, hw, Ck
        key = self.f_object(regions).flatten(2)  # B, Ck, K
        value = self.f_down(regions).flatten(2).transpose(1, 2)  # B, K, Ck
        similarity = F.softmax(torch.matmul(query, key) * self.key_channels**-0.5, dim=-1)
        context = torch.matmul(similarity, value).transpose(1, 2)  # B, Ck, hw
        context = context.reshape(batch, self.key_channels, height, width)
        return self.f_up(context)


class SpatialOCR(nn.Module):
    """OCR distribution head: concatenates attended region context with the pixel features."""

    def __init__(self, channels: int, key_channels: int, dropout: float = 0.05) -> None:
        super().__init__()
        self.object_context_block = ObjectAttention(channels, key_channels)
        self.conv_bn_dropout = nn.Sequential(
            nn.Conv2d(2 * channels, channels, 1, bias=False),
            nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(inplace=True)),
            nn.Dropout2d(dropout),
        )

    def forward(self, pixels: torch.Tensor, regions: torch.Tensor) -> torch.Tensor:
        context = self.object_context_block(pixels, regions)
        return self.conv_bn_dropout(torch.cat([context, pixels], 1))


class HighResolutionNet(nn.Module):
    """HRNet backbone + OCR (``ocr_width > 0``) or plain conv head, one output class.

    ``forward(image, stem_extra)``: ``image`` (B, 3, H, W) normalised RGB (or whatever 3-channel
    input the owner builds); ``stem_extra`` optional (B, 64, ceil(H/2), ceil(W/2)) added after the
    first stem convolution. Returns ``(logits, aux_logits)`` (B, 1, ceil(H/4), ceil(W/4)) each;
    ``aux_logits`` is ``None`` without OCR.
    """

    def __init__(self, width: int, ocr_width: int = 256, small: bool = False) -> None:
        super().__init__()
        self.ocr_width = ocr_width
        num_blocks = 2 if small else 4

        self.conv1 = nn.Conv2d(3, STEM_CHANNELS, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(STEM_CHANNELS)
        self.conv2 = nn.Conv2d(STEM_CHANNELS, STEM_CHANNELS, 3, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(STEM_CHANNELS)
        self.relu = nn.ReLU(inplace=True)

        self.layer1 = _residual_stack(Bottleneck, STEM_CHANNELS, 64, num_blocks)
        stage_modules = (1, 3, 2) if small else (1, 4, 3)
        previous = [64 * Bottleneck.expansion]
        for stage_index, num_modules in enumerate(stage_modules):
            channels = [width * 2**i for i in range(stage_index + 2)]
            setattr(self, f"transition{stage_index + 1}", _transition(previous, channels))
            stage = nn.Sequential(
                *(HighResolutionModule(channels, num_blocks) for _ in range(num_modules))
            )
            setattr(self, f"stage{stage_index + 2}", stage)
            previous = channels
        features = sum(previous)

        if ocr_width > 0:
            mid = 2 * ocr_width
            self.conv3x3_ocr = nn.Sequential(
                nn.Conv2d(features, mid, 3, padding=1),
                nn.BatchNorm2d(mid),
                nn.ReLU(inplace=True),
            )
            self.ocr_gather_head = SpatialGather()
            self.ocr_distri_head = SpatialOCR(mid, ocr_width)
            self.cls_head = nn.Conv2d(mid, 1, 1)
            self.aux_head = nn.Sequential(
                nn.Conv2d(features, features, 1),
                nn.BatchNorm2d(features),
                nn.ReLU(inplace=True),
                nn.Conv2d(features, 1, 1),
            )
        else:
            self.cls_head = nn.Sequential(
                nn.Conv2d(features, features, 3, padding=1),
                nn.BatchNorm2d(features),
                nn.ReLU(inplace=True),
                nn.Conv2d(features, 1, 1),
            )

    def forward(
        self, image: torch.Tensor, stem_extra: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        features = self._multi_resolution_features(image, stem_extra)
        if self.ocr_width <= 0:
            return self.cls_head(features), None
        aux_logits = self.aux_head(features)
        pixels = self.conv3x3_ocr(features)
        regions = self.ocr_gather_head(pixels, aux_logits)
        pixels = self.ocr_distri_head(pixels, regions)
        return self.cls_head(pixels), aux_logits

    def _multi_resolution_features(
        self, image: torch.Tensor, stem_extra: torch.Tensor | None
    ) -> torch.Tensor:
        """Stem, layer1 and stages 2–4; branches upsampled to stride 4 and concatenated."""
        x = self.relu(self.bn1(self.conv1(image)))
        if stem_extra is not None:
            x = x + stem_extra
        x = self.relu(self.bn2(self.conv2(x)))
        branches = [self.layer1(x)]
        for transition, stage in (
            (self.transition1, self.stage2),
            (self.transition2, self.stage3),
            (self.transition3, self.stage4),
        ):
            inputs = []
            for index, adapt in enumerate(transition):
                source = branches[min(index, len(branches) - 1)]
                inputs.append(source if adapt is None else adapt(source))
            branches = stage(inputs)
        top = branches[0]
        upsampled = [top] + [_resize_like(branch, top) for branch in branches[1:]]
        return torch.cat(upsampled, 1)
