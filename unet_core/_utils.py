"""Shared helpers: device selection, input validation and atomic file writes.

Private module; the public functions of ``unet_core`` call these so that every
user-facing error has the same shape: it names the argument, states the rule,
shows the value received and, where there is one, says the fix.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

__all__: list[str] = []  # nothing here is public


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
        raise ValueError(
            f"device={device!r} is not a device; use 'auto', 'cpu', 'cuda', 'cuda:0' or 'mps'"
        ) from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available here; use device='auto' or 'cpu'")
    if dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError(f"device={device!r} was requested but MPS is not available here; use device='auto' or 'cpu'")
    return dev


def fmt(value: Any) -> str:
    """Short repr of a value for error messages (arrays by shape and dtype)."""
    if isinstance(value, (np.ndarray, torch.Tensor)):
        return f"{type(value).__name__} of shape {tuple(value.shape)} and dtype {value.dtype}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_finite_image(image: np.ndarray, name: str = "image") -> None:
    """Raise ValueError when ``image`` is empty, not numeric, or holds NaN/inf."""
    if not isinstance(image, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(image).__name__}")
    if image.size == 0 or 0 in image.shape:
        raise ValueError(f"{name} must not be empty, got shape {image.shape}")
    if image.dtype == bool or not (np.issubdtype(image.dtype, np.integer) or np.issubdtype(image.dtype, np.floating)):
        raise TypeError(
            f"{name} must have an integer or floating dtype, got {image.dtype}; convert it with {name}.astype(np.float32)"
        )
    if np.issubdtype(image.dtype, np.floating) and not np.isfinite(image).all():
        bad = int(np.count_nonzero(~np.isfinite(image)))
        raise ValueError(f"{name} must be finite, but {bad} pixel(s) are NaN or inf; replace them (np.nan_to_num) first")


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` then move the temporary file onto ``path`` atomically.

    The temporary file lives in the destination folder so the final ``os.replace``
    is atomic; on any error it is removed and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
