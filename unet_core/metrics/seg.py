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

from ..utils.validation import check_bool, check_labels

__all__ = ['seg_score', 'segmentation_errors', 'segmentation_error_masks']


def _as_stack(labels, name: str) -> np.ndarray:
    """Instance labels (H, W) or (N, H, W), numpy or torch, as an (N, H, W) ndarray."""
    if not isinstance(labels, np.ndarray) and not hasattr(labels, "detach"):
        raise TypeError(f"{name} must be a numpy array or torch tensor, got {type(labels).__name__}")
    x = check_labels(labels, name, ndims=(2, 3))
    return x.reshape((-1,) + x.shape[-2:])  # (N, H, W)


def _pair(pred_instances, truth_instances) -> tuple[np.ndarray, np.ndarray]:
    """Both label arguments as (N, H, W) stacks of one shape (the checks of every public function here)."""
    s, r = _as_stack(pred_instances, "pred_instances"), _as_stack(truth_instances, "truth_instances")
    if s.shape != r.shape:
        raise ValueError(f"pred_instances and truth_instances must have the same shape, got {s.shape} and {r.shape}")
    return s, r


def _frame_scores(r: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, dict[int, float]]:
    """(reference ids present, {index into those ids: J}) of one frame, for ids of any dtype and size."""
    r_vals, jac, _ = _frame_matches(r, s)
    return r_vals, jac


def _frame_matches(r: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, dict[int, float], dict[int, int]]:
    """(reference ids present, {reference index: J}, {reference index: matched predicted index}) of one frame.

    The ids are replaced by their rank (np.unique's inverse) before any arithmetic, so a pair
    key ``rank_r * n_s + rank_s`` never overflows and never depends on the id values.
    """
    r_vals, r_c = np.unique(r.ravel(), return_inverse=True)
    s_vals, s_c = np.unique(s.ravel(), return_inverse=True)
    r_c, s_c = r_c.ravel().astype(np.int64), s_c.ravel().astype(np.int64)
    r_size, s_size = np.bincount(r_c, minlength=len(r_vals)), np.bincount(s_c, minlength=len(s_vals))
    both = (r_vals[r_c] != 0) & (s_vals[s_c] != 0)
    key, inter = np.unique(r_c[both] * len(s_vals) + s_c[both], return_counts=True)  # (P,) overlapping pairs
    ri, si = np.divmod(key, len(s_vals))
    size_r, size_s = r_size[ri], s_size[si]
    ok = 2 * inter > size_r  # |R & S| > 0.5 |R|: at most one S per R
    jac = dict(zip(ri[ok].tolist(), (inter / (size_r + size_s - inter))[ok].tolist()))
    return r_vals, jac, dict(zip(ri[ok].tolist(), si[ok].tolist()))


def segmentation_errors(pred_instances, truth_instances) -> dict[str, int]:
    """Counts of the reference objects that SEG's matching merges or misses.

    With SEG's rule (a predicted object S matches a reference object R when |R & S| > 0.5 |R|), a
    reference object is *merged* when its S also matches another reference object (one predicted cell
    spans two or more true cells: each of them scores a low Jaccard index), and *missed* when no S
    matches it (it scores 0).

    Parameters
    ----------
    pred_instances, truth_instances : (H, W) or (N, H, W) integer arrays
        Instance labels, 0 = background; a stack is N independent frames.

    Returns
    -------
    dict
        ``{"truth cells": n, "merged cells": m, "missed cells": k}`` over all frames.

    Raises
    ------
    TypeError, ValueError
        As :func:`seg_score`.

    Examples
    --------
    >>> r = np.zeros((4, 6), int); r[:, :2], r[:, 3:5] = 1, 2
    >>> s = np.zeros((4, 6), int); s[:, :5] = 7
    >>> segmentation_errors(s, r)
    {'truth cells': 2, 'merged cells': 2, 'missed cells': 0}
    """
    s, r = _pair(pred_instances, truth_instances)
    total = merged = missed = 0
    for k in range(r.shape[0]):
        _, refs, merged_ids, missed_ids = _frame_errors(r[k], s[k])
        total, merged, missed = total + len(refs), merged + len(merged_ids), missed + len(missed_ids)
    return {"truth cells": total, "merged cells": merged, "missed cells": missed}


def segmentation_error_masks(pred_instances, truth_instances) -> tuple[np.ndarray, np.ndarray]:
    """Where the merged and the missed reference objects of :func:`segmentation_errors` lie.

    Parameters
    ----------
    pred_instances, truth_instances : (H, W) or (N, H, W) integer arrays
        Instance labels, 0 = background, of the same shape.

    Returns
    -------
    merged, missed : numpy.ndarray
        Bool arrays of the shape of ``truth_instances``: the pixels of the reference objects that SEG's
        matching merges (their predicted object also matches another one) or misses.

    Raises
    ------
    TypeError, ValueError
        As :func:`segmentation_errors`.

    Examples
    --------
    >>> r = np.zeros((4, 6), int); r[:, :2], r[:, 3:5] = 1, 2
    >>> s = np.zeros((4, 6), int); s[:, :5] = 7
    >>> merged, missed = segmentation_error_masks(s, r)
    >>> int(merged.sum()), int(missed.sum())
    (16, 0)
    """
    s, r = _pair(pred_instances, truth_instances)
    merged, missed = np.zeros(r.shape, bool), np.zeros(r.shape, bool)  # (N, H, W)
    for k in range(r.shape[0]):
        r_vals, _, merged_ids, missed_ids = _frame_errors(r[k], s[k])
        merged[k], missed[k] = np.isin(r[k], r_vals[merged_ids]), np.isin(r[k], r_vals[missed_ids])
    shape = np.shape(truth_instances)
    return merged.reshape(shape), missed.reshape(shape)


def _frame_errors(r: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, list[int], list[int], list[int]]:
    """(reference ids present, indices of the reference objects, of those merged, of those missed) of one frame."""
    r_vals, _, match = _frame_matches(r, s)
    refs = np.flatnonzero(r_vals != 0).tolist()
    shared = np.bincount(list(match.values())) if match else np.zeros(0, int)
    missed = [i for i in refs if i not in match]
    merged = [i for i in refs if i in match and shared[match[i]] > 1]
    return r_vals, refs, merged, missed


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
        Non-integer (float or bool) labels, or a non-bool ``return_per_object``.
    ValueError
        Shape mismatch, negative labels, empty arrays, no reference object.

    Notes
    -----
    The strict ``>``: an object covering exactly half of R is not a match. Labels of any
    integer dtype and magnitude are compared exactly (they are ranked, not multiplied).

    References
    ----------
    Maska et al. (2014) Bioinformatics 30:1609-1617; Ulman et al. (2017) Nat. Methods 14:1141.

    Examples
    --------
    >>> r = np.zeros((4, 4), int); r[:2] = 1
    >>> seg_score(r, r)
    1.0
    """
    return_per_object = check_bool(return_per_object, "return_per_object")
    s, r = _pair(pred_instances, truth_instances)
    stack = np.ndim(truth_instances) == 3
    scores: dict = {}
    for k in range(r.shape[0]):
        r_vals, jac = _frame_scores(r[k], s[k])
        for idx in np.flatnonzero(r_vals != 0).tolist():
            rid = r_vals[idx].item()
            scores[(k, rid) if stack else rid] = jac.get(idx, 0.0)
    if not scores:
        raise ValueError("truth_instances has no object (all labels are 0); SEG is undefined")
    seg = float(np.mean(list(scores.values())))
    return (seg, scores) if return_per_object else seg
