"""Evaluation measures of Table 1: pixel error, Rand error, V_rand/V_info, thinned (SEG: :mod:`.seg`).

``prob`` is the probability of CELL (1 = cell, 0 = membrane), ``truth`` is binary
with 1 = cell (ISBI 2012 after ``labels > 0``). Segments are 4-connected
components of cell pixels (membrane 8-connected), as in the Fiji
``trainableSegmentation.metrics`` code of the challenge. ``prob > t`` is scored
for every ``t`` in ``thresholds`` and the best value is kept (``ISBI_THRESHOLDS``:
0.0, 0.1, ..., 0.9). A stack ``(N, H, W)`` is one sample with one threshold:
counts are pooled over slices, segments stay within a slice (as the challenge
scored its 30-slice test stack). The warping error is in :mod:`.warping`; the
Cell Tracking Challenge SEG of Table 2 lives in :mod:`.seg` and is re-exported here.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .common import binarizations, check_prob_truth, label4
from .warping_fiji import watershed_thin

__all__ = [
    'ISBI_THINNED_THRESHOLDS',
    'ISBI_THRESHOLDS',
    'pixel_error',
    'rand_error',
    'rand_scores',
    'rand_scores_thinned',
]


ISBI_THRESHOLDS: tuple[float, ...] = tuple(round(0.1 * k, 1) for k in range(10))


# Fiji's 2016 script sweeps 0.0 to 1.0 by accumulating 0.1 in doubles (0.30000000000000004, ...):
# on 32-bit pixels the rounded values cut the same; the last, 1 - 2**-53, keeps only prob == 1 as cell.
ISBI_THINNED_THRESHOLDS: tuple[float, ...] = (*ISBI_THRESHOLDS, 1.0 - 2.0**-53)


BOUNDARY_MODES = ("singletons", "background", "grow", "ignore")


def _contingency_2d(pred_bin: np.ndarray, truth: np.ndarray, boundary: str):
    """Counts on the truth-cell pixels of one slice: joint c_ij, truth sizes, pred sizes, singletons."""
    s = label4(pred_bin)
    if boundary == "grow" and s.any():  # each predicted-membrane pixel joins its nearest segment
        idx = ndimage.distance_transform_edt(s == 0, return_distances=False, return_indices=True)
        s = s[tuple(idx)]
    return _contingency_labels(s, truth, boundary)


def _contingency_labels(s: np.ndarray, truth: np.ndarray, boundary: str = "singletons"):
    """As :func:`_contingency_2d` for predicted segment labels ``s`` (0 = membrane)."""
    t, s = label4(truth)[truth], s[truth]
    n_single = int((s == 0).sum()) if boundary == "singletons" else 0
    a = np.bincount(t)[1:]
    if boundary in ("singletons", "ignore"):
        t, s = t[s > 0], s[s > 0]
        if boundary == "ignore":
            a = np.bincount(t, minlength=a.size + 1)[1:]
    key = np.bincount(t.astype(np.int64) * (int(s.max(initial=0)) + 1) + s)
    b = np.bincount(s)
    return key[key > 0], a, b[b > 0], n_single


def _safe_ratio(num: float, den: float) -> float:  # 1 when nothing can be wrong
    return 1.0 if den <= 0 else float(num / den)


def _f(split: float, merge: float) -> float:  # harmonic mean (F-score)
    return 0.0 if split + merge <= 0 else 2 * split * merge / (split + merge)


def _rand_parts(joint, a, b, n_single, self_pairs=True):
    """(split, merge) scores: sum p_ij^2 / sum t_i^2 and sum p_ij^2 / sum s_j^2."""
    corr = 0.0 if self_pairs else 1.0  # ordered pairs with (N^2) or without (N(N-1)) self-pairs
    single = n_single if self_pairs else 0.0
    pij2 = float(joint @ joint - corr * joint.sum()) + single
    t2 = float(a @ a - corr * a.sum())
    s2 = float(b @ b - corr * b.sum()) + single
    return _safe_ratio(pij2, t2), _safe_ratio(pij2, s2)


def _info_parts(joint, a, b, n_single):
    """(split, merge) scores: I(S;T)/H(S) and I(S;T)/H(T) in nats."""
    n = a.sum()
    h = [float(-(c * np.log(c)).sum()) for c in (x[x > 0] / n for x in (b, a, joint))]
    single = n_single / n * np.log(n) if n_single else 0.0  # each singleton: -(1/n) log(1/n)
    h_s, h_t, h_st = h[0] + single, h[1], h[2] + single
    mi = max(h_s + h_t - h_st, 0.0)
    return _safe_ratio(mi, h_s), _safe_ratio(mi, h_t)


def pixel_error(prob, truth, *, thresholds=ISBI_THRESHOLDS, definition: str = "fscore") -> float:
    """ISBI 2012 pixel error: 1 - maximal F-score of pixel classification over thresholds.

    Parameters
    ----------
    prob : (H, W) or (N, H, W) array in [0, 1]
        Probability of cell (1 = cell, 0 = membrane); binary maps are fine.
    truth : (H, W) or (N, H, W) array of {0, 1} or bool
        1 = cell, 0 = membrane (raw ISBI labels: pass ``labels > 0``).
    thresholds : sequence of float
        The map is binarised as ``prob > t``; the best value is returned.
    definition : {"fscore", "fraction"}
        ``"fscore"`` (challenge): positive class = cell, F = 2TP / (2TP + FP + FN).
        ``"fraction"``: fraction of misclassified pixels (Hamming distance / size).

    Returns
    -------
    float
        The error in [0, 1] (stacks pool TP, FP, FN over slices).

    Raises
    ------
    ValueError, TypeError
        Shape mismatch, truth not binary, prob outside [0, 1] or not finite, empty input.

    Notes
    -----
    Challenge: "1 - the maximal F-score of pixel similarity" (Fiji ``PixelError``).

    References
    ----------
    Arganda-Carreras et al. (2015) Front. Neuroanat. 9:142 (ISBI 2012 challenge).

    Examples
    --------
    >>> t = np.ones((4, 4), np.uint8); t[:, 2] = 0
    >>> pixel_error(t.astype(float), t)
    0.0
    """
    p, t = check_prob_truth(prob, truth)
    if definition not in ("fscore", "fraction"):
        raise ValueError(f"definition={definition!r} must be 'fscore' or 'fraction'")
    best = 1.0
    for _, b in binarizations(p, thresholds):
        tp, fp, fn = float((b & t).sum()), float((b & ~t).sum()), float((~b & t).sum())
        err = (fp + fn) / t.size if definition == "fraction" else 1.0 - _safe_ratio(2 * tp, 2 * tp + fp + fn)
        best = min(best, err)
    return float(best)


def rand_scores(
    prob, truth, *, thresholds=ISBI_THRESHOLDS, boundary: str = "singletons", self_pairs: bool = True
) -> dict:
    """Foreground-restricted Rand and information scores V_rand, V_info (best over thresholds).

    Parameters
    ----------
    prob, truth : see :func:`pixel_error`.
    thresholds : sequence of float
        Binarisation thresholds; V_rand and V_info are each maximised separately.
    boundary : {"singletons", "background", "grow", "ignore"}
        Treatment of truth-cell pixels that the prediction calls membrane:
        ``"singletons"`` (Fiji/challenge): each is its own one-pixel segment;
        ``"background"``: all of them form one segment; ``"grow"``: they join the
        nearest predicted segment; ``"ignore"``: they are dropped.
    self_pairs : bool
        True counts ordered pixel pairs with self-pairs (the challenge's N^2
        normalisation); False excludes them (as ``skimage.metrics.adapted_rand_error``).

    Returns
    -------
    dict
        ``v_rand, v_rand_split, v_rand_merge, threshold_rand, v_info, v_info_split,
        v_info_merge, threshold_info``; scores in [0, 1], 1 is perfect.

    Raises
    ------
    ValueError
        As :func:`pixel_error`, unknown ``boundary``, or truth without any cell pixel.

    Notes
    -----
    Only truth-cell pixels count. p_ij: joint distribution of truth segment i and
    predicted segment j, t_i and s_j its marginals. V_rand_split = sum p_ij^2 /
    sum t_i^2, V_rand_merge = sum p_ij^2 / sum s_j^2, V_info_split = I(S;T)/H(S),
    V_info_merge = I(S;T)/H(T); V = harmonic mean of split and merge. The 2015
    leaderboard thins the predicted borders first: :func:`rand_scores_thinned`.

    References
    ----------
    Arganda-Carreras et al. (2015) Front. Neuroanat. 9:142, Sec. "Evaluation metrics".

    Examples
    --------
    >>> t = np.ones((4, 4), np.uint8); t[:, 2] = 0
    >>> rand_scores(t.astype(float), t)["v_rand"]
    1.0
    """
    p, t = check_prob_truth(prob, truth)
    if not t.any():
        raise ValueError("truth has no cell (1) pixel; foreground-restricted scores are undefined")
    if boundary not in BOUNDARY_MODES:
        raise ValueError(f"boundary={boundary!r} is not one of {BOUNDARY_MODES}")
    out = {"v_rand": -1.0, "v_info": -1.0}
    for th, b in binarizations(p, thresholds):
        per_slice = [_contingency_2d(bk, tk, boundary) for bk, tk in zip(b, t)]  # pooled below
        parts = [np.concatenate([c[i] for c in per_slice]).astype(float) for i in range(3)]
        parts.append(sum(c[3] for c in per_slice))
        rs, rm = _rand_parts(*parts, self_pairs=self_pairs)
        is_, im = _info_parts(*parts)
        if _f(rs, rm) > out["v_rand"]:
            out.update(v_rand=_f(rs, rm), v_rand_split=rs, v_rand_merge=rm, threshold_rand=th)
        if _f(is_, im) > out["v_info"]:
            out.update(v_info=_f(is_, im), v_info_split=is_, v_info_merge=im, threshold_info=th)
    return out


def rand_error(prob, truth, *, thresholds=ISBI_THRESHOLDS, boundary: str = "singletons") -> float:
    """ISBI 2012 Rand error: 1 - maximal F-score of the foreground-restricted Rand index.

    Parameters
    ----------
    prob, truth, thresholds, boundary : see :func:`rand_scores`.

    Returns
    -------
    float
        ``1 - V_rand`` (N^2 normalisation; by default predicted-membrane pixels
        inside truth cells are singletons, like Fiji's
        ``RandError.getForegroundRestrictedRandIndexMaximalFScore``).

    Raises
    ------
    ValueError
        As :func:`rand_scores`.

    Notes
    -----
    Segments: 4-connected components of ``prob > t`` and of ``truth``.

    References
    ----------
    Rand (1971) JASA 66:846-850; Arganda-Carreras et al. (2015) Front. Neuroanat. 9:142.

    Examples
    --------
    >>> t = np.ones((4, 4), np.uint8); t[:, 2] = 0
    >>> rand_error(np.ones((4, 4)), t) > 0  # one merged segment
    True
    """
    return 1.0 - rand_scores(prob, truth, thresholds=thresholds, boundary=boundary)["v_rand"]


def _fiji_info_parts(joint, a, b, n_single):
    """Fiji's (split, merge, F) information scores: I/H(S), I/H(T), harmonic mean (NaN for 0/0)."""
    n = float(a.sum())
    h = [float(-(c * np.log(c)).sum()) for c in (x[x > 0] / n for x in (a, b, joint))]
    single = n_single / n * np.log(n)  # each singleton: -(1/n) log(1/n)
    h_t, h_s, h_ts = h[0], h[1] + single, h[2] + single
    mi = h_t + h_s - h_ts
    merge, split = (mi / h_t, mi / h_s) if h_t > 0 and h_s > 0 else ((1.0, 0.0) if h_s == 0 else (0.0, 1.0))
    return split, merge, (2 * split * merge / (split + merge) if split + merge else float("nan"))


def rand_scores_thinned(prob, truth, *, thresholds=ISBI_THINNED_THRESHOLDS) -> dict:
    """V_rand and V_info after border thinning (ISBI 2012 leaderboard since 2015), best over thresholds.

    Parameters
    ----------
    prob, truth : see :func:`pixel_error`.
    thresholds : sequence of float
        The prediction is binarised as ``prob > t`` (in 32-bit precision, as Fiji);
        V_rand and V_info are each maximised separately. Default: Fiji's script,
        0.0 to 1.0 in steps of 0.1 (:data:`ISBI_THINNED_THRESHOLDS`).

    Returns
    -------
    dict
        ``v_rand, v_rand_split, v_rand_merge, threshold_rand, v_info, v_info_split,
        v_info_merge, threshold_info``: per-slice means at the best threshold
        (V = mean of the per-slice harmonic means, as Fiji's script); 1 is perfect.

    Raises
    ------
    ValueError
        As :func:`pixel_error`, or a truth slice without any cell pixel.

    Notes
    -----
    Fiji's ``RandError.getMaximalVRandAfterThinning(0, 1, 0.1, true)`` and
    ``VariationOfInformation.getMaximalVInfoAfterThinning``: only the
    prediction is thinned. Its border (``prob <= t``) is flooded from its
    4-connected cells by a watershed (:func:`unet_core.metrics.warping_fiji.watershed_thin`),
    leaving one-pixel dams between segments; the truth keeps its borders, which
    are excluded (foreground restriction). Dam pixels inside truth cells are
    singletons; then the scores of :func:`rand_scores` (N^2 normalisation) are
    computed per slice and averaged. V_info is 0 for a slice whose truth or
    prediction is a single segment (zero entropy), as in Fiji.

    References
    ----------
    Arganda-Carreras et al. (2015) Front. Neuroanat. 9:142; Vincent L., Soille P.
    (1991) IEEE TPAMI 13:583-598; Fiji ``trainableSegmentation.metrics.RandError``.

    Examples
    --------
    >>> t = np.ones((4, 8), np.uint8); t[:, 3] = 0
    >>> p = np.ones((4, 8)); p[:, 2:5] = 0  # border 3 pixels thick: thinned to column 3
    >>> rand_scores_thinned(p, t)["v_rand"], rand_scores(p, t)["v_rand"] < 1
    (1.0, True)
    """
    p, t = check_prob_truth(prob, truth)
    if not t.reshape(len(t), -1).any(axis=1).all():
        raise ValueError("a truth slice has no cell (1) pixel; foreground-restricted scores are undefined")
    rows = []
    for th, b in binarizations(p.astype(np.float32).astype(np.float64), thresholds):
        per_slice = []
        for bk, tk in zip(b, t):
            parts = _contingency_labels(watershed_thin(bk), tk)
            joint, a, s = (x.astype(float) for x in parts[:3])
            rs, rm = _rand_parts(joint, a, s, parts[3])
            per_slice.append((rs, rm, _f(rs, rm), *_fiji_info_parts(joint, a, s, parts[3])))
        rows.append((th, np.mean(per_slice, axis=0)))
    out = {}
    for name, k in (("rand", 0), ("info", 3)):
        score = np.nan_to_num([r[1][k + 2] for r in rows], nan=-np.inf)
        best = int(np.argmax(score))  # first maximum, as Fiji's strict ">"
        out.update(
            {
                f"v_{name}": max(float(score[best]), 0.0),
                f"v_{name}_split": float(rows[best][1][k]),
                f"v_{name}_merge": float(rows[best][1][k + 1]),
                f"threshold_{name}": rows[best][0],
            }
        )
    return out
