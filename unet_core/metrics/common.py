"""Helpers shared by the ISBI measures: input checks, binarisations at thresholds, 4-connected labels."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..utils.validation import fmt

__all__: list[str] = []


_FOUR = ndimage.generate_binary_structure(2, 1)


def _as_array(x, name: str) -> np.ndarray:
    """(H, W) or (N, H, W) numpy/torch input as an (N, H, W) ndarray."""
    if hasattr(x, "detach"):  # torch tensor
        x = x.detach().cpu().numpy()
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy array or torch tensor, got {type(x).__name__}")
    if x.ndim not in (2, 3) or x.size == 0:
        raise ValueError(f"{name} must be a non-empty (H, W) image or (N, H, W) stack, got {fmt(x)}")
    return x if x.ndim == 3 else x[None]  # (N, H, W)


def check_prob_truth(prob, truth) -> tuple[np.ndarray, np.ndarray]:
    """Validate and return ``prob`` as float (N, H, W) and ``truth`` as bool (N, H, W)."""
    p, t = _as_array(prob, "prob"), _as_array(truth, "truth")
    if p.shape != t.shape:
        raise ValueError(f"prob and truth must have the same shape, got {p.shape} and {t.shape}")
    if not (t.dtype == bool or np.issubdtype(t.dtype, np.number)) or not np.isin(t, (0, 1)).all():
        values = np.unique(t)[:5] if np.issubdtype(t.dtype, np.number) else t.dtype
        raise ValueError(
            f"truth must be binary with 1 = cell, 0 = membrane, got values {values}; "
            "convert raw ISBI labels (255 = cell, 0 = membrane) with truth > 0"
        )
    if not (p.dtype == bool or np.issubdtype(p.dtype, np.integer) or np.issubdtype(p.dtype, np.floating)):
        raise TypeError(f"prob must be a numeric array, got dtype {p.dtype}")
    p = p.astype(np.float64)
    if not np.isfinite(p).all():
        raise ValueError(f"prob must be finite, but {int((~np.isfinite(p)).sum())} pixel(s) are NaN or inf")
    if p.min() < 0 or p.max() > 1:
        raise ValueError(
            f"prob must lie in [0, 1] (probability of cell), got min {p.min():g} and max "
            f"{p.max():g}; divide 0/255 maps by 255, apply a softmax/sigmoid to logits"
        )
    return p, t.astype(bool)


def check_thresholds(thresholds) -> np.ndarray:
    """``thresholds`` as a non-empty 1D float array of finite numbers (ValueError otherwise)."""
    ths = np.asarray(thresholds, dtype=np.float64).ravel()
    if ths.size == 0 or not np.isfinite(ths).all():
        raise ValueError(f"thresholds must be a non-empty sequence of finite numbers, got {fmt(thresholds)}")
    return ths


def binarizations(p: np.ndarray, thresholds):
    """Yield ``(t, p > t)`` for each distinct binarisation (equal counts = equal sets)."""
    last = None
    for t in np.sort(check_thresholds(thresholds)):
        b = p > t
        count = int(b.sum())
        if count != last:
            last = count
            yield float(t), b


def label4(mask2d: np.ndarray) -> np.ndarray:
    """4-connected component labels of a 2D boolean mask, 0 = not in mask."""
    return ndimage.label(mask2d, structure=_FOUR)[0]
