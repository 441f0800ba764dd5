"""Checkpoints: RITM's released format in, our format out (readable by RITM), clear refusals."""

from __future__ import annotations

import errno
import importlib
import os
import stat
from pathlib import Path

import pytest
import torch
from torch import nn

from isegsat.inference import (
    CheckpointError,
    HRNetModel,
    build_model,
    load_checkpoint,
    load_model,
    save_checkpoint,
)
from isegsat.inference.checkpoint import ritm_config
from isegsat.inference.model import RITM_DEFAULTS

# What RITM's `serialize` decorator records for models/iter_mask/*_hrnet18s_*: every constructor
# parameter of HRNetModel and ISModel, classes as dotted names, 'specified' for those passed.
RITM_HRNET18S_PARAMS = {
    "width": ("builtin", 18, True),
    "ocr_width": ("builtin", 48, True),
    "small": ("builtin", True, True),
    "backbone_lr_mult": ("builtin", 0.1, False),
    "norm_layer": ("class", "torch.nn.modules.batchnorm.BatchNorm2d", False),
    "use_rgb_conv": ("builtin", False, True),
    "with_aux_output": ("builtin", True, True),
    "norm_radius": ("builtin", 5, True),
    "use_disks": ("builtin", True, True),
    "cpu_dist_maps": ("builtin", False, False),
    "clicks_groups": ("builtin", None, False),
    "with_prev_mask": ("builtin", True, True),
    "use_leaky_relu": ("builtin", True, True),
    "binary_prev_mask": ("builtin", False, False),
    "conv_extend": ("builtin", False, False),
    "norm_mean_std": ("builtin", ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]), False),
}


class NotPlainData:
    """Stands for any pickled object: loading it would run code, so it must be refused."""


def _ritm_checkpoint(model: HRNetModel) -> dict:
    params = {
        name: {"type": kind, "value": value, "specified": specified}
        for name, (kind, value, specified) in RITM_HRNET18S_PARAMS.items()
    }
    params["some_future_flag"] = {"type": "builtin", "value": 3, "specified": False}
    return {
        "state_dict": model.state_dict(),
        "config": {"class": "isegm.model.is_hrnet_model.HRNetModel", "params": params},
    }


def _ritm_loader_kwargs(config: dict) -> dict:
    """RITM's `isegm.utils.serialization.load_model` decisions, against HRNetModel's signature."""
    kwargs = {}
    for name, param in config["params"].items():
        value = param["value"]
        if param["type"] == "class":
            module_name, class_name = value.rsplit(".", 1)
            value = getattr(importlib.import_module(module_name), class_name)
        if name not in RITM_DEFAULTS and not param["specified"]:
            continue
        assert name in RITM_DEFAULTS, f"RITM would fail on unknown parameter {name}"
        if not param["specified"] and RITM_DEFAULTS[name] == value:
            continue
        kwargs[name] = value
    return kwargs


def _trained_looking(model: HRNetModel, seed: int = 0) -> HRNetModel:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.copy_(tensor + 0.01 * torch.randn(tensor.shape, generator=generator))
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_var.abs_().add_(0.5)
    return model.eval()


@pytest.fixture(scope="module")
def source_model() -> HRNetModel:
    torch.manual_seed(1)
    return _trained_looking(build_model("hrnet18s"))


@pytest.fixture(scope="module")
def inputs() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(2)
    image = torch.rand(1, 4, 64, 96, generator=generator)
    image[:, 3] = (image[:, 3] > 0.5).float()
    points = torch.tensor([[[30, 40, 0], [-1, -1, -1], [10, 80, 1], [-1, -1, -1]]], dtype=float)
    return image, points


def _logits(model: HRNetModel, inputs: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    with torch.inference_mode():
        return model(*inputs)["instances"]


@pytest.fixture
def ritm_file(tmp_path: Path, source_model: HRNetModel) -> Path:
    path = tmp_path / "coco_lvis_h18s_itermask.pth"
    torch.save(_ritm_checkpoint(source_model), path)
    return path


def test_ritm_checkpoint_loads_with_identical_outputs(
    ritm_file: Path, source_model: HRNetModel, inputs
) -> None:
    model = load_model(ritm_file, device="cpu")
    assert not model.training
    assert next(model.parameters()).device == torch.device("cpu")
    assert model.norm_radius == 5 and model.with_prev_mask
    assert torch.equal(_logits(model, inputs), _logits(source_model, inputs))


def test_data_parallel_prefix_is_accepted(tmp_path: Path, source_model: HRNetModel, inputs) -> None:
    checkpoint = _ritm_checkpoint(source_model)
    checkpoint["state_dict"] = {f"module.{k}": v for k, v in checkpoint["state_dict"].items()}
    torch.save(checkpoint, tmp_path / "data_parallel.pth")
    model = load_model(tmp_path / "data_parallel.pth", device="cpu")
    assert torch.equal(_logits(model, inputs), _logits(source_model, inputs))


def test_ritm_checkpoint_metadata_names_the_architecture(ritm_file: Path) -> None:
    model, metadata = load_checkpoint(ritm_file)
    assert metadata == {"architecture": "hrnet18s"}
    assert model.specified_params == {n for n, p in RITM_HRNET18S_PARAMS.items() if p[2]}


def test_own_checkpoint_round_trip_keeps_outputs_and_metadata(
    tmp_path: Path, source_model: HRNetModel, inputs
) -> None:
    path = save_checkpoint(
        source_model,
        tmp_path / "inria_hrnet18s.pth",
        {"training_data": "Inria train tiles 6-36", "metrics": {"noc20@90": 14.58}},
    )
    raw = torch.load(path, map_location="cpu", weights_only=True)
    assert set(raw) == {"state_dict", "config", "isegsat"}
    assert raw["config"]["class"] == "isegm.model.is_hrnet_model.HRNetModel"
    model, metadata = load_checkpoint(path)
    assert metadata["architecture"] == "hrnet18s"
    assert metadata["metrics"] == {"noc20@90": 14.58}
    assert metadata["saved_at"].endswith("+00:00")
    assert torch.equal(_logits(model.eval(), inputs), _logits(source_model, inputs))


def test_own_checkpoint_config_is_rebuildable_by_ritm_loader(
    tmp_path: Path, source_model: HRNetModel
) -> None:
    config = torch.load(save_checkpoint(source_model, tmp_path / "m.pth"), weights_only=True)[
        "config"
    ]
    assert set(config["params"]) == set(RITM_DEFAULTS)
    for name, (kind, value, _) in RITM_HRNET18S_PARAMS.items():
        assert config["params"][name]["type"] == kind
        assert config["params"][name]["value"] == value
    rebuilt = HRNetModel(**_ritm_loader_kwargs(config))
    rebuilt.load_state_dict(source_model.state_dict(), strict=True)
    assert ritm_config(rebuilt)["params"]["width"]["value"] == 18


def test_mismatched_state_dict_is_refused_with_key_names(
    tmp_path: Path, source_model: HRNetModel
) -> None:
    checkpoint = _ritm_checkpoint(source_model)
    state = dict(checkpoint["state_dict"])
    del state["maps_transform.3.scale"]
    state["feature_extractor.extra_head.weight"] = torch.zeros(3)
    state["feature_extractor.cls_head.weight"] = torch.zeros(2, 96, 1, 1)
    checkpoint["state_dict"] = state
    path = tmp_path / "broken.pth"
    torch.save(checkpoint, path)
    with pytest.raises(CheckpointError) as raised:
        load_model(path)
    message = str(raised.value)
    assert "1 missing key(s): maps_transform.3.scale" in message
    assert "1 unexpected key(s): feature_extractor.extra_head.weight" in message
    assert "feature_extractor.cls_head.weight (2, 96, 1, 1) != (1, 96, 1, 1)" in message


def test_checkpoint_of_another_width_is_refused(tmp_path: Path, source_model) -> None:
    checkpoint = _ritm_checkpoint(source_model)
    checkpoint["config"]["params"]["width"]["value"] = 32
    path = tmp_path / "wrong_width.pth"
    torch.save(checkpoint, path)
    with pytest.raises(CheckpointError, match=r"mis-shaped .*key\(s\): feature_extractor"):
        load_checkpoint(path)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ({"conv1.weight": torch.zeros(64, 3, 7, 7), "fc.bias": torch.zeros(10)}, "bare state"),
        ({"weights": [1, 2]}, "no 'state_dict'"),
        (torch.zeros(3), "not a checkpoint dict"),
        ({"state_dict": {}}, "no 'config'"),
        ({"state_dict": {}, "config": "HRNet"}, "not a RITM model config"),
        (
            {
                "state_dict": {},
                "config": {"class": "isegm.model.is_deeplab_model.DeeplabModel", "params": {}},
            },
            "DeeplabModel' is not supported",
        ),
        ({"state_dict": {}, "config": NotPlainData()}, "not a readable torch checkpoint"),
    ],
)
def test_foreign_torch_files_are_refused(tmp_path: Path, content, expected: str) -> None:
    path = tmp_path / "foreign.pth"
    torch.save(content, path)
    with pytest.raises(CheckpointError, match=expected):
        load_model(path)


def test_non_checkpoint_files_are_refused(tmp_path: Path, ritm_file: Path) -> None:
    text = tmp_path / "notes.pth"
    text.write_text("not a model\n")
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(ritm_file.read_bytes()[:5000])
    for path, expected in (
        (tmp_path / "missing.pth", "no such file"),
        (tmp_path, "not a file"),
        (text, "not a readable torch checkpoint"),
        (truncated, "not a readable torch checkpoint"),
    ):
        with pytest.raises(CheckpointError, match=expected):
            load_checkpoint(path)


def test_failed_write_leaves_previous_checkpoint_intact(
    tmp_path: Path, source_model: HRNetModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = save_checkpoint(source_model, tmp_path / "model.pth", {"version": 1})
    before = path.read_bytes()

    def disk_full(obj, handle) -> None:
        handle.write(b"PK\x03\x04 partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(source_model, path, {"version": 2})
    assert path.read_bytes() == before
    assert load_checkpoint(path)[1]["version"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pth"]


def test_metadata_must_be_plain_data(tmp_path: Path, source_model: HRNetModel) -> None:
    with pytest.raises(TypeError, match=r"isegsat\['when'\]"):
        save_checkpoint(source_model, tmp_path / "m.pth", {"when": Path("x")})
    assert not any(tmp_path.iterdir())
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save_checkpoint(source_model, tmp_path / "missing" / "m.pth")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA message")
def test_cuda_request_without_cuda_is_clear(ritm_file: Path) -> None:
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        load_model(ritm_file, device="cuda")


@pytest.mark.gpu
def test_load_model_on_cuda(ritm_file: Path, source_model: HRNetModel, inputs) -> None:
    model = load_model(ritm_file, device="cuda")
    with torch.inference_mode():
        logits = model(*(t.cuda() for t in inputs))["instances"].cpu()
    assert torch.allclose(logits, _logits(source_model, inputs), atol=1e-3)


def test_saved_checkpoints_are_readable_by_other_users(tmp_path: Path) -> None:
    path = tmp_path / "shared.pth"
    old_umask = os.umask(0o022)
    try:
        save_checkpoint(build_model("hrnet18s"), path)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
