"""Tests of running recipes end to end (unet_core.recipes)."""

from __future__ import annotations

import numpy as np
import pytest

from unet_core.data.labels import cut_instances, separate_touching
from unet_core.metrics.seg import seg_score
from unet_core.recipes.key import recipe_checkpoint_path
from unet_core.recipes.registry import get_recipe
from unet_core.recipes.run import run_recipe, score_recipe


def test_separate_touching_removes_only_contact_pixels():
    a = np.zeros((5, 12), np.int32)
    a[1:4, 1:6] = 1
    a[1:4, 6:11] = 2  # touches 1 along column 5 | 6
    out = separate_touching(a, 2)
    assert out[:, 4:8].max() == 0  # within 2 px of the other cell on either side
    assert (out[1:4, 1:4] == 1).all() and (out[1:4, 8:11] == 2).all()  # the far sides are untouched
    assert out.dtype == a.dtype and separate_touching(a, 0).tolist() == a.tolist()
    lone = np.zeros((6, 6), np.int32)
    lone[1:5, 1:5] = 7
    assert separate_touching(lone, 3).tolist() == lone.tolist()  # nothing to touch: unchanged
    with pytest.raises(ValueError, match="gap=-1 must be an integer >= 0"):
        separate_touching(a, -1)


def _two_blobs():
    """p(cell) of two discs whose union is joined by a bridge at p = 0.7."""
    yy, xx = np.mgrid[:40, :60]
    p = np.zeros((40, 60))
    for cx in (18, 42):
        p = np.maximum(p, np.clip(1.2 - np.hypot(yy - 20, xx - cx) / 10, 0, 1))
    p[18:23, 18:42] = np.maximum(p[18:23, 18:42], 0.7)
    return p


def test_watershed_splits_what_components_merge_and_grow_expands():
    p = _two_blobs()
    comp = cut_instances(p, 0.5)
    ws = cut_instances(p, 0.5, "watershed", seed_threshold=0.9)
    assert comp.max() == 1 and ws.max() == 2  # the bridge merges the components, not the seeded watershed
    assert ws[20, 18] != ws[20, 42] and (ws > 0).sum() == (comp > 0).sum()  # same mask, two cells
    grown = cut_instances(p, 0.5, "watershed", grow=2)
    assert (grown > 0).sum() > (ws > 0).sum() and set(np.unique(grown)) == {0, 1, 2}


def test_ctc_threshold_is_chosen_on_training_frames_not_held_out():
    truth = np.zeros((30, 30), np.int32)
    truth[5:15, 5:15] = 1
    truth[5:15, 16:26] = 2
    good_low = np.where(truth > 0, 0.45, 0.0)  # training frames: cells at p = 0.45 -> best t < 0.45
    held = np.where(truth > 0, 0.75, 0.0)
    held[5:15, 15] = 0.6  # joins the two cells for t < 0.6
    r = get_recipe("phc-u373-cpu")
    out = score_recipe(r, held[None], [truth], train_prob=good_low[None], train_truth=[truth])
    assert out["threshold"] == 0.3 and out["threshold chosen on"] == "training frames"
    by_t = out["SEG on held-out frames by threshold (not used to choose)"]
    assert by_t["0.3"] < 1.0 == by_t["0.7"]  # held-out frames would have preferred 0.7: not used
    assert out["SEG"] == by_t["0.3"] == pytest.approx(seg_score(cut_instances(held, 0.3), truth))


def test_checkpoint_path_is_keyed_by_what_changes_training_only():
    r = get_recipe("isbi2012-cpu")
    path = recipe_checkpoint_path(r, "runs")
    assert str(path) == "runs/isbi2012/isbi2012-cpu-6d73e7f011ac.pt"  # pinned: published runs are found by it
    notta = get_recipe("isbi2012-cpu", tta=False, instances="watershed")
    assert recipe_checkpoint_path(notta, "runs") == path  # evaluation-only fields do not retrain
    assert recipe_checkpoint_path(get_recipe("isbi2012-cpu", w0=0.0), "runs") != path


@pytest.mark.realdata
@pytest.mark.slow
def test_isbi_smoke_recipe_runs_end_to_end(data_dir, tmp_path):
    out = run_recipe("isbi2012-smoke", data_dir, runs_dir=tmp_path, device="cpu")
    v = out["values"]
    assert out["steps"] == 30 and out["steps trained in this call"] == 30
    assert 0 < v["pixel error"] <= 0.12 and 0 <= v["warping error"] < 0.05 and 0 < v["Rand error"] <= 1
    assert set(v) >= {"V_rand split", "V_rand merge", "V_info", "threshold (Rand)"}
    again = run_recipe("isbi2012-smoke", data_dir, runs_dir=tmp_path, device="cpu", train=False)
    assert again["values"] == v  # re-scoring the checkpoint reproduces the numbers


def test_train_recipe_builds_the_model_and_train_config_of_the_recipes_options(tmp_path):
    import dataclasses

    from unet_core.recipes.key import training_key
    from unet_core.recipes.run import train_recipe
    from unet_core.training.checkpoint import load_checkpoint

    rng = np.random.default_rng(0)
    images = [rng.random((100, 100)).astype(np.float32) for _ in range(2)]
    labels = [np.ones((100, 100), np.int64) for _ in range(2)]
    for y in labels:
        y[::20] = y[:, ::20] = 0  # membranes around 20 x 20 px cells
    recipe = dataclasses.replace(
        get_recipe("isbi2012-fusionnet-smoke"),
        iterations=2,
        model_options={"skip": "mean"},
        train_options={"weight_decay": 1e-4},
    )
    data = {"train_x": images, "train_y": labels, "semantic": True, "training_data": {"dataset": "synthetic"}}
    model, result, _ = train_recipe(recipe, runs_dir=tmp_path, device="cpu", data=data)
    assert model.config["skip"] == "mean" and len(result.losses) == 2
    path = tmp_path / "isbi2012" / f"isbi2012-fusionnet-smoke-{training_key(recipe)}.pt"
    assert path.exists() and load_checkpoint(path)["train_config"]["weight_decay"] == 1e-4
