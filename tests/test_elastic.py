"""Tests for unet_core.augment.elastic: coarse-grid elastic deformation (paper Sec. 3.1)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage as ndi
import torch

from unet_core.augment.elastic import apply_elastic_field, random_elastic_field, upsample_grid_displacements
from unet_core.augment.elastic_torch import apply_elastic_field_torch, random_elastic_field_torch


def _smooth_image(shape, seed=0):
    rng = np.random.default_rng(seed)
    return ndi.gaussian_filter(rng.random(shape), 3).astype(np.float32)


def _labels(shape, seed=0, n=7):
    rng = np.random.default_rng(seed)
    seeds = np.zeros(shape, np.int64)
    idx = rng.integers(0, shape[0] * shape[1], n)
    seeds.flat[idx] = np.arange(1, n + 1) * 3  # sparse, non-contiguous ids
    _, (ri, ci) = ndi.distance_transform_edt(seeds == 0, return_indices=True)
    return seeds[ri, ci]  # (H, W) Voronoi label map


# ---------------------------------------------------------------- fields
def test_field_shape_dtype_and_seed():
    f1 = random_elastic_field((40, 30), rng=7)
    f2 = random_elastic_field((40, 30), rng=np.random.default_rng(7))
    assert f1.shape == (2, 40, 30) and f1.dtype == np.float32
    np.testing.assert_array_equal(f1, f2)
    assert not np.array_equal(f1, random_elastic_field((40, 30), rng=8))


def test_field_passes_through_coarse_grid_points():
    coarse = np.random.default_rng(1).normal(size=(2, 3, 3)) * 10
    field = upsample_grid_displacements(coarse, (41, 21))  # grid points at rows 0, 20, 40 and cols 0, 10, 20
    np.testing.assert_allclose(field[:, ::20, ::10], coarse, atol=1e-5)


def test_grid5_parameter():
    coarse = np.random.default_rng(2).normal(size=(2, 5, 5))
    field = upsample_grid_displacements(coarse, (33, 17))  # grid points every 8 rows and 4 cols
    np.testing.assert_allclose(field[:, ::8, ::4], coarse, atol=1e-5)
    assert random_elastic_field((33, 17), grid=5, rng=0).shape == (2, 33, 17)


def test_constant_coarse_gives_constant_field():
    field = upsample_grid_displacements(np.full((2, 3, 3), 2.5), (20, 9))
    np.testing.assert_allclose(field, 2.5, atol=1e-6)


def test_std_scales_coarse_displacements():
    # With shape == grid, the field *is* the coarse grid: its std must be ~std.
    draws = np.stack([random_elastic_field((3, 3), std=10.0, rng=s) for s in range(400)])  # (400, 2, 3, 3)
    assert abs(draws.std() - 10.0) < 0.5  # 7200 samples: sd of the estimate ~0.08
    assert abs(draws.mean()) < 0.5
    a = random_elastic_field((50, 50), std=10.0, rng=3)
    np.testing.assert_allclose(random_elastic_field((50, 50), std=2.5, rng=3), a / 4, rtol=1e-5, atol=1e-5)


def test_std_zero_is_zero_field():
    assert not random_elastic_field((16, 16), std=0.0, rng=0).any()


def test_matches_elasticdeform_field_when_installed():
    elasticdeform = pytest.importorskip("elasticdeform")
    h, w = 61, 45
    coarse = np.random.default_rng(4).normal(size=(2, 3, 3)) * 5
    rows, cols = np.indices((h, w), dtype=np.float64)
    moved = elasticdeform.deform_grid([rows, cols], coarse, order=1, mode="nearest")
    ours = upsample_grid_displacements(coarse, (h, w))
    inside = (rows + ours[0] >= 0) & (rows + ours[0] <= h - 1) & (cols + ours[1] >= 0) & (cols + ours[1] <= w - 1)
    np.testing.assert_allclose(moved[0][inside] - rows[inside], ours[0][inside], atol=1e-4)
    np.testing.assert_allclose(moved[1][inside] - cols[inside], ours[1][inside], atol=1e-4)


# ---------------------------------------------------------------- numpy back-end
@pytest.mark.parametrize("order", [0, 1, 3])
def test_zero_field_identity_bitwise(order):
    img = _smooth_image((20, 24))
    out = apply_elastic_field(img, np.zeros((2, 20, 24), np.float32), order=order)
    assert out.dtype == img.dtype and out is not img
    np.testing.assert_array_equal(out, img)


def test_translation_field_shifts_exactly():
    img = _smooth_image((30, 40))
    field = np.zeros((2, 30, 40), np.float32)
    field[0], field[1] = 2.0, -3.0  # out[r, c] = img[r + 2, c - 3]
    for order in (0, 1, 3):
        out = apply_elastic_field(img, field, order=order)
        expected = np.empty_like(img)
        for r in range(28):  # brute force, rows whose source stays inside
            for c in range(3, 40):
                expected[r, c] = img[r + 2, c - 3]
        np.testing.assert_allclose(out[:28, 3:], expected[:28, 3:], atol=1e-5)
    # outside: mirror about the edge pixel centres (numpy pad 'reflect')
    padded = np.pad(img, ((0, 2), (3, 0)), mode="reflect")
    np.testing.assert_array_equal(apply_elastic_field(img, field, order=0), padded[2:, :40])


def test_labels_keep_dtype_and_set():
    lbl = _labels((48, 40))
    field = random_elastic_field(lbl.shape, std=6.0, rng=0)
    out = apply_elastic_field(lbl, field, order=0)
    assert out.dtype == lbl.dtype
    assert set(np.unique(out)) <= set(np.unique(lbl))
    assert not np.array_equal(out, lbl)


def test_channels_share_field():
    img = _smooth_image((25, 25))
    stack = np.stack([img, 2 * img, img[::-1]])  # (3, H, W)
    field = random_elastic_field((25, 25), std=3.0, rng=5)
    out = apply_elastic_field(stack, field, order=1)
    for c in range(3):
        np.testing.assert_array_equal(out[c], apply_elastic_field(stack[c], field, order=1))


def test_integer_image_with_order1_rounds():
    img = (2 * (np.arange(20 * 20).reshape(20, 20) % 7)).astype(np.uint8)  # even: half-way averages are ints
    field = np.zeros((2, 20, 20), np.float32)
    field[1] = 0.5
    out = apply_elastic_field(img, field, order=1)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out[:, :19], (img[:, :19].astype(int) + img[:, 1:]) // 2)


def test_integer_cubic_overshoot_clips_instead_of_wrapping():
    img = np.zeros((16, 16), np.uint8)
    img[:, 8:] = 255  # sharp edge: cubic B-spline over/undershoots
    field = np.zeros((2, 16, 16), np.float32)
    field[1] = 0.5
    out = apply_elastic_field(img, field, order=3)
    ref = apply_elastic_field(img.astype(np.float64), field, order=3)
    assert ref.min() < -0.5 and ref.max() > 255.5  # the float result leaves the uint8 range...
    np.testing.assert_array_equal(out, np.clip(np.rint(ref), 0, 255).astype(np.uint8))  # ...the uint8 one is clipped


def test_random_field_is_upsampled_standard_normal_draw():
    coarse = np.random.default_rng(11).standard_normal((2, 5, 5)) * 4.0  # what the book shows as arrows
    np.testing.assert_array_equal(
        random_elastic_field((30, 40), grid=5, std=4.0, rng=11), upsample_grid_displacements(coarse, (30, 40))
    )


@pytest.mark.parametrize(
    "array, field, kwargs, err, match",
    [
        (np.zeros((8, 8)), np.zeros((2, 8, 9)), {}, ValueError, r"field must have shape \(2, H, W\) = \(2, 8, 8\)"),
        (np.zeros((8, 8)), np.zeros((8, 8)), {}, ValueError, r"field must have shape"),
        (
            np.zeros((8, 8)),
            np.zeros((2, 8, 8)),
            {"order": 2},
            ValueError,
            r"order must be 0 \(labels\), 1 \(weights\) or 3",
        ),
        (np.zeros((0, 8)), np.zeros((2, 0, 8)), {}, ValueError, r"array must be a non-empty"),
        (
            np.zeros((2, 2, 8, 8)),
            np.zeros((2, 8, 8)),
            {},
            ValueError,
            r"array must be a non-empty \(H, W\) or \(C, H, W\)",
        ),
        ([[0.0]], np.zeros((2, 1, 1)), {}, TypeError, r"array must be a numpy array, got list"),
    ],
)
def test_apply_bad_input(array, field, kwargs, err, match):
    with pytest.raises(err, match=match):
        apply_elastic_field(array, field, **kwargs)


def test_field_bad_input():
    with pytest.raises(ValueError, match=r"std must be a finite number >= 0 .*got -1.0"):
        random_elastic_field((8, 8), std=-1.0)
    with pytest.raises(ValueError, match=r"grid must be an int >= 2 .*got 1"):
        random_elastic_field((8, 8), grid=1)
    with pytest.raises(ValueError, match=r"shape must be a pair \(H, W\) of positive ints"):
        random_elastic_field((0, 8))
    with pytest.raises(ValueError, match=r"coarse must have shape \(2, gh, gw\)"):
        upsample_grid_displacements(np.zeros((3, 3, 3)), (8, 8))


def test_bool_mask_and_nonfinite_field():
    mask = _labels((20, 20)) > 10
    field = random_elastic_field((20, 20), std=4.0, rng=2)
    out = apply_elastic_field(mask, field)
    assert out.dtype == bool
    np.testing.assert_array_equal(out, apply_elastic_field(mask.astype(np.uint8), field, order=0) == 1)
    field[0, 3, 3] = np.nan
    with pytest.raises(ValueError, match=r"field must be finite"):
        apply_elastic_field(mask, field)


def test_float_labels_order0_allowed():
    lbl = _labels((20, 20)).astype(np.float32)
    out = apply_elastic_field(lbl, random_elastic_field((20, 20), std=4.0, rng=1), order=0)
    assert out.dtype == np.float32 and set(np.unique(out)) <= set(np.unique(lbl))


# ---------------------------------------------------------------- torch back-end
def test_torch_zero_field_identity_bitwise():
    x = torch.from_numpy(_smooth_image((2, 3, 17, 19)))
    f = torch.zeros(2, 2, 17, 19)
    f[1, 0] = 1.5  # only sample 1 moves
    out = apply_elastic_field_torch(x, f, mode="bicubic")
    assert torch.equal(out[0], x[0]) and not torch.equal(out[1], x[1])
    lbl = torch.from_numpy(_labels((17, 19)))[None, None]
    assert torch.equal(apply_elastic_field_torch(lbl, torch.zeros(1, 2, 17, 19), mode="nearest"), lbl)


def test_torch_bilinear_matches_numpy_order1():
    img = _smooth_image((3, 64, 48))
    fields = np.stack([random_elastic_field((64, 48), std=8.0, rng=s) for s in range(2)])  # (2, 2, H, W)
    batch = np.stack([img, img[:, ::-1].copy()])  # (2, 3, H, W)
    out = apply_elastic_field_torch(torch.from_numpy(batch), torch.from_numpy(fields), mode="bilinear").numpy()
    for b in range(2):
        ref = apply_elastic_field(batch[b], fields[b], order=1)
        np.testing.assert_allclose(out[b], ref, atol=1e-4)  # mirror boundaries agree too


def test_torch_nearest_matches_numpy_order0_on_labels():
    lbl = _labels((64, 64), n=12)
    field = random_elastic_field(lbl.shape, std=8.0, rng=3)
    out = apply_elastic_field_torch(torch.from_numpy(lbl)[None, None], torch.from_numpy(field)[None], mode="nearest")
    assert out.dtype == torch.int64
    ref = apply_elastic_field(lbl, field, order=0)
    assert np.mean(out[0, 0].numpy() != ref) < 1e-3  # only exact .5 ties may round differently
    assert set(np.unique(out.numpy())) <= set(np.unique(lbl))


def test_torch_bicubic_close_to_numpy_cubic():
    img = _smooth_image((64, 64))
    field = random_elastic_field(img.shape, std=6.0, rng=9)
    out = apply_elastic_field_torch(torch.from_numpy(img)[None, None], torch.from_numpy(field)[None], mode="bicubic")
    ref = apply_elastic_field(img, field, order=3)
    assert np.abs(out[0, 0].numpy() - ref)[4:-4, 4:-4].max() < 0.02 * np.ptp(img)  # different cubic kernels


def test_torch_translation_exact():
    img = torch.from_numpy(_smooth_image((1, 1, 20, 20)))
    f = torch.zeros(1, 2, 20, 20)
    f[:, 1] = 4.0
    out = apply_elastic_field_torch(img, f)
    torch.testing.assert_close(out[..., :16], img[..., 4:], atol=1e-5, rtol=0)


def test_torch_random_fields_match_numpy_upsampling():
    g = torch.Generator().manual_seed(0)
    fields = random_elastic_field_torch(3, (30, 20), grid=3, std=10.0, generator=g)
    assert fields.shape == (3, 2, 30, 20) and fields.dtype == torch.float32
    coarse = torch.randn((3, 2, 3, 3), generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 10.0
    np.testing.assert_allclose(fields[1].numpy(), upsample_grid_displacements(coarse[1].numpy(), (30, 20)), atol=1e-4)


def test_torch_dtypes_half_bool_uint8():
    img = _smooth_image((1, 1, 40, 40))
    field = torch.from_numpy(random_elastic_field((40, 40), std=5.0, rng=0))[None]
    ref = apply_elastic_field_torch(torch.from_numpy(img), field)
    half = apply_elastic_field_torch(torch.from_numpy(img).half(), field)
    assert half.dtype == torch.float16
    torch.testing.assert_close(half.float(), ref, atol=2e-3, rtol=0)  # only the final cast rounds
    mask = torch.from_numpy(_labels((40, 40)) > 10)[None, None]
    out = apply_elastic_field_torch(mask, field, mode="nearest")
    assert out.dtype == torch.bool
    assert torch.equal(out, apply_elastic_field_torch(mask.to(torch.uint8), field, mode="nearest").bool())
    edge = torch.zeros(1, 1, 16, 16, dtype=torch.uint8)
    edge[..., 8:] = 255
    shift = torch.zeros(1, 2, 16, 16)
    shift[:, 1] = 0.5
    cubic = apply_elastic_field_torch(edge.float(), shift, mode="bicubic")  # uint8 is sampled in float32
    assert cubic.min() < -0.5 and cubic.max() > 255.5  # Keys cubic overshoots...
    torch.testing.assert_close(
        apply_elastic_field_torch(edge, shift, mode="bicubic"),
        cubic.round().clamp(0, 255).to(torch.uint8),
        atol=0,
        rtol=0,
    )  # ...uint8 clips


def test_torch_bad_input():
    x = torch.zeros(2, 1, 8, 8)
    with pytest.raises(ValueError, match=r"fields must have shape \(B, 2, H, W\) = \(2, 2, 8, 8\)"):
        apply_elastic_field_torch(x, torch.zeros(1, 2, 8, 8))
    with pytest.raises(ValueError, match=r"mode must be one of"):
        apply_elastic_field_torch(x, torch.zeros(2, 2, 8, 8), mode="cubic")
    with pytest.raises(TypeError, match=r"batch and fields must be torch tensors"):
        apply_elastic_field_torch(np.zeros((2, 1, 8, 8)), torch.zeros(2, 2, 8, 8))
    with pytest.raises(ValueError, match=r"batch_size must be an int >= 1"):
        random_elastic_field_torch(0, (8, 8))


@pytest.mark.gpu
def test_torch_cuda_matches_cpu():
    img = torch.from_numpy(_smooth_image((4, 1, 64, 64)))
    fields = random_elastic_field_torch(4, (64, 64), generator=torch.Generator().manual_seed(1), device="cuda")
    assert fields.device.type == "cuda"
    out = apply_elastic_field_torch(img.cuda(), fields)
    assert out.device.type == "cuda"
    torch.testing.assert_close(out.cpu(), apply_elastic_field_torch(img, fields.cpu()), atol=1e-4, rtol=0)
