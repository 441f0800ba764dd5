"""The object and relabel protocols on tiny generated masks and crops, with test-double models."""

import numpy as np
import pytest
from eval_fixtures import (
    PrevMaskEcho,
    RedRoofOracle,
    aerial_crop,
    real_set_crops,
    write_prepared_dir,
)

from isegsat.inference import Predictor, next_click
from isegsat.training.evaluation import ModelEvaluation, crop_rng, evaluate_sample, select_crops
from isegsat.training.label_noise import perturb_label
from isegsat.training.manifest import read_mask
from isegsat.training.metrics import iou, metric_keys
from isegsat.training.object_protocol import MIN_WINDOW, evaluate_crops_objects, object_windows
from isegsat.training.relabel_protocol import evaluate_crops_relabel, starting_label


def three_buildings_and_a_speck() -> np.ndarray:
    """100x120 mask: a 10x10 house near the corner, a 30x20 house, two 9x9 roofs touching at a
    corner (one 8-connected building of 162 px) and a 5x5 speck (25 px, below the 80 px rule)."""
    mask = np.zeros((100, 120), dtype=np.int32)
    mask[2:12, 3:13] = 1
    mask[50:80, 60:80] = 1
    mask[20:29, 90:99] = 1
    mask[29:38, 99:108] = 1
    mask[90:95, 10:15] = 1
    return mask


def test_one_window_per_building_about_three_times_its_size_clipped_to_the_crop():
    mask = three_buildings_and_a_speck()
    windows = object_windows(mask)

    assert [w.object_id for w in windows] == [0, 1, 2]  # the speck is skipped
    corner, diagonal, large = windows  # component labels follow raster order
    for window in windows:
        assert window.target.shape == (window.box.height, window.box.width)
        assert window.target.dtype == np.int32
    # the 10x10 house: a 64 px window (3 x 10 < 64) centred on it, cut by the top-left corner
    assert (corner.box.row, corner.box.col) == (0, 0)
    assert corner.box.last_row in (38, 39) and corner.box.last_col in (39, 40)
    assert corner.target.sum() == 100
    # the two touching roofs are one building of 18x18 -> a 54 px square would be < 64: 64 px
    assert diagonal.target.sum() == 162
    # rows 20..37, columns 90..107: centred 64 px square, clipped at the top and the right
    assert (diagonal.box.row, diagonal.box.last_col) == (0, 119)
    assert diagonal.box.last_row in (60, 61) and diagonal.box.col in (66, 67)
    # the 30x20 house: a 90 px square centred on it, clipped at the bottom
    assert large.target.sum() == 600
    assert large.box.last_row == 99
    assert 90 <= large.box.width <= 91
    centre_col = 0.5 * (large.box.col + large.box.last_col)
    assert centre_col == pytest.approx(69.5, abs=1)
    # other buildings inside a window are background in its target
    assert large.box.row <= 37 and large.box.last_col >= 99
    assert large.target.sum() == np.count_nonzero(mask[50:80, 60:80])


def test_window_never_below_the_minimum_when_the_crop_allows_it():
    mask = np.zeros((200, 200), dtype=np.int32)
    mask[95:105, 95:105] = 1
    (window,) = object_windows(mask)
    assert MIN_WINDOW <= window.box.height <= MIN_WINDOW + 1
    assert MIN_WINDOW <= window.box.width <= MIN_WINDOW + 1


def test_buildings_per_crop_are_capped_by_a_seeded_choice():
    mask = np.zeros((60, 200), dtype=np.int32)
    for i in range(6):
        mask[20:32, 10 + 30 * i : 22 + 30 * i] = 1
    picked = [w.object_id for w in object_windows(mask, 2, crop_rng(0, "a_r0_c0"))]
    assert len(picked) == 2 and picked == sorted(picked)
    assert picked == [w.object_id for w in object_windows(mask, 2, crop_rng(0, "a_r0_c0"))]
    choices = {
        tuple(w.object_id for w in object_windows(mask, 2, crop_rng(seed, "a_r0_c0")))
        for seed in range(8)
    }
    assert len(choices) > 1
    assert len(object_windows(mask, 10, None)) == 6
    with pytest.raises(ValueError, match="rng"):
        object_windows(mask, 2, None)


@pytest.fixture
def real_set(tmp_path):
    crops = real_set_crops("dubai_hitl", [(40, 56), (48, 48), (56, 44), (48, 48)])
    return write_prepared_dir(tmp_path / "dubai", crops)


def test_object_protocol_scores_the_clicked_building_as_object_mode_shows_it(real_set):
    selection = select_crops(real_set, "val")
    predictor = Predictor(RedRoofOracle().eval(), zoom_in=True, flip=True, device="cpu")
    shown = evaluate_crops_objects(selection.crops, predictor, max_clicks=3, max_objects=2)
    whole = evaluate_crops_objects(
        selection.crops, predictor, max_clicks=3, max_objects=2, whole_prediction=True
    )

    # the oracle paints every roof; object mode keeps the roof under the positive click only,
    # so each building is exact from the first click, neighbours in its window or not
    assert [r.object_id for r in shown] == [r.object_id for r in whole]
    np.testing.assert_allclose([r.ious for r in shown], 1.0)
    with_neighbours = [r for r in whole if r.ious[0] < 1.0]
    assert with_neighbours  # some windows hold another building: the two scores differ there


def test_object_protocol_scores_each_building_alone_in_its_window(real_set):
    selection = select_crops(real_set, "val")
    predictor = Predictor(RedRoofOracle().eval(), zoom_in=True, flip=True, device="cpu")
    results = evaluate_crops_objects(
        selection.crops, predictor, max_clicks=3, max_objects=2, whole_prediction=True
    )

    assert results
    for crop in selection.crops:
        gt = read_mask(crop.mask)
        windows = object_windows(gt, 2, crop_rng(0, crop.crop_id))
        mine = [r for r in results if r.crop_id == crop.crop_id]
        assert [r.object_id for r in mine] == [w.object_id for w in windows]
        for window, result in zip(windows, mine, strict=True):
            assert result.ious.shape == (3,)
            # the oracle paints every roof: other buildings in the window count as errors
            every_roof = gt[window.box.slices] == 1
            assert result.ious[0] == pytest.approx(iou(window.target, every_roof))
    evaluation = ModelEvaluation("oracle", True, 3, tuple(results), {}, "object")
    metrics = evaluation.metrics()
    overall = metrics["overall"]
    assert metrics["protocol"] == "object"
    assert tuple(overall) == metric_keys(3, "object")
    assert overall["IoU@1"] == pytest.approx(np.mean([r.ious[0] for r in results]))
    assert overall["objects"] == len(results)
    assert overall["crops"] == len({r.crop_id for r in results})


def test_starting_label_is_a_seeded_perturbation_of_the_truth():
    _, gt = aerial_crop(seed=4, size=64, buildings=3)
    label = starting_label(gt, 7, "x_r0_c0")
    expected = perturb_label(gt == 1, crop_rng(7, "x_r0_c0"))
    np.testing.assert_array_equal(label, expected)
    np.testing.assert_array_equal(label, starting_label(gt, 7, "x_r0_c0"))
    assert any(not np.array_equal(label, starting_label(gt, s, "x_r0_c0")) for s in range(8))


def test_the_predictor_and_the_clicker_start_from_the_given_mask():
    image, gt = aerial_crop(seed=2, size=64, buildings=2)
    label = starting_label(gt, 0, "c_r0_c0")
    predictor = Predictor(PrevMaskEcho().eval(), zoom_in=False, flip=False, device="cpu")
    result = evaluate_sample(image, gt, predictor, max_clicks=2, start_mask=label)
    # the echo model returns the previous mask: after click 1 the prediction is the label itself
    assert result.ious[0] == pytest.approx(iou(gt, label.astype(bool)))
    assert result.clicks[0] == next_click(gt, label.astype(bool))


def test_relabel_protocol_end_to_end_reports_the_starting_iou(real_set):
    selection = select_crops(real_set, "val")
    predictor = Predictor(RedRoofOracle().eval(), zoom_in=True, flip=True, device="cpu")
    results = evaluate_crops_relabel(selection.crops, predictor, max_clicks=3, seed=5)

    assert [r.crop_id for r in results] == [c.crop_id for c in selection.crops]
    for crop, result in zip(selection.crops, results, strict=True):
        gt = read_mask(crop.mask)
        assert result.start_iou == pytest.approx(
            iou(gt, starting_label(gt, 5, crop.crop_id).astype(bool))
        )
        assert result.ious[0] == 1.0  # the oracle ignores the label: one click fixes it
    again = evaluate_crops_relabel(selection.crops, predictor, max_clicks=3, seed=5)
    assert [r.start_iou for r in again] == [r.start_iou for r in results]

    overall = ModelEvaluation("oracle", True, 3, tuple(results), {}, "relabel").metrics()
    block = overall["overall"]
    assert overall["protocol"] == "relabel"
    assert tuple(block) == metric_keys(3, "relabel")
    assert block["IoU@0"] == pytest.approx(np.mean([r.start_iou for r in results]))
    assert block["IoU_gain@3"] == pytest.approx(1.0 - block["IoU@0"])
    assert block["worsening_click_share"] == 0.0
    assert list(overall["per_city"]) == ["dubai_hitl"]


def test_a_model_without_clicks_has_no_object_or_relabel_protocol():
    with pytest.raises(ValueError, match="needs an interactive model"):
        ModelEvaluation("baseline", False, 10, (), {}, "relabel")
    with pytest.raises(ValueError, match="unknown protocol"):
        ModelEvaluation("m", True, 10, (), {}, "lasso")
