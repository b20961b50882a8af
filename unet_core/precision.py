"""Choosing the numerics per machine: ``precision="auto"`` measures once which path is fastest.

On a CPU without bf16 units (AVX2 only) a bf16 training step of the 16-channel network is tens of
times *slower* than fp32; on a GPU or a CPU with AVX-512 BF16 / AMX it is 2-3x faster. So the choice
is measured, not assumed: :func:`choose_precision` times fp32 against each candidate the device can
run (fp32 + channels_last; bf16 autocast with and without channels_last where bf16 is not emulated)
on a check tile, keeps those whose argmax agrees with fp32, and picks the fastest. The result is
cached per process (per device, network and mode). :func:`warn_if_slow` warns when a caller asks
for bf16 on a CPU without bf16 units, with the measured factor.
"""
from __future__ import annotations

import dataclasses
import functools
import time
import warnings
from typing import Callable

import torch

from ._utils import fmt

__all__ = ["Precision", "PRECISIONS", "cpu_has_bf16", "candidates", "choose_precision", "resolve_precision",
           "warn_if_slow"]

MIN_AGREEMENT = 0.995  # fraction of check-tile pixels whose argmax must equal fp32's (see choose_precision)


@dataclasses.dataclass(frozen=True)
class Precision:
    """One numerical path: a dtype for autocast (None = fp32) and the memory layout."""

    name: str
    dtype: torch.dtype | None = None  # None: plain fp32; torch.bfloat16: bf16 autocast
    channels_last: bool = False


PRECISIONS = {p.name: p for p in (
    Precision("fp32"), Precision("fp32+channels_last", None, True),
    Precision("bf16", torch.bfloat16), Precision("bf16+channels_last", torch.bfloat16, True))}


@functools.lru_cache(maxsize=1)
def cpu_has_bf16() -> bool:
    """Whether this CPU has bf16 arithmetic units (``avx512_bf16`` or ``amx_bf16`` in /proc/cpuinfo)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        return False
    return any(flag in flags.split() for flag in ("avx512_bf16", "amx_bf16"))


def candidates(device: torch.device | str) -> list[Precision]:
    """The paths worth timing on ``device``: bf16 only where it is not emulated (GPU, or CPU bf16 units)."""
    dev = torch.device(device)
    names = ["fp32", "fp32+channels_last"]
    if dev.type == "cuda" or (dev.type == "cpu" and cpu_has_bf16()):
        names += ["bf16", "bf16+channels_last"]
    return [PRECISIONS[n] for n in names]


def _run(model: torch.nn.Module, x: torch.Tensor, p: Precision, train: bool) -> torch.Tensor:
    if p.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    ctx = torch.autocast(x.device.type, dtype=p.dtype) if p.dtype is not None else torch.autocast(x.device.type,
                                                                                                    enabled=False)
    with ctx:
        out = model(x)
    if train:
        out.float().mean().backward()
    return out.detach().float()


def _time(fn: Callable[[], torch.Tensor], device: torch.device, repeats: int) -> tuple[float, torch.Tensor]:
    out = fn()  # warm-up (and the output for the agreement check)
    best = float("inf")
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        best = min(best, time.perf_counter() - t)
    return best, out


_CACHE: dict[tuple, "Choice"] = {}


@dataclasses.dataclass(frozen=True)
class Choice:
    """What :func:`choose_precision` measured and chose."""

    precision: Precision
    seconds: dict  # name -> best time of one pass on the check tile
    agreement: dict  # name -> fraction of pixels whose argmax equals fp32's

    def __str__(self) -> str:
        base = self.seconds["fp32"]
        rows = ", ".join(f"{n} {s * 1e3:.1f} ms (x{base / s:.2f}, argmax agreement {self.agreement[n]:.4f})"
                         for n, s in self.seconds.items())
        return f"precision='auto' chose {self.precision.name}: {rows}"


def choose_precision(model: torch.nn.Module, device: torch.device | str, input_size: int, *, train: bool = False,
                     in_channels: int = 1, repeats: int = 2, seed: int = 0) -> Choice:
    """Time each candidate path on one check tile and choose the fastest that agrees with fp32.

    Parameters
    ----------
    model : nn.Module
        Already on ``device``; its mode and parameters are restored afterwards.
    device : torch.device or str
    input_size : int
        Side of the square check tile (a valid input size of ``model``).
    train : bool
        Time forward + backward (a training step) instead of inference.
    in_channels : int
    repeats : int
        Timed passes per path after one warm-up; the best is kept.
    seed : int
        Seed of the random check tile.

    Returns
    -------
    Choice
        ``choice.precision`` (a :class:`Precision`), the times and agreements; ``str(choice)`` reports them.

    Raises
    ------
    ValueError
        If ``input_size`` or ``repeats`` is not a positive int.

    Notes
    -----
    The check tile is Gaussian noise smoothed to the network's scale; the argmax of each path (in
    eval mode, without dropout) must equal fp32's on at least ``MIN_AGREEMENT`` of the pixels. bf16
    flips the pixels where p ~ 0.5; an untrained network on noise is the worst case (16 channels,
    412 px: 0.9974 agreement on an AVX-512 BF16 CPU), a trained one flips far fewer.
    """
    for name, v in (("input_size", input_size), ("repeats", repeats)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {fmt(v)}")
    dev = torch.device(device)
    key = (str(dev), type(model).__name__, sum(p.numel() for p in model.parameters()), input_size, train)
    if key in _CACHE:
        return _CACHE[key]
    gen = torch.Generator().manual_seed(seed)
    x = torch.nn.functional.avg_pool2d(torch.randn(1, in_channels, input_size + 4, input_size + 4, generator=gen),
                                       5, 1).mul(3).to(dev)  # (1, C, input_size, input_size)
    was_training = model.training
    state = {k: v.detach().clone() for k, v in model.state_dict().items()} if train else None
    seconds, agreement, reference = {}, {}, None
    try:
        for p in candidates(dev):
            if p.channels_last:
                model.to(memory_format=torch.channels_last)
            model.train(train)
            with torch.set_grad_enabled(train):
                secs, _ = _time(lambda: _run(model, x, p, train), dev, repeats)
            model.zero_grad(set_to_none=True)
            if state is not None:  # undo what the timed steps changed (batch-norm running statistics)
                model.load_state_dict(state)
            model.eval()  # the agreement is checked without dropout, whatever was timed
            with torch.no_grad():
                labels = _run(model, x, p, False).argmax(1)
            model.to(memory_format=torch.contiguous_format)
            reference = labels if reference is None else reference
            seconds[p.name] = secs
            agreement[p.name] = float((labels == reference).float().mean())
    finally:
        model.train(was_training)
        if state is not None:
            model.load_state_dict(state)
    ok = [n for n in seconds if agreement[n] >= MIN_AGREEMENT]
    choice = Choice(PRECISIONS[min(ok, key=seconds.get)], seconds, agreement)
    _CACHE[key] = choice
    return choice


def resolve_precision(precision: str | None, model: torch.nn.Module, device: torch.device | str, input_size: int,
                      *, train: bool = False, in_channels: int = 1) -> tuple[Precision, Choice | None]:
    """``precision`` ("auto", a name of :data:`PRECISIONS`, or None = fp32) as a :class:`Precision`.

    Raises
    ------
    ValueError
        If ``precision`` is not "auto", None or a known name.
    """
    if precision is None:
        return PRECISIONS["fp32"], None
    if precision == "auto":
        choice = choose_precision(model, device, input_size, train=train, in_channels=in_channels)
        return choice.precision, choice
    if precision not in PRECISIONS:
        raise ValueError(f"precision={fmt(precision)} must be 'auto' or one of {tuple(PRECISIONS)}")
    warn_if_slow(PRECISIONS[precision].dtype, device)
    return PRECISIONS[precision], None


_FACTOR: dict[str, float] = {}


def warn_if_slow(dtype: torch.dtype | None, device: torch.device | str, measure: bool = True) -> float | None:
    """Warn when bf16 is asked for on a CPU without bf16 units; return the measured slow-down factor.

    The factor is a 512^3 matmul in bf16 against fp32 on this CPU, measured once per process.
    """
    dev = torch.device(device)
    if dtype != torch.bfloat16 or dev.type != "cpu" or cpu_has_bf16():
        return None
    if "cpu" not in _FACTOR and measure:
        a = torch.randn(512, 512)
        t32, _ = _time(lambda: a @ a, dev, 2)
        b = a.bfloat16()
        t16, _ = _time(lambda: b @ b, dev, 2)
        _FACTOR["cpu"] = t16 / t32
    factor = _FACTOR.get("cpu")
    warnings.warn("dtype=torch.bfloat16 on this CPU (no avx512_bf16/amx_bf16 units): bf16 is emulated and "
                  + (f"measured {factor:.1f}x slower than fp32 here" if factor else "much slower than fp32")
                  + "; use precision='auto' (or fp32) instead", RuntimeWarning, stacklevel=3)
    return factor
