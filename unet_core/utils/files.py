"""Files written so that nothing is lost: atomic writes, plain values for JSON and checkpoints."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .validation import fmt

__all__: list[str] = []


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
            raise TypeError(
                f"{where} holds {fmt(value)} ({type(value).__name__}), which a checkpoint cannot store "
                "(it loads with weights_only=True); store numbers, strings, lists or dicts"
            )
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
    raise TypeError(
        f"{where} holds {fmt(value)}, which a checkpoint cannot store (it loads with weights_only=True); "
        "store numbers, strings, lists or dicts"
    )


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
        raise type(exc)(
            exc.errno, f"cannot write path {str(path)!r}: {exc.strerror or exc}; choose a writable folder"
        ) from exc
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
