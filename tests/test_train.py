"""Tests of the Sec. 3 training loop and checkpoints (unet_core.training.loop, unet_core.training.checkpoint)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from unet_core.training.checkpoint import load_checkpoint, save_checkpoint
from unet_core.training.loop import TrainConfig, TrainResult, learning_rate_at, train


class TinyNet(nn.Module):
    """Valid 3x3 conv, dropout, 1x1 conv: (B, 1, H, W) -> (B, 2, H-2, W-2), with a ``config`` like UNet."""

    def __init__(self, width: int = 4, dropout: float = 0.5) -> None:
        super().__init__()
        self.config = {"width": width, "dropout": dropout}
        self.body = nn.Sequential(nn.Conv2d(1, width, 3), nn.ReLU(), nn.Dropout2d(dropout), nn.Conv2d(width, 2, 1))

    def forward(self, x):
        return self.body(x)


class Triples(torch.utils.data.Dataset):
    """Deterministic random (image (1, 12, 12), label (10, 10), weight (10, 10)); label = image > 0 inside."""

    def __init__(self, n: int = 5, seed: int = 0) -> None:
        self.n, self.seed = n, seed
        self.seen: list[int] = []

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i):
        self.seen.append(i)
        rng = np.random.default_rng([self.seed, i])
        image = rng.normal(size=(1, 12, 12)).astype(np.float32)
        label = (image[0, 1:-1, 1:-1] > 0).astype(np.int64)
        weight = rng.uniform(0.5, 2.0, size=(10, 10)).astype(np.float32)
        return image, label, weight


def _net(seed: int = 0) -> TinyNet:
    torch.manual_seed(seed)
    return TinyNet()


def _cfg(**kw) -> TrainConfig:
    return TrainConfig(**{"iterations": 6, "device": "cpu", "learning_rate": 0.05, **kw})


def _same_weights(a: nn.Module, b: nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_defaults_follow_the_paper():
    cfg = TrainConfig()
    assert (cfg.momentum, cfg.batch_size, cfg.learning_rate) == (0.99, 1, 0.001)


def test_loss_decreases_and_result_shape():
    model = _net()
    result = train(model, Triples(), _cfg(iterations=40, momentum=0.9), progress=False)
    assert isinstance(result, TrainResult) and result.step == 40 and len(result.losses) == 40
    assert np.mean(result.losses[-5:]) < 0.8 * np.mean(result.losses[:5])
    assert not model.training  # left in eval mode


def test_same_seed_same_weights_other_seed_other_weights():
    a, b, c = _net(), _net(), _net()
    ra = train(a, Triples(), _cfg(), progress=False)
    rb = train(b, Triples(), _cfg(), progress=False)
    train(c, Triples(), _cfg(seed=1), progress=False)  # other dropout masks
    assert _same_weights(a, b) and ra.losses == rb.losses
    assert not _same_weights(a, c)


def test_resume_is_bit_identical(tmp_path):
    straight = _net()
    full = train(
        straight, Triples(), _cfg(iterations=6, checkpoint_every=2), checkpoint_path=tmp_path / "a.pt", progress=False
    )
    ckpt = tmp_path / "b.pt"
    first = train(_net(), Triples(), _cfg(iterations=3), checkpoint_path=ckpt, progress=False)
    assert first.step == 3 and load_checkpoint(ckpt)["step"] == 3
    resumed_model = _net(seed=123)  # other initial weights: all must come from the checkpoint
    resumed = train(resumed_model, Triples(), _cfg(iterations=6), checkpoint_path=ckpt, progress=False)
    assert resumed.step == 6 and resumed.losses == full.losses
    assert _same_weights(straight, resumed_model)
    assert load_checkpoint(ckpt)["history"]["losses"] == full.losses
    assert not list(tmp_path.glob("*.part"))  # atomic writes leave no temporary files


def test_training_seconds_add_up_over_resumes_and_a_finished_run_keeps_them(tmp_path):
    ckpt = tmp_path / "s.pt"
    first = train(_net(), Triples(), _cfg(iterations=2), checkpoint_path=ckpt, progress=False)
    assert first.seconds > 0 and load_checkpoint(ckpt)["history"]["seconds"] == first.seconds
    more = train(_net(), Triples(), _cfg(iterations=4), checkpoint_path=ckpt, progress=False)
    assert more.seconds > first.seconds and load_checkpoint(ckpt)["history"]["seconds"] == more.seconds
    loaded = train(_net(), Triples(), _cfg(iterations=4), checkpoint_path=ckpt, progress=False)  # nothing to do
    assert loaded.step == 4 and loaded.seconds == more.seconds


def test_resume_false_restarts_and_finished_run_is_a_no_op(tmp_path):
    ckpt = tmp_path / "c.pt"
    train(_net(), Triples(), _cfg(iterations=2), checkpoint_path=ckpt, progress=False)
    again = train(_net(), Triples(), _cfg(iterations=2), checkpoint_path=ckpt, progress=False)
    assert again.step == 2 and len(again.losses) == 2
    fresh = train(_net(), Triples(), _cfg(iterations=1), checkpoint_path=ckpt, resume=False, progress=False)
    assert fresh.step == 1 and load_checkpoint(ckpt)["step"] == 1


def test_step_k_reads_consecutive_items_modulo_length(tmp_path):
    data = Triples(n=5)
    train(_net(), data, _cfg(iterations=3, batch_size=2), checkpoint_path=tmp_path / "d.pt", progress=False)
    assert data.seen == [0, 1, 2, 3, 4, 0]
    data.seen.clear()
    train(_net(), data, _cfg(iterations=4, batch_size=2), checkpoint_path=tmp_path / "d.pt", progress=False)
    assert data.seen == [1, 2]  # step 3 only


def test_validation_hook_schedule_and_no_effect_on_training():
    calls = []

    def validate(model, step):
        calls.append((step, model.training, torch.is_grad_enabled()))
        torch.rand(100)  # consumes RNG: must not change training
        return {"score": torch.tensor(step * 0.5), "name": "x"}

    a, b = _net(), _net()
    result = train(a, Triples(), _cfg(iterations=5, val_every=2), validate=validate, progress=False)
    train(b, Triples(), _cfg(iterations=5), progress=False)
    assert [c[0] for c in calls] == [2, 4, 5] and not any(c[1] or c[2] for c in calls)
    assert result.validation == [
        {"step": 2, "score": 1.0, "name": "x"},
        {"step": 4, "score": 2.0, "name": "x"},
        {"step": 5, "score": 2.5, "name": "x"},
    ]
    assert _same_weights(a, b)


def test_validation_must_return_plain_values():
    with pytest.raises(TypeError, match=r"validate\(\) must return a dict of numbers or strings, got 'map'"):
        train(_net(), Triples(), _cfg(iterations=1), validate=lambda m, s: {"map": np.zeros(3)}, progress=False)


def test_checkpoint_contents_load_with_weights_only(tmp_path):
    model = _net()
    train(model, Triples(), _cfg(iterations=2), checkpoint_path=tmp_path / "e.pt", progress=False)
    ckpt = torch.load(tmp_path / "e.pt", weights_only=True)
    assert ckpt["format"] == "unet_core.checkpoint" and ckpt["step"] == 2
    assert ckpt["model_config"] == {"width": 4, "dropout": 0.5}
    assert ckpt["train_config"]["momentum"] == 0.99 and ckpt["train_config"]["iterations"] == 2
    assert ckpt["optimizer_state"]["param_groups"][0]["momentum"] == 0.99
    assert len(ckpt["history"]["losses"]) == 2


def test_loading_into_other_configuration_names_fields(tmp_path):
    save_checkpoint(tmp_path / "f.pt", TinyNet(width=4), step=1)
    with pytest.raises(
        ValueError,
        match=r"width: checkpoint 4 vs model 8.*build the model with UNet\(width=4, "
        r"dropout=0.5\) or use model_from_checkpoint",
    ):
        load_checkpoint(tmp_path / "f.pt", TinyNet(width=8))


def test_load_checkpoint_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="is not a readable unet_core checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save({"weights": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="is not a unet_core checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_resume_with_changed_seed_warns(tmp_path):
    train(_net(), Triples(), _cfg(iterations=1), checkpoint_path=tmp_path / "g.pt", progress=False)
    with pytest.warns(UserWarning, match="with changed seed"):
        train(_net(), Triples(), _cfg(iterations=2, seed=5), checkpoint_path=tmp_path / "g.pt", progress=False)


def test_nan_loss_raises():
    class Bad(Triples):
        def __getitem__(self, i):
            image, label, weight = super().__getitem__(i)
            return image * np.nan, label, weight

    with pytest.raises(FloatingPointError, match=r"the loss became nan at step 0; lower learning_rate"):
        train(_net(), Bad(), _cfg(iterations=1), progress=False)


def test_amp_channels_last_and_pairs_run_on_cpu(bf16_warning):
    pairs = [(torch.randn(1, 12, 12), torch.zeros(10, 10, dtype=torch.uint8))]  # no weight, uint8 labels
    with bf16_warning():  # bf16 autocast: warns where bf16 is emulated, not elsewhere
        result = train(_net(), pairs, _cfg(iterations=2, precision="bf16+channels_last"), progress=False)
    assert result.step == 2 and all(np.isfinite(result.losses))


def test_empty_dataset():
    with pytest.raises(ValueError, match="dataset is empty"):
        train(_net(), [], _cfg(), progress=False)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"learning_rate": 0}, ValueError, r"learning_rate must be > 0, got 0"),
        ({"learning_rate": "0.1"}, TypeError, r"learning_rate must be a finite number"),
        ({"momentum": 1.0}, ValueError, r"momentum must lie in \[0, 1\), got 1.0; the paper uses 0.99"),
        ({"weight_decay": -1e-4}, ValueError, r"weight_decay must be >= 0"),
        ({"batch_size": 0}, ValueError, r"batch_size must be >= 1, got 0"),
        ({"iterations": 2.5}, TypeError, r"iterations must be an int, got 2.5"),
        ({"val_every": -1}, ValueError, r"val_every must be >= 0"),
        (
            {"precision": "fp16"},
            ValueError,
            r"precision must be None, 'auto' or one of \('fp32', .*got 'fp16'; None "
            r"is bf16 autocast on CUDA and fp32 elsewhere",
        ),
        ({"amp": True}, TypeError, r"TrainConfig.amp was removed: .* use precision='bf16' for amp=True"),
        (
            {"channels_last": True, "amp": False},
            TypeError,
            r"TrainConfig.amp was removed: .*precision='fp32\+channels_last' for amp=False, channels_last=True",
        ),
        ({"device": None}, TypeError, r"device must be a string"),
        ({"optimizer": "rmsprop"}, ValueError, r"optimizer must be one of \('sgd', 'adam', 'adamw'\), got 'rmsprop'"),
        ({"schedule": "step"}, ValueError, r"schedule must be one of \('constant', 'cosine', 'poly'\)"),
        ({"loss_reduction": "avg"}, ValueError, r"loss_reduction must be one of \('mean', 'sum'\)"),
        ({"warmup_steps": -1}, ValueError, r"warmup_steps must be an int >= 0, got -1"),
        ({"grad_clip": -1.0}, ValueError, r"grad_clip must be >= 0 \(0 disables clipping\), got -1.0"),
        ({"grad_clip": float("nan")}, TypeError, r"grad_clip must be a finite number"),
        ({"min_lr_factor": 2.0}, ValueError, r"min_lr_factor must lie in \[0, 1\], got 2.0"),
        ({"poly_power": 0.0}, ValueError, r"poly_power must be > 0, got 0.0; nnU-Net uses 0.9"),
        ({"betas": (0.9, 1.0)}, ValueError, r"betas must be two numbers in \[0, 1\), got"),
    ],
)
def test_config_validation(kwargs, error, match):
    with pytest.raises(error, match=match):
        TrainConfig(**kwargs)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_bad_device_is_a_clear_error():
    with pytest.raises(ValueError, match="device='cuda:7' was requested but CUDA is not available"):
        train(_net(), Triples(), _cfg(device="cuda:7"), progress=False)


def test_save_checkpoint_is_atomic_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "h.pt"
    save_checkpoint(path, _net(), step=1)
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, _net(), step=2)
    assert path.read_bytes() == before and sorted(p.name for p in Path(tmp_path).iterdir()) == ["h.pt"]


def test_model_from_checkpoint_rebuilds_unet(tmp_path):
    from unet_core.models.unet import UNet
    from unet_core.training.checkpoint import model_from_checkpoint

    torch.manual_seed(0)
    net = UNet(base_channels=2, depth=2, dropout=0.0)
    save_checkpoint(tmp_path / "u.pt", net, step=0)
    rebuilt = model_from_checkpoint(tmp_path / "u.pt")
    assert isinstance(rebuilt, UNet) and rebuilt.config == net.config and not rebuilt.training
    assert _same_weights(net, rebuilt)
    with pytest.raises(ValueError, match=r"base_channels: checkpoint 2 vs model 4.*UNet\(in_channels=1, "):
        load_checkpoint(tmp_path / "u.pt", UNet(base_channels=4, depth=2))
    save_checkpoint(tmp_path / "plain.pt", nn.Conv2d(1, 2, 1))
    with pytest.raises(ValueError, match="stores no model configuration"):
        model_from_checkpoint(tmp_path / "plain.pt")


# --------------------------------------------------------------------------- optimisers, schedules (issue 10)
def test_learning_rate_schedules_by_hand():
    cos = TrainConfig(learning_rate=2.0, schedule="cosine", warmup_steps=4, iterations=14, min_lr_factor=0.25)
    assert [learning_rate_at(cos, k) for k in range(4)] == [0.5, 1.0, 1.5, 2.0]  # linear warm-up from lr / W
    assert learning_rate_at(cos, 4) == 2.0 and learning_rate_at(cos, 14) == 0.5 == learning_rate_at(cos, 99)
    assert learning_rate_at(cos, 9) == pytest.approx(0.5 + 1.5 * 0.5)  # half-way: mean of lr and floor
    poly = TrainConfig(learning_rate=1.0, schedule="poly", iterations=10, poly_power=2.0)
    assert [learning_rate_at(poly, k) for k in (0, 5, 10)] == [1.0, 0.25, 0.0]
    const = TrainConfig(learning_rate=0.3, warmup_steps=3, iterations=10)
    assert [learning_rate_at(const, k) for k in (0, 2, 3, 9)] == [pytest.approx(0.1), pytest.approx(0.3), 0.3, 0.3]


def test_schedule_is_applied_to_the_optimizer(monkeypatch):
    seen = []
    original = torch.optim.Adam.step

    def spy(self, *args, **kwargs):
        seen.append(self.param_groups[0]["lr"])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    cfg = _cfg(optimizer="adam", learning_rate=0.01, schedule="cosine", warmup_steps=2, iterations=6)
    train(_net(), Triples(), cfg, progress=False)
    assert seen == pytest.approx([learning_rate_at(cfg, k) for k in range(6)])
    assert seen[0] == 0.005 and seen[-1] < seen[2]


@pytest.mark.parametrize(
    "name, cls", [("sgd", torch.optim.SGD), ("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW)]
)
def test_optimizer_choice_and_its_state_in_the_checkpoint(tmp_path, name, cls, monkeypatch):
    made = []
    original = cls.__init__

    def spy(self, *args, **kwargs):
        made.append(type(self))
        original(self, *args, **kwargs)

    monkeypatch.setattr(cls, "__init__", spy)
    train(_net(), Triples(), _cfg(optimizer=name, iterations=2), checkpoint_path=tmp_path / "o.pt", progress=False)
    assert made == [cls]
    ckpt = load_checkpoint(tmp_path / "o.pt")
    state = ckpt["optimizer_state"]["state"][0]
    assert ("exp_avg_sq" in state) == (name != "sgd") and ("momentum_buffer" in state) == (name == "sgd")
    assert ckpt["scheduler_state"] == {"schedule": "constant", "step": 2, "learning_rate": 0.05}


def test_resume_with_adam_cosine_and_clipping_is_bit_identical(tmp_path):
    kw = dict(
        optimizer="adam",
        learning_rate=0.01,
        schedule="cosine",
        warmup_steps=2,
        grad_clip=0.5,
        iterations=7,
        val_every=1,
        checkpoint_every=3,
    )
    straight = _net()
    full = train(straight, Triples(), _cfg(**kw), validate=lambda m, k: {}, progress=False)

    class Stop(Exception):
        pass

    def stop_at_4(model, step):  # called after step 4, when the step-3 checkpoint has been written
        if step == 4:
            raise Stop
        return {}

    ckpt = tmp_path / "cut.pt"
    with pytest.raises(Stop):
        train(_net(), Triples(), _cfg(**kw), validate=stop_at_4, checkpoint_path=ckpt, progress=False)
    saved = load_checkpoint(ckpt)
    assert saved["step"] == 3 and saved["scheduler_state"]["learning_rate"] == learning_rate_at(_cfg(**kw), 3)
    resumed = _net(seed=9)  # other initial weights: everything must come from the checkpoint
    again = train(resumed, Triples(), _cfg(**kw), validate=lambda m, k: {}, checkpoint_path=ckpt, progress=False)
    assert again.losses == full.losses and _same_weights(straight, resumed)
    with pytest.warns(UserWarning, match="changed iterations"):  # a cosine over other iterations is another run
        train(_net(), Triples(), _cfg(**{**kw, "iterations": 9}), checkpoint_path=ckpt, progress=False)
    with pytest.raises(ValueError, match="was trained with optimizer='adam', the config asks for 'sgd'"):
        train(_net(), Triples(), _cfg(**{**kw, "optimizer": "sgd"}), checkpoint_path=ckpt, progress=False)


def test_clipping_bounds_the_update():
    lr = 1.0
    a, b = _net(), _net()
    w0 = [p.detach().clone() for p in a.parameters()]
    cfg = _cfg(optimizer="sgd", momentum=0.0, learning_rate=lr, iterations=1, grad_clip=1e-3)
    train(a, Triples(), cfg, progress=False)
    step = torch.sqrt(sum(((p.detach() - q) ** 2).sum() for p, q in zip(a.parameters(), w0)))
    assert step == pytest.approx(1e-3, rel=1e-4)  # plain SGD moves by lr * clipped norm
    train(b, Triples(), _cfg(optimizer="sgd", momentum=0.0, learning_rate=lr, iterations=1), progress=False)
    free = torch.sqrt(sum(((p.detach() - q) ** 2).sum() for p, q in zip(b.parameters(), w0)))
    assert free > 10 * step


def test_sum_reduction_scales_sgd_steps_by_pixels_but_not_adam():
    n_pixels = 10 * 10  # one (10, 10) output tile per step
    runs = {}
    for opt in ("sgd", "adam"):
        for red, lr in (("mean", 0.01), ("sum", 0.01 / n_pixels)):
            model = _net()
            cfg = _cfg(
                optimizer=opt,
                momentum=0.9,
                learning_rate=lr if opt == "sgd" else 0.01,
                iterations=3,
                loss_reduction=red,
            )
            runs[opt, red] = (train(model, Triples(), cfg, progress=False), model)
    sgd_mean, sgd_sum = runs["sgd", "mean"], runs["sgd", "sum"]
    # SGD: sum with lr / N takes the same steps as mean with lr; the losses differ by the factor N
    assert np.allclose(np.array(sgd_sum[0].losses) / n_pixels, sgd_mean[0].losses, rtol=1e-4)
    assert all(torch.allclose(x, y, atol=1e-6) for x, y in zip(sgd_sum[1].parameters(), sgd_mean[1].parameters()))
    # Adam normalises the gradient scale away (up to eps): same lr, same steps
    adam_mean, adam_sum = runs["adam", "mean"], runs["adam", "sum"]
    assert all(torch.allclose(x, y, atol=1e-5) for x, y in zip(adam_sum[1].parameters(), adam_mean[1].parameters()))


@pytest.mark.slow
@pytest.mark.parametrize("optimizer, lr, bound", [("adam", 3e-3, 0.02), ("adamw", 3e-3, 0.02), ("sgd", 1e-2, 0.2)])
def test_a_small_unet_overfits_one_synthetic_tile(optimizer, lr, bound):
    """One synthetic EM tile, no augmentation, 150 steps (warm-up 10, cosine, clip 1), Eq. 2 border term.

    Measured (2026-12-01, 1 thread): Adam 3e-3 reaches a mean loss of 0.000 over the last 10 steps,
    SGD (momentum 0.99) 1e-2 0.104 (from 1.54): the paper's optimiser is far slower to fit.
    """
    from unet_core import TrainingTiles, UNet, synthetic_em

    image, labels, _ = synthetic_em((160, 160), seed=0)
    torch.manual_seed(0)
    model = UNet(base_channels=8, depth=3, dropout=0.0)
    tiles = TrainingTiles(
        [image],
        [labels],
        in_size=124,
        out_size=model.output_size(124),
        augment=False,
        semantic=True,
        class_weights=None,
        length=1,
    )
    cfg = TrainConfig(
        optimizer=optimizer,
        learning_rate=lr,
        iterations=150,
        device="cpu",
        schedule="cosine",
        warmup_steps=10,
        grad_clip=1.0,
    )
    losses = train(model, tiles, cfg, progress=False).losses
    assert np.mean(losses[:10]) > 1.0 and np.mean(losses[-10:]) < bound


# --------------------------------------------------------------------------- dropout seeds, precision, provenance
class SeedProbe(TinyNet):
    """TinyNet that records the seed torch was last seeded with at every training forward pass."""

    def __init__(self) -> None:
        super().__init__()
        self.seeds: list[int] = []

    def forward(self, x):
        if self.training:
            self.seeds.append(torch.initial_seed())
        return super().forward(x)


def test_a_single_process_reseeds_dropout_with_seed_plus_step(tmp_path):
    torch.manual_seed(0)
    probe = SeedProbe()
    train(probe, Triples(), _cfg(iterations=4, seed=11), progress=False)
    assert probe.seeds == [11, 12, 13, 14]


class WideNet(TinyNet):
    """1x1 conv to 4 channels, dropout, 3x3 conv: the last weight (2, 4, 3, 3) shows the memory format."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 4, 1), nn.ReLU(), nn.Dropout2d(0.5), nn.Conv2d(4, 2, 3))


def _wide() -> WideNet:
    torch.manual_seed(0)
    return WideNet()


def _chooser(answer: str, calls: list):
    """A stand-in for precision.choose_precision that answers ``answer`` and records its calls."""
    from unet_core.inference.precision import PRECISIONS, Choice

    def choose(model, device, input_size, **kwargs):
        calls.append(input_size)
        return Choice(PRECISIONS[answer], {answer: 1.0}, {answer: 1.0})

    return choose


def test_precision_auto_is_stored_in_the_checkpoint_and_reused_on_resume(tmp_path, monkeypatch):
    import unet_core.inference.precision as P

    calls: list = []
    monkeypatch.setattr(P, "choose_precision", _chooser("fp32+channels_last", calls))
    straight = _wide()
    full = train(straight, Triples(), _cfg(iterations=6, precision="auto"), progress=False)
    assert calls == [12] and straight.body[3].weight.is_contiguous(memory_format=torch.channels_last)
    ckpt = tmp_path / "auto.pt"
    train(_wide(), Triples(), _cfg(iterations=3, precision="auto"), checkpoint_path=ckpt, progress=False)
    assert load_checkpoint(ckpt)["train_config"]["resolved_precision"] == {
        "name": "fp32+channels_last",
        "device": "cpu",
    }
    calls.clear()
    monkeypatch.setattr(P, "choose_precision", _chooser("fp32", calls))  # timing noise would now pick fp32
    resumed = _wide()
    again = train(resumed, Triples(), _cfg(iterations=6, precision="auto"), checkpoint_path=ckpt, progress=False)
    assert calls == []  # not measured again
    assert resumed.body[3].weight.is_contiguous(memory_format=torch.channels_last)  # the stored path
    assert again.losses == full.losses and _same_weights(straight, resumed)
    assert load_checkpoint(ckpt)["train_config"]["resolved_precision"]["name"] == "fp32+channels_last"
    # another device type (here: a checkpoint that says cuda) is measured again
    saved = torch.load(ckpt, weights_only=True)
    saved["train_config"]["resolved_precision"]["device"] = "cuda"
    torch.save(saved, ckpt)
    train(_wide(), Triples(), _cfg(iterations=7, precision="auto"), checkpoint_path=ckpt, progress=False)
    assert calls == [12]


def test_a_run_without_precision_records_the_path_it_took(tmp_path):
    train(
        _wide(),
        Triples(),
        _cfg(iterations=1, precision="fp32+channels_last"),
        checkpoint_path=tmp_path / "n.pt",
        progress=False,
    )
    assert load_checkpoint(tmp_path / "n.pt")["train_config"]["resolved_precision"] == {
        "name": "fp32+channels_last",
        "device": "cpu",
    }


DATA = {"dataset": "phc-u373", "truth": "gt", "train_frames": ["02/010", "02/011"]}


def test_training_data_is_written_to_every_checkpoint_and_returned_by_load(tmp_path):
    ckpt = tmp_path / "t.pt"
    seen = []

    def validate(model, step):  # after step 3, before its checkpoint: reads the one of step 2
        seen.append(load_checkpoint(ckpt)["training_data"])
        return {}

    frames = ("02/010", np.str_("02/011"))  # plain values are stored (a tuple compares equal to a list)
    train(
        _net(),
        Triples(),
        _cfg(iterations=3, checkpoint_every=2),
        validate=validate,
        checkpoint_path=ckpt,
        progress=False,
        training_data={**DATA, "train_frames": frames},
    )
    assert seen == [{**DATA, "train_frames": ("02/010", "02/011")}]
    stored = load_checkpoint(ckpt)["training_data"]
    assert stored["train_frames"] == ("02/010", "02/011") and type(stored["train_frames"][1]) is str
    assert torch.load(ckpt, weights_only=True)["training_data"] == stored
    # resuming with the same description (lists or tuples), or none, goes on and keeps it
    train(_net(), Triples(), _cfg(iterations=4), checkpoint_path=ckpt, progress=False, training_data=DATA)
    train(_net(), Triples(), _cfg(iterations=5), checkpoint_path=ckpt, progress=False)
    assert load_checkpoint(ckpt)["step"] == 5 and _as_lists(load_checkpoint(ckpt)["training_data"]) == DATA


def _as_lists(d: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def test_resuming_a_checkpoint_of_other_training_data_is_refused(tmp_path):
    ckpt = tmp_path / "r.pt"
    train(_net(), Triples(), _cfg(iterations=2), checkpoint_path=ckpt, progress=False, training_data=DATA)
    other = {**DATA, "truth": "st", "train_frames": ["02/010"]}
    with pytest.raises(
        ValueError,
        match=r"checkpoint '.*r\.pt' was trained on other data than training_data "
        r"describes \(differing keys: 'train_frames': checkpoint \['02/010', "
        r"'02/011'\] vs given \['02/010'\]; 'truth': checkpoint 'gt' vs given "
        r"'st'\); pass resume=False .* or another checkpoint_path",
    ):
        train(_net(), Triples(), _cfg(iterations=4), checkpoint_path=ckpt, progress=False, training_data=other)
    with pytest.raises(ValueError, match=r"differing keys: 'extra': checkpoint None vs given 1"):
        train(
            _net(),
            Triples(),
            _cfg(iterations=2),
            checkpoint_path=ckpt,
            progress=False,
            training_data={**DATA, "extra": 1},
        )  # a finished run too: it was not trained on that data
    assert load_checkpoint(ckpt)["step"] == 2
    fresh = train(
        _net(), Triples(), _cfg(iterations=1), checkpoint_path=ckpt, resume=False, progress=False, training_data=other
    )
    assert fresh.step == 1 and _as_lists(load_checkpoint(ckpt)["training_data"]) == other


def test_older_checkpoints_have_no_training_data_and_accept_one(tmp_path):
    ckpt = tmp_path / "old.pt"
    train(_net(), Triples(), _cfg(iterations=1), checkpoint_path=ckpt, progress=False)
    assert load_checkpoint(ckpt)["training_data"] is None
    saved = torch.load(ckpt, weights_only=True)
    del saved["training_data"]  # as written before the key existed
    torch.save(saved, ckpt)
    assert load_checkpoint(ckpt)["training_data"] is None
    train(_net(), Triples(), _cfg(iterations=2), checkpoint_path=ckpt, progress=False, training_data=DATA)
    assert load_checkpoint(ckpt)["training_data"] == DATA


@pytest.mark.parametrize(
    "bad, error, match",
    [
        (["phc-u373"], TypeError, r"training_data must be a dict describing the training data .* got \['phc-u373'\]"),
        ({"frames": {1, 2}}, TypeError, r"training_data\['frames'\] holds \{1, 2\}, which a checkpoint cannot store"),
    ],
)
def test_training_data_must_be_a_dict_of_plain_values(tmp_path, bad, error, match):
    with pytest.raises(error, match=match):
        train(
            _net(), Triples(), _cfg(iterations=1), checkpoint_path=tmp_path / "x.pt", progress=False, training_data=bad
        )
    assert not (tmp_path / "x.pt").exists()


def test_validation_results_of_every_numpy_scalar_kind_are_stored_as_python_values(tmp_path):
    metrics = {
        "f64": np.float64(0.5),
        "f32": np.float32(0.25),
        "i": np.int64(3),
        "b": np.bool_(True),
        "s": np.str_("x"),
        "a": np.array(0.75),
        "t": torch.tensor([2.0]),
    }
    result = train(
        _net(),
        Triples(),
        _cfg(iterations=1),
        validate=lambda m, k: metrics,
        checkpoint_path=tmp_path / "v.pt",
        progress=False,
    )
    expected = {"step": 1, "f64": 0.5, "f32": 0.25, "i": 3, "b": True, "s": "x", "a": 0.75, "t": 2.0}
    assert result.validation == [expected] and load_checkpoint(tmp_path / "v.pt")["history"]["validation"] == [expected]
    assert [type(v) for v in result.validation[0].values()] == [int, float, float, int, bool, str, float, float]


# --------------------------------------------------------------------------- precision replaces amp / channels_last
@pytest.mark.parametrize(
    "legacy, precision",
    [({"amp": False, "channels_last": True}, "fp32+channels_last"), ({"amp": "auto", "channels_last": False}, None)],
)
def test_a_checkpoint_written_with_amp_and_channels_last_resumes_with_the_precision_they_meant(
    tmp_path, legacy, precision
):
    import warnings

    straight = _wide()
    full = train(straight, Triples(), _cfg(iterations=4, precision=precision), progress=False)
    ckpt = tmp_path / "legacy.pt"
    train(_wide(), Triples(), _cfg(iterations=2, precision=precision), checkpoint_path=ckpt, progress=False)
    saved = torch.load(ckpt, weights_only=True)
    saved["train_config"].update(legacy, precision=None)  # as written before precision replaced the two fields
    del saved["train_config"]["resolved_precision"]
    torch.save(saved, ckpt)
    resumed = _wide()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same numerics: no "changed precision"
        again = train(resumed, Triples(), _cfg(iterations=4, precision=precision), checkpoint_path=ckpt, progress=False)
    assert again.losses == full.losses and _same_weights(straight, resumed)
    assert (
        "amp" not in load_checkpoint(ckpt)["train_config"]
        and "channels_last" not in load_checkpoint(ckpt)["train_config"]
    )
    other = "bf16" if precision is None else None  # another numeric path than the checkpoint's
    saved["step"] = 2
    torch.save(saved, ckpt)
    with pytest.warns(UserWarning, match="with changed precision"):
        train(_wide(), Triples(), _cfg(iterations=3, precision=other), checkpoint_path=ckpt, progress=False)


def test_precision_none_is_fp32_on_the_cpu_and_compares_equal_to_it_on_resume(tmp_path):
    import warnings

    ckpt = tmp_path / "p.pt"
    train(_net(), Triples(), _cfg(iterations=1), checkpoint_path=ckpt, progress=False)
    assert load_checkpoint(ckpt)["train_config"]["resolved_precision"] == {"name": "fp32", "device": "cpu"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        train(_net(), Triples(), _cfg(iterations=2, precision="fp32"), checkpoint_path=ckpt, progress=False)


def test_a_label_outside_the_classes_is_named_without_checking_every_step():
    pairs = [(torch.randn(1, 12, 12), torch.full((10, 10), 2, dtype=torch.int64))]  # TinyNet has 2 classes
    with pytest.raises(
        ValueError,
        match=r"dataset labels must lie in \[0, 1\] for the network's 2 classes, but "
        r"step 0 has one outside .*check the label encoding",
    ):
        train(_net(), pairs, _cfg(iterations=1), progress=False)
