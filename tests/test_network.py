"""Tests of unet_core.models.unet / unet_core.models.unet_sizes: the paper's numbers, size arithmetic vs. forward passes, init."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from unet_core.models.unet import UNet, center_crop, count_conv_layers, count_parameters, he_init_, layer_table
from unet_core.models.unet_sizes import (
    input_size_for_output,
    is_valid_input_size,
    nearest_valid_input_sizes,
    unet_flops,
    unet_output_size,
    valid_input_sizes,
)


@pytest.fixture(scope="module")
def paper_net() -> UNet:
    torch.manual_seed(0)
    return UNet()


def test_paper_numbers(paper_net):
    assert count_conv_layers(paper_net) == 23
    assert count_parameters(paper_net) == 31_030_658
    assert unet_output_size(572) == 388
    assert paper_net.output_size(572) == 388 and paper_net.input_size_for_output(388) == 572
    assert paper_net.border == 92 and paper_net.stride == 16
    assert (572 - 388) // 2 == paper_net.border


def test_forward_572_small_channels():
    net = UNet(base_channels=4).eval()
    with torch.no_grad():
        out = net(torch.randn(1, 1, 572, 572))
    assert out.shape == (1, 2, 388, 388)


def test_non_square_and_batch():
    net = UNet(in_channels=3, num_classes=5, base_channels=4, depth=4).eval()
    h, w = 92 + 8 * 3, 92 + 8 * 7
    with torch.no_grad():
        out = net(torch.randn(2, 3, h, w))
    assert out.shape == (2, 5, net.output_size(h), net.output_size(w)) == (2, 5, 28, 60)


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_size_functions_agree_with_forward(depth, padding):
    """Brute force: every n in a range either runs with the predicted output size, or is declared invalid."""
    net = UNet(base_channels=2, depth=depth, padding=padding, dropout=0).eval()
    upper = 3 * 2**depth + 2 ** (depth - 1) * 6 + 8
    for n in range(1, upper):
        valid = is_valid_input_size(n, depth, padding)
        try:
            with torch.no_grad():
                out = _raw_forward(net, torch.zeros(1, 1, n, n))
            ran = out.shape[-1] >= 1
        except RuntimeError:
            ran = False
        assert valid == ran, (n, depth, padding)
        if valid:
            assert out.shape[-2:] == (unet_output_size(n, depth, padding),) * 2
            if padding == "same":
                assert out.shape[-1] == n
    expected = [n for n in range(1, upper) if is_valid_input_size(n, depth, padding)]
    assert valid_input_sizes(upper - 1, depth, padding=padding) == expected
    assert expected[1] - expected[0] == 2 ** (depth - 1)


def _raw_forward(net: UNet, x: torch.Tensor) -> torch.Tensor:
    """UNet.forward without the size check, failing only where torch itself fails (odd pooling counts as failure)."""
    skips = []
    for level, enc in enumerate(net.encoders):
        x = enc(x)
        if level < net.depth - 1:
            if x.shape[-1] % 2:
                raise RuntimeError("odd size at pooling")
            skips.append(x)
            x = net.pool(x)
    for up, dec, skip in zip(net.upconvs, net.decoders, reversed(skips)):
        x = up(x)
        x = dec(torch.cat([x, center_crop(skip, tuple(x.shape[-2:]))], 1))
    if x.shape[-1] < 1:
        raise RuntimeError("empty output")
    return net.head(x)


def test_paper_valid_sizes():
    sizes = valid_input_sizes(700)
    assert sizes[0] == 188 and all(s % 16 == 12 for s in sizes) and 572 in sizes
    assert valid_input_sizes(700, min_size=500) == [508, 524, 540, 556, 572, 588, 604, 620, 636, 652, 668, 684, 700]
    assert valid_input_sizes(100) == []
    assert valid_input_sizes(64, depth=5, padding="same") == [16, 32, 48, 64]


def test_nearest_and_inverse():
    assert nearest_valid_input_sizes(500) == (492, 508)
    assert nearest_valid_input_sizes(572) == (572, 572)
    assert nearest_valid_input_sizes(100) == (None, 188)
    assert input_size_for_output(388) == 572 and input_size_for_output(389) == 588
    assert input_size_for_output(1) == 188
    for out in range(1, 200, 7):
        n = input_size_for_output(out)
        assert unet_output_size(n) >= out and (n == 188 or unet_output_size(n - 16) < out)
    assert input_size_for_output(100, padding="same") == 112


def test_invalid_size_messages():
    msg = "input_size 500 is not a valid input size for depth=5 padding='valid'; nearest valid sizes are 492 and 508"
    with pytest.raises(ValueError, match=msg):
        unet_output_size(500)
    with pytest.raises(ValueError, match="smallest valid size is 188"):
        unet_output_size(100)
    net = UNet(base_channels=2)
    with pytest.raises(
        ValueError,
        match="input height 500 is not a valid input size for depth=5 padding='valid'; "
        "nearest valid sizes are 492 and 508",
    ):
        net(torch.zeros(1, 1, 500, 572))
    with pytest.raises(ValueError, match="input width 570 .* nearest valid sizes are 556 and 572"):
        net(torch.zeros(1, 1, 572, 570))
    with pytest.raises(ValueError, match="input_size 20 .* nearest valid sizes are 16 and 32"):
        unet_output_size(20, padding="same")


def test_channel_and_shape_errors():
    net = UNet(base_channels=2)
    with pytest.raises(ValueError, match=r"in_channels=1.*UNet\(in_channels=3\)"):
        net(torch.zeros(1, 3, 188, 188))
    with pytest.raises(ValueError, match=r"x\[None, None\]"):
        net(torch.zeros(188, 188))
    with pytest.raises(TypeError, match=r"floating-point tensor.*x.float\(\)"):
        net(torch.zeros(1, 1, 188, 188, dtype=torch.uint8))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"depth": 0}, "depth=0 must be an integer >= 1"),
        ({"base_channels": 0}, "base_channels=0 must be an integer >= 1"),
        ({"in_channels": 1.5}, "in_channels=1.5"),
        ({"num_classes": 0}, "num_classes=0"),
        ({"padding": "full"}, "padding='full' must be 'valid'"),
        ({"dropout": 1.0}, r"dropout=1.0 must be a probability in \[0, 1\)"),
        ({"dropout": -0.1}, "dropout=-0.1"),
        ({"init": "xavier"}, "init='xavier'"),
    ],
)
def test_constructor_validation(kwargs, match):
    with pytest.raises(TypeError if kwargs.get("in_channels") == 1.5 else ValueError, match=match):
        UNet(**kwargs)


def test_config_round_trip():
    net = UNet(in_channels=3, num_classes=4, base_channels=4, depth=3, padding="same", dropout=0.2)
    cfg = net.config
    assert cfg == {
        "in_channels": 3,
        "num_classes": 4,
        "base_channels": 4,
        "depth": 3,
        "padding": "same",
        "dropout": 0.2,
    }
    clone = UNet(**cfg)
    clone.load_state_dict(net.state_dict())  # same configuration -> same state-dict keys and shapes
    assert clone.config == cfg
    assert net.border == 0 and net.stride == 4


def test_he_init_std(paper_net):
    net = paper_net  # default: He init
    conv = net.encoders[3][2]  # 512 -> 512, 3x3: 2.4 M weights, N = 4608
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / (9 * 512)), rel=0.01)
    assert conv.weight.mean().abs().item() < 1e-3 * math.sqrt(2 / (9 * 512)) * 10
    up = net.upconvs[0]  # 1024 -> 512, k=2 s=2: N = 1024 incoming connections per output pixel
    assert up.weight.std().item() == pytest.approx(math.sqrt(2 / 1024), rel=0.01)
    assert all(m.bias.abs().max() == 0 for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)))
    naive = he_init_(UNet(base_channels=8), mode="naive", std=0.01)
    assert naive.encoders[2][0].weight.std().item() == pytest.approx(0.01, rel=0.05)


def test_he_init_preserves_activation_scale():
    """He init keeps the mean square of the ReLU activations roughly constant through the net; 0.01 shrinks it."""
    torch.manual_seed(2)
    x = torch.randn(1, 1, 188, 188)
    scales = {}
    for init in ("he", "naive"):
        net = UNet(base_channels=8, init=init, dropout=0).eval()
        with torch.no_grad():
            scales[init] = net(x).pow(2).mean().item()
    assert 0.1 < scales["he"] < 1000  # order 1 to 100 after 23 layers
    assert scales["naive"] < 1e-6 * scales["he"]


def test_dropout_placement():
    net = UNet(base_channels=2, depth=5)
    assert net.dropout_levels == (3, 4)  # conv4 block and bottleneck (0-based levels 3 and 4)
    assert UNet(base_channels=2, depth=1).dropout_levels == (0,)
    assert UNet(base_channels=2, dropout=0).dropout_levels == ()
    # Dropout is active in train mode only and only changes the output through the deep levels.
    torch.manual_seed(3)
    x = torch.randn(1, 1, 188, 188)
    seen = []
    hook = net.drop.register_forward_hook(lambda m, i, o: seen.append(tuple(o.shape[1:])))
    net.train()
    a, b = net(x), net(x)
    assert not torch.equal(a, b)
    assert seen[:2] == [(16, 16, 16), (32, 4, 4)]  # 8*2 channels at level 4, 16*2 at the bottleneck
    net.eval()
    assert torch.equal(net(x), net(x))
    hook.remove()


def test_dropout_reaches_skip_connection():
    """As with Caffe's in-place dropout_d3c, the level-4 skip map is the dropped-out tensor."""
    torch.manual_seed(4)
    net = UNet(base_channels=2, depth=5).train()
    dropped, dec_in = [], []
    h1 = net.drop.register_forward_hook(lambda m, i, o: dropped.append(o.detach().clone()))
    h2 = net.decoders[0].register_forward_hook(lambda m, i, o: dec_in.append(i[0].detach().clone()))
    net(torch.randn(1, 1, 188, 188))
    h1.remove(), h2.remove()
    skip_part = dec_in[0][:, 16:]  # (1, 16, 8, 8): [up-convolved, cropped skip]
    assert torch.equal(skip_part, center_crop(dropped[0], 8))
    assert (dropped[0] == 0).float().mean() > 0.4  # ~half of the units dropped (ReLU zeros add a few)


def test_center_crop():
    x = torch.arange(5 * 6).reshape(1, 5, 6)
    assert center_crop(x, (3, 2)).tolist() == [[[8, 9], [14, 15], [20, 21]]]
    with pytest.raises(ValueError, match="fit inside"):
        center_crop(x, 7)


def test_layer_table():
    rows = layer_table(UNet(base_channels=64), 572)
    first, last = rows[0], rows[-1]
    assert first == {
        "stage": "enc1",
        "channels_in": 1,
        "channels_out": 64,
        "size_in": (572, 572),
        "size_out": (568, 568),
    }
    assert last == {
        "stage": "final",
        "channels_in": 64,
        "channels_out": 2,
        "size_in": (388, 388),
        "size_out": (388, 388),
    }
    by = {r["stage"]: r for r in rows}
    assert by["enc5"]["size_out"] == (28, 28) and by["enc5"]["channels_out"] == 1024
    assert by["crop4"]["size_in"] == (64, 64) and by["crop4"]["size_out"] == (56, 56)
    assert by["up1"]["channels_in"] == 128 and by["up1"]["size_out"] == (392, 392)
    with pytest.raises(ValueError, match="input height 500"):
        layer_table(UNet(base_channels=2), 500)
    same = layer_table(UNet(base_channels=2, depth=3, padding="same"), (32, 48))
    assert [r["size_out"] for r in same if r["stage"].startswith(("enc", "final"))] == [
        (32, 48),
        (16, 24),
        (8, 12),
        (32, 48),
    ]


def test_layer_table_matches_hooks():
    """The size table agrees with the shapes seen by forward hooks (non-square input)."""
    net = UNet(base_channels=2, depth=3, dropout=0)
    shapes = {}
    for name, mod in net.named_modules():
        if isinstance(mod, (nn.Conv2d, nn.ConvTranspose2d)):
            mod.register_forward_hook(lambda m, i, o, name=name: shapes.update({name: tuple(o.shape[1:])}))
    with torch.no_grad():
        net(torch.zeros(1, 1, 60, 76))
    by = {r["stage"]: r for r in layer_table(net, (60, 76))}
    assert shapes["encoders.0.2"] == (by["enc1"]["channels_out"], *by["enc1"]["size_out"])
    assert shapes["encoders.2.2"] == (by["enc3"]["channels_out"], *by["enc3"]["size_out"])
    assert shapes["upconvs.0"] == (by["up2"]["channels_out"], *by["up2"]["size_out"])
    assert shapes["decoders.1.2"] == (by["dec1"]["channels_out"], *by["dec1"]["size_out"])
    assert shapes["head"] == (by["final"]["channels_out"], *by["final"]["size_out"])


def _hook_flops(net: nn.Module, x: torch.Tensor) -> int:
    """Brute-force FLOP count: 2 x MACs from the actual shapes seen by every (transposed) convolution."""
    total = []

    def hook(m, inp, out):
        if isinstance(m, nn.ConvTranspose2d):  # every input pixel feeds k*k outputs of every output channel
            total.append(2 * inp[0][0].numel() * m.out_channels * m.kernel_size[0] * m.kernel_size[1])
        else:  # every output value is a dot product of length C_in * k * k
            total.append(2 * out[0].numel() * m.in_channels * m.kernel_size[0] * m.kernel_size[1])

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    with torch.no_grad():
        net(x)
    for h in handles:
        h.remove()
    return sum(total)


@pytest.mark.parametrize(
    "depth, padding, size", [(5, "valid", (188, 220)), (3, "valid", (60, 60)), (4, "same", (32, 48))]
)
def test_flops_match_hooks(depth, padding, size):
    net = UNet(in_channels=2, num_classes=3, base_channels=4, depth=depth, padding=padding, dropout=0).eval()
    analytic = unet_flops(size, in_channels=2, num_classes=3, base_channels=4, depth=depth, padding=padding)
    assert analytic == _hook_flops(net, torch.zeros(1, 2, *size))


def test_paper_flops():
    assert unet_flops(572) == 300_856_848_896
    # Dominant-term sanity: doubling base_channels roughly quadruples the cost.
    assert 3.9 < unet_flops(572, base_channels=128) / unet_flops(572) < 4.01
