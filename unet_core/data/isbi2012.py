"""ISBI 2012 (EM segmentation challenge): the converted training and test stacks."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from ..utils.validation import fmt, is_int
from .readers import DataFileError, check_root, imread, read_meta, refetch_hint

__all__ = ['IsbiData', 'load_isbi2012']


@dataclass
class IsbiData:
    """The converted ISBI 2012 stacks; ``labels``: 1 = cell, 0 = membrane.

    Raises
    ------
    TypeError
        If a stack is not a numpy array or ``split`` is not a dict.
    ValueError
        If a stack is not a non-empty (N, H, W) array, the labels do not match the images or the
        split names slices that do not exist.
    """

    train_images: np.ndarray  # (30, 512, 512) uint8
    train_labels: np.ndarray  # (30, 512, 512) uint8
    test_images: np.ndarray  # (30, 512, 512) uint8
    split: dict = field(default_factory=dict)  # {"train": [0..24], "val": [25..29]}
    meta: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        for name in ("train_images", "train_labels", "test_images"):
            value = getattr(self, name)
            if not isinstance(value, np.ndarray):
                raise TypeError(f"IsbiData.{name} must be an (N, H, W) numpy array, got {fmt(value)}")
            if value.ndim != 3 or value.size == 0:
                raise ValueError(f"IsbiData.{name} must be a non-empty (N, H, W) stack, got {fmt(value)}")
        if self.train_labels.shape != self.train_images.shape:
            raise ValueError(f"IsbiData.train_labels {self.train_labels.shape} must match train_images "
                             f"{self.train_images.shape}")
        if not isinstance(self.split, dict):
            raise TypeError(f"IsbiData.split must be a dict {{'train': [...], 'val': [...]}}, got {fmt(self.split)}")
        n = len(self.train_images)
        bad = [i for k in ("train", "val") for i in self.split.get(k, []) if not is_int(i) or not 0 <= i < n]
        if bad:
            raise ValueError(f"IsbiData.split names slices {bad[:5]} that are not in 0..{n - 1}")

    def subset(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(images, labels)`` of the slices of split ``name`` ("train" or "val")."""
        if name not in ("train", "val"):
            raise ValueError(f"name must be 'train' or 'val', got {name!r}")
        idx = self.split.get(name, [])
        return self.train_images[idx], self.train_labels[idx]


def load_isbi2012(root: str | os.PathLike | None = None) -> IsbiData:
    """Read the converted ISBI 2012 data (see the module docstring for the layout).

    Parameters
    ----------
    root : path or None
        Converted-data root; None means :func:`default_data_dir`.

    Returns
    -------
    data : IsbiData

    Raises
    ------
    FileNotFoundError
        If the data were not converted there (the message says how to fetch them).
    TypeError
        If ``root`` is not a path.
    DataFileError
        (an OSError) if a file is truncated or corrupt, has the wrong shape or dtype, the labels
        are not 0/1 or ``meta.json`` is unreadable; the message names the file and how to re-fetch it.

    References
    ----------
    Cardona et al. (2010), PLoS Biol 8(10): e1000502; Arganda-Carreras et al. (2015).
    """
    folder = check_root(root) / "isbi2012"
    meta = read_meta(folder, "isbi2012")
    fix = refetch_hint("isbi2012", folder)
    stacks = {name: imread(folder / f"{name}.tif", fix, ndim=3) for name in ("train-volume", "train-labels",
                                                                             "test-volume")}
    for name, stack in stacks.items():
        if stack.dtype != np.uint8:
            raise DataFileError(f"{folder / name}.tif has dtype {stack.dtype}, expected uint8; {fix}")
    vol, lab = stacks["train-volume"], stacks["train-labels"]
    recorded = meta.get("files") if isinstance(meta.get("files"), dict) else {}
    for name, stack in stacks.items():  # the shapes fetch.py recorded: a wrong number of slices is refused
        want = recorded.get(f"{name}.tif")
        if isinstance(want, list) and tuple(want) != stack.shape:
            raise DataFileError(f"{folder / name}.tif has shape {stack.shape} but meta.json records {tuple(want)}; "
                                f"{fix}")
    if lab.shape != vol.shape:
        raise DataFileError(f"{folder}/train-labels.tif has shape {lab.shape} but train-volume.tif has {vol.shape}; "
                            f"one of them is incomplete: {fix}")
    if lab.max() > 1:
        raise DataFileError(f"{folder}/train-labels.tif must hold 0 (membrane) and 1 (cell) after conversion, found "
                            f"values up to {lab.max()}; {fix}")
    try:
        split = {k: [int(i) for i in meta["split"][k]] for k in ("train", "val")}
    except (KeyError, TypeError, ValueError) as exc:
        raise DataFileError(f"{folder}/meta.json has no valid train/val split ({exc}); {fix}") from exc
    bad = [i for k in split for i in split[k] if not 0 <= i < len(vol)]
    if bad:
        raise DataFileError(f"{folder}/meta.json splits name slices {bad} but train-volume.tif has {len(vol)}; {fix}")
    return IsbiData(vol, lab, stacks["test-volume"], split, meta)
