"""Shared helpers: device selection, input validation and atomic file writes.

Private module; the public functions of ``unet_core`` call these so that every
user-facing error has the same shape: it names the argument, states the rule,
shows the value received and, where there is one, says the fix.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__: list[str] = []


def fmt(value: Any) -> str:
    """Short repr of a value for error messages (arrays by shape and dtype)."""
    if isinstance(value, (np.ndarray, torch.Tensor)):
        return f"{type(value).__name__} of shape {tuple(value.shape)} and dtype {value.dtype}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_finite_image(image: np.ndarray, name: str = "image") -> None:
    """Refuse an ``image`` that is not a numpy array, is empty, not numeric, or holds NaN/inf.

    Raises
    ------
    TypeError
        If it is not a numpy array or has a bool, complex or object dtype.
    ValueError
        If it is empty or holds NaN/inf (the message counts the bad pixels).
    """
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
        raise ValueError(
            f"{name} must be finite, but {bad} pixel(s) are NaN or inf; replace them (np.nan_to_num) first"
        )


def is_int(value: Any) -> bool:
    """A python or numpy integer, not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_real(value: Any) -> bool:
    """A python or numpy int or float, not a bool."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def check_int(value: Any, name: str, low: int | None = None, high: int | None = None, fix: str = "") -> int:
    """Return ``int(value)``; TypeError unless an integer, ValueError outside ``[low, high]``.

    Raises
    ------
    TypeError
        If ``value`` is not a python/numpy integer (bools, floats and strings are refused).
    ValueError
        If ``value < low`` or ``value > high``.
    """
    hint = f"; {fix}" if fix else ""
    if not is_int(value):
        raise TypeError(f"{name}={fmt(value)} must be an integer (got {type(value).__name__}){hint}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        rule = " and ".join(
            r for r in (f">= {low}" if low is not None else "", f"<= {high}" if high is not None else "") if r
        )
        raise ValueError(f"{name}={value} must be an integer {rule}{hint}")
    return value


def check_real(
    value: Any,
    name: str,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
    fix: str = "",
) -> float:
    """Return ``float(value)``; TypeError unless a real number, ValueError if not finite or out of range.

    Raises
    ------
    TypeError
        If ``value`` is not a python/numpy int or float (bools and strings are refused).
    ValueError
        If ``value`` is NaN or infinite, or outside the interval (``*_open``: that end excluded).
    """
    hint = f"; {fix}" if fix else ""
    if not is_real(value):
        raise TypeError(f"{name} must be a real number, got {fmt(value)}{hint}")
    value = float(value)
    bad = not np.isfinite(value)
    bad |= low is not None and (value < low or (low_open and value == low))
    bad |= high is not None and (value > high or (high_open and value == high))
    if bad:
        parts = [
            f"{'>' if low_open else '>='} {low:g}" if low is not None else "",
            f"{'<' if high_open else '<='} {high:g}" if high is not None else "",
        ]
        rule = " and ".join(p for p in parts if p)
        raise ValueError(f"{name} must be a finite number{' ' + rule if rule else ''}, got {value!r}{hint}")
    return value


def check_bool(value: Any, name: str) -> bool:
    """Return ``bool(value)`` for a python/numpy bool; TypeError otherwise (no truthy strings).

    Raises
    ------
    TypeError
        If ``value`` is not True or False.
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {fmt(value)}")
    return bool(value)


def check_path(value: Any, name: str, none_ok: bool = True) -> Path | None:
    """``Path(value)`` for a non-empty str or os.PathLike; None passes through when ``none_ok``.

    Raises
    ------
    TypeError
        For anything else (bytes, numbers, ...), or None when not ``none_ok``.
    ValueError
        For the empty string (``Path("")`` would silently mean the current folder).
    """
    if value is None and none_ok:
        return None
    if not isinstance(value, (str, os.PathLike)) or value == "":
        raise (ValueError if value == "" else TypeError)(
            f"{name} must be a path (a non-empty str or pathlib.Path){' or None' if none_ok else ''}, got {fmt(value)}"
        )
    return Path(value)


def check_pair(value: Any, name: str, low: int = 1) -> tuple[int, int]:
    """A pair ``(H, W)`` of integers ``>= low`` (e.g. an image shape).

    Raises
    ------
    TypeError
        If ``value`` is not a sequence of two integers.
    ValueError
        If it has another length or an entry is below ``low``.
    """
    what = "positive ints" if low == 1 else f"ints >= {low}"
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or not hasattr(value, "__getitem__"):
        raise TypeError(f"{name} must be a pair (H, W) of {what}, got {fmt(value)}")
    if len(value) != 2:
        raise ValueError(f"{name} must be a pair (H, W) of {what}, got {len(value)} value(s): {fmt(value)}")
    if not all(is_int(v) for v in value):
        raise TypeError(f"{name} must be a pair (H, W) of {what}, got {fmt(value)}")
    h, w = int(value[0]), int(value[1])
    if min(h, w) < low:
        raise ValueError(f"{name} must be a pair (H, W) of {what}, got {fmt(value)}")
    return h, w


def check_rng(rng: Any, name: str = "rng") -> np.random.Generator:
    """``np.random.default_rng(rng)`` for None, a seed >= 0, a list of seeds >= 0 or a Generator.

    Raises
    ------
    TypeError
        For strings, floats and other objects.
    ValueError
        For negative seeds.
    """
    if rng is None or isinstance(rng, (np.random.Generator, np.random.BitGenerator, np.random.SeedSequence)):
        return np.random.default_rng(rng)
    seeds = list(rng) if isinstance(rng, (list, tuple)) and rng else [rng]
    if not all(is_int(s) for s in seeds):
        raise TypeError(f"{name} must be None, an int seed >= 0, a list of them or a numpy Generator, got {fmt(rng)}")
    if min(int(s) for s in seeds) < 0:
        raise ValueError(f"{name} must be a seed >= 0 (or a numpy Generator), got {fmt(rng)}; e.g. {name}=0")
    return np.random.default_rng(rng)


def check_labels(labels: Any, name: str, ndims: tuple[int, ...] = (2,), allow_bool: bool = False) -> np.ndarray:
    """Validate an integer label image (0 = background) and return it as an ndarray.

    Raises
    ------
    TypeError
        If it is not an array of integers (bool only with ``allow_bool``; floats are never truncated).
    ValueError
        If it has another number of axes, is empty or holds negative labels.
    """
    if labels is None or isinstance(labels, (str, bytes, dict)):
        raise TypeError(f"{name} must be an integer label array, got {fmt(labels)}")
    x = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if x.dtype == bool and not allow_bool:
        raise TypeError(
            f"{name} must be an integer label image, got a boolean mask; label its connected "
            f"components first: scipy.ndimage.label({name})[0]"
        )
    if not (np.issubdtype(x.dtype, np.integer) or x.dtype == bool):
        raise TypeError(
            f"{name} must have an integer dtype (integer instance labels or class labels are never "
            f"truncated silently), got {fmt(x)}; "
            f"if the values are whole numbers convert with {name}.astype(np.int32)"
        )
    if x.ndim not in ndims:
        shapes = " or ".join({2: "(H, W)", 3: "(N, H, W)"}.get(n, f"{n}-D") for n in ndims)
        raise ValueError(f"{name} must be a {shapes} label array, got {fmt(x)}")
    if x.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {x.shape}")
    if np.issubdtype(x.dtype, np.signedinteger) and x.min() < 0:
        raise ValueError(
            f"{name} must hold labels >= 0 (0 = background), got minimum {x.min()}; "
            "set negative pixels to 0 or relabel them"
        )
    return x


def check_float32_range(image: np.ndarray, name: str = "image") -> None:
    """Refuse values near float32's limit (3.4e38): the network's sums would overflow to inf and NaN.

    Raises
    ------
    ValueError
        If some ``|value| > 1e30``, naming the fix (standardise with ``normalize_image`` first).
    """
    if image.dtype.kind == "f" and image.dtype.itemsize <= 4:
        return
    lo, hi = float(image.min()), float(image.max())
    big = max(abs(lo), abs(hi))
    if big > 1e30:
        raise ValueError(
            f"{name} holds values up to {big:.3g}, too large for float32 network arithmetic; "
            "standardise it first with unet_core.normalize_image(image)"
        )
