"""Sec. 3: setting up a training run: the arguments, the device and processes, the numerics, the
optimiser and the data loader of :func:`unet_core.training.loop.train`.

Step ``k`` reads the dataset items ``k * batch_size ... k * batch_size + batch_size - 1`` (modulo its
length; rank ``r`` of several processes its consecutive share, :func:`unet_core.training.distributed.rank_items`),
so the loader of a resumed run starts at its step and reads what an uninterrupted run would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ..inference import precision as precision_module
from ..inference.precision import PRECISIONS, Precision, candidates, warn_if_slow
from ..models.unet import check_module
from ..utils.files import plain_value
from ..utils.system import resolve_device
from ..utils.validation import check_bool, fmt
from .config import TrainConfig, apply_check_cap, effective_precision
from .distributed import broadcast_object, init_from_env, rank_items

__all__ = [
    'check_arguments',
    'open_device',
    'resolve_numerics',
    'stored_precision',
    'make_optimizer',
    'optimizer_hyper',
    'StepSampler',
    'make_loader',
    'wrap_for_ranks',
]


def check_arguments(
    model: nn.Module,
    dataset: Dataset,
    config: TrainConfig | None,
    validate: Callable | None,
    resume: bool,
    progress: bool,
    training_data: dict | None,
) -> tuple[TrainConfig, bool, bool, Any]:
    """The arguments of :func:`~unet_core.training.loop.train`, checked; ``config`` under ``$UNET_CHECK_CAP``.

    Parameters
    ----------
    model, dataset, config, validate, resume, progress, training_data
        As for :func:`~unet_core.training.loop.train`.

    Returns
    -------
    config : TrainConfig
        The given one (``TrainConfig()`` for None) after :func:`~unet_core.training.config.apply_check_cap`.
    resume, progress : bool
    training_data : dict or None
        As plain values (numpy scalars become python ones).

    Raises
    ------
    TypeError, ValueError
        As :func:`~unet_core.training.loop.train` documents.

    Examples
    --------
    >>> import torch
    >>> check_arguments(torch.nn.Conv2d(1, 2, 1), [], None, None, True, False, None)
    Traceback (most recent call last):
    ...
    ValueError: dataset is empty; train needs at least one (image, label, weight) item
    """
    config = apply_check_cap(TrainConfig() if config is None else config)  # $UNET_CHECK_CAP: a few small steps
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {fmt(config)}")
    if validate is not None and not callable(validate):
        raise TypeError(f"validate must be a callable validate(model, step) -> dict or None, got {fmt(validate)}")
    check_module(model)
    if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")) or isinstance(dataset, (str, bytes)):
        raise TypeError(
            f"dataset must be a torch Dataset or a list of (image, label[, weight]) items, got {fmt(dataset)}"
        )
    resume, progress = check_bool(resume, "resume"), check_bool(progress, "progress")
    if training_data is not None and not isinstance(training_data, dict):
        raise TypeError(
            f"training_data must be a dict describing the training data (e.g. {{'dataset': "
            f"'phc-u373', 'truth': 'gt'}}) or None, got {fmt(training_data)}"
        )
    training_data = None if training_data is None else plain_value(training_data, "training_data")
    if len(dataset) == 0:
        raise ValueError("dataset is empty; train needs at least one (image, label, weight) item")
    return config, resume, progress, training_data


def open_device(config: TrainConfig) -> tuple[torch.device, int, int]:
    """``(device, rank, world_size)``: ``config.device`` resolved; under torchrun the process group joined.

    Parameters
    ----------
    config : TrainConfig

    Returns
    -------
    device : torch.device
        With its index under torchrun on CUDA (``LOCAL_RANK``'s GPU).
    rank, world_size : int
        ``(0, 1)`` for a single process.

    Raises
    ------
    ValueError
        If the device is not available, or the global batch does not split evenly over the processes.

    Examples
    --------
    >>> open_device(TrainConfig(device="cpu"))
    (device(type='cpu'), 0, 1)
    """
    device = resolve_device(config.device)
    rank, world_size = init_from_env(device)  # torchrun: join the process group (gloo on CPU, NCCL on GPU)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())  # LOCAL_RANK's GPU under torchrun
    rank_items(0, config.batch_size, rank, world_size, 1)  # the global batch must split evenly over the ranks
    return device, rank, world_size


def stored_precision(ckpt: dict | None, device: torch.device) -> str | None:
    """The numeric path a checkpoint trained with, if this device can take it unmeasured; else None.

    Parameters
    ----------
    ckpt : dict or None
        A loaded checkpoint (its ``train_config["resolved_precision"]``).
    device : torch.device

    Returns
    -------
    str or None
        A name of :data:`~unet_core.inference.precision.PRECISIONS` that this device offers, recorded on
        the same device type; None otherwise.

    Examples
    --------
    >>> stored_precision({"train_config": {"resolved_precision": {"name": "fp32", "device": "cpu"}}},
    ...                  torch.device("cpu"))
    'fp32'
    >>> stored_precision(None, torch.device("cpu")) is None
    True
    """
    stored = (ckpt or {}).get("train_config", {}).get("resolved_precision")
    if not isinstance(stored, dict) or stored.get("device") != device.type:
        return None
    name = stored.get("name")
    return name if name in {p.name for p in candidates(device)} else None


def resolve_numerics(
    config: TrainConfig,
    model: nn.Module,
    dataset,
    device: torch.device,
    ckpt: dict | None,
    rank: int,
    path,
    progress: bool,
) -> Precision:
    """The numeric path of the run: ``config.precision`` resolved on ``device``.

    Parameters
    ----------
    config : TrainConfig
    model : nn.Module
        Timed by ``precision="auto"``.
    dataset : Dataset
        Its item 0 gives ``"auto"`` the tile size and channels.
    device : torch.device
    ckpt : dict or None
        The checkpoint being resumed, whose stored choice ``"auto"`` reuses.
    rank : int
        Only rank 0 measures; every rank takes its choice.
    path : path or None
        The checkpoint's path (for the message).
    progress : bool
        Print what ``"auto"`` chose.

    Returns
    -------
    Precision
        None: ``"bf16"`` on CUDA, else ``"fp32"``. ``"auto"``: the checkpoint's stored choice (same device
        type, a path this device offers), else rank 0's measurement. A name: that path (warning where
        bf16 is emulated).

    Examples
    --------
    >>> net = torch.nn.Conv2d(1, 2, 1)
    >>> resolve_numerics(TrainConfig(), net, [], torch.device("cpu"), None, 0, None, False).name
    'fp32'
    """
    if config.precision is None:
        return PRECISIONS[effective_precision(None, device.type)]
    auto = config.precision == "auto"
    stored = stored_precision(ckpt, device) if auto else None
    if stored is not None:
        chosen = PRECISIONS[stored]
        if progress:
            print(f"precision='auto': {stored}, as measured when {str(path)!r} was started (not measured again)")
    elif auto and rank > 0:
        chosen = None  # rank 0 measures; timing noise must not give the ranks different numerics
    elif auto:
        sample = dataset[0][0]  # (C, H_in, W_in)
        choice = precision_module.choose_precision(
            model, device, int(sample.shape[-1]), train=True, in_channels=int(sample.shape[0])
        )
        chosen = choice.precision
        if progress:
            print(choice)
    else:
        chosen = PRECISIONS[config.precision]
        warn_if_slow(chosen.dtype, device)
    if auto and stored is None:
        chosen = PRECISIONS[broadcast_object(None if chosen is None else chosen.name)]
    return chosen


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """``config.optimizer`` over the parameters of ``model``: SGD with momentum (the paper), Adam or AdamW.

    Parameters
    ----------
    model : nn.Module
    config : TrainConfig

    Returns
    -------
    torch.optim.Optimizer

    Examples
    --------
    >>> type(make_optimizer(torch.nn.Conv2d(1, 2, 1), TrainConfig(optimizer="adamw"))).__name__
    'AdamW'
    """
    params = model.parameters()
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=config.learning_rate, momentum=config.momentum, weight_decay=config.weight_decay
        )
    cls = torch.optim.Adam if config.optimizer == "adam" else torch.optim.AdamW
    return cls(params, lr=config.learning_rate, betas=config.betas, weight_decay=config.weight_decay)


def optimizer_hyper(config: TrainConfig) -> dict:
    """The optimizer hyper-parameters that the config (not a resumed checkpoint) decides.

    Parameters
    ----------
    config : TrainConfig

    Returns
    -------
    dict
        ``momentum`` and ``weight_decay`` for SGD, ``betas`` and ``weight_decay`` for Adam(W).

    Examples
    --------
    >>> optimizer_hyper(TrainConfig())
    {'momentum': 0.99, 'weight_decay': 0.0}
    """
    if config.optimizer == "sgd":
        return {"momentum": config.momentum, "weight_decay": config.weight_decay}
    return {"betas": config.betas, "weight_decay": config.weight_decay}


class StepSampler(torch.utils.data.Sampler):
    """Dataset indices of steps ``start .. stop-1``: this rank's share of ``batch_size`` consecutive ones per step.

    Parameters
    ----------
    start, stop : int
        The first step and the step after the last.
    batch_size : int
        The global batch.
    length : int
        The dataset's length (indices wrap around).
    rank, world_size : int

    Examples
    --------
    >>> list(StepSampler(1, 3, 2, 3))
    [2, 0, 1, 2]
    """

    def __init__(self, start: int, stop: int, batch_size: int, length: int, rank: int = 0, world_size: int = 1) -> None:
        self.start, self.stop, self.batch_size, self.length = start, stop, batch_size, length
        self.rank, self.world_size = rank, world_size

    def __iter__(self):
        return (
            i
            for step in range(self.start, self.stop)
            for i in rank_items(step, self.batch_size, self.rank, self.world_size, self.length)
        )

    def __len__(self) -> int:
        return (self.stop - self.start) * (self.batch_size // self.world_size)


def make_loader(
    dataset: Dataset, config: TrainConfig, start: int, rank: int, world_size: int, device: torch.device
) -> DataLoader:
    """The batches of steps ``start .. config.iterations - 1`` for this rank.

    Parameters
    ----------
    dataset : Dataset
    config : TrainConfig
        ``batch_size`` (global), ``iterations`` and ``num_workers``.
    start : int
        The first step (the resumed one).
    rank, world_size : int
    device : torch.device
        On CUDA the batches come in pinned memory, so that their copies to the GPU do not wait.

    Returns
    -------
    DataLoader

    Examples
    --------
    >>> data = [(torch.zeros(1, 4, 4), torch.zeros(4, 4, dtype=torch.int64))] * 3
    >>> len(make_loader(data, TrainConfig(iterations=5), 2, 0, 1, torch.device("cpu")))
    3
    """
    sampler = StepSampler(start, config.iterations, config.batch_size, len(dataset), rank, world_size)
    return DataLoader(
        dataset,
        batch_size=config.batch_size // world_size,
        sampler=sampler,
        num_workers=config.num_workers,
        pin_memory=device.type == "cuda",
    )


def wrap_for_ranks(model: nn.Module, device: torch.device, world_size: int) -> nn.Module:
    """``model`` itself in a single process, else in ``DistributedDataParallel`` (gradients averaged in backward).

    Parameters
    ----------
    model : nn.Module
        On ``device`` already.
    device : torch.device
    world_size : int

    Returns
    -------
    nn.Module

    Examples
    --------
    >>> net = torch.nn.Conv2d(1, 2, 1)
    >>> wrap_for_ranks(net, torch.device("cpu"), 1) is net
    True
    """
    if world_size == 1:
        return model
    return nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
