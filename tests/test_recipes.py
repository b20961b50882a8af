"""Tests of the named training recipes (unet_core.recipes.registry)."""

from __future__ import annotations

import dataclasses

import pytest

from unet_core.augment.ops import AugmentConfig
from unet_core.recipes.registry import RECIPES, Recipe, ablations, get_recipe, recipe_names
from unet_core.training.loop import TrainConfig


def test_every_named_recipe_of_the_issue_exists_and_builds_its_config():
    for name in (
        "paper",
        "isbi2012-cpu",
        "phc-u373-cpu",
        "dic-hela-cpu",
        "isbi2012-full",
        "phc-u373-full",
        "dic-hela-full",
        "isbi2012-paper",
        "phc-u373-paper",
        "dic-hela-paper",
    ):
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
        assert diff - {"name", "instances", "separation_gap", "grow", "notes"} == {
            "optimizer",
            "schedule",
            "warmup_steps",
            "grad_clip",
            "class_weights",
        }


def test_ablations_change_one_thing_per_row():
    rows = ablations("isbi2012-cpu", iterations=500)
    base = rows["recipe"]
    assert base.iterations == 500 and base.name == "isbi2012-cpu@500"
    assert set(rows) == {
        "recipe",
        "paper recipe",
        "paper SGD",
        "w0 = 0",
        "class balance on",
        "no elastic deformation",
        "no TTA",
    }
    changed = {
        row: {f.name for f in dataclasses.fields(Recipe) if getattr(r, f.name) != getattr(base, f.name)}
        for row, r in rows.items()
    }
    assert changed["w0 = 0"] == {"w0"} and changed["no TTA"] == {"tta"}
    assert changed["class balance on"] == {"class_weights"} and changed["no elastic deformation"] == {"augment"}
    assert changed["paper SGD"] == {"optimizer", "schedule", "warmup_steps", "grad_clip"}
    assert changed["paper recipe"] == changed["paper SGD"] | {"class_weights"}
    paper = get_recipe("isbi2012-paper")
    assert all(getattr(rows["paper recipe"], f) == getattr(paper, f) for f in changed["paper recipe"])
    assert rows["no elastic deformation"].augment_config() == AugmentConfig(p_elastic=0.0)
    assert rows["recipe"].augment_config() == AugmentConfig()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"dataset": "mnist"}, r"Recipe.dataset must be one of \('isbi2012', 'phc-u373', 'dic-hela'\), got 'mnist'"),
        ({"scale": "huge"}, r"Recipe.scale must be 'smoke', 'cpu' or 'full', got 'huge'"),
        ({"augment": "strong"}, r"Recipe.augment must be 'paper', 'no-elastic' or 'off'"),
        ({"threshold": 1.5}, r"Recipe.threshold must be 'train' or a float in \(0, 1\), got 1.5"),
        ({"tile": 0}, r"Recipe.tile must be an int >= 1, got 0"),
        ({"grow": -1}, r"Recipe.grow must be an int >= 0, got -1"),
        ({"grow": 1.5}, r"Recipe.grow must be an int >= 0, got 1.5"),
        ({"optimizer": "lbfgs"}, r"TrainConfig.optimizer must be one of"),
        ({"class_weights": (1, 2)}, r"Recipe.class_weights must be 'balanced' or None"),
    ],
)
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
    assert (
        get_recipe("isbi2012-fusionnet-full").model == "fusionnet" and get_recipe("isbi2012-fusionnet-full").tile == 640
    )
    assert get_recipe("isbi2012-cpu").batch_size == 1  # the paper's single tile; its checkpoint hash is pinned
    one = recipe_checkpoint_path(get_recipe("isbi2012-smoke"), "runs")
    assert recipe_checkpoint_path(get_recipe("isbi2012-smoke", batch_size=2), "runs") != one
    with pytest.raises(ValueError, match="Recipe.batch_size must be an int >= 1, got 0"):
        get_recipe("isbi2012-smoke", batch_size=0)


def test_data_workers_feed_a_gpu_from_the_cpus_left_per_rank():
    from unet_core.recipes.run import data_workers

    assert data_workers("cpu") == 0 and data_workers("cpu", cpus=64) == 0
    assert [data_workers("cuda", cpus=c, world_size=w) for c, w in ((16, 1), (16, 2), (16, 8), (2, 1), (64, 1))] == [
        8,
        7,
        1,
        1,
        8,
    ]


# The checkpoint key of every registered recipe, as computed before the key became an explicit field list:
# published runs and book/results/recipes/*.json name their checkpoints by it, so it must not move.
PINNED_KEYS = {
    "dic-hela-cpu": "971e8126d193",
    "dic-hela-full": "78c859433b3f",
    "dic-hela-paper": "aecc74c8edab",
    "dic-hela-smoke": "385af502cd6b",
    "isbi2012-cpu": "6d73e7f011ac",
    "isbi2012-full": "453c6eac56b1",
    "isbi2012-fusionnet-cpu": "76a810ffab71",
    "isbi2012-fusionnet-full": "cba3306bf4a4",
    "isbi2012-fusionnet-smoke": "f00088536889",
    "isbi2012-lesson": "3f63d9ff4991",  # = the 300-step cpu recipe (the name is not part of the key)
    "isbi2012-paper": "94457907127e",
    "isbi2012-smoke": "f1f927bafb22",
    "paper": "b50c84112ffd",
    "phc-u373-cpu": "c41a801a31cd",
    "phc-u373-full": "eb38492b495c",
    "phc-u373-lesson": "993a57986c17",
    "phc-u373-paper": "f1245ef168dc",
    "phc-u373-smoke": "7b6abff984cf",
}


def test_the_checkpoint_key_of_every_registered_recipe_is_pinned():
    from unet_core.recipes.key import recipe_checkpoint_path, training_key

    assert sorted(PINNED_KEYS) == recipe_names()
    for name, key in PINNED_KEYS.items():
        assert training_key(get_recipe(name)) == key, name
        assert recipe_checkpoint_path(name, "runs").name == f"{name}-{key}.pt"


def test_the_recorded_runs_of_the_book_find_their_checkpoints():
    import json
    from pathlib import Path

    from unet_core.recipes.key import recipe_checkpoint_path

    records = [
        json.loads(p.read_text())
        for p in sorted((Path(__file__).resolve().parents[1] / "book" / "results" / "recipes").glob("*.json"))
    ]
    records = [r for r in records if "recipe" in r and "checkpoint" in r]
    assert records
    for r in records:
        if r.get("network"):  # an evaluation-only row scored on the published network of the same training key
            published = Path(__file__).resolve().parents[1] / r["checkpoint"]
            assert r["checkpoint"] == r["network"] and published.is_file(), r["recipe"]["name"]
            continue
        assert str(recipe_checkpoint_path(Recipe(**r["recipe"]), "runs")) == r["checkpoint"], r["recipe"]["name"]


def test_every_recipe_field_is_classified_for_the_checkpoint_key():
    """A new Recipe field must be put in KEY_FIELDS, LATER_KEY_FIELDS or NOT_KEY_FIELDS (unet_core.recipes.key)."""
    from unet_core.recipes import key

    fields = [f.name for f in dataclasses.fields(Recipe)]
    lists = (set(key.KEY_FIELDS), set(key.LATER_KEY_FIELDS), set(key.NOT_KEY_FIELDS))
    unclassified = set(fields) - set().union(*lists)
    assert not unclassified, f"classify {sorted(unclassified)} in unet_core/recipes/key.py (and mind KEY_VERSION)"
    assert set().union(*lists) == set(fields) and sum(map(len, lists)) == len(fields)  # no stale name, no twice
    assert key.KEY_VERSION == 1
    defaults = Recipe("x", "isbi2012", "cpu").to_dict()  # the later fields' listed values are their defaults
    assert all(
        list(defaults[k]) == v if k == "train_frames" else defaults[k] == v for k, v in key.LATER_KEY_FIELDS.items()
    )


def test_model_options_reach_the_network_and_bad_ones_are_refused():
    base = get_recipe("isbi2012-fusionnet-smoke")
    r = get_recipe(base, model_options={"skip": "mean", "down": "stride"})
    assert r.build_model().config["skip"] == "mean" and r.build_model().config["down"] == "stride"
    assert base.build_model().config["skip"] == "sum"
    assert r.model_kwargs() == {**base.model_kwargs(), "skip": "mean", "down": "stride"}
    assert (
        r.to_dict()["model_options"] == {"down": "stride", "skip": "mean"}
        and type(r.to_dict()["model_options"]) is dict
    )
    assert Recipe(**r.to_dict()) == r and hash(Recipe(**r.to_dict())) == hash(r)  # read back from JSON / a checkpoint
    with pytest.raises(
        ValueError,
        match=r"Recipe.model_options has 'skp', which FusionNet .* does not take; use one"
        r" of .*skip",
    ):
        get_recipe(base, model_options={"skp": "mean"})
    with pytest.raises(ValueError, match=r"Recipe.model_options has 'skip', which UNet"):
        get_recipe("isbi2012-smoke", model_options={"skip": "mean"})
    with pytest.raises(ValueError, match=r"sets 'depth', which the recipe sets by its own field; set Recipe.depth=4"):
        get_recipe(base, model_options={"depth": 4})
    with pytest.raises(ValueError, match=r"Recipe.model_options=\{'skip': 'max'\} is refused by FusionNet: skip='max'"):
        get_recipe(base, model_options={"skip": "max"})
    with pytest.raises(TypeError, match=r"Recipe.model_options must be a mapping .*got 'skip'"):
        get_recipe(base, model_options="skip")


def test_train_options_reach_the_train_config_and_bad_ones_are_refused():
    r = get_recipe("isbi2012-smoke", train_options={"weight_decay": 1e-4, "betas": [0.9, 0.99]})
    cfg = r.train_config(device="cpu")
    assert (cfg.weight_decay, cfg.betas, cfg.device, cfg.iterations) == (1e-4, (0.9, 0.99), "cpu", 30)
    assert r.to_dict()["train_options"] == {"betas": (0.9, 0.99), "weight_decay": 1e-4}
    assert Recipe(**r.to_dict()) == r
    with pytest.raises(
        ValueError,
        match=r"Recipe.train_options has 'lr', which is not a TrainConfig field .*; use "
        r"one of .*weight_decay",
    ):
        get_recipe(r, train_options={"lr": 0.1})
    with pytest.raises(
        ValueError,
        match=r"Recipe.train_options sets 'learning_rate', which the recipe sets by its "
        r"own field; set Recipe.learning_rate=0.1 instead",
    ):
        get_recipe(r, train_options={"learning_rate": 0.1})
    with pytest.raises(ValueError, match=r"Recipe.train_options sets 'device', which belongs to the run"):
        get_recipe(r, train_options={"device": "cpu"})
    with pytest.raises(ValueError, match=r"TrainConfig.weight_decay must be >= 0, got -1"):
        get_recipe(r, train_options={"weight_decay": -1})
    with pytest.raises(TypeError, match=r"Recipe.train_options\['betas'\] must be a plain value"):
        get_recipe(r, train_options={"betas": object()})


def test_the_key_moves_with_the_options_but_not_with_evaluation_or_logging():
    from unet_core.recipes.key import training_key

    base = get_recipe("isbi2012-fusionnet-smoke")
    key = training_key(base)
    assert training_key(get_recipe(base, model_options={})) == training_key(get_recipe(base, train_options={})) == key
    assert training_key(get_recipe(base, model_options={"skip": "mean"})) != key
    assert training_key(get_recipe(base, train_options={"weight_decay": 1e-4})) != key
    assert training_key(get_recipe(base, train_options={"weight_decay": 1e-4})) != training_key(
        get_recipe(base, train_options={"weight_decay": 1e-3})
    )
    for evaluation in (
        {"tta": True},
        {"threshold": 0.5},
        {"notes": "x"},
        {"name": "y"},
        {"instances": "watershed"},
        {"train_options": {"log_every": 1, "val_every": 5}},
    ):
        assert training_key(dataclasses.replace(base, **evaluation)) == key, evaluation
    with pytest.raises(TypeError, match="recipe must be a Recipe"):
        training_key("isbi2012-cpu")


def test_seeded_recipes_have_their_own_checkpoint_and_seed_every_draw():
    from unet_core.recipes.key import training_key
    from unet_core.recipes.registry import seeded

    base = get_recipe("isbi2012-cpu")
    assert seeded("isbi2012-cpu", 0) == base  # seed 0: the recipe itself (the published network's run)
    one, two = seeded(base, 1), seeded(base, 2)
    assert (one.name, one.train_config().seed, dict(one.train_options)) == ("isbi2012-cpu@seed1", 1, {"seed": 1})
    assert len({training_key(base), training_key(one), training_key(two)}) == 3
    for bad, exc in ((-1, ValueError), (1.5, TypeError), ("1", TypeError)):
        with pytest.raises(exc, match="seed"):
            seeded(base, bad)


def test_grow_defaults_to_the_separation_gap_and_never_changes_the_checkpoint():
    from unet_core.recipes.key import training_key

    r = get_recipe("dic-hela-cpu")
    assert (r.separation_gap, r.grow, r.grow_px) == (2, 0, 0)
    assert get_recipe("dic-hela-cpu", grow=None).grow_px == 2
    assert training_key(get_recipe("dic-hela-cpu", grow=2)) == training_key(r)
