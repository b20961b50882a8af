"""Mirror extrapolation and the tile grid of the overlap-tile strategy (paper Fig. 2).

"To predict the pixels in the border region of the image, the missing context is
extrapolated by mirroring the input image." These helpers index an image as if it
were mirror-padded (numpy's ``'reflect'`` semantics, repeated as often as needed, so
an image smaller than the border works) without building the padded copy, and place
output tiles on the max-pooling grid (multiples of the network's stride), which is
what makes the tiles join without seams. :func:`unet_core.predict_tiled` uses them.
"""

from __future__ import annotations

import numpy as np

from ..utils.system import check_memory
from ..utils.validation import check_int, fmt, is_int

__all__ = ['mirror_pad', 'reflect_index', 'tile_origins']


MAX_TILES = 10**7  # tile_origins never lists more per axis


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

    Raises
    ------
    TypeError
        If ``index`` does not hold integers or ``n`` is not an int.
    ValueError
        If ``n < 1``.

    Examples
    --------
    >>> reflect_index(np.arange(-3, 7), 4).tolist()
    [3, 2, 1, 0, 1, 2, 3, 2, 1, 0]
    """
    n = check_int(n, "n", 1, fix="the axis length")
    raw = np.asarray(index) if index is not None and not isinstance(index, (str, bytes)) else None
    if raw is None or not (raw.dtype.kind in "iu" or (raw.dtype == object and all(is_int(v) for v in raw.ravel()))):
        raise TypeError(
            f"index must hold integer coordinates, got {fmt(index if raw is None else raw)}; "
            "round float coordinates explicitly (np.rint(...).astype(int))"
        )
    index = raw.astype(np.int64)
    if n == 1:
        return np.zeros_like(index)
    j = np.mod(index, 2 * (n - 1))
    return np.where(j >= n, 2 * (n - 1) - j, j)


def read_block(image: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``image[..., rows, :][..., cols]`` reading only the bounding box (memmap friendly)."""
    r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    block = np.asarray(image[..., r0:r1, c0:c1])
    # np.take: 3x faster than fancy indexing here (700 px tile of a 512 slice: 0.27 vs 0.88 ms)
    return np.take(np.take(block, rows - r0, axis=-2), cols - c0, axis=-1)


def _check_pad(pad) -> tuple[int, int, int, int]:
    """``pad`` (an int or ((top, bottom), (left, right))) as four ints >= 0."""
    rule = "pad must be an int >= 0 or a pair of pairs ((top, bottom), (left, right))"
    if is_int(pad):
        values = [pad] * 4
    elif (
        isinstance(pad, (tuple, list))
        and len(pad) == 2
        and all(isinstance(p, (tuple, list)) and len(p) == 2 for p in pad)
    ):
        values = [*pad[0], *pad[1]]
    elif isinstance(pad, (tuple, list)):
        raise ValueError(f"{rule}, got {fmt(pad)}")
    else:
        raise TypeError(f"{rule}, got {fmt(pad)}")
    if not all(is_int(v) for v in values):
        raise TypeError(f"{rule} of integers, got {fmt(pad)}")
    if min(values) < 0:
        raise ValueError(f"pad must be non-negative, got {fmt(pad)}")
    return tuple(int(v) for v in values)


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
    TypeError
        If ``image`` is not an array or a pad is not an int.
    ValueError
        If a pad is negative, ``pad`` is not an int or a pair of pairs, or the image has fewer
        than two axes or is empty.
    MemoryError
        (``MemoryBudgetError``) if the padded array would not fit into the available memory.

    Examples
    --------
    >>> mirror_pad(np.array([[1, 2, 3]]), ((0, 0), (2, 1))).tolist()
    [[3, 2, 1, 2, 3, 2]]
    """
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy array of shape (H, W) or (C, H, W), got {fmt(image)}")
    if image.ndim < 2 or image.size == 0:
        raise ValueError(f"image must be a non-empty (H, W) or (C, H, W) array, got {fmt(image)}")
    top, bottom, left, right = _check_pad(pad)
    h, w = image.shape[-2:]
    out = image.size // (h * w) * (h + top + bottom) * (w + left + right) * image.dtype.itemsize
    check_memory(out, f"mirror_pad(pad={fmt(pad)}) of an image of shape {image.shape}", "use a smaller pad")
    rows = reflect_index(np.arange(-top, h + bottom), h)
    cols = reflect_index(np.arange(-left, w + right), w)
    return read_block(image, rows, cols)


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
    TypeError
        If an argument is not an int.
    ValueError
        If ``length``, ``out_tile`` or ``stride`` is < 1, ``out_tile < stride`` (no step on the
        grid) or more than 10**7 tiles would be listed.

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
    length, out_tile, stride = (
        check_int(v, k, 1) for k, v in (("length", length), ("out_tile", out_tile), ("stride", stride))
    )
    step = out_tile // stride * stride
    if step <= 0:
        raise ValueError(
            f"out_tile={out_tile}: output tiles of {out_tile} px are smaller than the stride {stride}; use larger tiles"
        )
    if length <= out_tile:
        return [0]
    last = -(-(length - out_tile) // stride) * stride  # exact ceil for any size
    if last // step > MAX_TILES:
        raise ValueError(
            f"length={length} with out_tile={out_tile} would need {last // step:,} tiles per axis "
            f"(more than {MAX_TILES:,}); use larger tiles"
        )
    return list(range(0, last, step)) + [last]
