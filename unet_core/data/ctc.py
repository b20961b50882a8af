"""Cell Tracking Challenge datasets (PhC-U373, DIC-HeLa): converted sequences, gold and silver truth."""
from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np

from ..utils.validation import fmt
from .datasets import DATASETS, dataset_spec, resolve_split
from .readers import DataFileError, annotated_frames, check_root, imread, read_meta, refetch_hint

__all__ = ['CtcSample', 'load_ctc']


class CtcSample(NamedTuple):
    """One annotated CTC frame; ``truth`` is "gt" (gold, manual) or "st" (silver, computer-generated)."""

    image: np.ndarray  # (H, W) uint8
    instances: np.ndarray  # (H, W) int32, 0 = background
    frame_id: str  # "<sequence>/<frame>", e.g. "02/010"
    truth: str


def load_ctc(name: str, root: str | os.PathLike | None = None, truth: str = "gt",
             sequences=None, split: str | None = None) -> list[CtcSample]:
    """Annotated frames of a converted Cell Tracking Challenge dataset.

    Parameters
    ----------
    name : {"phc-u373", "dic-hela"} (or the CTC names "PhC-C2DH-U373", "DIC-C2DH-HeLa"; any CTC dataset of
        :mod:`unet_core.data.datasets`)
    root : path or None
        Converted-data root; None means :func:`default_data_dir`.
    truth : {"gt", "st"}
        Gold truth (manual, the paper's labels) or silver truth (computer-generated).
    sequences : iterable of str or None
        Sequences to read, e.g. ``["02"]``; None reads all.
    split : {"train", "val"} or None
        Only the training frames of the dataset's declared split (:mod:`unet_core.data.datasets`) or its
        primary held-out group; None reads all.

    Returns
    -------
    samples : list of CtcSample ``(image, instances, frame_id, truth)`` in frame order

    Raises
    ------
    ValueError
        For an unknown name, truth or split, or when no frame has that truth kind
        (DIC-HeLa here has silver truth only).
    TypeError
        If ``sequences`` is a string or not iterable, or ``root`` is not a path.
    FileNotFoundError
        If the dataset was not converted under ``root``.
    DataFileError
        (an OSError) if a frame or mask is unreadable, not 2-D, or their shapes differ.
    """
    spec = _ctc_spec(name)
    if truth not in ("gt", "st"):
        raise ValueError(f"truth must be 'gt' (gold, manual) or 'st' (silver, computer-generated), got {truth!r}")
    if split not in (None, "train", "val"):
        raise ValueError(f"split must be None, 'train' or 'val', got {split!r}")
    if sequences is not None:
        if isinstance(sequences, (str, bytes)) or not hasattr(sequences, "__iter__"):
            raise TypeError(f"sequences must be None or a list of sequence names such as ['02'], got {fmt(sequences)}")
        sequences = [str(q) for q in sequences]
    key = spec.name
    folder = check_root(root) / key
    meta = read_meta(folder, key)
    fix = refetch_hint(key, folder)
    wanted = None
    if split:
        plan = resolve_split(spec, annotated_frames(key, root), truth)
        wanted = set(plan.train[1] if split == "train" else next(iter(plan.groups.values()))[1])
    samples = []
    for seq, info in sorted(meta["sequences"].items()):
        if sequences is not None and seq not in sequences:
            continue
        for frame in info[f"{truth}_frames"]:
            fid = f"{seq}/{frame:03d}"
            if wanted is None or fid in wanted:
                image = imread(folder / seq / "images" / f"t{frame:03d}.tif", fix, ndim=2)
                mask_path = folder / seq / f"{truth}_seg" / f"man_seg{frame:03d}.tif"
                mask = imread(mask_path, fix, ndim=2).astype(np.int32)
                if mask.shape != image.shape:
                    raise DataFileError(f"{mask_path} has shape {mask.shape} but its image has {image.shape}; {fix}")
                samples.append(CtcSample(image, mask, fid, truth))
    if not samples:
        have = ", ".join(meta.get("truth_available", [])) or "none"
        raise ValueError(f"{key} in {folder} has no frames with truth={truth!r} (sequences={sequences}, "
                         f"split={split}); truth kinds available: {have}. 'st' is silver truth (computer-generated), "
                         "not the paper's manual labels")
    return samples


def _ctc_spec(name):
    ctc = sorted(k for s in DATASETS.values() if s.layout == "ctc" for k in (s.name, *s.aliases))
    try:
        spec = dataset_spec(name)
    except (TypeError, ValueError):
        spec = None
    if spec is None or spec.layout != "ctc":
        raise ValueError(f"name must be one of {ctc} (a Cell Tracking Challenge dataset), got {name!r}")
    return spec
