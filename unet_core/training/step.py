"""Sec. 3 and Eq. 1: one training step, and reading the losses of the steps without stalling the device.

:func:`train_step` runs the forward pass, the loss of Eq. 1, the backward pass and the optimiser step and
returns the loss as a tensor on the device: nothing in it reads a device value on the host, so on a GPU
the host queues step after step while the device works. The tiles were checked when they were made
(``TrainingTiles`` / ``sample_training_tile``), so the loss is taken without its value checks
(``weighted_cross_entropy(..., check=False)``).

:class:`LossLog` keeps the losses of the steps since the last read on the device and reads them
(one transfer; under several processes one all-reduce) where the loop needs them: on logging,
validation and checkpoint steps and after the last step. The non-finite check happens there: the read
raises ``FloatingPointError`` naming the first step whose loss was NaN or infinite, on every rank at
once, before any checkpoint or validation sees the diverged weights.
"""

from __future__ import annotations

import contextlib
import math

import torch
from torch import nn

from ..inference.precision import Precision
from ..utils.validation import fmt
from .config import TrainConfig, learning_rate_at
from .distributed import all_mean, dropout_seed
from .loss import weighted_cross_entropy

__all__ = ['check_batch', 'train_step', 'nonfinite_message', 'LossLog']


def check_batch(batch) -> None:
    """Refuse a collated batch that is not (image (B, C, H, W), label (B, H, W)[, weight (B, H, W)]).

    Parameters
    ----------
    batch : list or tuple of tensors
        What the data loader yields for one step.

    Raises
    ------
    ValueError
        Naming the layout an item must have and the one it has (shapes only: no value is read).

    Examples
    --------
    >>> check_batch([torch.zeros(1, 1, 4, 4), torch.zeros(1, 4)])
    Traceback (most recent call last):
    ...
    ValueError: dataset items must be (image (C, H_in, W_in), label (H_out, W_out)) or (image, label, weight (H_out, W_out)) arrays or tensors, got an item (Tensor of shape (1, 4, 4) and dtype torch.float32, Tensor of shape (4,) and dtype torch.float32)
    """
    ok = isinstance(batch, (list, tuple)) and len(batch) in (2, 3) and all(isinstance(b, torch.Tensor) for b in batch)
    if not ok or batch[0].ndim != 4 or any(b.ndim != 3 for b in batch[1:]):
        got = (
            "(" + ", ".join(fmt(b[0]) if isinstance(b, torch.Tensor) and b.ndim else fmt(b) for b in batch) + ")"
            if isinstance(batch, (list, tuple))
            else fmt(batch)
        )
        raise ValueError(
            "dataset items must be (image (C, H_in, W_in), label (H_out, W_out)) or (image, label, "
            f"weight (H_out, W_out)) arrays or tensors, got an item {got}"
        )


def train_step(
    net: nn.Module,
    optimizer: torch.optim.Optimizer,
    batch,
    config: TrainConfig,
    step: int,
    *,
    device: torch.device,
    precision: Precision,
    rank: int = 0,
) -> torch.Tensor:
    """One SGD (or Adam) step on a batch with the loss of Eq. 1; the loss stays on the device.

    Parameters
    ----------
    net : nn.Module
        The network (in ``DistributedDataParallel`` under several processes), in training mode, on ``device``.
    optimizer : torch.optim.Optimizer
        Over ``net``'s parameters; its learning rate is set to :func:`learning_rate_at` of ``step``.
    batch : list of tensors
        ``(image (B, C, H_in, W_in), label (B, H_out, W_out)[, weight (B, H_out, W_out)])`` on the host.
    config : TrainConfig
        ``seed``, ``loss_reduction``, ``grad_clip`` and the schedule.
    step : int
        Completed steps before this one: the seed of its dropout masks and its learning rate.
    device : torch.device
    precision : Precision
        bf16 autocast of the forward pass or not, and the memory layout of the images.
    rank : int
        This process's rank (its dropout masks, :func:`~unet_core.training.distributed.dropout_seed`).

    Returns
    -------
    torch.Tensor
        This rank's loss, a detached 0-d float32 tensor on ``device`` (not read: reading waits for the device).

    Raises
    ------
    ValueError
        If the batch has the wrong layout (:func:`check_batch`), or (on a CPU) a label lies outside
        ``[0, K)``; on CUDA such a label stops the process with a device-side assert instead. Label
        values and weights are not otherwise checked here: reading them would wait for the device.

    Notes
    -----
    The loss is Eq. 1, ``-E = -sum_x w(x) log p_{l(x)}(x)``, divided by the pixels of the batch for
    ``loss_reduction="mean"``. Caffe's momentum SGD, ``v <- m v - lr g; w <- w + v``, equals PyTorch's
    ``v <- m v + g; w <- w - lr v`` for a constant learning rate. The gradient's global 2-norm is
    clipped to ``config.grad_clip`` when that is > 0.

    Examples
    --------
    >>> from unet_core.inference.precision import PRECISIONS
    >>> net = torch.nn.Conv2d(1, 2, 1)
    >>> opt = torch.optim.SGD(net.parameters(), lr=0.1)
    >>> batch = [torch.zeros(1, 1, 4, 4), torch.zeros(1, 4, 4, dtype=torch.int64)]
    >>> loss = train_step(net, opt, batch, TrainConfig(), 0, device=torch.device("cpu"), precision=PRECISIONS["fp32"])
    >>> loss.shape, loss.requires_grad
    (torch.Size([]), False)
    """
    check_batch(batch)
    memory_format = torch.channels_last if precision.channels_last else torch.contiguous_format
    image = batch[0].to(device, torch.float32, memory_format=memory_format, non_blocking=True)  # (B, C, H_in, W_in)
    label = batch[1].to(device, torch.int64, non_blocking=True)  # (B, H_out, W_out)
    weight = batch[2].to(device, torch.float32, non_blocking=True) if len(batch) == 3 else None  # (B, H_out, W_out)
    torch.manual_seed(dropout_seed(config.seed, step, rank))  # dropout of step k: (seed, k, rank) only
    autocast = (
        torch.autocast(device.type, dtype=precision.dtype) if precision.dtype is not None else contextlib.nullcontext()
    )
    with autocast:
        logits = net(image)  # (B, K, H_out, W_out)
    # the tiles were checked when they were made: no value checks, which would each wait for the device
    try:
        loss = weighted_cross_entropy(logits, label, weight, reduction=config.loss_reduction, check=False)
    except (IndexError, RuntimeError) as exc:  # a label outside [0, K) meets gather (on a CPU; CUDA asserts)
        if "out of bounds" not in str(exc):
            raise
        k = logits.shape[1]
        raise ValueError(
            f"dataset labels must lie in [0, {k - 1}] for the network's {k} classes, but step {step} "
            f"has one outside ({exc}); check the label encoding of the dataset (TrainingTiles checks "
            "it when the tiles are made)"
        ) from exc
    lr = learning_rate_at(config, step)
    for group in optimizer.param_groups:
        group["lr"] = lr
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if config.grad_clip > 0:
        nn.utils.clip_grad_norm_(net.parameters(), config.grad_clip)
    optimizer.step()
    return loss.detach()


def nonfinite_message(
    value: float, step: int, bad_ranks: list[int], rank: int, world_size: int, config: TrainConfig
) -> str:
    """What ``train`` says when the loss of ``step`` is NaN or infinite on ``bad_ranks``.

    Parameters
    ----------
    value : float
        This rank's loss at ``step``.
    step : int
        The first step whose loss was not finite.
    bad_ranks : list of int
        The ranks whose loss it was.
    rank, world_size : int
    config : TrainConfig
        Its learning rate is named in the fix.

    Returns
    -------
    str

    Examples
    --------
    >>> nonfinite_message(float("nan"), 4, [0], 0, 1, TrainConfig())
    'the loss became nan at step 4; lower learning_rate (now 0.001), set grad_clip or check the data'
    """
    fix = f"lower learning_rate (now {config.learning_rate}), set grad_clip or check the data"
    if world_size == 1:
        return f"the loss became {value} at step {step}; {fix}"
    which = f"rank{'s' if len(bad_ranks) > 1 else ''} {', '.join(map(str, bad_ranks))}"
    return (
        f"the loss became non-finite at step {step} on {which} of {world_size} processes (this is rank {rank}, "
        f"its loss {value}); every rank stops at this step; {fix}"
    )


class LossLog:
    """The losses of the steps since the last read, on the device; read where the loop needs them.

    Parameters
    ----------
    first_step : int
        The step of the first loss to be added.
    rank, world_size : int
        This process's rank and the number of processes (every rank must read at the same steps).

    Examples
    --------
    >>> log = LossLog(first_step=3)
    >>> for value in (0.5, 0.25):
    ...     log.add(torch.tensor(value))
    >>> log.read(TrainConfig()), log.read(TrainConfig())
    ([0.5, 0.25], [])
    >>> log.add(torch.tensor(1.0)); log.add(torch.tensor(float("inf")))
    >>> log.read(TrainConfig())
    Traceback (most recent call last):
    ...
    FloatingPointError: the loss became inf at step 6; lower learning_rate (now 0.001), set grad_clip or check the data
    """

    def __init__(self, first_step: int = 0, rank: int = 0, world_size: int = 1) -> None:
        self.first_step, self.rank, self.world_size = first_step, rank, world_size
        self.pending: list[torch.Tensor] = []

    def add(self, loss: torch.Tensor) -> None:
        """Keep one step's 0-d loss tensor (nothing is read)."""
        self.pending.append(loss)

    def read(self, config: TrainConfig) -> list[float]:
        """The losses kept since the last read, as floats (under several processes their means over the ranks).

        Parameters
        ----------
        config : TrainConfig
            Named in the message of a non-finite loss.

        Returns
        -------
        list of float
            One per step added (empty, without touching the device, when none was).

        Raises
        ------
        FloatingPointError
            If a loss is NaN or infinite on some rank: every rank raises, naming the first such step and
            the ranks whose loss it was.

        Notes
        -----
        One host transfer per read; under a process group one ``all_reduce`` of the ``(1 + N, n)`` matrix
        whose row 0 holds this rank's ``n`` losses and row ``1 + r`` is 1 where rank ``r``'s loss is not
        finite, divided by ``N`` (the mean loss, in the loss's dtype, as
        :func:`~unet_core.training.distributed.step_loss` reduces one step).
        """
        if not self.pending:
            return []
        first, losses = self.first_step, torch.stack(self.pending)  # (n,)
        self.first_step, self.pending, n = first + len(self.pending), [], len(self.pending)
        if self.world_size == 1:
            means = own = losses.tolist()
            flags = [[0.0 if math.isfinite(v) else 1.0 for v in own]]
        else:
            stats = torch.zeros(self.world_size + 1, n, dtype=losses.dtype, device=losses.device)
            stats[0] = losses
            stats[self.rank + 1] = (~torch.isfinite(losses)).to(losses.dtype)
            values = torch.cat([all_mean(stats).flatten(), losses]).tolist()
            means, own = values[:n], values[-n:]
            flags = [values[(r + 1) * n : (r + 2) * n] for r in range(self.world_size)]
        for j in range(n):
            bad_ranks = [r for r, row in enumerate(flags) if row[j] != 0]
            if bad_ranks:
                raise FloatingPointError(
                    nonfinite_message(own[j], first + j, bad_ranks, self.rank, self.world_size, config)
                )
        return means
