"""Cell Tracking Challenge SEG measure (Table 2 of the U-Net paper: PhC-U373, DIC-HeLa).

SEG is the mean, over all reference (ground truth) objects R, of the Jaccard
index J(R, S) = |R & S| / |R | S| with the predicted object S that covers more
than half of R; such an S is unique when objects do not overlap, and R scores 0
without one. Predicted objects that match nothing do not lower SEG (false
positives are counted by the CTC's DET measure instead). A stack of frames is
scored by pooling the reference objects of all frames, as the CTC does for a
time-lapse sequence.
"""
from __future__ import annotations

import numpy as np

from ._utils import fmt

__all__ = ["seg_score"]


def _as_stack(labels, name: str) -> np.ndarray:
    """Instance labels (H, W) or (N, H, W), numpy or torch, as an (N, H, W) ndarray."""
    x = labels.detach().cpu().numpy() if hasattr(labels, "detach") else labels
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy array or torch tensor, got {type(x).__name__}")
    if x.ndim not in (2, 3) or x.size == 0:
        raise ValueError(f"{name} must be a non-empty (H, W) or (N, H, W) label array, got {fmt(x)}")
    return x.reshape((-1,) + x.shape[-2:])  # (N, H, W)


def seg_score(pred_instances, truth_instances, *, return_per_object: bool = False):
    """Cell Tracking Challenge SEG: mean Jaccard index of matched reference objects.

    Parameters
    ----------
    pred_instances, truth_instances : (H, W) or (N, H, W) integer arrays
        Instance labels, 0 = background; a stack is N independent frames.
    return_per_object : bool
        Also return ``{label: J}`` (2D) or ``{(frame, label): J}`` (stack).

    Returns
    -------
    float or (float, dict)
        Mean over all reference objects of J(R, S) = |R & S| / |R | S| where S is
        the predicted object with |R & S| > 0.5 |R| (at most one exists), else 0.

    Raises
    ------
    TypeError
        Non-integer (float or bool) labels.
    ValueError
        Shape mismatch, negative labels, empty arrays, no reference object.

    Notes
    -----
    The strict ``>``: an object covering exactly half of R is not a match.

    References
    ----------
    Maska et al. (2014) Bioinformatics 30:1609-1617; Ulman et al. (2017) Nat. Methods 14:1141.

    Examples
    --------
    >>> r = np.zeros((4, 4), int); r[:2] = 1
    >>> seg_score(r, r)
    1.0
    """
    s, r = _as_stack(pred_instances, "pred_instances"), _as_stack(truth_instances, "truth_instances")
    for name, x in (("pred_instances", s), ("truth_instances", r)):
        if not np.issubdtype(x.dtype, np.integer):
            raise TypeError(f"{name} must hold integer instance labels, got dtype {x.dtype}; "
                            "label a binary mask first (skimage.measure.label)")
        if x.min() < 0:
            raise ValueError(f"{name} must hold labels >= 0, got min {x.min()}")
    if s.shape != r.shape:
        raise ValueError(f"pred_instances and truth_instances must have the same shape, got {s.shape} and {r.shape}")
    scores: dict = {}
    for k in range(r.shape[0]):
        rk, sk = r[k].ravel().astype(np.int64), s[k].ravel().astype(np.int64)
        r_ids, r_size = np.unique(rk[rk > 0], return_counts=True)
        s_ids, s_size = np.unique(sk[sk > 0], return_counts=True)
        both = (rk > 0) & (sk > 0)
        key, inter = np.unique(rk[both] * (int(sk.max()) + 1) + sk[both], return_counts=True)  # (P,) pairs
        ri, si = np.divmod(key, int(sk.max()) + 1)
        size_r, size_s = r_size[np.searchsorted(r_ids, ri)], s_size[np.searchsorted(s_ids, si)]
        ok = 2 * inter > size_r  # |R & S| > 0.5 |R|: at most one S per R
        jac = dict(zip(ri[ok].tolist(), (inter / (size_r + size_s - inter))[ok].tolist()))
        for rid in r_ids.tolist():
            scores[rid if np.ndim(truth_instances) == 2 else (k, rid)] = jac.get(rid, 0.0)
    if not scores:
        raise ValueError("truth_instances has no object (all labels are 0); SEG is undefined")
    seg = float(np.mean(list(scores.values())))
    return (seg, scores) if return_per_object else seg
