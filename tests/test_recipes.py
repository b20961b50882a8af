"""Tests of the named training recipes (unet_core.recipes.registry)."""
from __future__ import annotations

import dataclasses

import pytest

from unet_core.augment.ops import AugmentConfig
from unet_core.recipes.registry import RECIPES, Recipe, ablations, get_recipe, recipe_names
from unet_core.training.loop import TrainConfig


def test_every_named_recipe_of_the_issue_exists_and_builds_its_config():
    for name in ("paper", "isbi2012-cpu", "phc-u373-cpu", "dic-hela-cpu", "isbi2012-full", "phc-u373-full",
                 "dic-hela-full", "isbi2012-paper", "phc-u373-paper", "dic-hela-paper"):
        r = get_recipe(name)
        assert r.name == name and isinstance(r.train_config(), TrainConfig)
    assert recipe_names() == sorted(RECIPES)


def test_the_paper_recipe_keeps_the_papers_settings():
    r = get_recipe("paper")
    assert (r.base_channels, r.depth, r.tile, r.downsample) == (64, 5, 572, 1)
    assert (r.optimizer, r.momentum, r.schedule, r.grad_clip) == ("sgd", 0.99, "constant", 0.0)
    assert (r.w0, r.sigma, r.class_weights, r.augment) == (10.0, 5.0, "balanced", "paper")
    cfg = r.train_config()
    assert (cfg.optimizer, cfg.momentum, cfg.batch_size) == ("sgd", 0.99, 1)


def test_cpu_recipes_share_one_budget_and_differ_from_their_paper_twin_only_in_what_the_budget_forces():
    for ds in ("isbi2012", "phc-u373", "dic-hela"):
        cpu, paper = get_recipe(f"{ds}-cpu"), get_recipe(f"{ds}-paper")
        assert cpu.iterations == paper.iterations == 4500 and cpu.base_channels == paper.base_channels == 16
        diff = {f.name for f in dataclasses.fields(Recipe) if getattr(cpu, f.name) != getattr(paper, f.name)}
        assert diff - {"name", "instances", "separation_gap", "notes"} == {"optimizer", "schedule", "warmup_steps", "grad_clip",
                                                          "class_weights"}


def test_ablations_change_one_thing_per_row():
    rows = ablations("isbi2012-cpu", iterations=500)
    base = rows["recipe"]
    assert base.iterations == 500 and base.name == "isbi2012-cpu@500"
    assert set(rows) == {"recipe", "paper recipe", "paper SGD", "w0 = 0", "class balance on", "no elastic deformation",
                         "no TTA"}
    changed = {row: {f.name for f in dataclasses.fields(Recipe) if getattr(r, f.name) != getattr(base, f.name)}
               for row, r in rows.items()}
    assert changed["w0 = 0"] == {"w0"} and changed["no TTA"] == {"tta"}
    assert changed["class balance on"] == {"class_weights"} and changed["no elastic deformation"] == {"augment"}
    assert changed["paper SGD"] == {"optimizer", "schedule", "warmup_steps", "grad_clip"}
    assert changed["paper recipe"] == changed["paper SGD"] | {"class_weights"}
    paper = get_recipe("isbi2012-paper")
    assert all(getattr(rows["paper recipe"], f) == getattr(paper, f) for f in changed["paper recipe"])
    assert rows["no elastic deformation"].augment_config() == AugmentConfig(p_elastic=0.0)
    assert rows["recipe"].augment_config() == AugmentConfig()


@pytest.mark.parametrize("kwargs, match", [
    ({"dataset": "mnist"}, r"Recipe.dataset must be one of \('isbi2012', 'phc-u373', 'dic-hela'\), got 'mnist'"),
    ({"scale": "huge"}, r"Recipe.scale must be 'smoke', 'cpu' or 'full', got 'huge'"),
    ({"augment": "strong"}, r"Recipe.augment must be 'paper', 'no-elastic' or 'off'"),
    ({"threshold": 1.5}, r"Recipe.threshold must be 'train' or a float in \(0, 1\), got 1.5"),
    ({"tile": 0}, r"Recipe.tile must be a positive int, got 0"),
    ({"optimizer": "lbfgs"}, r"TrainConfig.optimizer must be one of"),
    ({"class_weights": (1, 2)}, r"Recipe.class_weights must be 'balanced' or None"),
])
def test_bad_recipes_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Recipe(**{"name": "x", "dataset": "isbi2012", "scale": "cpu", **kwargs})


def test_unknown_names_and_fields():
    with pytest.raises(ValueError, match=r"recipe='isbi' is unknown; known recipes: dic-hela-cpu"):
        get_recipe("isbi")
    with pytest.raises(ValueError, match=r"unknown Recipe field\(s\) \['lr'\]"):
        get_recipe("isbi2012-cpu", lr=0.1)


def test_full_recipes_have_a_global_batch_that_torchrun_splits_over_1_2_4_or_8_gpus():
    from unet_core.recipes.key import recipe_checkpoint_path

    for name in ("isbi2012-full", "phc-u373-full", "dic-hela-full", "isbi2012-fusionnet-full"):
        r = get_recipe(name)
        assert r.batch_size == 8 and r.train_config().batch_size == 8 and r.iterations * r.batch_size == 40000
    assert get_recipe("isbi2012-fusionnet-full").model == "fusionnet" and get_recipe("isbi2012-fusionnet-full").tile == 640
    assert get_recipe("isbi2012-cpu").batch_size == 1  # the paper's single tile; its checkpoint hash is pinned
    one = recipe_checkpoint_path(get_recipe("isbi2012-smoke"), "runs")
    assert recipe_checkpoint_path(get_recipe("isbi2012-smoke", batch_size=2), "runs") != one
    with pytest.raises(ValueError, match="Recipe.batch_size must be a positive int, got 0"):
        get_recipe("isbi2012-smoke", batch_size=0)


def test_data_workers_feed_a_gpu_from_the_cpus_left_per_rank():
    from unet_core.recipes.run import data_workers

    assert data_workers("cpu") == 0 and data_workers("cpu", cpus=64) == 0
    assert [data_workers("cuda", cpus=c, world_size=w) for c, w in ((16, 1), (16, 2), (16, 8), (2, 1), (64, 1))] \
        == [8, 7, 1, 1, 8]
