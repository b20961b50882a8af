"""Eq. 2 and Fig. 3c-d: separation borders and the pixel-wise loss weight map.

Touching cells are separated by turning the pixels where they meet into background (Fig. 3c); the
cross-entropy of Eq. 1 is weighted by ``w = w_c + w0 exp(-(d1 + d2)^2 / (2 sigma^2))`` so that thin gaps
between cells weigh most (Fig. 3d). ``weight_map`` computes each cell's distances near the cell only;
``weight_map_brute_force`` is the literal definition that checks it.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import ndimage as ndi

from ..utils.system import check_memory
from ..utils.validation import fmt

__all__ = ['separation_border', 'foreground_with_borders', 'weight_map', 'weight_map_brute_force']


_A, _B, _ALL = slice(None, -1), slice(1, None), slice(None)


# (p, q) slice pairs: q is the right, lower, lower-right and lower-left 8-neighbour of p
_PAIRS = (((_ALL, _A), (_ALL, _B)), ((_A, _ALL), (_B, _ALL)), ((_A, _A), (_B, _B)), ((_A, _B), (_B, _A)))


def _check_instances(instances) -> np.ndarray:
    labels = np.asarray(instances)
    if labels.dtype == bool:
        raise TypeError("instances must be an instance label image (0 = background, 1..N = cells), got a boolean "
                        "mask; label its connected components first: scipy.ndimage.label(instances)[0]")
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"instances must have an integer dtype (labels are never truncated silently), got "
                        f"{fmt(labels)}; if the values are whole numbers convert with instances.astype(np.int32)")
    if labels.ndim != 2:
        raise ValueError(f"instances must be a 2-D (H, W) label image, got shape {labels.shape}; "
                         "pass one image at a time")
    if labels.size == 0:
        raise ValueError(f"instances must not be empty, got shape {labels.shape}")
    if np.issubdtype(labels.dtype, np.signedinteger) and labels.min() < 0:
        raise ValueError(f"instances must be >= 0 (0 = background, 1..N = cells), got minimum {labels.min()}; "
                         "set negative pixels to 0 or relabel them")
    return labels


def _check_number(value, name: str, minimum: float, strict: bool, hint: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {fmt(value)}; {hint}")
    value = float(value)
    if not math.isfinite(value) or value < minimum or (strict and value == minimum):
        rule = ">" if strict else ">="
        raise ValueError(f"{name} must be a finite number {rule} {minimum:g}, got {value!r}; {hint}")
    return value


def _separate(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (border mask, labels with the border pixels set to 0)."""
    fg = labels != 0
    border = np.zeros(labels.shape, dtype=bool)
    for p, q in _PAIRS:
        touch = labels[p] != labels[q]
        touch &= fg[p]
        touch &= fg[q]
        border[p] |= touch
        border[q] |= touch
    cells = labels.copy()
    cells[border] = 0
    return border, cells


def separation_border(instances: np.ndarray) -> np.ndarray:
    """Mask of the pixels where two different cells touch (Fig. 3c).

    Parameters
    ----------
    instances : (H, W) integer ndarray
        Instance labels: 0 = background, any other value = one cell (labels need not be consecutive;
        uint16 as in the cell tracking challenge is fine).

    Returns
    -------
    border : (H, W) bool ndarray
        True at every cell pixel that has, among its 8 neighbours (inside the image), a pixel of a
        *different* cell. Both sides of a contact are marked, so a straight contact becomes a 2-pixel
        gap; contacts with the background or the image edge are not borders. Relabelling the cells
        gives the same mask (no side is chosen by label value).

    Raises
    ------
    TypeError
        If ``instances`` is boolean or not integer (float labels are rejected, never truncated).
    ValueError
        If ``instances`` is not 2-D, is empty or has negative labels.

    Notes
    -----
    With the 8-neighbourhood, after removing the border no pixel of one cell is an 8-neighbour of a
    pixel of another: different cells are separate components under either connectivity. The remaining
    pixels keep their label (a cell cut in two by a border stays one cell); a cell whose every pixel
    touches another cell disappears.

    References
    ----------
    Ronneberger, Fischer, Brox (2015), U-Net, Sec. 3 and Fig. 3c.

    Examples
    --------
    >>> separation_border(np.array([[1, 1, 2, 2, 0]])).astype(int)
    array([[0, 1, 1, 0, 0]])
    """
    return _separate(_check_instances(instances))[0]


def foreground_with_borders(instances: np.ndarray) -> np.ndarray:
    """Binary training target: cells are foreground, background and borders are not.

    Parameters
    ----------
    instances : (H, W) integer ndarray
        Instance labels as in :func:`separation_border`.

    Returns
    -------
    foreground : (H, W) bool ndarray
        ``(instances != 0) & ~separation_border(instances)``: the foreground class of Eq. 1's softmax.

    Raises
    ------
    TypeError, ValueError
        As :func:`separation_border`.

    References
    ----------
    Ronneberger, Fischer, Brox (2015), U-Net, Fig. 3c.

    Examples
    --------
    >>> foreground_with_borders(np.array([[1, 1, 2, 2, 0]])).astype(int)
    array([[1, 0, 0, 1, 0]])
    """
    return _separate(_check_instances(instances))[1] != 0


def check_weight_parameters(w0, sigma, class_weights) -> tuple[float, float, object]:
    """Validate the Eq. 2 parameters; class_weights comes back as None, "balanced" or a float pair."""
    w0 = _check_number(w0, "w0", 0.0, False, "the paper uses w0=10.0 (0 switches the border term off)")
    sigma = _check_number(sigma, "sigma", 0.0, True, "the paper uses sigma=5.0 pixels")
    if class_weights is None:
        return w0, sigma, None
    if isinstance(class_weights, str):
        if class_weights != "balanced":
            raise ValueError(f"class_weights={class_weights!r} is not valid; use 'balanced', None or a pair "
                             "(w_background, w_foreground)")
        return w0, sigma, "balanced"
    try:
        pair = np.asarray(class_weights, dtype=np.float64)
    except (TypeError, ValueError):
        pair = None
    if pair is None or pair.shape != (2,) or not np.isfinite(pair).all() or (pair < 0).any():
        raise ValueError(f"class_weights must be 'balanced', None or a pair (w_background, w_foreground) of "
                         f"finite numbers >= 0, got {fmt(class_weights)}; e.g. class_weights=(1.0, 3.0)")
    return w0, sigma, (float(pair[0]), float(pair[1]))


def _prepare(instances, w0, sigma, class_weights) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Validate; return (cells without borders, w_c map as float64, w0, sigma)."""
    labels = _check_instances(instances)
    w0, sigma, class_weights = check_weight_parameters(w0, sigma, class_weights)
    cells = _separate(labels)[1]
    fg = cells != 0  # (H, W) target foreground
    if class_weights is None:
        w_bg = w_fg = 1.0
    elif class_weights == "balanced":
        n_fg = int(np.count_nonzero(fg))
        n_bg, n_max = fg.size - n_fg, max(n_fg, fg.size - n_fg)
        w_bg, w_fg = (n_max / n if n else 1.0 for n in (n_bg, n_fg))
    else:
        w_bg, w_fg = class_weights
    base = np.where(fg, w_fg, w_bg)  # (H, W) float64
    return cells, base, w0, sigma


def _finish(base: np.ndarray, background: np.ndarray, d1: np.ndarray, d2: np.ndarray, w0: float,
            sigma: float) -> np.ndarray:
    """Add the border term on ``background``; d1, d2: (n_background,) distances (inf: no cell)."""
    s = d1 + d2  # (n_background,)
    base[background] += w0 * np.exp(-(s * s) / (2.0 * sigma * sigma))
    return base.astype(np.float32)


def _cell_boxes(cells: np.ndarray) -> tuple[np.ndarray, list]:
    """(cells relabelled if needed, [(label, (rows, cols)), ...]) of the cells present."""
    if int(cells.max()) > 4 * cells.size + 1024:  # find_objects allocates one slot per label value
        uniq, inverse = np.unique(cells, return_inverse=True)
        cells = inverse.reshape(cells.shape) + (1 if uniq[0] != 0 else 0)  # (H, W) consecutive labels
    boxes = ndi.find_objects(cells)
    return cells, [(i + 1, box) for i, box in enumerate(boxes) if box is not None]


def weight_map(instances: np.ndarray, w0: float = 10.0, sigma: float = 5.0, class_weights="balanced", *,
               eps: float = 1e-6) -> np.ndarray:
    """Pixel-wise loss weight map of Eq. 2 (fast: each cell's distances are computed near it only).

    Parameters
    ----------
    instances : (H, W) integer ndarray
        Instance labels: 0 = background, other values = cells (need not be consecutive; any integer
        dtype). Touching cells are first separated (:func:`separation_border`): borders become background.
    w0 : float, default 10.0
        Border weight (paper: 10). 0 gives ``w = w_c``.
    sigma : float, default 5.0
        Border width in pixels (paper: about 5).
    class_weights : 'balanced', None or (w_background, w_foreground), default 'balanced'
        ``w_c``. ``'balanced'``: ``w_c(k) = n_max / n_k``, ``n_k`` the pixel count of class k in this
        image's target (:func:`foreground_with_borders`), ``n_max`` that of the more frequent class: the
        frequent class keeps weight 1 (the scale against which w0 = 10 was chosen) and both classes get
        the same total weight; a class with no pixels gets 1. ``None``: ``w_c = 1``. A pair: those
        weights (e.g. from dataset-wide frequencies); ``(0, 0)`` leaves the border term alone.
    eps : float, default 1e-6
        Tolerance: the result differs from :func:`weight_map_brute_force` by less than ``eps`` (before
        rounding to float32).

    Returns
    -------
    weights : (H, W) float32 ndarray

    Raises
    ------
    TypeError
        For boolean or non-integer ``instances`` or non-numeric scalars.
    ValueError
        For non-2-D, empty or negative ``instances``, ``w0 < 0``, ``sigma <= 0``, ``eps <= 0`` or a
        malformed ``class_weights``.

    Notes
    -----
    Eq. 2: ``w(x) = w_c(x) + w0 exp(-(d1(x) + d2(x))^2 / (2 sigma^2))``, the border term added on the
    background pixels of the target only (separation borders included). The cells are those left after
    border removal; ``d_k(x)`` is the Euclidean distance from x to the nearest pixel of cell k (the EDT
    of ``cells != k`` at x); d1 <= d2 are the two smallest over all cells. With fewer than two cells
    the border term is 0.

    Speed-up and its error bound: let ``R = sigma sqrt(2 ln(w0 / eps))``; if ``d1 + d2 > R`` the term
    is ``< w0 exp(-R^2 / (2 sigma^2)) = eps``. A background pixel has ``d1 >= 1``, so ``d1 + d2 <= R``
    implies ``d1 <= R/2 <= R - 1`` and ``d2 <= R - 1`` (for ``R < 2`` it never holds). Each cell k is
    processed in its bounding box grown by ``floor(R - 1)`` pixels (clipped to the image), which holds
    every pixel with ``d_k <= R - 1``; the EDT on the crop is exact at every crop pixel because the crop
    contains *all* pixels of cell k (the EDT is a distance to a feature set, not a path length: cutting
    away feature-free pixels changes nothing). The running two smallest values per pixel thus equal
    (d1, d2) wherever ``d1 + d2 <= R``; elsewhere they are the two smallest over a subset of the cells,
    hence ``>= (d1, d2)``, and both terms lie in ``[0, eps)``. If ``w0 <= eps`` the term (``< w0``) is
    dropped. Cost: one EDT per cell on about ``(cell size + 2R)^2`` pixels, not on the whole image.

    References
    ----------
    Ronneberger, Fischer, Brox (2015), U-Net, Eq. 2 and Fig. 3d.

    Examples
    --------
    >>> cells = np.zeros((1, 9), np.uint16); cells[0, 0] = 1; cells[0, 8] = 7
    >>> w = weight_map(cells, class_weights=None)  # d1 + d2 = 8 on the background
    >>> bool(np.isclose(w[0, 4], 1 + 10 * np.exp(-64 / 50)))
    True
    """
    cells, base, w0, sigma = _prepare(instances, w0, sigma, class_weights)
    eps = _check_number(eps, "eps", 0.0, True, "e.g. eps=1e-6")
    cells, boxes = _cell_boxes(cells)
    if w0 <= eps or len(boxes) < 2:
        return base.astype(np.float32)
    margin = max(int(math.floor(sigma * math.sqrt(2.0 * math.log(w0 / eps)) - 1.0)), 0)
    height, width = cells.shape
    # squared distances are integers: track them exactly in int32 (int64 for huge images)
    itype = np.int32 if (height - 1) ** 2 + (width - 1) ** 2 < np.iinfo(np.int32).max else np.int64
    far = np.iinfo(itype).max  # "no cell in range yet"
    min1, min2 = (np.full(cells.shape, far, dtype=itype) for _ in "12")  # (H, W) running two smallest
    ramp = np.arange(max(height, width), dtype=itype)
    for label, (rows, cols) in boxes:
        y0, y1 = max(rows.start - margin, 0), min(rows.stop + margin, height)
        x0, x1 = max(cols.start - margin, 0), min(cols.stop + margin, width)
        crop = cells[y0:y1, x0:x1] != label  # (h, w), False on the cell
        near = ndi.distance_transform_edt(crop, return_distances=False, return_indices=True)  # (2, h, w)
        near = near.astype(itype, copy=False)  # nearest cell pixel (row, col) in crop coordinates
        near[0] -= ramp[: y1 - y0, None]
        near[1] -= ramp[None, : x1 - x0]
        near *= near
        dist2 = np.add(near[0], near[1], out=near[0])  # (h, w) exact squared EDT
        m1, m2 = min1[y0:y1, x0:x1], min2[y0:y1, x0:x1]  # views
        np.minimum(m2, np.maximum(m1, dist2), out=m2)
        np.minimum(m1, dist2, out=m1)
    background = cells == 0
    d1, d2 = (np.sqrt(m[background], dtype=np.float64) for m in (min1, min2))  # (n_background,)
    d2[min2[background] == far] = np.inf  # fewer than two cells within reach: term < eps, use 0
    return _finish(base, background, d1, d2, w0, sigma)


def weight_map_brute_force(instances: np.ndarray, w0: float = 10.0, sigma: float = 5.0,
                           class_weights="balanced") -> np.ndarray:
    """Reference for :func:`weight_map`: one full-image EDT per cell, stacked and sorted.

    Parameters, Returns, Raises, Notes and References: those of :func:`weight_map`, without ``eps``
    (this computes Eq. 2 exactly). It needs ``8 N H W`` bytes and N full-image EDTs for N cells: use it
    for checks and small images. When that memory is not available it raises ``MemoryError``
    (``MemoryBudgetError``, also a ValueError) before allocating anything.

    Examples
    --------
    >>> cells = np.zeros((1, 9), np.uint16); cells[0, 0] = 1; cells[0, 8] = 7
    >>> w = weight_map_brute_force(cells, class_weights=None)
    >>> bool(np.isclose(w[0, 4], 1 + 10 * np.exp(-64 / 50)))
    True
    """
    cells, base, w0, sigma = _prepare(instances, w0, sigma, class_weights)
    labels = np.unique(cells[cells != 0])
    if len(labels) < 2:
        return base.astype(np.float32)
    check_memory(8 * len(labels) * cells.size, f"weight_map_brute_force with {len(labels):,} cells on a "
                 f"{cells.shape} image (one float64 distance map per cell)",
                 "use weight_map(instances), which gives the same result within eps")
    dist = np.empty((len(labels), *cells.shape))  # (N, H, W)
    for i, label in enumerate(labels):
        ndi.distance_transform_edt(cells != label, distances=dist[i])
    dist.sort(axis=0)  # (N, H, W), nearest first
    background = cells == 0
    return _finish(base, background, dist[0][background], dist[1][background], w0, sigma)
