"""Where a SEG score loses its points: merged, missed and poorly outlined cells, and unannotated cells.

SEG (the Cell Tracking Challenge's measure, Table 2 of the paper) averages one Jaccard index per reference
cell; a score of 0.88 can mean every cell outlined at 0.88 or a few cells merged with a neighbour.
:func:`cell_errors` separates the two and, given a second truth of the same frames (the challenge's silver
truth beside its gold truth), counts the cells the reference leaves unannotated and the reference cells
whose predicted cell swallowed one of them: a merge that SEG's own error counts cannot see.
"""

from __future__ import annotations

import numpy as np

from ..metrics.seg import seg_score, segmentation_errors
from ..utils.validation import check_labels, check_real

__all__ = ["cell_errors"]


def _unannotated(truth: np.ndarray, other: np.ndarray) -> list[int]:
    """Labels of ``other`` (H, W) whose pixels lie mostly (>= half) outside every cell of ``truth``."""
    return [int(lab) for lab in np.unique(other[other > 0]) if (truth[other == lab] > 0).mean() < 0.5]


def _joined(pred: np.ndarray, truth: np.ndarray, other: np.ndarray, extra: list[int]) -> int:
    """Cells of ``truth`` whose predicted cell (SEG's match) also covers more than half of an ``extra`` cell."""
    count = 0
    for lab in np.unique(truth[truth > 0]):
        ref = truth == lab
        ids, n = np.unique(pred[ref], return_counts=True)
        match = [s for s, c in zip(ids, n) if s and 2 * c > ref.sum()]
        if match and any(2 * (pred[other == e] == match[0]).sum() > (other == e).sum() for e in extra):
            count += 1
    return count


def cell_errors(pred_instances, truth_instances, other_truth=None, *, low: float = 0.8) -> dict:
    """SEG, its merged and missed cells, every reference cell's Jaccard index, and unannotated cells.

    Parameters
    ----------
    pred_instances, truth_instances : (H, W) or (N, H, W) integer arrays
        Predicted and reference instance labels (0 = background), as for
        :func:`~unet_core.metrics.seg.seg_score`.
    other_truth : (H, W) or (N, H, W) integer array or None
        A second reference of the same frames (e.g. silver truth beside gold truth); None skips the last
        three entries below.
    low : float in (0, 1]
        The Jaccard index below which a reference cell is counted as poorly outlined (or merged or missed).

    Returns
    -------
    dict
        ``SEG``; ``truth cells``, ``merged cells``, ``missed cells`` (SEG's matching, as
        :func:`~unet_core.metrics.seg.segmentation_errors`); ``Jaccard per cell`` (sorted ascending, 3
        decimals); ``cells below <low>``; with ``other_truth`` also ``SEG against the other truth``,
        ``other-truth cells the truth lacks`` (its cells lying mostly outside every reference cell) and
        ``truth cells joined to one of them`` (reference cells whose predicted cell also covers more than
        half of such a cell: merges SEG cannot count, as the other cell is not in its reference).

    Raises
    ------
    TypeError, ValueError
        As :func:`~unet_core.metrics.seg.seg_score` for the label arrays (``other_truth`` must have the
        truth's shape); ValueError for ``low`` outside (0, 1].

    Notes
    -----
    SEG = mean over reference cells R of J(R, S) = |R & S| / |R | S|, S the predicted cell with
    |R & S| > 0.5 |R| (else 0) (Ulman et al. 2017). A cell swallowed into a neighbour's prediction lowers the
    neighbour's J whether or not the reference annotates it.

    References
    ----------
    Ulman V. et al. (2017), An objective comparison of cell-tracking algorithms, Nature Methods 14.

    Examples
    --------
    >>> truth = np.zeros((4, 9), int); truth[:, :4], truth[:, 5:8] = 1, 2
    >>> pred = np.zeros((4, 9), int); pred[:, :9] = 5
    >>> e = cell_errors(pred, truth)
    >>> e["merged cells"], e["Jaccard per cell"]
    (2, [0.333, 0.444])
    """
    low = check_real(low, "low", 0.0, 1.0, low_open=True, fix="e.g. 0.8")
    score, per = seg_score(pred_instances, truth_instances, return_per_object=True)
    out = {"SEG": float(score), **segmentation_errors(pred_instances, truth_instances)}
    out["Jaccard per cell"] = sorted(round(float(j), 3) for j in per.values())
    out[f"cells below {low:g}"] = sum(j < low for j in per.values())
    if other_truth is None:
        return out
    pred = np.asarray(pred_instances).reshape((-1,) + np.shape(pred_instances)[-2:])
    truth = np.asarray(truth_instances).reshape(pred.shape)
    other = check_labels(other_truth, "other_truth", ndims=(2, 3))
    if other.shape[-2:] != truth.shape[-2:] or other.size != truth.size:
        raise ValueError(f"other_truth must have the shape of truth_instances, got {other.shape} and {truth.shape}")
    other = other.reshape(truth.shape)
    out["SEG against the other truth"] = float(seg_score(pred, other))
    extra = [_unannotated(t, o) for t, o in zip(truth, other)]
    out["other-truth cells the truth lacks"] = sum(map(len, extra))
    out["truth cells joined to one of them"] = sum(_joined(p, t, o, e) for p, t, o, e in zip(pred, truth, other, extra))
    return out
