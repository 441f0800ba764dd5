"""Evaluation report files: metrics.json, table.md (the study's Table 1 layout), CSVs, Figures 7-8.

Every file names the protocol (tile, object or relabel) the models were evaluated with: the
``protocol`` entry of each model in metrics.json, table.md's title, a ``protocol`` column in the
CSVs and the figures' titles. One report holds one protocol.

Every file is written to a temporary name in the report folder and renamed into place, so a
crash never leaves a half-written file. Figures use matplotlib's Agg canvas (no GUI, no pyplot).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from isegsat.inference.atomic_file import write_atomically
from isegsat.training.evaluation import ModelEvaluation
from isegsat.training.metrics import (
    IOU_THRESHOLDS,
    OBJECT_OVER_MAX_THRESHOLD,
    OVER_MAX_THRESHOLDS,
    RELABEL_GAIN_AFTER,
    RELABEL_THRESHOLDS,
    metric_keys,
    noc_from_start,
    noc_matrix,
    per_click_gain,
)

METRICS_JSON = "metrics.json"
TABLE_MD = "table.md"
METRICS_CSV = "metrics.csv"
PER_SAMPLE_CSV = "per_sample.csv"
FIG7_PNG = "fig7_miou_per_click.png"
FIG8_PNG = "fig8_gain_per_click.png"
DASH = "—"


def write_report(
    out_dir: Path,
    evaluations: Sequence[ModelEvaluation],
    settings: Mapping[str, object] | None = None,
) -> dict[str, Any]:
    """Write all report files for one or more models into ``out_dir``; returns metrics.json's dict.

    metrics.json: {model name: {"protocol": name, "overall": block, "per_city": {city: block}}},
    each block keyed by ``metric_keys(max_clicks, protocol)``. ``settings`` (split, flip, ...) are
    listed at the top of table.md. All evaluations must share one protocol and max_clicks.
    """
    if not evaluations:
        raise ValueError("nothing to report: no model was evaluated")
    names = [e.name for e in evaluations]
    if len(set(names)) != len(names):
        raise ValueError(f"model names must be unique, got {names}")
    if len({(e.protocol, e.max_clicks) for e in evaluations}) > 1:
        raise ValueError("one report holds one protocol and one number of clicks")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics = {e.name: e.metrics() for e in evaluations}
    max_clicks, protocol = evaluations[0].max_clicks, evaluations[0].protocol

    _write_text(out_dir / METRICS_JSON, json.dumps(metrics, indent=2) + "\n")
    _write_text(out_dir / TABLE_MD, markdown_report(metrics, evaluations, max_clicks, settings))
    _write_text(out_dir / METRICS_CSV, metrics_csv(metrics, max_clicks, protocol))
    _write_text(out_dir / PER_SAMPLE_CSV, per_sample_csv(evaluations, max_clicks))
    _write_png(out_dir / FIG7_PNG, miou_per_click_figure(metrics, max_clicks, protocol))
    _write_png(out_dir / FIG8_PNG, gain_per_click_figure(metrics, evaluations, max_clicks))
    return metrics


def table_layout(protocol: str, k: int) -> dict[str, tuple[str, ...]]:
    """The metric keys of table.md's "Table 1", "All metrics" and "Per city" tables."""
    if protocol == "object":
        over = f">={k}@{round(OBJECT_OVER_MAX_THRESHOLD * 100)}"
        main = (f"NoC{k}@80", f"NoC{k}@85", f"NoC{k}@90", over, "IoU@1", "IoU@3")
        return {
            "table1": main,
            "full": (*main, "objects", "crops", "empty_dropped", "seconds_per_click"),
            "per_city": (f"NoC{k}@85", f"NoC{k}@90", "IoU@1", "IoU@3", "objects", "crops"),
        }
    if protocol == "relabel":
        main = (
            "IoU@0",
            f"IoU_gain@{RELABEL_GAIN_AFTER}",
            f"IoU@{k}",
            "min_gain_over_clicks",
            "worsening_click_share",
            *(f"NoC{k}@{round(t * 100)}" for t in RELABEL_THRESHOLDS),
        )
        return {
            "table1": main,
            "full": (*main, "crops", "empty_dropped", "seconds_per_click"),
            "per_city": (*main, "crops"),
        }
    table1 = (f"NoC{k}@80", f"NoC{k}@90", f">={k}@80", f"Avg{k}_IoU")
    return {
        "table1": table1,
        "full": (
            f"NoC{k}@80",
            f"NoC{k}@85",
            f"NoC{k}@90",
            f">={k}@80",
            f">={k}@90",
            f"Avg{k}_IoU",
            "mean_IoU_over_clicks",
            "crops",
            "empty_dropped",
            "seconds_per_click",
        ),
        "per_city": (*table1, "crops", "empty_dropped"),
    }


def protocol_note(protocol: str, k: int) -> str:
    """One line defining the metrics of ``protocol``'s tables (K = ``k`` clicks)."""
    if protocol == "object":
        return (
            f"Object protocol: one building at a time in a window about 3x its size; NoC{k}@t: "
            f"mean clicks to reach IoU t (capped at {k}); >={k}@85: share of buildings needing "
            f"{k} clicks or never reaching 0.85; IoU@n: mean IoU after click n (± std)."
        )
    if protocol == "relabel":
        return (
            "Relabel protocol: every building of a crop, starting from a seeded imperfect label; "
            "IoU@0: the label's IoU; IoU@n: mean IoU after n clicks; IoU_gain@3: IoU@3 - IoU@0; "
            "min gain: min over clicks of IoU@n - IoU@0; worsening share: share of clicks that "
            f"lowered a crop's IoU; NoC{k}@t counts 0 for a label already at t."
        )
    return (
        f"Tile protocol: every building of a crop; NoC{k}@t: mean clicks to reach IoU t (capped "
        f"at {k}); >={k}@t: share of crops needing {k} clicks or never reaching t; Avg{k} IoU: "
        f"mean over crops of the IoU after click {k} (± std over crops), the study's definition; "
        f"mean IoU over clicks: mean over crops of each crop's mean over clicks 1..{k}. Models "
        "without clicks show their IoU."
    )


def markdown_report(
    metrics: Mapping[str, Any],
    evaluations: Sequence[ModelEvaluation],
    max_clicks: int,
    settings: Mapping[str, object] | None = None,
) -> str:
    """table.md: Table 1 (rows = models), the full table, per city, mIoU and gain per click."""
    k = max_clicks
    protocol = evaluations[0].protocol
    layout = table_layout(protocol, k)
    interactive = {e.name: e.interactive for e in evaluations}
    lines = [f"# Interactive segmentation evaluation: {protocol} protocol", ""]
    lines += [f"- {key}: {value}" for key, value in (settings or {}).items()]
    lines += [f"- {protocol_note(protocol, k)}", "", "## Table 1", ""]
    table1 = layout["table1"]
    lines += _table(["Model", *_headers(table1, k)], _model_rows(metrics, interactive, table1))

    full = layout["full"]
    lines += ["", "## All metrics", ""]
    lines += _table(["Model", *_headers(full, k)], _model_rows(metrics, interactive, full))

    per_city = layout["per_city"]
    rows = [
        [_label(name, interactive[name]), city, *_cells(block, per_city)]
        for name, model in metrics.items()
        for city, block in model["per_city"].items()
    ]
    lines += ["", "## Per city (set)", ""]
    lines += _table(["Model", "City", *_headers(per_city, k)], rows)

    first = 0 if protocol == "relabel" else 1
    clicks = [str(i) for i in range(first, k + 1)]
    rows = []
    for name, model in metrics.items():
        miou = model["overall"]["mIoU_per_click"]
        if miou is None:
            continue
        start = _curve_start(model["overall"])
        curve = [start, *miou] if protocol == "relabel" else miou
        rows.append([f"{name} mIoU", *(f"{v:.3f}" for v in curve)])
        gains = [f"{v:+.3f}" for v in per_click_gain(miou, start)]
        rows.append([f"{name} gain", *([""] if protocol == "relabel" else []), *gains])
    if rows:
        lines += ["", "## Mean IoU after k clicks (Figure 7) and its gain per click (Figure 8)", ""]
        lines += _table(["Model / clicks", *clicks], rows)
    return "\n".join(lines) + "\n"


def metrics_csv(metrics: Mapping[str, Any], max_clicks: int, protocol: str = "tile") -> str:
    """One row per model and scope ("overall" or a city): scalar metrics, mIoU@k and gain@k."""
    scalars = [key for key in metric_keys(max_clicks, protocol) if key != "mIoU_per_click"]
    clicks = range(1, max_clicks + 1)
    header = ["protocol", "model", "scope", *scalars]
    header += [f"mIoU@{i}" for i in clicks] + [f"gain@{i}" for i in clicks]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for name, model in metrics.items():
        scopes = [("overall", model["overall"]), *model["per_city"].items()]
        for scope, block in scopes:
            miou = block["mIoU_per_click"]
            curves = [""] * (2 * max_clicks)
            if miou is not None:
                curves = [*miou, *per_click_gain(miou, _curve_start(block))]
            values = (_csv_value(block[key]) for key in scalars)
            writer.writerow([protocol, name, scope, *values, *curves])
    return buffer.getvalue()


def per_sample_csv(evaluations: Sequence[ModelEvaluation], max_clicks: int) -> str:
    """One row per model and sample (a crop, or a building of a crop in the object protocol):
    NoC at each threshold and the IoU after each click.

    A click-free baseline fills ``iou_no_clicks`` and leaves the click columns empty; the object
    protocol adds ``object`` (the building's id in its crop), the relabel protocol ``iou_0``
    (the starting label's IoU; its NoC counts 0 when the label already reaches the threshold).
    """
    protocol = evaluations[0].protocol
    levels = RELABEL_THRESHOLDS if protocol == "relabel" else IOU_THRESHOLDS
    thresholds = [f"NoC@{round(t * 100)}" for t in levels]
    clicks = [f"iou_{i}" for i in range(1, max_clicks + 1)]
    extra = {"object": ["object"], "relabel": ["iou_0"]}.get(protocol, ["iou_no_clicks"])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        ["protocol", "model", "crop_id", "city", "seconds_per_click", *extra, *thresholds, *clicks]
    )
    for evaluation in evaluations:
        for result in evaluation.results:
            head = [protocol, evaluation.name, result.crop_id, result.city]
            head.append(f"{result.seconds_per_click:.6f}")
            ious = [f"{v:.6f}" for v in result.ious]
            if protocol == "relabel":
                nocs = [noc_from_start(result.start_iou, result.ious, t) for t in levels]
                writer.writerow([*head, f"{result.start_iou:.6f}", *nocs, *ious])
            elif protocol == "object":
                nocs = noc_matrix(result.ious[None, :])[0]
                writer.writerow([*head, result.object_id, *nocs, *ious])
            elif evaluation.interactive:
                nocs = noc_matrix(result.ious[None, :])[0]
                writer.writerow([*head, "", *nocs, *ious])
            else:
                blanks = [""] * (len(thresholds) + len(clicks))
                writer.writerow([*head, f"{result.ious[0]:.6f}", *blanks])
    return buffer.getvalue()


def miou_per_click_figure(
    metrics: Mapping[str, Any], max_clicks: int, protocol: str = "tile"
) -> Figure:
    """Figure 7: mean IoU vs number of clicks, (a) overall per model, (b) per city.

    A click-free baseline is drawn as a horizontal dashed line at its IoU; in the relabel
    protocol the curves start at click 0 with the starting label's IoU.
    """
    figure = Figure(figsize=(12, 4.8), layout="constrained")
    figure.suptitle(f"{protocol} protocol")
    overall, by_city = figure.subplots(1, 2, sharey=True)
    first = 0 if protocol == "relabel" else 1
    clicks = np.arange(first, max_clicks + 1)

    def curve(block: Mapping[str, Any]) -> list[float]:
        miou = block["mIoU_per_click"]
        return [block["IoU@0"], *miou] if protocol == "relabel" else miou

    styles = ("-", "--", ":", "-.")
    cities = sorted({city for model in metrics.values() for city in model["per_city"]})
    colours = {city: f"C{i % 10}" for i, city in enumerate(cities)}
    for index, (name, model) in enumerate(metrics.items()):
        miou = model["overall"]["mIoU_per_click"]
        if miou is None:
            level = model["overall"][f"Avg{max_clicks}_IoU"]
            if level is not None:
                overall.axhline(level, color="grey", linestyle="--", label=f"{name} (no clicks)")
            continue
        overall.plot(clicks, curve(model["overall"]), marker="o", markersize=3, label=name)
        for city, block in model["per_city"].items():
            if block["mIoU_per_click"] is not None:
                by_city.plot(
                    clicks,
                    curve(block),
                    color=colours[city],
                    linestyle=styles[index % len(styles)],
                    label=f"{name}: {city}" if len(metrics) > 1 else city,
                )
    overall.set_title("(a) mean IoU vs number of clicks")
    by_city.set_title("(b) per city")
    overall.set_ylabel("mean IoU")
    for axes in (overall, by_city):
        axes.set_xlabel("number of clicks")
        axes.set_xticks(clicks[:: max(1, max_clicks // 10)])
        axes.set_xlim(first - 0.5, max_clicks + 0.5)
        axes.grid(alpha=0.3)
        if axes.get_legend_handles_labels()[0]:
            axes.legend(fontsize="small")
    return figure


def gain_per_click_figure(
    metrics: Mapping[str, Any], evaluations: Sequence[ModelEvaluation], max_clicks: int
) -> Figure:
    """Figure 8: (a) mean-IoU gain of each click (symlog axis), (b) share of crops at IoU t by k.

    Panel (b) is the cumulative NoC distribution: for t in 0.80 and 0.90, the share of crops that
    reached IoU >= t at one of the clicks 1..k (crops never reaching t stay out, so at k = K it is
    1 - (>=K@t) plus the share reaching t exactly at click K).
    """
    figure = Figure(figsize=(12, 4.8), layout="constrained")
    figure.suptitle(f"{evaluations[0].protocol} protocol")
    gains, reached = figure.subplots(1, 2)
    clicks = np.arange(1, max_clicks + 1)
    interactive = [e for e in evaluations if e.interactive and e.results]
    width = 0.8 / max(1, len(interactive))
    for index, evaluation in enumerate(interactive):
        overall = metrics[evaluation.name]["overall"]
        gain = per_click_gain(overall["mIoU_per_click"], _curve_start(overall))
        offset = (index - (len(interactive) - 1) / 2) * width
        gains.bar(clicks + offset, gain, width=width, label=evaluation.name)
        best_so_far = np.maximum.accumulate(np.stack([r.ious for r in evaluation.results]), 1)
        for threshold, style in zip(OVER_MAX_THRESHOLDS, ("-", "--"), strict=True):
            reached.plot(
                clicks,
                (best_so_far >= threshold).mean(axis=0),
                color=f"C{index % 10}",
                linestyle=style,
                marker="o",
                markersize=3,
                label=f"{evaluation.name}: IoU >= {threshold:.2f}",
            )
    gains.set_yscale("symlog", linthresh=0.01)
    gains.axhline(0.0, color="black", linewidth=0.8)
    gains.set_title("(a) mean IoU gain per click")
    gains.set_ylabel("mIoU(k) - mIoU(k-1)")
    reached.set_title("(b) share of crops at target IoU within k clicks")
    reached.set_ylabel("share of crops")
    reached.set_ylim(0.0, 1.0)
    for axes in (gains, reached):
        axes.set_xlabel("click k")
        axes.set_xticks(clicks[:: max(1, max_clicks // 10)])
        axes.grid(alpha=0.3)
        if axes.get_legend_handles_labels()[0]:
            axes.legend(fontsize="small")
    return figure


def _model_rows(
    metrics: Mapping[str, Any], interactive: Mapping[str, bool], keys: Sequence[str]
) -> list[list[str]]:
    return [
        [_label(name, interactive[name]), *_cells(model["overall"], keys)]
        for name, model in metrics.items()
    ]


def _curve_start(block: Mapping[str, Any]) -> float:
    """The mean IoU before click 1: the starting label's (relabel protocol), else 0."""
    start = block.get("IoU@0")
    return 0.0 if start is None else start


def _label(name: str, interactive: bool) -> str:
    return name if interactive else f"{name} (no clicks)"


def _headers(keys: Sequence[str], k: int) -> list[str]:
    names = {
        f"Avg{k}_IoU": f"Avg{k} IoU",
        "mean_IoU_over_clicks": "mean IoU over clicks",
        "min_gain_over_clicks": "min gain",
        "worsening_click_share": "worsening share",
        "empty_dropped": "empty dropped",
        "seconds_per_click": "s/click",
    }
    return [names.get(key, key) for key in keys]


def _cells(block: Mapping[str, Any], keys: Sequence[str]) -> list[str]:
    """Table cells: NoC with 2 decimals, a mean with its ``<key>_std`` as "mean ± std", gains
    signed."""
    cells = []
    for key in keys:
        value = block[key]
        if value is None:
            cells.append(DASH)
        elif key.startswith("NoC"):
            cells.append(f"{value:.2f}")
        elif block.get(f"{key}_std") is not None:
            cells.append(f"{value:.3f} ± {block[f'{key}_std']:.3f}")
        elif "gain" in key:
            cells.append(f"{value:+.3f}")
        elif key == "seconds_per_click":
            cells.append(f"{value:.4f}")
        elif isinstance(value, float):
            cells.append(f"{value:.3f}")
        else:
            cells.append(str(value))
    return cells


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] * len(header)) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def _csv_value(value: object) -> object:
    return "" if value is None else value


def _write_text(path: Path, text: str) -> None:
    write_atomically(path, lambda handle: handle.write(text.encode("utf-8")))


def _write_png(path: Path, figure: Figure) -> None:
    FigureCanvasAgg(figure)
    write_atomically(path, lambda handle: figure.savefig(handle, format="png", dpi=120))
