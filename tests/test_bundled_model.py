"""The bundled default model loads through the public API and segments buildings: a generated
scene, and a real image it never trained on (skipped without ../shared/data)."""

from pathlib import Path

import cv2
import numpy as np
import pytest
import rasterio
from fakes.scenes import write_scene_raster

from isegsat import resources
from isegsat.app.prelabel_cli import main as prelabel
from isegsat.inference import PRED_THRESHOLD, Predictor, load_checkpoint, load_model, next_click
from isegsat.resources.synth import generate_scene

pytestmark = pytest.mark.skipif(
    resources.bundled_model_path() is None, reason="bundled weights not installed"
)
REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real_buildings"
# A crowdai image of the model's val split (every 5th image of the set): never trained on.
REAL_VAL_IMAGE = ("crowdai", "train_000000151221")
# Measured with the shipped models (default / tile-mode): generated urban 0.43 / 0.53 after one
# click and 0.81 / 0.90 after three, suburban 0.21 / 0.34 and 0.57 / 0.77; the real image 0.55 /
# 0.72 after five clicks (every-pixel IoU 0.22).
GENERATED_ONE_CLICK, GENERATED_THREE_CLICKS, REAL_FIVE_CLICKS = 0.15, 0.45, 0.5
# Both interactive models run tile mode's protocol: the default (the app's object-mode model,
# and tile mode's with another checkpoint) and its tile-mode companion.
MODELS = pytest.mark.parametrize(
    "checkpoint", [resources.bundled_model_path, resources.bundled_tile_model_path]
)


def _tile_protocol(
    image: np.ndarray, truth: np.ndarray, clicks: int, checkpoint=resources.bundled_model_path
) -> list[float]:
    """IoU after each of ``clicks`` evaluation-clicker clicks (tile mode: every building) of
    the bundled model ``checkpoint()`` names."""
    predictor = Predictor(load_model(checkpoint(), device="cpu"))
    predictor.set_image(image)
    mask, made, ious = np.zeros_like(truth), [], []
    for _ in range(clicks):
        click = next_click(truth, mask, made)
        made.append(click)
        mask = predictor.add_click(click.y, click.x, click.is_positive) > PRED_THRESHOLD
        ious.append(float((mask & truth).sum() / (mask | truth).sum()))
    return ious


@MODELS
def test_bundled_checkpoint_is_an_hrnet18s_with_its_card_metadata(checkpoint) -> None:
    model, metadata = load_checkpoint(checkpoint())
    assert metadata["architecture"] == "hrnet18s"
    assert metadata["interactive"] is True
    assert metadata["recipe"] == "resources/reproduce_default_model.sh"
    assert "non-commercial" in metadata["licences"]
    assert sum(p.numel() for p in model.parameters()) == 4_220_047


@MODELS
@pytest.mark.parametrize(("style", "seed"), [("urban", 11), ("suburban", 12)])
def test_three_clicks_on_a_generated_tile_segment_its_buildings(
    style: str, seed: int, checkpoint
) -> None:
    """Tile mode on an unseen generated 256² scene (seeds outside the training tiles)."""
    scene = generate_scene(256, 256, seed=seed, style=style)
    ious = _tile_protocol(scene.image, scene.mask.astype(bool), 3, checkpoint)
    assert ious[0] > GENERATED_ONE_CLICK, f"IoU after one click {ious[0]:.2f}"
    assert ious[-1] > GENERATED_THREE_CLICKS, f"IoU after three clicks {ious[-1]:.2f}"


@MODELS
@pytest.mark.skipif(not REAL.is_dir(), reason="../shared/data/real_buildings is absent")
def test_a_real_image_is_segmented_better_than_chance(checkpoint) -> None:
    folder, stem = REAL_VAL_IMAGE
    image = cv2.cvtColor(
        cv2.imread(str(REAL / folder / "images" / f"{stem}.jpg")), cv2.COLOR_BGR2RGB
    )
    truth = cv2.imread(str(REAL / folder / "gt" / f"{stem}.png"), cv2.IMREAD_GRAYSCALE) > 0
    ious = _tile_protocol(image, truth, 5, checkpoint)
    chance = truth.mean()  # IoU of calling every pixel a building
    assert ious[-1] > max(REAL_FIVE_CLICKS, 2 * chance), f"IoU after five clicks {ious[-1]:.2f}"


def test_the_bundled_pre_labeller_drafts_a_generated_scene_without_weights(tmp_path) -> None:
    """`isegsat-prelabel` with no --weights runs the bundled baseline; on unseen generated 256²
    scenes its draft overlaps the buildings (IoU 0.44-0.71 measured on four seeds)."""
    _, metadata = load_checkpoint(resources.bundled_prelabel_model_path())
    assert metadata["interactive"] is False and metadata["preset"] == "baseline"
    scene = generate_scene(256, 256, seed=101, style="urban")
    image = write_scene_raster(tmp_path / "scene.tif", scene.image.transpose(2, 0, 1))
    out = tmp_path / "draft.tif"
    assert prelabel([str(image), "--out", str(out), "--device", "cpu", "--quiet"]) == 0
    with rasterio.open(out) as draft:
        drafted = draft.read(1) > 0
    truth = scene.mask.astype(bool)
    assert (drafted & truth).sum() / (drafted | truth).sum() > 0.3
