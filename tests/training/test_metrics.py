"""RITM's NoC / >=K / AvgK IoU formulas and the object and relabel blocks, on hand-made IoUs."""

import math

import numpy as np
import pytest

from isegsat.training.metrics import (
    iou,
    metric_keys,
    noc_from_start,
    noc_matrix,
    number_of_clicks,
    per_click_gain,
    summarize_by_city,
    summarize_interactive,
    summarize_no_clicks,
    summarize_objects,
    summarize_relabel,
)

K = 20
# Three crops: solved at click 1; never reaches 0.80; reaches 0.85 exactly at the last click.
SOLVED_AT_ONCE = np.full(K, 0.95)
NEVER = np.full(K, 0.50)
LAST_CLICK = np.concatenate([np.full(K - 1, 0.70), [0.85]])


def test_contract_keys_for_twenty_clicks():
    assert metric_keys(20) == (
        "NoC20@80",
        "NoC20@85",
        "NoC20@90",
        ">=20@80",
        ">=20@90",
        "Avg20_IoU",
        "Avg20_IoU_std",
        "mean_IoU_over_clicks",
        "mIoU_per_click",
        "crops",
        "empty_dropped",
        "seconds_per_click",
    )


def test_iou_counts_object_pixels_and_skips_ignored_ones():
    gt = np.array([[1, 1, 0, 0], [1, 1, 0, -1]])
    pred = np.array([[1, 0, 1, 0], [1, 1, 0, 1]], dtype=bool)
    # object 4 px, prediction hits 3 of them, 1 false positive, the ignored pixel does not count
    assert iou(gt, pred) == pytest.approx(3 / 5)
    assert iou(gt, gt == 1) == 1.0
    assert math.isnan(iou(np.zeros((2, 2)), np.zeros((2, 2), dtype=bool)))
    with pytest.raises(ValueError, match="shape"):
        iou(gt, pred[:, :3])


@pytest.mark.parametrize(
    ("ious", "threshold", "expected"),
    [
        (SOLVED_AT_ONCE, 0.9, 1),
        (NEVER, 0.8, K),
        (LAST_CLICK, 0.8, K),
        (LAST_CLICK, 0.9, K),
        (np.array([0.1, 0.79, 0.80, 0.6, 0.95]), 0.8, 3),
        (np.array([0.1, 0.79, 0.80, 0.6, 0.95]), 0.9, 5),
    ],
)
def test_number_of_clicks(ious, threshold, expected):
    assert number_of_clicks(ious, threshold) == expected


def test_noc_matrix_rows_are_samples_columns_thresholds():
    nocs = noc_matrix(np.stack([SOLVED_AT_ONCE, NEVER, LAST_CLICK]))
    assert nocs.tolist() == [[1, 1, 1], [K, K, K], [K, K, K]]


def test_summary_follows_ritm_including_a_threshold_reached_at_the_last_click():
    all_ious = np.stack([SOLVED_AT_ONCE, NEVER, LAST_CLICK])
    block = summarize_interactive(all_ious, np.array([0.1, 0.2, 0.3]), empty_dropped=4)

    assert block["NoC20@80"] == pytest.approx((1 + 20 + 20) / 3)
    assert block["NoC20@85"] == pytest.approx((1 + 20 + 20) / 3)
    assert block["NoC20@90"] == pytest.approx((1 + 20 + 20) / 3)
    # the last-click crop reached 0.85 at click 20 and still counts in >=20, as in RITM
    assert block[">=20@80"] == pytest.approx(2 / 3)
    assert block[">=20@90"] == pytest.approx(2 / 3)
    after_twenty = np.array([0.95, 0.50, 0.85])
    assert block["Avg20_IoU"] == pytest.approx(after_twenty.mean())
    assert block["Avg20_IoU_std"] == pytest.approx(after_twenty.std())
    per_sample = np.array([0.95, 0.50, (19 * 0.70 + 0.85) / 20])
    assert block["mean_IoU_over_clicks"] == pytest.approx(per_sample.mean())
    assert len(block["mIoU_per_click"]) == K
    assert block["mIoU_per_click"][0] == pytest.approx((0.95 + 0.5 + 0.7) / 3)
    assert block["mIoU_per_click"][-1] == pytest.approx((0.95 + 0.5 + 0.85) / 3)
    assert block["crops"] == 3
    assert block["empty_dropped"] == 4
    assert block["seconds_per_click"] == pytest.approx(0.2)
    assert tuple(block) == metric_keys(K)


def test_avg20_is_the_iou_after_the_twentieth_click_not_the_mean_over_clicks():
    rising = np.linspace(0.0, 1.0, K)  # 0 after click 1 ... 1 after click 20
    flat = np.full(K, 0.6)
    block = summarize_interactive(np.stack([rising, flat]), np.array([0.1, 0.1]), 0)
    assert block["Avg20_IoU"] == pytest.approx(0.8)  # (1.0 + 0.6) / 2
    assert block["Avg20_IoU_std"] == pytest.approx(0.2)
    assert block["mean_IoU_over_clicks"] == pytest.approx((0.5 + 0.6) / 2)
    assert block["Avg20_IoU"] == pytest.approx(block["mIoU_per_click"][-1])


def test_avgk_keys_follow_the_number_of_clicks():
    block = summarize_interactive(np.array([[0.2, 0.4, 0.9]]), np.array([0.1]), 0)
    assert tuple(block) == metric_keys(3)
    assert (block["NoC3@90"], block["Avg3_IoU"]) == (3.0, pytest.approx(0.9))
    assert block["mean_IoU_over_clicks"] == pytest.approx(0.5)


def test_per_click_gain_starts_from_zero_and_can_be_negative():
    assert per_click_gain([0.5, 0.7, 0.65]) == pytest.approx([0.5, 0.2, -0.05])
    assert per_click_gain([0.5, 0.7], start=0.6) == pytest.approx([-0.1, 0.2])


def test_object_block_on_hand_made_sequences():
    ious = np.array(
        [
            [0.50, 0.82, 0.86, 0.91, 0.91, 0.91, 0.91, 0.91, 0.91, 0.91],  # 80 @2, 85 @3, 90 @4
            [0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95],  # all at click 1
            [0.10, 0.20, 0.30, 0.40, 0.50, 0.60, 0.70, 0.80, 0.80, 0.84],  # 80 @8, never 85
        ]
    )
    block = summarize_objects(ious, np.array([0.1, 0.2, 0.3]), crops=2, empty_dropped=1)
    assert tuple(block) == metric_keys(10, "object")
    assert block["NoC10@80"] == pytest.approx((2 + 1 + 8) / 3)
    assert block["NoC10@85"] == pytest.approx((3 + 1 + 10) / 3)
    assert block["NoC10@90"] == pytest.approx((4 + 1 + 10) / 3)
    assert block[">=10@85"] == pytest.approx(1 / 3)
    assert block["IoU@1"] == pytest.approx(np.mean([0.5, 0.95, 0.1]))
    assert block["IoU@1_std"] == pytest.approx(np.std([0.5, 0.95, 0.1]))
    assert block["IoU@3"] == pytest.approx(np.mean([0.86, 0.95, 0.3]))
    assert block["IoU@3_std"] == pytest.approx(np.std([0.86, 0.95, 0.3]))
    assert (block["objects"], block["crops"], block["empty_dropped"]) == (3, 2, 1)
    assert len(block["mIoU_per_click"]) == 10


def test_object_block_with_fewer_clicks_than_three_has_no_iou_after_three():
    block = summarize_objects(np.array([[0.5, 0.9]]), np.array([0.1]), 1, 0)
    assert block["IoU@1"] == 0.5
    assert block["IoU@3"] is None and block["IoU@3_std"] is None


def test_relabel_block_on_hand_made_sequences():
    start = np.array([0.70, 0.90])
    ious = np.array(
        [
            [0.60, 0.80, 0.88, 0.95],  # click 1 lowers the IoU, 85 reached at click 3
            [0.92, 0.91, 0.93, 0.93],  # click 2 lowers it; the label already reaches 0.85/0.90
        ]
    )
    block = summarize_relabel(start, ious, np.array([0.1, 0.3]), empty_dropped=0)
    assert tuple(block) == metric_keys(4, "relabel")
    assert block["IoU@0"] == pytest.approx(0.80)
    assert block["IoU@0_std"] == pytest.approx(0.10)
    assert block["IoU@4"] == pytest.approx(0.94)
    assert block["IoU_gain@3"] == pytest.approx((0.88 + 0.93) / 2 - 0.80)
    assert block["min_gain_over_clicks"] == pytest.approx((0.60 + 0.92) / 2 - 0.80)
    assert block["worsening_click_share"] == pytest.approx(2 / 8)
    assert block["NoC4@85"] == pytest.approx((3 + 0) / 2)
    assert block["NoC4@90"] == pytest.approx((4 + 0) / 2)
    assert block["mIoU_per_click"] == pytest.approx([0.76, 0.855, 0.905, 0.94])
    with pytest.raises(ValueError, match="one starting IoU per sample"):
        summarize_relabel(start[:1], ious, np.array([0.1, 0.3]), 0)


def test_noc_from_start_counts_zero_for_a_label_already_good_enough():
    assert noc_from_start(0.9, np.array([0.5, 0.95]), 0.85) == 0
    assert noc_from_start(0.5, np.array([0.5, 0.95]), 0.85) == 2
    assert noc_from_start(0.5, np.array([0.5, 0.6]), 0.85) == 2


def test_unknown_protocol_is_refused():
    with pytest.raises(ValueError, match="unknown protocol"):
        metric_keys(10, "lasso")


def test_summary_rejects_a_flat_iou_list():
    with pytest.raises(ValueError, match=r"\(S, K\)"):
        summarize_interactive(np.array([0.5, 0.6]), np.array([0.1]), 0)


def test_baseline_block_has_iou_and_no_click_metrics():
    block = summarize_no_clicks(np.array([0.6, 0.8]), np.array([0.01, 0.03]), 1, max_clicks=K)
    assert tuple(block) == metric_keys(K)
    assert block["Avg20_IoU"] == pytest.approx(0.7)
    assert block["Avg20_IoU_std"] == pytest.approx(0.1)
    assert block["NoC20@80"] is None
    assert block[">=20@90"] is None
    assert block["mIoU_per_click"] is None
    assert (block["crops"], block["empty_dropped"]) == (2, 1)


def test_model_summary_splits_by_city_and_keeps_cities_with_only_empty_crops():
    all_ious = np.stack([SOLVED_AT_ONCE, NEVER, LAST_CLICK])
    seconds = np.array([0.1, 0.2, 0.3])
    metrics = summarize_by_city(
        ["vienna", "austin", "austin"],
        {"austin": 1, "kitsap": 2},
        lambda rows, dropped: summarize_interactive(all_ious[rows], seconds[rows], dropped),
    )
    assert list(metrics["per_city"]) == ["austin", "kitsap", "vienna"]
    austin = metrics["per_city"]["austin"]
    assert (austin["crops"], austin["empty_dropped"], austin["NoC20@80"]) == (2, 1, 20.0)
    assert metrics["per_city"]["vienna"]["NoC20@90"] == 1.0
    kitsap = metrics["per_city"]["kitsap"]
    assert (kitsap["crops"], kitsap["empty_dropped"], kitsap["NoC20@80"]) == (0, 2, None)
    assert kitsap["mIoU_per_click"] is None
    overall = metrics["overall"]
    assert (overall["crops"], overall["empty_dropped"]) == (3, 3)
    assert overall["NoC20@80"] == pytest.approx(41 / 3)
