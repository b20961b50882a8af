"""Tests for unet_core.metrics: pixel error, Rand error, V_rand / V_info, SEG."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import ndimage
from skimage.metrics import adapted_rand_error

from unet_core.metrics.isbi import (
    ISBI_THINNED_THRESHOLDS,
    ISBI_THRESHOLDS,
    pixel_error,
    rand_error,
    rand_scores,
    rand_scores_thinned,
)
from unet_core.metrics.seg import seg_score, segmentation_error_masks, segmentation_errors
from unet_core.metrics.warping_fiji import watershed_thin

FOUR = ndimage.generate_binary_structure(2, 1)


def random_pair(rng, shape=(7, 9), p_cell=0.7):
    truth = (rng.random(shape) < p_cell).astype(np.uint8)
    pred = (rng.random(shape) < p_cell).astype(float)
    return pred, truth


def brute_force_labels(pred_bin, truth, boundary):
    """Segment ids of truth-cell pixels as explicit arrays (singletons get unique ids)."""
    t = ndimage.label(truth, FOUR)[0][truth > 0]
    s = ndimage.label(pred_bin, FOUR)[0][truth > 0]
    if boundary == "singletons":
        s = np.where(s > 0, s, -1 - np.arange(s.size))
    elif boundary == "ignore":
        t, s = t[s > 0], s[s > 0]
    return t, s


def brute_force_rand(t, s, self_pairs):
    """Split/merge Rand scores by enumerating all ordered pixel pairs."""
    same_t = same_s = both = 0
    for i, j in itertools.product(range(t.size), repeat=2):
        if i == j and not self_pairs:
            continue
        same_t += t[i] == t[j]
        same_s += s[i] == s[j]
        both += (t[i] == t[j]) and (s[i] == s[j])
    return both / same_t, both / same_s


def entropy(labels):
    p = np.unique(labels, return_counts=True)[1] / labels.size
    return float(-(p * np.log(p)).sum())


# ---------------------------------------------------------------- pixel error
def test_pixel_error_hand_computed_fscore_and_fraction():
    truth = np.array([[1, 1, 0], [1, 0, 0]])
    pred = np.array([[1.0, 0.0, 1.0], [1.0, 0.0, 0.0]])  # TP=2, FP=1, FN=1
    assert pixel_error(pred, truth) == pytest.approx(1 - 4 / 6)
    assert pixel_error(pred, truth, definition="fraction") == pytest.approx(2 / 6)
    assert pixel_error(truth.astype(float), truth) == 0.0


def test_pixel_error_takes_best_threshold_and_pools_a_stack(rng):
    truth = (rng.random((2, 6, 6)) < 0.6).astype(np.uint8)
    prob = np.where(truth > 0, 0.35, 0.25)  # perfect only for thresholds in [0.25, 0.35)
    assert pixel_error(prob, truth) == 0.0
    assert pixel_error(prob, truth, thresholds=[0.5]) > 0.3
    pred = (rng.random((2, 6, 6)) < 0.6).astype(float)
    side_by_side = pixel_error(np.hstack(list(pred)), np.hstack(list(truth)))
    assert pixel_error(pred, truth) == pytest.approx(side_by_side)


# ----------------------------------------------------------- Rand, V_rand, V_info
@pytest.mark.parametrize("boundary", ["singletons", "background", "ignore"])
@pytest.mark.parametrize("self_pairs", [True, False])
def test_rand_scores_match_brute_force_pair_counting(rng, boundary, self_pairs):
    for _ in range(3):
        pred, truth = random_pair(rng)
        t, s = brute_force_labels(pred > 0.5, truth, boundary)
        split, merge = brute_force_rand(t, s, self_pairs)
        got = rand_scores(pred, truth, thresholds=[0.5], boundary=boundary, self_pairs=self_pairs)
        assert got["v_rand_split"] == pytest.approx(split)
        assert got["v_rand_merge"] == pytest.approx(merge)
        assert got["v_rand"] == pytest.approx(2 * split * merge / (split + merge))


@pytest.mark.parametrize("boundary", ["singletons", "background", "ignore"])
def test_v_info_matches_entropies_of_explicit_labels(rng, boundary):
    h_t = h_s = 0.0
    while min(h_t, h_s) == 0:  # need several segments on both sides
        pred, truth = random_pair(rng, (8, 8), p_cell=0.6)
        t, s = brute_force_labels(pred > 0.5, truth, boundary)
        h_t, h_s = entropy(t), entropy(s)
    mi = h_t + h_s - entropy(t * (s.max() - s.min() + 1) + (s - s.min()))
    got = rand_scores(pred, truth, thresholds=[0.5], boundary=boundary)
    assert got["v_info_split"] == pytest.approx(mi / h_s)
    assert got["v_info_merge"] == pytest.approx(mi / h_t)


def test_v_rand_agrees_with_skimage_adapted_rand_error(rng):
    for _ in range(3):
        pred, truth = random_pair(rng, (20, 20))
        t_lab = ndimage.label(truth, FOUR)[0]
        s_lab = ndimage.label(pred > 0.5, FOUR)[0]
        are, prec, rec = adapted_rand_error(t_lab, s_lab)  # ignores truth label 0, no self-pairs
        got = rand_scores(pred, truth, thresholds=[0.5], boundary="background", self_pairs=False)
        assert got["v_rand"] == pytest.approx(1 - are)
        assert got["v_rand_split"] == pytest.approx(prec)  # skimage's "precision" divides by truth sizes
        assert got["v_rand_merge"] == pytest.approx(rec)


def test_rand_hand_computed_merge_and_split():
    truth = np.ones((4, 5), np.uint8)
    truth[:, 2] = 0  # two 4x2 cells, 8 pixels each
    merged = np.ones((4, 5))
    # one predicted segment of 16 truth pixels: sum p^2 = 128, t^2 = 2 * 64, s^2 = 256
    assert rand_scores(merged, truth)["v_rand_merge"] == pytest.approx(0.5)
    assert rand_error(merged, truth) == pytest.approx(1 - 2 * 0.5 / 1.5)
    split = truth.astype(float).copy()
    split[2, :] = 0  # each cell: rows 0-1 (4 px) and row 3 (2 px) apart, row 2 = 2 singletons
    # per cell: segments of 4 and 2 pixels + 2 singletons -> sum p^2 = 16 + 4 + 2 = 22
    got = rand_scores(split, truth)
    assert got["v_rand_split"] == pytest.approx(44 / 128)
    assert got["v_rand_merge"] == 1.0
    assert rand_error(truth.astype(float), truth) == 0.0


def test_boundary_modes_change_the_score_of_a_dilated_membrane():
    truth = np.ones((9, 9), np.uint8)
    truth[:, 4] = 0
    pred = np.ones((9, 9))
    pred[:, 3:6] = 0  # membrane one pixel thicker on each side
    errors = {b: rand_error(pred, truth, boundary=b) for b in ("singletons", "background", "grow", "ignore")}
    assert errors["grow"] == errors["ignore"] == 0.0
    assert errors["singletons"] > 0.1  # 18 truth pixels become singletons
    assert errors["background"] > 0.1 and errors["background"] != errors["singletons"]


def test_rand_scores_stack_equals_side_by_side_slices(rng):
    pred, truth = random_pair(rng, (2, 6, 7))
    sep = np.zeros((6, 1))
    flat_pred = np.hstack([pred[0], sep, pred[1]])
    flat_truth = np.hstack([truth[0], sep, truth[1]]).astype(np.uint8)
    for key, value in rand_scores(pred, truth).items():
        assert value == pytest.approx(rand_scores(flat_pred, flat_truth)[key])


def test_rand_scores_maximise_over_thresholds():
    truth = np.ones((6, 7), np.uint8)
    truth[:, 3] = 0
    prob = np.where(truth > 0, 0.8, 0.3)
    got = rand_scores(prob, truth)
    assert got["v_rand"] == 1.0 and got["threshold_rand"] == pytest.approx(0.3)
    assert rand_scores(prob, truth, thresholds=[0.1])["v_rand"] < 1.0
    assert ISBI_THRESHOLDS == (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


# ------------------------------------------------ V_rand / V_info after thinning (Fiji)
def band(truth_col: int, rows: int = 4):
    """Cells in columns 0-7 but the truth membrane column; the prediction's border is columns 3-4."""
    truth = np.ones((rows, 8), np.uint8)
    truth[:, truth_col] = 0
    prob = np.ones((rows, 8))
    prob[:, 3:5] = 0
    return prob, truth


def h_nats(sizes):
    p = np.asarray(sizes, float) / np.sum(sizes)
    return float(-(p * np.log(p)).sum())


def test_thinning_puts_the_dam_where_fiji_floods_it():
    # the 2-pixel border is flooded in column-major order: column 3 joins the left cell first,
    # column 4 then touches both segments and becomes the dam
    prob, _ = band(4)
    assert (watershed_thin(prob > 0.5) == [1, 1, 1, 1, 0, 2, 2, 2]).all()
    got = rand_scores_thinned(prob, band(4)[1])  # truth membrane on the dam: perfect
    assert (got["v_rand"], got["v_info"], got["threshold_rand"]) == (1.0, 1.0, 0.0)
    got = rand_scores_thinned(prob, band(3)[1])
    # truth A = columns 0-2 (12 px), B = 4-7 (16 px); the dam (column 4) makes 4 singletons in B
    split = (12**2 + 12**2 + 4) / (12**2 + 16**2)  # 0.73, merge 1 (no segment spans A and B)
    assert got["v_rand_split"] == pytest.approx(0.73) and got["v_rand_merge"] == 1.0
    assert got["v_rand"] == pytest.approx(2 * split / (1 + split)) == pytest.approx(0.8439306358)
    info = h_nats([12, 16]) / h_nats([12, 12, 1, 1, 1, 1])  # I = H(truth), split = I / H(pred)
    assert got["v_info_split"] == pytest.approx(info) == pytest.approx(0.5680087290)
    assert got["v_info"] == pytest.approx(2 * info / (1 + info)) and got["v_info_merge"] == 1.0
    # without thinning, column 3 of truth A would be 4 singletons: the same score as here
    assert rand_scores(prob, band(4)[1])["v_rand"] == pytest.approx(0.8439306358)


def test_thinned_scores_average_the_slices():
    prob = np.stack([band(4)[0], band(3)[0]])
    got = rand_scores_thinned(prob, np.stack([band(4)[1], band(3)[1]]))
    assert got["v_rand"] == pytest.approx((1 + 0.8439306358381503) / 2)
    assert got["v_rand_split"] == pytest.approx((1 + 0.73) / 2)


def test_thinned_scores_keep_the_truth_borders_and_pick_the_best_threshold():
    truth = np.ones((6, 9), np.uint8)
    truth[:, 3:6] = 0  # a 3-pixel truth membrane is not thinned: it stays outside the foreground
    prob = truth * 0.6 + 0.2  # cells 0.8, border 0.2
    prob[2, 3:6] = 0.5  # a weak bridge across the border: closed from t = 0.5 on
    got = rand_scores_thinned(prob, truth)  # t <= 0.2: all cell (float32(0.2) > 0.2); 0.3, 0.4: bridged
    assert (got["v_rand"], got["threshold_rand"], got["v_info"], got["threshold_info"]) == (1.0, 0.5, 1.0, 0.5)
    merged = rand_scores_thinned(prob, truth, thresholds=[0.3])  # one segment over both truth cells
    assert merged["v_rand_split"] == 1.0 and merged["v_rand_merge"] == pytest.approx(0.5)
    assert merged["v_info"] == 0.0  # Fiji: zero predicted entropy gives V_info = 0
    assert len(ISBI_THINNED_THRESHOLDS) == 11  # Fiji's script: 0.0, 0.1, ... accumulated up to 1.0
    acc, th = [], 0.0
    while th <= 1.0:
        acc.append(th)
        th += 0.1
    assert np.allclose(ISBI_THINNED_THRESHOLDS, acc, rtol=0, atol=1e-15) and acc[-1] == ISBI_THINNED_THRESHOLDS[-1]


def test_watershed_thinning_separates_segments_and_keeps_cells(rng):
    for _ in range(5):
        cells = ndimage.binary_opening(rng.random((21, 17)) < 0.55)
        lab = watershed_thin(cells)
        comp = ndimage.label(cells, FOUR)[0]
        assert len(set(zip(comp[cells], lab[cells]))) == comp.max() == len(np.unique(lab[cells]))
        for a, b in ((lab[1:], lab[:-1]), (lab[:, 1:], lab[:, :-1])):  # dams between segments
            assert not ((a > 0) & (b > 0) & (a != b)).any()
        assert set(np.unique(lab[~cells])) - {0} <= set(np.unique(lab[cells]))
    assert (watershed_thin(np.zeros((3, 4), bool)) == 1).all()  # all border: one segment


# ----------------------------------------------------------------- SEG
def test_seg_perfect_none_and_half_overlap():
    ref = np.zeros((4, 8), int)
    ref[:, :4] = 1
    ref[:, 4:] = 2
    assert seg_score(ref, ref) == 1.0
    assert seg_score(np.zeros_like(ref), ref) == 0.0
    half = np.zeros_like(ref)
    half[:2, :4] = 7  # exactly half of object 1: not a match
    half[:, 4:] = 3  # object 2 exact
    seg, per = seg_score(half, ref, return_per_object=True)
    assert per == {1: 0.0, 2: 1.0} and seg == 0.5
    more = half.copy()
    more[2, 0] = 7  # 9 of 16 pixels: matched, J = 9 / 16
    assert seg_score(more, ref, return_per_object=True)[1][1] == pytest.approx(9 / 16)


def test_seg_pools_frames_and_ignores_extra_predictions():
    ref = np.zeros((2, 4, 4), np.uint16)
    ref[0, :2] = 5
    ref[1, 2:] = 5
    pred = ref.astype(np.int32)
    pred[1, 0, 0] = 9  # false positive object: SEG ignores it
    pred[0] = 0
    seg, per = seg_score(pred, ref, return_per_object=True)
    assert per == {(0, 5): 0.0, (1, 5): 1.0} and seg == 0.5


def test_seg_accepts_torch_and_rejects_lists():
    torch = pytest.importorskip("torch")
    ref = np.zeros((4, 4), np.int64)
    ref[1:3, 1:3] = 4
    assert seg_score(torch.from_numpy(ref), torch.from_numpy(ref)) == 1.0
    with pytest.raises(TypeError, match="numpy array"):
        seg_score(ref.tolist(), ref)


# ----------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "prob, truth, error, match",
    [
        (np.zeros((4, 4)), np.zeros((4, 5)), ValueError, "same shape"),
        (np.zeros((4, 4)), np.full((4, 4), 255), ValueError, r"truth > 0"),
        (np.full((4, 4), 2.0), np.ones((4, 4)), ValueError, r"\[0, 1\]"),
        (np.full((4, 4), np.nan), np.ones((4, 4)), ValueError, "finite"),
        (np.zeros((0, 4)), np.zeros((0, 4)), ValueError, "non-empty"),
        (np.zeros(4), np.zeros(4), ValueError, r"\(H, W\)"),
        ([[0.5]], np.ones((1, 1)), TypeError, "numpy array"),
    ],
)
def test_bad_inputs_raise_clear_errors(prob, truth, error, match):
    for fn in (pixel_error, rand_error):
        with pytest.raises(error, match=match):
            fn(prob, truth)


def test_other_bad_arguments():
    with pytest.raises(ValueError, match="truth slice has no cell"):
        rand_scores_thinned(np.ones((2, 3, 3)), np.stack([np.ones((3, 3)), np.zeros((3, 3))]))
    ones = np.ones((3, 3))
    with pytest.raises(ValueError, match="boundary='edges'"):
        rand_error(ones, ones, boundary="edges")
    with pytest.raises(ValueError, match="no cell"):
        rand_error(ones, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="thresholds"):
        pixel_error(ones, ones, thresholds=[])
    with pytest.raises(TypeError, match="integer instance labels"):
        seg_score(ones, ones.astype(int))
    with pytest.raises(ValueError, match=">= 0"):
        seg_score(-np.ones((3, 3), int), np.ones((3, 3), int))
    with pytest.raises(ValueError, match="no object"):
        seg_score(np.ones((3, 3), int), np.zeros((3, 3), int))


# ----------------------------------------------------------------- real data
def _isbi_labels(data_dir):
    tifffile = pytest.importorskip("tifffile")
    found = sorted(data_dir.glob("**/train-labels.tif"))
    if not found:
        pytest.skip("no train-labels.tif under UNET_DATA_DIR")
    return tifffile.imread(found[0])[:3] > 0  # (3, 512, 512) bool, 1 = cell


@pytest.mark.realdata
def test_real_isbi_truth_against_itself_and_a_dilated_membrane(data_dir):
    truth = _isbi_labels(data_dir)
    assert pixel_error(truth.astype(float), truth) == 0.0
    scores = rand_scores(truth.astype(float), truth)
    assert scores["v_rand"] == 1.0 and scores["v_info"] == 1.0
    dilated = ~ndimage.binary_dilation(~truth, structure=np.ones((1, 3, 3), bool))
    err = {b: rand_error(dilated.astype(float), truth, boundary=b) for b in ("singletons", "grow")}
    # measured on slices 0-2: about 0.07 (singletons) and 0.002 (grow)
    assert 0.02 < err["singletons"] < 0.15 and err["grow"] < 0.01


@pytest.mark.realdata
def test_real_phc_u373_gold_masks_seg(data_dir):
    from unet_core.data.ctc import load_ctc

    samples = load_ctc("phc-u373", root=data_dir, truth="gt")[:3]
    ref = np.stack([s.instances for s in samples]).astype(np.int64)  # (3, 520, 696)
    assert ref.shape == (3, 520, 696)
    assert seg_score(ref, ref) == 1.0
    interior = ndimage.minimum_filter(ref, (1, 5, 5)) == ndimage.maximum_filter(ref, (1, 5, 5))
    shrunk = np.where(interior, ref, 0)  # every cell loses a 2-pixel rim
    seg, per = seg_score(shrunk, ref, return_per_object=True)
    assert 0.7 < seg < 1.0 and len(per) == sum(np.unique(r).size - 1 for r in ref)


def test_segmentation_errors_count_merged_and_missed_cells_with_segs_matching_rule():
    truth = np.zeros((2, 10, 10), int)
    truth[0, :, :3], truth[0, :, 4:7], truth[0, :, 8:] = 1, 2, 3
    truth[1, :4, :4] = 5
    pred = np.zeros_like(truth)
    pred[0, :, :7] = 9  # one predicted cell over truth cells 1 and 2: both merged
    pred[0, :4, 8:] = 4  # covers 4 of the 10 pixels of truth cell 3: no match, missed
    pred[1, :4, :4] = 1  # exact
    assert segmentation_errors(pred, truth) == {"truth cells": 4, "merged cells": 2, "missed cells": 1}
    pred[0, :, :7], pred[0, :, 4:7] = 9, 8  # split the merge: nothing merged
    assert segmentation_errors(pred, truth)["merged cells"] == 0
    with pytest.raises(ValueError, match="same shape"):
        segmentation_errors(pred[0], truth)


def test_segmentation_error_masks_mark_the_truth_cells_that_are_counted_merged_or_missed():
    truth = np.zeros((10, 10), int)
    truth[:, :3], truth[:, 4:7], truth[:, 8:] = 1, 2, 3
    pred = np.zeros_like(truth)
    pred[:, :7] = 9  # spans truth cells 1 and 2
    pred[:4, 8:] = 4  # 8 of the 20 pixels of truth cell 3: missed
    merged, missed = segmentation_error_masks(pred, truth)
    assert merged.shape == truth.shape and merged.dtype == bool
    assert np.array_equal(merged, (truth == 1) | (truth == 2)) and np.array_equal(missed, truth == 3)
    counts = segmentation_errors(pred, truth)
    assert counts["merged cells"] == 2 and counts["missed cells"] == 1
    stack_merged, _ = segmentation_error_masks(np.stack([pred, truth]), np.stack([truth, truth]))
    assert stack_merged.shape == (2, 10, 10) and stack_merged[0].any() and not stack_merged[1].any()
    with pytest.raises(ValueError, match="same shape"):
        segmentation_error_masks(pred[:5], truth)
