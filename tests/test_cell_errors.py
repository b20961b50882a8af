"""cell_errors on constructed cases: merges, outlines, and cells only a second truth annotates."""

from __future__ import annotations

import numpy as np
import pytest

from unet_core.book.cell_errors import cell_errors


def _two_cells() -> np.ndarray:
    truth = np.zeros((6, 12), np.int32)
    truth[:, 1:5], truth[:, 6:10] = 3, 8  # two 24-px cells, 1 px apart
    return truth


def test_a_perfect_prediction_has_no_error():
    truth = _two_cells()
    e = cell_errors(truth * 2, truth)
    assert e["SEG"] == 1.0 and e["Jaccard per cell"] == [1.0, 1.0]
    assert (e["merged cells"], e["missed cells"], e["cells below 0.8"]) == (0, 0, 0)


def test_a_merge_and_a_loose_outline_are_told_apart():
    truth = _two_cells()
    merged = np.where(truth > 0, 1, 0)
    merged[:, 5] = 1  # one predicted cell over both: 24 / 54 each
    e = cell_errors(merged, truth)
    assert e["merged cells"] == 2 and e["Jaccard per cell"] == [0.444, 0.444]
    loose = truth.copy()
    loose[:, 0] = 3  # cell 3 outlined 6 px too wide: 24 / 30
    e = cell_errors(loose, truth, low=0.9)
    assert e["merged cells"] == 0 and e["Jaccard per cell"] == [0.8, 1.0] and e["cells below 0.9"] == 1


def test_a_cell_only_the_other_truth_has_is_found_and_its_merge_counted():
    gold = _two_cells()
    gold[gold == 8] = 0  # the gold truth leaves the second cell out
    silver = _two_cells()
    joined = np.where(silver > 0, 4, 0)
    joined[:, 5] = 4
    e = cell_errors(joined, gold, silver)
    assert e["merged cells"] == 0  # invisible to SEG's own counts: the second cell is not in its reference
    assert e["other-truth cells the truth lacks"] == 1 and e["truth cells joined to one of them"] == 1
    assert e["SEG"] == pytest.approx(24 / 54) and e["SEG against the other truth"] == pytest.approx(24 / 54)
    apart = np.where(silver == 3, 1, np.where(silver == 8, 2, 0))
    e = cell_errors(apart, gold, silver)
    assert e["other-truth cells the truth lacks"] == 1 and e["truth cells joined to one of them"] == 0
    assert e["SEG"] == 1.0


def test_stacks_pool_the_cells_of_all_frames():
    truth = np.stack([_two_cells(), _two_cells()])
    pred = truth.copy()
    pred[1] = np.where(truth[1] > 0, 1, 0)
    pred[1, :, 5] = 1
    e = cell_errors(pred, truth, truth)
    assert e["truth cells"] == 4 and e["merged cells"] == 2 and e["other-truth cells the truth lacks"] == 0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"low": 0.0}, ValueError, r"low must be a finite number > 0 and <= 1, got 0.0; e.g. 0.8"),
        ({"low": "0.8"}, TypeError, r"low must be a real number"),
        ({"other_truth": np.zeros((6, 11), np.int32)}, ValueError, r"other_truth must have the shape of truth"),
        ({"other_truth": np.zeros((6, 12))}, TypeError, r"other_truth"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, match):
    truth = _two_cells()
    with pytest.raises(error, match=match):
        cell_errors(truth, truth, **kwargs)
