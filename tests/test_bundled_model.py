"""The bundled default model loads through the public API and segments a generated scene."""

import numpy as np
import pytest

from isegsat import resources
from isegsat.inference import Predictor, load_checkpoint, load_model, next_click
from isegsat.training.synth import generate_scene

pytestmark = pytest.mark.skipif(
    resources.bundled_model_path() is None, reason="bundled weights not installed"
)


def test_bundled_checkpoint_is_an_hrnet18s_with_its_card_metadata() -> None:
    model, metadata = load_checkpoint(resources.bundled_model_path())
    assert metadata["architecture"] == "hrnet18s"
    assert metadata["interactive"] is True
    assert metadata["recipe"] == "resources/reproduce_default_model.sh"
    assert sum(p.numel() for p in model.parameters()) == 4_220_047


def test_one_click_on_a_generated_scene_finds_its_buildings() -> None:
    scene = generate_scene(256, 256, seed=11, style="urban")
    gt = scene.mask.astype(bool)
    predictor = Predictor(load_model(resources.bundled_model_path(), device="cpu"))
    predictor.set_image(scene.image)
    click = next_click(gt, np.zeros_like(gt))
    assert click.is_positive
    mask = predictor.add_click(click.y, click.x, click.is_positive) > 0.49
    assert mask[click.y, click.x]
    iou = (mask & gt).sum() / (mask | gt).sum()
    assert iou > 0.5, f"IoU after one click {iou:.2f}"
