"""unet_core.models.memory: activation memory from each network's own arithmetic, against the peak measured on the CPU."""

from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

import unet_core as uc
from unet_core.cli.checks import UserError, check_training_size
from unet_core.inference.tiling import estimate_tile_memory
from unet_core.models.fusionnet_sizes import fusionnet_memory
from unet_core.models.memory import estimate_memory
from unet_core.models.registry import model_spec
from unet_core.models.unet_sizes import unet_memory
from unet_core.training.peak_memory import measure_peak_memory
from unet_core.utils import system as _utils

MiB = 2**20
LINUX = pytest.mark.skipif(
    not (sys.platform.startswith("linux") and os.access("/proc/self/clear_refs", os.W_OK)),
    reason="the probe needs Linux: it reads /proc/self/status and resets the peak via /proc/self/clear_refs",
)
# 16 channels: every layer a whole oneDNN channel block on AVX2 (8) and AVX-512 (16) CPUs alike
SMALL = [("unet", 188, {"base_channels": 16, "depth": 5}), ("fusionnet", 128, {"base_channels": 16, "depth": 5})]
RECIPES = [
    ("unet", 412, {"base_channels": 16, "depth": 5}),
    ("unet", 572, {"base_channels": 16, "depth": 5}),
    ("fusionnet", 256, {"base_channels": 16, "depth": 5}),
    ("fusionnet", 384, {"base_channels": 16, "depth": 5}),
]


def _measure_all(cases) -> dict:
    """Peak of every (case, train) in fresh processes, two at a time (the peaks are per process)."""
    keys = [(i, train) for i in range(len(cases)) for train in (True, False)]
    with ThreadPoolExecutor(2) as pool:
        futures = {
            k: pool.submit(measure_peak_memory, cases[k[0]][0], cases[k[0]][1], train=k[1], threads=1, **cases[k[0]][2])
            for k in keys
        }
        return {k: f.result() for k, f in futures.items()}


@pytest.fixture(scope="module")
def small_peaks():
    return _measure_all(SMALL)


@LINUX
@pytest.mark.parametrize("train", [True, False], ids=["train", "infer"])
@pytest.mark.parametrize("case", range(len(SMALL)), ids=[c[0] for c in SMALL])
def test_estimate_is_within_25_percent_of_the_measured_peak(small_peaks, case, train):
    name, tile, config = SMALL[case]
    measured, estimate = small_peaks[case, train], estimate_memory(name, tile, train=train, **config)
    assert 0.75 <= estimate / measured <= 1.25, (name, tile, train, estimate / MiB, measured / MiB)


@LINUX
@pytest.mark.slow
def test_estimate_is_within_25_percent_at_the_cpu_recipes_tiles_and_larger_ones():
    peaks = _measure_all(RECIPES)
    for (case, train), measured in peaks.items():
        name, tile, config = RECIPES[case]
        estimate = estimate_memory(name, tile, train=train, **config)
        assert 0.75 <= estimate / measured <= 1.25, (name, tile, train, estimate / MiB, measured / MiB)


def test_measure_peak_memory_refuses_other_systems(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    with pytest.raises(OSError, match="Linux"):
        measure_peak_memory("unet", 188, base_channels=2)


# ------------------------------------------------------------------ the estimates themselves
def test_each_network_has_its_own_estimate_in_the_registry():
    assert model_spec("unet").memory is unet_memory and model_spec("fusionnet").memory is fusionnet_memory
    assert estimate_memory(uc.UNet(base_channels=4, depth=3, dropout=0.2), 124, train=True) == unet_memory(
        124, base_channels=4, depth=3, dropout=0.2, train=True
    )
    net = uc.FusionNet(base_channels=4, depth=3, skip="mean", down="stride", activation="elu")
    assert (
        estimate_memory(net, 64)
        == estimate_memory("fusionnet", 64, base_channels=4, depth=3, skip="mean", down="stride", activation="elu")
        == fusionnet_memory(64, base_channels=4, depth=3, skip="mean", down="stride")
    )


def test_the_recipes_estimates_match_chapter_09s_measurements():
    """The U-Net formula the command line used gave 248.6 and 96.0 MiB against the 86.5 and 183.2 measured."""
    unet = estimate_memory("unet", 412, train=True, base_channels=16) / MiB
    fusion = estimate_memory("fusionnet", 256, train=True, base_channels=16) / MiB
    assert unet == pytest.approx(86.5, rel=0.05) and fusion == pytest.approx(183.2, rel=0.05)


def test_training_keeps_more_than_inference_and_fusionnet_more_than_the_unet():
    for name, tile in (("unet", 252), ("fusionnet", 256)):
        assert estimate_memory(name, tile, train=True, base_channels=16) > 2 * estimate_memory(
            name, tile, train=False, base_channels=16
        )
    for train, low, high in ((True, 1.5, 2.0), (False, 0.4, 0.8)):  # per output pixel, the cpu recipes' tiles
        unet = estimate_memory("unet", 412, train=train, base_channels=16) / 228**2
        fusion = estimate_memory("fusionnet", 256, train=train, base_channels=16) / 256**2
        assert low < fusion / unet < high, (train, fusion / unet)


def test_dropout_masks_count_in_training_only():
    kept = unet_memory(252, base_channels=16, train=True, dropout=0.5)
    assert kept > unet_memory(252, base_channels=16, train=True, dropout=0.0)
    assert unet_memory(252, base_channels=16, dropout=0.5) == unet_memory(252, base_channels=16, dropout=0.0)
    assert fusionnet_memory(128, base_channels=16, train=True, dropout=0.25) > fusionnet_memory(
        128, base_channels=16, train=True, dropout=0.0
    )


def test_half_precision_halves_the_feature_maps_and_batches_add_up():
    fp32, bf16 = (unet_memory(412, base_channels=16, bytes_per_value=b) for b in (4, 2))
    assert 0.45 < bf16 / fp32 < 0.55
    one, four = (fusionnet_memory(256, base_channels=16, batch_size=b) for b in (1, 4))
    assert 3.5 < four / one <= 4.0


def test_estimate_tile_memory_delegates_to_the_network():
    unet, fusion = uc.UNet(base_channels=16), uc.FusionNet(base_channels=16)
    assert estimate_tile_memory(unet, (412, 412), 2, 2) == estimate_memory(unet, 412, batch_size=2, bytes_per_value=2)
    assert estimate_tile_memory(fusion, 256) == estimate_memory(fusion, 256)
    # a side that is not a valid size: the per-pixel memory of the smallest valid tile around it
    assert estimate_tile_memory(fusion, (250, 256)) == estimate_memory(fusion, 256) * 250 // 256
    assert estimate_tile_memory(unet, (1, 1)) == estimate_memory(unet, 188) // 188**2


def test_estimate_tile_memory_keeps_the_unet_formula_for_other_networks():
    class Other:  # a callable network outside the registry
        base_channels = 64

        def __call__(self, x):
            return x

    assert estimate_tile_memory(Other(), (100, 50), 2) == (6 * 64 + 32) * 100 * 50 * 2 * 4


# ------------------------------------------------------------------ the command line's check
def _train_args(model, tile, base_channels=16, batch_size=None):
    return argparse.Namespace(model=model, tile_size=tile, base_channels=base_channels, depth=5, batch_size=batch_size)


def test_cli_training_check_uses_the_networks_training_estimate(monkeypatch):
    """FusionNet needs more than the U-Net formula said (an out-of-memory error it let through), the U-Net less."""
    n_fusion = model_spec("fusionnet").parameter_count(1, 2, 16, 5)
    need = estimate_memory("fusionnet", 256, train=True, base_channels=16) + 16 * n_fusion
    monkeypatch.setattr(_utils, "available_memory", lambda: int(need / 0.9) - 2**20)
    with pytest.raises(UserError, match=r"training fusionnet on --tile-size 256 \(186 MiB of activations per step\)"):
        check_training_size(_train_args("fusionnet", 256))
    monkeypatch.setattr(_utils, "available_memory", lambda: int(need / 0.9) + 2**20)
    check_training_size(_train_args("fusionnet", 256))
    # the U-Net at 412 px needs about 87 MiB per step, not the 249 MiB of 3 x (6 c0 + 32) A
    monkeypatch.setattr(_utils, "available_memory", lambda: 150 * 2**20)
    check_training_size(_train_args("unet", 412))
    with pytest.raises(UserError, match="--batch-size 4"):
        check_training_size(_train_args("unet", 412, batch_size=4))


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: estimate_memory("unet3d", 572), ValueError, "model_or_name='unet3d' is unknown"),
        (lambda: estimate_memory(None, 572), TypeError, "model_or_name"),
        (lambda: estimate_memory(object(), 572), TypeError, "model_or_name must be one of"),
        (lambda: estimate_memory(uc.UNet(base_channels=2), 572, depth=4), TypeError, "fixes its configuration"),
        (lambda: estimate_memory("unet", 572, widht=3), TypeError, "UNet takes no argument 'widht'"),
        (lambda: estimate_memory("unet", 500), ValueError, r"tile=500: .*nearest valid sizes are 492 and 508"),
        (lambda: estimate_memory("fusionnet", (256, 250)), ValueError, r"tile=\(256, 250\): input width 250"),
        (lambda: estimate_memory("unet", 0), ValueError, "tile must be a pair"),
        (lambda: estimate_memory("unet", 572.0), TypeError, "tile must be an int"),
        (lambda: estimate_memory("unet", 572, batch_size=0), ValueError, "batch_size=0"),
        (lambda: estimate_memory("unet", 572, bytes_per_value=3), ValueError, "bytes_per_value=3"),
        (lambda: estimate_memory("unet", 572, train="yes"), TypeError, "train must be True or False"),
        (lambda: estimate_memory("fusionnet", 256, skip="max"), ValueError, "skip='max'"),
        (lambda: unet_memory(572, dropout=1.0), ValueError, "dropout"),
    ],
)
def test_bad_input_names_the_argument(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
