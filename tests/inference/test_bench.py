"""The benchmark's click encoding and one-click pipeline (its timings are not tested)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from isegsat.inference import build_model
from isegsat.inference.precision import is_supported
from isegsat.inference.tools.bench import click_points, main, predict_once


def test_click_points_alternate_and_mirror() -> None:
    points = click_points(3, 40, 60, flip=True)
    assert points.shape == (2, 4, 3)
    positives, negatives = points[0, :2], points[0, 2:]
    assert (positives[:, 0] >= 0).all() and negatives[0, 0] >= 0 and negatives[1, 0] == -1
    valid = points[0, :, 0] >= 0
    assert torch.equal(points[1, valid, 1], 59 - points[0, valid, 1])
    assert torch.equal(points[1, ~valid], points[0, ~valid])


def test_flip_prediction_is_mirror_consistent() -> None:
    """Averaging with the mirrored pass makes the map of a mirrored scene the mirrored map."""
    torch.manual_seed(0)
    model = build_model("hrnet18s").eval()
    rgb = torch.rand(1, 3, 32, 48, generator=torch.Generator().manual_seed(1))
    prev = np.zeros((32, 48), dtype=np.float32)
    points = click_points(2, 32, 48, flip=True)
    mirrored_points = points.flip(0)
    with torch.inference_mode():
        prob = predict_once(model, rgb, prev, points)
        mirrored = predict_once(model, rgb.flip(-1), prev, mirrored_points)
    assert prob.shape == (32, 48) and prob.dtype == np.float32
    assert np.allclose(prob, mirrored[:, ::-1], atol=1e-5)


@pytest.mark.slow  # 30-80 s on a 2-core CPU: 12 settings, each with its own first passes
def test_main_prints_a_row_per_setting_and_format(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--archs", "hrnet18s", "--sizes", "33", "--repeats", "1", "--device", "cpu"])
    rows = [
        line.split() for line in capsys.readouterr().out.splitlines() if line.startswith("hrnet")
    ]
    formats = [p for p in ("fp32", "bf16", "fp16") if is_supported(p, torch.device("cpu"))]
    assert [(r[2], r[3], r[4]) for r in rows] == [
        (flip, variant, precision)
        for flip in ("False", "True")
        for variant in ("plain", "fast")
        for precision in formats
    ]
    assert all(float(r[5]) > 0 and float(r[8]) > 0 for r in rows)
    fast_fp32 = [r for r in rows if r[3:5] == ["fast", "fp32"]]
    assert all(float(r[8]) == 1.0 for r in fast_fp32)  # the ratio's reference is itself
