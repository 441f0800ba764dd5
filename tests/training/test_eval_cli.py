"""isegsat-eval end to end on a tiny prepared folder with random-init HRNet18s checkpoints."""

import contextlib
import csv
import io
import json
import re

import pytest
import torch
from eval_fixtures import real_set_crops, small_city_set, write_prepared_dir
from matplotlib.image import imread

from isegsat.inference import build_model, save_checkpoint
from isegsat.inference.precision import is_supported
from isegsat.inference.zoom_in import OBJECT_REFINE_RATIO
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
    assert list(metrics["itermask"]) == ["protocol", "overall", "per_city"]
    assert metrics["itermask"]["protocol"] == "tile"
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
    assert stdout.startswith("# Interactive segmentation evaluation: tile protocol")


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


@pytest.fixture(scope="module")
def real_sets(tmp_path_factory):
    """Two prepared real sets with small non-square crops, held out as ``val``."""
    root = tmp_path_factory.mktemp("real")
    crowdai = real_set_crops("crowdai", [(40, 56), (48, 48), (48, 48)], seed=10)
    dubai = real_set_crops("dubai_hitl", [(56, 44), (36, 60), (48, 48)], seed=20)
    return write_prepared_dir(root / "crowdai", crowdai), write_prepared_dir(root / "dubai", dubai)


def run_quietly(argv):
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        assert main(argv) == 0
    return stdout.getvalue()


def test_several_data_folders_val_split_reported_per_set(real_sets, checkpoints, tmp_path):
    out = tmp_path / "report"
    args = ["--checkpoint", str(checkpoints[0]), "--data", *map(str, real_sets)]
    run_quietly([*args, "--split", "val", "--out", str(out), "--max-clicks", "3", *FAST])

    model = json.loads((out / "metrics.json").read_text())["itermask"]
    assert model["protocol"] == "tile"
    assert list(model["per_city"]) == ["crowdai", "dubai_hitl"]
    assert [b["crops"] for b in model["per_city"].values()] == [2, 2]
    assert model["overall"]["crops"] == 4
    assert tuple(model["overall"]) == metric_keys(3)
    with (out / "per_sample.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert {r["crop_id"] for r in rows} == {
        "crowdai_img0_r0_c0",
        "crowdai_img1_r0_c0",
        "dubai_hitl_img0_r0_c0",
        "dubai_hitl_img1_r0_c0",
    }
    assert {r["protocol"] for r in rows} == {"tile"}


def test_object_protocol_end_to_end(real_sets, checkpoints, tmp_path):
    out = tmp_path / "report"
    args = ["--checkpoint", str(checkpoints[0]), "--data", *map(str, real_sets)]
    args += ["--split", "val", "--out", str(out), "--protocol", "object", "--per-city", "1"]
    stdout = run_quietly([*args, "--max-objects-per-crop", "1", "--max-clicks", "3", *FAST])

    model = json.loads((out / "metrics.json").read_text())["itermask"]
    assert model["protocol"] == "object"
    overall = model["overall"]
    assert tuple(overall) == metric_keys(3, "object")
    assert overall["objects"] == overall["crops"] == 2  # one building of one crop per set
    assert len(overall["mIoU_per_click"]) == 3
    assert 1.0 <= overall["NoC3@80"] <= overall["NoC3@90"] <= 3.0
    assert 0.0 <= overall["IoU@1"] <= 1.0 and 0.0 <= overall["IoU@3"] <= 1.0
    assert [b["objects"] for b in model["per_city"].values()] == [1, 1]
    assert stdout.startswith("# Interactive segmentation evaluation: object protocol")
    assert "| Model | NoC3@80 | NoC3@85 | NoC3@90 | >=3@85 | IoU@1 | IoU@3 |" in stdout
    with (out / "per_sample.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == overall["objects"]
    assert all(r["object"] != "" and r["iou_3"] != "" for r in rows)
    assert "- max objects per crop: 1" in (out / "table.md").read_text()
    assert "- object mask: the clicked building" in (out / "table.md").read_text()

    whole = tmp_path / "whole"
    args[args.index(str(out))] = str(whole)
    run_quietly(
        [*args, "--max-objects-per-crop", "1", "--max-clicks", "3", "--whole-prediction"]
        + ["--no-flip", "--device", "cpu"]
    )
    table = (whole / "table.md").read_text()
    assert "- object mask: every blob of the prediction" in table
    refined = f"first click refined on its blob x{OBJECT_REFINE_RATIO:g}"
    assert f"- ZoomIn: object mode's ({refined}" in table


def test_relabel_protocol_end_to_end_and_reproducible(real_sets, checkpoints, tmp_path):
    def relabel(out, seed, clicks):
        args = ["--checkpoint", str(checkpoints[0]), "--data", str(real_sets[0]), "--limit", "1"]
        args += ["--split", "val", "--out", str(out), "--protocol", "relabel"]
        run_quietly([*args, "--max-clicks", str(clicks), "--seed", str(seed), *FAST])
        return json.loads((out / "metrics.json").read_text())["itermask"]

    first = relabel(tmp_path / "a", seed=3, clicks=3)
    assert first["protocol"] == "relabel"
    overall = first["overall"]
    assert tuple(overall) == metric_keys(3, "relabel")
    assert 0.0 < overall["IoU@0"] < 1.0
    assert overall["IoU_gain@3"] == pytest.approx(overall["mIoU_per_click"][2] - overall["IoU@0"])
    assert 0.0 <= overall["worsening_click_share"] <= 1.0
    assert relabel(tmp_path / "b", seed=3, clicks=1)["overall"]["IoU@0"] == overall["IoU@0"]
    with (tmp_path / "a" / "per_sample.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert float(rows[0]["iou_0"]) > 0 and "NoC@85" in rows[0] and "NoC@80" not in rows[0]
    table = (tmp_path / "a" / "table.md").read_text()
    assert table.startswith("# Interactive segmentation evaluation: relabel protocol")
    assert "- seed: 3" in table


def test_baseline_is_refused_outside_the_tile_protocol(real_sets, checkpoints, tmp_path, capsys):
    args = ["--checkpoint", str(checkpoints[1]), "--data", str(real_sets[0]), "--split", "val"]
    assert main([*args, "--out", str(tmp_path / "r"), "--protocol", "relabel", *FAST]) == 2
    assert "needs an interactive one" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_the_same_folder_twice_is_refused(real_sets, checkpoints, tmp_path, capsys):
    folder = str(real_sets[0])
    args = ["--checkpoint", str(checkpoints[0]), "--data", folder, folder, "--split", "val"]
    assert main([*args, "--out", str(tmp_path / "r"), *FAST]) == 2
    assert "more than once" in capsys.readouterr().err


@pytest.mark.skipif(
    not is_supported("bf16", torch.device("cpu")), reason="this CPU has no AVX-512 BF16/AMX"
)
def test_precisions_are_compared_in_one_table(real_sets, checkpoints, tmp_path, capsys):
    out = tmp_path / "r"
    args = ["--checkpoint", str(checkpoints[0]), "--data", str(real_sets[0]), "--split", "val"]
    assert main([*args, "--out", str(out), "--max-clicks", "3", "--precision", "fp32", "bf16",
                 *FAST]) == 0  # fmt: skip
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics) == ["itermask@fp32", "itermask@bf16"]
    assert "- precision: fp32, bf16" in (out / "table.md").read_text()


def test_a_format_the_machine_lacks_or_a_baseline_in_bf16_is_refused(
    real_sets, checkpoints, tmp_path, capsys
):
    args = ["--data", str(real_sets[0]), "--split", "val", "--out", str(tmp_path / "r"), *FAST]
    assert main(["--checkpoint", str(checkpoints[1]), *args, "--precision", "bf16"]) == 2
    refused = capsys.readouterr().err
    if is_supported("bf16", torch.device("cpu")):
        assert "evaluated in fp32 only" in refused
    else:
        assert "use --precision fp32 or auto" in refused
    assert not (tmp_path / "r").exists()


def test_relabel_from_a_draft_starts_from_the_baseline_s_own_mask(real_sets, checkpoints, tmp_path):
    interactive, baseline = (str(c) for c in checkpoints)
    data = ["--data", str(real_sets[0]), "--split", "val", "--limit", "2", *FAST]
    run_quietly(["--checkpoint", baseline, "--out", str(tmp_path / "alone"), *data])
    alone = json.loads((tmp_path / "alone" / "metrics.json").read_text())["baseline"]["overall"]
    args = ["--checkpoint", interactive, "--protocol", "relabel", "--max-clicks", "2"]
    run_quietly([*args, "--draft", baseline, "--out", str(tmp_path / "draft"), *data])
    drafted = json.loads((tmp_path / "draft" / "metrics.json").read_text())["itermask"]["overall"]
    assert drafted["IoU@0"] == pytest.approx(alone["Avg20_IoU"])  # the draft's own IoU
    assert "- starting label: mask of" in (tmp_path / "draft" / "table.md").read_text()


def test_a_draft_outside_relabel_or_an_interactive_draft_is_refused(
    real_sets, checkpoints, tmp_path, capsys
):
    interactive, baseline = (str(c) for c in checkpoints)
    args = ["--checkpoint", interactive, "--data", str(real_sets[0]), "--split", "val", *FAST]
    assert main([*args, "--draft", baseline, "--out", str(tmp_path / "t")]) == 2
    assert "option of the relabel protocol" in capsys.readouterr().err
    relabel = [*args, "--protocol", "relabel", "--out", str(tmp_path / "r")]
    assert main([*relabel, "--draft", interactive]) == 2
    assert "needs a non-interactive one" in capsys.readouterr().err
    assert not (tmp_path / "t").exists() and not (tmp_path / "r").exists()
