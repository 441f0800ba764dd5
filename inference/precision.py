"""The number format a model runs in: fp32, or bf16/fp16 autocast where the hardware has it.

``fp32`` is the reference. ``bf16`` and ``fp16`` run the model under ``torch.autocast``
(convolutions and matrix products in the reduced format, softmax and reductions in fp32); the
logits come back as fp32. ``auto`` picks, per device:

- CUDA: ``bf16`` where the GPU has it (Ampere and later), else ``fp16``;
- CPU: ``bf16`` only where oneDNN has a bf16 kernel for this CPU (AVX-512 BF16 or AMX) *and* a
  timed pass shows it faster than fp32 on this machine; else ``fp32``.

How exact the reduced formats are for a given model is measured on real data by
``isegsat-eval --precision fp32 bf16`` (README, "Click latency").
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # torch loads on first use: the app's --help lists PRECISIONS without it
    import torch

Precision = Literal["fp32", "bf16", "fp16"]
PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16", "fp16")


def is_supported(precision: Precision, device: torch.device) -> bool:
    """True when ``device`` runs ``precision`` natively (fp32 always)."""
    import torch

    if precision == "fp32":
        return True
    if device.type == "cuda":
        return precision == "fp16" or torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        check = {
            "bf16": torch.ops.mkldnn._is_mkldnn_bf16_supported,
            "fp16": torch.ops.mkldnn._is_mkldnn_fp16_supported,
        }[precision]
        return bool(check())
    return False


def check_precision(precision: str, device: torch.device) -> None:
    """Raise ValueError, naming what to use instead, for an unknown or unsupported format."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision != "auto" and not is_supported(precision, device):
        raise ValueError(
            f"{precision} is not supported on {device} here (the CPU needs AVX-512 BF16/AMX for "
            "bf16, AVX-512 FP16/AMX for fp16); use --precision fp32 or auto"
        )


@contextlib.contextmanager
def autocast(precision: Precision, device: torch.device) -> Iterator[None]:
    """Run the block in ``precision``: a no-op for fp32, else ``torch.autocast`` to it."""
    import torch

    if precision == "fp32":
        yield
        return
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    with torch.autocast(device.type, dtype=dtype):
        yield


def resolve_precision(
    requested: str, device: torch.device, run_pass: Callable[[Precision], None]
) -> Precision:
    """The concrete format for ``requested`` on ``device``.

    ``run_pass(precision)`` runs one representative forward pass in that format; ``auto`` on a
    bf16-capable CPU times two of each (after one untimed pass) and keeps the faster.
    """
    check_precision(requested, device)
    if requested != "auto":
        return requested  # type: ignore[return-value]
    if device.type == "cuda":
        return "bf16" if is_supported("bf16", device) else "fp16"
    if device.type != "cpu" or not is_supported("bf16", device):
        return "fp32"
    seconds = {p: _best_of(run_pass, p, repeats=2) for p in ("fp32", "bf16")}
    return "bf16" if seconds["bf16"] < seconds["fp32"] else "fp32"


def _best_of(run_pass: Callable[[Precision], None], precision: Precision, repeats: int) -> float:
    run_pass(precision)  # kernel selection and allocations are not the format's speed
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run_pass(precision)
        times.append(time.perf_counter() - start)
    return min(times)
