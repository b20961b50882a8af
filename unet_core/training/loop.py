"""Sec. 3: training on one large tile per step (SGD with momentum 0.99, as the paper, or Adam).

"The input images and their corresponding segmentation maps are used to train
the network with the stochastic gradient descent implementation of Caffe. [...]
we favor large input tiles over a large batch size and hence reduce the batch to
a single image. Accordingly we use a high momentum (0.99) such that a large
number of the previously seen training samples determine the update in the
current optimization step."

:func:`train` runs that loop with the loss of Eq. 1 (:mod:`unet_core.training.loss`), in stages:
the set-up (:mod:`unet_core.training.prepare`: arguments, device and processes, numerics, optimiser,
data loader), the resume policy (:mod:`unet_core.training.resume`), the step
(:func:`unet_core.training.step.train_step`) and the reads of the loss
(:class:`unet_core.training.step.LossLog`). The hyper-parameters are :class:`~unet_core.training.config.TrainConfig`.

It is deterministic and exactly resumable: step ``k`` reads the dataset items
``k * batch_size ... k * batch_size + batch_size - 1`` (modulo its length) and
reseeds torch with ``seed + k`` before the step (dropout; rank ``r`` of several processes with
:func:`unet_core.training.distributed.dropout_seed`), so a run stopped at step ``k`` and resumed from its
checkpoint ends bit-identical on CPU to an uninterrupted run. The numeric path that
``precision="auto"`` measured is stored in the checkpoint and reused on resume, so timing noise cannot
switch it. Checkpoints are handled by :mod:`unet_core.training.checkpoint`.

The hot loop does not wait for the device: the loss of each step stays there, and the losses are read
(with the non-finite check) only on logging, validation and checkpoint steps and after the last one.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from ..utils.files import plain_value
from ..utils.validation import fmt
from .checkpoint import save_checkpoint
from .config import TrainConfig, TrainResult, apply_check_cap, learning_rate_at
from .distributed import barrier
from .prepare import (
    check_arguments,
    make_loader,
    make_optimizer,
    open_device,
    resolve_numerics,
    wrap_for_ranks,
)
from .resume import open_checkpoint, restore
from .step import LossLog, train_step

__all__ = ['apply_check_cap', 'TrainConfig', 'TrainResult', 'train', 'learning_rate_at']


def _plain(metrics: dict) -> dict[str, Any]:
    """Validation results as plain python values, so that checkpoints load with weights_only=True."""
    out: dict[str, Any] = {}
    for key, value in dict(metrics).items():
        if (
            isinstance(value, (torch.Tensor, np.ndarray))
            and (value.numel() if isinstance(value, torch.Tensor) else value.size) == 1
        ):
            value = value.item()
        try:
            value = plain_value(value, f"validate()[{key!r}]")  # numpy scalars of every kind -> python ones
        except TypeError:
            pass  # an object: refused just below, with the message about validate()
        if not isinstance(value, (int, float, str, bool, type(None))):
            raise TypeError(f"validate() must return a dict of numbers or strings, got {key!r}: {fmt(value)}")
        out[str(key)] = value
    return out


def _write_checkpoint(
    path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    result: TrainResult,
    config: TrainConfig,
    stored_config: dict,
    rank: int,
    world_size: int,
    training_data: dict | None,
) -> None:
    """Rank 0 writes the checkpoint of ``result.step`` (atomically); every rank waits for it."""
    history = {"losses": result.losses, "validation": result.validation, "seconds": result.seconds}
    scheduler = {
        "schedule": config.schedule,
        "step": result.step,
        "learning_rate": learning_rate_at(config, result.step),
    }
    if rank == 0:  # one writer; the file is replaced atomically
        save_checkpoint(
            path,
            model,
            optimizer,
            result.step,
            stored_config,
            history,
            scheduler,
            world_size=world_size,
            training_data=training_data,
        )
    barrier()


def _run_validation(model: nn.Module, validate: Callable, result: TrainResult) -> None:
    """Append ``validate(model, step)`` to ``result.validation``, in eval mode without gradients."""
    model.eval()
    with torch.no_grad():
        result.validation.append({"step": result.step, **_plain(validate(model, result.step))})
    model.train()


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
        If the loss becomes NaN or infinite (lower ``learning_rate``). It is raised where the losses are
        read (the next logging, validation or checkpoint step, or the end), naming the first step whose
        loss was not finite; no validation or checkpoint sees the diverged weights. Under several
        processes every rank raises it at the same step, naming the ranks whose loss it was.

    Notes
    -----
    Caffe's momentum SGD, ``v <- m v - lr g; w <- w + v``, equals PyTorch's
    ``v <- m v + g; w <- w - lr v`` for a constant learning rate. Per step, the
    loss is :func:`~unet_core.training.loss.weighted_cross_entropy` with ``config.loss_reduction``
    (averaged over pixels by default), the learning rate is :func:`learning_rate_at`, and the
    gradient norm is clipped to ``config.grad_clip`` when that is > 0.

    No step waits for the device: the losses stay on it and are read (one transfer; under several
    processes one all-reduce, which also tells every rank whether any rank's loss was not finite)
    every ``config.log_every`` steps, on validation and checkpoint steps and after the last step.

    ``config.precision`` sets the numerics: None is bf16 autocast on CUDA and fp32 elsewhere.

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

    config, resume, progress, training_data = check_arguments(
        model, dataset, config, validate, resume, progress, training_data
    )
    device, rank, world_size = open_device(config)
    progress = progress and rank == 0
    model.to(device)
    ckpt, training_data = open_checkpoint(checkpoint_path, model, config, training_data, resume, device)
    precision = resolve_numerics(config, model, dataset, device, ckpt, rank, checkpoint_path, progress)
    model.to(device=device, memory_format=torch.channels_last if precision.channels_last else torch.contiguous_format)
    optimizer = make_optimizer(model, config)
    stored_config = {**asdict(config), "resolved_precision": {"name": precision.name, "device": device.type}}
    result = TrainResult() if ckpt is None else restore(ckpt, optimizer, config, checkpoint_path, world_size, device)
    ckpt = None  # its copies of the weights and optimizer state are not needed any more
    loader = make_loader(dataset, config, result.step, rank, world_size, device)
    net = wrap_for_ranks(model, device, world_size)
    log = LossLog(result.step, rank, world_size)
    bar = tqdm(total=config.iterations, initial=result.step, disable=not progress, desc="train", unit="step")
    model.train()
    clock = time.perf_counter()
    for batch in loader:
        log.add(train_step(net, optimizer, batch, config, result.step, device=device, precision=precision, rank=rank))
        result.step += 1
        last = result.step == config.iterations
        validating = last or (config.val_every and result.step % config.val_every == 0)
        saving = checkpoint_path is not None and (
            last or (config.checkpoint_every and result.step % config.checkpoint_every == 0)
        )
        if validating or saving or result.step % config.log_every == 0:  # the same steps on every rank
            result.losses.extend(log.read(config))  # the global batch's losses (means over the ranks)
        now = time.perf_counter()
        result.seconds, clock = result.seconds + now - clock, now
        bar.update(1)
        if result.step % config.log_every == 0:
            bar.set_postfix(loss=f"{result.losses[-1]:.4f}")
        if validate is not None and rank == 0 and validating:
            _run_validation(model, validate, result)
        if saving:
            _write_checkpoint(
                checkpoint_path, model, optimizer, result, config, stored_config, rank, world_size, training_data
            )
    result.losses.extend(log.read(config))  # nothing left unless the loader stopped early
    bar.close()
    model.eval()
    return result
