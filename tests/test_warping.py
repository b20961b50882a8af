"""Tests for unet_core.warping: simple-point table, topology-preserving warping, warping error."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from unet_core.warping import simple_point_lut, warp_labels, warping_error

FOUR = ndimage.generate_binary_structure(2, 1)
EIGHT = np.ones((3, 3), bool)


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


def test_identical_and_shifted_boundaries_give_exactly_zero():
    truth = square()
    assert warping_error(truth.astype(float), truth, count="all") == 0.0
    shifted = np.zeros_like(truth)
    shifted[3:11, 1:9] = 1  # same object, boundary moved by one pixel
    assert warping_error(shifted.astype(float), truth, count="all") == 0.0
    thicker = np.roll(truth, 1, axis=0) | truth  # grown by one row: still one simply connected cell
    assert warping_error(thicker.astype(float), truth, count="all") == 0.0


def test_split_counts_the_single_cutting_pixel():
    truth = square()
    pred = truth.copy()
    pred[2:10, 5] = 0  # a membrane line cuts the cell in two
    err, details = warping_error(pred.astype(float), truth, return_details=True)
    assert details["split"] == 1 and details["merge"] == 0 and details["mismatch"] == 1
    assert err == pytest.approx(1 / truth.size)


def test_merge_counts_every_pixel_of_the_missing_membrane():
    truth = square()
    truth[2:10, 5] = 0  # two cells separated by a one-pixel membrane
    err, details = warping_error(square().astype(float), truth, return_details=True)
    assert details["merge"] == 8 and details["split"] == 0 and details["mismatch"] == 8
    assert err == pytest.approx(8 / truth.size)


def test_hole_and_deleted_object_are_not_splits_or_merges():
    truth = square()
    pred = truth.astype(float)
    pred[5, 5] = 0  # a membrane speck inside the cell (hole)
    err, details = warping_error(pred, truth, return_details=True)
    assert err == 0.0 and details["other"] == 1
    assert warping_error(pred, truth, count="all") == pytest.approx(1 / truth.size)
    small = truth.copy()
    small[0, 0] = 1  # truth has a one-pixel cell the prediction misses
    assert warping_error(truth.astype(float), small, return_details=True)[1]["other"] == 1


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
            assert not lut[patch_code(padded[y:y + 3, x:x + 3])]  # no simple disagreement is left


def test_mask_limits_the_flips():
    truth = square()
    shifted = np.zeros_like(truth)
    shifted[3:11, 1:9] = 1
    mask = np.zeros(truth.shape, bool)
    mask[:, :6] = True
    warped = warp_labels(truth, shifted, mask=mask)
    assert (warped[:, 6:] == truth[:, 6:]).all() and (warped[:, :6] == shifted[:, :6]).all()


def test_stack_pools_counts_and_uses_one_threshold():
    truth = np.stack([square(), square()])
    truth[1, 2:10, 5] = 0
    prob = np.stack([square(), square()]).astype(float) * 0.8 + 0.1  # cells 0.9, membrane 0.1
    prob[0, 2:10, 5] = 0.3  # a weak false membrane: it splits slice 0 for thresholds >= 0.3
    err, details = warping_error(prob, truth, return_details=True)
    assert details["threshold"] < 0.3 and details["split"] == 0 and details["merge"] == 8
    assert err == pytest.approx(8 / truth.size)  # slice 1 misses its membrane at every threshold
    high = warping_error(prob, truth, thresholds=[0.5], return_details=True)[1]
    assert high["split"] == 1 and high["merge"] == 8


def test_bad_arguments():
    ones = np.ones((4, 4))
    with pytest.raises(ValueError, match="count='pixels'"):
        warping_error(ones, ones, count="pixels")
    with pytest.raises(ValueError, match=r"truth > 0"):
        warping_error(ones, ones * 255)
    with pytest.raises(ValueError, match="same shape"):
        warping_error(ones, np.ones((4, 3)))
    with pytest.raises(ValueError, match="one shape"):
        warp_labels(np.ones((4, 4)), np.ones((3, 4)))


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
    # measured on slice 0: 46 split pixels (thin necks closed), no merge: 1.8e-4
    assert err < 1e-3 and details["merge"] == 0
