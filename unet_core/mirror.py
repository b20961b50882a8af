"""Mirror extrapolation and the tile grid of the overlap-tile strategy (paper Fig. 2).

"To predict the pixels in the border region of the image, the missing context is
extrapolated by mirroring the input image." These helpers index an image as if it
were mirror-padded (numpy's ``'reflect'`` semantics, repeated as often as needed, so
an image smaller than the border works) without building the padded copy, and place
output tiles on the max-pooling grid (multiples of the network's stride), which is
what makes the tiles join without seams. :func:`unet_core.predict_tiled` uses them.
"""
from __future__ import annotations

import math

import numpy as np

from ._utils import fmt

__all__ = ["mirror_pad", "reflect_index", "tile_origins"]


def reflect_index(index: np.ndarray, n: int) -> np.ndarray:
    """Map any integer coordinates onto ``0..n-1`` by repeated mirroring.

    Parameters
    ----------
    index : (M,) int ndarray
        Coordinates, possibly negative or ``>= n``.
    n : int
        Length of the axis.

    Returns
    -------
    (M,) int ndarray
        numpy ``'reflect'`` semantics (the edge pixel is not repeated), periodic
        with period ``2 * (n - 1)``, so any pad width works.

    Examples
    --------
    >>> reflect_index(np.arange(-3, 7), 4).tolist()
    [3, 2, 1, 0, 1, 2, 3, 2, 1, 0]
    """
    index = np.asarray(index, dtype=np.int64)
    if n == 1:
        return np.zeros_like(index)
    j = np.mod(index, 2 * (n - 1))
    return np.where(j >= n, 2 * (n - 1) - j, j)


def _read_block(image: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``image[..., rows, :][..., cols]`` reading only the bounding box (memmap friendly)."""
    r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    block = np.asarray(image[..., r0:r1, c0:c1])
    return block[..., rows - r0, :][..., cols - c0]


def mirror_pad(image: np.ndarray, pad: int | tuple) -> np.ndarray:
    """Mirror-extrapolate the last two axes of ``image`` (paper Fig. 2).

    Parameters
    ----------
    image : (H, W) or (C, H, W) ndarray
    pad : int or ((top, bottom), (left, right))
        Pixels added on each side; may exceed the image size.

    Returns
    -------
    (..., H + top + bottom, W + left + right) ndarray
        Same dtype. Equals ``np.pad(image, ..., mode='reflect')``.

    Raises
    ------
    ValueError
        If a pad is negative or the image has fewer than two axes or is empty.

    Examples
    --------
    >>> mirror_pad(np.array([[1, 2, 3]]), ((0, 0), (2, 1))).tolist()
    [[3, 2, 1, 2, 3, 2]]
    """
    image = np.asarray(image)
    if image.ndim < 2 or image.size == 0:
        raise ValueError(f"image must be a non-empty (H, W) or (C, H, W) array, got {fmt(image)}")
    (top, bottom), (left, right) = ((pad, pad), (pad, pad)) if np.isscalar(pad) else pad
    if min(top, bottom, left, right) < 0:
        raise ValueError(f"pad must be non-negative, got {pad!r}")
    h, w = image.shape[-2:]
    rows = reflect_index(np.arange(-top, h + bottom), h)
    cols = reflect_index(np.arange(-left, w + right), w)
    return _read_block(image, rows, cols)


def tile_origins(length: int, out_tile: int, stride: int) -> list[int]:
    """Output-tile origins along one axis: multiples of ``stride`` covering ``0..length``.

    Parameters
    ----------
    length : int
        Image height or width.
    out_tile : int
        Output tile side, ``tile - 2 * border``.
    stride : int
        Pooling stride of the network, ``2**(depth - 1)``.

    Returns
    -------
    list of int
        Origins in image coordinates (= padded coordinates of the input tiles).

    Raises
    ------
    ValueError
        If ``out_tile < stride`` (no step on the grid).

    Notes
    -----
    Step ``s * floor(o / s)``; the last origin is the smallest multiple of ``s``
    whose tile reaches ``length`` (it overhangs by ``< s`` px, read from the
    mirror), so every tile stays on the pooling grid of the padded image.

    Examples
    --------
    >>> tile_origins(1000, 388, 16)
    [0, 384, 624]
    """
    step = out_tile // stride * stride
    if step <= 0:
        raise ValueError(f"output tiles of {out_tile} px are smaller than the stride {stride}; use larger tiles")
    if length <= out_tile:
        return [0]
    last = math.ceil((length - out_tile) / stride) * stride
    return list(range(0, last, step)) + [last]
