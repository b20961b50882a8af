"""Annotated frames of any declared dataset, by frame id and truth kind."""
from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np

from ..utils.validation import fmt
from .ctc import load_ctc
from .datasets import dataset_spec
from .isbi2012 import load_isbi2012
from .readers import annotated_frames

__all__ = ['load_frames']


class Frame(NamedTuple):
    """One annotated image: ``target`` holds class labels (ISBI) or instances (CTC)."""

    image: np.ndarray  # (H, W)
    target: np.ndarray  # (H, W) integer
    frame_id: str
    truth: str  # "labels", "gt" or "st"


def load_frames(name: str, ids, truth: str, root: str | os.PathLike | None = None) -> list[Frame]:
    """Read the annotated frames ``ids`` of a converted dataset, with masks of kind ``truth``.

    Parameters
    ----------
    name : str
        A dataset of :mod:`unet_core.data.datasets`.
    ids : sequence of str
        Frame ids (:func:`annotated_frames`), read in this order.
    truth : str
        ``"labels"`` (ISBI), ``"gt"`` or ``"st"`` (CTC).
    root : path or None
        Converted-data root; None means :func:`default_data_dir`.

    Returns
    -------
    list of Frame ``(image, target, frame_id, truth)``

    Raises
    ------
    TypeError
        If ``ids`` is a string or not iterable, or ``root`` not a path.
    ValueError
        For an unknown dataset or truth kind, or an id that the folder has no ``truth`` mask for.
    FileNotFoundError, DataFileError
        If the data are missing or a file is unreadable.
    """
    spec = dataset_spec(name)
    if isinstance(ids, (str, bytes)) or not hasattr(ids, "__iter__"):
        raise TypeError(f"ids must be a list of frame ids such as ['02/077'], got {fmt(ids)}")
    ids = [str(i) for i in ids]
    if not isinstance(truth, str) or truth not in spec.truth_kinds:
        raise ValueError(f"truth={truth!r} is not a truth kind of {spec.name}; use one of {', '.join(spec.truth_kinds)}")
    have = annotated_frames(spec.name, root).get(truth)
    if have is None:
        raise ValueError(f"truth={truth!r} is not a truth kind of {spec.name}; use one of {', '.join(spec.truth_kinds)}")
    missing = sorted(set(ids) - set(have))
    if missing:
        raise ValueError(f"{spec.name} in this data folder has no {truth} mask for frame(s) {', '.join(missing[:8])}")
    if spec.layout == "isbi-stacks":
        isbi = load_isbi2012(root)
        idx = [int(i.split("/")[1]) for i in ids]
        return [Frame(isbi.train_images[k], isbi.train_labels[k], i, truth) for k, i in zip(idx, ids)]
    by_id = {s.frame_id: s for s in load_ctc(spec.name, root, truth=truth, sequences=sorted({i[:2] for i in ids}))}
    return [Frame(by_id[i].image, by_id[i].instances, i, truth) for i in ids]
