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

Splits are declared per dataset in :mod:`unet_core.data.datasets` (frame-id rules that give the
same training frames whatever else a folder holds): ISBI slices 0-24 train, 25-29 held out;
PhC-U373 14 gold frames of sequence 02 train, its later frames and sequence 01 held out;
DIC-HeLa sequence 01 trains, 02 is held out. Frame ids: ``"train-volume/07"`` (ISBI),
``"02/077"`` (CTC). Nothing here touches the network.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch

from ..augment.ops import AugmentConfig
from ..augment.tiles import check_tile_sizes, sample_training_tile
from ..utils.files import atomic_write
from ..utils.validation import check_bool, check_finite_image, check_int, fmt, is_int
from .labels import cell_mask, instances_from_labels
from .loss_weights import check_weight_parameters as _check_weight_parameters
from .loss_weights import foreground_with_borders, weight_map

__all__ = ['normalize_image', 'TrainingTiles']


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


def _save_npy(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as f:  # a file object: np.save would append ".npy" to a path
        np.save(f, array)


def _check_ignore(ignore, targets: list[np.ndarray]) -> list[np.ndarray | None]:
    """``ignore`` as one (H, W) bool mask or None per target (see :class:`TrainingTiles`)."""
    if ignore is None:
        return [None] * len(targets)
    if isinstance(ignore, (str, bytes)) or not hasattr(ignore, "__iter__"):
        raise TypeError(f"ignore must be None or a sequence of (H, W) bool masks, got {fmt(ignore)}")
    ignore = list(ignore)
    if len(ignore) != len(targets):
        raise ValueError(f"ignore must hold one mask (or None) per target, got {len(ignore)} for {len(targets)}")
    out = []
    for k, (mask, tgt) in enumerate(zip(ignore, targets)):
        if mask is None:
            out.append(None)
            continue
        mask = np.asarray(mask)
        if mask.dtype != bool or mask.shape != tgt.shape:
            raise ValueError(f"ignore[{k}] must be a bool mask of the shape of targets[{k}] {tgt.shape}, got "
                             f"{fmt(mask)}; pass (labels == IGNORE_VALUE)")  # fmt: skip
        out.append(mask if mask.any() else None)
    return out


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
    ignore : sequence of (H, W) bool arrays (or None entries), or None
        Pixels that are not annotated (the paper's "partially annotated" images): their
        weight is 0, so the loss leaves them out; they count as background for Eq. 2.

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
    >>> from unet_core.data.synthetic import synthetic_cells
    >>> image, inst = synthetic_cells((64, 64), seed=0)
    >>> x, y, w = TrainingTiles([image], [inst], in_size=60, out_size=20, augment=False)[0]
    >>> tuple(x.shape), tuple(y.shape), w.dtype
    ((1, 60, 60), (20, 20), torch.float32)
    """

    def __init__(self, images, targets, *, in_size: int = 572, out_size: int = 388, augment=True,
                 seed: int = 0, length: int | None = None, w0: float = 10.0, sigma: float = 5.0,
                 class_weights="balanced", semantic: bool = False, cache_dir: str | os.PathLike | None = None,
                 ignore=None):
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
        self.ignore = _check_ignore(ignore, self.targets)
        if not isinstance(augment, (AugmentConfig, bool, np.bool_)) and augment is not None:
            raise TypeError(f"augment must be an AugmentConfig, True, False or None, got {fmt(augment)}")
        self.config = augment if isinstance(augment, AugmentConfig) else (
            AugmentConfig.off() if augment is False else AugmentConfig())
        check_tile_sizes(in_size, out_size)
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
            label = cell_mask(tgt) if self.semantic else foreground_with_borders(instances)
            weights = self._weights(instances)
            if self.ignore[k] is not None:
                weights = np.where(self.ignore[k], np.float32(0), weights).astype(np.float32)
            self._cache[k] = (label.astype(np.int64), weights)
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
