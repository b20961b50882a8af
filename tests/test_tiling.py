"""Tests of overlap-tile prediction (paper Fig. 2): first pointwise and 3x3 test doubles whose
exact output is known, then the real U-Net against one pass over the whole mirror-padded image."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from unet_core.inference import tiling
from unet_core.inference.mirror import mirror_pad, reflect_index, tile_origins
from unet_core.inference.tiling import TilePlan, estimate_tile_memory, plan_tiles, predict_tiled, run_tiles
from unet_core.models.unet import UNet


class Pointwise(torch.nn.Module):
    """logits = weights @ x per pixel (a 1x1 convolution), then a fake border is cropped.

    Every input size > 2 * border is valid; ``stride`` only constrains the tile origins.
    """

    def __init__(self, weights, border=0, stride=1, base_channels=None):
        super().__init__()
        self.w = torch.tensor(weights, dtype=torch.float32)  # (K, C)
        self.num_classes, self.in_channels = self.w.shape
        self.border, self.stride, self.base_channels, self.seen = border, stride, base_channels, []

    def output_size(self, n):
        return n - 2 * self.border

    def input_size_for_output(self, n):
        return n + 2 * self.border

    def forward(self, x):
        self.seen.append(tuple(x.shape))
        y = torch.einsum("kc,bchw->bkhw", self.w.to(x.dtype), x)
        b = self.border
        return y[..., b : y.shape[-2] - b, b : y.shape[-1] - b]


class Conv3(Pointwise):
    """Valid 3x3 correlation with a fixed asymmetric kernel (border 1): logits [corr, 0]."""

    kernel = np.array([[0.0, 1.0, 2.0], [-1.0, 0.5, 0.0], [3.0, 0.0, -2.0]], np.float32)

    def __init__(self):
        super().__init__([[1.0]] * 2, border=1)

    def forward(self, x):
        y = torch.nn.functional.conv2d(x, torch.from_numpy(self.kernel)[None, None])
        return torch.cat([y, torch.zeros_like(y)], dim=1)


class SizeDouble(Pointwise):
    """The paper network's size arithmetic (depth 5, valid) with a cheap pointwise forward."""

    def __init__(self):
        super().__init__([[1.0], [0.0]], border=92, stride=16, base_channels=64)
        self.net = UNet(base_channels=1)

    def output_size(self, n):
        return self.net.output_size(n)

    def input_size_for_output(self, n):
        return self.net.input_size_for_output(n)


def sigmoid(x):
    return 1 / (1 + np.exp(-x.astype(np.float64)))


def brute_reflect(i, n):
    """Unfold the mirror one reflection at a time."""
    if n == 1:
        return 0
    while not 0 <= i < n:
        i = -i if i < 0 else 2 * (n - 1) - i
    return i


def whole_padded_pass(net, image):
    """Reference: ONE forward pass over the whole image mirror-padded to a valid size."""
    h, w = image.shape[-2:]
    b = net.border
    pad = ((b, net.input_size_for_output(h) - h - b), (b, net.input_size_for_output(w) - w - b))
    x = torch.from_numpy(np.ascontiguousarray(mirror_pad(image, pad), np.float32))
    with torch.inference_mode():
        return torch.softmax(net(x.reshape(1, -1, *x.shape[-2:])), dim=1)[0, :, :h, :w].numpy()


@pytest.fixture(scope="module")
def small_unet():
    torch.manual_seed(0)
    return UNet(base_channels=2).eval()  # He init, the paper's depth 5, border 92


# ---------------------------------------------------------------- mirror padding
@pytest.mark.parametrize("n", [1, 2, 3, 7])
def test_reflect_index_matches_np_pad_and_brute_force(n):
    idx = np.arange(-40, n + 40)
    got = reflect_index(idx, n)
    assert got.tolist() == [brute_reflect(i, n) for i in idx]
    np.testing.assert_array_equal(got, np.pad(np.arange(n), 40, mode="reflect"))


def test_mirror_pad_matches_np_pad_for_pads_larger_than_image(rng):
    image = rng.standard_normal((3, 7, 5)).astype(np.float32)
    pad = ((9, 2), (0, 13))
    got = mirror_pad(image, pad)
    np.testing.assert_array_equal(got, np.pad(image, ((0, 0), *pad), mode="reflect"))
    i, j = 15, 17  # padded coordinates -> source pixel by the formula
    assert got[1, i, j] == image[1, brute_reflect(i - 9, 7), brute_reflect(j, 5)]
    assert mirror_pad(image[0], 4).shape == (15, 13)


def test_mirror_pad_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"pad must be non-negative, got \(\(1, -1\), \(0, 0\)\)"):
        mirror_pad(np.ones((4, 4)), ((1, -1), (0, 0)))
    with pytest.raises(ValueError, match="image must be a non-empty"):
        mirror_pad(np.ones(4), 1)


def test_tile_origins_stay_on_the_stride_grid_and_cover():
    assert tile_origins(1000, 388, 16) == [0, 384, 624]
    assert tile_origins(300, 388, 16) == [0]
    for length, out_tile, stride in [(1000, 388, 16), (701, 20, 4), (97, 7, 1), (389, 388, 16)]:
        origins = tile_origins(length, out_tile, stride)
        assert all(o % stride == 0 for o in origins)
        covered = np.zeros(length + out_tile, bool)
        for o in origins:
            covered[o : o + out_tile] = True
        assert covered[:length].all() and origins[-1] < length and origins[-1] + out_tile - length < stride
    with pytest.raises(ValueError, match="output tiles of 12 px are smaller than the stride 16"):
        tile_origins(100, 12, 16)


# ---------------------------------------------------------------- placement with test doubles
@pytest.mark.parametrize("border,stride,tile", [(0, 1, 9), (3, 1, 13), (3, 4, (16, 11)), (92, 16, 200)])
def test_pointwise_model_gives_exact_placement_and_full_coverage(rng, border, stride, tile):
    image = rng.standard_normal((37, 23)).astype(np.float32)
    out = np.full((2, 37, 23), np.nan, np.float32)
    model = Pointwise([[1.0], [0.0]], border=border, stride=stride)
    got = predict_tiled(model, image, tile_size=tile, batch_size=3, device="cpu", out=out)
    assert got is out and not np.isnan(out).any()
    np.testing.assert_allclose(got[0], sigmoid(image), atol=1e-6)
    np.testing.assert_allclose(got.sum(0), 1, atol=1e-6)
    assert len(model.seen) > 1 or border == 92


def test_asymmetric_3x3_model_matches_scipy_mirror_correlation(rng):
    image = rng.standard_normal((37, 23)).astype(np.float32)
    got = predict_tiled(Conv3(), image, tile_size=9, batch_size=4, device="cpu")  # 6 x 4 tiles of 7 px
    ref = ndimage.correlate(image.astype(np.float64), Conv3.kernel.astype(np.float64), mode="mirror")
    np.testing.assert_allclose(got[0], sigmoid(ref), atol=1e-5)


def test_multichannel_and_integer_input(rng):
    image = rng.integers(0, 4, (3, 19, 26)).astype(np.uint8)
    got = predict_tiled(Pointwise([[1.0, 2.0, -1.0], [0, 0, 0]], border=2), image, tile_size=10, device="cpu")
    x = image.astype(np.float64)
    np.testing.assert_allclose(got[0], sigmoid(x[0] + 2 * x[1] - x[2]), atol=1e-6)
    assert got.dtype == np.float32 and got.shape == (2, 19, 26)


def test_progress_bar_is_off_by_default(capsys):
    image = np.zeros((12, 12), np.float32)
    predict_tiled(Pointwise([[1.0], [0.0]]), image, tile_size=8, device="cpu")
    assert capsys.readouterr().err == ""
    predict_tiled(Pointwise([[1.0], [0.0]]), image, tile_size=8, device="cpu", progress=True)
    err = capsys.readouterr().err
    assert "tiles: 100%" in err and "9/9" in err  # margin 2: output tiles of 4 px, 3 x 3 of them


def test_same_padding_model_writes_the_central_crop(rng):
    image = rng.standard_normal((40, 33)).astype(np.float32)
    model = Pointwise([[1.0], [0.0]], border=0, stride=4)
    got = predict_tiled(model, image, tile_size=20, margin=5, device="cpu")
    np.testing.assert_allclose(got[0], sigmoid(image), atol=1e-6)
    assert set(model.seen) == {(1, 1, 20, 20)}


def test_memmap_input_and_memmap_output(tmp_path, rng):
    data = rng.standard_normal((2, 45, 31)).astype(np.float32)
    image = np.lib.format.open_memmap(tmp_path / "image.npy", mode="w+", dtype=np.float32, shape=data.shape)
    image[:] = data
    image.flush()
    image = np.load(tmp_path / "image.npy", mmap_mode="r")
    out = np.lib.format.open_memmap(tmp_path / "out.npy", mode="w+", dtype=np.float32, shape=(2, 45, 31))
    model = Pointwise([[1.0, -1.0], [0.0, 0.0]], border=4)
    predict_tiled(model, image, tile_size=16, out=out, device="cpu")
    np.testing.assert_allclose(np.load(tmp_path / "out.npy")[0], sigmoid(data[0] - data[1]), atol=1e-6)


# ---------------------------------------------------------------- test-time augmentation
def test_tta_on_rotation_invariant_model_equals_plain(rng):
    image = rng.standard_normal((21, 30)).astype(np.float32)
    model = Pointwise([[1.5], [0.0]], border=2)
    np.testing.assert_allclose(
        predict_tiled(model, image, 11, tta=True, device="cpu"),
        predict_tiled(model, image, 11, device="cpu"),
        atol=1e-6,
    )


def test_tta_inverts_each_transform(rng):
    image = rng.standard_normal((21, 30)).astype(np.float32)
    got = predict_tiled(Conv3(), image, tile_size=(9, 13), tta=True, device="cpu")
    kernels = [np.rot90(k, r) for k in (Conv3.kernel, Conv3.kernel[:, ::-1]) for r in range(4)]
    ref = np.mean(
        [sigmoid(ndimage.correlate(image.astype(np.float64), k.astype(np.float64), mode="mirror")) for k in kernels],
        axis=0,
    )
    np.testing.assert_allclose(got[0], ref, atol=1e-5)
    plain = predict_tiled(Conv3(), image, tile_size=(9, 13), device="cpu")
    assert np.abs(plain - got).max() > 0.05  # the kernel is not symmetric, so TTA changes the result


# ---------------------------------------------------------------- the real U-Net
@pytest.mark.slow  # ~3 s quiet, 14 s on the shared 2-core machine
def test_unet_tiles_equal_one_pass_over_the_whole_padded_image(small_unet, rng):
    image = rng.standard_normal((1000, 701)).astype(np.float32)
    got = predict_tiled(small_unet, image, tile_size=380, batch_size=2, device="cpu")  # 6 x 4 tiles
    ref = whole_padded_pass(small_unet, image)
    assert got.shape == (2, 1000, 701) and ref[0].std() > 0.05  # not saturated
    np.testing.assert_allclose(got, ref, atol=1e-4)


def test_tiles_off_the_stride_grid_would_show_seams(small_unet, rng, monkeypatch):
    """Negative control: origins every 196 px (not a multiple of 16) break the equality."""
    image = rng.standard_normal((200, 150)).astype(np.float32)  # two tiles along the height
    ref = whole_padded_pass(small_unet, image)
    np.testing.assert_allclose(predict_tiled(small_unet, image, 380, device="cpu"), ref, atol=1e-4)
    monkeypatch.setattr(tiling, "tile_origins", lambda length, out_tile, stride: list(range(0, length, out_tile)))
    assert np.abs(predict_tiled(small_unet, image, 380, device="cpu") - ref).max() > 1e-3


def test_shallow_unet_many_tiles_and_rectangular_tiles(rng):
    torch.manual_seed(1)
    net = UNet(base_channels=4, depth=3).eval()  # border 20, stride 4
    image = rng.standard_normal((97, 61)).astype(np.float32)
    got = predict_tiled(net, image, tile_size=(64, 68), batch_size=5, device="cpu")
    np.testing.assert_allclose(got, whole_padded_pass(net, image), atol=1e-4)


def test_image_smaller_than_the_border(small_unet, rng):
    image = rng.standard_normal((10, 10)).astype(np.float32)
    got = predict_tiled(small_unet, image, device="cpu")
    np.testing.assert_allclose(got, whole_padded_pass(small_unet, image), atol=1e-5)


def test_same_padding_unet_runs_and_restores_training_mode(rng):
    net = UNet(base_channels=2, depth=3, padding="same")
    assert net.training
    got = predict_tiled(net, rng.standard_normal((50, 45)).astype(np.float32), tile_size=64, device="cpu")
    assert got.shape == (2, 50, 45) and net.training
    np.testing.assert_allclose(got.sum(0), 1, atol=1e-5)


def test_bf16_channels_last_agrees_with_fp32(rng, bf16_warning):
    torch.manual_seed(2)
    net = UNet(base_channels=4, depth=3).eval()
    image = rng.standard_normal((70, 50)).astype(np.float32)
    ref = predict_tiled(net, image, device="cpu")
    with bf16_warning():  # warns where bf16 is emulated (UNET_CPU_BF16=0 or no bf16 units), not elsewhere
        fast = predict_tiled(net, image, device="cpu", precision="bf16+channels_last")
    assert np.abs(fast - ref).max() < 0.05 and (fast.argmax(0) == ref.argmax(0)).mean() > 0.97


# ---------------------------------------------------------------- tile size
def test_auto_tile_size_512_image_is_one_700_pass():
    model = SizeDouble()
    predict_tiled(model, np.zeros((512, 512), np.float32), device="cpu")
    assert model.seen == [(1, 1, 700, 700)]


def test_auto_tile_size_respects_the_memory_budget():
    model = SizeDouble()
    predict_tiled(model, np.zeros((900, 40), np.float32), memory_budget_mb=500, batch_size=2, device="cpu")
    (b, c, th, tw), *_ = model.seen
    assert estimate_tile_memory(model, (th, th), 2) <= 500 * 2**20 < estimate_tile_memory(model, (th + 16,) * 2, 2)
    assert (th, tw) == (396, 236)  # (6 * 64 + 32) * 2 * 4 B * 396^2 = 497 MiB; width capped: output 52 >= 40


def test_invalid_tile_sizes(small_unet):
    image = np.zeros((30, 30), np.float32)
    with pytest.raises(
        ValueError, match="^tile_size=500 is not a valid input size; nearest valid sizes are 492 and 508$"
    ):
        predict_tiled(small_unet, image, tile_size=500)
    with pytest.raises(ValueError, match="tile_size=150 is too small; the smallest usable input size is 204"):
        predict_tiled(small_unet, image, tile_size=(572, 150))
    with pytest.raises(TypeError, match="tile_size must be an int or a pair of ints"):
        predict_tiled(small_unet, image, tile_size=572.0)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "image,exc,message",
    [
        (np.zeros((8, 8), bool), TypeError, "image must have an integer or floating dtype, got bool"),
        (np.zeros((8, 8), complex), TypeError, "image must have an integer or floating dtype, got complex128"),
        (np.zeros((8, 8), object), TypeError, "image must have an integer or floating dtype, got object"),
        (np.array([[0, np.nan], [np.inf, 1]]), ValueError, r"image must be finite, but 2 pixel\(s\) are NaN or inf"),
        (np.zeros((0, 8), np.float32), ValueError, r"image must not be empty, got shape \(0, 8\)"),
        (
            np.zeros((1, 1, 8, 8), np.float32),
            ValueError,
            "image must have shape .* got ndarray of shape .1, 1, 8, 8.*call predict_tiled once per image",
        ),
        (np.zeros((3, 8, 8), np.float32), ValueError, r"image has 3 channel\(s\) .* but model.in_channels=1"),
        (torch.zeros(8, 8), TypeError, r"image must be a numpy array .* got Tensor; use tensor.cpu\(\).numpy\(\)"),
    ],
)
def test_bad_images_raise_clear_errors(image, exc, message):
    with pytest.raises(exc, match=message):
        predict_tiled(Pointwise([[1.0], [0.0]]), image, tile_size=5)


def test_non_finite_pixel_in_a_large_memmap_is_found(tmp_path, monkeypatch):
    monkeypatch.setattr(tiling, "_FINITE_CHUNK", 100)  # check 10 rows at a time
    image = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype=np.float32, shape=(40, 10))
    image[33, 4] = np.nan
    with pytest.raises(ValueError, match=r"1 pixel\(s\) are NaN or inf.*\(counted in rows 30..39"):
        predict_tiled(Pointwise([[1.0], [0.0]]), image, tile_size=5)


def test_bad_batch_size_out_precision_and_margin():
    model, image = Pointwise([[1.0], [0.0]]), np.zeros((6, 7), np.float32)
    with pytest.raises(ValueError, match=r"precision='fp16' must be 'auto' or one of \('fp32', "):
        predict_tiled(model, image, precision="fp16")
    with pytest.raises(ValueError, match="margin=-1 must be an int >= 0"):
        predict_tiled(model, image, margin=-1)
    with pytest.raises(ValueError, match="only applies to padding='same' models .*own border of 3 px"):
        predict_tiled(Pointwise([[1.0], [0.0]], border=3), image, margin=4)
    with pytest.raises(ValueError, match="batch_size=0 must be an integer >= 1"):
        predict_tiled(model, image, batch_size=0)
    with pytest.raises(ValueError, match=r"out must be a writeable float ndarray of shape \(2, 6, 7\)"):
        predict_tiled(model, image, out=np.zeros((2, 7, 6), np.float32))


def test_same_padding_default_margin_is_seamless(rng):
    """'same' model, many tiles: equals one pass over the whole mirror-padded image."""
    torch.manual_seed(0)
    net = UNet(base_channels=2, depth=3, padding="same").eval()
    image = rng.standard_normal((90, 77)).astype(np.float32)
    margin = 20 + 2  # valid border of depth 3 plus half the stride: the default
    extra_h, extra_w = (-(90 + 2 * margin)) % 4, (-(77 + 2 * margin)) % 4
    padded = mirror_pad(image, ((margin, margin + extra_h), (margin, margin + extra_w)))
    with torch.no_grad():
        whole = torch.softmax(net(torch.from_numpy(np.ascontiguousarray(padded))[None, None]), 1)[0].numpy()
    whole = whole[:, margin : margin + 90, margin : margin + 77]
    got = predict_tiled(net, image, tile_size=56, device="cpu")
    np.testing.assert_allclose(got, whole, atol=1e-5)
    # the bare valid border is not enough: the pooling phase reaches further
    short = predict_tiled(net, image, tile_size=56, margin=20, device="cpu")
    assert np.abs(short - whole).max() > 1e-4


# ---------------------------------------------------------------- the caller's model is left as it was
def _layouts(net: torch.nn.Module) -> list[bool]:
    """Whether each 3x3 weight with several input channels (unambiguous layout) is channels_last."""
    return [
        p.is_contiguous(memory_format=torch.channels_last)
        for p in net.parameters()
        if p.ndim == 4 and p.shape[1] > 1 and p.shape[-1] > 1
    ]


def _modes(net: torch.nn.Module) -> list[bool]:
    return [m.training for m in net.modules()]


def _nan_unet() -> UNet:
    torch.manual_seed(0)
    net = UNet(base_channels=2, depth=2)
    with torch.no_grad():
        next(net.parameters()).fill_(float("nan"))
    return net


def test_predict_tiled_leaves_the_memory_format_as_it_was_also_after_an_error(rng, monkeypatch):
    from unet_core.inference import precision

    image = rng.standard_normal((40, 40)).astype(np.float32)
    torch.manual_seed(0)
    net = UNet(base_channels=2, depth=2).eval()
    assert len(_layouts(net)) >= 4 and not any(_layouts(net))
    predict_tiled(net, image, device="cpu", precision="fp32+channels_last")
    assert not any(_layouts(net))
    net.to(memory_format=torch.channels_last)
    monkeypatch.setattr(precision, "_CACHE", {})  # measured now: the timing switches layouts
    predict_tiled(net, image, device="cpu", precision="auto")
    predict_tiled(net, image, device="cpu", precision="fp32")
    assert all(_layouts(net))
    bad = _nan_unet()
    with pytest.raises(ValueError, match="NaN/inf probabilities"):
        predict_tiled(bad, image, device="cpu", precision="fp32+channels_last")
    assert not any(_layouts(bad))


def test_predict_tiled_restores_every_submodules_mode_also_after_an_error(rng):
    image = rng.standard_normal((40, 40)).astype(np.float32)
    for net, raises in ((UNet(base_channels=2, depth=2), False), (_nan_unet(), True)):
        net.train()
        next(m for m in net.modules() if isinstance(m, torch.nn.Conv2d)).eval()  # e.g. a frozen first layer
        before = _modes(net)
        assert len(set(before)) == 2
        if raises:
            with pytest.raises(ValueError, match="NaN/inf probabilities"):
                predict_tiled(net, image, device="cpu", precision="fp32+channels_last")
        else:
            predict_tiled(net, image, device="cpu", precision="fp32+channels_last")
        assert _modes(net) == before


def test_predict_tiled_puts_the_model_back_on_its_device_also_after_an_error(rng, monkeypatch):
    torch.manual_seed(0)
    net = UNet(base_channels=2, depth=2)
    params = list(net.parameters())
    state = {k: v.clone() for k, v in net.state_dict().items()}
    monkeypatch.setattr(tiling, "resolve_device", lambda device: torch.device("meta"))  # a device without data
    with pytest.raises((RuntimeError, NotImplementedError)):  # its probabilities cannot be read back
        predict_tiled(net, rng.standard_normal((40, 40)).astype(np.float32), device="cpu")
    assert list(net.parameters()) == params and {p.device.type for p in params} == {"cpu"}
    assert all(torch.equal(v, state[k]) for k, v in net.state_dict().items())


@pytest.mark.gpu
def test_predict_tiled_on_the_gpu_leaves_a_cpu_model_on_the_cpu(rng):
    torch.manual_seed(0)
    net = UNet(base_channels=2, depth=2).train()
    image = rng.standard_normal((40, 40)).astype(np.float32)
    cpu = predict_tiled(net, image, device="cpu")
    gpu = predict_tiled(net, image, device="cuda", precision="fp32+channels_last")
    assert {p.device.type for p in net.parameters()} == {"cpu"} and not any(_layouts(net)) and net.training
    np.testing.assert_allclose(gpu, cpu, atol=1e-4)


# ---------------------------------------------------------------- plan the tiles, run them
@pytest.mark.parametrize(
    "model,shape,tile_size,margin",
    [
        (UNet(base_channels=2, depth=3), (70, 53), 60, None),
        (UNet(base_channels=2, depth=3), (70, 53), (76, 60), None),
        (UNet(base_channels=2, depth=2), (33, 97), None, None),
        (UNet(base_channels=2, depth=3, padding="same"), (45, 61), 48, 12),
        (SizeDouble(), (1000, 600), 572, None),
    ],
)
def test_plan_tiles_covers_the_image_with_tiles_on_the_pooling_grid(model, shape, tile_size, margin):
    plan = plan_tiles(model, shape, tile_size, batch_size=4, margin=margin)
    (oh, ow), s = plan.out_tile, model.stride
    assert isinstance(plan, TilePlan) and plan.shape == shape and plan.crop == plan.border - model.border
    assert all(model.input_size_for_output(model.output_size(t)) == t for t in plan.tile)  # valid input sizes
    assert oh >= s and ow >= s and plan.batch_size == min(4, len(plan.origins))
    assert [o for chunk in plan.batches for o in chunk] == list(plan.origins)
    assert all(len(chunk) <= plan.batch_size for chunk in plan.batches)
    ys, xs = sorted({y for y, _ in plan.origins}), sorted({x for _, x in plan.origins})
    assert list(plan.origins) == [(y, x) for y in ys for x in xs]  # a grid, row by row
    for starts, out_side, length in ((ys, oh, shape[0]), (xs, ow, shape[1])):
        steps = np.diff(starts)
        assert all(o % s == 0 for o in starts)  # on the pooling grid of the mirror-padded image
        assert starts[0] == 0 and length <= starts[-1] + out_side < length + s  # the last overhangs by < a stride
        assert all(steps[:-1] == out_side // s * s) and all(0 < steps) and all(steps <= out_side // s * s)
        # so neighbouring output tiles meet or overlap: no gap
    # the output crops as run_tiles writes them (a later tile overwrites the overlap) partition the image:
    # every pixel is written, and every tile keeps some pixels (none is wasted)
    owner = np.full(shape, -1)
    for i, (y, x) in enumerate(plan.origins):
        owner[y : y + oh, x : x + ow] = i
    assert (owner >= 0).all() and set(np.unique(owner)) == set(range(len(plan.origins)))


def test_plan_tiles_rejects_bad_arguments():
    net = UNet(base_channels=2, depth=2)
    with pytest.raises(ValueError, match=r"^shape must be a pair \(H, W\) of ints >= 1 \(the image size\), got"):
        plan_tiles(net, (0, 5))
    with pytest.raises(ValueError, match=r"^bytes_per_value=3 must be 1, 2, 4 or 8"):
        plan_tiles(net, (20, 20), bytes_per_value=3)
    with pytest.raises(ValueError, match="margin=4 must be an int >= 0 and only applies to padding='same' models"):
        plan_tiles(net, (20, 20), margin=4)
    with pytest.raises(TypeError, match="model must be a unet_core.UNet or FusionNet"):
        plan_tiles(object(), (20, 20))


def test_plan_then_run_is_predict_tiled(rng):
    torch.manual_seed(0)
    net = UNet(base_channels=2, depth=3).eval()
    image = rng.standard_normal((70, 53)).astype(np.float32)
    plan = plan_tiles(net, image.shape, 60, batch_size=3)
    got = run_tiles(net, image[None], plan, "cpu")
    np.testing.assert_array_equal(got, predict_tiled(net, image, tile_size=60, batch_size=3, device="cpu"))
    with pytest.raises(ValueError, match=r"image must be a \(C, H, W\) = \(1, 70, 53\) ndarray for this plan"):
        run_tiles(net, image, plan, "cpu")
    with pytest.raises(ValueError, match="resolve 'auto' first with unet_core.inference.resolve_precision"):
        run_tiles(net, image[None], plan, "cpu", "auto")


@pytest.mark.parametrize("depth,tile_size", [(2, None), (3, 60)])
def test_precision_fp32_is_the_default_path_bit_for_bit(rng, depth, tile_size):
    torch.manual_seed(depth)
    net = UNet(base_channels=2, depth=depth)
    image = rng.standard_normal((61, 47)).astype(np.float32)
    default = predict_tiled(net, image, tile_size=tile_size, batch_size=2, device="cpu")
    fp32 = predict_tiled(net, image, tile_size=tile_size, batch_size=2, device="cpu", precision="fp32")
    assert fp32.dtype == default.dtype == np.float32
    np.testing.assert_array_equal(fp32, default)


def test_dtype_and_channels_last_are_gone_precision_says_it(rng):
    net, image = UNet(base_channels=2, depth=2), np.zeros((20, 20), np.float32)
    for removed in ({"dtype": torch.bfloat16}, {"channels_last": True}):
        with pytest.raises(TypeError, match=f"unexpected keyword argument '{next(iter(removed))}'"):
            predict_tiled(net, image, **removed)
