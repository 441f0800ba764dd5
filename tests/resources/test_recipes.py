"""The default model's recipe: every stage's config is a valid TrainConfig and the stages chain."""

from __future__ import annotations

from pathlib import Path

import pytest

from isegsat.training.config import TrainConfig, config_from_dict, load_config

RECIPES = Path(__file__).resolve().parents[2] / "resources" / "recipes"
STAGES = ("train_real.yaml", "train_real_stage2.yaml", "train_real_stage3.yaml")


def recipe(name: str) -> TrainConfig:
    """The validated TrainConfig of ``resources/recipes/<name>``."""
    return config_from_dict(load_config(RECIPES / name), source=name)


@pytest.mark.parametrize("name", STAGES)
def test_each_stage_is_a_valid_training_config(name: str) -> None:
    config = recipe(name)
    assert config.preset == "finetune" and config.weights
    assert all(0 < m <= config.epochs for m in config.milestones)


def test_each_stage_starts_from_the_previous_stage_s_last_epoch() -> None:
    configs = [recipe(n) for n in STAGES]
    assert configs[1].weights == "run_real/last.pth"
    assert configs[2].weights == f"run_real2/epoch_{configs[1].epochs}.pth"
    assert {tuple(c.data) for c in configs} == {tuple(configs[0].data)}  # the same data mix
    assert len({c.seed for c in configs}) == 3


def test_the_pre_labelling_model_is_a_baseline_from_the_last_stage() -> None:
    config = recipe("train_baseline.yaml")
    assert config.preset == "baseline" and not config.interactive
    assert config.weights == "run_real3/last.pth" and config.target == "all"


def test_the_tile_mode_model_trains_every_building_with_clicks_from_the_pre_labeller() -> None:
    config = recipe("train_real_tile.yaml")
    prelabel = recipe("train_baseline_stage2.yaml")
    stage3 = recipe(STAGES[-1])
    assert config.preset == "finetune" and config.interactive and not prelabel.interactive
    assert config.weights == "run_baseline2/last.pth" and config.target == "all"
    assert config.data == stage3.data and config.relabel_prob > stage3.relabel_prob


def test_the_object_mode_stages_chain_on_one_building_targets_with_more_object_views() -> None:
    # the last stage is measured, not bundled (MODEL_CARD.md)
    names = (
        "train_real_object.yaml",
        "train_real_object_window.yaml",
        "train_real_object_window2.yaml",
    )
    configs = [recipe(n) for n in names]
    stage3 = recipe(STAGES[-1])
    assert [c.weights for c in configs] == [
        "run_real3/last.pth",
        "run_real_object/last.pth",
        "run_real_object_window/last.pth",
    ]
    assert all(c.target == "building" and c.data == stage3.data for c in configs)
    assert [c.object_view_prob for c in configs] == sorted({c.object_view_prob for c in configs})
    assert len({c.seed for c in configs}) == 3
