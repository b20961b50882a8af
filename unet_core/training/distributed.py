"""Training on several processes: PyTorch DistributedDataParallel, started by ``torchrun``.

``torchrun --nproc_per_node=N -m unet_core train ...`` starts N processes with ``RANK``,
``WORLD_SIZE`` and the rendezvous in their environment; :func:`unet_core.train` then joins the
process group itself (:func:`init_from_env`: NCCL on GPUs, gloo on CPUs), wraps the network in
``DistributedDataParallel`` and splits every step's **global** batch (``TrainConfig.batch_size``)
over the ranks: step ``s`` uses dataset items ``s * B .. s * B + B - 1`` as a single process would,
rank ``r`` taking its ``B / N`` consecutive ones (:func:`rank_items`). DDP averages the gradients, and
each rank's loss is a mean over its pixels, so with equal tiles the step equals the single-process
step on the whole batch (to float rounding; dropout masks are drawn per rank from
:func:`dropout_seed`, so use dropout 0 to compare curves). Only rank 0 writes checkpoints (atomically)
and they record ``world_size``; a run resumed with the same world size continues bit-identically on
the CPU. The losses stay on the device between reads: on logging, validation and checkpoint steps
and at the end, every rank reads the mean over ranks in one all-reduce, which also tells every rank
whether any rank's loss became NaN or infinite (and at which step), so all ranks stop together.
:func:`step_loss` is the same all-reduce for one step.
"""

from __future__ import annotations

import os
import warnings

import torch
import torch.distributed as dist

__all__ = [
    'init_from_env',
    'world',
    'rank_items',
    'all_mean',
    'step_loss',
    'dropout_seed',
    'broadcast_object',
    'barrier',
    'check_resume_world',
]


RANK_SEED_STRIDE = 0x9E3779B9


"""Distance between the dropout seeds of neighbouring ranks, 2**32 over the golden ratio (:func:`dropout_seed`)."""


def init_from_env(device: torch.device) -> tuple[int, int]:
    """Join the process group described by torchrun's environment, if any; return ``(rank, world_size)``.

    Without ``WORLD_SIZE`` > 1 in the environment (a plain ``python`` run) nothing happens and
    ``(0, 1)`` is returned. The backend is NCCL for CUDA devices and gloo otherwise; each CUDA rank
    uses the GPU ``LOCAL_RANK``.

    Raises
    ------
    RuntimeError
        If the environment asks for several processes but torch.distributed is unavailable.
    """
    if dist.is_available() and dist.is_initialized():
        return world()
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return 0, 1
    if not dist.is_available():
        raise RuntimeError(
            f"WORLD_SIZE={size} asks for distributed training, but this torch build has no "
            "torch.distributed; run a single process (python -m unet_core train ...)"
        )
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend=backend)
    return dist.get_rank(), dist.get_world_size()


def world() -> tuple[int, int]:
    """``(rank, world_size)`` of this process; ``(0, 1)`` outside a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def rank_items(step: int, batch_size: int, rank: int, world_size: int, length: int) -> list[int]:
    """Dataset indices that ``rank`` uses at ``step`` (its consecutive share of the global batch).

    Parameters
    ----------
    step, batch_size : int
        The step and the global batch; ``batch_size`` must be divisible by ``world_size``.
    rank, world_size : int
    length : int
        Dataset length (indices wrap around).

    Returns
    -------
    list of int

    Raises
    ------
    ValueError
        If ``batch_size`` is not divisible by ``world_size``.

    Examples
    --------
    >>> rank_items(3, 4, 1, 2, 100), rank_items(3, 4, 0, 1, 100)
    ([14, 15], [12, 13, 14, 15])
    """
    if batch_size % world_size:
        raise ValueError(
            f"TrainConfig.batch_size={batch_size} (the global batch) must be divisible by the number "
            f"of processes, {world_size}; use batch_size={world_size * max(1, batch_size // world_size)}"
            f" or --nproc_per_node dividing {batch_size}"
        )
    per = batch_size // world_size
    first = step * batch_size + rank * per
    return [i % length for i in range(first, first + per)]


def all_mean(value: torch.Tensor) -> torch.Tensor:
    """Mean of a scalar tensor over the ranks (the value itself outside a process group)."""
    rank, size = world()
    if size == 1:
        return value
    out = value.detach().clone()
    dist.all_reduce(out)
    return out / size


def step_loss(loss: torch.Tensor) -> tuple[float, list[int]]:
    """Mean of this step's loss over the ranks and the ranks whose loss is NaN or infinite.

    Parameters
    ----------
    loss : torch.Tensor
        This rank's scalar loss (float32).

    Returns
    -------
    mean : float
        ``loss.item()`` in a single process; else the sum over the ranks divided by their number
        (NaN or infinite when some rank's is).
    bad_ranks : list of int
        The ranks whose loss is not finite (``[0]`` or ``[]`` in a single process).

    Notes
    -----
    Under a process group this is one ``all_reduce`` of the vector ``(loss, f_0, ..., f_{N-1})``,
    with ``f_r = 1`` on rank ``r`` when its loss is not finite and 0 elsewhere, so every rank learns
    the same mean and the same list in one collective. Call it before ``backward()``: a rank that
    stops there keeps the others from waiting in the gradient all-reduce.

    Examples
    --------
    >>> step_loss(torch.tensor(0.5)), step_loss(torch.tensor(float("nan")))
    ((0.5, []), (nan, [0]))
    """
    rank, size = world()
    if size == 1:
        return loss.item(), ([] if bool(torch.isfinite(loss)) else [0])
    stats = torch.zeros(size + 1, dtype=loss.dtype, device=loss.device)
    stats[0] = loss.detach()
    stats[rank + 1] = (~torch.isfinite(loss.detach())).to(loss.dtype)
    dist.all_reduce(stats)
    flags = stats[1:].tolist()
    return (stats[0] / size).item(), [r for r in range(size) if flags[r] != 0]  # divided in the loss's dtype


def dropout_seed(seed: int, step: int, rank: int = 0) -> int:
    """Seed of the dropout masks that ``rank`` draws at ``step``: ``(seed + step + rank * 0x9E3779B9) mod 2**64``.

    Rank 0 keeps ``seed + step`` (a single process's seed); every other rank draws its own masks for
    its own tiles.

    Parameters
    ----------
    seed : int
        ``TrainConfig.seed``.
    step : int
        Completed steps before this one.
    rank : int
        This process's rank (0 in a single process).

    Returns
    -------
    int
        A seed for ``torch.manual_seed``.

    Notes
    -----
    The CPU generator (mt19937) takes only the low 32 bits of the seed, so the ranks must differ
    there: the stride ``0x9E3779B9`` (``2**32`` over the golden ratio) is odd, so ``(r - r') * stride``
    is never a multiple of ``2**32`` and all ranks' seeds differ at every step on every device. A
    rank's seed meets another's only at steps more than ``3 * 10**8`` apart for up to 8 ranks
    (the multiples of the golden ratio are spread evenly over ``2**32``).

    Examples
    --------
    >>> dropout_seed(0, 3), dropout_seed(0, 3, rank=1)
    (3, 2654435772)
    """
    return (seed + step + rank * RANK_SEED_STRIDE) % 2**64


def broadcast_object(value):
    """Rank 0's ``value`` on every rank (``value`` itself outside a process group); a picklable object."""
    if world()[1] == 1:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier() -> None:
    """Wait for every rank (nothing outside a process group)."""
    if world()[1] > 1:
        dist.barrier()


def check_resume_world(saved: int | None, world_size: int, path) -> None:
    """Warn when a checkpoint is resumed with another number of processes.

    Every step still sees the same tiles (the batch is global), but the sums are reduced in another
    order and dropout masks are drawn per rank, so the run is no longer bit-identical to one that
    kept its world size.
    """

    saved = 1 if saved is None else saved
    if saved != world_size:
        warnings.warn(
            f"checkpoint {str(path)!r} was written with world_size={saved}, this run has world_size="
            f"{world_size}: the steps see the same tiles but will not be bit-identical to an "
            f"uninterrupted run; resume with --nproc_per_node={saved} for that",
            stacklevel=3,
        )
