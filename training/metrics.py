"""Interactive-segmentation metrics as RITM computes them (isegm/inference/utils.py), per protocol.

A sample's IoU sequence is the (K,) float array of IoUs after clicks 1..K, K = max_clicks.

- NoC@t (number of clicks): 1 + the index of the first IoU >= t, or K when no IoU reaches t.
  Averaged over samples it is "NoC20@80" etc. for K = 20.
- >=K@t: the share (0..1) of samples whose NoC@t equals K. Like RITM (``noc == max_clicks``) this
  includes a sample that reaches t exactly at click K. RITM prints the count; the study reports the
  share (0.135 in its Table 1), so the share is reported here.
- AvgK IoU: the study's definition, the IoU *after* the K-th click ("the number corresponds to the
  number of clicks after which we compute the IoU"); mean and population std (ddof=0) over samples.
- mean IoU over clicks: per sample the mean of its K IoUs, then the mean over samples (what this
  project reported as "Avg20 IoU" before; kept under its own name).
- mIoU per click: the mean over samples of the IoU after click k, k = 1..K (the study's Figure 7
  curve); the per-click gain is its first difference, the gain of click 1 measured from IoU 0 (or
  from the starting label's IoU in the relabel protocol).
- seconds per click: total evaluation time / total clicks (RITM's ``get_time_metrics``).

Three protocols (``PROTOCOLS``) share these formulas and differ in their metric blocks:
``tile`` (every building of a crop, the study's protocol), ``object`` (one building in its own
window) and ``relabel`` (the tile protocol started from an imperfect label, whose IoU is IoU@0).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

PROTOCOLS = ("tile", "object", "relabel")
DEFAULT_MAX_CLICKS = {"tile": 20, "object": 10, "relabel": 10}
IOU_THRESHOLDS = (0.80, 0.85, 0.90)
OVER_MAX_THRESHOLDS = (0.80, 0.90)
OBJECT_OVER_MAX_THRESHOLD = 0.85
OBJECT_IOU_AFTER = (1, 3)
RELABEL_THRESHOLDS = (0.85, 0.90)
RELABEL_GAIN_AFTER = 3

Block = dict[str, object]


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


def noc_from_start(start_iou: float, ious: np.ndarray, threshold: float) -> int:
    """Clicks needed from a starting mask of IoU ``start_iou``: 0 when it already reaches
    ``threshold``, else ``number_of_clicks(ious, threshold)`` (K when never reached)."""
    return 0 if start_iou >= threshold else number_of_clicks(ious, threshold)


def per_click_gain(miou_per_click: Sequence[float], start: float = 0.0) -> np.ndarray:
    """(K,) gain in mean IoU brought by each click; click 1's gain is measured from ``start``."""
    return np.diff(np.asarray(miou_per_click, dtype=np.float64), prepend=start)


def metric_keys(max_clicks: int, protocol: str = "tile") -> tuple[str, ...]:
    """The keys of one metrics block of ``protocol``, in report order (names carry K)."""
    k = max_clicks
    tail = ("mIoU_per_click", "crops", "empty_dropped", "seconds_per_click")
    if protocol == "tile":
        return (
            *(f"NoC{k}@{_pct(t)}" for t in IOU_THRESHOLDS),
            *(f">={k}@{_pct(t)}" for t in OVER_MAX_THRESHOLDS),
            f"Avg{k}_IoU",
            f"Avg{k}_IoU_std",
            "mean_IoU_over_clicks",
            *tail,
        )
    if protocol == "object":
        return (
            *(f"NoC{k}@{_pct(t)}" for t in IOU_THRESHOLDS),
            f">={k}@{_pct(OBJECT_OVER_MAX_THRESHOLD)}",
            *(name for n in OBJECT_IOU_AFTER for name in (f"IoU@{n}", f"IoU@{n}_std")),
            "objects",
            *tail,
        )
    if protocol == "relabel":
        return (
            "IoU@0",
            "IoU@0_std",
            f"IoU@{k}",
            f"IoU@{k}_std",
            f"IoU_gain@{RELABEL_GAIN_AFTER}",
            "min_gain_over_clicks",
            "worsening_click_share",
            *(f"NoC{k}@{_pct(t)}" for t in RELABEL_THRESHOLDS),
            *tail,
        )
    raise ValueError(f"unknown protocol {protocol!r}; expected one of {PROTOCOLS}")


def summarize_interactive(
    all_ious: np.ndarray, seconds_per_click: np.ndarray, empty_dropped: int
) -> Block:
    """Tile-protocol block of S samples evaluated with clicks: ``all_ious`` (S, K), seconds (S,)."""
    all_ious = _as_ious_matrix(all_ious)
    k = all_ious.shape[1]
    block, nocs = _noc_entries(all_ious)
    for t in OVER_MAX_THRESHOLDS:
        block[f">={k}@{_pct(t)}"] = _mean(nocs[:, IOU_THRESHOLDS.index(t)] == k)
    block[f"Avg{k}_IoU"] = _mean(all_ious[:, -1])
    block[f"Avg{k}_IoU_std"] = _std(all_ious[:, -1])
    block["mean_IoU_over_clicks"] = _mean(all_ious.mean(axis=1))
    return _with_tail(block, all_ious, len(all_ious), empty_dropped, seconds_per_click)


def summarize_no_clicks(
    ious: np.ndarray, seconds_per_forward: np.ndarray, empty_dropped: int, max_clicks: int
) -> Block:
    """Tile-protocol block of a non-interactive baseline: one IoU per sample, (S,), no clicks.

    Its IoU fills ``AvgK_IoU`` ± std; click-based entries (NoC, >=K, mIoU per click, mean IoU
    over clicks) are None; ``seconds_per_click`` holds the seconds per forward pass.
    """
    ious = np.asarray(ious, dtype=np.float64).reshape(-1)
    block: Block = dict.fromkeys(metric_keys(max_clicks))
    block[f"Avg{max_clicks}_IoU"] = _mean(ious)
    block[f"Avg{max_clicks}_IoU_std"] = _std(ious)
    block["crops"] = len(ious)
    block["empty_dropped"] = int(empty_dropped)
    block["seconds_per_click"] = _mean(seconds_per_forward)
    return block


def summarize_objects(
    all_ious: np.ndarray, seconds_per_click: np.ndarray, crops: int, empty_dropped: int
) -> Block:
    """Object-protocol block of S buildings (from ``crops`` crops): ``all_ious`` (S, K).

    IoU@n is the IoU after click n (None when K < n), mean and std over buildings.
    """
    all_ious = _as_ious_matrix(all_ious)
    k = all_ious.shape[1]
    block, nocs = _noc_entries(all_ious)
    over = IOU_THRESHOLDS.index(OBJECT_OVER_MAX_THRESHOLD)
    block[f">={k}@{_pct(OBJECT_OVER_MAX_THRESHOLD)}"] = _mean(nocs[:, over] == k)
    for n in OBJECT_IOU_AFTER:
        after = all_ious[:, n - 1] if n <= k else np.empty(0)
        block[f"IoU@{n}"] = _mean(after)
        block[f"IoU@{n}_std"] = _std(after)
    block["objects"] = len(all_ious)
    return _with_tail(block, all_ious, crops, empty_dropped, seconds_per_click)


def summarize_relabel(
    start_ious: np.ndarray,
    all_ious: np.ndarray,
    seconds_per_click: np.ndarray,
    empty_dropped: int,
) -> Block:
    """Relabel-protocol block of S crops: IoU of each starting label (S,), then ``all_ious`` (S, K).

    ``worsening_click_share``: share of all S·K clicks after which the crop's IoU is lower than
    before the click; ``min_gain_over_clicks``: min over k of mIoU(k) - mean IoU@0 (negative when
    some click count leaves the mean below the start); ``IoU_gain@3``: mIoU(3) - mean IoU@0 (None
    when K < 3); NoC counts 0 clicks for a crop whose starting label already reaches t.
    """
    all_ious = _as_ious_matrix(all_ious)
    start = np.asarray(start_ious, dtype=np.float64).reshape(-1)
    if start.shape != (len(all_ious),):
        raise ValueError(f"need one starting IoU per sample, got {start.shape} for {len(all_ious)}")
    k = all_ious.shape[1]
    block: Block = {"IoU@0": _mean(start), "IoU@0_std": _std(start)}
    block[f"IoU@{k}"] = _mean(all_ious[:, -1])
    block[f"IoU@{k}_std"] = _std(all_ious[:, -1])
    gains = all_ious.mean(axis=0) - start.mean() if len(start) else np.empty(0)
    n = RELABEL_GAIN_AFTER
    block[f"IoU_gain@{n}"] = float(gains[n - 1]) if len(gains) and n <= k else None
    block["min_gain_over_clicks"] = float(gains.min()) if len(gains) else None
    before = np.concatenate([start[:, None], all_ious[:, :-1]], axis=1)
    block["worsening_click_share"] = _mean(all_ious < before)
    for t in RELABEL_THRESHOLDS:
        nocs = [noc_from_start(s, row, t) for s, row in zip(start, all_ious, strict=True)]
        block[f"NoC{k}@{_pct(t)}"] = _mean(np.array(nocs))
    return _with_tail(block, all_ious, len(all_ious), empty_dropped, seconds_per_click)


def summarize_by_city(
    cities: Sequence[str],
    empty_dropped: Mapping[str, int],
    block: Callable[[np.ndarray, int], Block],
) -> dict[str, object]:
    """{"overall": block, "per_city": {city: block}}; a city is a set in real-data manifests.

    cities[i]: sample i's city; ``block(rows, dropped)`` summarises the samples at ``rows`` (int
    indices) with ``dropped`` empty crops. Cities whose crops were all empty still get a block
    (0 crops). Cities are sorted by name.
    """
    cities_array = np.asarray(cities, dtype=object)
    names = sorted(set(cities_array.tolist()) | set(empty_dropped))
    return {
        "overall": block(np.arange(len(cities_array)), sum(empty_dropped.values())),
        "per_city": {
            city: block(np.flatnonzero(cities_array == city), empty_dropped.get(city, 0))
            for city in names
        },
    }


def _noc_entries(all_ious: np.ndarray) -> tuple[Block, np.ndarray]:
    """({"NoC{K}@t": mean over samples} for every IoU threshold, the (S, T) NoC matrix) of an
    (S, K) IoU matrix."""
    nocs = noc_matrix(all_ious, IOU_THRESHOLDS)
    k = all_ious.shape[1]
    block: Block = {
        f"NoC{k}@{_pct(t)}": _mean(nocs[:, column]) for column, t in enumerate(IOU_THRESHOLDS)
    }
    return block, nocs


def _with_tail(
    block: Block, all_ious: np.ndarray, crops: int, empty_dropped: int, seconds: np.ndarray
) -> Block:
    block["mIoU_per_click"] = [float(v) for v in all_ious.mean(axis=0)] if len(all_ious) else None
    block["crops"] = int(crops)
    block["empty_dropped"] = int(empty_dropped)
    block["seconds_per_click"] = _mean(seconds)
    return block


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
