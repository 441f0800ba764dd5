"""Click → probability latency of the HRNet models: ``python -m isegsat.inference.tools.bench``.

One measured pass is what the annotation tool does after a click, minus zoom-in: stack the cached
RGB tensor with the previous probability map, encode the clicks so far, run the model (with
flip test-time augmentation: a batch of 2 with the mirrored input, logits averaged back, as
RITM), apply the sigmoid and bring the (H, W) float32 map back as numpy. Pass ``k`` carries ``k``
clicks (alternating positive/negative, up to 20). Weights are random unless ``--weights`` is given;
they do not change the speed.

Variants: ``plain`` is the model as loaded (eval, ``torch.inference_mode``); ``fast`` is
``fuse_for_inference`` (BatchNorm folded into convolutions, channels-last weights). Each variant
runs in every ``--precisions`` format the device supports (``bf16``/``fp16``: ``torch.autocast``,
as ``Predictor(precision=...)``); the last column is the p50 of ``fast`` fp32 in the same setting
divided by the row's p50 (2.0: twice as fast as the fused fp32 path).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Sequence

import numpy as np
import torch

from isegsat.inference.checkpoint import load_checkpoint
from isegsat.inference.device import pick_device
from isegsat.inference.fuse import fuse_for_inference
from isegsat.inference.model import HRNetModel, build_model
from isegsat.inference.precision import Precision, autocast, is_supported

MAX_CLICKS = 20


def click_points(count: int, height: int, width: int, flip: bool) -> torch.Tensor:
    """(1 or 2, 2N, 3) RITM points for ``count`` clicks spread over the image, padded with -1.

    With ``flip`` the second batch row holds the same clicks mirrored left-right.
    """
    rng = np.random.default_rng(count)
    positives = [(rng.integers(height), rng.integers(width)) for _ in range((count + 1) // 2)]
    negatives = [(rng.integers(height), rng.integers(width)) for _ in range(count // 2)]
    slots = max(len(positives), len(negatives), 1)
    rows = np.full((2 * slots, 3), -1.0, dtype=np.float32)
    for order, (y, x) in enumerate(positives):
        rows[order] = (y, x, 2 * order)
    for order, (y, x) in enumerate(negatives):
        rows[slots + order] = (y, x, 2 * order + 1)
    points = torch.from_numpy(rows)[None]
    if not flip:
        return points
    mirrored = points.clone()
    valid = mirrored[..., 0] >= 0
    mirrored[..., 1][valid] = width - 1 - mirrored[..., 1][valid]
    return torch.cat([points, mirrored])


def predict_once(
    model: HRNetModel,
    rgb: torch.Tensor,
    prev_prob: np.ndarray,
    points: torch.Tensor,
    precision: Precision = "fp32",
) -> np.ndarray:
    """One click's work: ``rgb`` (1, 3, H, W) on the model's device → probability (H, W)
    float32, the model run in ``precision``."""
    mask = torch.from_numpy(prev_prob).to(rgb.device)[None, None]
    image = torch.cat([rgb, mask], dim=1) if model.with_prev_mask else rgb
    if points.shape[0] == 2:
        image = torch.cat([image, image.flip(-1)])
    with autocast(precision, rgb.device):
        logits = model(image, points.to(rgb.device))["instances"].float()
    if logits.shape[0] == 2:
        logits = 0.5 * (logits[:1] + logits[1:].flip(-1))
    return torch.sigmoid(logits)[0, 0].float().cpu().numpy()


def time_clicks(
    model: HRNetModel,
    size: int,
    flip: bool,
    repeats: int,
    device: torch.device,
    precision: Precision = "fp32",
) -> list[float]:
    """Seconds per click for ``repeats`` clicks (after 2 warm-up passes) at ``size``²."""
    generator = torch.Generator().manual_seed(size)
    rgb = torch.rand(1, 3, size, size, generator=generator).to(device)
    prob = np.zeros((size, size), dtype=np.float32)
    times = []
    with torch.inference_mode():
        for index in range(repeats + 2):
            clicks = min(index % MAX_CLICKS + 1, MAX_CLICKS)
            points = click_points(clicks, size, size, flip)
            start = time.perf_counter()
            prob = predict_once(model, rgb, prob, points, precision)
            if index >= 2:
                times.append(time.perf_counter() - start)
    return times


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def describe_machine(device: torch.device) -> str:
    if device.type == "cuda":
        where = torch.cuda.get_device_name(device)
    else:
        where = f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs"
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return (
        f"device {device} ({where}); torch {torch.__version__}; "
        f"torch threads {torch.get_num_threads()}; load average {load}"
    )


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m isegsat.inference.tools.bench", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--archs", nargs="+", default=["hrnet18", "hrnet18s"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[400, 500])
    parser.add_argument("--repeats", type=int, default=20, help="timed clicks per setting")
    parser.add_argument(
        "--variants", nargs="+", choices=["plain", "fast"], default=["plain", "fast"]
    )
    parser.add_argument(
        "--precisions",
        nargs="+",
        choices=["fp32", "bf16", "fp16"],
        default=["fp32", "bf16", "fp16"],
        help="formats to time (those the device lacks are skipped)",
    )
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: auto)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--weights", default=None, help="checkpoint to time instead of random")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    return args


def _models(args: argparse.Namespace, device: torch.device) -> list[tuple[str, HRNetModel]]:
    """(label, eval model on ``device``): the ``--weights`` model, or each random ``--archs``."""
    if args.weights:
        model, metadata = load_checkpoint(args.weights)
        return [(str(metadata.get("architecture") or "custom"), model.to(device).eval())]
    torch.manual_seed(0)
    return [(arch, build_model(arch).to(device).eval()) for arch in args.archs]


def main(argv: Sequence[str] | None = None) -> None:
    args = _parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    print(describe_machine(device))
    precisions = [p for p in args.precisions if is_supported(p, device)]
    skipped = sorted(set(args.precisions) - set(precisions))
    if skipped:
        print(f"not supported on {device} here, skipped: {', '.join(skipped)}")
    header = f"{'model':9} {'size':>5} {'flip':>5} {'variant':>7} {'format':>6} {'p50 s':>7}"
    print(f"{header} {'p90 s':>7} {'n':>4} {'x fast fp32':>11}")
    for arch, model in _models(args, device):
        variants = {"plain": model, "fast": fuse_for_inference(model)}
        for size in args.sizes:
            for flip in (False, True):
                times = {
                    (name, precision): time_clicks(
                        variants[name], size, flip, args.repeats, device, precision
                    )
                    for name in args.variants
                    for precision in precisions
                }
                reference = times.get(("fast", "fp32"))
                for (name, precision), row in times.items():
                    p50 = percentile(row, 50)
                    ratio = f"{percentile(reference, 50) / p50:11.2f}" if reference else ""
                    print(
                        f"{arch:9} {size:>5} {str(flip):>5} {name:>7} {precision:>6} "
                        f"{p50:7.3f} {percentile(row, 90):7.3f} {len(row):4d} {ratio}",
                        flush=True,
                    )
    print(describe_machine(device))


if __name__ == "__main__":
    main()
