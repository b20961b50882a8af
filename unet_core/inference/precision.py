"""Choosing the numerics per machine: ``precision="auto"`` measures once which path is fastest.

On a CPU without bf16 units (AVX2 only) a bf16 training step of the 16-channel network is tens of
times *slower* than fp32; on a GPU or a CPU with AVX-512 BF16 / AMX it is 2-3x faster. So the choice
is measured, not assumed: :func:`choose_precision` times fp32 against each candidate the device can
run (fp32 + channels_last; bf16 autocast with and without channels_last where bf16 is not emulated)
on a check tile, keeps those whose argmax agrees with fp32, and picks the fastest. The result is
cached per process (per device, network, mode and set of candidates). :func:`warn_if_slow` warns when
a caller asks for bf16 on a CPU without bf16 units, with the measured factor.

Whether the CPU has bf16 units (:func:`cpu_has_bf16`) is read from ``/proc/cpuinfo``; the environment
variable ``UNET_CPU_BF16`` overrides it: ``1`` (yes: treat bf16 as native, offer it to
``precision="auto"``, never warn) or ``0`` (no: treat bf16 as emulated, time only fp32 paths, warn when
bf16 is asked for); unset, ``/proc/cpuinfo`` decides. The variable is read at every call, so setting
it in a running process takes effect at once; any other value raises ValueError. It lets one machine
run the code path of the other kind of CPU, e.g. ``UNET_CPU_BF16=0 python -m pytest tests/test_precision.py``.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
import time
import warnings
from collections.abc import Callable

import torch

from ..utils.validation import fmt

__all__ = [
    'Precision',
    'PRECISIONS',
    'cpu_has_bf16',
    'candidates',
    'choose_precision',
    'resolve_precision',
    'warn_if_slow',
]


MIN_AGREEMENT = 0.995  # fraction of check-tile pixels whose argmax must equal fp32's (see choose_precision)


@dataclasses.dataclass(frozen=True)
class Precision:
    """One numerical path: a dtype for autocast (None = fp32) and the memory layout."""

    name: str
    dtype: torch.dtype | None = None  # None: plain fp32; torch.bfloat16: bf16 autocast
    channels_last: bool = False


PRECISIONS = {
    p.name: p
    for p in (
        Precision("fp32"),
        Precision("fp32+channels_last", None, True),
        Precision("bf16", torch.bfloat16),
        Precision("bf16+channels_last", torch.bfloat16, True),
    )
}


CPU_BF16_ENV = "UNET_CPU_BF16"  # "1": the CPU has bf16 units, "0": it has none, unset: read /proc/cpuinfo


_CPU_BF16_VALUES = {"1": True, "0": False}


def cpu_has_bf16() -> bool:
    """Whether this CPU has bf16 arithmetic units, as ``UNET_CPU_BF16`` says or else /proc/cpuinfo.

    Returns
    -------
    bool
        ``UNET_CPU_BF16="1"``: True; ``"0"``: False; unset: whether ``avx512_bf16`` or ``amx_bf16`` is
        among the CPU flags in /proc/cpuinfo (False where that file cannot be read).

    Raises
    ------
    ValueError
        If ``UNET_CPU_BF16`` is set to anything but ``"1"`` or ``"0"``.

    Notes
    -----
    The variable is read at every call (only /proc/cpuinfo is read once per process), so a change of
    it, in a test or a notebook, takes effect at once.

    Examples
    --------
    >>> import os
    >>> from unittest import mock
    >>> with mock.patch.dict(os.environ, {"UNET_CPU_BF16": "0"}):
    ...     print(cpu_has_bf16(), [p.name for p in candidates("cpu")])
    False ['fp32', 'fp32+channels_last']
    >>> with mock.patch.dict(os.environ, {"UNET_CPU_BF16": "1"}):
    ...     print(cpu_has_bf16(), [p.name for p in candidates("cpu")])
    True ['fp32', 'fp32+channels_last', 'bf16', 'bf16+channels_last']
    >>> with mock.patch.dict(os.environ, {"UNET_CPU_BF16": "yes"}):
    ...     cpu_has_bf16()
    Traceback (most recent call last):
    ValueError: UNET_CPU_BF16='yes' is not allowed: set it to '1' (this CPU has bf16 units) or '0' ...
    """
    value = os.environ.get(CPU_BF16_ENV)
    if value is None:
        return _cpuinfo_has_bf16()
    if value not in _CPU_BF16_VALUES:
        raise ValueError(
            f"{CPU_BF16_ENV}={value!r} is not allowed: set it to '1' (this CPU has bf16 units) or "
            f"'0' (it has none, bf16 is emulated), or unset it to read /proc/cpuinfo"
        )
    return _CPU_BF16_VALUES[value]


@functools.lru_cache(maxsize=4)
def _cpuinfo_has_bf16(path: str = "/proc/cpuinfo") -> bool:
    """Whether ``avx512_bf16`` or ``amx_bf16`` is among the CPU flags in ``path`` (read once per process)."""
    try:
        with open(path) as f:
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
    ctx = (
        torch.autocast(x.device.type, dtype=p.dtype)
        if p.dtype is not None
        else torch.autocast(x.device.type, enabled=False)
    )
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


_CACHE: dict[tuple, Choice] = {}


@dataclasses.dataclass(frozen=True)
class Choice:
    """What :func:`choose_precision` measured and chose."""

    precision: Precision
    seconds: dict  # name -> best time of one pass on the check tile
    agreement: dict  # name -> fraction of pixels whose argmax equals fp32's

    def __str__(self) -> str:
        base = self.seconds["fp32"]
        rows = ", ".join(
            f"{n} {s * 1e3:.1f} ms (x{base / s:.2f}, argmax agreement {self.agreement[n]:.4f})"
            for n, s in self.seconds.items()
        )
        return f"precision='auto' chose {self.precision.name}: {rows}"


def choose_precision(
    model: torch.nn.Module,
    device: torch.device | str,
    input_size: int,
    *,
    train: bool = False,
    in_channels: int = 1,
    repeats: int = 2,
    seed: int = 0,
) -> Choice:
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
    paths = candidates(dev)  # depends on UNET_CPU_BF16, so it is part of the cache key
    key = (
        str(dev),
        type(model).__name__,
        sum(p.numel() for p in model.parameters()),
        input_size,
        train,
        tuple(p.name for p in paths),
    )
    if key in _CACHE:
        return _CACHE[key]
    gen = torch.Generator().manual_seed(seed)
    x = (
        torch.nn.functional.avg_pool2d(torch.randn(1, in_channels, input_size + 4, input_size + 4, generator=gen), 5, 1)
        .mul(3)
        .to(dev)
    )  # (1, C, input_size, input_size)
    was_training = model.training
    state = {k: v.detach().clone() for k, v in model.state_dict().items()} if train else None
    seconds, agreement, reference = {}, {}, None
    try:
        for p in paths:
            if p.channels_last:
                model.to(memory_format=torch.channels_last)
            model.train(train)
            with torch.set_grad_enabled(train):
                secs, _ = _time(lambda: _run(model, x, p, train), dev, repeats)  # noqa: B023 (called at once)
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


def resolve_precision(
    precision: str | None,
    model: torch.nn.Module,
    device: torch.device | str,
    input_size: int,
    *,
    train: bool = False,
    in_channels: int = 1,
) -> tuple[Precision, Choice | None]:
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


def warn_if_slow(
    dtype: torch.dtype | None, device: torch.device | str, measure: bool = True, *, stacklevel: int | None = None
) -> float | None:
    """Warn when bf16 is asked for on a CPU without bf16 units; return the measured slow-down factor.

    Parameters
    ----------
    dtype : torch.dtype or None
        The dtype asked for; only ``torch.bfloat16`` can warn.
    device : torch.device or str
        Only a CPU can warn, and only where :func:`cpu_has_bf16` is False (``UNET_CPU_BF16`` decides
        where it is set).
    measure : bool
        Measure the factor if it is not known yet in this process (about 0.1 s).
    stacklevel : int or None
        Which frame the warning names, counted from the function that calls ``warn_if_slow`` (1 is
        that function, 2 its caller); None (the default): the first frame outside ``unet_core``, the
        user's line that called ``predict_tiled`` or ``train``, however deep inside it was asked.

    Returns
    -------
    float or None
        The time of a 512^3 matmul in bf16 over fp32 on this CPU (measured once per process; None if
        not measured), or None where nothing is emulated (and nothing is warned).

    Warns
    -----
    RuntimeWarning
        bf16 on a CPU without bf16 units, with the measured factor and the advice to use
        ``precision='auto'`` or fp32.

    Examples
    --------
    >>> import os, warnings
    >>> from unittest import mock
    >>> with mock.patch.dict(os.environ, {"UNET_CPU_BF16": "0"}), warnings.catch_warnings(record=True) as seen:
    ...     warnings.simplefilter("always")
    ...     _ = warn_if_slow(torch.bfloat16, "cpu")
    >>> print(seen[0].message)
    dtype=torch.bfloat16 on this CPU (UNET_CPU_BF16=0: no bf16 units): bf16 is emulated and measured ...
    >>> with mock.patch.dict(os.environ, {"UNET_CPU_BF16": "1"}):
    ...     print(warn_if_slow(torch.bfloat16, "cpu"), warn_if_slow(None, "cpu"))
    None None
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
    units = f"{CPU_BF16_ENV}=0: no bf16 units" if CPU_BF16_ENV in os.environ else "no avx512_bf16/amx_bf16 units"
    if factor is None:
        measured = "much slower than fp32"
    elif factor >= 1:
        measured = f"measured {factor:.1f}x slower than fp32 here"
    else:  # UNET_CPU_BF16=0 on a CPU that has the units after all
        measured = f"measured at {factor:.2f}x the time of fp32 here"
    warnings.warn(
        f"dtype=torch.bfloat16 on this CPU ({units}): bf16 is emulated and {measured}; "
        "use precision='auto' (or fp32) instead",
        RuntimeWarning,
        stacklevel=_outside_stacklevel() if stacklevel is None else stacklevel + 1,
    )
    return factor


_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep  # unet_core/


def _outside_stacklevel() -> int:
    """``stacklevel`` for a ``warnings.warn`` in the caller that names the first frame outside unet_core."""
    frame, level = sys._getframe(1), 1  # level 1: the function that warns
    while frame.f_back is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    return level
