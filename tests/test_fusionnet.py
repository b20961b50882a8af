"""Tests of FusionNet (unet_core.models): shapes and size errors, closed-form parameter and FLOP counts,
the residual shortcut and summation skip against hand computations, the receptive field against
gradient supports, seamless tiling, training and checkpoints through the code paths of the U-Net."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

import unet_core as uc
from unet_core.inference.mirror import mirror_pad
from unet_core.inference.tiling import predict_tiled
from unet_core.models import (
    COPIED_VARIANT,
    FusionNet,
    SegmentationModel,
    build_model,
    fusionnet_flops,
    fusionnet_parameter_count,
    fusionnet_receptive_field,
)
from unet_core.models.blocks import LEAKY_SLOPE, ResidualBlock
from unet_core.models.fusionnet_sizes import _input_interval
from unet_core.models.unet import UNet, count_conv_layers, count_parameters
from unet_core.training.checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from unet_core.training.loop import TrainConfig, train


def tiny(**kw) -> FusionNet:
    torch.manual_seed(0)
    return FusionNet(**{"base_channels": 2, "depth": 2, **kw})


def randomise_batch_norms(net: torch.nn.Module, seed: int = 1) -> torch.nn.Module:
    """Give every batch norm non-trivial statistics and affine parameters (eval mode then uses them)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(0.1 * torch.randn(n, generator=g))
                m.running_var.copy_(0.5 + 1.5 * torch.rand(n, generator=g))
                m.weight.copy_(0.5 + torch.rand(n, generator=g))
                m.bias.copy_(0.1 * torch.randn(n, generator=g))
    return net


# ---------------------------------------------------------------- shapes, sizes, counts
@pytest.mark.parametrize("depth, size", [(1, (7, 5)), (2, (2, 6)), (3, (48, 40)), (3, (4, 92)), (4, (16, 24))])
def test_output_has_the_input_size(depth, size):
    net = FusionNet(in_channels=2, num_classes=3, base_channels=2, depth=depth).eval()
    with torch.no_grad():
        out = net(torch.randn(2, 2, *size))
    assert tuple(out.shape) == (2, 3, *size)
    assert net.output_size(size[0]) == size[0] and net.border == 0 and net.stride == 2 ** (depth - 1)


def test_sizes_it_cannot_take_are_refused_clearly():
    net = tiny(depth=3)
    with pytest.raises(
        ValueError,
        match=r"input height 50 is not a valid input size for FusionNet\(depth=3\): it must "
        r"be a positive multiple of 2\*\*\(depth - 1\) = 4; nearest valid sizes are "
        r"48 and 52",
    ):
        net(torch.zeros(1, 1, 50, 48))
    with pytest.raises(ValueError, match="input width 2 .* the smallest valid size is 4"):
        net(torch.zeros(1, 1, 48, 2))
    with pytest.raises(ValueError, match="input_size 30 is not a valid input size"):
        net.output_size(30)
    assert (net.input_size_for_output(49), net.input_size_for_output(1), net.input_size_for_output(48)) == (52, 4, 48)
    with pytest.raises(ValueError, match="nearest valid sizes are 48 and 64"):
        fusionnet_flops(50)


def closed_form_depth5(b: int) -> int:
    """Parameters of the paper's FusionNet (1 in, 2 classes, depth 5) written out level by level."""
    c = [b, 2 * b, 4 * b, 8 * b, 16 * b]
    encoder = 9 * 1 * c[0] + 36 * c[0] ** 2 + 10 * c[0]  # five bias-free 3x3 convs + five BN per level
    encoder += sum(9 * c[i - 1] * c[i] + 36 * c[i] ** 2 + 10 * c[i] for i in range(1, 5))
    decoder = sum(9 * 2 * c[i] * c[i] + 2 * c[i] + 45 * c[i] ** 2 + 10 * c[i] for i in range(4))  # up-conv + level
    return encoder + decoder + c[0] * 2 + 2  # 1x1 head with bias


@pytest.mark.parametrize("base", [2, 3])
def test_parameter_count_equals_the_closed_form(base):
    net = FusionNet(base_channels=base)
    assert count_parameters(net) == fusionnet_parameter_count(base_channels=base) == closed_form_depth5(base)


def test_parameter_counts_of_the_paper_network_and_options():
    assert fusionnet_parameter_count() == closed_form_depth5(64) == 78_515_522
    assert count_conv_layers(FusionNet(base_channels=1)) == 50  # 5 x 5 encoder + 4 up + 4 x 5 decoder + head
    assert fusionnet_parameter_count(base_channels=16) == closed_form_depth5(16) == 4_913_234
    for kw in ({"down": "stride"}, {"head_kernel": 3}, COPIED_VARIANT):
        net = FusionNet(in_channels=2, num_classes=3, base_channels=3, depth=3, **kw)
        shape_kw = {k: v for k, v in kw.items() if k in ("down", "head_kernel")}
        assert count_parameters(net) == fusionnet_parameter_count(2, 3, 3, 3, **shape_kw)
    # the strided down-convolutions add 9 c^2 + 2 c per level, the 3x3 head 8 base K
    extra = sum(9 * c * c + 2 * c for c in (64, 128, 256, 512))
    assert fusionnet_parameter_count(down="stride") - fusionnet_parameter_count() == extra
    assert fusionnet_parameter_count(head_kernel=3) - fusionnet_parameter_count() == 8 * 64 * 2


@pytest.mark.parametrize(
    "kw, size", [({"depth": 2}, (16, 24)), ({"depth": 3, "down": "stride", "head_kernel": 3}, (8, 20))]
)
def test_flops_equal_torchs_flop_counter(kw, size):
    net = FusionNet(in_channels=2, num_classes=3, base_channels=3, **kw).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        net(torch.zeros(1, 2, *size))
    assert counter.get_total_flops() == fusionnet_flops(size, 2, 3, 3, **kw)


def test_paper_flops():
    assert fusionnet_flops(640) == 1_329_332_224_000  # one 640 tile (512 slice + 64 px mirror per side)
    assert fusionnet_flops(512) == 850_772_623_360  # one 512 slice
    assert 3.9 < fusionnet_flops(640, base_channels=128) / fusionnet_flops(640) < 4.01


# ---------------------------------------------------------------- hand computations
def _bn(x, m):
    return (x - m.running_mean[:, None, None]) / torch.sqrt(m.running_var[:, None, None] + m.eps) * m.weight[
        :, None, None
    ] + m.bias[:, None, None]


def _act(x, name):
    acts = {"relu": torch.relu, "elu": F.elu, "leaky_relu": lambda v: F.leaky_relu(v, LEAKY_SLOPE), None: lambda v: v}
    return acts[name](x)


def _cba(x, seq, act):
    """conv3x3 (padding 1) -> batch norm (eval) -> activation, by hand from the layer's weights."""
    return _act(_bn(F.conv2d(x, seq[0].weight, None, seq[0].stride, 1), seq[1]), act if len(seq) == 3 else None)


def _level(x, seq, act):
    a = _cba(x, seq[0], act)
    b = seq[1].branch
    return _cba(a + _cba(_cba(_cba(a, b[0], act), b[1], act), b[2], act), seq[2], act)


def hand_forward(net: FusionNet, x: torch.Tensor) -> torch.Tensor:
    """FusionNet's forward pass written out with torch.nn.functional (eval mode)."""
    skips = []
    for level in range(net.depth):
        x = _level(x, net.encoders[level], net.activation)
        if level < net.depth - 1:
            skips.append(x)
            x = F.max_pool2d(x, 2) if net.down == "pool" else _cba(x, net.downs[level], net.activation)
    for up, dec, skip in zip(net.upconvs, net.decoders, reversed(skips)):
        u = _act(_bn(F.conv_transpose2d(x, up[0].weight, None, 2, 1, 1), up[1]), net.decoder_activation)
        x = _level((u + skip) / (2 if net.skip == "mean" else 1), dec, net.decoder_activation)
    return F.conv2d(x, net.head.weight, net.head.bias, padding=net.head_kernel // 2)


def test_residual_block_is_identity_plus_three_convolutions():
    torch.manual_seed(0)
    block = randomise_batch_norms(ResidualBlock(3, "relu")).eval()
    x = torch.randn(2, 3, 9, 7)
    c1, c2, c3 = block.branch
    by_hand = x + _bn(
        F.conv2d(
            torch.relu(
                _bn(
                    F.conv2d(torch.relu(_bn(F.conv2d(x, c1[0].weight, padding=1), c1[1])), c2[0].weight, padding=1),
                    c2[1],
                )
            ),
            c3[0].weight,
            padding=1,
        ),
        c3[1],
    )
    with torch.no_grad():
        torch.testing.assert_close(block(x), by_hand, rtol=1e-5, atol=1e-5)
        c3[1].weight.zero_()
        c3[1].bias.zero_()  # the branch now outputs 0: only the identity shortcut is left
        assert torch.equal(block(x), x)


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"depth": 3, **COPIED_VARIANT},
        {"skip": "mean", "activation": "leaky_relu", "decoder_activation": "relu", "head_kernel": 3},
    ],
)
def test_whole_network_equals_a_hand_computation(kw):
    net = randomise_batch_norms(tiny(**kw)).eval()
    x = torch.randn(2, 1, 12, 8)
    with torch.no_grad():
        torch.testing.assert_close(net(x), hand_forward(net, x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("skip, scale", [("sum", 1.0), ("mean", 0.5)])
def test_decoder_sees_the_sum_of_up_convolution_and_encoder_map(skip, scale):
    net = randomise_batch_norms(tiny(skip=skip)).eval()
    seen = {}
    net.encoders[0].register_forward_hook(lambda m, i, o: seen.__setitem__("skip", o.clone()))
    net.upconvs[0].register_forward_hook(lambda m, i, o: seen.__setitem__("up", o.clone()))
    net.decoders[0].register_forward_pre_hook(lambda m, i: seen.__setitem__("into", i[0].clone()))
    with torch.no_grad():
        net(torch.randn(1, 1, 8, 12))
    assert seen["up"].shape == seen["skip"].shape == (1, 2, 8, 12)  # summed, not concatenated: still 2 channels
    assert torch.equal(seen["into"], (seen["up"] + seen["skip"]) * scale)


# ---------------------------------------------------------------- receptive field and tiling
@pytest.mark.parametrize(
    "depth, down, head", [(1, "pool", 1), (2, "pool", 1), (2, "stride", 3), (3, "pool", 1), (3, "stride", 1)]
)
def test_receptive_field_equals_the_gradient_support(depth, down, head):
    """Every pooling phase: the input columns that reach one output pixel are exactly the computed interval."""
    torch.manual_seed(0)
    net = FusionNet(base_channels=2, depth=depth, down=down, head_kernel=head, activation="leaky_relu").double().eval()
    rf, stride = fusionnet_receptive_field(depth, down, head), 2 ** (depth - 1)
    width = -(-(2 * rf.margin + 2 * stride + 4) // stride) * stride
    x = torch.randn(1, 1, 16, width, dtype=torch.float64, requires_grad=True)
    sizes, margins = [], []
    for phase in range(stride):
        xc = width // 2 // stride * stride + phase
        x.grad = None
        net(x)[0, 1, 8, xc].backward()
        cols = torch.nonzero(x.grad.abs().sum(dim=(0, 1, 2))).flatten()
        lo, hi = int(cols.min()), int(cols.max())
        assert (lo, hi) == _input_interval(xc, xc, depth, down, head)
        sizes.append(hi - lo + 1)
        margins.append(max(xc - lo, hi - xc))
    assert (max(sizes), max(margins)) == tuple(rf)


def test_paper_receptive_field():
    assert tuple(fusionnet_receptive_field()) == (502, 260)
    assert FusionNet(base_channels=1).tile_margin == 260
    assert fusionnet_receptive_field(depth=2) == (44, 22)


def test_tiles_equal_one_pass_over_the_whole_padded_image(rng):
    net = randomise_batch_norms(tiny(base_channels=4, activation="elu")).eval()  # ELU: no dead maps in a tiny net
    image = rng.standard_normal((61, 47)).astype(np.float32)
    margin = net.tile_margin  # 22 for depth 2: the reach of the receptive field
    extra = [(-(n + 2 * margin)) % net.stride for n in image.shape]
    padded = mirror_pad(image, ((margin, margin + extra[0]), (margin, margin + extra[1])))
    with torch.no_grad():
        whole = torch.softmax(net(torch.from_numpy(np.ascontiguousarray(padded))[None, None]), 1)[0].numpy()
    whole = whole[:, margin : margin + 61, margin : margin + 47]
    got = predict_tiled(net, image, tile_size=56, device="cpu")  # 12 px output tiles: 30 tiles
    assert whole[1].std() > 0.02  # a non-trivial map
    np.testing.assert_allclose(got, whole, atol=5e-5)  # float32 sums in another order
    assert not net.training
    short = predict_tiled(net, image, tile_size=56, margin=margin - 2, device="cpu")  # same pooling phase
    assert np.abs(short - whole).max() > 5e-3  # a margin inside the receptive field shows seams


# ---------------------------------------------------------------- training and checkpoints
def _data(n: int = 3, size: int = 16):
    g = torch.Generator().manual_seed(0)
    return [
        (
            torch.randn(1, size, size, generator=g),
            torch.randint(0, 2, (size, size), generator=g),
            torch.ones(size, size),
        )
        for _ in range(n)
    ]


def test_train_runs_unchanged_and_resumes_exactly(tmp_path):
    config = TrainConfig(iterations=3, device="cpu", optimizer="adam")
    straight = tiny()
    train(straight, _data(), config, progress=False)
    resumed = tiny()
    ckpt = tmp_path / "f.pt"
    train(
        resumed,
        _data(),
        TrainConfig(iterations=2, device="cpu", optimizer="adam"),
        checkpoint_path=ckpt,
        progress=False,
    )
    result = train(tiny(), _data(), config, checkpoint_path=ckpt, progress=False)
    assert result.step == 3 and np.isfinite(result.losses).all()
    resumed = model_from_checkpoint(ckpt)
    for key, value in straight.state_dict().items():  # weights and batch-norm statistics
        assert torch.equal(value, resumed.state_dict()[key]), key


def test_checkpoint_round_trip_rebuilds_the_fusionnet(tmp_path):
    net = tiny(**COPIED_VARIANT)
    net.train()
    with torch.no_grad():
        net(torch.randn(2, 1, 8, 8))  # moves the batch-norm running statistics away from (0, 1)
    path = save_checkpoint(tmp_path / "f.pt", net, step=5)
    ckpt = load_checkpoint(path)
    assert ckpt["model"] == "fusionnet" and ckpt["model_config"] == net.config
    back = model_from_checkpoint(path)
    assert type(back) is FusionNet and back.config == net.config and not back.training
    x = torch.randn(1, 1, 12, 8)
    with torch.no_grad():
        assert torch.equal(back(x), net.eval()(x))
    with pytest.raises(ValueError, match="holds a FusionNet, not a UNet; use model_from_checkpoint"):
        load_checkpoint(path, UNet(base_channels=2, depth=2))
    with pytest.raises(ValueError, match=r"skip: checkpoint 'mean' vs model 'sum'.*build the model with FusionNet\("):
        load_checkpoint(path, tiny())


def test_checkpoints_without_a_model_entry_hold_a_unet(tmp_path):
    path = save_checkpoint(tmp_path / "u.pt", UNet(base_channels=2, depth=2))
    payload = torch.load(path, weights_only=True)
    assert payload.pop("model") == "unet"
    torch.save(payload, path)  # as written before the entry existed
    assert type(model_from_checkpoint(path)) is UNet
    with pytest.raises(ValueError, match="holds a UNet, not a FusionNet"):
        load_checkpoint(path, tiny())


def test_both_networks_implement_the_protocol_and_build_by_name():
    for net in (tiny(), UNet(base_channels=2, depth=2)):
        assert isinstance(net, SegmentationModel)
    assert type(build_model("fusionnet", base_channels=2, depth=2)) is FusionNet
    assert type(build_model()) is UNet and build_model("unet", base_channels=2).config["base_channels"] == 2
    assert {
        "FusionNet",
        "fusionnet_parameter_count",
        "fusionnet_flops",
        "fusionnet_receptive_field",
        "build_model",
        "MODEL_NAMES",
    } <= set(uc.__all__)
    assert uc.FusionNet is FusionNet and uc.models.unet.UNet is uc.models.UNet


# ---------------------------------------------------------------- bad input (five or more per public name)
BAD = [
    ("FusionNet", lambda: FusionNet(base_channels=0), ValueError, "base_channels=0 must be an integer >= 1"),
    ("FusionNet", lambda: FusionNet(depth=17), ValueError, "depth=17 must be an integer >= 1 and <= 16"),
    ("FusionNet", lambda: FusionNet(depth=2.0), TypeError, "depth=2.0 must be an integer"),
    ("FusionNet", lambda: FusionNet(skip="concat"), ValueError, "skip='concat' must be 'sum'"),
    ("FusionNet", lambda: FusionNet(down="avg"), ValueError, "down='avg' must be 'pool'"),
    ("FusionNet", lambda: FusionNet(activation="tanh"), ValueError, "activation='tanh' must be one of"),
    ("FusionNet", lambda: FusionNet(decoder_activation=3), ValueError, "decoder_activation=3 must be one of"),
    ("FusionNet", lambda: FusionNet(head_kernel=5), ValueError, "head_kernel=5 must be 1"),
    ("FusionNet", lambda: FusionNet(dropout=1.0), ValueError, "dropout=1.0 must be a probability in [0, 1)"),
    ("FusionNet", lambda: FusionNet(dropout="0.1"), TypeError, "dropout='0.1' must be a probability"),
    ("FusionNet", lambda: tiny()(torch.zeros(1, 1, 8, 8, dtype=torch.int64)), TypeError, "floating-point"),
    ("FusionNet", lambda: tiny()(torch.zeros(1, 3, 8, 8)), ValueError, "in_channels=1"),
    ("FusionNet", lambda: tiny()(np.zeros((1, 1, 8, 8))), ValueError, "must be a tensor"),
    ("FusionNet", lambda: tiny().input_size_for_output(0), ValueError, "output_size=0 must be an integer >= 1"),
    ("fusionnet_parameter_count", lambda: fusionnet_parameter_count(base_channels=0), ValueError, "base_channels=0"),
    ("fusionnet_parameter_count", lambda: fusionnet_parameter_count(depth=0), ValueError, "depth=0"),
    ("fusionnet_parameter_count", lambda: fusionnet_parameter_count(down="x"), ValueError, "down='x'"),
    ("fusionnet_parameter_count", lambda: fusionnet_parameter_count(head_kernel=2), ValueError, "head_kernel=2"),
    ("fusionnet_parameter_count", lambda: fusionnet_parameter_count(in_channels=1.5), TypeError, "in_channels=1.5"),
    ("fusionnet_flops", lambda: fusionnet_flops("640"), TypeError, "input_size must be an int or a pair"),
    ("fusionnet_flops", lambda: fusionnet_flops((640,)), TypeError, "input_size must be an int or a pair"),
    ("fusionnet_flops", lambda: fusionnet_flops((8, 640)), ValueError, "input height 8 is not a valid input size"),
    ("fusionnet_flops", lambda: fusionnet_flops((640, 8)), ValueError, "the smallest valid size is 16"),
    ("fusionnet_flops", lambda: fusionnet_flops(650), ValueError, "nearest valid sizes are 640 and 656"),
    ("fusionnet_flops", lambda: fusionnet_flops(640, num_classes=0), ValueError, "num_classes=0"),
    ("fusionnet_receptive_field", lambda: fusionnet_receptive_field(0), ValueError, "depth=0"),
    ("fusionnet_receptive_field", lambda: fusionnet_receptive_field(17), ValueError, "depth=17"),
    ("fusionnet_receptive_field", lambda: fusionnet_receptive_field("5"), TypeError, "depth='5'"),
    ("fusionnet_receptive_field", lambda: fusionnet_receptive_field(down=None), ValueError, "down=None"),
    ("fusionnet_receptive_field", lambda: fusionnet_receptive_field(head_kernel=1.0), TypeError, "head_kernel=1.0"),
    ("build_model", lambda: build_model(None), TypeError, "name must be a network name"),
    (
        "build_model",
        lambda: build_model("resnet"),
        ValueError,
        "name='resnet' is unknown; choose one of 'unet', 'fusionnet'",
    ),
    ("build_model", lambda: build_model("unet", padding="x"), ValueError, "padding='x'"),
    (
        "build_model",
        lambda: build_model("fusionnet", padding="same"),
        TypeError,
        "FusionNet takes no argument 'padding'",
    ),
    ("build_model", lambda: build_model("unet", skip="sum"), TypeError, "UNet takes no argument 'skip'"),
]


@pytest.mark.parametrize("name, call, exc, match", BAD, ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD)])
def test_bad_input_is_refused_naming_the_argument(name, call, exc, match):
    """(name, call, exception, message part): the shape of tests/test_bad_input.py's table."""
    with pytest.raises(exc) as info:
        call()
    assert match.lower() in str(info.value).lower(), str(info.value)


def test_every_new_public_name_has_five_bad_inputs():
    counts = {}
    for name, *_ in BAD:
        counts[name] = counts.get(name, 0) + 1
    new = [
        n
        for n in [*uc.models.fusionnet.__all__, *uc.models.fusionnet_sizes.__all__, "build_model"]
        if hasattr(uc, n) and callable(getattr(uc, n)) and not isinstance(getattr(uc, n), (dict, tuple))
    ]
    assert all(counts.get(n, 0) >= 5 for n in new), counts


def test_the_registry_answers_each_networks_flops_without_building_it():
    from unet_core.models.registry import model_spec

    assert model_spec("unet").forward_flops(572, base_channels=64, depth=5, dropout=0.5) == uc.unet_flops(572)
    assert model_spec("fusionnet").forward_flops(640, base_channels=16, skip="sum") == uc.fusionnet_flops(
        640, base_channels=16
    )
    assert model_spec("unet").forward_flops(572, base_channels=32) < model_spec("unet").forward_flops(572)
