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
        raise ValueError(f"{name} must be finite, but {bad} pixel(s) are NaN or inf; replace them (np.nan_to_num) first")


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
        rule = " and ".join(r for r in (f">= {low}" if low is not None else "",
                                         f"<= {high}" if high is not None else "") if r)
        raise ValueError(f"{name}={value} must be an integer {rule}{hint}")
    return value


def check_real(value: Any, name: str, low: float | None = None, high: float | None = None, *,
               low_open: bool = False, high_open: bool = False, fix: str = "") -> float:
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
        parts = [f"{'>' if low_open else '>='} {low:g}" if low is not None else "",
                 f"{'<' if high_open else '<='} {high:g}" if high is not None else ""]
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
            f"{name} must be a path (a non-empty str or pathlib.Path){' or None' if none_ok else ''}, got {fmt(value)}")
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
        raise TypeError(f"{name} must be an integer label image, got a boolean mask; label its connected "
                        f"components first: scipy.ndimage.label({name})[0]")
    if not (np.issubdtype(x.dtype, np.integer) or x.dtype == bool):
        raise TypeError(f"{name} must have an integer dtype (integer instance labels or class labels are never "
                        f"truncated silently), got {fmt(x)}; "
                        f"if the values are whole numbers convert with {name}.astype(np.int32)")
    if x.ndim not in ndims:
        shapes = " or ".join({2: "(H, W)", 3: "(N, H, W)"}.get(n, f"{n}-D") for n in ndims)
        raise ValueError(f"{name} must be a {shapes} label array, got {fmt(x)}")
    if x.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {x.shape}")
    if np.issubdtype(x.dtype, np.signedinteger) and x.min() < 0:
        raise ValueError(f"{name} must hold labels >= 0 (0 = background), got minimum {x.min()}; "
                         "set negative pixels to 0 or relabel them")
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
        raise ValueError(f"{name} holds values up to {big:.3g}, too large for float32 network arithmetic; "
                         "standardise it first with unet_core.normalize_image(image)")


_PLAIN_SCALARS = (bool, int, float, complex, str, bytes)


def plain_value(value: Any, where: str) -> Any:
    """``value`` as what ``torch.load(..., weights_only=True)`` reads back: python scalars, lists, dicts, tensors.

    Parameters
    ----------
    value : Any
        A python or numpy scalar, a numpy array (0-d included), a tensor, or a list, tuple or dict
        of these (nested).
    where : str
        Name of the value in error messages, e.g. ``"history"``.

    Returns
    -------
    Any
        numpy scalars (``np.float64`` and ``np.str_`` too, which subclass ``float`` and ``str``) and
        subclasses of the python scalars (an ``IntEnum``) as plain ``bool``/``int``/``float``/``complex``/
        ``str``/``bytes``; arrays as (nested) lists; tensors detached on the CPU; lists as lists and
        tuples as tuples (their subclasses, e.g. named tuples, as lists); dicts and their subclasses as
        plain dicts, with keys that are not strings or ints turned into strings.

    Raises
    ------
    TypeError
        If ``value`` holds anything else (e.g. a ``datetime``, a set or an object), naming its place.

    Examples
    --------
    >>> import numpy as np
    >>> plain_value({"loss": np.float64(0.5), "ok": np.bool_(True), "n": np.array(3)}, "history")
    {'loss': 0.5, 'ok': True, 'n': 3}
    >>> type(plain_value(np.float64(0.5), "x")), type(plain_value(np.str_("a"), "x"))
    (<class 'float'>, <class 'str'>)
    """
    if value is None or type(value) in _PLAIN_SCALARS:
        return value
    if isinstance(value, np.generic):
        item = value.item()  # np.longdouble and np.clongdouble come back as themselves
        if isinstance(item, np.generic):
            item = complex(item) if np.iscomplexobj(item) else float(item) if isinstance(item, np.floating) else item
        if not isinstance(item, (*_PLAIN_SCALARS, tuple)):  # a datetime64's date, ...
            raise TypeError(f"{where} holds {fmt(value)} ({type(value).__name__}), which a checkpoint cannot store "
                            "(it loads with weights_only=True); store numbers, strings, lists or dicts")
        return plain_value(item, where)
    if isinstance(value, str):  # a subclass (a str Enum): its characters, whatever its __str__ says
        return str.__str__(value)
    if isinstance(value, _PLAIN_SCALARS):  # a subclass, e.g. an IntEnum member: its plain value
        return next(t for t in _PLAIN_SCALARS if isinstance(value, t))(value)
    if isinstance(value, np.ndarray):
        return plain_value(value.tolist(), where)
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, (list, tuple)):
        items = [plain_value(v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if type(value) is tuple else items
    if isinstance(value, dict):
        out = {}
        for key, v in value.items():
            try:
                plain = plain_value(key, where) if isinstance(key, (np.generic, *_PLAIN_SCALARS)) else key
            except TypeError:
                plain = str(key)
            out[plain if isinstance(plain, (str, int)) else str(key)] = plain_value(v, f"{where}[{key!r}]")
        return out
    raise TypeError(f"{where} holds {fmt(value)}, which a checkpoint cannot store (it loads with weights_only=True); "
                    "store numbers, strings, lists or dicts")


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` then move the temporary file onto ``path`` atomically.

    The temporary file lives in the destination folder so the final ``os.replace``
    is atomic; on any error it is removed and ``path`` is left untouched.

    Raises
    ------
    OSError
        The subclass of the failure (PermissionError, FileExistsError, ...) naming ``path``
        when its folder cannot be created or written.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as exc:  # name the destination, not the temporary file
        raise type(exc)(exc.errno, f"cannot write path {str(path)!r}: {exc.strerror or exc}; "
                        "choose a writable folder") from exc
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
