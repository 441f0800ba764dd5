"""HRNetModel: RITM-identical layout, calling convention, click disks, BatchNorm folding."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from isegsat.inference import ARCHITECTURES, HRNetModel, build_model, save_checkpoint
from isegsat.inference.fuse import fuse_for_inference
from isegsat.inference.model import DistMaps

# Figures of RITM's released IT-M models (state-dict entries incl. BN counters; parameters).
RITM_SIZES = {
    "hrnet18": (1895, 10_032_019),
    "hrnet18s": (929, 4_220_047),
    "hrnet32": (1895, 30_951_363),
}
BACKBONE_PARTS = {
    "conv1",
    "bn1",
    "conv2",
    "bn2",
    "layer1",
    "transition1",
    "transition2",
    "transition3",
    "stage2",
    "stage3",
    "stage4",
    "conv3x3_ocr",
    "ocr_distri_head",
    "cls_head",
    "aux_head",
}


def _points(rows: list[list[float]]) -> torch.Tensor:
    return torch.tensor([rows], dtype=torch.float32)


def _randomise_batchnorm(model: nn.Module, seed: int = 0) -> None:
    """Non-trivial BN statistics, as in a trained model, so folding is really exercised."""
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            n = module.num_features
            module.running_mean.copy_(torch.rand(n, generator=generator) - 0.5)
            module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
            with torch.no_grad():
                module.weight.copy_(torch.rand(n, generator=generator) + 0.5)
                module.bias.copy_(torch.rand(n, generator=generator) * 0.4 - 0.2)


@pytest.fixture(scope="module")
def small_model() -> HRNetModel:
    torch.manual_seed(0)
    model = build_model("hrnet18s")
    _randomise_batchnorm(model)
    with torch.no_grad():  # weigh the click maps like a trained model rather than at init (0.05)
        model.maps_transform[3].scale.fill_(1.0)
    return model.eval()


@pytest.fixture(scope="module")
def image() -> torch.Tensor:
    """(1, 4, 64, 96): a bright square on a dark background, previous mask empty."""
    rgb = torch.full((1, 3, 64, 96), 0.2)
    rgb[:, :, 20:44, 30:60] = torch.tensor([0.8, 0.7, 0.6]).view(1, 3, 1, 1)
    return torch.cat([rgb, torch.zeros(1, 1, 64, 96)], dim=1)


@pytest.mark.parametrize("arch", sorted(RITM_SIZES))
def test_entry_and_parameter_counts_match_ritm(arch: str) -> None:
    model = build_model(arch)
    entries, parameters = RITM_SIZES[arch]
    assert len(model.state_dict()) == entries
    assert sum(p.numel() for p in model.parameters()) == parameters


def test_state_dict_names_and_shapes_follow_ritm() -> None:
    state = build_model("hrnet18").state_dict()
    prefixes = {key.split(".")[0] for key in state}
    assert prefixes == {"maps_transform", "feature_extractor"}
    assert {key.split(".")[1] for key in state if key.startswith("feature_extractor")} == (
        BACKBONE_PARTS
    )
    expected_shapes = {
        "maps_transform.0.weight": (16, 3, 1, 1),
        "maps_transform.2.weight": (64, 16, 3, 3),
        "maps_transform.3.scale": (1,),
        "feature_extractor.conv1.weight": (64, 3, 3, 3),
        "feature_extractor.layer1.0.downsample.0.weight": (256, 64, 1, 1),
        "feature_extractor.transition1.0.0.weight": (18, 256, 3, 3),
        "feature_extractor.transition3.3.0.0.weight": (144, 72, 3, 3),
        "feature_extractor.stage4.2.fuse_layers.3.0.2.0.weight": (144, 18, 3, 3),
        "feature_extractor.stage4.2.fuse_layers.0.3.0.weight": (18, 144, 1, 1),
        "feature_extractor.conv3x3_ocr.0.weight": (128, 270, 3, 3),
        "feature_extractor.ocr_distri_head.object_context_block.f_pixel.2.weight": (
            64,
            64,
            1,
            1,
        ),
        "feature_extractor.ocr_distri_head.conv_bn_dropout.1.0.running_var": (128,),
        "feature_extractor.cls_head.weight": (1, 128, 1, 1),
        "feature_extractor.aux_head.3.weight": (1, 270, 1, 1),
    }
    for key, shape in expected_shapes.items():
        assert tuple(state[key].shape) == shape, key


def test_learning_rate_multipliers_follow_ritm() -> None:
    model = build_model("hrnet18s")
    extractor = model.feature_extractor
    assert extractor.conv1.weight.lr_mult == 0.1
    assert extractor.cls_head.weight.lr_mult == 0.1
    assert extractor.conv3x3_ocr[0].weight.lr_mult == 1.0
    assert not hasattr(model.maps_transform[0].weight, "lr_mult")


def test_odd_sizes_give_logits_at_input_size(small_model: HRNetModel) -> None:
    image = torch.rand(2, 4, 67, 101)
    points = torch.tensor([[[5, 7, 0], [-1, -1, -1]], [[60, 90, 0], [10, 3, 1]]], dtype=float)
    with torch.inference_mode():
        outputs = small_model(image, points)
    assert set(outputs) == {"instances", "instances_aux"}
    assert outputs["instances"].shape == (2, 1, 67, 101)
    assert outputs["instances_aux"].shape == (2, 1, 67, 101)
    assert torch.isfinite(outputs["instances"]).all()


def test_odd_large_size_333x517(small_model: HRNetModel) -> None:
    with torch.inference_mode():
        logits = small_model(torch.rand(1, 4, 333, 517), _points([[100, 200, 0], [-1, -1, -1]]))
    assert logits["instances"].shape == (1, 1, 333, 517)


def test_disk_maps_mark_radius_5_around_clicks() -> None:
    maps = DistMaps(norm_radius=5, use_disks=True)(
        _points([[10, 12, 0], [3, 3, 2], [15, 4, 1], [-1, -1, -1]]), 21, 25
    )
    yy, xx = torch.meshgrid(torch.arange(21.0), torch.arange(25.0), indexing="ij")
    near_first = (yy - 10) ** 2 + (xx - 12) ** 2 <= 25
    near_second = (yy - 3) ** 2 + (xx - 3) ** 2 <= 25
    near_negative = (yy - 15) ** 2 + (xx - 4) ** 2 <= 25
    assert maps.shape == (1, 2, 21, 25)
    assert torch.equal(maps[0, 0], (near_first | near_second).float())
    assert torch.equal(maps[0, 1], near_negative.float())
    assert maps[0, 0, 10, 17] == 1 and maps[0, 0, 10, 18] == 0  # radius exactly 5 is inside


def test_padding_rows_leave_maps_empty() -> None:
    maps = DistMaps(norm_radius=5, use_disks=True)(_points([[-1, -1, -1], [-1, -1, -1]]), 8, 8)
    assert maps.sum() == 0


def test_distance_maps_without_disks_saturate_away_from_clicks() -> None:
    maps = DistMaps(norm_radius=4, use_disks=False)(_points([[4, 4, 0], [-1, -1, -1]]), 9, 40)
    assert maps[0, 0, 4, 4] == 0
    assert maps[0, 0, 4, 6] == pytest.approx(torch.tanh(torch.tensor(1.0)).item())
    assert maps[0, 0, 4, 39] > 0.999 and torch.all(maps[0, 1] == 1)


def test_clicks_and_previous_mask_change_the_output(
    small_model: HRNetModel, image: torch.Tensor
) -> None:
    no_click = _points([[-1, -1, -1], [-1, -1, -1]])
    click = _points([[32, 45, 0], [-1, -1, -1]])
    with_mask = image.clone()
    with_mask[:, 3, 20:44, 30:60] = 1.0
    with torch.inference_mode():
        base = small_model(image, click)["instances"]
        unclicked = small_model(image, no_click)["instances"]
        masked = small_model(with_mask, click)["instances"]
    assert (base - unclicked).abs().max() > 1e-5  # exactly 0 if ignored
    assert (base - masked).abs().max() > 1e-5  # exactly 0 if ignored


def test_binary_prev_mask_thresholds_the_mask_channel(image: torch.Tensor) -> None:
    torch.manual_seed(0)
    model = build_model("hrnet18s", binary_prev_mask=True).eval()
    soft, hard = image.clone(), image.clone()
    soft[:, 3] = 0.7
    hard[:, 3] = 1.0
    points = _points([[32, 45, 0], [-1, -1, -1]])
    with torch.inference_mode():
        assert torch.equal(model(soft, points)["instances"], model(hard, points)["instances"])


def test_without_aux_output_or_prev_mask() -> None:
    model = build_model("hrnet18s", with_aux_output=False, with_prev_mask=False).eval()
    with torch.inference_mode():
        outputs = model(torch.rand(1, 3, 32, 48), _points([[5, 5, 0], [-1, -1, -1]]))
    assert set(outputs) == {"instances"}
    assert model.maps_transform[0].in_channels == 2


def test_bad_inputs_are_refused(small_model: HRNetModel) -> None:
    points = _points([[5, 5, 0], [-1, -1, -1]])
    with pytest.raises(ValueError, match=r"\(B, 4, H, W\)"):
        small_model(torch.rand(1, 3, 32, 32), points)
    with pytest.raises(ValueError, match=r"\(B, 2N, 3\)"):
        small_model(torch.rand(1, 4, 32, 32), torch.zeros(1, 3, 3))
    with pytest.raises(ValueError, match=r"N >= 1"):
        small_model(torch.rand(1, 4, 32, 32), torch.zeros(1, 0, 3))
    with pytest.raises(ValueError, match="unknown architecture"):
        build_model("hrnet64")
    with pytest.raises(TypeError, match="unknown HRNetModel parameter"):
        build_model("hrnet18s", widht=18)
    with pytest.raises(ValueError, match="clicks_groups"):
        build_model("hrnet18s", clicks_groups=[1, 2])


def test_presets_are_ritm_itermask_configs() -> None:
    assert ARCHITECTURES["hrnet18"]["ocr_width"] == 64
    model = build_model("hrnet18")
    assert model.norm_radius == 5 and model.with_prev_mask and model.with_aux_output


def test_fused_model_matches_and_leaves_original_untouched(
    small_model: HRNetModel, image: torch.Tensor, tmp_path
) -> None:
    before = {k: v.clone() for k, v in small_model.state_dict().items()}
    fused = fuse_for_inference(small_model)
    points = _points([[32, 45, 0], [5, 5, 1], [-1, -1, -1], [60, 90, 2]])
    with torch.inference_mode():
        expected = small_model(image, points)
        actual = fused(image, points)
    for key in expected:
        assert torch.allclose(actual[key], expected[key], atol=1e-4), key
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fused.modules())
    after = small_model.state_dict()
    assert after.keys() == before.keys()
    assert all(torch.equal(after[k], before[k]) for k in before)
    assert fuse_for_inference(fused) is fused
    with pytest.raises(ValueError, match="fused"):
        save_checkpoint(fused, tmp_path / "fused.pth")
