"""Sec. 3: the hyper-parameters of a training run (:class:`TrainConfig`), its result (:class:`TrainResult`)
and the learning-rate schedule (:func:`learning_rate_at`).

"[...] we favor large input tiles over a large batch size and hence reduce the batch to a single
image. Accordingly we use a high momentum (0.99) such that a large number of the previously seen
training samples determine the update in the current optimization step."

Beyond the paper (the paper's SGD recipe does not converge in a CPU budget), ``TrainConfig``
chooses the optimiser (``"sgd"``, ``"adam"``, ``"adamw"``), a learning-rate schedule
(:func:`learning_rate_at`: constant, linear warm-up + cosine, polynomial), gradient-norm clipping,
the loss normalisation (``loss_reduction``) and the numerics (``precision``). The schedule is a pure
function of the step, so resuming needs only the step.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any

from ..inference.precision import PRECISIONS
from ..utils.check_cap import cap, capped_batch
from ..utils.validation import check_int, fmt

__all__ = [
    'apply_check_cap',
    'TrainConfig',
    'TrainResult',
    'learning_rate_at',
    'precision_of_legacy',
    'effective_precision',
    'OPTIMIZERS',
    'SCHEDULES',
    'LOSS_REDUCTIONS',
    'RESUME_FREE',
    'REMOVED_FIELDS',
]


def apply_check_cap(config: Any, value: int | None = None) -> Any:
    """A :class:`TrainConfig` under the cap: at most ``N`` iterations and a global batch of
    :func:`~unet_core.utils.check_cap.capped_batch` tiles (the processes are read from ``$WORLD_SIZE``, which torchrun sets).

    Anything but a TrainConfig is returned unchanged (``train`` then refuses it with its own message).
    The capped ``iterations`` are stored in the checkpoint's ``train_config``, so an uncapped run
    resumes such a checkpoint as unfinished instead of taking it for a finished one.

    Parameters
    ----------
    config : TrainConfig or anything
    value : int or None
        As for :func:`~unet_core.utils.check_cap.cap`.

    Returns
    -------
    TrainConfig or the argument unchanged

    Examples
    --------
    >>> c = apply_check_cap(TrainConfig(iterations=5000, batch_size=8), value=1)
    >>> c.iterations, c.batch_size
    (1, 2)
    """
    n = cap(value)
    if n is None or not isinstance(config, TrainConfig):
        return config
    try:
        world = max(1, int(os.environ.get("WORLD_SIZE") or 1))
    except ValueError:
        world = 1  # unet_core.training.distributed reports a malformed $WORLD_SIZE
    return dataclasses.replace(
        config, iterations=min(config.iterations, n), batch_size=capped_batch(config.batch_size, world, n)
    )


# Fields that may change between a run and its resumption without breaking exactness
# ("iterations" only with a constant schedule: the others decay over the iterations).
RESUME_FREE = {"iterations", "device", "log_every", "val_every", "checkpoint_every", "num_workers"}


OPTIMIZERS = ("sgd", "adam", "adamw")


SCHEDULES = ("constant", "cosine", "poly")


LOSS_REDUCTIONS = ("mean", "sum")


@dataclass
class TrainConfig:
    """Hyper-parameters of :func:`~unet_core.training.loop.train`; every field is validated on creation.

    Raises
    ------
    ValueError, TypeError
        On an out-of-range or wrongly typed field (the message names it and the fix). The removed
        fields ``amp`` and ``channels_last`` raise TypeError naming the ``precision`` that replaces them.

    Notes
    -----
    ``precision`` is the one way to choose the numerics. ``None`` (the default) is bf16 autocast on
    CUDA and fp32 elsewhere, in the contiguous memory layout; ``"auto"`` measures once
    (:func:`unet_core.inference.precision.choose_precision`, stored in the checkpoint); a name of
    :data:`unet_core.inference.precision.PRECISIONS` is taken as it is. Checkpoints written while
    ``amp``/``channels_last`` existed resume unchanged: their values are read as the ``precision``
    they meant (:func:`precision_of_legacy`).

    Examples
    --------
    >>> TrainConfig(precision="bf16+channels_last").precision
    'bf16+channels_last'
    >>> TrainConfig(amp=True)
    Traceback (most recent call last):
    ...
    TypeError: TrainConfig.amp was removed: the numerics are set by TrainConfig.precision alone; use precision='bf16' for amp=True
    """

    # SGD step size. The paper gives none, and the authors' 2015 release (phseg_v5-train.prototxt
    # and weights) carries no solver settings we could find; their later Fiji plugin fine-tunes
    # with Adam at 1e-5 on a summed loss, which does not carry over to SGD. With the loss averaged
    # over pixels (loss.py) and momentum 0.99 the effective step is lr / (1 - 0.99) = 100 lr, times
    # the mean of the Eq. 2 weights (about 3 for synthetic EM with w0=10, sigma=5). Swept with Eq. 2
    # weights and augmentation, 200 steps on synthetic EM (benchmarks/bench_train.py): 1e-3 gave the
    # lowest pixel error of {1e-3, 3e-3, 1e-2, 3e-2} for the demo network and of {1e-3, 3e-3, 1e-2}
    # for UNet(base_channels=16, depth=5); 1e-2 collapsed to "all membrane" (demo) or diverged
    # (depth 5). Not measured for 64 channels. (nnU-Net's 1e-2 is for instance-normalised networks.)
    learning_rate: float = 0.001
    momentum: float = 0.99  # paper, Sec. 3: "a high momentum (0.99)"
    batch_size: int = 1  # paper, Sec. 3: "reduce the batch to a single image" (one large tile)
    iterations: int = 1000  # number of SGD steps (the paper does not give it)
    weight_decay: float = 0.0  # L2 penalty (decoupled for "adamw"); the paper mentions none (dropout + augmentation)
    # Optimiser: "sgd" (the paper: Caffe's SGD with `momentum`), "adam" or "adamw" (betas below;
    # `momentum` is then unused). On the real data the paper's SGD does not converge within a CPU
    # budget (book chapters 06/07, issue 10); Adam at 1e-3 does.
    optimizer: str = "sgd"
    betas: tuple = (0.9, 0.999)  # Adam/AdamW moment decay rates (PyTorch's defaults)
    # Learning-rate schedule over `iterations` steps (learning_rate_at): "constant"; "cosine" = linear
    # warm-up over `warmup_steps` from 0, then half a cosine down to `min_lr_factor * learning_rate`;
    # "poly" = warm-up, then (1 - t)^poly_power (nnU-Net uses 0.9).
    schedule: str = "constant"
    warmup_steps: int = 0
    min_lr_factor: float = 0.0
    poly_power: float = 0.9
    grad_clip: float = 0.0  # clip the global gradient 2-norm to this value before each step (0: off)
    # Loss normalisation: "mean" = sum_x w(x) CE(x) / (number of pixels), "sum" = -E of Eq. 1 exactly.
    # "sum" multiplies every gradient by the pixels per batch (150,544 for a 388 x 388 tile): with SGD the
    # learning rate must shrink by that factor for the same step; Adam is invariant to the gradient scale
    # (up to its eps), so the two give the same Adam run. "mean" keeps the SGD step independent of the tile.
    loss_reduction: str = "mean"
    seed: int = 0  # step k runs after torch.manual_seed(seed + k) (rank r: dropout_seed): dropout is reproducible
    device: str = "auto"  # "auto" = cuda, then mps, then cpu
    # The numerics, one switch: None = bf16 autocast on CUDA and fp32 elsewhere, contiguous memory (the
    # default); "auto" times fp32, fp32+channels_last and (where bf16 is not emulated) bf16 with and
    # without channels_last on one training step and takes the fastest whose argmax agrees with fp32
    # (unet_core.inference.precision); or a name of unet_core.inference.precision.PRECISIONS.
    precision: str | None = None
    log_every: int = 10  # refresh the progress bar's loss every this many steps
    val_every: int = 0  # call validate(model, step) every this many steps (0: only after the last)
    checkpoint_every: int = 0  # write the checkpoint every this many steps (0: only after the last)
    num_workers: int = 0  # DataLoader worker processes (items are deterministic, so any number is exact)

    def __post_init__(self) -> None:
        for name in ("learning_rate", "momentum", "weight_decay"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise TypeError(f"TrainConfig.{name} must be a finite number, got {fmt(value)}")
        if self.learning_rate <= 0:
            raise ValueError(f"TrainConfig.learning_rate must be > 0, got {self.learning_rate}; try 0.01")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"TrainConfig.momentum must lie in [0, 1), got {self.momentum}; the paper uses 0.99")
        if self.weight_decay < 0:
            raise ValueError(f"TrainConfig.weight_decay must be >= 0, got {self.weight_decay}")
        for name, low in (
            ("batch_size", 1),
            ("iterations", 0),
            ("seed", 0),
            ("log_every", 1),
            ("val_every", 0),
            ("checkpoint_every", 0),
            ("num_workers", 0),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"TrainConfig.{name} must be an int, got {fmt(value)}")
            if value < low:
                raise ValueError(f"TrainConfig.{name} must be >= {low}, got {value}")
        if self.precision is not None and self.precision != "auto" and self.precision not in PRECISIONS:
            raise ValueError(
                f"TrainConfig.precision must be None, 'auto' or one of {tuple(PRECISIONS)}, got "
                f"{fmt(self.precision)}; None is bf16 autocast on CUDA and fp32 elsewhere, 'auto' "
                "measures the fastest path once"
            )
        if not isinstance(self.device, str):
            raise TypeError(f"TrainConfig.device must be a string such as 'auto' or 'cpu', got {fmt(self.device)}")
        if not re.fullmatch(r"auto|cpu|mps|cuda(:[0-9]+)?", self.device):
            raise ValueError(
                f"TrainConfig.device must be 'auto', 'cpu', 'cuda', 'cuda:N' (N = 0, 1, ...) or 'mps', "
                f"got {self.device!r}; use device='auto' to pick the best one (train() checks availability)"
            )
        for name, allowed in (("optimizer", OPTIMIZERS), ("schedule", SCHEDULES), ("loss_reduction", LOSS_REDUCTIONS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"TrainConfig.{name} must be one of {allowed}, got {fmt(getattr(self, name))}")
        if isinstance(self.warmup_steps, bool) or not isinstance(self.warmup_steps, int) or self.warmup_steps < 0:
            raise ValueError(f"TrainConfig.warmup_steps must be an int >= 0, got {fmt(self.warmup_steps)}")
        for name in ("min_lr_factor", "poly_power", "grad_clip"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise TypeError(f"TrainConfig.{name} must be a finite number, got {fmt(value)}")
        if not 0 <= self.min_lr_factor <= 1:
            raise ValueError(f"TrainConfig.min_lr_factor must lie in [0, 1], got {self.min_lr_factor}")
        if self.poly_power <= 0:
            raise ValueError(f"TrainConfig.poly_power must be > 0, got {self.poly_power}; nnU-Net uses 0.9")
        if self.grad_clip < 0:
            raise ValueError(f"TrainConfig.grad_clip must be >= 0 (0 disables clipping), got {self.grad_clip}")
        betas = tuple(self.betas) if isinstance(self.betas, (list, tuple)) else None
        if (
            betas is None
            or len(betas) != 2
            or not all(isinstance(b, (int, float)) and not isinstance(b, bool) and 0 <= b < 1 for b in betas)
        ):
            raise ValueError(
                f"TrainConfig.betas must be two numbers in [0, 1), got {fmt(self.betas)}; "
                "Adam's defaults are (0.9, 0.999)"
            )
        self.betas = (float(betas[0]), float(betas[1]))


REMOVED_FIELDS = {"amp": "auto", "channels_last": False}
"""Fields that ``TrainConfig`` had before ``precision`` replaced them, with their old defaults."""


def precision_of_legacy(amp: bool | str = "auto", channels_last: bool = False, device_type: str = "cpu") -> str | None:
    """The ``TrainConfig.precision`` that the removed ``amp`` and ``channels_last`` fields meant.

    Parameters
    ----------
    amp : {"auto", True, False}
        The removed ``amp``: ``"auto"`` = bf16 autocast on CUDA, fp32 elsewhere; True = bf16; False = fp32.
    channels_last : bool
        The removed ``channels_last`` (NHWC memory layout).
    device_type : str
        The device type that ``amp="auto"`` with ``channels_last=True`` is read for (``"cuda"``:
        bf16, else fp32); the other combinations do not depend on it.

    Returns
    -------
    str or None
        None for the old defaults (``amp="auto"``, no channels_last), else a name of
        :data:`unet_core.inference.precision.PRECISIONS`.

    Raises
    ------
    ValueError
        If ``amp`` is not ``"auto"``, True or False or ``channels_last`` not a bool.

    Examples
    --------
    >>> precision_of_legacy(), precision_of_legacy(True), precision_of_legacy(False, True)
    (None, 'bf16', 'fp32+channels_last')
    >>> precision_of_legacy("auto", True, "cuda")
    'bf16+channels_last'
    """
    if amp not in ("auto", True, False) or not isinstance(channels_last, bool):
        raise ValueError(
            f"amp must be 'auto', True or False and channels_last True or False (the fields TrainConfig "
            f"had before precision), got amp={fmt(amp)}, channels_last={fmt(channels_last)}"
        )
    if amp == "auto" and not channels_last and not isinstance(amp, bool):
        return None
    bf16 = amp is True or (amp == "auto" and not isinstance(amp, bool) and device_type == "cuda")
    return ("bf16" if bf16 else "fp32") + ("+channels_last" if channels_last else "")


def effective_precision(precision: str | None, device_type: str) -> str:
    """The numeric path that ``TrainConfig.precision`` names on a device type (``"auto"`` stays ``"auto"``).

    Parameters
    ----------
    precision : str or None
        A ``TrainConfig.precision``.
    device_type : str
        ``"cuda"``, ``"cpu"`` or ``"mps"``.

    Returns
    -------
    str
        ``"bf16"`` (CUDA) or ``"fp32"`` for None, else ``precision`` itself.

    Examples
    --------
    >>> effective_precision(None, "cuda"), effective_precision(None, "cpu"), effective_precision("auto", "cpu")
    ('bf16', 'fp32', 'auto')
    """
    if precision is None:
        return "bf16" if device_type == "cuda" else "fp32"
    return precision


def _refuse_removed_fields(init):
    """Wrap the dataclass ``__init__`` so that a removed field is refused with its replacement named."""

    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        removed = [name for name in REMOVED_FIELDS if name in kwargs]
        if removed:
            old = {name: kwargs.get(name, default) for name, default in REMOVED_FIELDS.items()}
            try:
                meant = precision_of_legacy(old["amp"], old["channels_last"], "cpu")
                if old["amp"] == "auto" and old["channels_last"] is True:
                    meant = "'bf16+channels_last' on CUDA, 'fp32+channels_last' elsewhere"
                else:
                    meant = repr(meant)
            except ValueError:
                meant = "one of None, 'auto', " + ", ".join(map(repr, PRECISIONS))
            given = ", ".join(f"{name}={kwargs[name]!r}" for name in removed)
            raise TypeError(
                f"TrainConfig.{removed[0]} was removed: the numerics are set by TrainConfig.precision "
                f"alone; use precision={meant} for {given}"
            )
        init(self, *args, **kwargs)

    return __init__


TrainConfig.__init__ = _refuse_removed_fields(TrainConfig.__init__)


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes
    ----------
    losses : list of float
        Training loss of every step from step 0 (a resumed run includes the earlier steps).
    validation : list of dict
        ``{"step": k, **validate(model, k)}`` for every validation.
    step : int
        Number of completed steps.
    seconds : float
        Wall seconds spent in training steps, summed over the runs that a resumed run continues
        (stored in the checkpoint's history; 0 for checkpoints written before it was recorded).

    Raises
    ------
    TypeError
        If ``losses`` or ``validation`` is not a list (a tuple is turned into one) or ``step`` not an int.
    ValueError
        If ``step`` is negative.
    """

    losses: list[float] = field(default_factory=list)
    validation: list[dict[str, Any]] = field(default_factory=list)
    step: int = 0
    seconds: float = 0.0

    def __post_init__(self) -> None:
        for name in ("losses", "validation"):
            value = getattr(self, name)
            if not isinstance(value, (list, tuple)):
                raise TypeError(
                    f"TrainResult.{name} must be a list (one entry per step or validation), got "
                    f"{fmt(value)}; e.g. TrainResult(losses=[], validation=[], step=0)"
                )
            if isinstance(value, tuple):
                setattr(self, name, list(value))
        self.step = check_int(self.step, "TrainResult.step", low=0)


def learning_rate_at(config: TrainConfig, step: int) -> float:
    """Learning rate of step ``step`` (0-based) under ``config.schedule``.

    Parameters
    ----------
    config : TrainConfig
        Supplies ``learning_rate``, ``schedule``, ``warmup_steps``, ``min_lr_factor``,
        ``poly_power`` and ``iterations`` (the length of the decay).
    step : int
        Completed steps before this one (>= 0).

    Returns
    -------
    float
        The step size used by step ``step``.

    Raises
    ------
    TypeError
        If ``config`` is not a TrainConfig or ``step`` not an int.
    ValueError
        For a negative step.

    Notes
    -----
    With ``W`` warm-up steps, ``T`` iterations, base rate ``l`` and floor ``m = min_lr_factor * l``:
    warm-up ``l (k + 1) / W`` for ``k < W``; then, with ``t = (k - W) / max(1, T - W)`` clipped to [0, 1],
    cosine ``m + (l - m) (1 + cos(pi t)) / 2`` and poly ``m + (l - m) (1 - t)^p``. ``"constant"`` also
    honours the warm-up. Steps past ``T`` keep the final rate.

    Examples
    --------
    >>> cfg = TrainConfig(learning_rate=1.0, schedule="cosine", warmup_steps=2, iterations=6)
    >>> [round(learning_rate_at(cfg, k), 3) for k in range(7)]
    [0.5, 1.0, 1.0, 0.854, 0.5, 0.146, 0.0]
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {fmt(config)}; e.g. learning_rate_at(TrainConfig(), 0)")
    step = check_int(step, "step", low=0, fix="step counts the completed steps: 0, 1, 2, ...")
    base, warm = config.learning_rate, config.warmup_steps
    if step < warm:
        return base * (step + 1) / warm
    if config.schedule == "constant":
        return base
    t = min(1.0, (step - warm) / max(1, config.iterations - warm))
    floor = config.min_lr_factor * base
    if config.schedule == "cosine":
        return floor + (base - floor) * 0.5 * (1.0 + math.cos(math.pi * t))
    return floor + (base - floor) * (1.0 - t) ** config.poly_power
