"""Tests of the synthetic stand-ins (unet_core.data.synthetic)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from unet_core.data.synthetic import synthetic_cells, synthetic_em


def _neighbour_pairs(instances: np.ndarray, size: int) -> set[tuple[int, int]]:
    """Pairs of distinct instances with pixels within chessboard distance size // 2."""
    pairs = set()
    for lab in range(1, int(instances.max()) + 1):
        grown = ndimage.binary_dilation(instances == lab, structure=np.ones((size, size), bool))
        for other in np.unique(instances[grown]):
            if other > 0 and other != lab:
                pairs.add((min(lab, int(other)), max(lab, int(other))))
    return pairs


def _four_adjacent_pairs(instances: np.ndarray) -> set[tuple[int, int]]:
    pairs = set()
    for a, b in ((instances[1:, :], instances[:-1, :]), (instances[:, 1:], instances[:, :-1])):
        m = (a != b) & (a > 0) & (b > 0)
        pairs |= {(int(min(x, y)), int(max(x, y))) for x, y in zip(a[m], b[m])}
    return pairs


@pytest.fixture(scope="module")
def em():
    return synthetic_em((128, 160), n_cells=12, seed=7)


def test_em_shapes_dtypes_ranges(em):
    image, labels, instances = em
    assert image.shape == labels.shape == instances.shape == (128, 160)
    assert (image.dtype, labels.dtype, instances.dtype) == (np.float32, np.uint8, np.int32)
    assert 0.0 <= image.min() and image.max() <= 1.0
    assert set(np.unique(labels)) == {0, 1}


def test_em_label_conventions(em):
    image, labels, instances = em
    # 0 on membranes exactly, consecutive ids, each cell one 4-connected region
    np.testing.assert_array_equal(instances > 0, labels == 1)
    ids = np.unique(instances[instances > 0])
    np.testing.assert_array_equal(ids, np.arange(1, len(ids) + 1))
    assert 8 <= len(ids) <= 12
    components, n = ndimage.label(labels)
    assert n == len(ids)
    for lab in ids:  # the 4-connected components are exactly the instances
        assert len(np.unique(components[instances == lab])) == 1
    # membranes are dark, interiors bright (the learnable signal)
    assert image[labels == 0].mean() < image[labels == 1].mean() - 0.25
    # membranes: a few pixels thick on average (area / length of the skeleton)
    frac = 1 - labels.mean()
    assert 0.05 < frac < 0.35


def test_em_deterministic_by_seed():
    a = synthetic_em((64, 64), seed=3)
    b = synthetic_em((64, 64), seed=3)
    c = synthetic_em((64, 64), seed=4)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])
    gen = synthetic_em((64, 64), seed=np.random.default_rng(3))
    np.testing.assert_array_equal(gen[2], a[2])


def test_em_default_density():
    _, _, instances = synthetic_em((256, 256), seed=0)
    # default: about one cell per 40 x 40 pixels -> 41 seeds
    assert 30 <= instances.max() <= 41


@pytest.fixture(scope="module")
def cells():
    return synthetic_cells((160, 160), n_cells=10, seed=5)


def test_cells_shapes_dtypes(cells):
    image, instances = cells
    assert image.shape == instances.shape == (160, 160)
    assert (image.dtype, instances.dtype) == (np.float32, np.int32)
    assert 0.0 <= image.min() and image.max() <= 1.0
    ids = np.unique(instances[instances > 0])
    np.testing.assert_array_equal(ids, np.arange(1, len(ids) + 1))
    assert 6 <= len(ids) <= 10
    assert (instances == 0).mean() > 0.05  # there is background
    for lab in ids:
        assert ndimage.label(instances == lab)[1] == 1


def test_cells_touch_edges_and_each_other():
    _, instances = synthetic_cells((256, 256), seed=0)
    border = np.concatenate([instances[0], instances[-1], instances[:, 0], instances[:, -1]])
    assert len(np.unique(border[border > 0])) >= 2
    assert len(_four_adjacent_pairs(instances)) >= 1  # touching directly
    separated = _neighbour_pairs(instances, 5) - _neighbour_pairs(instances, 3)
    assert len(separated) >= 1  # pairs separated by a narrow gap


@pytest.mark.parametrize("gap", [1, 2])
def test_cells_gap_width_exact(gap):
    _, instances = synthetic_cells((192, 192), n_cells=12, seed=2, gap=gap, touching=0.0)
    # no two cells within chessboard distance `gap` ...
    assert _neighbour_pairs(instances, 2 * gap + 1) == set()
    # ... but several at exactly gap + 1 (a gap of `gap` pixels between them)
    assert len(_neighbour_pairs(instances, 2 * gap + 3)) >= 3


def test_cells_touching_fraction_controls_contacts():
    _, apart = synthetic_cells((128, 128), n_cells=8, seed=1, touching=0.0)
    _, touch = synthetic_cells((128, 128), n_cells=8, seed=1, touching=1.0)
    assert _four_adjacent_pairs(apart) == set()
    assert len(_four_adjacent_pairs(touch)) >= 3


@pytest.mark.parametrize("modality", ["dic", "phase"])
def test_cells_deterministic_and_modalities(modality):
    a = synthetic_cells((64, 64), seed=9, modality=modality)
    b = synthetic_cells((64, 64), seed=9, modality=modality)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    image, instances = a
    if modality == "phase":  # bright halo just outside the cells
        ring = ndimage.binary_dilation(instances > 0, iterations=2) & (instances == 0)
        assert image[ring].mean() > image[instances > 0].mean() + 0.1
    else:  # relief shading: bright and dark flanks along the shear direction
        assert image[instances > 0].std() > image[instances == 0].std()


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: synthetic_em((8, 64)), r"shape must be at least \(16, 16\)"),
        (lambda: synthetic_em((64, 64), n_cells=0), "n_cells must be a positive int"),
        (lambda: synthetic_em((64, 64), membrane_width=1.0), "membrane_width must be >= 2"),
        (lambda: synthetic_cells((64, 64), gap=3), "gap must be 1, 2 or a range"),
        (lambda: synthetic_cells((64, 64), touching=1.5), r"touching must be a fraction in \[0, 1\]"),
        (lambda: synthetic_cells((64, 64), modality="brightfield"), "modality must be 'dic' or 'phase'"),
    ],
)
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
