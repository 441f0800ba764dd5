"""Checkpoints of another architecture and damaged checkpoint files given to isegsat-train
(--weights, --backbone-weights) and isegsat-eval (--checkpoint): exit code 2 and one line naming
the file. (load_checkpoint on such files: tests/inference; the app's dialog:
test_app_bad_input.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from isegsat.inference import CheckpointError, load_checkpoint
from isegsat.resources.synth import write_inria_layout
from isegsat.training import eval_cli, train_cli
from isegsat.training.prepare import inria_pairs, prepare

KINDS = ("resnet18", "deeplab", "text", "truncated")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """isegsat-prepare output of one synthetic city: 6 tiles of 96 px, tile 6 in train."""
    root = tmp_path_factory.mktemp("inria")
    write_inria_layout(root, tiles_per_city=6, size=96, seed=2, cities=("tyrol-w",))
    out = tmp_path_factory.mktemp("prepared")
    prepare(inria_pairs(root), out, crop=96, workers=1)
    return out


def foreign_checkpoint(kind: str, folder: Path, hrnet_checkpoint: Path) -> Path:
    """A .pth the HRNet loaders must refuse: another architecture or a damaged file."""
    path = folder / f"{kind}.pth"
    if kind == "resnet18":
        torchvision = pytest.importorskip("torchvision")
        torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)
    elif kind == "deeplab":
        state = {"feature_extractor.backbone.conv1.weight": torch.zeros(64, 3, 7, 7)}
        config = {"class": "isegm.model.is_deeplab_model.DeeplabModel", "params": {}}
        torch.save({"state_dict": state, "config": config}, path)
    elif kind == "text":
        path.write_text("model weights: see the wiki\n")
    else:
        path.write_bytes(hrnet_checkpoint.read_bytes()[:100_000])
    return path


EXPECTED = {
    "resnet18": "bare state dict",
    "deeplab": "DeeplabModel' is not supported",
    "text": "not a readable torch checkpoint",
    "truncated": "not a readable torch checkpoint",
}


def one_line_error(err: str, prog: str, name: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{prog}: error: "), err
    assert name in lines[0] and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("kind", KINDS)
def test_load_checkpoint_names_the_problem(tmp_path, hrnet_checkpoint, kind):
    bad = foreign_checkpoint(kind, tmp_path, hrnet_checkpoint)
    with pytest.raises(CheckpointError, match=EXPECTED[kind]):
        load_checkpoint(bad)


@pytest.mark.parametrize("kind", KINDS)
def test_train_finetune_from_a_foreign_checkpoint_exits_with_one_line(
    tmp_path, capsys, prepared, hrnet_checkpoint, kind
):
    bad = foreign_checkpoint(kind, tmp_path, hrnet_checkpoint)
    out = tmp_path / "run"
    argv = ["--data", str(prepared), "--out", str(out), "--preset", "finetune"]
    argv += ["--weights", str(bad), "--device", "cpu", "--workers", "0"]
    assert train_cli.main(argv) == 2
    line = one_line_error(capsys.readouterr().err, "isegsat-train", bad.name)
    assert EXPECTED[kind] in line
    assert not (out / "last.pth").exists()


@pytest.mark.parametrize("kind", ["text", "truncated"])
def test_train_with_damaged_backbone_weights_exits_with_one_line(
    tmp_path, capsys, prepared, hrnet_checkpoint, kind
):
    bad = foreign_checkpoint(kind, tmp_path, hrnet_checkpoint)
    argv = ["--data", str(prepared), "--out", str(tmp_path / "run"), "--preset", "scratch"]
    argv += ["--backbone-weights", str(bad), "--device", "cpu", "--workers", "0"]
    assert train_cli.main(argv) == 2
    one_line_error(capsys.readouterr().err, "isegsat-train", bad.name)


@pytest.mark.parametrize("kind", KINDS)
def test_eval_of_a_foreign_checkpoint_exits_with_one_line(
    tmp_path, capsys, prepared, hrnet_checkpoint, kind
):
    bad = foreign_checkpoint(kind, tmp_path, hrnet_checkpoint)
    out = tmp_path / "report"
    argv = ["--checkpoint", str(bad), "--data", str(prepared), "--out", str(out)]
    assert eval_cli.main([*argv, "--device", "cpu", "--max-clicks", "1"]) == 2
    line = one_line_error(capsys.readouterr().err, "isegsat-eval", bad.name)
    assert EXPECTED[kind] in line
    assert not out.exists()
