"""Activation memory of the networks: estimated from the architecture, measured on Linux.

:func:`estimate_memory` asks the network's registry entry (:func:`unet_core.sizes.unet_memory`,
:func:`unet_core.models.fusionnet_sizes.fusionnet_memory`), which replays the forward pass (and, in
training, the backward pass) operation by operation with the sizes of its feature maps: no network
is built, so the command line checks a configuration before allocating it.
:func:`measure_peak_memory` measures the same quantity on this machine in a fresh Python process,
as chapter 09 of the book does; ``tests/test_memory.py`` and ``benchmarks/bench_memory.py`` compare
the two.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from ._utils import check_bool, check_int, fmt, is_int
from .models.registry import MODEL_NAMES, check_config_keys, model_name, model_spec

__all__ = ["estimate_memory", "measure_peak_memory"]

MMAP_THRESHOLD = 65536
"""``MALLOC_MMAP_THRESHOLD_`` of the probe: glibc serves (and returns to the system) every block of
64 KiB or more with mmap, so a freed feature map leaves the resident memory at once."""


def _resolve(model_or_name: Any, config: dict) -> tuple[str, dict]:
    """(registry name, constructor arguments) of a network instance or of a name plus ``config``."""
    if isinstance(model_or_name, str):
        spec = model_spec(model_or_name, "model_or_name")
        check_config_keys(spec, config)
        return spec.name, dict(config)
    name = model_name(model_or_name)
    if name is None:
        raise TypeError(f"model_or_name must be one of {', '.join(map(repr, MODEL_NAMES))} or a network built from "
                        f"them (unet_core.UNet, unet_core.FusionNet), got {fmt(model_or_name)}")
    if config:
        raise TypeError(f"model_or_name is a network, which fixes its configuration; pass its registry name "
                        f"({name!r}) to use {', '.join(sorted(config))}")
    return name, dict(model_or_name.config)


def _tile(tile: Any) -> tuple[int, int]:
    if is_int(tile):
        tile = (tile, tile)
    if not isinstance(tile, (tuple, list)) or not all(is_int(t) for t in tile):
        raise TypeError(f"tile must be an int or a pair (th, tw) of ints (input size in px), got {fmt(tile)}")
    if len(tile) != 2 or min(tile) < 1:
        raise ValueError(f"tile must be a pair (th, tw) of ints >= 1, got {fmt(tile)}")
    return int(tile[0]), int(tile[1])


def estimate_memory(model_or_name: Any, tile: int | tuple[int, int], *, batch_size: int = 1, train: bool = False,
                    bytes_per_value: int = 4, **config) -> int:
    """Peak activation memory of one forward pass or one training step, from the architecture.

    Parameters
    ----------
    model_or_name : UNet, FusionNet or {"unet", "fusionnet"}
        A network (its ``config`` is used) or a registry name (with ``config``; no network is built).
    tile : int or (th, tw)
        Input tile size; must be valid for the network (e.g. 572 for the paper's U-Net, 640 for
        FusionNet).
    batch_size : int
        Tiles per batch, >= 1.
    train : bool
        False: inference (eval mode, ``torch.inference_mode``, as :func:`unet_core.predict_tiled`).
        True: one training step: forward pass with the values kept for backward (including the
        dropout masks, pooling indices, concatenations and residual sums), the weighted
        cross-entropy, and the backward pass's gradients.
    bytes_per_value : {4, 2, 1, 8}
        4 for fp32, 2 for bf16/fp16.
    **config
        Constructor arguments of the named network (``base_channels``, ``depth``, ...); missing
        ones take the paper's defaults.

    Returns
    -------
    int
        Bytes: the most the pass allocates at once beyond the input tiles, the weights, the
        parameter gradients and the optimiser's state (count those as ``4 * parameters`` bytes
        each).

    Raises
    ------
    TypeError
        If ``model_or_name`` is neither a registry name nor a network built from one, ``config`` is
        given with a network or names an argument the network does not take, or an argument has
        the wrong type.
    ValueError
        If the name is unknown, ``tile`` is not a valid input size (the message names the nearest
        valid sizes), or another argument is out of range.

    Notes
    -----
    Each network's entry in the registry (``ModelSpec.memory``) computes it:
    :func:`unet_core.sizes.unet_memory` and
    :func:`unet_core.models.fusionnet_sizes.fusionnet_memory`, whose Notes give the rules and the
    measurements (:func:`measure_peak_memory`) they agree with. The two differ in kind: per output
    pixel, a FusionNet training step needs 1.7 to 2.2 times the U-Net's memory at the same width
    (ten to thirteen maps kept per level against five), its inference 0.6 to 0.7 times.

    Examples
    --------
    >>> round(estimate_memory("unet", 412, train=True, base_channels=16) / 2**20)
    87
    >>> round(estimate_memory("fusionnet", 256, train=True, base_channels=16) / 2**20)
    186
    """
    name, config = _resolve(model_or_name, config)
    th, tw = _tile(tile)
    spec = model_spec(name)
    try:
        return spec.memory((th, tw), batch_size=batch_size, train=train, bytes_per_value=bytes_per_value,
                           **{k: v for k, v in config.items() if k in spec.memory_arguments})
    except ValueError as exc:
        if "input height" in str(exc) or "input width" in str(exc):
            raise ValueError(f"tile={fmt(tile)}: {exc}") from None
        raise


# --------------------------------------------------------------------------- measurement (Linux)
def _status(key: str) -> int:
    """A byte count from /proc/self/status (``VmRSS``, ``VmHWM``)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key + ":"))


def _reset_peak() -> int:
    """Reset this process's peak resident memory (VmHWM) to the current one and return that."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return _status("VmRSS")


def _probe(cfg: dict) -> dict:
    """Run in the child process: two passes (or training steps), the peak growth of each in bytes."""
    import torch

    from .loss import weighted_cross_entropy
    from .models.registry import build_model

    torch.set_num_threads(cfg["threads"])
    torch.manual_seed(0)
    net = build_model(cfg["model"], **cfg["config"])
    b, (th, tw) = cfg["batch_size"], cfg["tile"]
    x = torch.randn(b, net.in_channels, th, tw)
    steps = []
    if cfg["train"]:  # the order of unet_core.train: forward, loss, zero_grad, backward, clip, step
        net.train()
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        oh, ow = net.output_size(th), net.output_size(tw)
        y = (torch.rand(b, oh, ow) > 0.2).long()
        w = 1 + 9 * torch.rand(b, oh, ow)
        for _ in range(2):
            before = _reset_peak()
            loss = weighted_cross_entropy(net(x), y, w)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            steps.append(_status("VmHWM") - before)
            del loss
    else:
        net.eval()
        with torch.inference_mode():
            for _ in range(2):
                before = _reset_peak()
                out = net(x)
                steps.append(_status("VmHWM") - before)
                del out
    return {"steps": steps}


def _check_linux() -> None:
    if not sys.platform.startswith("linux") or not os.access("/proc/self/clear_refs", os.W_OK):
        raise OSError(f"measure_peak_memory needs Linux's /proc/self/clear_refs and /proc/self/status (this is "
                      f"{sys.platform}); use estimate_memory elsewhere")


def measure_peak_memory(model_or_name: Any, tile: int | tuple[int, int], *, batch_size: int = 1,
                        train: bool = False, threads: int = 1, timeout: float = 900, **config) -> int:
    """Measure the peak memory of one forward pass or training step on the CPU, in a fresh process.

    Parameters
    ----------
    model_or_name, tile, batch_size, train, **config
        As in :func:`estimate_memory` (fp32 only).
    threads : int
        ``torch.set_num_threads`` in the child process.
    timeout : float
        Seconds before the child is stopped.

    Returns
    -------
    int
        Bytes: peak resident memory during the second pass (or training step) minus the resident
        memory before it, in a process that holds the network, its input and (training) the
        optimiser and the previous step's gradients.

    Raises
    ------
    OSError
        If this is not Linux (the probe reads ``/proc``).
    TypeError, ValueError
        As :func:`estimate_memory`, for a bad network, configuration or argument.
    RuntimeError
        If the child process fails (its error output is included).
    subprocess.TimeoutExpired
        If it runs longer than ``timeout``.

    Notes
    -----
    As chapter 09 measures its training steps: a new Python process per measurement (no earlier
    allocation can hide or inflate the peak), glibc's ``MALLOC_MMAP_THRESHOLD_=65536`` (freed
    feature maps go back to the system at once), the peak (``VmHWM``) reset to the current resident
    size through ``/proc/self/clear_refs`` just before the pass, and the second of two passes
    (the first also pages in the kernels and, in training, allocates Adam's state). Training runs
    the steps of :func:`unet_core.train.train`: forward pass, weighted cross-entropy,
    ``zero_grad(set_to_none=True)``, backward pass, gradient clipping, Adam.

    Examples
    --------
    >>> round(measure_peak_memory("unet", 412, train=True, base_channels=16) / 2**20, 1)  # doctest: +SKIP
    86.5
    """
    name, config = _resolve(model_or_name, config)
    estimate_memory(name, tile, batch_size=batch_size, train=train, **config)  # validates the arguments
    th, tw = _tile(tile)
    cfg = {"model": name, "config": config, "tile": [th, tw], "batch_size": check_int(batch_size, "batch_size", 1),
           "train": check_bool(train, "train"), "threads": check_int(threads, "threads", 1)}
    _check_linux()
    root = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_=str(MMAP_THRESHOLD),
               PYTHONPATH=os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p))
    code = "import json, sys; from unet_core.memory import _probe; print(json.dumps(_probe(json.loads(sys.argv[1]))))"
    proc = subprocess.run([sys.executable, "-c", code, json.dumps(cfg)], env=env, capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode:
        raise RuntimeError(f"the memory probe for {name} {config} on a {th} x {tw} tile failed:\n"
                           f"{proc.stderr[-2000:]}")
    return int(json.loads(proc.stdout.strip().splitlines()[-1])["steps"][1])
