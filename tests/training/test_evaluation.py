"""evaluate_sample and the crop selection, with the real Predictor and real HRNet models."""

import dataclasses

import numpy as np
import pytest
import torch
from eval_fixtures import RedRoofOracle, aerial_crop, small_city_set, write_prepared_dir

from isegsat.inference import Click, Predictor, ZoomIn, build_model, next_click
from isegsat.resources.synth import generate_scene
from isegsat.training import SampleResult, evaluate_sample
from isegsat.training.evaluation import evaluate_without_clicks, select_crops
from isegsat.training.manifest import DataError, read_image, read_mask
from isegsat.training.metrics import iou, number_of_clicks


@pytest.fixture(scope="module")
def hrnet18s() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model("hrnet18s").eval()


@pytest.mark.parametrize("zoom", [True, False])
def test_random_hrnet_clicks_replay_the_evaluation_clicker(hrnet18s, zoom):
    scene = generate_scene(64, 64, seed=3, style="urban")
    image, gt = scene.image, scene.mask.astype(np.int32)

    def zoom_in():  # RITM's ZoomIn, resizing crops to 96 px instead of 400 to stay fast
        return ZoomIn(target_size=96) if zoom else False

    predictor = Predictor(hrnet18s, zoom_in=zoom_in(), flip=True, device="cpu")
    result = evaluate_sample(image, gt, predictor, max_clicks=4)

    assert isinstance(result, SampleResult)
    assert result.ious.shape == (4,)
    assert np.all((result.ious >= 0) & (result.ious <= 1))
    assert len(result.clicks) == 4
    assert result.seconds_per_click > 0
    first = result.clicks[0]
    assert first.is_positive and gt[first.y, first.x] == 1  # nothing predicted yet: a miss
    # Replaying the protocol click by click gives the same clicks and IoUs.
    replay = Predictor(hrnet18s, zoom_in=zoom_in(), flip=True, device="cpu")
    replay.set_image(image)
    pred_mask = np.zeros(gt.shape, dtype=bool)
    for k, click in enumerate(result.clicks):
        assert next_click(gt, pred_mask, result.clicks[:k]) == click
        pred_mask = replay.add_click(click.y, click.x, click.is_positive) > 0.49
        assert iou(gt, pred_mask) == pytest.approx(result.ious[k])


def test_sample_result_is_frozen(hrnet18s):
    image, gt = aerial_crop(seed=1, size=64)
    result = evaluate_sample(image, gt, Predictor(hrnet18s, device="cpu"), max_clicks=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.ious = np.zeros(1)


@pytest.mark.parametrize(("zoom_in", "flip"), [(True, True), (False, False)])
def test_perfect_model_needs_one_click(zoom_in, flip):
    for seed in range(3):
        image, gt = aerial_crop(seed=seed, size=64, buildings=2)
        predictor = Predictor(RedRoofOracle().eval(), zoom_in=zoom_in, flip=flip, device="cpu")
        result = evaluate_sample(image, gt, predictor, max_clicks=6)
        assert result.ious[0] == 1.0
        assert np.all(result.ious > 0.95)
        assert [number_of_clicks(result.ious, t) for t in (0.8, 0.85, 0.9)] == [1, 1, 1]
        # with nothing left to fix, RITM's clicker keeps clicking negatively at (0, 0)
        assert result.clicks[1:] == (Click(0, 0, False),) * 5


def test_bad_arguments_are_refused(hrnet18s):
    image, gt = aerial_crop(seed=1, size=64)
    predictor = Predictor(hrnet18s, device="cpu")
    with pytest.raises(ValueError, match="max_clicks"):
        evaluate_sample(image, gt, predictor, max_clicks=0)
    with pytest.raises(ValueError, match="does not match"):
        evaluate_sample(image, gt[:32], predictor)


def test_click_free_evaluation_of_a_perfect_model():
    image, gt = aerial_crop(seed=5, size=64)
    value, seconds = evaluate_without_clicks(image, gt, RedRoofOracle(), torch.device("cpu"))
    assert value == 1.0
    assert seconds > 0


def test_click_free_evaluation_of_an_hrnet_without_prev_mask():
    torch.manual_seed(0)
    model = build_model("hrnet18s", with_prev_mask=False).eval()
    image, gt = aerial_crop(seed=5, size=64)
    value, _ = evaluate_without_clicks(image, gt, model, torch.device("cpu"))
    assert 0.0 <= value <= 1.0


@pytest.fixture
def prepared(tmp_path):
    crops = small_city_set()
    return write_prepared_dir(tmp_path / "prepared", crops), crops


def test_selection_drops_and_counts_empty_crops(prepared):
    root, crops = prepared
    selection = select_crops(root, "test")
    assert [c.crop_id for c in selection.crops] == [
        "austin1_r0_c0",
        "austin2_r1_c0",
        "vienna3_r0_c0",
        "vienna3_r0_c1",
    ]
    assert selection.empty_dropped == {"austin": 1}
    first = selection.crops[0]
    np.testing.assert_array_equal(read_image(first.image), crops[0]["image"])
    np.testing.assert_array_equal(read_mask(first.mask), crops[0]["mask"])


def test_selection_limit_and_cities(prepared):
    root, _ = prepared
    limited = select_crops(root, "test", limit=2)
    assert [c.crop_id for c in limited.crops] == ["austin1_r0_c0", "austin2_r1_c0"]
    assert limited.empty_dropped == {"austin": 1}
    first_only = select_crops(root, "test", limit=1)
    assert [c.crop_id for c in first_only.crops] == ["austin1_r0_c0"]
    assert first_only.empty_dropped == {}
    vienna = select_crops(root, "test", cities=["vienna"])
    assert {c.city for c in vienna.crops} == {"vienna"}
    assert vienna.empty_dropped == {}


def test_selection_per_city_keeps_the_first_non_empty_crops_of_every_city(prepared):
    root, _ = prepared
    one_each = select_crops(root, "test", per_city=1)
    assert [c.crop_id for c in one_each.crops] == ["austin1_r0_c0", "vienna3_r0_c0"]
    two_each = select_crops(root, "test", per_city=2)
    assert [c.crop_id for c in two_each.crops] == [
        "austin1_r0_c0",
        "austin2_r1_c0",
        "vienna3_r0_c0",
        "vienna3_r0_c1",
    ]


def test_selection_errors_name_the_problem(prepared, tmp_path):
    root, _ = prepared
    with pytest.raises(DataError, match="no manifest"):
        select_crops(tmp_path / "nowhere", "test")
    with pytest.raises(DataError, match=r"unknown split 'val'.*'test', 'train'"):
        select_crops(root, "val")
    with pytest.raises(DataError, match=r"unknown cities \['paris'\]"):
        select_crops(root, "test", cities=["vienna", "paris"])
    (root / "masks" / "vienna3_r0_c1.png").unlink()
    with pytest.raises(DataError, match="vienna3_r0_c1: missing file"):
        select_crops(root, "test")
