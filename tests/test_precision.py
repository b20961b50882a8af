"""unet_core.precision: the measured choice of numerics (precision="auto")."""
from __future__ import annotations

import warnings

import pytest
import torch

import unet_core as uc
from unet_core import precision as P


def test_candidates_offer_bf16_only_where_it_is_not_emulated(monkeypatch):
    monkeypatch.setattr(P, "cpu_has_bf16", lambda: False)
    assert [p.name for p in P.candidates("cpu")] == ["fp32", "fp32+channels_last"]
    monkeypatch.setattr(P, "cpu_has_bf16", lambda: True)
    assert [p.name for p in P.candidates("cpu")] == ["fp32", "fp32+channels_last", "bf16", "bf16+channels_last"]
    assert len(P.candidates("cuda")) == 4


def test_choose_precision_times_every_candidate_restores_the_model_and_caches(monkeypatch):
    monkeypatch.setattr(P, "_CACHE", {})
    torch.manual_seed(0)
    model = uc.UNet(base_channels=2, depth=2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    choice = P.choose_precision(model, "cpu", 44, train=True, repeats=1)
    assert set(choice.seconds) == {p.name for p in P.candidates("cpu")} == set(choice.agreement)
    assert choice.agreement["fp32"] == 1.0 and choice.agreement[choice.precision.name] >= P.MIN_AGREEMENT
    assert choice.seconds[choice.precision.name] == min(s for n, s in choice.seconds.items()
                                                        if choice.agreement[n] >= P.MIN_AGREEMENT)
    assert model.training  # mode restored
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())  # no parameter changed
    assert all(p.grad is None for p in model.parameters())
    assert P.choose_precision(model, "cpu", 44, train=True, repeats=1) is choice  # measured once per process
    assert str(choice).startswith(f"precision='auto' chose {choice.precision.name}: fp32 ")


def test_a_path_that_disagrees_with_fp32_is_never_chosen(monkeypatch):
    monkeypatch.setattr(P, "_CACHE", {})
    monkeypatch.setattr(P, "cpu_has_bf16", lambda: False)
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
    with pytest.raises(ValueError, match=r"precision='fp16' must be 'auto' or one of \('fp32', "
                                         r"'fp32\+channels_last', 'bf16', 'bf16\+channels_last'\)"):
        P.resolve_precision("fp16", model, "cpu", 44)
    with pytest.raises(ValueError, match="input_size must be a positive int, got 0"):
        P.choose_precision(model, "cpu", 0)


def test_bf16_on_a_cpu_without_bf16_units_warns_with_the_measured_factor(monkeypatch):
    monkeypatch.setattr(P, "cpu_has_bf16", lambda: False)
    monkeypatch.setattr(P, "_FACTOR", {"cpu": 34.0})
    with pytest.warns(RuntimeWarning, match=r"emulated and measured 34\.0x slower than fp32 here; use "
                                            r"precision='auto'"):
        assert P.warn_if_slow(torch.bfloat16, "cpu") == 34.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert P.warn_if_slow(None, "cpu") is None and P.warn_if_slow(torch.bfloat16, "cuda") is None
        monkeypatch.setattr(P, "cpu_has_bf16", lambda: True)
        assert P.warn_if_slow(torch.bfloat16, "cpu") is None


def test_predict_tiled_and_train_take_precision_auto(monkeypatch, capsys):
    import numpy as np

    monkeypatch.setattr(P, "_CACHE", {})
    torch.manual_seed(0)
    model = uc.UNet(base_channels=2, depth=2)
    image = np.random.default_rng(0).random((60, 70)).astype(np.float32)
    fp32 = uc.predict_tiled(model, image)
    auto = uc.predict_tiled(model, image, precision="auto", progress=True)
    assert auto.shape == fp32.shape == (2, 60, 70)
    assert (auto.argmax(0) == fp32.argmax(0)).mean() >= P.MIN_AGREEMENT
    assert "precision='auto' chose" in capsys.readouterr().out
    with pytest.raises(ValueError, match=r"precision='auto' chooses dtype and channels_last itself; leave "
                                         r"dtype=None"):
        uc.predict_tiled(model, image, precision="auto", dtype=torch.bfloat16)
    data = [(torch.randn(1, 44, 44), torch.zeros(28, 28, dtype=torch.int64), torch.ones(28, 28))]
    result = uc.train(model, data, uc.TrainConfig(iterations=2, device="cpu", precision="auto"), progress=False)
    assert result.step == 2 and all(np.isfinite(result.losses))
    with pytest.raises(ValueError, match=r"TrainConfig.precision must be None, 'auto' or one of \('fp32', "):
        uc.TrainConfig(precision="half")


def test_predict_tiled_honours_a_named_precision_for_any_callable_and_needs_a_module_for_auto():
    import numpy as np

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
    named = uc.predict_tiled(Pointwise(), image, margin=0, precision="bf16", device="cpu")
    assert np.allclose(named, plain, atol=1e-6) and seen[-1]  # the named precision reached the callable
    with pytest.raises(TypeError, match=r"precision='auto' times the model's parameters and needs an nn.Module"):
        uc.predict_tiled(Pointwise(), image, margin=0, precision="auto")
