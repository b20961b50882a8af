"""Tests for unet_core.metrics.warping(_fiji): simple-point table, warping, warping error, Fiji's rules."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from unet_core.metrics.warping import simple_point_lut, warp_labels, warping_error
from unet_core.metrics.warping_fiji import classify, warp

FOUR = ndimage.generate_binary_structure(2, 1)
EIGHT = np.ones((3, 3), bool)
METHODS = ("fiji", "parity")


def patch_code(patch) -> int:
    return int((np.asarray(patch).ravel().astype(int) << np.arange(9)).sum())


def yokoi_simple(code: int) -> bool:
    """Independent reference: Yokoi's 4-connectivity number equals 1."""
    patch = (code >> np.arange(9)) & 1
    ring = [patch[i] for i in (5, 2, 1, 0, 3, 6, 7, 8)]  # E, NE, N, NW, W, SW, S, SE
    x = ring + ring[:2]
    return sum(x[k] - x[k] * x[k + 1] * x[k + 2] for k in (0, 2, 4, 6)) == 1


def topology(img: np.ndarray) -> tuple[int, int]:
    """(cell components, 4-conn; membrane components, 8-conn, with a membrane frame)."""
    padded = np.pad(img, 1)
    return ndimage.label(padded, FOUR)[1], ndimage.label(~padded, EIGHT)[1]


def square(n=12, lo=2, hi=10):
    img = np.zeros((n, n), np.uint8)
    img[lo:hi, lo:hi] = 1
    return img


def test_lut_agrees_with_yokoi_connectivity_number_for_all_512_patches():
    lut = simple_point_lut()
    assert lut.shape == (512,) and lut.dtype == bool
    assert all(lut[c] == yokoi_simple(c) for c in range(512))
    assert all(lut[c] == lut[c ^ 16] for c in range(512))  # the centre bit does not matter


@pytest.mark.parametrize(
    "patch, simple",
    [
        ([[0, 0, 0], [0, 1, 0], [0, 0, 0]], False),  # isolated cell pixel: deletion
        ([[1, 1, 1], [1, 1, 1], [1, 1, 1]], False),  # interior: removing it makes a hole
        ([[0, 1, 0], [0, 1, 0], [0, 1, 0]], False),  # bridge: removing it splits
        ([[1, 0, 1], [1, 0, 1], [1, 0, 1]], False),  # filling it merges two cells
        ([[0, 0, 0], [0, 1, 0], [1, 1, 1]], True),  # edge pixel
        ([[0, 0, 0], [0, 1, 0], [0, 1, 0]], True),  # end of a line
    ],
)
def test_lut_hand_cases(patch, simple):
    assert simple_point_lut()[patch_code(patch)] == simple


@pytest.mark.parametrize("method", METHODS)
def test_identical_and_shifted_boundaries_give_exactly_zero(method):
    truth = square()
    assert warping_error(truth.astype(float), truth, count="all", method=method) == 0.0
    shifted = np.zeros_like(truth)
    shifted[3:11, 1:9] = 1  # same object, boundary moved by one pixel
    assert warping_error(shifted.astype(float), truth, count="all", method=method) == 0.0
    thicker = np.roll(truth, 1, axis=0) | truth  # grown by one row: still one simply connected cell
    assert warping_error(thicker.astype(float), truth, count="all", method=method) == 0.0


@pytest.mark.parametrize("method", METHODS)
def test_split_counts_the_single_cutting_pixel(method):
    truth = square()
    pred = truth.copy()
    pred[2:10, 5] = 0  # a membrane line cuts the cell in two
    err, details = warping_error(pred.astype(float), truth, return_details=True, method=method)
    assert details["split"] == 1 and details["merge"] == 0 and details["mismatch"] == 1
    assert err == pytest.approx(1 / truth.size)


@pytest.mark.parametrize("method", METHODS)
def test_merge_counts_every_pixel_of_the_missing_membrane(method):
    truth = square()
    truth[2:10, 5] = 0  # two cells separated by a one-pixel membrane
    err, details = warping_error(square().astype(float), truth, return_details=True, method=method)
    assert details["merge"] == 8 and details["split"] == 0 and details["mismatch"] == 8
    assert err == pytest.approx(8 / truth.size)


@pytest.mark.parametrize("method", METHODS)
def test_hole_and_deleted_object_are_not_splits_or_merges(method):
    truth = square()
    pred = truth.astype(float)
    pred[5, 5] = 0  # a membrane speck inside the cell (hole)
    err, details = warping_error(pred, truth, return_details=True, method=method)
    assert err == 0.0 and details["other"] == 1
    assert warping_error(pred, truth, count="all", method=method) == pytest.approx(1 / truth.size)
    small = truth.copy()
    small[0, 0] = 1  # truth has a one-pixel cell the prediction misses
    assert warping_error(truth.astype(float), small, return_details=True, method=method)[1]["other"] == 1


def test_warping_preserves_topology_and_reaches_a_local_minimum(rng):
    lut = simple_point_lut()
    for _ in range(5):
        truth = ndimage.binary_opening(rng.random((40, 40)) < 0.6)
        target = ndimage.binary_opening(rng.random((40, 40)) < 0.6)
        warped = warp_labels(truth, target)
        assert topology(warped) == topology(truth)
        assert (warped != target).sum() <= (truth != target).sum()
        padded = np.pad(warped, 1).astype(int)
        for y, x in zip(*np.nonzero(warped != target)):
            assert not lut[patch_code(padded[y : y + 3, x : x + 3])]  # no simple disagreement is left


def test_mask_limits_the_flips():
    truth = square()
    shifted = np.zeros_like(truth)
    shifted[3:11, 1:9] = 1
    mask = np.zeros(truth.shape, bool)
    mask[:, :6] = True
    warped = warp_labels(truth, shifted, mask=mask)
    assert (warped[:, 6:] == truth[:, 6:]).all() and (warped[:, :6] == shifted[:, :6]).all()


@pytest.mark.parametrize("method", METHODS)
def test_stack_pools_counts_and_uses_one_threshold(method):
    truth = np.stack([square(), square()])
    truth[1, 2:10, 5] = 0
    prob = np.stack([square(), square()]).astype(float) * 0.8 + 0.1  # cells 0.9, membrane 0.1
    prob[0, 2:10, 5] = 0.3  # a weak false membrane: it splits slice 0 for thresholds >= 0.3
    err, details = warping_error(prob, truth, return_details=True, method=method)
    assert details["threshold"] < 0.3 and details["split"] == 0 and details["merge"] == 8
    assert err == pytest.approx(8 / truth.size)  # slice 1 misses its membrane at every threshold
    high = warping_error(prob, truth, thresholds=[0.5], return_details=True, method=method)[1]
    assert high["split"] == 1 and high["merge"] == 8


def test_bad_arguments():
    ones = np.ones((4, 4))
    with pytest.raises(ValueError, match="count='pixels'"):
        warping_error(ones, ones, count="pixels")
    with pytest.raises(ValueError, match="method='matlab'"):
        warping_error(ones, ones, method="matlab")
    with pytest.raises(ValueError, match="thresholds"):
        warping_error(ones, ones, thresholds=[])
    with pytest.raises(ValueError, match=r"truth > 0"):
        warping_error(ones, ones * 255)
    with pytest.raises(ValueError, match="same shape"):
        warping_error(ones, np.ones((4, 3)))
    with pytest.raises(ValueError, match="one shape"):
        warp_labels(np.ones((4, 4)), np.ones((3, 4)))


# ------------------------------------------------------- Fiji's algorithm (method="fiji")
def fiji_reference(truth, prob, th, radius):
    """Literal version of Fiji's loop: every pass re-tests *every* disagreeing pixel.

    Returns (split, merge, mismatch) with Fiji's 8-neighbourhood classification.
    """
    simple = [yokoi_simple(c) for c in range(512)]
    h, w = truth.shape
    p32 = prob.astype(np.float32)
    src, tgt = np.pad(truth.astype(np.uint8), 1), np.pad((p32 > th).astype(np.uint8), 1)
    prev = None
    while True:
        todo = [
            (float(np.float32(abs(float(p32[y, x]) - th))), y, x)
            for x in range(w)
            for y in range(h)
            if src[y + 1, x + 1] != tgt[y + 1, x + 1]
        ]
        if not todo or len(todo) == prev:  # a pass flipped nothing
            break
        prev = len(todo)
        todo.sort(key=lambda m: -m[0])  # stable: ties stay in the x-major scan order
        for _, y, x in todo:
            if simple[patch_code(src[y : y + 3, x : x + 3])]:
                src[y + 1, x + 1] ^= 1
    warped = src[1:-1, 1:-1].astype(bool)
    lab = ndimage.label(warped, FOUR)[0]
    ring = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx]
    split = merge = 0
    for _, y, x in todo:
        ids = {lab[y + dy, x + dx] for dy, dx in ring if 0 <= y + dy < h and 0 <= x + dx < w}
        if len(ids) >= 3:
            merge, split = merge + (not warped[y, x]), split + bool(warped[y, x])
        elif len(ids) == 2 and warped[y, x]:
            r = radius if radius is not None and 1 <= radius <= min(h, w) else 0
            win = np.pad(warped, r)[y : y + 2 * r + 1, x : x + 2 * r + 1].copy() if r else warped.copy()
            cy, cx = (r, r) if r else (y, x)
            win[cy, cx] = False
            sub = ndimage.label(win, FOUR)[0]
            ids = {
                sub[cy + dy, cx + dx] for dy, dx in ring if 0 <= cy + dy < win.shape[0] and 0 <= cx + dx < win.shape[1]
            }
            split += len(ids) > 2
    return split, merge, len(todo)


@pytest.mark.parametrize("radius", [4, None])
def test_fiji_port_matches_a_literal_pass_by_pass_reference(rng, radius):
    lut = simple_point_lut()
    for _ in range(4):
        truth = ndimage.binary_opening(rng.random((18, 23)) < 0.65)
        prob = np.round(ndimage.gaussian_filter(rng.random((18, 23)), 1.2) * 16) / 8  # many ties
        prob = np.clip(prob - prob.min(), 0, 1)
        for th in (0.2, 0.5):
            res = classify(*warp(truth, prob.astype(np.float32), th, lut), radius)
            assert (res["split"], res["merge"], res["mismatch"]) == fiji_reference(truth, prob, th, radius)


def test_fiji_gap_in_a_membrane_counts_each_gap_pixel_as_a_merge():
    truth = square()
    truth[2:10, 5] = 0  # cells A | B
    prob = truth.astype(float)
    prob[5:8, 5] = 1.0  # the prediction misses 3 pixels of the membrane: each touches A and B
    err, d = warping_error(prob, truth, return_details=True)
    assert (d["split"], d["merge"], d["other"], d["mismatch"]) == (0, 3, 0, 3)
    assert err == 3 / 144


@pytest.mark.parametrize("method, merge", [("fiji", 1), ("parity", 0)])
def test_fiji_counts_a_diagonal_contact_as_a_merge(method, merge):
    truth = np.zeros((9, 9), np.uint8)
    truth[1:4, 1:4] = 1  # cell A
    truth[5:8, 5:8] = 1  # cell B, touching A's corner only diagonally across (4, 4)
    prob = truth.astype(float)
    prob[4, 4] = 1.0  # a cell speck at (4, 4): not simple (no 4-neighbour cell), never flipped
    err, d = warping_error(prob, truth, return_details=True, method=method)
    # Fiji: ids {0, A, B} among the 8 neighbours -> merge; parity: no 4-neighbour joins two cells
    assert (d["merge"], d["other"], d["mismatch"]) == (merge, 1 - merge, 1)
    assert err == merge / 81


def test_fiji_two_pixel_spurious_line_leaves_a_two_pixel_split_neck():
    truth = square()
    prob = truth.astype(float)
    prob[2:10, 5:7] = 0  # a 2-pixel wide false membrane across the cell
    # ties: column-major order; column 5 is removed from the top down to (8, 5), column 6 to
    # (8, 6); (9, 5) and (9, 6) are the last neck and each would split the cell
    warped, left = warp(truth.astype(bool), prob.astype(np.float32), 0.5, simple_point_lut())
    assert list(zip(*map(list, left))) == [(9, 5), (9, 6)]
    err, d = warping_error(prob, truth, return_details=True)
    assert (d["split"], d["merge"], d["mismatch"]) == (2, 0, 2) and err == 2 / 144


def order_case():
    """p = (3, 3), q = (3, 4): a two-pixel cell the prediction misses; cells C1, C2 touch q diagonally."""
    truth = np.zeros((7, 8), np.uint8)
    truth[3, 3:5] = 1
    truth[1:3, 5:7] = truth[4:6, 5:7] = 1
    prob = np.zeros((7, 8))
    prob[1:3, 5:7] = prob[4:6, 5:7] = 1.0
    return truth, prob


@pytest.mark.parametrize(
    "p_prob, q_prob, method, split",
    [
        (0.0, 0.4, "fiji", 1),  # p more confident (|0 - .5| > |.4 - .5|): p goes, q stays -> ids {0, C1, C2}
        (0.4, 0.0, "fiji", 0),  # q goes first, p stays isolated: an object deletion
        (0.0, 0.4, "parity", 0),  # parity classes: q (row 3, column 4) before p (column 3), whatever prob
    ],
)
def test_flip_order_decides_which_pixel_is_left(p_prob, q_prob, method, split):
    truth, prob = order_case()
    prob[3, 3], prob[3, 4] = p_prob, q_prob
    err, d = warping_error(prob, truth, thresholds=[0.5], return_details=True, method=method)
    assert (d["split"], d["merge"], d["mismatch"]) == (split, 0, 1) and err == split / 56


def test_fiji_ties_follow_the_column_major_scan():
    truth, prob = order_case()  # binary prediction: all disagreements tie; p (column 3) is first
    assert warping_error(prob, truth, return_details=True)[1]["split"] == 1
    mirrored = warping_error(prob[:, ::-1], truth[:, ::-1], return_details=True)[1]  # now q is first
    assert (mirrored["split"], mirrored["other"]) == (0, 1)


def test_fiji_split_is_judged_in_a_41_by_41_window():
    truth = np.zeros((50, 50), np.uint8)
    truth[5:45, 5:45] = 1
    truth[8:42, 8:42] = 0  # a ring-shaped cell, 3 pixels wide, 40 pixels across
    prob = truth.astype(float)
    prob[5:8, 25] = 0  # the prediction cuts the ring once: (7, 25) cannot go (hole would open)
    local = warping_error(prob, truth, return_details=True)[1]  # radius 20: cut inside the window
    whole = warping_error(prob, truth, radius=None, return_details=True)[1]  # joined around the ring
    assert (local["split"], local["other"]) == (1, 0) and (whole["split"], whole["other"]) == (0, 1)


def test_fiji_compares_prob_in_32_bit_like_fiji_images():
    truth = square()
    prob = truth.astype(float)
    prob[2:10, 5] = 0.1  # float32(0.1) > 0.1: cells for Fiji at t = 0.1, a cutting membrane in float64
    assert warping_error(prob, truth, thresholds=[0.1], return_details=True)[1]["mismatch"] == 0
    assert warping_error(prob, truth, thresholds=[0.1], method="parity", return_details=True)[1]["split"] == 1


def test_fiji_threshold_sweep_ties_and_all_membrane_cuts():
    truth = square()
    truth[2:10, 5] = 0
    prob = truth * 0.5 + 0.25  # cells 0.75, membrane 0.25
    prob[5, 5] = 0.6  # one gap pixel in the membrane line
    # t < 0.25: all cell, 8 merges; 0.3..0.6: the gap merges (float32(0.6) > 0.6); 0.7: perfect
    err, d = warping_error(prob, truth, return_details=True)
    assert (d["threshold"], d["merge"], err) == (0.7, 0, 0.0)
    d = warping_error(prob, truth, thresholds=[0.5, 0.3, 0.6], return_details=True)[1]
    assert (d["threshold"], d["merge"]) == (0.3, 1)  # equal counts: the lowest threshold wins
    assert warping_error(prob, truth, thresholds=[0.5], count="all") == 1 / 144
    # an all-membrane cut (t >= 0.75) shrinks each cell to one pixel: 0 splits and merges;
    # it is skipped unless every threshold gives one
    assert warping_error(prob, truth, thresholds=[0.5, 0.8]) == 1 / 144
    assert warping_error(prob, truth, thresholds=[0.8, 0.9], return_details=True)[1]["threshold"] == 0.8


@pytest.mark.realdata
def test_real_isbi_slice_against_itself_and_a_dilated_membrane(data_dir):
    tifffile = pytest.importorskip("tifffile")
    found = sorted(data_dir.glob("**/train-labels.tif"))
    if not found:
        pytest.skip("no train-labels.tif under UNET_DATA_DIR")
    truth = tifffile.imread(found[0])[0] > 0  # (512, 512), 1 = cell
    assert warping_error(truth.astype(float), truth, count="all") == 0.0
    dilated = ~ndimage.binary_dilation(~truth, structure=EIGHT)
    err, details = warping_error(dilated.astype(float), truth, return_details=True)
    # measured on slice 0: 48 split pixels (thin necks closed), no merge: 1.8e-4 (parity: 46)
    assert err < 1e-3 and details["merge"] == 0
