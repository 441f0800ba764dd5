"""RITM's interactive evaluation protocol: simulated clicks on each crop, one IoU per click.

Per sample (RITM ``evaluate_sample`` run for all clicks, as in its ``--iou-analysis`` mode): the
prediction starts empty (or from a given starting mask: the relabel protocol); for k = 1..K the
evaluation clicker (``next_click``) places a click on the largest error region, the predictor
returns a probability map, the mask is ``prob > pred_thr`` and its IoU with the ground truth is
recorded. Crops come from ``isegsat-prepare``'s manifest; crops without a building pixel are
dropped and counted, like the study (1940 of 2500 kept). Crops may have any size and aspect
ratio (real sets give 128², 300², 438x406 ...). This module runs the tile protocol; the object
and relabel protocols (``object_protocol``, ``relabel_protocol``) reuse ``evaluate_sample``.
"""

from __future__ import annotations

import time
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from isegsat.inference import Click, Predictor, next_click
from isegsat.inference.segmenter import predict_without_clicks
from isegsat.inference.threshold import PRED_THRESHOLD
from isegsat.training.manifest import (
    CropRecord,
    DataError,
    check_files,
    read_image,
    read_manifest,
    read_mask,
)
from isegsat.training.metrics import (
    PROTOCOLS,
    iou,
    summarize_by_city,
    summarize_interactive,
    summarize_no_clicks,
    summarize_objects,
    summarize_relabel,
)

ShownMask = Callable[[np.ndarray, Sequence[Click]], np.ndarray]
"""(HxW bool thresholded prediction, the clicks so far) -> HxW mask the annotator gets."""


@dataclass(frozen=True)
class SampleResult:
    """One sample's evaluation: the clicks made, (K,) float64 IoU after each, seconds per click."""

    clicks: tuple[Click, ...]
    ious: np.ndarray
    seconds_per_click: float


@dataclass(frozen=True)
class CropSelection:
    """The non-empty crops to evaluate (manifest order) and the empty crops dropped, per city."""

    crops: tuple[CropRecord, ...]
    empty_dropped: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class CropResult:
    """A sample's evaluation: (K,) IoUs with clicks, or (1,) the IoU of a click-free baseline.

    ``start_iou``: IoU of the starting label (relabel protocol only); ``object_id``: the
    building's component label in the crop's mask (object protocol only).
    """

    crop_id: str
    city: str
    ious: np.ndarray
    seconds_per_click: float
    start_iou: float | None = None
    object_id: int | None = None


@dataclass(frozen=True)
class ModelEvaluation:
    """Every crop's result for one model (``name``: its checkpoint's file stem).

    ``interactive`` False marks a click-free baseline (tile protocol only): each
    ``CropResult.ious`` is then (1,). ``protocol`` is one of ``PROTOCOLS``.
    """

    name: str
    interactive: bool
    max_clicks: int
    results: tuple[CropResult, ...]
    empty_dropped: dict[str, int]
    protocol: str = "tile"

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {self.protocol!r}; expected one of {PROTOCOLS}")
        if not self.interactive and self.protocol != "tile":
            raise ValueError(f"the {self.protocol} protocol needs an interactive model")

    def metrics(self) -> dict[str, object]:
        """{"protocol": name, "overall": block, "per_city": {city: block}}, blocks keyed by
        ``metric_keys(max_clicks, protocol)``."""
        width = self.max_clicks if self.interactive else 1
        ious = np.array([r.ious for r in self.results], dtype=np.float64).reshape(-1, width)
        seconds = np.array([r.seconds_per_click for r in self.results], dtype=np.float64)

        def block(rows: np.ndarray, dropped: int) -> dict[str, object]:
            if not self.interactive:
                return summarize_no_clicks(ious[rows, 0], seconds[rows], dropped, self.max_clicks)
            if self.protocol == "object":
                crops = len({self.results[i].crop_id for i in rows})
                return summarize_objects(ious[rows], seconds[rows], crops, dropped)
            if self.protocol == "relabel":
                start = np.array([self.results[i].start_iou for i in rows], dtype=np.float64)
                return summarize_relabel(start, ious[rows], seconds[rows], dropped)
            return summarize_interactive(ious[rows], seconds[rows], dropped)

        cities = [r.city for r in self.results]
        return {"protocol": self.protocol, **summarize_by_city(cities, self.empty_dropped, block)}


def evaluate_sample(
    image: np.ndarray,
    gt_mask: np.ndarray,
    predictor: Predictor,
    max_clicks: int = 20,
    pred_thr: float = PRED_THRESHOLD,
    start_mask: np.ndarray | None = None,
    shown: ShownMask | None = None,
) -> SampleResult:
    """Run ``max_clicks`` simulated clicks on one image through ``predictor``.

    image: HxWx3 uint8 RGB; gt_mask: HxW int/bool (1 object, -1 ignored, else background).
    start_mask: optional HxW bool/{0,1} mask the prediction starts from (given to the predictor
    as the previous mask of the first click, ``Predictor.set_prev_mask``); the first click then
    goes to the largest error of this mask. None starts from an empty mask.
    shown: what the annotator gets from the thresholded prediction and the clicks so far (the
    object protocol passes object mode's ``clicked_object``); the IoU and the next click are
    taken on it, while the predictor keeps its own probabilities as the previous mask, as in the
    app. None scores the thresholded prediction itself.
    Clicks are in pixel (y, x) of ``image``. ``seconds_per_click`` covers set_image, clicker,
    prediction and IoU, divided by ``max_clicks``.
    """
    if max_clicks < 1:
        raise ValueError(f"max_clicks must be >= 1, got {max_clicks}")
    gt = np.asarray(gt_mask)
    if gt.shape != image.shape[:2]:
        raise ValueError(f"gt_mask {gt.shape} does not match image {image.shape[:2]}")
    start = time.perf_counter()
    predictor.set_image(image)
    pred_mask = np.zeros(gt.shape, dtype=bool)
    if start_mask is not None:
        pred_mask = np.asarray(start_mask).astype(bool)
        predictor.set_prev_mask(pred_mask)
    clicks: list[Click] = []
    ious = np.empty(max_clicks, dtype=np.float64)
    with torch.no_grad():
        for k in range(max_clicks):
            click = next_click(gt, pred_mask, clicks)
            clicks.append(click)
            prob = predictor.add_click(click.y, click.x, click.is_positive)
            pred_mask = prob > pred_thr
            if shown is not None:
                pred_mask = shown(pred_mask, clicks).astype(bool)
            ious[k] = iou(gt, pred_mask)
    elapsed = time.perf_counter() - start
    return SampleResult(tuple(clicks), ious, elapsed / max_clicks)


def evaluate_without_clicks(
    image: np.ndarray,
    gt_mask: np.ndarray,
    model: torch.nn.Module,
    device: torch.device,
    pred_thr: float = PRED_THRESHOLD,
) -> tuple[float, float]:
    """(IoU, seconds) of a click-free forward pass on one image; see ``predict_without_clicks``."""
    start = time.perf_counter()
    prob = predict_without_clicks(model, image, device)
    value = iou(gt_mask, prob > pred_thr)
    return value, time.perf_counter() - start


def select_crops(
    data_dirs: Path | Sequence[Path],
    split: str = "test",
    cities: Sequence[str] | None = None,
    limit: int | None = None,
    per_city: int | None = None,
) -> CropSelection:
    """The crops of ``split`` (and ``cities``) listed in each folder's ``manifest.csv``, empties
    dropped.

    data_dirs: one ``isegsat-prepare`` folder or several (their manifests are read in the order
    given, as one list; each must have ``split``; crop ids must be unique across them). A city is a
    set's name in real-data manifests, so several set folders give one city per set.
    Emptiness is read from the mask PNG (no pixel > 0). With ``limit`` the first ``limit``
    non-empty crops in manifest order are kept and ``empty_dropped`` counts the empty crops met
    before the last of them. ``per_city`` keeps at most that many non-empty crops of each city
    (the first in manifest order): a quick run that still covers every city. Raises
    DataError naming what is wrong.
    """
    folders = [Path(data_dirs)] if isinstance(data_dirs, str | Path) else list(map(Path, data_dirs))
    records: list[CropRecord] = []
    for folder in folders:
        folder_records = read_manifest(folder)
        splits = sorted({record.split for record in folder_records})
        if split not in splits:
            raise DataError(f"unknown split {split!r} in {folder}; the manifest has {splits}")
        records += [record for record in folder_records if record.split == split]
    ids = Counter(record.crop_id for record in records)
    repeated = sorted(crop_id for crop_id, n in ids.items() if n > 1)
    if repeated:
        raise DataError(f"crop ids {repeated[:3]} appear more than once in the data folders")
    if cities:
        known = sorted({record.city for record in records})
        unknown = sorted(set(cities) - set(known))
        if unknown:
            raise DataError(f"unknown cities {unknown} in split {split!r}; it has {known}")
        records = [record for record in records if record.city in set(cities)]
    kept: list[CropRecord] = []
    dropped: Counter[str] = Counter()
    kept_per_city: Counter[str] = Counter()
    for crop in records:
        check_files(crop)
        if per_city is not None and kept_per_city[crop.city] >= per_city:
            continue
        if not np.any(read_mask(crop.mask)):
            dropped[crop.city] += 1
            continue
        kept.append(crop)
        kept_per_city[crop.city] += 1
        if limit is not None and len(kept) >= limit:
            break
    return CropSelection(tuple(kept), dict(sorted(dropped.items())))


def crop_rng(seed: int, crop_id: str) -> np.random.Generator:
    """The random generator of one crop: depends on ``seed`` and ``crop_id`` only (CRC-32 of the
    id), so a protocol's random choices are the same for every model and every run."""
    return np.random.default_rng([seed, zlib.crc32(crop_id.encode("utf-8"))])


def evaluate_crops(
    crops: Sequence[CropRecord],
    predictor: Predictor,
    max_clicks: int = 20,
    pred_thr: float = PRED_THRESHOLD,
    desc: str = "eval",
    start_label: Callable[[np.ndarray, np.ndarray, str], np.ndarray] | None = None,
) -> list[CropResult]:
    """``evaluate_sample`` on each crop, with a tqdm progress bar.

    ``start_label(image, gt, crop_id)``, when given, is the HxW mask each crop starts from (the
    relabel protocol); its IoU with the ground truth is the result's ``start_iou``.
    """
    results = []
    for crop in tqdm(crops, desc=desc, unit="crop"):
        image, gt = read_image(crop.image), read_mask(crop.mask)
        label = start_label(image, gt, crop.crop_id) if start_label is not None else None
        sample = evaluate_sample(image, gt, predictor, max_clicks, pred_thr, start_mask=label)
        start = iou(gt, label.astype(bool)) if label is not None else None
        results.append(
            CropResult(
                crop.crop_id, crop.city, sample.ious, sample.seconds_per_click, start_iou=start
            )
        )
    return results


def evaluate_crops_without_clicks(
    crops: Sequence[CropRecord],
    model: torch.nn.Module,
    device: torch.device,
    pred_thr: float = PRED_THRESHOLD,
    desc: str = "eval",
) -> list[CropResult]:
    """``evaluate_without_clicks`` on each crop, with a tqdm progress bar."""
    results = []
    for crop in tqdm(crops, desc=desc, unit="crop"):
        image, gt = read_image(crop.image), read_mask(crop.mask)
        value, seconds = evaluate_without_clicks(image, gt, model, device, pred_thr)
        results.append(CropResult(crop.crop_id, crop.city, np.array([value]), seconds))
    return results
