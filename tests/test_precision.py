"""unet_core.inference.precision: the measured choice of numerics (precision="auto")."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import unet_core as uc
from unet_core.inference import precision as P


def test_cpu_has_bf16_follows_UNET_CPU_BF16_at_every_call_and_else_the_cpu_flags(monkeypatch):
    monkeypatch.delenv("UNET_CPU_BF16", raising=False)
    for flags in (False, True):  # unset: /proc/cpuinfo (read once per process) decides
        monkeypatch.setattr(P, "_cpuinfo_has_bf16", lambda flags=flags: flags)
        assert P.cpu_has_bf16() is flags
        for value, has in (("1", True), ("0", False), ("1", True)):  # set: the variable decides, at once
            monkeypatch.setenv("UNET_CPU_BF16", value)
            assert P.cpu_has_bf16() is has
        monkeypatch.delenv("UNET_CPU_BF16")
        assert P.cpu_has_bf16() is flags


def test_the_cpu_flags_are_read_from_cpuinfo(tmp_path):
    for i, (flags, has) in enumerate(
        (
            ("fpu avx2 avx512f", False),
            ("fpu avx512f avx512_bf16", True),
            ("fpu amx_bf16", True),
            ("fpu avx512_bf16x", False),
        )
    ):
        path = tmp_path / f"cpuinfo{i}"
        path.write_text(f"processor\t: 0\nmodel name\t: X avx512_bf16\nflags\t\t: {flags}\n")
        assert P._cpuinfo_has_bf16(str(path)) is has, flags
    assert P._cpuinfo_has_bf16(str(tmp_path / "missing")) is False  # no /proc (another OS): no units assumed


@pytest.mark.parametrize("value", ["yes", "no", "true", "", " 1", "2"])
def test_a_bad_UNET_CPU_BF16_is_a_clear_error(monkeypatch, value):
    monkeypatch.setenv("UNET_CPU_BF16", value)
    message = (
        rf"UNET_CPU_BF16={value!r} is not allowed: set it to '1' \(this CPU has bf16 units\) or '0' "
        r"\(it has none, bf16 is emulated\), or unset it to read /proc/cpuinfo"
    )
    with pytest.raises(ValueError, match=message):
        P.cpu_has_bf16()
    with pytest.raises(ValueError, match=message):
        P.candidates("cpu")


def test_candidates_offer_bf16_only_where_it_is_not_emulated(monkeypatch):
    monkeypatch.setenv("UNET_CPU_BF16", "0")
    assert [p.name for p in P.candidates("cpu")] == ["fp32", "fp32+channels_last"]
    monkeypatch.setenv("UNET_CPU_BF16", "1")
    assert [p.name for p in P.candidates("cpu")] == ["fp32", "fp32+channels_last", "bf16", "bf16+channels_last"]
    monkeypatch.setenv("UNET_CPU_BF16", "0")
    assert len(P.candidates("cuda")) == 4  # a GPU runs bf16 natively, whatever the CPU


def test_choose_precision_times_every_candidate_restores_the_model_and_caches(monkeypatch):
    monkeypatch.setattr(P, "_CACHE", {})
    torch.manual_seed(0)
    model = uc.UNet(base_channels=2, depth=2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    choice = P.choose_precision(model, "cpu", 44, train=True, repeats=1)
    assert set(choice.seconds) == {p.name for p in P.candidates("cpu")} == set(choice.agreement)
    assert choice.agreement["fp32"] == 1.0 and choice.agreement[choice.precision.name] >= P.MIN_AGREEMENT
    assert choice.seconds[choice.precision.name] == min(
        s for n, s in choice.seconds.items() if choice.agreement[n] >= P.MIN_AGREEMENT
    )
    assert model.training  # mode restored
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())  # no parameter changed
    assert all(p.grad is None for p in model.parameters())
    assert P.choose_precision(model, "cpu", 44, train=True, repeats=1) is choice  # measured once per process
    assert str(choice).startswith(f"precision='auto' chose {choice.precision.name}: fp32 ")


def test_the_cached_choice_follows_UNET_CPU_BF16(monkeypatch):
    monkeypatch.setattr(P, "_CACHE", {})
    model = uc.UNet(base_channels=2, depth=2)
    monkeypatch.setenv("UNET_CPU_BF16", "0")
    without = P.choose_precision(model, "cpu", 44, repeats=1)
    assert list(without.seconds) == ["fp32", "fp32+channels_last"]
    monkeypatch.setenv("UNET_CPU_BF16", "1")
    with_bf16 = P.choose_precision(model, "cpu", 44, repeats=1)  # not the choice cached without bf16
    assert list(with_bf16.seconds) == ["fp32", "fp32+channels_last", "bf16", "bf16+channels_last"]
    monkeypatch.setenv("UNET_CPU_BF16", "0")
    assert P.choose_precision(model, "cpu", 44, repeats=1) is without


def test_a_path_that_disagrees_with_fp32_is_never_chosen(monkeypatch):
    monkeypatch.setattr(P, "_CACHE", {})
    monkeypatch.setenv("UNET_CPU_BF16", "0")
    real_run = P._run

    def run(model, x, p, train):  # channels_last made "fast but wrong": it must be rejected
        out = real_run(model, x, p, train)
        return out.flip(1) if p.channels_last else out

    monkeypatch.setattr(P, "_run", run)
    choice = P.choose_precision(uc.UNet(base_channels=2, depth=2), "cpu", 44, repeats=1)
    assert choice.agreement["fp32+channels_last"] < P.MIN_AGREEMENT and choice.precision.name == "fp32"


def test_resolve_precision_and_its_errors(monkeypatch):
    model = uc.UNet(base_channels=2, depth=2)
    assert P.resolve_precision(None, model, "cpu", 44) == (P.PRECISIONS["fp32"], None)
    assert P.resolve_precision("fp32+channels_last", model, "cpu", 44)[0].channels_last
    with pytest.raises(
        ValueError,
        match=r"precision='fp16' must be 'auto' or one of \('fp32', "
        r"'fp32\+channels_last', 'bf16', 'bf16\+channels_last'\)",
    ):
        P.resolve_precision("fp16", model, "cpu", 44)
    with pytest.raises(ValueError, match="input_size must be a positive int, got 0"):
        P.choose_precision(model, "cpu", 0)


def test_bf16_on_a_cpu_without_bf16_units_warns_with_the_measured_factor(monkeypatch):
    monkeypatch.setenv("UNET_CPU_BF16", "0")
    monkeypatch.setattr(P, "_FACTOR", {"cpu": 34.0})
    with pytest.warns(
        RuntimeWarning,
        match=r"^dtype=torch.bfloat16 on this CPU \(UNET_CPU_BF16=0: no bf16 units\): "
        r"bf16 is emulated and measured 34\.0x slower than fp32 here; use "
        r"precision='auto' \(or fp32\) instead$",
    ):
        assert P.warn_if_slow(torch.bfloat16, "cpu") == 34.0
    monkeypatch.setattr(P, "_FACTOR", {"cpu": 0.5})  # the variable says "no units" where bf16 is fast after all
    with pytest.warns(RuntimeWarning, match=r"emulated and measured at 0\.50x the time of fp32 here; use"):
        assert P.warn_if_slow(torch.bfloat16, "cpu") == 0.5
    monkeypatch.setattr(P, "_FACTOR", {})
    with pytest.warns(RuntimeWarning, match=r"emulated and much slower than fp32; use"):
        assert P.warn_if_slow(torch.bfloat16, "cpu", measure=False) is None
    monkeypatch.delenv("UNET_CPU_BF16")
    monkeypatch.setattr(P, "_cpuinfo_has_bf16", lambda: False)
    monkeypatch.setattr(P, "_FACTOR", {"cpu": 3.9})
    with pytest.warns(
        RuntimeWarning,
        match=r"^dtype=torch.bfloat16 on this CPU \(no avx512_bf16/amx_bf16 units\): "
        r"bf16 is emulated and measured 3\.9x slower",
    ):
        P.warn_if_slow(torch.bfloat16, "cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert P.warn_if_slow(None, "cpu") is None and P.warn_if_slow(torch.bfloat16, "cuda") is None
        monkeypatch.setenv("UNET_CPU_BF16", "1")
        assert P.warn_if_slow(torch.bfloat16, "cpu") is None


def test_the_factor_is_measured_once_where_bf16_is_emulated(monkeypatch):
    monkeypatch.setenv("UNET_CPU_BF16", "0")
    monkeypatch.setattr(P, "_FACTOR", {})
    with pytest.warns(RuntimeWarning, match=r"bf16 is emulated and measured"):
        factor = P.warn_if_slow(torch.bfloat16, "cpu")
    assert factor > 0 and P._FACTOR == {"cpu": factor}
    with pytest.warns(RuntimeWarning, match=r"bf16 is emulated and measured"):
        assert P.warn_if_slow(torch.bfloat16, "cpu") == factor  # not measured again


def _bf16_calls():
    """Each public way of asking for bf16 on the CPU, as a call of this file."""
    model = uc.UNet(base_channels=2, depth=2)
    image = np.random.default_rng(0).random((30, 30)).astype(np.float32)
    data = [(torch.randn(1, 44, 44), torch.zeros(28, 28, dtype=torch.int64), torch.ones(28, 28))]
    return {
        "predict_tiled(precision='bf16+channels_last')": lambda: uc.predict_tiled(
            model, image, precision="bf16+channels_last", device="cpu"
        ),
        "predict_tiled(precision='bf16')": lambda: uc.predict_tiled(model, image, precision="bf16", device="cpu"),
        "train(precision='bf16')": lambda: uc.train(
            model, data, uc.TrainConfig(iterations=1, device="cpu", precision="bf16"), progress=False
        ),
        "train(precision='bf16+channels_last')": lambda: uc.train(
            model, data, uc.TrainConfig(iterations=1, device="cpu", precision="bf16+channels_last"), progress=False
        ),
    }


@pytest.mark.parametrize("units", ["0", "1"])
def test_named_bf16_warns_exactly_where_bf16_is_emulated(monkeypatch, bf16_warning, units):
    monkeypatch.setenv("UNET_CPU_BF16", units)
    monkeypatch.setattr(P, "_FACTOR", {"cpu": 3.9})
    for call in _bf16_calls().values():
        with bf16_warning():
            call()
    with warnings.catch_warnings():  # fp32 never warns
        warnings.simplefilter("error", RuntimeWarning)
        uc.predict_tiled(uc.UNet(base_channels=2, depth=2), np.zeros((30, 30), np.float32), precision="fp32")


def test_the_emulated_bf16_warning_names_the_callers_line(monkeypatch):
    monkeypatch.setenv("UNET_CPU_BF16", "0")
    monkeypatch.setattr(P, "_FACTOR", {"cpu": 3.9})
    for name, call in _bf16_calls().items():
        with pytest.warns(RuntimeWarning, match=r"bf16 is emulated") as record:
            call()
        assert [Path(w.filename).name for w in record if "bf16 is emulated" in str(w.message)] == [
            "test_precision.py"
        ], name


def test_predict_tiled_and_train_take_precision_auto(monkeypatch, capsys):
    monkeypatch.setattr(P, "_CACHE", {})
    torch.manual_seed(0)
    model = uc.UNet(base_channels=2, depth=2)
    image = np.random.default_rng(0).random((60, 70)).astype(np.float32)
    fp32 = uc.predict_tiled(model, image)
    auto = uc.predict_tiled(model, image, precision="auto", progress=True)
    assert auto.shape == fp32.shape == (2, 60, 70)
    assert (auto.argmax(0) == fp32.argmax(0)).mean() >= P.MIN_AGREEMENT
    assert "precision='auto' chose" in capsys.readouterr().out
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'dtype'"):  # precision is the one way
        uc.predict_tiled(model, image, precision="auto", dtype=torch.bfloat16)
    data = [(torch.randn(1, 44, 44), torch.zeros(28, 28, dtype=torch.int64), torch.ones(28, 28))]
    result = uc.train(model, data, uc.TrainConfig(iterations=2, device="cpu", precision="auto"), progress=False)
    assert result.step == 2 and all(np.isfinite(result.losses))
    with pytest.raises(ValueError, match=r"TrainConfig.precision must be None, 'auto' or one of \('fp32', "):
        uc.TrainConfig(precision="half")


def test_predict_tiled_honours_a_named_precision_for_any_callable_and_needs_a_module_for_auto(bf16_warning):
    seen = []

    class Pointwise:  # a callable model (no parameters): logits = (x, -x)
        in_channels, num_classes, border, stride = 1, 2, 0, 1

        def output_size(self, n):
            return n

        def input_size_for_output(self, n):
            return n

        def __call__(self, x):
            seen.append(torch.is_autocast_enabled("cpu"))
            return torch.cat([x, -x], 1)

    image = np.random.default_rng(0).random((20, 30)).astype(np.float32)
    plain = uc.predict_tiled(Pointwise(), image, margin=0)
    assert not any(seen)
    with bf16_warning():  # warns where bf16 is emulated (UNET_CPU_BF16=0 or no bf16 units), not elsewhere
        named = uc.predict_tiled(Pointwise(), image, margin=0, precision="bf16", device="cpu")
    assert np.allclose(named, plain, atol=1e-6) and seen[-1]  # the named precision reached the callable
    with pytest.raises(TypeError, match=r"precision='auto' times the model's parameters and needs an nn.Module"):
        uc.predict_tiled(Pointwise(), image, margin=0, precision="auto")
