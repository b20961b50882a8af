"""The measured peak memory of one training or inference step (Linux), beside the estimate of
:func:`unet_core.models.memory.estimate_memory`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch

from ..models.memory import MMAP_THRESHOLD, estimate_memory, resolve_model_config, tile_pair
from ..models.registry import build_model
from ..utils.validation import check_bool, check_int
from .loss import weighted_cross_entropy

__all__ = ['measure_peak_memory']


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
    """Run in the child process: two passes (or training steps), the peak growth of each in bytes
    (``steps``) and the process's peak resident memory after each (``peaks``)."""

    torch.set_num_threads(cfg["threads"])
    torch.manual_seed(0)
    net = build_model(cfg["model"], **cfg["config"])
    b, (th, tw) = cfg["batch_size"], cfg["tile"]
    x = torch.randn(b, net.in_channels, th, tw)
    steps, peaks = [], []
    if cfg["train"]:  # the order of unet_core.training.loop: forward, loss, zero_grad, backward, clip, step
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
            peaks.append(_status("VmHWM"))
            steps.append(peaks[-1] - before)
            del loss
    else:
        net.eval()
        with torch.inference_mode():
            for _ in range(2):
                before = _reset_peak()
                out = net(x)
                peaks.append(_status("VmHWM"))
                steps.append(peaks[-1] - before)
                del out
    return {"steps": steps, "peaks": peaks}


def _check_linux() -> None:
    if not sys.platform.startswith("linux") or not os.access("/proc/self/clear_refs", os.W_OK):
        raise OSError(
            f"measure_peak_memory needs Linux's /proc/self/clear_refs and /proc/self/status (this is "
            f"{sys.platform}); use estimate_memory elsewhere"
        )


def measure_peak_memory(
    model_or_name: Any,
    tile: int | tuple[int, int],
    *,
    batch_size: int = 1,
    train: bool = False,
    threads: int = 1,
    timeout: float = 900,
    details: bool = False,
    **config,
) -> int | dict:
    """Measure the peak memory of one forward pass or training step on the CPU, in a fresh process.

    Parameters
    ----------
    model_or_name, tile, batch_size, train, **config
        As in :func:`estimate_memory` (fp32 only).
    threads : int
        ``torch.set_num_threads`` in the child process.
    timeout : float
        Seconds before the child is stopped.
    details : bool
        Return both passes instead of the second one's bytes.

    Returns
    -------
    int or dict
        Bytes: peak resident memory during the second pass (or training step) minus the resident
        memory before it, in a process that holds the network, its input and (training) the
        optimiser and the previous step's gradients. With ``details=True`` a dict of two lists of
        two ints, first and second pass: ``"steps"`` (those bytes) and ``"peaks"`` (the process's
        peak resident memory, ``VmHWM``, after the pass).

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
    As the FusionNet appendix of the book measures its training steps: a new Python process per measurement (no earlier
    allocation can hide or inflate the peak), glibc's ``MALLOC_MMAP_THRESHOLD_=65536`` (freed
    feature maps go back to the system at once), the peak (``VmHWM``) reset to the current resident
    size through ``/proc/self/clear_refs`` just before the pass, and the second of two passes
    (the first also pages in the kernels and, in training, allocates Adam's state). Training runs
    the steps of :func:`unet_core.training.loop.train`: forward pass, weighted cross-entropy,
    ``zero_grad(set_to_none=True)``, backward pass, gradient clipping, Adam.

    Examples
    --------
    >>> round(measure_peak_memory("unet", 412, train=True, base_channels=16) / 2**20, 1)  # doctest: +SKIP
    86.5
    """
    name, config = resolve_model_config(model_or_name, config)
    estimate_memory(name, tile, batch_size=batch_size, train=train, **config)  # validates the arguments
    th, tw = tile_pair(tile)
    cfg = {
        "model": name,
        "config": config,
        "tile": [th, tw],
        "batch_size": check_int(batch_size, "batch_size", 1),
        "train": check_bool(train, "train"),
        "threads": check_int(threads, "threads", 1),
    }
    details = check_bool(details, "details")
    _check_linux()
    root = str(Path(__file__).resolve().parents[2])
    env = dict(
        os.environ,
        MALLOC_MMAP_THRESHOLD_=str(MMAP_THRESHOLD),
        PYTHONPATH=os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p),
    )
    code = "import json, sys; from unet_core.training.peak_memory import _probe; print(json.dumps(_probe(json.loads(sys.argv[1]))))"
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps(cfg)], env=env, capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode:
        raise RuntimeError(f"the memory probe for {name} {config} on a {th} x {tw} tile failed:\n{proc.stderr[-2000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return {k: [int(v) for v in out[k]] for k in ("steps", "peaks")} if details else int(out["steps"][1])
