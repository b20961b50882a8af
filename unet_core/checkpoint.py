"""Training checkpoints (Sec. 3): save, load and rebuild a model, safely and atomically.

A checkpoint is a ``torch.save`` of a dict holding only tensors and plain python
values, so it loads with ``torch.load(..., weights_only=True)`` (no pickled code
runs). It is written through a temporary file and renamed, so an interrupted
save never leaves a truncated checkpoint behind. Keys:

``format``          ``"unet_core.checkpoint"`` and ``version`` (1)
``step``            number of completed SGD steps
``model_state``     ``model.state_dict()`` (on the CPU)
``model_config``    ``model.config`` (the constructor arguments of ``UNet``) or None
``optimizer_state`` ``optimizer.state_dict()`` (momentum buffers) or None
``train_config``    ``dataclasses.asdict(TrainConfig)``
``history``         ``{"losses": [float, ...], "validation": [dict, ...]}``
``scheduler_state`` ``{"schedule": str, "step": int, "learning_rate": float}`` or None (the
                    schedule is a function of the step, see ``unet_core.train.learning_rate_at``)
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = ["save_checkpoint", "load_checkpoint", "model_from_checkpoint"]

FORMAT = "unet_core.checkpoint"
VERSION = 1


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    step: int = 0,
    config: Any = None,
    history: dict | None = None,
    scheduler: dict | None = None,
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

    Returns
    -------
    Path
        ``path``.

    Examples
    --------
    >>> import tempfile, torch
    >>> path = Path(tempfile.mkdtemp()) / "net.pt"
    >>> _ = save_checkpoint(path, torch.nn.Conv2d(1, 2, 1), step=3)
    >>> load_checkpoint(path)["step"]
    3
    """
    from ._utils import atomic_write

    if dataclasses.is_dataclass(config):
        config = dataclasses.asdict(config)
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "step": int(step),
        "model_state": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "model_config": dict(model.config) if isinstance(getattr(model, "config", None), dict) else None,
        "optimizer_state": None if optimizer is None else optimizer.state_dict(),
        "train_config": dict(config or {}),
        "history": history or {"losses": [], "validation": []},
        "scheduler_state": None if scheduler is None else dict(scheduler),
    }
    return atomic_write(path, lambda tmp: torch.save(payload, tmp))


def _config_mismatch(path, saved: dict, current: dict) -> ValueError:
    diff = ", ".join(
        f"{key}: checkpoint {saved.get(key)!r} vs model {current.get(key)!r}"
        for key in sorted(set(saved) | set(current))
        if saved.get(key) != current.get(key)
    )
    args = ", ".join(f"{k}={v!r}" for k, v in saved.items())
    return ValueError(
        f"checkpoint {str(path)!r} was saved from a model of another configuration ({diff}); "
        f"build the model with UNet({args}) or use model_from_checkpoint({str(path)!r})"
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
        The checkpoint (keys listed in the module docstring).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a unet_core checkpoint, or ``model`` has another configuration
        (the message names the differing fields and how to build a matching model).
    """
    path = Path(path)
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
        saved, current = ckpt.get("model_config"), getattr(model, "config", None)
        if isinstance(saved, dict) and isinstance(current, dict) and saved != current:
            raise _config_mismatch(path, saved, current)
        try:
            model.load_state_dict(ckpt["model_state"])
        except RuntimeError as exc:
            raise ValueError(f"checkpoint {str(path)!r} does not fit {type(model).__name__}: {exc}") from exc
    if optimizer is not None and ckpt.get("optimizer_state") is not None:
        optimizer.load_state_dict(ckpt["optimizer_state"])
    return ckpt


def model_from_checkpoint(path: str | os.PathLike, map_location: str | torch.device | None = "cpu") -> nn.Module:
    """Build the ``UNet`` stored in a checkpoint, with its weights, in eval mode.

    Parameters
    ----------
    path : path
        File written by :func:`save_checkpoint` for a ``UNet``.
    map_location : str, torch.device or None
        Device of the returned model's parameters.

    Returns
    -------
    UNet
        ``UNet(**checkpoint["model_config"])`` with the stored weights, in eval mode.

    Raises
    ------
    FileNotFoundError, ValueError
        As :func:`load_checkpoint`; ValueError also if the checkpoint has no model configuration.
    """
    from .network import UNet

    ckpt = load_checkpoint(path, map_location=map_location)
    if not isinstance(ckpt.get("model_config"), dict):
        raise ValueError(f"checkpoint {str(path)!r} stores no model configuration; build the model yourself "
                         "and call load_checkpoint(path, model)")
    model = UNet(**ckpt["model_config"])
    model.load_state_dict(ckpt["model_state"])
    return model.to(map_location if map_location is not None else "cpu").eval()
