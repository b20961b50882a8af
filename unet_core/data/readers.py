"""Verified readers of the converted data files (used by :mod:`unet_core.data` and the command line).

Private module. Every reader checks what it read -- the file decodes completely, has the
expected number of axes, is not empty -- and raises :class:`DataFileError` (an ``OSError``)
naming the file and how to get it again, instead of handing a truncated or corrupt array on.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import tifffile

from ..utils.validation import fmt
from .datasets import dataset_spec
from .paths import default_data_dir

__all__ = ['annotated_frames']


class DataFileError(OSError):
    """A converted data file that is missing parts, truncated, corrupt or of the wrong shape or dtype."""


def refetch_hint(key: str, folder: Path) -> str:
    return f"convert it again: python data_scripts/fetch.py {key} --force --dest {folder.parent}"


def read_meta(folder: Path, key: str) -> dict:
    meta = folder / "meta.json"
    if not meta.is_file():
        raise FileNotFoundError(
            f"{key} data not found: {meta} does not exist; run `python data_scripts/fetch.py {key} --source DIR` "
            f"(or without --source to download) and set UNET_DATA_DIR to its --dest folder")
    try:
        out = json.loads(meta.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataFileError(f"{meta} is not readable JSON ({exc}); {refetch_hint(key, folder)}") from exc
    if not isinstance(out, dict) or not isinstance(out.get("split"), dict):
        raise DataFileError(f"{meta} has no 'split' entry (written by another program?); {refetch_hint(key, folder)}")
    return out


def check_root(root) -> Path:
    if root is None:

        return default_data_dir()
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"root must be a folder path (str or pathlib.Path) or None, got {fmt(root)}")
    return Path(root)


def imread(path: Path, fix: str = "", ndim: int | None = None) -> np.ndarray:
    """Read a TIFF and verify it: every page decodes, none is empty, ``ndim`` axes if given.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    DataFileError
        (an OSError) if it is not a readable TIFF (truncated, corrupt, unknown compression) or has
        the wrong number of axes; the message names the file and ``fix``.
    """
    hint = f"; {fix}" if fix else ""
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path} does not exist{hint}")
    log = logging.getLogger("tifffile")
    level = log.level
    log.setLevel(logging.CRITICAL)  # tifffile logs, then returns nothing, for some broken files
    try:
        with tifffile.TiffFile(path) as tif:
            if not len(tif.pages):
                raise ValueError("no image pages")
            array = tif.asarray()
    except Exception as exc:  # tifffile raises many types (TiffFileError, ValueError, KeyError, struct.error, ...)
        reason = f"{type(exc).__name__}: {exc}"
        raise DataFileError(f"{path} is not a readable TIFF ({reason[:200]}); it is truncated or corrupt{hint}") \
            from exc
    finally:
        log.setLevel(level)
    if array.size == 0:
        raise DataFileError(f"{path} holds an empty image of shape {array.shape}{hint}")
    if ndim is not None and array.ndim != ndim:
        raise DataFileError(f"{path} has shape {array.shape}, expected {ndim} axes{hint}")
    return array


def annotated_frames(name: str, root: str | os.PathLike | None = None) -> dict[str, list[str]]:
    """Ids of the annotated frames of a converted dataset, per truth kind (read from its meta.json).

    Parameters
    ----------
    name : str
        A dataset of :mod:`unet_core.data.datasets` (``"isbi2012"``, ``"phc-u373"``, ``"dic-hela"``).
    root : path or None
        Converted-data root; None means :func:`default_data_dir`.

    Returns
    -------
    dict
        ``{truth kind: [frame id, ...]}`` in the dataset's order of truth kinds, only frames that have an
        image and a mask of that kind: ``{"labels": ["train-volume/00", ...]}`` (ISBI) or
        ``{"gt": ["02/010", ...], "st": [...]}`` (CTC).

    Raises
    ------
    ValueError
        For an unknown dataset.
    FileNotFoundError, DataFileError
        If the dataset was not converted under ``root`` or its meta.json is unreadable.
    """
    spec = dataset_spec(name)
    folder = check_root(root) / spec.name
    meta = read_meta(folder, spec.name)
    if spec.layout == "isbi-stacks":
        shape = (meta.get("files") or {}).get("train-volume.tif") or [30]
        return {"labels": [f"train-volume/{i:02d}" for i in range(int(shape[0]))]}
    try:
        return {kind: [f"{seq}/{int(f):03d}" for seq, info in sorted(meta["sequences"].items())
                       for f in info.get(f"{kind}_frames", [])] for kind in spec.truth_kinds}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DataFileError(f"{folder}/meta.json has no valid 'sequences' ({exc!r}); "
                            f"{refetch_hint(spec.name, folder)}") from exc
