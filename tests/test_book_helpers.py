"""The book's helpers (unet_core.book.figures, networks, comparisons) on small synthetic inputs."""

from __future__ import annotations

import numpy as np
import pytest

from unet_core.book import comparisons, figures, networks
from unet_core.recipes.pretrained import load_pretrained
from unet_core.recipes.registry import get_recipe

TINY = dict(base_channels=2, depth=2, tile=44, iterations=2, warmup_steps=0, tta=False)


def tiny_recipe(name="isbi2012-smoke", **more):
    return get_recipe(name, **{**TINY, **more})


def tiny_data():
    data, synthetic = networks.data_or_synthetic(get_recipe("isbi2012-smoke"), "/nonexistent", synthetic=True)
    return data


def test_error_rgb_colours():
    truth = np.array([[1, 1], [0, 0]], bool)
    binary = np.array([[1, 0], [1, 0]], bool)
    rgb = figures.error_rgb(binary, truth)
    assert rgb.shape == (2, 2, 3)
    assert tuple(rgb[0, 0]) == (1, 1, 1) and tuple(rgb[1, 1]) == (0, 0, 0)
    assert tuple(rgb[0, 1]) == figures.FALSE_MEMBRANE and tuple(rgb[1, 0]) == figures.MISSED_MEMBRANE
    with pytest.raises(ValueError, match="binary and truth"):
        figures.error_rgb(binary, truth[:1])


def test_topological_errors_and_panels():
    truth = np.ones((12, 12), bool)
    truth[:, 6] = False  # two cells split by a membrane
    prob = truth.astype(float)
    assert not figures.topological_errors(prob, truth, 0.5).any()
    prob[:, 6] = 1.0  # the membrane is missed: the two cells merge
    assert figures.topological_errors(prob, truth, 0.5).any()
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3)
    n = figures.draw_segmentation_errors(axes, prob, truth, 0.5, 0.5, name="net", note="; x")
    assert n > 0 and axes[0].get_title() == "(a) net: p(cell)" and axes[2].get_title().endswith("; x")
    figures.draw_loss(axes[0], np.linspace(1, 0.1, 50), "run", per_step=True)
    plt.close(fig)


def test_running_mean_and_overlay():
    steps, mean, k = figures.running_mean(np.arange(50.0))
    assert k == 10 and len(steps) == len(mean) == 41 and mean[0] == pytest.approx(4.5)
    with pytest.raises(ValueError, match="losses"):
        figures.running_mean([])
    pred = np.array([[0, 1], [2, 2]])
    border = np.array([[1, 0], [0, 0]], bool)
    mask = figures.instance_overlay(pred, border)
    assert mask.shape == (2, 2, 4) and tuple(mask[0, 0]) == (1, 1, 0, 1) and tuple(mask[1, 0]) == (0, 1, 1, 0.45)
    coloured = figures.instance_overlay(pred, border, np.random.default_rng(0))
    assert (coloured[1, 0] == coloured[1, 1]).all() and not (coloured[0, 1] == coloured[1, 1]).all()


def test_paper_comparison(monkeypatch, tmp_path):
    monkeypatch.setenv("UNET_RESULTS_DIR", str(tmp_path))
    run = {"values": {"border": 92.0}, "device": "cpu", "date": "2026-01-01"}
    blocks = figures.paper_comparison("x", {"border": "92"}, scale="cpu", this_run=run, result={}, paper="Fig. 2")
    assert len(blocks) == 1 and "paper (Fig. 2)" in blocks[0] and "| border | 92 | 92 |" in blocks[0]
    smoke = figures.paper_comparison("none", {}, scale="smoke", this_run=run, result={"a": 1}, paper="Fig. 2")
    assert len(smoke) == 2 and "No `cpu` or `full` run" in smoke[0] and "| a | 1 |" in smoke[1]


def test_data_or_synthetic():
    data = tiny_data()
    assert len(data["train_x"]) == 5 and len(data["val_x"]) == 2 and "SYNTHETIC" in data["source"]
    cells, synthetic = networks.data_or_synthetic(get_recipe("dic-hela-smoke"), "/nonexistent", synthetic=True)
    assert synthetic and cells["truth"] == "synthetic" and cells["train_x"][0].shape == (192, 256)
    with pytest.raises(FileNotFoundError, match="synthetic=True"):
        networks.data_or_synthetic(get_recipe("isbi2012-smoke"), "/nonexistent")
    with pytest.raises(ValueError, match="scale"):
        networks.runs_folder("big")


def test_obtain_network_trained_checkpoint_published(tmp_path):
    recipe, data = tiny_recipe(), tiny_data()
    trained = networks.obtain_network(recipe, data, runs_dir=tmp_path, device="cpu", pretrained=True)
    assert trained.source == "trained" and trained.steps == 2 and trained.losses.shape == (2,)
    assert trained.path.is_file() and trained.how.startswith("trained in this run")
    again = networks.obtain_network(recipe, data, runs_dir=tmp_path, device="cpu", pretrained=True)
    assert again.source == "checkpoint" and again.steps == 2 and again.path == trained.path
    assert not again.model.training
    retrained = networks.obtain_network(recipe, data, runs_dir=tmp_path, device="cpu", pretrained=False)
    assert retrained.source == "trained" and retrained.how.startswith("trained before this run")
    published = networks.obtain_network(get_recipe("isbi2012-cpu"), runs_dir=tmp_path, pretrained=True)
    assert published.source == "published" and published.scores is not None
    assert published.how.startswith("published network isbi2012-cpu") and published.steps == len(published.losses)
    dic = networks.obtain_network(get_recipe("dic-hela-cpu"), runs_dir=tmp_path, pretrained=True)
    assert dic.source == "published" and dic.recipe.grow_px == 0  # the evaluation fields as registered now
    assert load_pretrained("dic-hela-cpu")[1].grow_px == 2  # the stored recipe predates `grow`
    variant = networks.obtain_network(get_recipe("isbi2012-cpu", iterations=2), data, runs_dir=tmp_path,
                                      pretrained=True)  # fmt: skip
    assert variant.source == "trained" and variant.steps == 2  # another training: never the published network
    with pytest.raises(TypeError, match="recipe must be a Recipe"):
        networks.obtain_network("isbi2012-cpu")


def test_cost_table_compares_the_recorded_costs(monkeypatch, tmp_path):
    monkeypatch.setenv("UNET_RESULTS_DIR", str(tmp_path))
    shown = {"U-Net training step [s]": 1.0, "FusionNet training step [s]": 2.0, "U-Net recipe": "u"}
    assert "2.0 times the time per training step" in comparisons.cost_table(
        shown, "cpu", "here", {"U-Net": "none", "FusionNet": "none"}
    )


def test_em_slice_reads_the_data_or_says_it_is_synthetic_only_where_allowed(tmp_path):
    from unet_core.book.samples import SYNTHETIC_EM, em_slice

    image, source = em_slice(tmp_path, allow_synthetic=True, seed=3)
    assert source == SYNTHETIC_EM and source.startswith("SYNTHETIC") and image.shape == (512, 512)
    with pytest.raises(FileNotFoundError):
        em_slice(tmp_path, allow_synthetic=False)
