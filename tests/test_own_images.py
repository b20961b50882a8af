"""Tests of unet_core.book.own_images: the folder of the "your own images" page, its arms and figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tifffile  # noqa: E402

from unet_core.book.own_images import draw_arms, example_folder, train_arms  # noqa: E402
from unet_core.data.folders import load_pairs  # noqa: E402


def test_missing_nuclei_name_the_fetch_command_unless_a_stand_in_is_allowed(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"python data_scripts/fetch.py nuclei --dest"):
        example_folder(tmp_path)
    folder, synthetic = example_folder(tmp_path, synthetic=True, seed=3, workdir=tmp_path / "w")
    assert synthetic and folder.parent == tmp_path / "w"
    data = load_pairs(folder / "images", folder / "labels")
    assert len(data.names) == 4 and all(lab.max() > 1 for lab in data.labels)  # instance labels


def test_fetched_nuclei_are_preferred_to_the_stand_in(tmp_path):
    for sub in ("images", "labels"):
        (tmp_path / "nuclei" / sub).mkdir(parents=True)
        tifffile.imwrite(tmp_path / "nuclei" / sub / "a.tif", np.ones((8, 8), np.uint16))
    assert example_folder(tmp_path, synthetic=True, workdir=tmp_path / "w") == (tmp_path / "nuclei", False)


def test_arms_share_one_split_and_never_score_a_training_image(tmp_path):
    folder, _ = example_folder(tmp_path, synthetic=True, workdir=tmp_path)
    data = load_pairs(folder / "images", folder / "labels")
    arms = {"scratch": {"init": None, "iterations": 2}, "untrained": {"init": None, "iterations": 0}}
    out = train_arms(data, arms, tmp_path, seed=1, device="cpu")
    held = out["scratch"]["held_out"]
    assert held == out["untrained"]["held_out"] and len(held) == 1 and held[0] not in out["scratch"]["train"]
    assert set(out["scratch"]["scores"]["per image"]) == set(held)
    assert out["scratch"]["probs"][held[0]].shape == (256, 256)
    assert (tmp_path / "arm0.pt").is_file() and not (tmp_path / "arm1.pt").exists()  # 0 steps: nothing trained
    assert out["untrained"]["steps"] == 0 and out["scratch"]["train seconds"] > 0
    fig = draw_arms(data, out, held[0], "test")
    assert len(fig.axes) == 2 * (len(arms) + 1)
    assert "2" in fig.axes[1].get_title()  # the step of the scratch arm's p(cell)


def test_the_table_of_a_record_shows_the_arms_it_holds_in_the_arms_order():
    from unet_core.book.own_images import arm_values, arms_table

    scores = {"all": {"SEG": 0.8123, "merged cells": 3, "missed cells": 4, "truth cells": 30}}
    results = {"b": {"steps": 300, "train seconds": 61.4, "scores": scores}}
    table = arms_table(arm_values(results), {"a": {"init": None}, "b": {"init": "phc-u373-cpu"}})
    lines = table.splitlines()
    assert len(lines) == 3  # header, rule, and b only: a is not in the record
    assert lines[2] == "| b | phc-u373-cpu | 300 | 61 | 0.812 | 3 of 30 | 4 |"
