"""The benchmark's click encoding and one-click pipeline (its timings are not tested)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from isegsat.inference import build_model
from isegsat.inference.bench import click_points, main, predict_once


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


def test_main_prints_a_row_per_setting(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--archs", "hrnet18s", "--sizes", "33", "--repeats", "1", "--device", "cpu"])
    rows = [
        line.split() for line in capsys.readouterr().out.splitlines() if line.startswith("hrnet")
    ]
    assert [(r[2], r[3]) for r in rows] == [
        ("False", "plain"),
        ("False", "fast"),
        ("True", "plain"),
        ("True", "fast"),
    ]
    assert all(float(r[4]) > 0 for r in rows)
