"""Results over seeds (unet_core.book.seeds, viz.recorded_seeds): the statistics, the text, the rule for a finding."""

from __future__ import annotations

import json

import pytest

from unet_core.book import viz
from unet_core.book.seeds import SeedStats, fmt_spread, seed_stats, seed_table, separated


def _write(folder, key, **values):
    (folder / f"{key}.json").write_text(json.dumps({"values": values}))


def test_recorded_seeds_reads_seed_0_under_the_key_and_the_others_under_their_suffix(tmp_path):
    _write(tmp_path, "r", SEG=0.8)
    _write(tmp_path, "r@seed2", SEG=0.9)
    _write(tmp_path, "r@seed1x", SEG=0.1)  # not a seed of r
    _write(tmp_path, "other@seed1", SEG=0.1)
    assert {k: v["values"]["SEG"] for k, v in viz.recorded_seeds("r", tmp_path).items()} == {0: 0.8, 2: 0.9}
    assert viz.recorded_seeds("missing", tmp_path) == {}


def test_seed_stats_is_the_mean_and_sample_sd_over_runs_that_have_the_measure():
    runs = {
        0: {"values": {"Rand error": 0.10}},
        1: {"values": {"Rand error": 0.06}},
        2: {"values": {"Rand error": 0.08}},
        3: {"values": {"Rand error": None}},
    }
    s = seed_stats(runs, "Rand error")
    assert s.n == 3 and s.mean == pytest.approx(0.08) and s.sd == pytest.approx(0.02)
    assert seed_stats(runs, "SEG") is None
    assert seed_stats({0: {"values": {"SEG": 0.5}}}, "SEG").sd == 0.0
    same = seed_stats({k: {"values": {"threshold": 0.8}} for k in range(3)}, "threshold")
    assert (same.mean, same.sd, fmt_spread(same, seeds=False)) == (0.8, 0.0, "0.8 ± 0 (3 seeds)")


def test_fmt_spread_uses_the_published_precision():
    s = SeedStats({0: 0.10811, 1: 0.06417, 2: 0.0863}, 0.08619, 0.02197)
    assert fmt_spread(s, "0.0382") == "0.0862 ± 0.0220 (3 seeds: 0.1081, 0.0642, 0.0863)"
    assert fmt_spread(None) == "-"


def test_separated_needs_disjoint_intervals_and_two_seeds_each():
    a, b = SeedStats({0: 0.1, 1: 0.2}, 0.15, 0.05), SeedStats({0: 0.3, 1: 0.4}, 0.35, 0.05)
    assert separated(a, b) and separated(b, a)
    assert not separated(a, SeedStats({0: 0.25, 1: 0.27}, 0.26, 0.07))
    assert not separated(a, SeedStats({0: 0.9}, 0.9, 0.0))  # one seed has no spread to compare with


def test_seed_table_marks_only_differences_beyond_the_spread():
    def runs(*v):
        return {k: {"values": {"SEG": x, "Rand error": 0.1}} for k, x in enumerate(v)}

    table = seed_table(
        {"recipe": runs(0.80, 0.82), "w0 = 0": runs(0.90, 0.91), "no TTA": runs(0.81, 0.83)},
        ["SEG", "Rand error"],
        {"SEG": "0.9203"},
        baseline="recipe",
    )
    lines = table.splitlines()
    assert lines[0].startswith("|  | SEG | Rand error | seeds | differs from recipe |")
    assert "0.9050 ± 0.0071 (2 seeds)" in lines[3] and lines[3].rstrip(" |").endswith("SEG")
    assert lines[4].rstrip(" |").endswith("within the spread")


def test_ablation_table_reads_the_recipe_row_from_the_recipes_own_seeds_at_its_budget(tmp_path):
    from unet_core.book.comparisons import ablation_key, ablation_table

    def write(key, rand, trained):
        run = {
            "values": {"Rand error": rand},
            "steps trained in this call": trained,
            "train seconds (this call)": 99.0,
            "device": "cpu: test",
            "date": "2026-12-07 08:00 UTC",
        }
        (tmp_path / f"{key}.json").write_text(json.dumps(run))

    write("isbi2012-cpu", 0.10, 4500)
    write("isbi2012-cpu@seed1", 0.08, 4500)
    write(ablation_key("isbi2012-cpu", 4500, "no TTA"), 0.30, 0)
    write(ablation_key("isbi2012-cpu", 4500, "no TTA") + "@seed1", 0.32, 0)
    text = ablation_table("isbi2012-cpu", 4500, ["Rand error"], {"Rand error": "0.0382"}, directory=tmp_path)
    rows = {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ")}
    assert "0.0900 ± 0.0141 (2 seeds)" in rows["recipe"] and rows["no TTA"].rstrip(" |").endswith("Rand error")
    assert "Not recorded yet: paper recipe, paper SGD, w0 = 0, class balance on, no elastic deformation." in text
    assert "4 recorded runs at 4,500 steps (99 to 99 s of training each; cpu: test; 2026-12-07)" in text
    assert "is recorded yet" in ablation_table("isbi2012-cpu", 123, ["Rand error"], directory=tmp_path)


def test_tta_gain_pairs_each_seeds_network_with_and_without_tta_at_either_budget(tmp_path):
    from unet_core.book.comparisons import ablation_key, tta_gain

    for key, errors in {
        "isbi2012-cpu": (0.10, 0.08),  # the recipe's own runs at its budget (4500)
        ablation_key("isbi2012-cpu", 4500, "no TTA"): (0.13, 0.09),
        ablation_key("isbi2012-cpu", 500, "recipe"): (0.20, 0.30),
        ablation_key("isbi2012-cpu", 500, "no TTA"): (0.25, 0.31),
    }.items():
        for seed, e in enumerate(errors):
            _write(tmp_path, key + (f"@seed{seed}" if seed else ""), **{"Rand error": e})
    full = tta_gain("isbi2012-cpu", 4500, "Rand error", lower_is_better=True, directory=tmp_path)
    assert full.values == pytest.approx({0: 0.03, 1: 0.01})
    short = tta_gain("isbi2012-cpu", 500, "Rand error", directory=tmp_path)  # with minus without: a score's sign
    assert short.values == pytest.approx({0: -0.05, 1: -0.01})
    assert tta_gain("isbi2012-cpu", 300, "Rand error", directory=tmp_path) is None


def test_few_images_stats_gathers_the_recorded_seeds_per_size_and_arm(tmp_path):
    from unet_core.book.figures import few_images_stats
    from unet_core.recipes import few_images

    for elastic in (True, False):
        for n, k in ((1, 0), (1, 1), (4, 0)):
            name = few_images("phc-u373-cpu", n, k, 1000, elastic).name
            seg = 0.5 + 0.1 * n + 0.05 * k + 0.2 * elastic
            (tmp_path / f"{name}.json").write_text(json.dumps({"values": {"SEG": seg}}))
    stats = few_images_stats("phc-u373-cpu", 1000, [1, 2, 4], directory=tmp_path)
    assert sorted(stats[True]) == sorted(stats[False]) == [1, 4]  # size 2 is not recorded
    assert stats[True][1].n == 2 and stats[True][1].mean == pytest.approx(0.825)
    assert stats[False][4].values == {0: pytest.approx(0.9)}
