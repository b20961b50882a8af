"""Synthetic stand-ins for the paper's data: EM membranes and touching cells.

Everything here is a *synthetic stand-in*: images drawn from a random Voronoi
tessellation, made to exercise the same code paths as the real data (ISBI 2012
EM stacks, Cell Tracking Challenge PhC-U373 / DIC-HeLa) in tests, notebooks and
smoke runs without downloading anything. They are not a substitute for the real
data in any reported number. Every function is deterministic in ``seed``.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from ..utils.system import check_memory
from ..utils.validation import check_pair, check_real, check_rng, fmt, is_int

__all__ = ['synthetic_em', 'synthetic_cells']


_OFFSETS_5X5 = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3) if (dy, dx) != (0, 0)]


def _check_shape(shape) -> tuple[int, int]:
    h, w = check_pair(shape, "shape")
    if h < 16 or w < 16:
        raise ValueError(f"shape must be at least (16, 16), got {shape!r}; use a larger image")
    return h, w


def _check_n_cells(n_cells, h: int, w: int, cell_size: float) -> int:
    if n_cells is None:
        n = max(2, int(round(h * w / cell_size**2)))
    elif not is_int(n_cells):
        raise TypeError(f"n_cells must be a positive int or None, got {fmt(n_cells)}")
    elif not 1 <= n_cells <= h * w // 16:
        raise ValueError(f"n_cells must be a positive int or None, got {n_cells!r}; at most one cell per 4 x 4 "
                         f"pixels ({h * w // 16} for shape {(h, w)})")
    else:
        n = int(n_cells)
    return n


def _check_common(shape, n_cells, seed, noise, cell_size: float, pair_table: bool):
    """Validate what both generators share; return (h, w, n, rng, noise)."""
    h, w = _check_shape(shape)
    n = _check_n_cells(n_cells, h, w, cell_size)
    noise = check_real(noise, "noise", 0.0, fix="the standard deviation of the added Gaussian noise")
    need = 96 * h * w + (24 * (n + 1) ** 2 if pair_table else 0) + 64 * n
    check_memory(need, f"a synthetic image of shape {(h, w)} with {n:,} cells", "use a smaller shape or n_cells")
    return h, w, n, check_rng(seed, "seed"), noise


def _seeds(rng: np.random.Generator, n: int, h: int, w: int, lloyd: int = 2) -> np.ndarray:
    """``n`` seed points (n, 2) in pixel coordinates, spread by Lloyd relaxation on a coarse grid."""
    pts = rng.uniform((0, 0), (h, w), size=(n, 2))
    yy, xx = np.mgrid[0:h:4, 0:w:4]
    grid = np.stack([yy.ravel(), xx.ravel()], axis=1).astype(float)  # (G, 2)
    for _ in range(lloyd):
        _, idx = cKDTree(pts).query(grid)
        count = np.bincount(idx, minlength=n)
        keep = count > 0
        for d in range(2):
            pts[keep, d] = np.bincount(idx, grid[:, d], minlength=n)[keep] / count[keep]
    return pts


def _nearest_seed(pts: np.ndarray, h: int, w: int) -> np.ndarray:
    """Discrete Voronoi tessellation: index (H, W) of the nearest seed, by one exact EDT."""
    rows = np.clip(np.rint(pts[:, 0]).astype(int), 0, h - 1)
    cols = np.clip(np.rint(pts[:, 1]).astype(int), 0, w - 1)
    ids = np.zeros((h, w), dtype=np.int64)
    ids[rows, cols] = np.arange(1, len(pts) + 1)  # seeds rounding onto one pixel: the last one wins
    near = ndimage.distance_transform_edt(ids == 0, return_distances=False, return_indices=True)  # (2, H, W)
    return ids[near[0], near[1]] - 1


def _edge_distance(nearest: np.ndarray) -> np.ndarray:
    """Distance (H, W) to the nearest pixel that has a 4-neighbour in another Voronoi cell (0 there)."""
    edge = np.zeros(nearest.shape, dtype=bool)
    for a, b in (((slice(1, None), slice(None)), (slice(None, -1), slice(None))),
                 ((slice(None), slice(1, None)), (slice(None), slice(None, -1)))):
        diff = nearest[a] != nearest[b]
        edge[a] |= diff
        edge[b] |= diff
    return ndimage.distance_transform_edt(~edge)


def _smooth_noise(rng: np.random.Generator, h: int, w: int, sigma: float) -> np.ndarray:
    """Gaussian-filtered white noise rescaled to unit standard deviation, (H, W) float."""
    field = ndimage.gaussian_filter(rng.standard_normal((h, w)), sigma, mode="wrap")
    return field / max(float(field.std()), 1e-12)


def _relabel(instances: np.ndarray) -> np.ndarray:
    """Map the labels present (excluding 0) to 1..N in order of first appearance by id."""
    ids = np.unique(instances)
    lut = np.zeros(int(instances.max()) + 1, dtype=np.int32)
    ids = ids[ids > 0]
    lut[ids] = np.arange(1, len(ids) + 1, dtype=np.int32)
    return lut[instances]


def _largest_parts(instances: np.ndarray, min_area: int) -> np.ndarray:
    """Keep the largest 4-connected part of each instance; drop instances smaller than ``min_area``."""
    out = np.zeros_like(instances)
    for lab, sl in enumerate(ndimage.find_objects(instances), start=1):
        if sl is None:
            continue
        parts, n = ndimage.label(instances[sl] == lab)
        if n == 0:
            continue
        sizes = np.bincount(parts.ravel())[1:]
        if sizes.max() >= min_area:
            out[sl][parts == 1 + int(sizes.argmax())] = lab
    return _relabel(out)


def synthetic_em(shape=(512, 512), n_cells: int | None = None, seed: int | np.random.Generator = 0,
                 membrane_width: float = 5.0, noise: float = 0.04, blur: float = 1.0):
    """EM-like synthetic stand-in: cells of a Voronoi tessellation with dark membranes.

    Parameters
    ----------
    shape : (int, int)
        Image size (H, W), at least (16, 16).
    n_cells : int or None
        Number of cells; None gives about one per 40 x 40 pixels (ISBI-like density).
    seed : int or numpy.random.Generator
        Seed; equal seeds give identical outputs.
    membrane_width : float
        Mean membrane thickness in pixels (at least 2; wobbles by about 30 %). The default
        gives about 17 % membrane pixels at the default density (ISBI 2012: 22 %).
    noise, blur : float
        Standard deviation of additive Gaussian noise, and of the Gaussian blur (pixels).

    Returns
    -------
    image : (H, W) float32 ndarray in [0, 1]
    labels : (H, W) uint8 ndarray, 1 = cell interior, 0 = membrane (ISBI convention after conversion)
    instances : (H, W) int32 ndarray, cells numbered 1..N, 0 on membranes; each is one 4-connected region

    Raises
    ------
    TypeError
        If an argument has the wrong type (``seed``: an int >= 0 or a Generator).
    ValueError
        On a bad ``shape``, ``n_cells``, ``membrane_width``, ``noise``, ``blur`` or a negative seed.
    MemoryError
        (``MemoryBudgetError``) if the image would not fit into the available memory.

    Notes
    -----
    The tessellation is discrete: each pixel belongs to its nearest seed (one
    exact Euclidean distance transform). Membranes are the pixels with a
    4-neighbour in another cell (2 px across an edge), grown by a smoothly varying
    distance so the mean thickness is about ``membrane_width``. Every 4-adjacent
    pair of pixels of different cells is membrane, so no 4-connected path crosses
    a membrane and ``instances`` equals the 4-connected components of
    ``labels == 1`` -- the rule ``unet_core.data`` uses for the real ISBI labels.

    References
    ----------
    Cardona et al. (2010), PLoS Biol 8(10): e1000502 (the real ssTEM data this imitates).

    Examples
    --------
    >>> image, labels, instances = synthetic_em((64, 64), n_cells=4, seed=1)
    >>> image.shape, labels.dtype, int(instances.max()) <= 4
    ((64, 64), dtype('uint8'), True)
    """
    h, w, n, rng, noise = _check_common(shape, n_cells, seed, noise, 40.0, pair_table=False)
    check_real(membrane_width, "membrane_width", fix="at least 2 pixels")
    if not 2.0 <= membrane_width <= min(h, w):
        raise ValueError(f"membrane_width must be >= 2 pixels so membranes separate cells (and at most the image "
                         f"side {min(h, w)}), got {membrane_width!r}")
    blur = check_real(blur, "blur", 0.0, fix="the Gaussian blur's standard deviation in pixels (0: none)")
    pts = _seeds(rng, n, h, w)
    nearest = _nearest_seed(pts, h, w)
    # the edge pixels lie on both sides of each Voronoi edge (2 px); grow them to about membrane_width
    reach = np.maximum((membrane_width - 2) / 2 * (1 + 0.3 * _smooth_noise(rng, h, w, 6.0)), 0.0)
    membrane = _edge_distance(nearest) <= reach
    instances = _largest_parts(np.where(membrane, 0, nearest + 1).astype(np.int32), min_area=1)
    labels = (instances > 0).astype(np.uint8)

    base = rng.uniform(0.55, 0.8, size=n + 1)[nearest]  # per-cell gray level, (H, W)
    texture = 0.05 * _smooth_noise(rng, h, w, 1.5)
    organelles = 0.25 * (_smooth_noise(rng, h, w, 3.0) > 1.8)  # dark vesicles / mitochondria
    image = np.where(labels == 1, base + texture - organelles, 0.12 + 0.03 * texture)
    image = ndimage.gaussian_filter(image, blur) if blur > 0 else image
    image = image + noise * rng.standard_normal((h, w))
    return np.clip(image, 0, 1).astype(np.float32), labels, instances


def synthetic_cells(shape=(512, 512), n_cells: int | None = None, seed: int | np.random.Generator = 0,
                    gap=(1, 2), touching: float = 0.25, modality: str = "dic", noise: float = 0.03):
    """Light-microscopy-like synthetic stand-in: touching cells on a background.

    Parameters
    ----------
    shape : (int, int)
        Image size (H, W), at least (16, 16).
    n_cells : int or None
        Number of seeds; None gives about one per 64 x 64 pixels. Cells that end up
        smaller than 20 pixels are dropped, so ``instances.max() <= n_cells``.
    seed : int or numpy.random.Generator
        Seed; equal seeds give identical outputs.
    gap : int or (int, int)
        Width in pixels of the background gap carved between neighbouring cells, or an
        inclusive range drawn per pair of neighbours; each must be 1 or 2.
    touching : float in [0, 1]
        Fraction of neighbouring pairs left touching directly (no gap).
    modality : {"dic", "phase"}
        "dic": relief shading (directional derivative of the cell height);
        "phase": dark cells with a bright halo.
    noise : float
        Standard deviation of additive Gaussian noise.

    Returns
    -------
    image : (H, W) float32 ndarray in [0, 1]
    instances : (H, W) int32 ndarray, cells numbered 1..N, 0 = background and gaps

    Raises
    ------
    TypeError
        If an argument has the wrong type (``seed``: an int >= 0 or a Generator).
    ValueError
        On a bad ``shape``, ``n_cells``, ``gap``, ``touching``, ``modality``, ``noise`` or a
        negative seed.
    MemoryError
        (``MemoryBudgetError``) if the image would not fit into the available memory.

    Notes
    -----
    Cells are Voronoi regions clipped to a random ellipse around each seed (convex,
    so some cells are isolated, some touch the image edge). For a neighbouring
    pair (a, b), gap 1 removes the pixels of the higher id that are 8-adjacent to
    the other cell, gap 2 removes them on both sides: no two pixels of separated
    cells are then 8-adjacent (1 pixel) or within chessboard distance 2 (2 pixels).
    These narrow gaps are where the weight map of Eq. 2 of the paper is large.

    References
    ----------
    Ronneberger, Fischer, Brox (2015), U-Net, Fig. 3 (touching HeLa cells, DIC);
    Ulman et al. (2017), Nature Methods 14:1141 (the CTC data this imitates).

    Examples
    --------
    >>> image, instances = synthetic_cells((96, 96), n_cells=6, seed=3)
    >>> image.dtype, instances.dtype
    (dtype('float32'), dtype('int32'))
    """
    h, w, n, rng, noise = _check_common(shape, n_cells, seed, noise, 64.0, pair_table=True)
    pair = (gap, gap) if is_int(gap) else tuple(gap) if isinstance(gap, (tuple, list)) else None
    if pair is None or len(pair) != 2 or not all(is_int(g) for g in pair):
        raise TypeError(f"gap must be 1, 2 or a range (lo, hi) of ints within 1..2, got {fmt(gap)}")
    lo, hi = int(pair[0]), int(pair[1])
    if not (1 <= lo <= hi <= 2):
        raise ValueError(f"gap must be 1, 2 or a range (lo, hi) within 1..2, got {gap!r}")
    touching = check_real(touching, "touching", fix="a fraction in [0, 1]")
    if not 0.0 <= touching <= 1.0:
        raise ValueError(f"touching must be a fraction in [0, 1], got {touching!r}")
    if modality not in ("dic", "phase"):
        raise ValueError(f"modality must be 'dic' or 'phase', got {modality!r}")
    pts = _seeds(rng, n, h, w)
    nearest = _nearest_seed(pts, h, w)
    spacing = np.sqrt(h * w / n)
    radius = rng.uniform(0.45, 0.8, size=(n, 2)) * spacing  # ellipse half-axes, (n, 2)
    angle = rng.uniform(0, np.pi, size=n)
    yy, xx = np.mgrid[0:h, 0:w]
    dy, dx = yy - pts[nearest, 0], xx - pts[nearest, 1]
    c, s = np.cos(angle[nearest]), np.sin(angle[nearest])
    inside = ((c * dy + s * dx) / radius[nearest, 0]) ** 2 + ((c * dx - s * dy) / radius[nearest, 1]) ** 2 <= 1
    cells = np.where(inside, nearest + 1, 0)  # (H, W), ids 1..n

    pair_gap = rng.integers(lo, hi + 1, size=(n + 1, n + 1))
    pair_gap = np.where(rng.random((n + 1, n + 1)) < touching, 0, pair_gap)
    pair_gap = np.triu(pair_gap, 1) + np.triu(pair_gap, 1).T  # symmetric per pair
    padded = np.pad(cells, 2)
    remove = np.zeros((h, w), dtype=bool)
    for oy, ox in _OFFSETS_5X5:  # remove the higher id within chessboard distance `gap` of the lower
        other = padded[2 + oy:2 + oy + h, 2 + ox:2 + ox + w]
        cand = (cells > other) & (other > 0)  # only the higher id of a pair loses pixels
        remove[cand] |= pair_gap[cells[cand], other[cand]] >= max(abs(oy), abs(ox))
    instances = _largest_parts(np.where(remove, 0, cells).astype(np.int32), min_area=20)

    fg = instances > 0
    height = ndimage.distance_transform_edt(fg)
    height = ndimage.gaussian_filter(np.sqrt(height), 1.0)
    if modality == "dic":
        padded_h = np.pad(height, 1, mode="edge")
        relief = padded_h[:-2, :-2] - padded_h[2:, 2:]  # diagonal shear derivative, (H, W)
        image = 0.5 + 0.12 * relief + 0.03 * _smooth_noise(rng, h, w, 2.0) * fg
    else:
        halo = ndimage.gaussian_filter(fg.astype(float), 2.0) * ~fg
        image = 0.45 - 0.05 * height + 0.8 * halo + 0.03 * _smooth_noise(rng, h, w, 2.0) * fg
    image = image + noise * rng.standard_normal((h, w))
    return np.clip(image, 0, 1).astype(np.float32), instances
