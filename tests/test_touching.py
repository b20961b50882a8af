"""Touching cells in a snapshot (unet_core.book.touching) and the seed charts (unet_core.book.seed_plots)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import unet_core as uc  # noqa: E402
from unet_core.book.seed_plots import draw_seed_panel, draw_seed_rows, seed_rows_stats  # noqa: E402
from unet_core.book.touching import draw_touching, snapshot_cells  # noqa: E402


def _snaps(joined: bool) -> dict:
    """Two touching 20 x 20 cells kept apart in the truth; p(cell) separates them or runs them together."""
    truth = np.zeros((48, 48), np.uint8)
    truth[4:24, 4:24], truth[4:24, 25:45] = 1, 1  # a 1 px gap: two cells
    prob = truth.astype(np.float32) * 0.95
    if joined:
        prob[4:24, 24] = 0.95  # the gap called cell: one predicted cell over both
    return {
        "steps": [0, 10],
        "probs": {0: np.full((48, 48), 0.5, np.float32), 10: prob},
        "image": (truth * 200).astype(np.uint8),
        "truth": truth,
        "frame": "02/000",
    }


def test_snapshot_cells_counts_a_merge_only_where_the_prediction_joins_two_truth_cells():
    recipe = uc.get_recipe("phc-u373-cpu")  # components, grown back by its separation gap (0)
    apart = snapshot_cells(_snaps(False), recipe, 0.5)
    assert apart["counts"] == {"truth cells": 2, "merged cells": 0, "missed cells": 0} and apart["step"] == 10
    joined = snapshot_cells(_snaps(True), recipe, 0.5)
    assert joined["counts"]["merged cells"] == 2 and joined["merged"].sum() == 2 * 400
    early = snapshot_cells(_snaps(False), recipe, 0.6, step=0)  # p = 0.5 everywhere: nothing above 0.6
    assert early["counts"]["missed cells"] == 2 and early["missed"].sum() == 800
    with pytest.raises(KeyError, match="one of the snapshot's steps"):
        snapshot_cells(_snaps(False), recipe, 0.5, step=5)


def test_draw_touching_titles_each_run_with_its_counts():
    recipe = uc.get_recipe("phc-u373-cpu")
    runs = {name: (_snaps(j), snapshot_cells(_snaps(j), recipe, 0.5)) for name, j in (("a", False), ("b", True))}
    fig = draw_touching(runs, "t")
    titles = [ax.get_title() for ax in fig.axes]
    assert "a: 0 merged, 0 missed" in titles and "b: 2 merged, 0 missed" in titles and "truth: 2 cells" in titles
    plt.close(fig)
    with pytest.raises(ValueError, match="at least one"):
        draw_touching({}, "t")


def test_seed_rows_draw_every_seed_and_say_when_a_measure_is_not_recorded():
    rows = {"recipe": {0: {"values": {"SEG": 0.8}}, 1: {"values": {"SEG": 0.9}}}, "w0 = 0": {}}
    assert set(seed_rows_stats(rows, "SEG")) == {"recipe"}
    fig = draw_seed_rows(rows, ["SEG", "merged cells"], "t", {"SEG": 0.92})
    seg_ax, merged_ax = fig.axes
    dots = [line for line in seg_ax.get_lines() if line.get_linestyle() == "None" and len(line.get_xdata()) == 2]
    assert sorted(dots[0].get_xdata()) == [0.8, 0.9]
    assert any(t.get_text() == "not recorded yet" for t in merged_ax.texts)
    assert not any(t.get_text() == "not recorded yet" for t in seg_ax.texts)
    plt.close(fig)
    with pytest.raises(ValueError, match="measures must name"):
        draw_seed_rows(rows, [], "t")


def test_a_seed_panel_on_a_given_axis_colours_rows_and_labels_them_as_asked():
    rows = {"a": {0: {"values": {"Rand": 0.1}}, 1: {"values": {"Rand": 0.2}}}, "b": {0: {"values": {"Rand": 0.3}}}}
    fig, (left, right) = plt.subplots(1, 2)
    stats = draw_seed_panel(right, rows, "Rand", {"Rand": "0.05"}, row_colours=True, tick_labels=["A", "B"])
    assert set(stats) == {"a", "b"} and abs(stats["a"].mean - 0.15) < 1e-12
    assert [t.get_text() for t in right.get_yticklabels()] == ["A", "B"]
    means = [c for c in right.containers]  # one errorbar per row
    assert [c.lines[0].get_color() for c in means] == ["C0", "C1"]
    assert 0.05 in [line.get_xdata()[0] for line in right.get_lines() if line.get_linestyle() == ":"]
    assert not left.get_lines()  # only the given axis is drawn on
    plt.close(fig)


def test_threshold_sliders_precompute_one_image_per_threshold():
    from unet_core.book.figures import threshold_slider
    from unet_core.book.touching import threshold_cells_slider

    cells = threshold_cells_slider(_snaps(True), uc.get_recipe("phc-u373-cpu"), [0.3, 0.5, 0.97], "t")
    assert len(cells.images) == 3
    prob = np.random.default_rng(0).random((40, 40)).astype(np.float32)
    pixels = threshold_slider(prob, prob > 0.5, [0.2, 0.5], "t", crop=16)
    assert len(pixels.images) == 2
    with pytest.raises(ValueError, match="one shape"):
        threshold_slider(prob, prob[:5] > 0.5, [0.5], "t")
