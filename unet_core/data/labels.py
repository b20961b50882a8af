"""Instances from a probability of cell, and the separation gap between touching training cells.

Private module: :func:`separate_touching` and :func:`cut_instances` are public through
:mod:`unet_core.recipes` (they are the CTC steps of a recipe: training targets and SEG scoring);
``prob_stack`` and ``truth_instances`` check the probability and truth stacks that ``score_recipe`` scores.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.segmentation import expand_labels, watershed

from ..utils.validation import check_finite_image, check_int, check_labels, check_real, fmt

__all__ = ['instances_from_labels', 'separate_touching', 'cut_instances']


def separate_touching(instances: np.ndarray, gap: int) -> np.ndarray:
    """Remove the pixels of every instance that lie within ``gap`` px of another instance.

    Parameters
    ----------
    instances : (H, W) integer ndarray, 0 = background
    gap : int >= 0
        Euclidean distance (px) to the nearest pixel of another instance at or below which a pixel
        is removed; 0 returns the input unchanged.

    Returns
    -------
    (H, W) ndarray of the same dtype: touching cells end up separated by about ``2 gap + 1`` px;
    sides that touch only background are untouched.

    Raises
    ------
    TypeError
        If ``instances`` is not an integer array or ``gap`` not an int.
    ValueError
        If ``instances`` is not 2-D, is empty or has negative labels, or ``gap < 0``.

    Examples
    --------
    >>> a = np.zeros((1, 9), int); a[0, :4] = 1; a[0, 4:] = 2
    >>> separate_touching(a, 1).tolist()
    [[1, 1, 1, 0, 0, 2, 2, 2, 2]]
    """
    gap = check_int(gap, "gap", low=0, fix="0 keeps the instances unchanged")
    inst = check_labels(instances, "instances")
    if gap == 0 or inst.max() == 0:
        return inst.copy()
    out = inst.copy()
    for lab in np.unique(inst[inst > 0]):
        other = (inst > 0) & (inst != lab)
        if not other.any():
            continue
        dist = ndimage.distance_transform_edt(~other)  # (H, W): distance to the nearest other cell
        out[(inst == lab) & (dist <= gap)] = 0
    return out


def cut_instances(prob: np.ndarray, threshold: float, method: str = "components",
                  seed_threshold: float = 0.9, grow: int = 0) -> np.ndarray:
    """Instances (H, W) int32 from ``p(cell)``: 4-connected components or a seeded watershed.

    ``"watershed"``: seeds are the components of ``p > max(seed_threshold, threshold)``, flooded over
    ``-p`` within ``p > threshold``; a component of the mask without a seed keeps its own label.
    ``grow`` > 0 then expands every instance by that many px without overlap (the inverse of
    :func:`separate_touching` for cells trained with a separation gap).

    Raises
    ------
    TypeError
        If ``prob`` is not a numeric numpy array, a threshold not a number or ``grow`` not an int.
    ValueError
        If ``prob`` is not (H, W), is empty or holds NaN/inf, a threshold lies outside [0, 1],
        ``method`` is not "components" or "watershed", or ``grow < 0``.
    """
    check_finite_image(prob, "prob")
    if prob.ndim != 2:
        raise ValueError(f"prob must be an (H, W) map of p(cell), got {fmt(prob)}; cut a stack frame by frame")
    threshold = check_real(threshold, "threshold", 0, 1, fix="it is a probability of cell, e.g. 0.5")
    seed_threshold = check_real(seed_threshold, "seed_threshold", 0, 1, fix="e.g. 0.9")
    grow = check_int(grow, "grow", low=0, fix="0 leaves the instances as cut")
    if method not in ("components", "watershed"):
        raise ValueError(f"method must be 'components' or 'watershed', got {fmt(method)}")
    mask = prob > threshold
    if method == "components":
        lab = instances_from_labels(mask.astype(np.uint8))
    else:
        seeds = instances_from_labels((prob > max(seed_threshold, threshold)).astype(np.uint8))
        lab = watershed(-prob, markers=seeds, mask=mask)
        orphans, n = ndimage.label(mask & (lab == 0))
        lab[orphans > 0] = orphans[orphans > 0] + lab.max()
    if grow:
        lab = expand_labels(lab, distance=grow)
    return lab.astype(np.int32)


def prob_stack(prob, name: str) -> np.ndarray:
    """``prob`` as a finite (N, H, W) ndarray (an (H, W) map becomes N = 1)."""
    check_finite_image(prob, name)
    if prob.ndim not in (2, 3):
        raise ValueError(f"{name} must be an (N, H, W) stack of p(cell) maps, got {fmt(prob)}")
    return prob if prob.ndim == 3 else prob[None]


def truth_instances(truth, shape: tuple, name: str) -> np.ndarray:
    """``truth`` (a list of (H, W) label images or an array) stacked to ``shape`` (the probabilities')."""
    if truth is None or isinstance(truth, (str, bytes, dict)) or not hasattr(truth, "__len__"):
        raise TypeError(f"{name} must be a list of (H, W) label images or an (N, H, W) array, got {fmt(truth)}")
    t = np.stack(truth) if len(truth) else np.zeros((0,))
    t = t[None] if t.ndim == 2 and len(shape) == 3 and shape[0] == 1 else t
    if t.shape != shape:
        raise ValueError(f"{name} must have the shape of the probabilities {shape}, got {t.shape}")
    return t


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
    return ndimage.label(cell_mask(labels))[0].astype(np.int32)  # default structure: 4-connected


def cell_mask(labels, name: str = "labels") -> np.ndarray:
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
