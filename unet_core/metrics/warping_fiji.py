"""The ISBI 2012 evaluation as Fiji computes it (``trainableSegmentation.metrics``).

Re-implementations (numpy/scipy, written from the algorithms, not translated) of
what Fiji's Trainable Segmentation library, with which the challenge was
scored, does; :func:`unet_core.metrics.warping.warping_error` and
:func:`unet_core.metrics.isbi.rand_scores_thinned` call them.

Warping (``WarpingError.simplePointWarp2d``). The binary truth (source) is warped
towards the thresholded prediction ``prob > t`` (target) in passes. Each pass
lists the pixels where they disagree, sorts them by ``|prob - t|`` (32-bit),
most confident first, ties in column-major scan order, and visits them one at a
time, flipping a pixel iff it is simple in the *current* image (cells
4-connected, membrane 8-connected, outside = membrane; Fiji's 3D Bertrand test
gives exactly :func:`unet_core.metrics.warping.simple_point_lut` on the 512 patches).
Passes repeat until one flips nothing. Here a pass skips the pixels whose 3x3
neighbourhood did not change since their last test (they would fail again), so
the result is Fiji's, pixel for pixel.

Classification (``classifyMismatches2d``) of each pixel still disagreeing, from
the distinct 4-connected component ids (0 = membrane) among its in-image
8-neighbours in the warped truth: only 0 -> object deletion/addition; one cell id
-> hole addition/deletion; two ids (0 and one cell): a membrane pixel is a hole
addition, a cell pixel is a split iff its cell neighbours fall into two or more
components once it is removed, judged inside a (2r+1)^2 window (r = ``radius``;
the whole image if r < 1 or r exceeds the image), else a hole deletion; three or
more ids -> merge (membrane pixel) or split (cell pixel), diagonal contacts
included.

Border thinning (``WatershedTransform2D``, Vincent & Soille flooding on the
binary border image, 4-connected): the cells of ``prob > t`` are the basins; the
border pixels are flooded from them through a FIFO seeded in column-major order,
neighbours visited as x-1, y-1, x+1, y+1, and a pixel reached by two basins
becomes a dam (label 0). The global ``flag`` of that implementation is kept.
"""

from __future__ import annotations

from collections import deque
from functools import partial

import numpy as np
from scipy import ndimage

__all__: list[str] = []


_FOUR = ndimage.generate_binary_structure(2, 1)


_RING = ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))  # N, NE, E, ... cyclic


_MASK, _INQUEUE = -2, -3  # flooding states; basins > 0, dams 0, outside the image -1


def warp(truth, prob32, threshold: float, simple: np.ndarray):
    """Warp one truth slice towards ``prob32 > threshold`` as Fiji's ``simplePointWarp2d``.

    Parameters
    ----------
    truth : (H, W) bool array
        The source (1 = cell).
    prob32 : (H, W) float32 array
        Probability of cell; orders the flips by ``|prob32 - threshold|``.
    threshold : float
        Binarisation ``prob32 > threshold`` gives the target.
    simple : (512,) bool array
        :func:`unet_core.metrics.warping.simple_point_lut`.

    Returns
    -------
    warped : (H, W) ndarray of bool
        The truth after the passes (same topology).
    left : tuple of two int arrays
        ``(ys, xs)`` of the pixels still disagreeing with the target.

    Examples
    --------
    >>> from unet_core.metrics.warping import simple_point_lut
    >>> t = np.zeros((5, 6), bool); t[1:4, 1:5] = True
    >>> p = np.zeros((5, 6), np.float32); p[1:4, 1:3] = p[1:4, 4] = 1  # column 3 cut
    >>> warped, left = warp(t, p, 0.5, simple_point_lut())
    >>> [(int(y), int(x)) for y, x in zip(*left)]  # column 3 goes top down; the last pixel stays
    [(3, 3)]
    """
    h, w = truth.shape
    wp = w + 2
    src = np.zeros((h + 2, wp), np.uint8)
    src[1:-1, 1:-1] = truth
    tgt = np.zeros_like(src)
    tgt[1:-1, 1:-1] = prob32 > threshold
    cand = np.flatnonzero(src.ravel() != tgt.ravel())
    if cand.size:
        ys, xs = cand // wp - 1, cand % wp - 1
        key = np.abs(prob32[ys, xs].astype(np.float64) - threshold).astype(np.float32)
        cand = cand[np.lexsort((ys, xs, -key))]  # confidence descending, then column-major
        _flip_passes(src.ravel(), tgt.ravel().tobytes(), cand, wp, bytes(simple.astype(np.uint8)))
    left = np.nonzero(src[1:-1, 1:-1] != tgt[1:-1, 1:-1])
    return src[1:-1, 1:-1].astype(bool), left


def _flip_passes(flat: np.ndarray, tgt: bytes, order: np.ndarray, wp: int, lut: bytes) -> None:
    """Run Fiji's passes in place on the padded, flattened source ``flat``."""
    s = bytearray(flat.tobytes())
    dirty = bytearray(b"\x01") * len(s)  # 3x3 changed since the last test (or never tested)
    nbrs = (-wp - 1, -wp, -wp + 1, -1, 1, wp - 1, wp, wp + 1)
    seq, flipped = order.tolist(), True
    while flipped:  # one pass: the disagreeing pixels in Fiji's order
        flipped = False
        for i in seq:
            if not dirty[i]:
                continue  # same neighbourhood as at its last test: still not simple
            dirty[i] = 0
            if lut[
                s[i - wp - 1]
                | s[i - wp] << 1
                | s[i - wp + 1] << 2
                | s[i - 1] << 3
                | s[i + 1] << 5
                | s[i + wp - 1] << 6
                | s[i + wp] << 7
                | s[i + wp + 1] << 8
            ]:
                s[i] ^= 1
                flipped = True
                for o in nbrs:
                    dirty[i + o] = 1
        seq = [i for i in seq if s[i] != tgt[i]]
    flat[:] = np.frombuffer(bytes(s), np.uint8)


def classify(warped: np.ndarray, left, radius, limit: float = np.inf) -> dict:
    """Fiji's classification of the pixels ``left`` still disagreeing after warping.

    Stops testing splits (``"exceeded": True``) once split + merge reaches ``limit``.
    """
    ys, xs = left
    h, w = warped.shape
    lab = ndimage.label(warped, _FOUR)[0]
    padded = np.pad(lab, 1, constant_values=-1)  # -1: outside, not a neighbour
    nb = np.stack([padded[ys + 1 + dy, xs + 1 + dx] for dy, dx in _RING], axis=1)  # (K, 8)
    srt = np.sort(nb, axis=1)
    ids = (srt[:, 0] >= 0).astype(int) + ((srt[:, 1:] != srt[:, :-1]) & (srt[:, 1:] >= 0)).sum(axis=1)
    cell = warped[ys, xs]
    merge = int((~cell & (ids >= 3)).sum())
    split = int((cell & (ids >= 3)).sum())
    two = np.flatnonzero(cell & (ids == 2))
    ring = nb[two] > 0  # one cyclic run of cell neighbours stays connected around p: no split
    two = two[(ring & ~np.roll(ring, 1, axis=1)).sum(axis=1) >= 2]
    r = radius if radius is not None and 1 <= radius <= min(h, w) else 0
    big, boxes = np.pad(warped, r), ndimage.find_objects(lab)
    for k in two:
        if split + merge >= limit:
            break
        y, x = int(ys[k]), int(xs[k])
        if r:  # the window, zero outside the image
            win, cy, cx = big[y : y + 2 * r + 1, x : x + 2 * r + 1].copy(), r, r
        elif set(nb[k][nb[k] > 0].tolist()) == {lab[y, x]}:  # whole image: only p's own cell matters
            box = boxes[lab[y, x] - 1]
            win, cy, cx = lab[box] == lab[y, x], y - box[0].start, x - box[1].start
        else:  # p touches one other cell, diagonally only: removing p changes nothing there
            continue
        win[cy, cx] = False
        sub = ndimage.label(win, _FOUR)[0]
        near = {
            int(sub[cy + dy, cx + dx])
            for dy, dx in _RING
            if 0 <= cy + dy < win.shape[0] and 0 <= cx + dx < win.shape[1]
        }
        split += len(near - {0}) >= 2
    return {
        "split": split,
        "merge": merge,
        "other": len(ys) - split - merge,
        "mismatch": len(ys),
        "exceeded": split + merge >= limit,
    }


def warping_counts(p, t, thresholds, count: str, radius, simple: np.ndarray):
    """Best threshold over ``thresholds`` (ascending): ``(n_errors, details)``, Fiji's rules.

    ``p`` (N, H, W) float, ``t`` (N, H, W) bool. Thresholds leaving no cell pixel
    are skipped unless all do (an all-membrane cut scores 0 split/merge pixels).
    """
    p32 = p.astype(np.float32)  # Fiji compares 32-bit pixels with the (double) threshold
    usable = [th for th in thresholds if (p32 > th).any()] or list(thresholds)
    return best_cut(
        ((float(th), [partial(_score_fiji, tk, pk, th, simple, radius) for pk, tk in zip(p32, t)]) for th in usable),
        count,
    )


def _score_fiji(tk, pk, th, simple, radius, limit):
    return classify(*warp(tk, pk, th, simple), radius, limit)


def best_cut(cuts, count: str):
    """``(n_errors, details)`` of the best threshold; ``None`` if there is none.

    ``cuts`` yields ``(threshold, [score(limit) -> dict, one per slice])``; a score returns the
    counts ``split, merge, other, mismatch`` and ``exceeded``. With ``count="split_merge"`` a cut stops
    as soon as it cannot beat the best so far (each slice gets the remaining budget as ``limit``);
    the first minimum wins. Shared by both warping methods.
    """
    best = None
    for th, slices in cuts:
        agg = {"split": 0, "merge": 0, "other": 0, "mismatch": 0}
        for score in slices:
            limit = best[0] - agg["split"] - agg["merge"] if best and count == "split_merge" else np.inf
            res = score(limit) if limit > 0 else {"exceeded": True}
            if res.pop("exceeded"):
                break
            for key, val in res.items():
                agg[key] += val
        else:
            n_err = agg["split"] + agg["merge"] if count == "split_merge" else agg["mismatch"]
            if best is None or n_err < best[0]:
                best = (n_err, {"threshold": th, **agg})
    return best


def watershed_thin(cells: np.ndarray) -> np.ndarray:
    """Thin the borders of a binary slice to one-pixel dams, as Fiji's ``WatershedTransform2D``.

    Parameters
    ----------
    cells : (H, W) bool array
        True = cell (basin), False = border, e.g. ``prob > t``.

    Returns
    -------
    (H, W) ndarray of int
        Segment labels > 0 (one per 4-connected cell component, grown over the
        border), 0 on the dams; an image without cells is one segment.

    Notes
    -----
    Flooding order as in the module docstring; it decides where a border of
    even width gets its dam (here the second column of a 2-pixel border).

    Examples
    --------
    >>> cells = np.ones((2, 8), bool); cells[:, 3:5] = False
    >>> watershed_thin(cells)
    array([[1, 1, 1, 1, 0, 2, 2, 2],
           [1, 1, 1, 1, 0, 2, 2, 2]])
    """
    h, w = cells.shape
    basins = ndimage.label(cells, _FOUR)[0]
    grid = np.full((w + 2, h + 2), -1, np.int64)  # transposed: raster order = Fiji's x-major scan
    grid[1:-1, 1:-1] = np.where(cells, basins, _MASK).T
    flat = grid.ravel()
    stride = h + 2
    offs = (-stride, -1, stride, 1)  # x-1, y-1, x+1, y+1
    border = np.flatnonzero(flat == _MASK)
    seeds = border[np.any([flat[border + o] > 0 for o in offs], axis=0)] if border.size else border
    lab = flat.tolist()
    for i in seeds.tolist():
        lab[i] = _INQUEUE
    fifo, flag = deque(seeds.tolist()), False
    while fifo:
        i = fifo.popleft()
        for j in (i + o for o in offs):
            v = lab[j]
            if v > 0:
                cur = lab[i]
                if cur == _INQUEUE or (cur == 0 and flag):
                    lab[i] = v
                elif cur > 0 and cur != v:
                    lab[i], flag = 0, False
            elif v == 0:
                if lab[i] == _INQUEUE:
                    lab[i], flag = 0, True
            elif v == _MASK:
                lab[j] = _INQUEUE
                fifo.append(j)
    out = np.array(lab, np.int64).reshape(grid.shape)[1:-1, 1:-1].T.copy()
    rest = out == _MASK  # border never reached (no cell at all): new basins at the top level
    if rest.any():
        out[rest] = ndimage.label(rest, _FOUR)[0][rest] + basins.max()
    out[out < 0] = 0  # (unreached queue states; ImageJ clamps negatives when converting to 16 bit)
    return out
