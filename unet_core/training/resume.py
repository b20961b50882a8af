"""Sec. 3: resuming a training run from its checkpoint, exactly.

:func:`unet_core.training.loop.train` reseeds torch with the step before every step and reads the dataset
items of the step (:mod:`unet_core.training.prepare`), so a run needs no RNG state to resume: the weights,
the optimizer state (momentum buffers, Adam moments), the step and the history are enough, and a run
stopped at step ``k`` and resumed ends bit-identical on the CPU to an uninterrupted one. The resume policy:

* a checkpoint of another optimiser, model configuration or training data is refused (ValueError);
* a config that differs in a field that changes the numbers warns (the run goes on, inexactly); the
  fields of :data:`~unet_core.training.config.RESUME_FREE` may change freely (``iterations`` only under a
  constant schedule); the config, not the checkpoint, sets the optimizer's hyper-parameters;
* another number of processes warns (same tiles, other reduction order);
* the removed ``amp``/``channels_last`` fields of older checkpoints are read as the ``precision`` they
  meant (:func:`~unet_core.training.config.precision_of_legacy`), and ``precision`` is compared by the
  numeric path it takes on the device (None is ``"fp32"`` on a CPU).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import fields
from pathlib import Path

import torch

from ..utils.validation import fmt
from .checkpoint import load_checkpoint, load_optimizer_state
from .config import (
    REMOVED_FIELDS,
    RESUME_FREE,
    TrainConfig,
    TrainResult,
    effective_precision,
    precision_of_legacy,
)
from .distributed import check_resume_world
from .prepare import optimizer_hyper

__all__ = ['canon', 'check_training_data', 'open_checkpoint', 'saved_settings', 'changed_fields', 'restore']


def canon(value):
    """``value`` with tuples as lists, also nested (a checkpoint stores betas as a list or a tuple).

    Examples
    --------
    >>> canon({"betas": (0.9, 0.999)}) == canon({"betas": [0.9, 0.999]})
    True
    """
    if isinstance(value, (list, tuple)):
        return [canon(v) for v in value]
    if isinstance(value, dict):
        return {k: canon(v) for k, v in value.items()}
    return value


def check_training_data(saved: dict | None, given: dict | None, path) -> None:
    """Refuse to resume a checkpoint whose recorded training data differ from ``given``.

    Parameters
    ----------
    saved : dict or None
        The checkpoint's ``training_data``.
    given : dict or None
        The ``training_data`` passed to ``train`` (None: nothing to compare).
    path : path
        The checkpoint (for the message).

    Raises
    ------
    ValueError
        Naming the differing keys, with both values, and the fixes.

    Examples
    --------
    >>> check_training_data({"truth": "gt"}, {"truth": "st"}, "a.pt")
    Traceback (most recent call last):
    ...
    ValueError: checkpoint 'a.pt' was trained on other data than training_data describes (differing keys: 'truth': checkpoint 'gt' vs given 'st'); pass resume=False to train from scratch on this data, or another checkpoint_path
    """
    if saved is None or given is None:
        return
    old, new = canon(saved), canon(given)
    missing = object()
    keys = sorted((k for k in set(old) | set(new) if old.get(k, missing) != new.get(k, missing)), key=str)
    if keys:
        diff = "; ".join(f"{k!r}: checkpoint {fmt(old.get(k))} vs given {fmt(new.get(k))}" for k in keys)
        raise ValueError(
            f"checkpoint {str(path)!r} was trained on other data than training_data describes "
            f"(differing keys: {diff}); pass resume=False to train from scratch on this data, or "
            "another checkpoint_path"
        )


def open_checkpoint(
    path: str | os.PathLike | None,
    model: torch.nn.Module,
    config: TrainConfig,
    training_data: dict | None,
    resume: bool,
    device: torch.device,
) -> tuple[dict | None, dict | None]:
    """Load the checkpoint to resume, if there is one, into ``model``; refuse one of another run.

    Parameters
    ----------
    path : path or None
        ``train``'s ``checkpoint_path``.
    model : nn.Module
        Receives the checkpoint's weights (its configuration must match).
    config : TrainConfig
    training_data : dict or None
        ``train``'s ``training_data``.
    resume : bool
        False: the checkpoint is not read (a new run overwrites it).
    device : torch.device
        Where the checkpoint's tensors are mapped.

    Returns
    -------
    ckpt : dict or None
        The loaded checkpoint; None when there is nothing to resume.
    training_data : dict or None
        ``training_data``, or the checkpoint's where it was None.

    Raises
    ------
    ValueError
        If the checkpoint belongs to another model configuration, another optimiser or other training data.

    Examples
    --------
    >>> open_checkpoint(None, torch.nn.Conv2d(1, 2, 1), TrainConfig(), None, True, torch.device("cpu"))
    (None, None)
    """
    if path is None or not resume or not Path(path).exists():
        return None, training_data
    ckpt = load_checkpoint(path, model, map_location=device)
    saved = dict(ckpt["train_config"])
    if saved.get("optimizer", "sgd") != config.optimizer:
        raise ValueError(
            f"checkpoint {str(path)!r} was trained with optimizer={saved.get('optimizer', 'sgd')!r}, "
            f"the config asks for {config.optimizer!r}; use the same optimizer or resume=False to "
            "start again"
        )
    check_training_data(ckpt.get("training_data"), training_data, path)
    return ckpt, ckpt.get("training_data") if training_data is None else training_data


def saved_settings(saved: dict, device_type: str) -> dict:
    """A checkpoint's ``train_config`` in today's fields: ``amp``/``channels_last`` read as ``precision``.

    Parameters
    ----------
    saved : dict
        ``ckpt["train_config"]``.
    device_type : str
        The device type of the resumed run (``amp="auto"`` with ``channels_last`` depends on it).

    Returns
    -------
    dict
        A copy without the removed fields; ``precision`` the one they meant where it was None.

    Examples
    --------
    >>> saved_settings({"amp": True, "channels_last": True, "precision": None, "seed": 0}, "cpu")
    {'precision': 'bf16+channels_last', 'seed': 0}
    """
    out = dict(saved)
    legacy = {name: out.pop(name) for name in REMOVED_FIELDS if name in out}
    if legacy and out.get("precision") is None:
        try:
            out["precision"] = precision_of_legacy(
                legacy.get("amp", "auto"), legacy.get("channels_last", False), device_type
            )
        except ValueError:
            pass  # a malformed old value: compared as the default
    return out


def changed_fields(saved: dict, config: TrainConfig, device_type: str) -> list[str]:
    """The fields of ``config`` that differ from a checkpoint's and make the resumed run inexact.

    Parameters
    ----------
    saved : dict
        ``ckpt["train_config"]`` (fields it lacks count as their defaults).
    config : TrainConfig
        The resuming run's.
    device_type : str
        ``precision`` is compared as the path it takes there (:func:`~unet_core.training.config.effective_precision`).

    Returns
    -------
    list of str
        Field names, in the order of ``TrainConfig``.

    Examples
    --------
    >>> old = {"amp": False, "channels_last": False, "precision": None, "seed": 1}
    >>> changed_fields(old, TrainConfig(), "cpu")
    ['seed']
    """
    free = RESUME_FREE - ({"iterations"} if config.schedule != "constant" else set())
    saved = saved_settings(saved, device_type)
    defaults = TrainConfig()
    changed = []
    for f in fields(config):
        if f.name in free:
            continue
        old, new = saved.get(f.name, getattr(defaults, f.name)), getattr(config, f.name)
        if f.name == "precision":
            old, new = effective_precision(old, device_type), effective_precision(new, device_type)
        if canon(old) != canon(new):
            changed.append(f.name)
    return changed


def restore(
    ckpt: dict, optimizer: torch.optim.Optimizer, config: TrainConfig, path, world_size: int, device: torch.device
) -> TrainResult:
    """Put a checkpoint's optimizer state into ``optimizer`` and return its step and history.

    Parameters
    ----------
    ckpt : dict
        From :func:`open_checkpoint`.
    optimizer : torch.optim.Optimizer
        Built by :func:`~unet_core.training.prepare.make_optimizer` for the loaded model.
    config : TrainConfig
        Its hyper-parameters replace the checkpoint's in the optimizer.
    path : path
        The checkpoint (for messages).
    world_size : int
        This run's number of processes.
    device : torch.device

    Returns
    -------
    TrainResult
        The checkpoint's losses, validations, step and training seconds.

    Raises
    ------
    ValueError
        If the optimizer state does not fit the optimizer.

    Warns
    -----
    UserWarning
        If fields that change the numbers differ from the checkpoint's, or an unfinished run resumes with
        another number of processes.

    Examples
    --------
    >>> net = torch.nn.Conv2d(1, 2, 1)
    >>> opt = torch.optim.SGD(net.parameters(), lr=0.1)
    >>> ckpt = {"optimizer_state": None, "step": 3, "world_size": 1, "train_config": {},
    ...         "history": {"losses": [1.0, 0.5, 0.25], "validation": []}}
    >>> restore(ckpt, opt, TrainConfig(iterations=3), "a.pt", 1, torch.device("cpu")).losses
    [1.0, 0.5, 0.25]
    """
    load_optimizer_state(optimizer, ckpt, path)
    if ckpt["step"] < config.iterations:  # a finished run is only loaded, whatever its world size
        check_resume_world(ckpt.get("world_size"), world_size, path)
    history = ckpt["history"]
    result = TrainResult(
        list(history["losses"]), list(history["validation"]), ckpt["step"], float(history.get("seconds", 0.0))
    )
    changed = changed_fields(dict(ckpt["train_config"]), config, device.type)
    if changed:
        warnings.warn(
            f"resuming {path} with changed {', '.join(changed)}; the run will not match an uninterrupted one",
            stacklevel=3,
        )
    for group in optimizer.param_groups:  # the config, not the checkpoint, sets the hyper-parameters
        group.update(optimizer_hyper(config))
    return result
