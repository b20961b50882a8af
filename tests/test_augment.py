"""Tests for unet_core.augment.tiles: composed augmentations and random training tiles (Sec. 3.1)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import scipy.ndimage as ndi

from unet_core.augment.elastic import apply_elastic_field, upsample_grid_displacements
from unet_core.augment.ops import (
    AugmentConfig,
    AugmentParams,
    apply_augmentation,
    augmentation_coordinates,
    draw_augmentation,
)
from unet_core.augment.tiles import sample_training_tile

GEOMETRY_ONLY = replace(AugmentConfig(), brightness=0.0, contrast=0.0, gamma=0.0, image_order=1)


def _image(shape, seed=0):
    return ndi.gaussian_filter(np.random.default_rng(seed).random(shape), 2).astype(np.float32)


def _ids(h, w):
    return np.arange(h * w, dtype=np.int64).reshape(h, w)  # every pixel its own label: reveals where it came from


def _mirror_crop(image, top, left, size):
    """Brute force: numpy 'reflect' padding (repeated as needed), then crop."""
    pad = 2 * size
    padded = np.pad(image, [(0, 0)] * (image.ndim - 2) + [(pad, pad), (pad, pad)], mode="reflect")
    return padded[..., top + pad : top + pad + size, left + pad : left + pad + size]


# ---------------------------------------------------------------- training tiles
def test_tile_shapes_and_dtypes_paper_sizes():
    img = _image((512, 520))
    x, y, w = sample_training_tile(img, (img > 0.5).astype(np.uint8), img * 3, rng=0)
    assert x.shape == (1, 572, 572) and x.dtype == np.float32
    assert y.shape == (388, 388) and y.dtype == np.int64
    assert w.shape == (388, 388) and w.dtype == np.float32
    assert np.isfinite(x).all()


def test_tile_multichannel_and_default_weights():
    img = np.stack([_image((40, 50)), _image((40, 50), 1)])  # (2, H, W)
    x, y, w = sample_training_tile(img, np.zeros((40, 50), np.int32), None, rng=1, in_size=44, out_size=20)
    assert x.shape == (2, 44, 44) and y.shape == (20, 20)
    np.testing.assert_array_equal(w, np.ones((20, 20), np.float32))


def test_tile_determinism_by_seed():
    img, lbl = _image((60, 70)), _ids(60, 70)
    a = sample_training_tile(img, lbl, None, rng=np.random.default_rng(5), in_size=64, out_size=24)
    b = sample_training_tile(img, lbl, None, rng=5, in_size=64, out_size=24)
    c = sample_training_tile(img, lbl, None, rng=6, in_size=64, out_size=24)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("shape", [(50, 60), (12, 9)])  # larger and much smaller than the tile
def test_identity_config_is_mirror_padded_crop(shape):
    h, w = shape
    img, lbl = _image(shape), _ids(h, w)
    weights = _image(shape, 3)
    for seed in range(3):
        x, y, wt = sample_training_tile(
            img, lbl, weights, rng=seed, in_size=48, out_size=20, config=AugmentConfig.off()
        )
        top, left = divmod(int(y[0, 0]), w) if h >= 20 and w >= 20 else (None, None)
        if top is None:  # tile bigger than the image: recover the corner from the mirrored id map
            cand = [
                (t, l) for t in range(-20, 1) for l in range(-20, 1) if np.array_equal(_mirror_crop(lbl, t, l, 20), y)
            ]
            top, left = cand[0]
        np.testing.assert_array_equal(
            y, lbl[top : top + 20, left : left + 20] if h >= 20 else _mirror_crop(lbl, top, left, 20)
        )
        np.testing.assert_array_equal(x[0], _mirror_crop(img, top - 14, left - 14, 48))
        np.testing.assert_array_equal(wt, _mirror_crop(weights, top, left, 20))
        assert 0 <= top <= h - 20 if h >= 20 else h - 20 <= top <= 0


def test_identity_matches_tiling_mirror_pad_when_available():
    from unet_core.inference import mirror as tiling

    img = _image((10, 13))
    x, y, _ = sample_training_tile(img, _ids(10, 13), None, rng=0, in_size=48, out_size=20, config=AugmentConfig.off())
    padded = tiling.mirror_pad(img, 40)  # (90, 93)
    hits = [
        (t, l)
        for t in range(padded.shape[0] - 47)
        for l in range(padded.shape[1] - 47)
        if np.array_equal(padded[t : t + 48, l : l + 48], x[0])
    ]
    assert hits


def test_labels_image_weights_stay_pointwise_consistent():
    # image channels = source row/col (linear ramps, exact under bilinear), labels = pixel ids:
    # the label tile must be the id of the nearest source pixel the image tile reports.
    h, w = 70, 64
    rows, cols = np.indices((h, w), dtype=np.float64)
    img = np.stack([rows, cols])  # (2, H, W)
    for seed in range(3):
        x, y, wt = sample_training_tile(img, _ids(h, w), rows, rng=seed, in_size=60, out_size=32, config=GEOMETRY_ONLY)
        r, c = x[0, 14:46, 14:46].astype(np.float64), x[1, 14:46, 14:46].astype(np.float64)
        no_tie = (np.abs(r % 1 - 0.5) > 1e-3) & (np.abs(c % 1 - 0.5) > 1e-3)
        assert no_tie.mean() > 0.95
        np.testing.assert_array_equal(y[no_tie], (np.rint(r) * w + np.rint(c)).astype(np.int64)[no_tie])
        np.testing.assert_allclose(wt, x[0, 14:46, 14:46], atol=1e-3)
        assert not np.allclose(r, np.indices((32, 32))[0] + r[0, 0])  # really deformed


def test_labels_set_preserved_with_full_augmentation():
    lbl = (_image((40, 40)) * 10).astype(np.int16) * 7
    _, y, _ = sample_training_tile(_image((40, 40)), lbl, None, rng=2, in_size=60, out_size=40)
    assert set(np.unique(y)) <= set(np.unique(lbl))


# ---------------------------------------------------------------- apply / draw
@pytest.mark.parametrize("k", [0, 1, 2, 3])
@pytest.mark.parametrize("flip", [(False, False), (True, False), (False, True), (True, True)])
def test_flips_and_rot90_exact_against_numpy(k, flip):
    img, lbl = _image((3, 11, 11)), _ids(11, 11)
    params = AugmentParams((11, 11), flip_rows=flip[0], flip_cols=flip[1], angle_deg=90.0 * k)
    out, out_lbl, out_w = apply_augmentation(params, img, lbl, lbl.astype(np.float32))
    ref = img[..., ::-1, :] if flip[0] else img
    ref = ref[..., :, ::-1] if flip[1] else ref
    ref = np.rot90(ref, k, axes=(-2, -1))
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(out_lbl, np.rot90(lbl[:: -1 if flip[0] else 1, :: -1 if flip[1] else 1], k))
    np.testing.assert_array_equal(out_w, out_lbl.astype(np.float32))


def test_integer_shift_is_exact_and_mirrored():
    img = _image((20, 20))
    out, _, _ = apply_augmentation(AugmentParams((20, 20), shift=(3.0, -2.0)), img)  # out[r, c] = img[r + 3, c - 2]
    np.testing.assert_array_equal(out, _mirror_crop(img, 3, -2, 20))


def test_elastic_only_equals_elastic_module():
    img, lbl = _image((33, 33)), _ids(33, 33)
    coarse = np.random.default_rng(0).normal(size=(2, 3, 3)) * 4
    out, out_lbl, _ = apply_augmentation(AugmentParams((33, 33), coarse=coarse, image_order=1), img, lbl)
    field = upsample_grid_displacements(coarse, (33, 33))
    np.testing.assert_allclose(out, apply_elastic_field(img, field, order=1), atol=1e-5)
    np.testing.assert_array_equal(out_lbl, apply_elastic_field(lbl, field, order=0))


def test_gray_values_touch_only_the_image():
    img = _image((30, 30))
    img = (img - img.min()) / (img.max() - img.min())  # exactly [0, 1]
    lbl, wts = _ids(30, 30), _image((30, 30), 1)
    out, out_lbl, out_w = apply_augmentation(AugmentParams((30, 30), gamma=2.0), img, lbl, wts)
    np.testing.assert_allclose(out, img**2, atol=1e-6)
    np.testing.assert_array_equal(out_lbl, lbl)
    np.testing.assert_array_equal(out_w, wts)
    out, _, _ = apply_augmentation(AugmentParams((30, 30), contrast=0.5, brightness=0.1), img)
    np.testing.assert_allclose(out, img.mean() + 0.5 * (img - img.mean()) + 0.1, atol=1e-6)
    cfg = replace(AugmentConfig.off(), brightness=0.2, contrast=0.3, gamma=0.3)
    x, y, w = sample_training_tile(img, lbl, wts, rng=4, in_size=30, out_size=30, config=cfg)
    top, left = divmod(int(y[0, 0]), 30)
    assert (top, left) == (0, 0) and not np.allclose(x[0], img, atol=1e-3)
    np.testing.assert_array_equal(y, lbl)
    np.testing.assert_array_equal(w, wts)


def test_integer_image_is_interpolated_in_float():
    img = (_image((24, 24)) * 200).astype(np.uint8)
    params = AugmentParams((24, 24), angle_deg=33.0, image_order=1)
    out, _, _ = apply_augmentation(params, img)
    ref, _, _ = apply_augmentation(params, img.astype(np.float32))
    assert out.dtype == np.float32 and not np.array_equal(out, np.rint(out))  # not rounded to the uint8 grid
    np.testing.assert_array_equal(out, ref)


def test_draw_rotation_modes_and_off():
    angles = {draw_augmentation(s, (8, 8), AugmentConfig(rotation="rot90")).angle_deg for s in range(40)}
    assert angles == {0.0, 90.0, 180.0, 270.0}
    anys = [draw_augmentation(s, (8, 8)).angle_deg for s in range(40)]
    assert all(0 <= a < 360 for a in anys) and len(set(anys)) == 40
    off = draw_augmentation(1, (8, 8), AugmentConfig.off())
    assert off == AugmentParams((8, 8), image_order=3)
    np.testing.assert_array_equal(augmentation_coordinates(off), np.indices((8, 8)))
    p = draw_augmentation(3, (8, 8))
    assert p.coarse.shape == (2, 3, 3) and 1 - 0.2 <= p.contrast <= 1.2 and np.exp(-0.2) <= p.gamma <= np.exp(0.2)


def test_arbitrary_rotation_rotates_about_centre():
    params = AugmentParams((21, 21), angle_deg=30.0)
    src = augmentation_coordinates(params)
    np.testing.assert_allclose(src[:, 10, 10], [10.0, 10.0], atol=1e-12)
    t = np.deg2rad(30.0)  # output pixel (10, 20) reads the centre + R (0, 10)
    np.testing.assert_allclose(src[:, 10, 20], [10 + 10 * np.sin(t), 10 + 10 * np.cos(t)], atol=1e-12)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"rotation": "free"}, r"rotation must be one of \('none', 'rot90', 'any'\), got 'free'"),
        ({"elastic_std": -1.0}, r"elastic_std must be a finite number >= 0, got -1.0"),
        ({"p_elastic": 1.5}, r"p_elastic must be a probability in \[0, 1\], got 1.5"),
        ({"contrast": 1.0}, r"contrast must be < 1"),
        ({"image_order": 0}, r"image_order must be 1 or 3, got 0"),
        ({"elastic_grid": 1}, r"elastic_grid must be an int >= 2 \(paper: 3\), got 1"),
    ],
)
def test_config_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AugmentConfig(**kwargs)


def test_bad_inputs():
    img, lbl = _image((30, 30)), _ids(30, 30)
    with pytest.raises(ValueError, match=r"in_size - out_size must be even and >= 0 .*in_size=61, out_size=20"):
        sample_training_tile(img, lbl, None, rng=0, in_size=61, out_size=20)
    with pytest.raises(ValueError, match=r"in_size - out_size must be even and >= 0"):
        sample_training_tile(img, lbl, None, rng=0, in_size=20, out_size=40)
    with pytest.raises(ValueError, match=r"labels must be an \(H, W\) array matching image's \(30, 30\)"):
        sample_training_tile(img, lbl[:, :29], None, rng=0, in_size=40, out_size=20)
    with pytest.raises(TypeError, match=r"labels must have an integer dtype, got float32"):
        sample_training_tile(img, img, None, rng=0, in_size=40, out_size=20)
    with pytest.raises(ValueError, match=r"weights must be an \(H, W\) array"):
        sample_training_tile(img, lbl, img[:5], rng=0, in_size=40, out_size=20)
    with pytest.raises(
        ValueError, match=r"image must be \(H, W\) or \(C, H, W\) with \(H, W\) = params.shape \(8, 8\)"
    ):
        apply_augmentation(AugmentParams((8, 8)), img)
    with pytest.raises(ValueError, match=r"image must not be empty"):
        sample_training_tile(np.zeros((0, 5)), lbl, None, rng=0)
    with pytest.raises(ValueError, match=r"shape must be a pair \(H, W\) of positive ints"):
        draw_augmentation(0, (0, 4))
