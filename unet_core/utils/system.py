"""The machine: the device to run on, the memory available, budgets checked before large allocations."""

from __future__ import annotations

import os

import torch

__all__ = ['resolve_device']


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """Turn ``"auto"`` into cuda, then mps, then cpu; pass anything else to torch.

    Raises
    ------
    ValueError
        If ``device`` names a backend that is not available here.
    """
    if device is None or (isinstance(device, str) and device == "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a device; use 'auto', 'cpu', 'cuda', 'cuda:0' or 'mps'") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available here; use device='auto' or 'cpu'")
    if dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError(
                f"device={device!r} was requested but MPS is not available here; use device='auto' or 'cpu'"
            )
    return dev


class MemoryBudgetError(MemoryError, ValueError):
    """Refusal to allocate more memory than is available (also a ValueError: a bad argument)."""


def available_memory() -> int:
    """Bytes of memory available to this process now (psutil, else /proc/meminfo, else sysconf)."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:  # pragma: no cover - psutil is installed with the dev extras
        pass
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:  # pragma: no cover
        pass
    return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))  # pragma: no cover


def gib(nbytes: float) -> str:
    """``nbytes`` as GiB with 3 significant digits, e.g. '1.5 GiB'."""
    return f"{nbytes / 2**30:.3g} GiB"


def check_memory(nbytes: float, what: str, fix: str, available: int | None = None) -> None:
    """Raise :class:`MemoryBudgetError` if ``nbytes`` exceed 90 % of the memory available now.

    Parameters
    ----------
    nbytes : float
        Estimated bytes the allocation needs.
    what : str
        What is being allocated, naming the argument, e.g. ``"tile_size=100020 (one batch)"``.
    fix : str
        What to change, e.g. ``"use a smaller tile_size"``.

    Raises
    ------
    MemoryBudgetError
        Naming how much is needed, how much is available and the fix.
    """
    free = available_memory() if available is None else available
    if nbytes > 0.9 * free:
        raise MemoryBudgetError(f"{what} needs about {gib(nbytes)} of memory but only {gib(free)} are available; {fix}")
