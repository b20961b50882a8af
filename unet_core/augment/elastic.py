"""Elastic deformation on a coarse grid (paper Sec. 3.1).

    "We generate smooth deformations using random displacement vectors on a
    coarse 3 by 3 grid. The displacements are sampled from a Gaussian
    distribution with 10 pixels standard deviation. Per-pixel displacements
    are then computed using bicubic interpolation."

Conventions used throughout this module (and by :mod:`unet_core.augment.tiles`):

* A displacement field ``field`` has shape ``(2, H, W)``: ``field[0]`` is the
  row (y) component and ``field[1]`` the column (x) component, in pixels.
* Backward mapping: the output pixel ``(r, c)`` takes the input value at
  ``(r + field[0, r, c], c + field[1, r, c])``. A field that is ``+3``
  everywhere in the column component therefore shifts the content 3 pixels
  to the *left*.
* The ``g x g`` coarse grid points sit evenly spaced with the first and last
  at the image corners (pixel centres ``0`` and ``H - 1``), as in the
  ``elasticdeform`` package. The coarse values are interpolated with a
  separable interpolating cubic B-spline (mirror boundary), so the field
  passes exactly through the coarse displacements at the grid points.
* Out-of-image samples use mirror extrapolation about the edge pixel centres
  (scipy ``mode="mirror"`` = numpy ``np.pad(mode="reflect")`` = torch
  ``padding_mode="reflection"`` with ``align_corners=True``), the same
  mirroring the overlap-tile strategy of Fig. 2 uses.

This module is the numpy/scipy back-end (:func:`apply_elastic_field`, any
spline order); :mod:`unet_core.augment.elastic_torch` applies the same fields to
batches with ``grid_sample`` on the tensor's device.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.ndimage as ndi

from ..inference.mirror import reflect_index
from ..utils.system import check_memory
from ..utils.validation import check_finite_image, check_pair, check_rng, fmt, is_int, is_real

__all__ = ['random_elastic_field', 'upsample_grid_displacements', 'apply_elastic_field']


ELASTIC_GRID = 3  # paper: "coarse 3 by 3 grid"


ELASTIC_STD = 10.0  # paper: "10 pixels standard deviation"


MAX_GRID = 1024  # coarse grid points per side; the paper uses 3


_MODES = ("reflect", "grid-mirror", "constant", "grid-constant", "nearest", "mirror", "grid-wrap", "wrap")


def check_shape(shape) -> tuple[int, int]:
    return check_pair(shape, "shape")


def check_grid_std(grid: int, std: float) -> None:
    if not is_int(grid):
        raise TypeError(
            f"grid must be an int >= 2 (points per side of the coarse grid), got {fmt(grid)}; the paper uses grid=3"
        )
    if not 2 <= grid <= MAX_GRID:
        raise ValueError(
            f"grid must be an int >= 2 and <= {MAX_GRID} (points per side of the coarse grid), got "
            f"{fmt(grid)}; the paper uses grid=3"
        )
    if not is_real(std):
        raise TypeError(f"std must be a finite number >= 0 (pixels), got {fmt(std)}; the paper uses std=10.0")
    if not np.isfinite(std) or std < 0:
        raise ValueError(f"std must be a finite number >= 0 (pixels), got {fmt(std)}; the paper uses std=10.0")


def check_field_memory(batch: int, h: int, w: int, name: str) -> None:
    check_memory(batch * 2 * h * w * 12, f"{batch:,} displacement field(s) of size ({h}, {w})", f"use a smaller {name}")


def nearest_exact(plane: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """Nearest-neighbour sampling with mirror extrapolation by indexing (bit-exact for any integer ids).

    ``map_coordinates`` converts to float64, so integer labels above 2**53 would come back altered.
    Rounds like scipy's order 0 (``floor(x + 0.5)``).
    """

    h, w = plane.shape
    r = reflect_index(np.floor(coords[0] + 0.5).astype(np.int64).ravel(), h)
    c = reflect_index(np.floor(coords[1] + 0.5).astype(np.int64).ravel(), w)
    return plane[r, c].reshape(coords.shape[1:])


def needs_exact(array: np.ndarray) -> bool:
    """Integer arrays whose values float64 cannot hold exactly (|id| > 2**53)."""
    return (
        array.dtype.kind in "iu"
        and array.dtype.itemsize == 8
        and array.size > 0
        and (int(array.max()) > 2**53 or int(array.min()) < -(2**53))
    )


@lru_cache(maxsize=64)
def interp_matrix(n: int, g: int) -> np.ndarray:
    """(n, g) float64 matrix M with ``M @ v`` = cubic-spline interpolation of g grid values to n pixels."""
    u = np.arange(n, dtype=np.float64) * ((g - 1) / (n - 1) if n > 1 else 0.0)  # (n,) pixel -> grid units
    eye = np.eye(g)
    m = np.stack([ndi.map_coordinates(eye[k], u[None], order=3, mode="mirror") for k in range(g)], axis=1)  # (n, g)
    m.setflags(write=False)
    return m


def upsample_grid_displacements(coarse: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Interpolate coarse grid displacements to a per-pixel displacement field.

    Parameters
    ----------
    coarse : (2, gh, gw) array_like
        Row and column displacements (pixels) at ``gh x gw`` grid points spread
        evenly over the image, first and last grid point on the image corners.
    shape : (H, W) tuple of int
        Size of the image the field is for.

    Returns
    -------
    field : (2, H, W) float32 ndarray
        Per-pixel displacements; equals ``coarse`` exactly (to float32) at the
        grid points.

    Raises
    ------
    TypeError
        If ``coarse`` is not a real-valued array or ``shape`` not a pair of ints.
    ValueError
        If ``coarse`` is not ``(2, gh, gw)`` with ``gh, gw >= 2``, holds NaN/inf, or ``shape`` is
        not a pair of positive ints.

    Notes
    -----
    Separable interpolating cubic B-spline: ``field[k] = M_H @ coarse[k] @ M_W.T``
    with ``M_n`` the ``(n, g)`` matrix of the spline's cardinal functions sampled
    at ``u = i (g - 1) / (n - 1)``. This is what the paper calls "bicubic
    interpolation" and what ``elasticdeform`` computes.

    References
    ----------
    Ronneberger et al. (2015), Sec. 3.1.

    Examples
    --------
    >>> coarse = np.zeros((2, 3, 3)); coarse[1, 1, 1] = 10.0
    >>> field = upsample_grid_displacements(coarse, (5, 9))  # grid points at cols 0, 4, 8
    >>> [round(float(v), 2) + 0.0 for v in field[1, 2]]
    [0.0, 1.56, 5.0, 8.44, 10.0, 8.44, 5.0, 1.56, 0.0]
    """
    raw = np.asarray(coarse) if coarse is not None and not isinstance(coarse, (str, bytes)) else None
    if raw is None or raw.dtype.kind not in "iuf":
        raise TypeError(f"coarse must be a real-valued array of shape (2, gh, gw), got {fmt(coarse)}")
    coarse = raw.astype(np.float64)
    if not np.isfinite(coarse).all():
        raise ValueError("coarse must be finite, but it holds NaN or inf displacements")
    if coarse.ndim != 3 or coarse.shape[0] != 2 or min(coarse.shape[1:]) < 2:
        raise ValueError(f"coarse must have shape (2, gh, gw) with gh, gw >= 2, got {fmt(coarse)}")
    h, w = check_shape(shape)
    check_field_memory(1, h, w, "shape")
    mh, mw = interp_matrix(h, coarse.shape[1]), interp_matrix(w, coarse.shape[2])
    field = np.zeros((2, h, w), dtype=np.float64)
    for k in range(2):  # sum of outer products instead of BLAS: tiny inner dimension, no thread start-up
        a = (mh[:, :, None] * coarse[k][None]).sum(axis=1)  # (H, gh) x (gh, gw) -> (H, gw)
        for j in range(coarse.shape[2]):
            field[k] += np.multiply.outer(a[:, j], mw[:, j])  # (H,) x (W,) -> (H, W)
    return field.astype(np.float32)


def random_elastic_field(
    shape: tuple[int, int],
    grid: int = ELASTIC_GRID,
    std: float = ELASTIC_STD,
    rng: np.random.Generator | int | None = None,
) -> np.ndarray:
    """Draw a smooth random displacement field as in the paper.

    Parameters
    ----------
    shape : (H, W) tuple of int
        Image size.
    grid : int, default 3
        Grid points per side (paper: 3).
    std : float, default 10.0
        Standard deviation of the coarse displacements in pixels (paper: 10).
    rng : numpy Generator, int seed or None
        Source of randomness; draws ``rng.standard_normal((2, grid, grid))``.

    Returns
    -------
    field : (2, H, W) float32 ndarray
        Row and column displacements in pixels (see module conventions).

    Raises
    ------
    TypeError
        If ``grid``, ``std``, ``shape`` or ``rng`` has the wrong type.
    ValueError
        If ``grid`` is outside [2, 1024], ``std`` is negative or not finite, ``shape`` is not a
        pair of positive ints or ``rng`` is a negative seed.
    MemoryError
        (``MemoryBudgetError``) if the field would not fit into the available memory.

    Notes
    -----
    ``d_grid ~ N(0, std^2)`` i.i.d. on a ``grid x grid`` lattice, then
    :func:`upsample_grid_displacements`. ``std=0`` gives an all-zero field.

    References
    ----------
    Ronneberger et al. (2015), Sec. 3.1.

    Examples
    --------
    >>> field = random_elastic_field((64, 48), rng=0)
    >>> field.shape, field.dtype
    ((2, 64, 48), dtype('float32'))
    """
    check_grid_std(grid, std)
    h, w = check_shape(shape)
    check_field_memory(1, h, w, "shape")
    coarse = check_rng(rng).standard_normal((2, grid, grid)) * float(std)  # (2, g, g)
    return upsample_grid_displacements(coarse, shape)


def _check_field(field, spatial: tuple[int, ...], name: str = "field") -> None:
    if not hasattr(field, "shape") or getattr(field, "dtype", np.dtype(object)).kind not in "iuf":
        raise TypeError(f"{name} must be a real-valued (2, H, W) array of displacements, got {fmt(field)}")
    if tuple(field.shape) != (2, *spatial):
        raise ValueError(f"{name} must have shape (2, H, W) = {(2, *spatial)} to match the array, got {fmt(field)}")


def apply_elastic_field(array: np.ndarray, field: np.ndarray, order: int = 3, mode: str = "mirror") -> np.ndarray:
    """Warp an image, label map or weight map with a displacement field (numpy back-end).

    Parameters
    ----------
    array : (H, W) or (C, H, W) ndarray
        Image (``order=3`` or ``1``), label/instance map (``order=0``) or weight
        map (``order=1``). Channels share the field.
    field : (2, H, W) ndarray
        Row and column displacements in pixels (backward mapping).
    order : {0, 1, 3}, default 3
        Spline order: 0 nearest (labels: dtype kept, no new label values),
        1 bilinear, 3 cubic B-spline.
    mode : str, default "mirror"
        Boundary mode of :func:`scipy.ndimage.map_coordinates`; ``"mirror"``
        is numpy's ``np.pad(mode="reflect")``.

    Returns
    -------
    out : ndarray, same shape and dtype as ``array``
        ``out[..., r, c] = array[..., r + field[0, r, c], c + field[1, r, c]]``.
        An all-zero field returns an exact copy.

    Raises
    ------
    ValueError
        On an empty or non-finite array, a field that is not ``(2, H, W)`` of the array or not
        finite, ``order`` outside {0, 1, 3} or an unknown ``mode``.
    TypeError
        If ``array`` is not a numeric numpy array, ``field`` not a real array, ``order`` not an int.

    Notes
    -----
    Integer arrays with ``order > 0`` are interpolated in float64 and rounded
    back (clipped to the dtype's range), so prefer ``order=0`` for labels.
    Boolean masks always use nearest.

    Examples
    --------
    >>> img = np.arange(12.0).reshape(3, 4)
    >>> field = np.zeros((2, 3, 4)); field[1] = 1.0
    >>> apply_elastic_field(img, field, order=1)[0].tolist()
    [1.0, 2.0, 3.0, 2.0]
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"array must be a numpy array, got {type(array).__name__}")
    if array.ndim not in (2, 3) or array.size == 0:
        raise ValueError(f"array must be a non-empty (H, W) or (C, H, W) array, got {fmt(array)}")
    if array.dtype != bool:
        check_finite_image(array, "array")
    if not is_int(order):
        raise TypeError(f"order must be 0 (labels), 1 (weights) or 3 (images), got {fmt(order)}")
    if order not in (0, 1, 3):
        raise ValueError(f"order must be 0 (labels), 1 (weights) or 3 (images), got {fmt(order)}")
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {_MODES} (scipy.ndimage boundary modes), got {fmt(mode)}")
    field = np.asarray(field) if field is not None and not isinstance(field, (str, bytes)) else field
    _check_field(field, array.shape[-2:])
    if not np.isfinite(field).all():
        raise ValueError("field must be finite, but it holds NaN or inf displacements")
    if not field.any():
        return array.copy()
    if array.dtype == bool:
        return apply_elastic_field(array.view(np.uint8), field, order=0, mode=mode).view(bool)
    h, w = array.shape[-2:]
    coords = np.indices((h, w), dtype=np.float64)  # (2, H, W)
    coords += field
    planes = array.reshape(-1, h, w)  # (C, H, W)
    out = np.empty_like(planes)
    exact = order == 0 and mode == "mirror" and needs_exact(planes)
    for i, plane in enumerate(planes):
        if exact:
            out[i] = nearest_exact(plane, coords)
        elif order == 0 or np.issubdtype(plane.dtype, np.floating):
            ndi.map_coordinates(plane, coords, output=out[i], order=order, mode=mode)
        else:
            res = ndi.map_coordinates(plane.astype(np.float64), coords, order=order, mode=mode)
            info = np.iinfo(plane.dtype)  # cubic overshoot must clip, not wrap around
            out[i] = np.clip(np.rint(res), info.min, info.max).astype(plane.dtype)
    return out.reshape(array.shape)
