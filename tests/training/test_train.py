"""Training: config, iterative clicks, the CLI end to end on CPU (HRNet18s, tiny crops)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from isegsat.inference import build_model, load_checkpoint, load_model, save_checkpoint
from isegsat.training.config import TrainConfig, config_from_dict, load_config, save_config
from isegsat.training.iterative import next_training_points, simulate_clicks
from isegsat.training.train_cli import main
from isegsat.training.trainer import Trainer, initial_model, load_backbone_weights, param_groups

QUICK = [
    "--preset", "scratch", "--arch", "hrnet18s", "--crop-size", "64", "64",
    "--batch-size", "2", "--workers", "0", "--epoch-len", "4", "--seed", "1",
]  # fmt: skip


def _config(prepared_crops: Path, **values) -> TrainConfig:
    base = dict(
        preset="scratch", data=str(prepared_crops), arch="hrnet18s", crop_size=[64, 64],
        batch_size=2, workers=0, epoch_len=4, val_every=0,
    )  # fmt: skip
    return config_from_dict({**base, **values})


# --- config -------------------------------------------------------------------------------


def test_config_presets_yaml_round_trip_and_unknown_keys(tmp_path: Path) -> None:
    config = config_from_dict({"preset": "scratch", "data": "d", "lr": 1e-4})
    assert (config.epochs, config.milestones, config.lr) == (230, [200, 215], 1e-4)
    assert config_from_dict({"preset": "finetune"}).epochs == 30
    assert not config_from_dict({"preset": "baseline"}).interactive
    save_config(config, tmp_path / "c.yaml")
    assert config_from_dict(load_config(tmp_path / "c.yaml")) == config
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({"lr": 1e-3, "learning_rate": 1}))
    with pytest.raises(ValueError, match="learning_rate"):
        load_config(tmp_path / "bad.yaml")
    with pytest.raises(ValueError, match="arch"):
        TrainConfig(arch="resnet50")


def test_training_imports_no_rasterio() -> None:
    """The GPU machines that train have no rasterio: only isegsat-prepare may import it."""
    code = (
        "import sys; sys.modules['rasterio'] = None; "
        "import isegsat.training.trainer, isegsat.training.train_cli, isegsat.training.dataset"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# --- iterative clicks ---------------------------------------------------------------------


def test_next_click_lands_inside_the_larger_error_region() -> None:
    target = torch.zeros(2, 1, 40, 40)
    target[:, :, 5:35, 5:35] = 1
    prob = torch.zeros(2, 1, 40, 40)
    prob[0, :, 5:35, 5:20] = 0.9  # sample 0: the right half of the object is missed
    prob[1] = target[1] * 0.9
    prob[1, :, 0:3, :] = 0.9  # sample 1: a thin false positive strip only
    points = torch.full((2, 6, 3), -1.0)
    points[:, 0] = torch.tensor([10.0, 10.0, 0.0])
    rng = np.random.default_rng(0)
    for _ in range(20):
        new = next_training_points(prob, target, points, 1, rng)
        y, x, index = new[0, 2].tolist()  # positive group (rows 0-2), last row
        assert target[0, 0, int(y), int(x)] == 1 and prob[0, 0, int(y), int(x)] < 0.49
        assert 20 <= x < 35 and index == 1
        y, x, _ = new[1, 5].tolist()  # negative group, last row
        assert y < 3 and target[1, 0, int(y), int(x)] == 0
        torch.testing.assert_close(new[:, [0, 1, 3, 4]], points[:, [0, 1, 3, 4]])
    perfect = next_training_points(target, target, points, 1, rng)
    torch.testing.assert_close(perfect, points)


def test_simulate_clicks_feeds_back_predictions_in_eval_mode() -> None:
    torch.manual_seed(0)
    model = build_model("hrnet18s").train()
    images = torch.rand(2, 3, 32, 32)
    target = torch.zeros(2, 1, 32, 32)
    target[:, :, 8:24, 8:24] = 1
    points = torch.full((2, 4, 3), -1.0)
    points[:, 0] = torch.tensor([16.0, 16.0, 0.0])
    prev, same = simulate_clicks(model, images, target, points, 0, np.random.default_rng(0))
    assert (prev == 0).all() and same is points
    prev, new = simulate_clicks(model, images, target, points, 2, np.random.default_rng(0))
    assert model.training and prev.shape == (2, 1, 32, 32)
    assert float(prev.min()) > 0 and float(prev.max()) < 1
    assert (new[:, :, 2] >= 1).sum() >= 1  # clicks with index 1 or 2 were added


def test_random_backbone_trains_at_full_rate_pretrained_at_a_tenth(tmp_path: Path) -> None:
    scratch = TrainConfig(preset="scratch", arch="hrnet18s", data="x")
    model, _ = initial_model(scratch)
    assert {g["lr"] for g in param_groups(model, lr=5e-4)} == {5e-4}
    weights = tmp_path / "imagenet.pth"
    torch.save(build_model("hrnet18s").feature_extractor.state_dict(), weights)
    pretrained = TrainConfig(
        preset="scratch", arch="hrnet18s", data="x", backbone_weights=str(weights)
    )
    model, _ = initial_model(pretrained)
    assert [g["lr"] for g in param_groups(model, lr=5e-4)] == pytest.approx([5e-5, 5e-4])
    forced = TrainConfig(preset="scratch", arch="hrnet18s", data="x", backbone_lr_mult=0.5)
    model, _ = initial_model(forced)
    assert [g["lr"] for g in param_groups(model, lr=5e-4)] == pytest.approx([2.5e-4, 5e-4])


def test_param_groups_follow_ritm_lr_mult_and_backbone_weights_load(tmp_path: Path) -> None:
    model = build_model("hrnet18s")
    groups = param_groups(model, lr=5e-4)
    assert [g["lr"] for g in groups] == pytest.approx([5e-5, 5e-4])
    backbone = {id(p) for p in model.feature_extractor.layer1.parameters()}
    assert backbone <= {id(p) for p in groups[0]["params"]}
    transform = {id(p) for p in model.maps_transform.parameters()}
    assert transform <= {id(p) for p in groups[1]["params"]}
    donor = build_model("hrnet18").feature_extractor.state_dict()
    imagenet = {f"module.{k}": v for k, v in donor.items() if not k.startswith("ocr")}
    imagenet["classifier.weight"] = torch.zeros(1000, 2048)
    torch.save(imagenet, tmp_path / "hrnet_w18_imagenet.pth")
    matched, total = load_backbone_weights(model, tmp_path / "hrnet_w18_imagenet.pth")
    assert 0 < matched < total  # hrnet18s has half the blocks; OCR heads are not in ImageNet
    torch.testing.assert_close(model.feature_extractor.conv1.weight, donor["conv1.weight"])


# --- end to end ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def quick_run(prepared_crops: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One epoch of two steps on CPU, validation on two crops."""
    run_dir = tmp_path_factory.mktemp("run") / "quick"
    args = ["--data", str(prepared_crops), "--out", str(run_dir), *QUICK, "--epochs", "1"]
    assert main([*args, "--val-every", "1", "--config", str(_val_config(run_dir.parent))]) == 0
    return run_dir


def _val_config(folder: Path) -> Path:
    path = folder / "settings.yaml"
    path.write_text(yaml.safe_dump({"val_samples": 2, "max_num_next_clicks": 1}))
    return path


def test_quick_run_writes_ritm_checkpoints_config_and_logs(quick_run: Path) -> None:
    for name in ("last.pth", "epoch_1.pth", "train_state.pt", "config.yaml"):
        assert (quick_run / name).is_file(), name
    assert any((quick_run / "tb").iterdir())
    raw = torch.load(quick_run / "last.pth", map_location="cpu", weights_only=True)
    assert raw["config"]["class"] == "isegm.model.is_hrnet_model.HRNetModel"
    model, metadata = load_checkpoint(quick_run / "last.pth")
    assert metadata["architecture"] == "hrnet18s" and metadata["preset"] == "scratch"
    assert metadata["epochs"] == 1 and metadata["global_step"] == 2
    assert metadata["interactive"] is True and np.isfinite(metadata["final_loss"])
    assert set(metadata["val"]) == {"loss", "iou"}
    assert not load_model(quick_run / "last.pth", device="cpu").training
    saved = load_config(quick_run / "config.yaml")
    assert saved["val_samples"] == 2 and saved["crop_size"] == [64, 64]


def test_resume_continues_from_the_saved_epoch(quick_run: Path) -> None:
    before, _ = load_checkpoint(quick_run / "epoch_1.pth")
    assert main(["--resume", str(quick_run), "--epochs", "2", "--val-every", "0"]) == 0
    state = torch.load(quick_run / "train_state.pt", map_location="cpu", weights_only=True)
    assert (state["epoch"], state["global_step"]) == (2, 4)
    assert state["optimizer"]["state"]  # Adam moments carried over
    after, metadata = load_checkpoint(quick_run / "epoch_2.pth")
    assert metadata["epochs"] == 2
    assert not torch.equal(before.maps_transform[0].weight, after.maps_transform[0].weight)
    assert main(["--resume", str(quick_run), "--lr", "0.1"]) == 2  # only schedule-like overrides


def test_cli_errors_are_clear(prepared_crops: Path, tmp_path: Path, capsys) -> None:
    out = str(tmp_path / "run")
    assert main(["--data", str(tmp_path), "--out", out, *QUICK]) == 2
    assert "isegsat-prepare" in capsys.readouterr().err
    assert main(["--data", str(prepared_crops), "--out", out, "--preset", "finetune"]) == 2
    assert "--weights" in capsys.readouterr().err
    (tmp_path / "broken.pth").write_bytes(b"not a checkpoint")
    finetune = ["--preset", "finetune", "--weights", str(tmp_path / "broken.pth")]
    assert main(["--data", str(prepared_crops), "--out", out, *finetune]) == 2
    assert "broken.pth" in capsys.readouterr().err


def test_finetune_keeps_the_checkpoint_architecture_and_baseline_is_flagged(
    prepared_crops: Path, tmp_path: Path
) -> None:
    torch.manual_seed(0)
    save_checkpoint(build_model("hrnet18s"), tmp_path / "start.pth")
    config = _config(
        prepared_crops, preset="finetune", arch="hrnet32", weights=str(tmp_path / "start.pth"),
        max_iters=1, epochs=1,
    )  # fmt: skip
    Trainer(config, tmp_path / "ft").fit()
    _, metadata = load_checkpoint(tmp_path / "ft" / "last.pth")
    assert metadata["architecture"] == "hrnet18s" and metadata["preset"] == "finetune"
    baseline = _config(prepared_crops, preset="baseline", max_iters=1, epochs=1)
    Trainer(baseline, tmp_path / "base").fit()
    _, metadata = load_checkpoint(tmp_path / "base" / "last.pth")
    assert metadata["interactive"] is False


def test_loss_falls_over_a_short_cpu_run(prepared_crops: Path, tmp_path: Path) -> None:
    config = _config(
        prepared_crops, crop_size=[80, 80], batch_size=4, epoch_len=120, epochs=1, max_iters=30,
        lr=1e-3, max_num_next_clicks=0,
    )  # fmt: skip
    losses = Trainer(config, tmp_path / "run").fit().losses
    assert len(losses) == 30
    assert np.mean(losses[-5:]) < np.mean(losses[:5])
