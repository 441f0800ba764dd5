"""isegsat-eval end to end on a tiny prepared folder with random-init HRNet18s checkpoints."""

import contextlib
import csv
import io
import json
import re

import pytest
import torch
from eval_fixtures import small_city_set, write_prepared_dir
from matplotlib.image import imread

from isegsat.inference import build_model, save_checkpoint
from isegsat.training.eval_cli import main
from isegsat.training.metrics import metric_keys

FAST = ["--no-zoom-in", "--no-flip", "--device", "cpu"]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    return write_prepared_dir(tmp_path_factory.mktemp("data") / "prepared", small_city_set())


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpt")
    torch.manual_seed(0)
    interactive = save_checkpoint(build_model("hrnet18s"), folder / "itermask.pth")
    torch.manual_seed(1)
    baseline = save_checkpoint(
        build_model("hrnet18s", with_prev_mask=False),
        folder / "baseline.pth",
        {"interactive": False},
    )
    return interactive, baseline


@pytest.fixture(scope="module")
def report(prepared, checkpoints, tmp_path_factory):
    """One full run (20 clicks, all test crops) comparing the interactive model and the baseline."""
    out = tmp_path_factory.mktemp("eval") / "report"
    args = ["--checkpoint", str(checkpoints[0]), "--checkpoint", str(checkpoints[1])]
    args += ["--data", str(prepared), "--split", "test", "--out", str(out), *FAST]
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        assert main(args) == 0
    return out, stdout.getvalue()


def test_metrics_json_holds_exactly_the_contract_keys(report):
    out, _ = report
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics) == ["itermask", "baseline"]
    overall = metrics["itermask"]["overall"]
    assert tuple(overall) == metric_keys(20)
    assert (overall["crops"], overall["empty_dropped"]) == (4, 1)
    assert len(overall["mIoU_per_click"]) == 20
    assert all(0.0 <= v <= 1.0 for v in overall["mIoU_per_click"])
    assert 1.0 <= overall["NoC20@80"] <= overall["NoC20@90"] <= 20.0
    assert 0.0 <= overall[">=20@80"] <= overall[">=20@90"] <= 1.0
    assert overall["seconds_per_click"] > 0
    per_city = metrics["itermask"]["per_city"]
    assert list(per_city) == ["austin", "vienna"]
    assert [(b["crops"], b["empty_dropped"]) for b in per_city.values()] == [(2, 1), (2, 0)]
    assert all(tuple(block) == metric_keys(20) for block in per_city.values())


def test_baseline_is_scored_without_clicks(report):
    out, _ = report
    baseline = json.loads((out / "metrics.json").read_text())["baseline"]["overall"]
    assert tuple(baseline) == metric_keys(20)
    assert baseline["NoC20@80"] is None and baseline[">=20@80"] is None
    assert baseline["mIoU_per_click"] is None
    assert 0.0 <= baseline["Avg20_IoU"] <= 1.0
    assert (baseline["crops"], baseline["empty_dropped"]) == (4, 1)


def test_two_checkpoints_give_one_table_with_two_rows(report):
    out, stdout = report
    table = (out / "table.md").read_text()
    table1 = table.split("## Table 1")[1].split("##")[0]
    assert "| Model | NoC20@80 | NoC20@90 | >=20@80 | Avg20 IoU |" in table1
    rows = [line for line in table1.splitlines() if line.startswith("| ")][1:]
    assert len(rows) == 2
    assert re.match(r"\| itermask \| \d+\.\d\d \| \d+\.\d\d \| [01]\.\d{3} \| ", rows[0])
    assert rows[1].startswith("| baseline (no clicks) | — | — | — | ")
    assert table1.strip() in stdout


def test_csv_files_and_figures(report):
    out, _ = report
    with (out / "per_sample.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    crop_ids = ["austin1_r0_c0", "austin2_r1_c0", "vienna3_r0_c0", "vienna3_r0_c1"]
    assert [(r["model"], r["crop_id"]) for r in rows] == [
        *(("itermask", c) for c in crop_ids),
        *(("baseline", c) for c in crop_ids),
    ]
    assert all(1 <= int(r["NoC@80"]) <= 20 and r["iou_20"] != "" for r in rows[:4])
    assert all(r["NoC@80"] == "" and 0 <= float(r["iou_no_clicks"]) <= 1 for r in rows[4:])
    with (out / "metrics.csv").open() as handle:
        scopes = [(r["model"], r["scope"]) for r in csv.DictReader(handle)]
    assert scopes == [
        (model, scope)
        for model in ("itermask", "baseline")
        for scope in ("overall", "austin", "vienna")
    ]
    for figure in ("fig7_miou_per_click.png", "fig8_gain_per_click.png"):
        height, width, _ = imread(out / figure).shape
        assert height > 300 and width > 600
    assert not list(out.glob(".*tmp"))


def test_default_zoom_in_and_flip_with_limit_cities_and_fewer_clicks(
    prepared, checkpoints, tmp_path
):
    out = tmp_path / "report"
    args = ["--checkpoint", str(checkpoints[0]), "--data", str(prepared), "--out", str(out)]
    args += ["--cities", "vienna", "--limit", "1", "--max-clicks", "2", "--device", "cpu"]
    assert main(args) == 0

    model = json.loads((out / "metrics.json").read_text())["itermask"]
    assert tuple(model["overall"]) == metric_keys(2)
    assert (model["overall"]["crops"], model["overall"]["empty_dropped"]) == (1, 0)
    assert len(model["overall"]["mIoU_per_click"]) == 2
    assert list(model["per_city"]) == ["vienna"]
    table = (out / "table.md").read_text()
    assert "- ZoomIn: True" in table and "- flip: True" in table


def test_same_file_stem_in_two_folders_is_told_apart(prepared, checkpoints, tmp_path):
    other = tmp_path / "run2"
    other.mkdir()
    copy = other / "itermask.pth"
    copy.write_bytes(checkpoints[0].read_bytes())
    out = tmp_path / "report"
    args = ["--checkpoint", str(checkpoints[0]), "--checkpoint", str(copy), "--limit", "1"]
    assert (
        main([*args, "--data", str(prepared), "--out", str(out), "--max-clicks", "1", *FAST]) == 0
    )
    names = list(json.loads((out / "metrics.json").read_text()))
    assert names == [f"{checkpoints[0].parent.name}/itermask", "run2/itermask"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--data": "missing"}, "no manifest"),
        ({"--split": "val"}, "unknown split 'val'"),
        ({"--cities": "austin,paris"}, r"unknown cities \['paris'\]"),
        ({"--checkpoint": "garbage.pth"}, "garbage.pth"),
        ({"--checkpoint": "absent.pth"}, "does not exist"),
    ],
)
def test_bad_input_exits_with_a_clear_message(
    prepared, checkpoints, tmp_path, capsys, change, message
):
    (tmp_path / "garbage.pth").write_bytes(b"not a checkpoint")
    options = {"--checkpoint": str(checkpoints[0]), "--data": str(prepared), "--split": "test"}
    for key, value in change.items():
        options[key] = value if key in ("--split", "--cities") else str(tmp_path / value)
    out = tmp_path / "report"
    argv = [item for pair in options.items() for item in pair]
    assert main([*argv, "--out", str(out), *FAST]) == 2
    err = capsys.readouterr().err
    assert err.startswith("isegsat-eval: error:")
    assert err.count("\n") == 1

    assert re.search(message, err)
    assert not out.exists()


def test_report_folder_that_is_a_file_is_refused_before_evaluating(
    prepared, checkpoints, tmp_path, capsys
):
    out = tmp_path / "report.md"
    out.write_text("not a folder")
    args = ["--checkpoint", str(checkpoints[0]), "--data", str(prepared), "--out", str(out)]
    assert main([*args, *FAST]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_limit_must_be_positive(prepared, checkpoints, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(
            [
                "--checkpoint",
                str(checkpoints[0]),
                "--data",
                str(prepared),
                "--out",
                "x",
                "--limit",
                "0",
            ]
        )
    assert "must be >= 1" in capsys.readouterr().err
