"""Interactive-segmentation metrics as RITM computes them (isegm/inference/utils.py).

A sample's IoU sequence is the (K,) float array of IoUs after clicks 1..K, K = max_clicks.

- NoC@t (number of clicks): 1 + the index of the first IoU >= t, or K when no IoU reaches t.
  Averaged over samples it is "NoC20@80" etc. for K = 20.
- >=K@t: the share (0..1) of samples whose NoC@t equals K. Like RITM (``noc == max_clicks``) this
  includes a sample that reaches t exactly at click K. RITM prints the count; the study reports the
  share (0.135 in its Table 1), so the share is reported here.
- AvgK IoU: per sample, the mean of its K IoUs; then mean and population std (ddof=0) over samples.
- mIoU per click: the mean over samples of the IoU after click k, k = 1..K (the study's Figure 7
  curve); the per-click gain is its first difference, the gain of click 1 measured from IoU 0.
- seconds per click: total evaluation time / total clicks (RITM's ``get_time_metrics``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

IOU_THRESHOLDS = (0.80, 0.85, 0.90)
OVER_MAX_THRESHOLDS = (0.80, 0.90)


def iou(gt_mask: np.ndarray, pred_mask: np.ndarray, ignore_label: int = -1) -> float:
    """IoU of ``pred_mask`` with the object (``gt_mask == 1``), ignoring ``ignore_label`` pixels.

    gt_mask: HxW int/bool (1 object, ``ignore_label`` ignored, anything else background);
    pred_mask: HxW bool. Returns NaN when neither mask covers a counted pixel (RITM divides 0 by 0).
    """
    gt = np.asarray(gt_mask)
    pred = np.asarray(pred_mask, dtype=bool)
    if gt.shape != pred.shape:
        raise ValueError(f"gt_mask {gt.shape} and pred_mask {pred.shape} differ in shape")
    counted = gt != ignore_label
    obj = gt == 1
    intersection = np.count_nonzero(pred & obj & counted)
    union = np.count_nonzero((pred | obj) & counted)
    return intersection / union if union else float("nan")


def number_of_clicks(ious: np.ndarray, threshold: float, max_clicks: int | None = None) -> int:
    """Clicks needed to reach IoU >= ``threshold``: 1-based index of the first such IoU, else K.

    ious: (K,) IoU after each click; ``max_clicks`` defaults to K = len(ious).
    """
    ious = np.asarray(ious, dtype=np.float64)
    cap = len(ious) if max_clicks is None else max_clicks
    reached = np.flatnonzero(ious >= threshold)
    return int(reached[0]) + 1 if reached.size else cap


def noc_matrix(all_ious: np.ndarray, thresholds: Sequence[float] = IOU_THRESHOLDS) -> np.ndarray:
    """(S, T) int NoC of each of S samples at each threshold; ``all_ious`` is (S, K)."""
    all_ious = _as_ious_matrix(all_ious)
    return np.array(
        [[number_of_clicks(row, t) for t in thresholds] for row in all_ious], dtype=np.int64
    ).reshape(len(all_ious), len(thresholds))


def per_click_gain(miou_per_click: np.ndarray) -> np.ndarray:
    """(K,) gain in mean IoU brought by each click; click 1's gain is its mIoU (from IoU 0)."""
    return np.diff(np.asarray(miou_per_click, dtype=np.float64), prepend=0.0)


def metric_keys(max_clicks: int) -> tuple[str, ...]:
    """The keys of one metrics block, in report order (names carry K, "20" by default)."""
    k = max_clicks
    return (
        *(f"NoC{k}@{_pct(t)}" for t in IOU_THRESHOLDS),
        *(f">={k}@{_pct(t)}" for t in OVER_MAX_THRESHOLDS),
        f"Avg{k}_IoU",
        f"Avg{k}_IoU_std",
        "mIoU_per_click",
        "crops",
        "empty_dropped",
        "seconds_per_click",
    )


def summarize_interactive(
    all_ious: np.ndarray, seconds_per_click: np.ndarray, empty_dropped: int
) -> dict[str, object]:
    """Metrics block of S samples evaluated with clicks: ``all_ious`` (S, K), seconds (S,)."""
    all_ious = _as_ious_matrix(all_ious)
    k = all_ious.shape[1]
    nocs = noc_matrix(all_ious, IOU_THRESHOLDS)
    per_sample_avg = all_ious.mean(axis=1)
    block: dict[str, object] = {}
    for column, t in enumerate(IOU_THRESHOLDS):
        block[f"NoC{k}@{_pct(t)}"] = _mean(nocs[:, column])
    for t in OVER_MAX_THRESHOLDS:
        block[f">={k}@{_pct(t)}"] = _mean(nocs[:, IOU_THRESHOLDS.index(t)] == k)
    block[f"Avg{k}_IoU"] = _mean(per_sample_avg)
    block[f"Avg{k}_IoU_std"] = _std(per_sample_avg)
    block["mIoU_per_click"] = [float(v) for v in all_ious.mean(axis=0)] if len(all_ious) else None
    block["crops"] = len(all_ious)
    block["empty_dropped"] = int(empty_dropped)
    block["seconds_per_click"] = _mean(seconds_per_click)
    return block


def summarize_no_clicks(
    ious: np.ndarray, seconds_per_forward: np.ndarray, empty_dropped: int, max_clicks: int
) -> dict[str, object]:
    """Metrics block of a non-interactive baseline: one IoU per sample, (S,), without clicks.

    Its IoU fills ``AvgK_IoU`` ± std; click-based entries (NoC, >=K, mIoU per click) are None;
    ``seconds_per_click`` holds the seconds per forward pass.
    """
    ious = np.asarray(ious, dtype=np.float64).reshape(-1)
    block: dict[str, object] = dict.fromkeys(metric_keys(max_clicks))
    block[f"Avg{max_clicks}_IoU"] = _mean(ious)
    block[f"Avg{max_clicks}_IoU_std"] = _std(ious)
    block["crops"] = len(ious)
    block["empty_dropped"] = int(empty_dropped)
    block["seconds_per_click"] = _mean(seconds_per_forward)
    return block


def summarize_model(
    ious: Sequence[np.ndarray],
    seconds_per_click: Sequence[float],
    cities: Sequence[str],
    empty_dropped: Mapping[str, int],
    interactive: bool,
    max_clicks: int,
) -> dict[str, object]:
    """{"overall": block, "per_city": {city: block}} for one model.

    ious[i]: sample i's (K,) IoU sequence, or (1,) its click-free IoU when not ``interactive``;
    seconds_per_click[i], cities[i]: its timing and city; empty_dropped: empty crops per city.
    Cities whose crops were all empty still get a block (0 crops). Cities are sorted by name.
    """
    cities_array = np.asarray(cities, dtype=object)
    width = max_clicks if interactive else 1
    matrix = np.asarray(ious, dtype=np.float64).reshape(len(cities_array), width)
    seconds = np.asarray(seconds_per_click, dtype=np.float64)

    def block(rows: np.ndarray, dropped: int) -> dict[str, object]:
        if interactive:
            return summarize_interactive(matrix[rows], seconds[rows], dropped)
        return summarize_no_clicks(matrix[rows, 0], seconds[rows], dropped, max_clicks)

    names = sorted(set(cities_array.tolist()) | set(empty_dropped))
    return {
        "overall": block(np.arange(len(cities_array)), sum(empty_dropped.values())),
        "per_city": {
            city: block(np.flatnonzero(cities_array == city), empty_dropped.get(city, 0))
            for city in names
        },
    }


def _as_ious_matrix(all_ious: np.ndarray) -> np.ndarray:
    matrix = np.asarray(all_ious, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError(f"expected an (S, K) array of IoU sequences, got shape {matrix.shape}")
    return matrix


def _mean(values: np.ndarray) -> float | None:
    values = np.asarray(values, dtype=np.float64)
    return float(values.mean()) if values.size else None


def _std(values: np.ndarray) -> float | None:
    values = np.asarray(values, dtype=np.float64)
    return float(values.std()) if values.size else None


def _pct(threshold: float) -> int:
    return round(threshold * 100)
