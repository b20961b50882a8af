"""The training hot loop does not wait for the device: host synchronisations happen only where the loss is read.

On a GPU every read of a device value on the host (``.item()``, ``bool(t)``, ``int(t)``, ``.tolist()``,
``.cpu()``, ...) stalls the queue until the kernels before it have run. :func:`unet_core.train` keeps the
step's loss on the device and reads the losses (with the non-finite check) only on logging, validation and
checkpoint steps and after the last step. These tests count such reads on the CPU, where
``torch.cuda.set_sync_debug_mode`` has no equivalent: every Python-level method of ``torch.Tensor`` that
hands a value to the host is wrapped with a counter, and the counts are attributed to the training step
whose forward pass came last. (Reads inside torch's C++ code are not seen; the loop calls none that sync.)
"""

from __future__ import annotations

import collections
import traceback

import numpy as np
import pytest
import torch
from torch import nn

from unet_core.models.unet import UNet
from unet_core.training.loop import TrainConfig, train

# the Python-level ways a tensor's value reaches the host
SYNCS = ("item", "tolist", "__bool__", "__int__", "__float__", "__index__", "numpy", "cpu")


class Counter:
    """Host reads per training step: ``counts[k]`` is how many happened after step k's forward pass began."""

    def __init__(self) -> None:
        self.step = -1  # -1: before the first step (set-up)
        self.counts: collections.Counter = collections.Counter()
        self.where: dict[int, list[str]] = collections.defaultdict(list)

    def record(self, name: str) -> None:
        frame = traceback.extract_stack(limit=3)[0]  # the caller of the wrapped method
        if "torch/optim/" in frame.filename.replace("\\", "/"):
            return  # Adam's step counters are host tensors (state["step"] is on the CPU unless capturable)
        self.counts[self.step] += 1
        self.where[self.step].append(f"{name} at {frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}")


class Marked(nn.Module):
    """``body`` whose training forward passes mark the start of a step in ``counter``."""

    def __init__(self, body: nn.Module, counter: Counter) -> None:
        super().__init__()
        self.body, self.counter = body, counter
        self.config = getattr(body, "config", {})

    def forward(self, x):
        if self.training:
            self.counter.step += 1
        return self.body(x)


@pytest.fixture
def counter(monkeypatch) -> Counter:
    counter = Counter()
    for name in SYNCS:
        original = getattr(torch.Tensor, name)

        def counted(self, *args, _original=original, _name=name, **kwargs):
            counter.record(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counted)
    return counter


def _tiles(n: int, size: int, out: int) -> list:
    g = torch.Generator().manual_seed(0)
    return [
        (
            torch.randn(1, size, size, generator=g),
            torch.randint(0, 2, (out, out), generator=g),
            torch.rand(out, out, generator=g) + 0.5,
        )
        for _ in range(n)
    ]


def test_the_counter_sees_a_read():
    counter = Counter()
    counter.record("item")
    assert counter.counts == {-1: 1}


def test_only_logging_steps_read_the_loss(counter):
    torch.manual_seed(0)
    model = Marked(nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Dropout2d(0.5), nn.Conv2d(4, 2, 1)), counter)
    result = train(model, _tiles(3, 12, 10), TrainConfig(iterations=6, log_every=3, device="cpu"), progress=False)
    assert result.step == 6 and len(result.losses) == 6 and all(np.isfinite(result.losses))
    per_step = {k: counter.counts[k] for k in range(6)}
    assert per_step == {0: 0, 1: 0, 2: 1, 3: 0, 4: 0, 5: 1}, dict(counter.where)  # one read per logging step


def test_a_unet_with_adam_clipping_and_checkpoints_syncs_only_on_logging_and_checkpoint_steps(counter, tmp_path):
    torch.manual_seed(0)
    model = Marked(UNet(base_channels=2, depth=2, dropout=0.5), counter)
    config = TrainConfig(
        iterations=7,
        log_every=3,
        checkpoint_every=5,
        optimizer="adam",
        schedule="cosine",
        warmup_steps=2,
        grad_clip=1.0,
        learning_rate=1e-3,
        device="cpu",
    )
    train(model, _tiles(4, 44, 28), config, checkpoint_path=tmp_path / "c.pt", progress=False)
    reading = {2, 4, 5, 6}  # after steps 3 and 6 (log_every), 5 (checkpoint_every) and 7 (the last)
    assert all(counter.counts[k] == 0 for k in range(7) if k not in reading), dict(counter.where)
    assert all(counter.counts[k] >= 1 for k in reading), dict(counter.where)


def test_a_non_finite_loss_is_reported_where_it_is_read_with_its_first_step(counter):
    data = _tiles(6, 12, 10)
    data[4] = (data[4][0] * float("nan"), *data[4][1:])  # step 4 is the first non-finite one
    torch.manual_seed(0)
    model = Marked(nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 2, 1)), counter)
    with pytest.raises(FloatingPointError, match=r"the loss became nan at step 4; lower learning_rate"):
        train(model, data, TrainConfig(iterations=8, log_every=3, device="cpu"), progress=False)
    assert counter.step == 5  # found when the losses of steps 3-5 were read, after step 5
