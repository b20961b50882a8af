"""Readers of the converted datasets and the training-tile Dataset (paper Sec. 3).

``data_scripts/fetch.py`` downloads, verifies and converts the paper's data into
one layout (``layout_version`` 1), under ``default_data_dir()``::

    isbi2012/train-volume.tif   (30, 512, 512) uint8
    isbi2012/train-labels.tif   (30, 512, 512) uint8, 1 = cell, 0 = membrane
    isbi2012/test-volume.tif    (30, 512, 512) uint8 (labels are secret)
    isbi2012/meta.json          hashes, source, date, citation, split
    phc-u373/<seq>/images/tNNN.tif         (H, W) uint8
    phc-u373/<seq>/gt_seg/man_segNNN.tif   (H, W) uint16 gold truth, 0 = background
    phc-u373/<seq>/st_seg/man_segNNN.tif   (H, W) uint16 silver truth (computer-generated)
    phc-u373/meta.json                     counts, truth kinds, split
    dic-hela/...                           as phc-u373

Splits are declared per dataset in :mod:`unet_core.datasets` (frame-id rules that give the
same training frames whatever else a folder holds): ISBI slices 0-24 train, 25-29 held out;
PhC-U373 14 gold frames of sequence 02 train, its later frames and sequence 01 held out;
DIC-HeLa sequence 01 trains, 02 is held out. Frame ids: ``"train-volume/07"`` (ISBI),
``"02/077"`` (CTC). Nothing here touches the network.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from scipy import ndimage

from ._readers import DataFileError, _check_root, _imread, _read_meta, _refetch  # noqa: F401 (DataFileError: re-export)
from ._utils import atomic_write, check_bool, check_finite_image, check_int, check_labels, fmt, is_int
from .augment import AugmentConfig, _check_tile_sizes, sample_training_tile
from .datasets import DATASETS, dataset_spec, resolve_split
from .weight_map import _check_parameters as _check_weight_parameters
from .weight_map import foreground_with_borders, weight_map

__all__ = ["default_data_dir", "normalize_image", "instances_from_labels", "IsbiData", "load_isbi2012",
           "CtcSample", "load_ctc", "annotated_frames", "load_frames", "TrainingTiles"]


def default_data_dir() -> Path:
    """Root of the converted data: ``$UNET_DATA_DIR`` if set, else ``./data``.

    Returns
    -------
    root : pathlib.Path
        Not checked for existence; the loaders say how to fetch missing data.

    Examples
    --------
    >>> isinstance(default_data_dir(), Path)
    True
    """
    return Path(os.environ.get("UNET_DATA_DIR") or "data")


def normalize_image(image: np.ndarray) -> np.ndarray:
    """Per-image standardisation to zero mean and unit standard deviation (float32).

    Parameters
    ----------
    image : (H, W) or (C, H, W) ndarray
        Any integer or float image.

    Returns
    -------
    normalized : ndarray of the same shape, float32
        ``(image - mean) / std`` over all pixels; a constant image gives zeros.

    Raises
    ------
    TypeError, ValueError
        For non-numeric, empty, non-finite images or images that are not (H, W) or (C, H, W).

    Notes
    -----
    Used by training (``TrainingTiles``) and must be used for prediction. Chosen over
    scaling by the dtype range because the three datasets differ in brightness,
    contrast and bit depth (EM, phase contrast, DIC): standardising removes the
    global gray-value offset and gain that the paper's gray-value augmentation is
    meant to make irrelevant, and is independent of the file's dtype.

    Examples
    --------
    >>> normalize_image(np.array([[0, 2], [4, 6]], np.uint8)).std()
    np.float32(1.0)
    """
    check_finite_image(image, "image")
    if image.ndim not in (2, 3):
        raise ValueError(f"image must be an (H, W) or (C, H, W) array, got {fmt(image)}; normalise one image at a time")
    x = np.asarray(image, dtype=np.float64)
    peak = float(np.abs(x).max())
    if peak > 1e150 or 0 < peak < 1e-150:  # the variance would overflow or underflow: rescale first (exact result)
        x = x / peak
    std = x.std()
    return ((x - x.mean()) / std if std > 0 else np.zeros_like(x)).astype(np.float32)


def instances_from_labels(labels: np.ndarray) -> np.ndarray:
    """Instances of a semantic label image: the 4-connected components of the cell class (1).

    Parameters
    ----------
    labels : (H, W) integer or bool ndarray, 1 = cell, 0 = membrane/background
        The official ISBI encoding 255 = cell, 0 = membrane is accepted as well.

    Returns
    -------
    instances : (H, W) int32 ndarray, components numbered 1..N, 0 elsewhere

    Raises
    ------
    TypeError
        If ``labels`` is not an integer or bool array.
    ValueError
        If it is not 2-D, is empty or holds other values than {0, 1} or {0, 255}.

    Examples
    --------
    >>> instances_from_labels(np.array([[1, 0, 1], [1, 0, 0]])).tolist()
    [[1, 0, 2], [1, 0, 0]]
    """
    return ndimage.label(_cell_mask(labels))[0].astype(np.int32)  # default structure: 4-connected


def _cell_mask(labels, name: str = "labels") -> np.ndarray:
    """Foreground of a class label image (1 = cell, or 255 = cell as in the official ISBI files)."""
    x = check_labels(labels, name, allow_bool=True)
    if x.dtype == bool:
        return x
    values = set(np.unique(x).tolist()) if x.dtype.itemsize > 1 or x.size < 65536 else \
        set(np.flatnonzero(np.bincount(x.ravel().astype(np.uint8), minlength=256)).tolist())
    if values <= {0, 1}:
        return x == 1
    if values <= {0, 255}:
        return x == 255
    shown = sorted(values)[:6]
    raise ValueError(f"{name} must be a class label image with 1 = cell and 0 = membrane (or 255/0), got values "
                     f"{shown}{' ...' if len(values) > 6 else ''}; for instance labels (one id per cell) pass "
                     "semantic=False, or build the mask yourself (labels == k)")


def _save_npy(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as f:  # a file object: np.save would append ".npy" to a path
        np.save(f, array)


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
    folder = _check_root(root) / "isbi2012"
    meta = _read_meta(folder, "isbi2012")
    fix = _refetch("isbi2012", folder)
    stacks = {name: _imread(folder / f"{name}.tif", fix, ndim=3) for name in ("train-volume", "train-labels",
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
        :mod:`unet_core.datasets`)
    root : path or None
        Converted-data root; None means :func:`default_data_dir`.
    truth : {"gt", "st"}
        Gold truth (manual, the paper's labels) or silver truth (computer-generated).
    sequences : iterable of str or None
        Sequences to read, e.g. ``["02"]``; None reads all.
    split : {"train", "val"} or None
        Only the training frames of the dataset's declared split (:mod:`unet_core.datasets`) or its
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
    folder = _check_root(root) / key
    meta = _read_meta(folder, key)
    fix = _refetch(key, folder)
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
                image = _imread(folder / seq / "images" / f"t{frame:03d}.tif", fix, ndim=2)
                mask_path = folder / seq / f"{truth}_seg" / f"man_seg{frame:03d}.tif"
                mask = _imread(mask_path, fix, ndim=2).astype(np.int32)
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


def annotated_frames(name: str, root: str | os.PathLike | None = None) -> dict[str, list[str]]:
    """Ids of the annotated frames of a converted dataset, per truth kind (read from its meta.json).

    Parameters
    ----------
    name : str
        A dataset of :mod:`unet_core.datasets` (``"isbi2012"``, ``"phc-u373"``, ``"dic-hela"``).
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
    folder = _check_root(root) / spec.name
    meta = _read_meta(folder, spec.name)
    if spec.layout == "isbi-stacks":
        shape = (meta.get("files") or {}).get("train-volume.tif") or [30]
        return {"labels": [f"train-volume/{i:02d}" for i in range(int(shape[0]))]}
    try:
        return {kind: [f"{seq}/{int(f):03d}" for seq, info in sorted(meta["sequences"].items())
                       for f in info.get(f"{kind}_frames", [])] for kind in spec.truth_kinds}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DataFileError(f"{folder}/meta.json has no valid 'sequences' ({exc!r}); "
                            f"{_refetch(spec.name, folder)}") from exc


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
        A dataset of :mod:`unet_core.datasets`.
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


class TrainingTiles(torch.utils.data.Dataset):
    """Random augmented training tiles with Eq. 2 weight maps; item ``i`` is deterministic in (seed, i).

    Parameters
    ----------
    images : sequence of (H, W) or (C, H, W) ndarrays, or an (N, H, W) stack
        Raw images; each is standardised with :func:`normalize_image`.
    targets : sequence of (H, W) integer ndarrays, or an (N, H, W) stack
        Instance labels (0 = background; touching cells get separation borders,
        Fig. 3c) or, with ``semantic=True``, class labels 1 = cell, 0 = membrane
        (ISBI): their instances are the 4-connected components of class 1.
    in_size, out_size : int, default 572 and 388 (Fig. 1)
    augment : AugmentConfig, bool or None
        True/None: ``AugmentConfig()`` (paper's elastic deformation); False: off.
    seed : int
        Item i draws from ``np.random.default_rng([seed, i])``.
    length : int or None
        Items per epoch; None means one per image. Item i uses image ``i % N``.
    w0, sigma : float, default 10.0 and 5.0
        Eq. 2 constants.
    class_weights : "balanced", None or (w_background, w_foreground)
        The w_c term of Eq. 2, passed to :func:`unet_core.weight_map` (default
        "balanced": n_max / n_k per image; None: 1 everywhere).
    semantic : bool
        Targets are class labels (see ``targets``).
    cache_dir : path or None
        Also keep weight maps as ``.npy`` files there, keyed by a hash of the
        labels and parameters (written atomically); always cached in memory.

    Notes
    -----
    Returns ``(image (C, in, in) float32, label (out, out) int64, weight (out, out) float32)``
    tensors. Label = ``foreground_with_borders(instances)`` (or the class labels
    when ``semantic``); weight = ``weight_map(instances, w0, sigma, class_weights)``
    (Eq. 2). Tiles and augmentation come from ``sample_training_tile``.

    Raises
    ------
    TypeError
        If ``images``/``targets`` are not sequences, a target is not an integer array, or a
        size, ``seed``, ``length``, ``augment`` or ``semantic`` has the wrong type.
    ValueError
        On empty or mismatched inputs, non-finite images, sizes the tile cannot have (the
        message names the rule), a negative ``seed`` or a bad Eq. 2 parameter.

    Examples
    --------
    >>> from unet_core.synthetic import synthetic_cells
    >>> image, inst = synthetic_cells((64, 64), seed=0)
    >>> x, y, w = TrainingTiles([image], [inst], in_size=60, out_size=20, augment=False)[0]
    >>> tuple(x.shape), tuple(y.shape), w.dtype
    ((1, 60, 60), (20, 20), torch.float32)
    """

    def __init__(self, images, targets, *, in_size: int = 572, out_size: int = 388, augment=True,
                 seed: int = 0, length: int | None = None, w0: float = 10.0, sigma: float = 5.0,
                 class_weights="balanced", semantic: bool = False, cache_dir: str | os.PathLike | None = None):
        for name, value in (("images", images), ("targets", targets)):
            if value is None or isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
                raise TypeError(f"{name} must be a sequence of arrays or an (N, H, W) stack, got {fmt(value)}")
        images, targets = list(images), list(targets)
        if not images or len(images) != len(targets):
            raise ValueError(f"images and targets must be non-empty and of equal length, got {len(images)} "
                             f"images and {len(targets)} targets")
        for k, (img, tgt) in enumerate(zip(images, targets)):
            tgt = np.asarray(tgt)
            if not np.issubdtype(tgt.dtype, np.integer):
                raise TypeError(f"targets[{k}] must be an integer (H, W) array (labels are never truncated), got "
                                f"{fmt(tgt)}; convert whole-number labels with .astype(np.int64)")
            if tgt.ndim != 2 or np.asarray(img).shape[-2:] != tgt.shape:
                raise ValueError(f"targets[{k}] must be an integer (H, W) array matching images[{k}] "
                                 f"{fmt(np.asarray(img))}, got {fmt(tgt)}")
        self.images = []
        for k, img in enumerate(images):
            try:
                self.images.append(normalize_image(np.asarray(img)))
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"images[{k}]: {exc}") from None
        self.targets = [np.asarray(t) for t in targets]
        if not isinstance(augment, (AugmentConfig, bool, np.bool_)) and augment is not None:
            raise TypeError(f"augment must be an AugmentConfig, True, False or None, got {fmt(augment)}")
        self.config = augment if isinstance(augment, AugmentConfig) else (
            AugmentConfig.off() if augment is False else AugmentConfig())
        _check_tile_sizes(in_size, out_size)
        self.in_size, self.out_size = int(in_size), int(out_size)
        self.seed = check_int(seed, "seed", 0, fix="e.g. seed=0")
        if length is not None and not is_int(length):
            raise TypeError(f"length must be a positive int or None, got {fmt(length)}")
        if length is not None and length < 1:
            raise ValueError(f"length must be a positive int or None, got {length!r}")
        self.length = len(images) if length is None else int(length)
        semantic = check_bool(semantic, "semantic")
        self.w0, self.sigma, self.semantic = w0, sigma, semantic
        self.class_weights = _check_weight_parameters(w0, sigma, class_weights)[2]  # fail early on bad values
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return self.length

    def label_and_weights(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(label (H, W) int64, weights (H, W) float32)`` of image k, computed once and cached."""
        if k not in self._cache:
            tgt = self.targets[k]
            instances = instances_from_labels(tgt) if self.semantic else tgt
            label = _cell_mask(tgt) if self.semantic else foreground_with_borders(instances)
            self._cache[k] = (label.astype(np.int64), self._weights(instances))
        return self._cache[k]

    def _weights(self, instances: np.ndarray) -> np.ndarray:
        if self.cache_dir is None:
            return weight_map(instances, self.w0, self.sigma, self.class_weights)
        a = np.ascontiguousarray(instances, dtype=np.int64)
        cw = "balanced" if self.class_weights == "balanced" else f"class_weights={self.class_weights!r}"
        key = hashlib.sha256(f"v1 {a.shape} w0={self.w0!r} sigma={self.sigma!r} {cw}".encode() + a.tobytes())
        path = self.cache_dir / f"weights-{key.hexdigest()[:32]}.npy"
        if path.is_file():
            return np.load(path)
        w = weight_map(instances, self.w0, self.sigma, self.class_weights)
        atomic_write(path, lambda tmp: _save_npy(tmp, w))
        return w

    def __getitem__(self, i: int):
        if not is_int(i):
            raise TypeError(f"index must be an int, got {fmt(i)}")
        if not 0 <= i < self.length:
            raise IndexError(f"index {i} is out of range for {self.length} items")
        rng = np.random.default_rng([self.seed, i])
        k = i % len(self.images)
        label, weights = self.label_and_weights(k)
        x, y, w = sample_training_tile(self.images[k], label, weights, rng, self.in_size, self.out_size, self.config)
        return torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(w)
