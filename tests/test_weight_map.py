"""Tests of unet_core.data.loss_weights: separation borders (Fig. 3c) and the Eq. 2 weight map (Fig. 3d)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from unet_core.data.loss_weights import foreground_with_borders, separation_border, weight_map, weight_map_brute_force


# ----------------------------------------------------------------------------- generators (seeded)
def _shuffle_labels(labels: np.ndarray, rng: np.random.Generator, dtype=np.uint16) -> np.ndarray:
    """Give the cells random, non-consecutive label values (0 stays background)."""
    n = int(labels.max())
    values = np.concatenate([[0], rng.choice(np.arange(1, 60000), size=n, replace=False)])
    return values[labels].astype(dtype)


def _touching_cells(shape, n_cells, seed, dtype=np.uint16) -> np.ndarray:
    """Random ellipses painted one over the other: many touch, some overlap the image edge."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]]  # (H, W) each
    labels = np.zeros(shape, dtype=np.int64)
    scale = np.sqrt(shape[0] * shape[1] / n_cells)
    for k in range(1, n_cells + 1):
        cy, cx = rng.uniform(-2, shape[0] + 2), rng.uniform(-2, shape[1] + 2)
        ry, rx = scale * rng.uniform(0.3, 0.8, size=2)
        labels[((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0] = k
    return _shuffle_labels(labels, rng, dtype)


def _dense(labels: np.ndarray) -> np.ndarray:
    """Labels 1..N in order of value, 0 kept as background."""
    return np.searchsorted(np.union1d([0], labels), labels)


def _separate_blobs(shape, seed, dtype=np.uint16) -> np.ndarray:
    """Connected components (8-connectivity) of smoothed noise: cells never touch."""
    rng = np.random.default_rng(seed)
    noise = ndi.gaussian_filter(rng.standard_normal(shape), 2.0)
    labels = ndi.label(noise > 0.05, structure=np.ones((3, 3)))[0]
    return _shuffle_labels(labels, rng, dtype)


def _assert_close(fast: np.ndarray, slow: np.ndarray) -> None:
    assert fast.dtype == np.float32 and slow.dtype == np.float32
    assert fast.shape == slow.shape
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-5)


# ----------------------------------------------------------------------------- separation borders
def test_separation_border_side_by_side_marks_both_sides_only():
    cells = np.zeros((3, 9), dtype=np.uint16)
    cells[:, 0:4] = 5
    cells[:, 4:8] = 2  # column 8 stays background
    border = separation_border(cells)
    expected = np.zeros((3, 9), dtype=bool)
    expected[:, 3:5] = True
    np.testing.assert_array_equal(border, expected)
    np.testing.assert_array_equal(foreground_with_borders(cells), (cells != 0) & ~expected)


def test_separation_border_uses_8_neighbourhood():
    cells = np.zeros((4, 4), dtype=np.int32)
    cells[1, 1] = 1
    cells[2, 2] = 2  # diagonal contact only
    cells[0, 3] = 3  # touches nothing but background
    expected = np.zeros((4, 4), dtype=bool)
    expected[1, 1] = expected[2, 2] = True
    np.testing.assert_array_equal(separation_border(cells), expected)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_separation_border_matches_pixel_loop_and_separates(seed):
    cells = _touching_cells((23, 31), 12, seed)
    expected = np.zeros(cells.shape, dtype=bool)
    for y, x in zip(*np.nonzero(cells)):
        window = cells[max(y - 1, 0) : y + 2, max(x - 1, 0) : x + 2]
        expected[y, x] = bool(((window != 0) & (window != cells[y, x])).any())
    border = separation_border(cells)
    assert border.any()
    np.testing.assert_array_equal(border, expected)
    # after removal no pixel of one cell is an 8-neighbour of a pixel of another
    kept = np.where(border, 0, cells)
    for other in np.unique(kept[kept != 0]):
        grown = ndi.binary_dilation(kept == other, structure=np.ones((3, 3)))
        assert set(np.unique(kept[grown])) <= {0, other}


def test_separation_border_ignores_label_values():
    rng = np.random.default_rng(7)
    cells = _touching_cells((30, 30), 15, seed=3)
    permuted = _shuffle_labels(_dense(cells), rng, np.int64)
    np.testing.assert_array_equal(separation_border(cells), separation_border(permuted))


# ----------------------------------------------------------------------------- Eq. 2 by hand
def test_weight_map_two_columns_by_hand():
    cells = np.zeros((2, 9), dtype=np.uint16)
    cells[:, 0] = 3
    cells[:, 8] = 9
    for fn in (weight_map, weight_map_brute_force):
        w = fn(cells, w0=10.0, sigma=5.0, class_weights=None)
        expected = np.ones((2, 9))
        expected[:, 1:8] += 10.0 * np.exp(-(8.0**2) / 50.0)  # d1 + d2 = 8 between the columns
        np.testing.assert_allclose(w, expected, rtol=1e-6)


def test_weight_map_border_pixels_get_the_border_term():
    cells = np.zeros((3, 8), dtype=np.uint8)
    cells[:, 0:4] = 1
    cells[:, 4:8] = 2  # border = columns 3, 4; remaining cells: columns 0-2 and 5-7
    w = weight_map(cells, w0=10.0, sigma=5.0, class_weights=(0.5, 2.0))
    expected = np.full((3, 8), 2.0)
    expected[:, 3:5] = 0.5 + 10.0 * np.exp(-(3.0**2) / 50.0)  # d1 = 1, d2 = 2
    np.testing.assert_allclose(w, expected, rtol=1e-6)


def test_balanced_class_weights_formula():
    cells = np.zeros((4, 5), dtype=np.int32)
    cells[1, :] = 4  # 5 foreground pixels, 15 background
    np.testing.assert_array_equal(weight_map(cells), np.where(cells != 0, 3.0, 1.0).astype(np.float32))
    big = np.ones((4, 5), dtype=np.int32)
    big[0, :2] = 0  # 18 foreground, 2 background: the frequent class keeps 1
    np.testing.assert_array_equal(weight_map(big), np.where(big != 0, 1.0, 9.0).astype(np.float32))
    np.testing.assert_array_equal(weight_map(np.full((3, 3), 2, np.uint16)), np.ones((3, 3), np.float32))
    np.testing.assert_array_equal(weight_map(np.zeros((3, 3), np.uint16)), np.ones((3, 3), np.float32))


def test_fewer_than_two_cells_and_w0_zero_give_class_weights_only():
    one = np.zeros((20, 20), dtype=np.uint16)
    one[5:9, 5:9] = 17
    for fn in (weight_map, weight_map_brute_force):
        np.testing.assert_array_equal(fn(one, class_weights=(2.0, 5.0)), np.where(one != 0, 5.0, 2.0))
    two = _touching_cells((20, 20), 6, seed=4)
    w = weight_map(two, w0=0.0, class_weights=None)
    np.testing.assert_array_equal(w, np.ones((20, 20), np.float32))


# ----------------------------------------------------------------------------- fast == brute force
CASES = {
    "empty": (np.zeros((16, 20), np.uint16), {}),
    "one-cell-at-edge": (np.pad(np.full((5, 7), 9, np.uint16), ((0, 11), (13, 0))), {}),
    "two-touching": (np.repeat(np.array([[1] * 6 + [2] * 6], np.uint16), 8, axis=0), {}),
    "two-apart": (np.pad(np.array([[4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3]], np.int64), ((3, 3), (2, 5))), {}),
    "many-touching": (_touching_cells((48, 64), 30, seed=10), {}),
    "many-touching-int32-none": (_touching_cells((40, 40), 25, seed=11, dtype=np.int32), {"class_weights": None}),
    "many-touching-small-sigma": (_touching_cells((50, 45), 20, seed=12), {"sigma": 2.0, "w0": 3.0}),
    "many-touching-wide-sigma": (_touching_cells((48, 48), 12, seed=13), {"sigma": 9.0, "w0": 25.0}),
    "many-apart": (_separate_blobs((56, 60), seed=14), {"class_weights": (0.3, 1.7)}),
    "many-apart-uint8": (_separate_blobs((40, 70), seed=15, dtype=np.uint8), {}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_weight_map_equals_brute_force(name):
    cells, kwargs = CASES[name]
    before = cells.copy()
    fast = weight_map(cells, **kwargs)
    _assert_close(fast, weight_map_brute_force(cells, **kwargs))
    np.testing.assert_array_equal(cells, before)  # input untouched


@pytest.mark.parametrize("seed", range(4))
def test_weight_map_equals_brute_force_random(seed):
    rng = np.random.default_rng(100 + seed)
    shape = (int(rng.integers(20, 70)), int(rng.integers(20, 70)))
    cells = _touching_cells(shape, int(rng.integers(2, 40)), seed=seed)
    kwargs = {"w0": float(rng.uniform(1, 20)), "sigma": float(rng.uniform(1, 8))}
    _assert_close(weight_map(cells, **kwargs), weight_map_brute_force(cells, **kwargs))


@pytest.mark.parametrize("touching", [0.0, 0.5, 1.0])
def test_weight_map_equals_brute_force_on_synthetic_cells(touching):
    from unet_core.data.synthetic import synthetic_cells

    cells = synthetic_cells((80, 96), n_cells=14, seed=5, touching=touching)[1]
    assert len(np.unique(cells)) > 3
    _assert_close(weight_map(cells), weight_map_brute_force(cells))


def test_large_eps_error_stays_below_eps():
    cells = _touching_cells((64, 64), 12, seed=20)
    exact = weight_map_brute_force(cells, class_weights=None)
    coarse = weight_map(cells, class_weights=None, eps=0.5)
    err = np.abs(coarse.astype(np.float64) - exact)
    assert 0 < err.max() < 0.5 + 1e-5  # the crop really truncates, and stays within the bound


def test_label_values_and_dtype_do_not_matter():
    cells = _touching_cells((40, 50), 20, seed=21)
    ref = weight_map(cells)
    dense = _dense(cells)
    huge = dense.astype(np.uint64) * np.uint64(2**40)  # far beyond the image size: relabelled internally
    for variant in (
        dense.astype(np.int16),
        dense.astype(np.int64),
        cells.astype(">u2"),
        np.asfortranarray(cells),
        huge,
    ):
        np.testing.assert_array_equal(weight_map(variant), ref)
    _assert_close(weight_map_brute_force(huge), ref)


# ----------------------------------------------------------------------------- bad input
GOOD = np.array([[0, 1], [2, 0]], dtype=np.uint16)


@pytest.mark.parametrize("fn", [separation_border, foreground_with_borders, weight_map, weight_map_brute_force])
@pytest.mark.parametrize(
    "bad, exc, message",
    [
        (np.array([[0.0, 1.0], [2.0, 0.0]]), TypeError, r"integer dtype .* instances\.astype\(np\.int32\)"),
        (np.array([[True, False]]), TypeError, r"got a boolean mask; .*scipy\.ndimage\.label"),
        (np.array([[0, -3]], dtype=np.int16), ValueError, r"instances must be >= 0 .* got minimum -3"),
        (np.zeros((2, 2, 2), dtype=np.uint8), ValueError, r"2-D \(H, W\) label image, got shape \(2, 2, 2\)"),
        (np.zeros((0, 4), dtype=np.uint8), ValueError, r"instances must not be empty, got shape \(0, 4\)"),
    ],
)
def test_bad_instances(fn, bad, exc, message):
    with pytest.raises(exc, match=message):
        fn(bad)


@pytest.mark.parametrize("fn", [weight_map, weight_map_brute_force])
@pytest.mark.parametrize(
    "kwargs, exc, message",
    [
        ({"sigma": 0.0}, ValueError, r"sigma must be a finite number > 0, got 0\.0; the paper uses sigma=5\.0"),
        ({"sigma": "5"}, TypeError, r"sigma must be a real number, got '5'"),
        ({"w0": -1}, ValueError, r"w0 must be a finite number >= 0, got -1\.0"),
        ({"w0": float("nan")}, ValueError, r"w0 must be a finite number >= 0, got nan"),
        ({"class_weights": "inverse"}, ValueError, r"class_weights='inverse' is not valid; use 'balanced', None"),
        ({"class_weights": (1.0, 2.0, 3.0)}, ValueError, r"class_weights must be .* got \(1\.0, 2\.0, 3\.0\)"),
        ({"class_weights": ("a", "b")}, ValueError, r"class_weights must be .* pair"),
        ({"class_weights": (1.0, -2.0)}, ValueError, r"finite numbers >= 0, got \(1\.0, -2\.0\)"),
    ],
)
def test_bad_parameters(fn, kwargs, exc, message):
    with pytest.raises(exc, match=message):
        fn(GOOD, **kwargs)


def test_bad_eps():
    with pytest.raises(ValueError, match=r"eps must be a finite number > 0, got 0\.0"):
        weight_map(GOOD, eps=0.0)


# ----------------------------------------------------------------------------- real data
def _read_mask(path) -> np.ndarray:
    """tifffile, or Pillow when the LZW codec (package imagecodecs) is missing."""
    import tifffile
    from PIL import Image

    try:
        return tifffile.imread(path)
    except ValueError as exc:  # "<COMPRESSION.LZW: 5> requires the 'imagecodecs' package"
        if "imagecodecs" not in str(exc):
            raise
        with Image.open(path) as image:
            return np.array(image)


@pytest.mark.realdata
def test_real_phc_u373_mask_matches_brute_force(data_dir):
    paths = sorted(data_dir.glob("**/man_seg*.tif"))
    if not paths:
        pytest.skip(f"no man_seg*.tif under {data_dir}")
    preferred = [p for p in paths if p.name == "man_seg010.tif" and "U373" in str(p) and "02" in str(p.parent)]
    cells = _read_mask(preferred[0] if preferred else paths[0])
    assert cells.ndim == 2 and np.issubdtype(cells.dtype, np.integer)
    assert len(np.unique(cells)) >= 3  # background and at least two cells
    fast = weight_map(cells)
    _assert_close(fast, weight_map_brute_force(cells))
    border_term = fast - weight_map(cells, w0=0.0)
    assert border_term.max() > (1.0 if preferred else 0.0)  # 02/man_seg010 has two close cells
