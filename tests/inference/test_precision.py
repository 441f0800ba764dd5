"""Reduced-precision inference: format checks, the auto choice, and bf16 maps close to fp32."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from isegsat.inference import Predictor, build_model
from isegsat.inference.precision import check_precision, is_supported, resolve_precision

CPU = torch.device("cpu")
needs_cpu_bf16 = pytest.mark.skipif(
    not is_supported("bf16", CPU), reason="this CPU has no AVX-512 BF16/AMX"
)


def _sleeper(seconds: dict[str, float]):
    """A run_pass whose passes take the given seconds per format (and records the formats)."""
    calls: list[str] = []

    def run_pass(precision: str) -> None:
        calls.append(precision)
        time.sleep(seconds[precision])

    return run_pass, calls


def test_unknown_and_unsupported_formats_are_refused_with_a_way_out() -> None:
    with pytest.raises(ValueError, match="one of auto, fp32, bf16, fp16"):
        check_precision("int4", CPU)
    unsupported = [p for p in ("bf16", "fp16") if not is_supported(p, CPU)]
    for precision in unsupported:
        with pytest.raises(ValueError, match="use --precision fp32 or auto"):
            check_precision(precision, CPU)


def test_explicit_formats_are_kept_without_timing() -> None:
    run_pass, calls = _sleeper({"fp32": 0.0, "bf16": 0.0})
    assert resolve_precision("fp32", CPU, run_pass) == "fp32"
    assert calls == []


@needs_cpu_bf16
def test_auto_keeps_the_format_that_is_faster_here() -> None:
    slow_bf16, calls = _sleeper({"fp32": 0.001, "bf16": 0.02})
    assert resolve_precision("auto", CPU, slow_bf16) == "fp32"
    assert calls.count("fp32") == calls.count("bf16") == 3  # one untimed + two timed each
    fast_bf16, _ = _sleeper({"fp32": 0.02, "bf16": 0.001})
    assert resolve_precision("auto", CPU, fast_bf16) == "bf16"


@needs_cpu_bf16
def test_bf16_maps_are_float32_and_close_to_fp32() -> None:
    torch.manual_seed(0)
    model = build_model("hrnet18s").eval()
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 255, size=(64, 80, 3), dtype=np.uint8)
    maps = {}
    for precision in ("fp32", "bf16"):
        predictor = Predictor(model, zoom_in=False, flip=True, device="cpu", precision=precision)
        assert predictor.precision == precision
        predictor.set_image(rgb)
        predictor.add_click(30, 40, True)
        maps[precision] = predictor.add_click(10, 12, False)
    assert maps["bf16"].dtype == np.float32
    assert not np.array_equal(maps["bf16"], maps["fp32"])  # the reduced format really ran
    assert np.abs(maps["bf16"] - maps["fp32"]).max() < 0.05
