"""The recipes that test the paper's claims (unet_core.recipes.experiments)."""

from __future__ import annotations

import pytest

from unet_core.data.datasets import PHC_TRAIN
from unet_core.recipes import few_images, get_recipe, learning_rates, training_frames
from unet_core.recipes.key import training_key


def test_few_images_draws_nested_frame_sets_per_seed_and_changes_only_frames_budget_and_seed():
    sets = [set(few_images("phc-u373-cpu", n, seed=3, iterations=1000).train_frames) for n in (1, 2, 4, 8)]
    assert [len(s) for s in sets] == [1, 2, 4, 8] and sets[0] < sets[1] < sets[2] < sets[3] <= set(PHC_TRAIN)
    assert few_images("phc-u373-cpu", 4, seed=3).train_frames != few_images("phc-u373-cpu", 4, seed=4).train_frames
    r = few_images("phc-u373-cpu", 4, seed=3, iterations=1000)
    base = get_recipe("phc-u373-cpu")
    changed = {f for f in r.__dataclass_fields__ if getattr(r, f) != getattr(base, f)}
    assert changed == {"name", "train_frames", "iterations", "train_options"} and r.train_config().seed == 3


def test_without_elastic_the_frames_are_the_same_and_only_the_augmentation_differs():
    on, off = (few_images("phc-u373-cpu", 2, seed=1, iterations=500, elastic=e) for e in (True, False))
    assert on.train_frames == off.train_frames and (on.augment, off.augment) == ("paper", "no-elastic")
    assert training_key(on) != training_key(off)


def test_all_frames_is_the_recipe_itself_at_that_budget():
    r = few_images("phc-u373-cpu", len(PHC_TRAIN), seed=0, iterations=1000)
    assert training_key(r) == training_key(get_recipe("phc-u373-cpu", iterations=1000))


def test_few_images_refuses_bad_counts_and_pattern_splits():
    with pytest.raises(ValueError, match="at most the 14 training frames"):
        few_images("phc-u373-cpu", 15)
    with pytest.raises(ValueError, match="n=0 must be an integer >= 1"):
        few_images("phc-u373-cpu", 0)
    with pytest.raises(ValueError, match="explicit frame ids in Recipe.train_frames"):
        training_frames("dic-hela-cpu")


def test_learning_rates_change_only_the_rate_and_name_it():
    rates = learning_rates("isbi2012-paper", [3e-4, 1e-3], iterations=4500)
    assert [r.name for r in rates.values()] == ["isbi2012-paper@4500-lr0.0003", "isbi2012-paper@4500-lr0.001"]
    assert training_key(rates[1e-3]) == training_key(get_recipe("isbi2012-paper"))  # the recipe's own rate
    with pytest.raises(ValueError, match="learning rate"):
        learning_rates("isbi2012-paper", [0.0])
    with pytest.raises(TypeError, match="sequence of learning rates"):
        learning_rates("isbi2012-paper", 1e-3)
