"""Training checkpoints (Sec. 3): save, load and rebuild a model, safely and atomically.

A checkpoint is a ``torch.save`` of a dict holding only tensors and plain python
values, so it loads with ``torch.load(..., weights_only=True)`` (no pickled code
runs). It is written through a temporary file and renamed, so an interrupted
save never leaves a truncated checkpoint behind. Keys:

``format``          ``"unet_core.training.checkpoint"`` and ``version`` (1)
``step``            number of completed SGD steps
``model_state``     ``model.state_dict()`` (on the CPU)
``model_config``    ``model.config`` (the constructor arguments of ``UNet`` or ``FusionNet``) or None
``model``           the network's registry name (``"unet"``, ``"fusionnet"``, see
                    :func:`unet_core.build_model`) or None; absent in older checkpoints (= ``"unet"``)
``optimizer_state`` ``optimizer.state_dict()`` (momentum buffers) or None
``train_config``    ``dataclasses.asdict(TrainConfig)``; :func:`unet_core.train` adds
                    ``resolved_precision``: ``{"name": <a unet_core.inference.precision.PRECISIONS name>,
                    "device": <device type>}``, the numeric path it trained with (for
                    ``precision="auto"`` the measured choice, reused on resume on that device type)
``history``         ``{"losses": [float, ...], "validation": [dict, ...]}``
``scheduler_state`` ``{"schedule": str, "step": int, "learning_rate": float}`` or None (the
                    schedule is a function of the step, see ``unet_core.training.loop.learning_rate_at``)
``world_size``      number of processes that trained it (``torchrun``, :mod:`unet_core.training.distributed`;
                    1 for a single process; absent in older checkpoints)
``training_data``   provenance of the training data as plain values, e.g. ``{"dataset": "phc-u373",
                    "truth": "gt", "train_frames": ["02/010", ...]}``, or None (not given; older
                    checkpoints lack the key and :func:`load_checkpoint` returns None for it).
                    :func:`unet_core.train` refuses to resume a checkpoint with other training data.
"""

from __future__ import annotations

import dataclasses
import errno
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..models.registry import MODEL_NAMES, build_model, model_name, model_spec
from ..utils.files import atomic_write, plain_value
from ..utils.validation import check_int, fmt

__all__ = ['save_checkpoint', 'load_checkpoint', 'model_from_checkpoint']


FORMAT = "unet_core.checkpoint"  # the stored format name (kept from the first release)


VERSION = 1


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    step: int = 0,
    config: Any = None,
    history: dict | None = None,
    scheduler: dict | None = None,
    world_size: int = 1,
    training_data: dict | None = None,
) -> Path:
    """Write a checkpoint of ``model`` (and ``optimizer``) to ``path`` atomically.

    Parameters
    ----------
    path : path
        Destination file (parent folders are created).
    model : nn.Module
        Model whose ``state_dict`` (and ``config``, if it has one) is stored.
    optimizer : torch Optimizer or None
        Optimizer whose state (momentum buffers) is stored, for exact resumption.
    step : int
        Number of completed training steps.
    config : TrainConfig, dict or None
        Training hyper-parameters (a dataclass is stored as a dict).
    history : dict or None
        ``{"losses": [...], "validation": [...]}`` of plain python values.
    scheduler : dict or None
        Learning-rate schedule state (plain values), stored as ``scheduler_state``.
    world_size : int
        Number of training processes that wrote it (``torchrun``; 1 for a single process).
    training_data : dict or None
        Where the training data came from, e.g. ``{"dataset": "phc-u373", "truth": "gt",
        "train_frames": ["02/010", ...]}`` (plain values), stored as ``training_data``.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    TypeError
        If an argument has the wrong type, or ``history``/``config``/``scheduler``/``training_data``
        hold values that are not plain numbers, strings, lists or dicts (numpy scalars of every
        kind and arrays are converted to python values, so the file loads with ``weights_only=True``).
    ValueError
        If ``step < 0``.
    OSError
        ``IsADirectoryError`` if ``path`` is a folder, others if it cannot be written; the
        file at ``path`` is then left as it was.

    Examples
    --------
    >>> import tempfile, torch
    >>> path = Path(tempfile.mkdtemp()) / "net.pt"
    >>> _ = save_checkpoint(path, torch.nn.Conv2d(1, 2, 1), step=3)
    >>> load_checkpoint(path)["step"]
    3
    """

    path = _check_path(path)
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module (e.g. unet_core.UNet()), got {fmt(model)}")
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer or None, got {fmt(optimizer)}")
    step = check_int(step, "step", 0, fix="the number of completed training steps")
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        config = dataclasses.asdict(config)
    for name, value in (
        ("config", config),
        ("history", history),
        ("scheduler", scheduler),
        ("training_data", training_data),
    ):
        if value is not None and not isinstance(value, dict):
            raise TypeError(
                f"{name} must be a dict (or None{', or a TrainConfig' if name == 'config' else ''}), got {fmt(value)}"
            )
    if path.is_dir():
        raise IsADirectoryError(
            errno.EISDIR, f"path {str(path)!r} is a folder; give a file name such as {str(path / 'model.pt')!r}"
        )
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "step": step,
        "model_state": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "model_config": dict(model.config) if isinstance(getattr(model, "config", None), dict) else None,
        "model": _model_name(model),
        "optimizer_state": None if optimizer is None else optimizer.state_dict(),
        "train_config": plain_value(config or {}, "config"),
        "history": plain_value(history, "history") if history else {"losses": [], "validation": []},
        "scheduler_state": None if scheduler is None else plain_value(scheduler, "scheduler"),
        "training_data": None if training_data is None else plain_value(training_data, "training_data"),
        "world_size": check_int(world_size, "world_size", 1, fix="the number of training processes"),
    }
    return atomic_write(path, lambda tmp: torch.save(payload, tmp))


def _check_path(path) -> Path:
    if not isinstance(path, (str, os.PathLike)) or (isinstance(path, str) and not path):
        raise TypeError(f"path must be a file path (str or pathlib.Path), got {fmt(path)}")
    return Path(path)


def _check_map_location(map_location) -> None:
    """Refuse a device that does not exist here, naming ``map_location`` (not the file)."""
    if map_location is None or isinstance(map_location, dict) or callable(map_location):
        return
    if not isinstance(map_location, (str, torch.device)):
        raise TypeError(
            f"map_location must be a device such as 'cpu' or 'cuda:0', a torch.device, a dict or None, "
            f"got {fmt(map_location)}"
        )
    try:
        dev = torch.device(map_location)
    except RuntimeError:
        raise ValueError(
            f"map_location={map_location!r} is not a device; use 'cpu', 'cuda', 'cuda:0' or 'mps'"
        ) from None
    if dev.type == "cuda" and (not torch.cuda.is_available() or (dev.index or 0) >= torch.cuda.device_count()):
        have = f"{torch.cuda.device_count()} CUDA device(s)" if torch.cuda.is_available() else "no CUDA"
        raise ValueError(
            f"map_location={map_location!r} names a GPU this machine does not have ({have}); use map_location='cpu'"
        )
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(f"map_location={map_location!r}: MPS is not available here; use map_location='cpu'")


def _model_name(model) -> str | None:

    return model_name(model)


def _stored_name(ckpt: dict) -> str | None:
    """The registry name a checkpoint records; checkpoints older than the entry hold a UNet."""
    if "model" in ckpt:
        return ckpt["model"]
    return "unet" if isinstance(ckpt.get("model_config"), dict) else None


def _class_name(name: str | None) -> str:

    return model_spec(name).cls.__name__ if name in MODEL_NAMES else "UNet"


def _config_mismatch(path, saved: dict, current: dict, name: str | None = None) -> ValueError:
    diff = ", ".join(
        f"{key}: checkpoint {saved.get(key)!r} vs model {current.get(key)!r}"
        for key in sorted(set(saved) | set(current))
        if saved.get(key) != current.get(key)
    )
    args = ", ".join(f"{k}={v!r}" for k, v in saved.items())
    return ValueError(
        f"checkpoint {str(path)!r} was saved from a model of another configuration ({diff}); "
        f"build the model with {_class_name(name)}({args}) or use model_from_checkpoint({str(path)!r})"
    )


def load_checkpoint(
    path: str | os.PathLike,
    model: nn.Module | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    map_location: str | torch.device | None = "cpu",
) -> dict[str, Any]:
    """Read a checkpoint, optionally restoring ``model`` and ``optimizer`` in place.

    Parameters
    ----------
    path : path
        File written by :func:`save_checkpoint`.
    model : nn.Module or None
        Receives the stored weights; its ``config`` must equal the stored one.
    optimizer : torch Optimizer or None
        Receives the stored optimizer state (if any).
    map_location : str, torch.device or None
        Where the stored tensors are loaded (see ``torch.load``).

    Returns
    -------
    dict
        The checkpoint (keys listed in the module docstring); ``training_data`` is None for
        checkpoints written without it.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist (``IsADirectoryError`` if it is a folder).
    TypeError
        If ``path``, ``model``, ``optimizer`` or ``map_location`` has the wrong type.
    ValueError
        If the file is not a (complete) unet_core checkpoint, ``map_location`` names a device this
        machine lacks, or ``model``/``optimizer`` do not fit (the message names the differing
        fields and how to build a matching model).
    """
    path = _check_path(path)
    if model is not None and not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module or None, got {fmt(model)}")
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer or None, got {fmt(optimizer)}")
    _check_map_location(map_location)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, f"checkpoint {str(path)!r} is a folder, not a checkpoint file")
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist; train one with 'unet-core train'")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # unpickling errors have many types
        raise ValueError(f"{str(path)!r} is not a readable unet_core checkpoint ({type(exc).__name__}: {exc})") from exc
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ValueError(f"{str(path)!r} is not a unet_core checkpoint (no format={FORMAT!r} entry)")
    if ckpt.get("version", 0) > VERSION:
        raise ValueError(f"checkpoint {str(path)!r} has version {ckpt['version']}; upgrade unet_core to read it")
    if model is not None:
        stored, this = _stored_name(ckpt), _model_name(model)
        if stored is not None and this is not None and stored != this:
            raise ValueError(
                f"checkpoint {str(path)!r} holds a {_class_name(stored)}, not a {type(model).__name__}; "
                f"use model_from_checkpoint({str(path)!r}) to rebuild the stored network"
            )
        saved, current = ckpt.get("model_config"), getattr(model, "config", None)
        if isinstance(saved, dict) and isinstance(current, dict) and saved != current:
            raise _config_mismatch(path, saved, current, stored)
        try:
            model.load_state_dict(ckpt["model_state"])
        except RuntimeError as exc:
            raise ValueError(f"checkpoint {str(path)!r} does not fit {type(model).__name__}: {exc}") from exc
    if optimizer is not None:
        load_optimizer_state(optimizer, ckpt, path)
    ckpt.setdefault("training_data", None)
    return ckpt


def load_optimizer_state(optimizer: torch.optim.Optimizer, ckpt: dict, path: str | os.PathLike) -> None:
    """Restore ``optimizer`` from a loaded checkpoint dict (nothing if it stores no optimizer state).

    Raises
    ------
    ValueError
        If the stored state does not fit ``optimizer`` (another type, or other parameters).
    """
    if ckpt.get("optimizer_state") is None:
        return
    try:
        optimizer.load_state_dict(ckpt["optimizer_state"])
    except (ValueError, KeyError, RuntimeError) as exc:
        raise ValueError(
            f"the optimizer state in checkpoint {str(path)!r} does not fit this optimizer ({exc}); "
            "build the optimizer of the same type over model.parameters()"
        ) from exc


def model_from_checkpoint(path: str | os.PathLike, map_location: str | torch.device | None = "cpu") -> nn.Module:
    """Build the network stored in a checkpoint (a ``UNet`` or a ``FusionNet``), with its weights, in eval mode.

    Parameters
    ----------
    path : path
        File written by :func:`save_checkpoint` for a ``UNet`` or a ``FusionNet``.
    map_location : str, torch.device or None
        Device of the returned model's parameters.

    Returns
    -------
    UNet or FusionNet
        ``build_model(checkpoint["model"], **checkpoint["model_config"])`` (``"unet"`` for
        checkpoints without a ``model`` entry) with the stored weights, in eval mode.

    Raises
    ------
    FileNotFoundError, ValueError
        As :func:`load_checkpoint`; ValueError also if the checkpoint has no model configuration.
    """

    ckpt = load_checkpoint(path, map_location=map_location)
    if not isinstance(ckpt.get("model_config"), dict):
        raise ValueError(
            f"checkpoint {str(path)!r} stores no model configuration; build the model yourself "
            "and call load_checkpoint(path, model)"
        )
    try:
        model = build_model(_stored_name(ckpt) or "unet", **ckpt["model_config"])
        model.load_state_dict(ckpt["model_state"])
    except (TypeError, ValueError, RuntimeError, KeyError) as exc:
        raise ValueError(
            f"checkpoint {str(path)!r} stores a model that cannot be rebuilt ({exc}); "
            "it is damaged or from another program"
        ) from exc
    return model.to(map_location if map_location is not None else "cpu").eval()
