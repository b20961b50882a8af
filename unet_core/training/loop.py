"""Sec. 3: training on one large tile per step (SGD with momentum 0.99, as the paper, or Adam).

"The input images and their corresponding segmentation maps are used to train
the network with the stochastic gradient descent implementation of Caffe. [...]
we favor large input tiles over a large batch size and hence reduce the batch to
a single image. Accordingly we use a high momentum (0.99) such that a large
number of the previously seen training samples determine the update in the
current optimization step."

:func:`train` runs that loop with the loss of Eq. 1 (:mod:`unet_core.training.loss`).
It is deterministic and exactly resumable: step ``k`` reads the dataset items
``k * batch_size ... k * batch_size + batch_size - 1`` (modulo its length) and
reseeds torch with ``seed + k`` before the step (dropout; rank ``r`` of several processes with
:func:`unet_core.training.distributed.dropout_seed`), so a run stopped at step ``k`` and resumed from its
checkpoint ends bit-identical on CPU to an uninterrupted run. The numeric path that
``precision="auto"`` measured is stored in the checkpoint and reused on resume, so timing noise cannot
switch it. Checkpoints are handled by :mod:`unet_core.training.checkpoint`.

Beyond the paper (issue 10: the paper's SGD recipe does not converge in a CPU budget),
``TrainConfig`` chooses the optimiser (``"sgd"``, ``"adam"``, ``"adamw"``), a learning-rate
schedule (:func:`learning_rate_at`: constant, linear warm-up + cosine, polynomial), gradient-norm
clipping and the loss normalisation (``loss_reduction``). The schedule is a pure function of the
step, so resuming needs only the step; it is stored with the optimizer state in the checkpoint.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import re
import time
import warnings
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ..inference import precision as _precision
from ..inference.precision import PRECISIONS, candidates, warn_if_slow
from ..models.unet import check_module
from ..utils.check_cap import cap, capped_batch
from ..utils.files import plain_value
from ..utils.system import resolve_device
from ..utils.validation import check_bool, check_int, fmt
from .checkpoint import load_checkpoint, load_optimizer_state, save_checkpoint
from .distributed import (
    barrier,
    broadcast_object,
    check_resume_world,
    dropout_seed,
    init_from_env,
    rank_items,
    step_loss,
)
from .loss import weighted_cross_entropy

__all__ = ['apply_check_cap', 'TrainConfig', 'TrainResult', 'train', 'learning_rate_at']


def apply_check_cap(config: Any, value: int | None = None) -> Any:
    """A :class:`~unet_core.training.loop.TrainConfig` under the cap: at most ``N`` iterations and a global batch of
    :func:`capped_batch` tiles (the processes are read from ``$WORLD_SIZE``, which torchrun sets).

    Anything but a TrainConfig is returned unchanged (``train`` then refuses it with its own message).
    The capped ``iterations`` are stored in the checkpoint's ``train_config``, so an uncapped run
    resumes such a checkpoint as unfinished instead of taking it for a finished one.

    Parameters
    ----------
    config : TrainConfig or anything
    value : int or None
        As for :func:`cap`.

    Returns
    -------
    TrainConfig or the argument unchanged

    Examples
    --------
    >>> from unet_core.training.loop import TrainConfig
    >>> c = apply_check_cap(TrainConfig(iterations=5000, batch_size=8), value=1)
    >>> c.iterations, c.batch_size
    (1, 2)
    """
    pass

    n = cap(value)
    if n is None or not isinstance(config, TrainConfig):
        return config
    try:
        world = max(1, int(os.environ.get("WORLD_SIZE") or 1))
    except ValueError:
        world = 1  # unet_core.training.distributed reports a malformed $WORLD_SIZE
    return dataclasses.replace(config, iterations=min(config.iterations, n),
                               batch_size=capped_batch(config.batch_size, world, n))


# Fields that may change between a run and its resumption without breaking exactness
# ("iterations" only with a constant schedule: the others decay over the iterations).
_RESUME_FREE = {"iterations", "device", "log_every", "val_every", "checkpoint_every", "num_workers"}


OPTIMIZERS = ("sgd", "adam", "adamw")


SCHEDULES = ("constant", "cosine", "poly")


LOSS_REDUCTIONS = ("mean", "sum")


@dataclass
class TrainConfig:
    """Hyper-parameters of :func:`train`; every field is validated on creation.

    Raises
    ------
    ValueError, TypeError
        On an out-of-range or wrongly typed field (the message names it and the fix).
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
    amp: bool | str = "auto"  # "auto": bf16 autocast on CUDA, off elsewhere; True: bf16 anywhere; False: fp32
    channels_last: bool = False  # NHWC memory layout (faster convolutions on recent GPUs)
    # One switch for the numerics instead of amp/channels_last: "auto" times fp32, fp32+channels_last
    # and (where bf16 is not emulated) bf16 with and without channels_last on one training step and
    # takes the fastest whose argmax agrees with fp32 (unet_core.inference.precision); or a name of
    # unet_core.inference.precision.PRECISIONS. None: amp and channels_last as set.
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
        for name, low in (("batch_size", 1), ("iterations", 0), ("seed", 0), ("log_every", 1),
                          ("val_every", 0), ("checkpoint_every", 0), ("num_workers", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"TrainConfig.{name} must be an int, got {fmt(value)}")
            if value < low:
                raise ValueError(f"TrainConfig.{name} must be >= {low}, got {value}")
        if self.amp not in ("auto", True, False):
            raise ValueError(f"TrainConfig.amp must be 'auto', True or False, got {fmt(self.amp)}")
        if not isinstance(self.channels_last, bool):
            raise TypeError(f"TrainConfig.channels_last must be True or False, got {fmt(self.channels_last)}")
        if self.precision is not None and self.precision != "auto" and self.precision not in PRECISIONS:
            raise ValueError(f"TrainConfig.precision must be None, 'auto' or one of {tuple(PRECISIONS)}, got "
                             f"{fmt(self.precision)}")
        if not isinstance(self.device, str):
            raise TypeError(f"TrainConfig.device must be a string such as 'auto' or 'cpu', got {fmt(self.device)}")
        if not re.fullmatch(r"auto|cpu|mps|cuda(:[0-9]+)?", self.device):
            raise ValueError(f"TrainConfig.device must be 'auto', 'cpu', 'cuda', 'cuda:N' (N = 0, 1, ...) or 'mps', "
                             f"got {self.device!r}; use device='auto' to pick the best one (train() checks availability)")
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
        if betas is None or len(betas) != 2 or not all(
                isinstance(b, (int, float)) and not isinstance(b, bool) and 0 <= b < 1 for b in betas):
            raise ValueError(f"TrainConfig.betas must be two numbers in [0, 1), got {fmt(self.betas)}; "
                             "Adam's defaults are (0.9, 0.999)")
        self.betas = (float(betas[0]), float(betas[1]))


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
                raise TypeError(f"TrainResult.{name} must be a list (one entry per step or validation), got "
                                f"{fmt(value)}; e.g. TrainResult(losses=[], validation=[], step=0)")
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


def _make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    params = model.parameters()
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.learning_rate, momentum=config.momentum,
                               weight_decay=config.weight_decay)
    cls = torch.optim.Adam if config.optimizer == "adam" else torch.optim.AdamW
    return cls(params, lr=config.learning_rate, betas=config.betas, weight_decay=config.weight_decay)


def _hyper(config: TrainConfig) -> dict:
    """The optimizer hyper-parameters that the config (not a checkpoint) decides."""
    if config.optimizer == "sgd":
        return {"momentum": config.momentum, "weight_decay": config.weight_decay}
    return {"betas": config.betas, "weight_decay": config.weight_decay}


class _StepSampler(torch.utils.data.Sampler):
    """Dataset indices of steps ``start .. stop-1``: this rank's share of ``batch_size`` consecutive ones per step."""

    def __init__(self, start: int, stop: int, batch_size: int, length: int, rank: int = 0, world_size: int = 1) -> None:
        self.start, self.stop, self.batch_size, self.length = start, stop, batch_size, length
        self.rank, self.world_size = rank, world_size

    def __iter__(self):
        return (i for step in range(self.start, self.stop)
                for i in rank_items(step, self.batch_size, self.rank, self.world_size, self.length))

    def __len__(self) -> int:
        return (self.stop - self.start) * (self.batch_size // self.world_size)


def _canon(value):
    """Tuples and lists compare equal, also nested (a checkpoint stores betas as a list or tuple)."""
    if isinstance(value, (list, tuple)):
        return [_canon(v) for v in value]
    if isinstance(value, dict):
        return {k: _canon(v) for k, v in value.items()}
    return value


def _plain(metrics: dict) -> dict[str, Any]:
    """Validation results as plain python values, so that checkpoints load with weights_only=True."""
    out: dict[str, Any] = {}
    for key, value in dict(metrics).items():
        if isinstance(value, (torch.Tensor, np.ndarray)) and (value.numel() if isinstance(value, torch.Tensor)
                                                              else value.size) == 1:
            value = value.item()
        try:
            value = plain_value(value, f"validate()[{key!r}]")  # numpy scalars of every kind -> python ones
        except TypeError:
            pass  # an object: refused just below, with the message about validate()
        if not isinstance(value, (int, float, str, bool, type(None))):
            raise TypeError(f"validate() must return a dict of numbers or strings, got {key!r}: {fmt(value)}")
        out[str(key)] = value
    return out


def _precision_name(use_amp: bool, channels_last: bool) -> str:
    """The :data:`unet_core.inference.precision.PRECISIONS` name of bf16 autocast on/off and channels_last on/off."""
    return ("bf16" if use_amp else "fp32") + ("+channels_last" if channels_last else "")


def _stored_precision(ckpt: dict | None, device: torch.device) -> str | None:
    """The numeric path a checkpoint trained with, if this device can take it unmeasured; else None."""
    stored = (ckpt or {}).get("train_config", {}).get("resolved_precision")
    if not isinstance(stored, dict) or stored.get("device") != device.type:
        return None
    name = stored.get("name")
    return name if name in {p.name for p in candidates(device)} else None


def _numerics(config: TrainConfig, model: nn.Module, dataset, device: torch.device, ckpt: dict | None,
              rank: int, path, progress: bool) -> tuple[bool, bool]:
    """``(bf16 autocast, channels_last)``: ``config.precision`` resolved, or ``amp``/``channels_last``.

    ``precision="auto"`` reuses the choice a resumed checkpoint stores (same device type, a path
    this device offers); otherwise rank 0 measures and every rank takes its choice.
    """
    if config.precision is None:
        use_amp = config.amp is True or (config.amp == "auto" and device.type == "cuda")
        if use_amp and device.type == "cpu":
            warn_if_slow(torch.bfloat16, device)
        return use_amp, config.channels_last
    auto = config.precision == "auto"
    stored = _stored_precision(ckpt, device) if auto else None
    if stored is not None:
        chosen = PRECISIONS[stored]
        if progress:
            print(f"precision='auto': {stored}, as measured when {str(path)!r} was started (not measured again)")
    elif auto and rank > 0:
        chosen = None  # rank 0 measures; timing noise must not give the ranks different numerics
    elif auto:
        sample = dataset[0][0]  # (C, H_in, W_in)
        choice = _precision.choose_precision(model, device, int(sample.shape[-1]), train=True,
                                             in_channels=int(sample.shape[0]))
        chosen = choice.precision
        if progress:
            print(choice)
    else:
        chosen = PRECISIONS[config.precision]
        warn_if_slow(chosen.dtype, device)
    if auto and stored is None:
        chosen = PRECISIONS[broadcast_object(None if chosen is None else chosen.name)]
    return chosen.dtype is not None, chosen.channels_last


def _check_training_data(saved: dict | None, given: dict | None, path) -> None:
    """Refuse to resume a checkpoint whose recorded training data differ from ``given``."""
    if saved is None or given is None:
        return
    old, new = _canon(saved), _canon(given)
    missing = object()
    keys = sorted((k for k in set(old) | set(new) if old.get(k, missing) != new.get(k, missing)), key=str)
    if keys:
        diff = "; ".join(f"{k!r}: checkpoint {fmt(old.get(k))} vs given {fmt(new.get(k))}" for k in keys)
        raise ValueError(f"checkpoint {str(path)!r} was trained on other data than training_data describes "
                         f"(differing keys: {diff}); pass resume=False to train from scratch on this data, or "
                         "another checkpoint_path")


def _nonfinite_message(loss: torch.Tensor, step: int, bad_ranks: list[int], rank: int, world_size: int,
                       config: TrainConfig) -> str:
    """What :func:`train` says when the loss of ``step`` is NaN or infinite on ``bad_ranks``."""
    fix = f"lower learning_rate (now {config.learning_rate}), set grad_clip or check the data"
    if world_size == 1:
        return f"the loss became {loss.item()} at step {step}; {fix}"
    which = f"rank{'s' if len(bad_ranks) > 1 else ''} {', '.join(map(str, bad_ranks))}"
    return (f"the loss became non-finite at step {step} on {which} of {world_size} processes (this is rank {rank}, "
            f"its loss {loss.item()}); every rank stops at this step; {fix}")


def _check_batch(batch) -> None:
    """Refuse a collated batch that is not (image (B, C, H, W), label (B, H, W)[, weight (B, H, W)])."""
    ok = isinstance(batch, (list, tuple)) and len(batch) in (2, 3) and all(isinstance(b, torch.Tensor) for b in batch)
    if not ok or batch[0].ndim != 4 or any(b.ndim != 3 for b in batch[1:]):
        got = "(" + ", ".join(fmt(b[0]) if isinstance(b, torch.Tensor) and b.ndim else fmt(b) for b in batch) + ")" \
            if isinstance(batch, (list, tuple)) else fmt(batch)
        raise ValueError("dataset items must be (image (C, H_in, W_in), label (H_out, W_out)) or (image, label, "
                         f"weight (H_out, W_out)) arrays or tensors, got an item {got}")


def train(
    model: nn.Module,
    dataset: Dataset,
    config: TrainConfig | None = None,
    validate: Callable[[nn.Module, int], dict] | None = None,
    checkpoint_path: str | os.PathLike | None = None,
    resume: bool = True,
    progress: bool = True,
    training_data: dict | None = None,
) -> TrainResult:
    """Train ``model`` on ``dataset`` with the loss of Eq. 1 (SGD + momentum as the paper, or Adam).

    Parameters
    ----------
    model : nn.Module
        Maps (B, C, H_in, W_in) images to (B, K, H_out, W_out) scores, e.g. ``UNet``.
    dataset : torch Dataset
        Item ``i`` is ``(image (C, H_in, W_in), label (H_out, W_out) int64, weight (H_out, W_out) float)``
        or ``(image, label)`` (unit weights); it should be deterministic in ``i`` for exact resumption.
    config : TrainConfig or None
        Hyper-parameters; None uses the defaults.
    validate : callable or None
        ``validate(model, step) -> dict`` called (in eval mode, without gradients) every
        ``config.val_every`` steps and after the last; its RNG use does not affect training.
    checkpoint_path : path or None
        Where to write the checkpoint (every ``config.checkpoint_every`` steps and at the end).
    resume : bool
        Continue from ``checkpoint_path`` if it exists (the model and optimizer state, the step
        and the history); with False an existing checkpoint is overwritten.
    progress : bool
        Show a tqdm progress bar.
    training_data : dict or None
        Where the training data came from (plain values, e.g. ``{"dataset": "phc-u373", "truth": "gt",
        "train_frames": ["02/010", ...]}``), stored in every checkpoint written as ``training_data``.
        Resuming a checkpoint that records other training data raises; None keeps what the
        checkpoint records.

    Returns
    -------
    TrainResult
        Per-step losses, validation results and the final step; the model is left in eval mode.

    Raises
    ------
    TypeError
        If ``model`` is not an nn.Module, ``dataset`` has no ``len`` and indexing, ``config`` is not a
        TrainConfig, ``validate`` is not callable, ``resume``/``progress`` is not a bool, or
        ``training_data`` is not a dict of plain values or None.
    ValueError
        If the dataset is empty, the checkpoint belongs to another model configuration or records
        other ``training_data`` (the message names the differing keys), or an item has the wrong
        layout (not image (C, H, W), label (H, W)[, weight (H, W)]).
    FloatingPointError
        If the loss becomes NaN or infinite (lower ``learning_rate``); under several processes every
        rank raises it at the same step, before the backward pass, naming the ranks whose loss it was.

    Notes
    -----
    Caffe's momentum SGD, ``v <- m v - lr g; w <- w + v``, equals PyTorch's
    ``v <- m v + g; w <- w - lr v`` for a constant learning rate. Per step, the
    loss is :func:`~unet_core.training.loss.weighted_cross_entropy` with ``config.loss_reduction``
    (averaged over pixels by default), the learning rate is :func:`learning_rate_at`, and the
    gradient norm is clipped to ``config.grad_clip`` when that is > 0.

    ``config.precision="auto"`` is measured once (by rank 0 under several processes) and the choice
    is stored in the checkpoint (``train_config["resolved_precision"]``); resuming on the same device
    type reuses it without measuring again, so the resumed run takes the same numeric path.

    References
    ----------
    Ronneberger et al. (2015), Sec. 3 "Training".

    Examples
    --------
    >>> import torch
    >>> data = [(torch.randn(1, 8, 8), torch.zeros(8, 8, dtype=torch.int64), torch.ones(8, 8))]
    >>> net = torch.nn.Conv2d(1, 2, 1)
    >>> result = train(net, data, TrainConfig(iterations=3, device="cpu"), progress=False)
    >>> result.step, len(result.losses)
    (3, 3)
    """
    from tqdm.auto import tqdm

    pass

    config = apply_check_cap(TrainConfig() if config is None else config)  # $UNET_CHECK_CAP: a few small steps
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {fmt(config)}")
    if validate is not None and not callable(validate):
        raise TypeError(f"validate must be a callable validate(model, step) -> dict or None, got {fmt(validate)}")
    check_module(model)
    if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")) or isinstance(dataset, (str, bytes)):
        raise TypeError("dataset must be a torch Dataset or a list of (image, label[, weight]) items, got "
                        f"{fmt(dataset)}")
    resume, progress = check_bool(resume, "resume"), check_bool(progress, "progress")
    if training_data is not None and not isinstance(training_data, dict):
        raise TypeError(f"training_data must be a dict describing the training data (e.g. {{'dataset': "
                        f"'phc-u373', 'truth': 'gt'}}) or None, got {fmt(training_data)}")
    training_data = None if training_data is None else plain_value(training_data, "training_data")
    if len(dataset) == 0:
        raise ValueError("dataset is empty; train needs at least one (image, label, weight) item")
    device = resolve_device(config.device)
    rank, world_size = init_from_env(device)  # torchrun: join the process group (gloo on CPU, NCCL on GPU)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())  # LOCAL_RANK's GPU under torchrun
    rank_items(0, config.batch_size, rank, world_size, 1)  # the global batch must split evenly over the ranks
    progress = progress and rank == 0
    model.to(device)
    ckpt = None
    if checkpoint_path is not None and resume and Path(checkpoint_path).exists():
        ckpt = load_checkpoint(checkpoint_path, model, map_location=device)
        saved = dict(ckpt["train_config"])
        if saved.get("optimizer", "sgd") != config.optimizer:
            raise ValueError(f"checkpoint {str(checkpoint_path)!r} was trained with optimizer="
                             f"{saved.get('optimizer', 'sgd')!r}, the config asks for {config.optimizer!r}; "
                             "use the same optimizer or resume=False to start again")
        _check_training_data(ckpt.get("training_data"), training_data, checkpoint_path)
        training_data = ckpt.get("training_data") if training_data is None else training_data
    use_amp, channels_last = _numerics(config, model, dataset, device, ckpt, rank, checkpoint_path, progress)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model.to(device=device, memory_format=memory_format)
    optimizer = _make_optimizer(model, config)
    stored_config = {**asdict(config), "resolved_precision": {"name": _precision_name(use_amp, channels_last),
                                                              "device": device.type}}
    result = TrainResult()
    if ckpt is not None:
        load_optimizer_state(optimizer, ckpt, checkpoint_path)
        if ckpt["step"] < config.iterations:  # a finished run is only loaded, whatever its world size
            check_resume_world(ckpt.get("world_size"), world_size, checkpoint_path)
        result = TrainResult(list(ckpt["history"]["losses"]), list(ckpt["history"]["validation"]), ckpt["step"],
                             float(ckpt["history"].get("seconds", 0.0)))
        free = _RESUME_FREE - ({"iterations"} if config.schedule != "constant" else set())
        defaults = TrainConfig()
        changed = [f.name for f in fields(config) if f.name not in free
                   and _canon(saved.get(f.name, getattr(defaults, f.name))) != _canon(getattr(config, f.name))]
        if changed:
            warnings.warn(f"resuming {checkpoint_path} with changed {', '.join(changed)}; the run will not "
                          "match an uninterrupted one", stacklevel=2)
        for group in optimizer.param_groups:  # the config, not the checkpoint, sets the hyper-parameters
            group.update(_hyper(config))
    ckpt = None  # its copies of the weights and optimizer state are not needed any more

    def checkpoint() -> None:
        history = {"losses": result.losses, "validation": result.validation, "seconds": result.seconds}
        scheduler = {"schedule": config.schedule, "step": result.step,
                     "learning_rate": learning_rate_at(config, result.step)}
        if rank == 0:  # one writer; the file is replaced atomically
            save_checkpoint(checkpoint_path, model, optimizer, result.step, stored_config, history, scheduler,
                            world_size=world_size, training_data=training_data)
        barrier()

    def run_validation() -> None:
        model.eval()
        with torch.no_grad():
            result.validation.append({"step": result.step, **_plain(validate(model, result.step))})
        model.train()

    start = result.step
    sampler = _StepSampler(start, config.iterations, config.batch_size, len(dataset), rank, world_size)
    loader = DataLoader(dataset, batch_size=config.batch_size // world_size, sampler=sampler,
                        num_workers=config.num_workers)
    net = model
    if world_size > 1:  # gradients are averaged over the ranks in backward()
        net = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    bar = tqdm(total=config.iterations, initial=start, disable=not progress, desc="train", unit="step")
    model.train()
    clock = time.perf_counter()
    for batch in loader:
        _check_batch(batch)
        image = batch[0].to(device, torch.float32, memory_format=memory_format)  # (B, C, H_in, W_in)
        label = batch[1].to(device, torch.int64)  # (B, H_out, W_out)
        weight = batch[2].to(device, torch.float32) if len(batch) == 3 else None  # (B, H_out, W_out)
        torch.manual_seed(dropout_seed(config.seed, result.step, rank))  # dropout of step k: (seed, k, rank) only
        autocast = torch.autocast(device.type, dtype=torch.bfloat16) if use_amp else contextlib.nullcontext()
        with autocast:
            logits = net(image)  # (B, K, H_out, W_out)
        loss = weighted_cross_entropy(logits, label, weight, reduction=config.loss_reduction)
        mean_loss, bad_ranks = step_loss(loss)  # one all-reduce, before any rank enters DDP's gradient all-reduce
        if bad_ranks:
            raise FloatingPointError(_nonfinite_message(loss, result.step, bad_ranks, rank, world_size, config))
        lr = learning_rate_at(config, result.step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        result.losses.append(mean_loss)  # the global batch's loss (mean over the ranks)
        result.step += 1
        now = time.perf_counter()
        result.seconds, clock = result.seconds + now - clock, now
        bar.update(1)
        if result.step % config.log_every == 0:
            bar.set_postfix(loss=f"{result.losses[-1]:.4f}")
        last = result.step == config.iterations
        if validate is not None and rank == 0 and (last or (config.val_every and result.step % config.val_every == 0)):
            run_validation()
        if checkpoint_path is not None and (last or (config.checkpoint_every
                                                     and result.step % config.checkpoint_every == 0)):
            checkpoint()
    bar.close()
    model.eval()
    return result
