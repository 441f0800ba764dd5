"""The bundled default model loads through the public API and segments a generated scene."""

import numpy as np
import pytest

from isegsat import resources
from isegsat.inference import Predictor, load_checkpoint, load_model, next_click
from isegsat.resources.synth import generate_scene

pytestmark = pytest.mark.skipif(
    resources.bundled_model_path() is None, reason="bundled weights not installed"
)


def test_bundled_checkpoint_is_an_hrnet18s_with_its_card_metadata() -> None:
    model, metadata = load_checkpoint(resources.bundled_model_path())
    assert metadata["architecture"] == "hrnet18s"
    assert metadata["interactive"] is True
    assert metadata["recipe"] == "resources/reproduce_default_model.sh"
    assert sum(p.numel() for p in model.parameters()) == 4_220_047


@pytest.mark.parametrize(("style", "seed"), [("urban", 11), ("suburban", 12)])
def test_three_clicks_on_a_generated_tile_segment_its_buildings(style: str, seed: int) -> None:
    """Tile mode on an unseen generated 256² scene (seeds outside the training tiles)."""
    scene = generate_scene(256, 256, seed=seed, style=style)
    gt = scene.mask.astype(bool)
    predictor = Predictor(load_model(resources.bundled_model_path(), device="cpu"))
    predictor.set_image(scene.image)
    mask = np.zeros_like(gt)
    clicks, ious = [], []
    for _ in range(3):
        click = next_click(gt, mask, clicks)
        clicks.append(click)
        mask = predictor.add_click(click.y, click.x, click.is_positive) > 0.49
        ious.append((mask & gt).sum() / (mask | gt).sum())
    assert clicks[0].is_positive and mask[clicks[0].y, clicks[0].x]
    assert ious[0] > 0.7, f"IoU after one click {ious[0]:.2f}"
    assert ious[-1] > 0.85, f"IoU after three clicks {ious[-1]:.2f}"
