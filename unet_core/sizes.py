"""Size arithmetic of the U-Net (paper Fig. 1, Sec. 2): which tiles fit, what comes out, at what cost.

Pure-Python integer functions, no torch. With unpadded ("valid") 3x3 convolutions
every convolution loses one pixel per side and every 2x2 max-pooling needs an even
size, so only some input sizes work: for the paper's depth-5 network these are
``16 k + 12`` from 188 on (572 -> 388). With ``padding="same"`` the convolutions keep
the size, valid inputs are the multiples of ``2**(depth - 1)`` and output == input.
"""
from __future__ import annotations

from functools import lru_cache

from ._utils import check_int, fmt, is_int

__all__ = [
    "PADDINGS",
    "unet_output_size",
    "is_valid_input_size",
    "valid_input_sizes",
    "nearest_valid_input_sizes",
    "input_size_for_output",
    "unet_flops",
]

PADDINGS = ("valid", "same")
MAX_DEPTH = 16
"""Largest ``depth`` accepted: its smallest valid input is already 3 * 2**16 px (a 196,604 px tile side)."""
MAX_SIZES = 1_000_000  # valid_input_sizes never lists more


def _check_config(depth: int, padding: str) -> int:
    """Validate ``depth`` (an int in [1, MAX_DEPTH]) and ``padding``; return ``int(depth)``."""
    depth = check_int(depth, "depth", 1, MAX_DEPTH, "the paper's network has depth=5")
    if not isinstance(padding, str) or padding not in PADDINGS:
        raise ValueError(f"padding={fmt(padding)} must be 'valid' (unpadded, as in the paper) or 'same'")
    return depth


def _check_int(n: int, name: str) -> int:
    if not is_int(n):
        raise TypeError(f"{name} must be an int, got {fmt(n)}")
    return int(n)


def _trace(n: int, depth: int, padding: str) -> list[tuple[str, int, int]] | None:
    """Follow one spatial dimension through the U: ``[(stage, size_in, size_out), ...]``, None if invalid."""
    loss = 4 if padding == "valid" else 0  # two 3x3 convolutions per level
    stages, skips, size = [], [], n
    for level in range(1, depth + 1):  # contracting path; level ``depth`` is the bottleneck
        out = size - loss
        stages.append((f"enc{level}", size, out))
        if size < 1 or out < 1:
            return None
        if level == depth:
            size = out
            break
        if out % 2:  # the 2x2 max-pooling needs an even size
            return None
        skips.append(out)
        stages.append((f"pool{level}", out, out // 2))
        size = out // 2
    for level in range(depth - 1, 0, -1):  # expanding path
        up = 2 * size
        stages.append((f"up{level}", size, up))
        assert skips[level - 1] >= up and (skips[level - 1] - up) % 2 == 0, "skip map must crop symmetrically"
        stages.append((f"crop{level}", skips[level - 1], up))
        out = up - loss
        stages.append((f"dec{level}", up, out))
        if out < 1:
            return None
        size = out
    stages.append(("final", size, size))
    return stages


@lru_cache(maxsize=None)
def _border(depth: int, padding: str) -> int:
    """Pixels lost per side: 2 per 3x3 conv at each level's scale, down and up (92 for depth 5 valid)."""
    return 3 * 2**depth - 4 if padding == "valid" else 0


@lru_cache(maxsize=None)
def _progression(depth: int, padding: str) -> tuple[int, int]:
    """(smallest valid input, step): the valid inputs are ``first + step * k``, k >= 0.

    A valid input is fixed by its bottleneck input ``b``: going up, each level doubles and adds the
    4 px its two convolutions lose, ``n = 2 n' + 4``; the smallest ``b`` whose trace is valid gives
    ``first`` (a handful of trials, not a search over all sizes).
    """
    loss = 4 if padding == "valid" else 0
    for b in range(1, 64):
        n = b
        for _ in range(depth - 1):
            n = 2 * n + loss
        if _trace(n, depth, padding) is not None:
            return n, 2 ** (depth - 1)
    raise AssertionError(f"no valid input size found for depth={depth} padding={padding!r}")  # pragma: no cover


def is_valid_input_size(n: int, depth: int = 5, padding: str = "valid") -> bool:
    """Whether a tile side of ``n`` pixels passes through the network.

    Parameters
    ----------
    n : int
        Input height or width in pixels.
    depth : int
        Number of resolution levels (5 in the paper).
    padding : {"valid", "same"}
        Unpadded (paper) or zero-padded 3x3 convolutions.

    Returns
    -------
    bool
        True iff every 2x2 pooling sees an even size and every feature map has >= 1 pixel.

    Notes
    -----
    For ``padding="valid"``, depth 5: valid sizes are ``16 k + 12`` from 188 on.

    Raises
    ------
    TypeError
        If ``n`` or ``depth`` is not an int.
    ValueError
        If ``depth`` is outside [1, 16] or ``padding`` is unknown.

    Examples
    --------
    >>> is_valid_input_size(572), is_valid_input_size(500)
    (True, False)
    """
    depth = _check_config(depth, padding)
    n = _check_int(n, "n")
    first, step = _progression(depth, padding)
    return n >= first and (n - first) % step == 0


def nearest_valid_input_sizes(n: int, depth: int = 5, padding: str = "valid") -> tuple[int | None, int]:
    """Largest valid size ``<= n`` (None if there is none) and smallest valid size ``>= n``.

    Parameters
    ----------
    n : int
        Any size in pixels.
    depth, padding
        As in :func:`is_valid_input_size`.

    Returns
    -------
    (below, above) : tuple of (int or None, int)
        Both equal ``n`` when ``n`` is valid.

    Raises
    ------
    TypeError
        If ``n`` or ``depth`` is not an int.
    ValueError
        If ``depth`` is outside [1, 16] or ``padding`` is unknown.

    Examples
    --------
    >>> nearest_valid_input_sizes(500)
    (492, 508)
    """
    depth = _check_config(depth, padding)
    n = _check_int(n, "n")
    first, step = _progression(depth, padding)
    if n < first:
        return None, first
    below = first + (n - first) // step * step
    return below, below if below == n else below + step


def _size_error(what: str, n: int, depth: int, padding: str) -> ValueError:
    below, above = nearest_valid_input_sizes(n, depth, padding)
    near = f"nearest valid sizes are {below} and {above}" if below is not None else f"the smallest valid size is {above}"
    return ValueError(f"{what} {n} is not a valid input size for depth={depth} padding={padding!r}; {near}")


def unet_output_size(input_size: int, depth: int = 5, padding: str = "valid") -> int:
    """Output side length for an input side length (one spatial dimension).

    Parameters
    ----------
    input_size : int
        Input height or width in pixels.
    depth, padding
        As in :func:`is_valid_input_size`.

    Returns
    -------
    int
        ``input_size - 2 * (3 * 2**depth - 4)`` for "valid" (572 -> 388), ``input_size`` for "same".

    Raises
    ------
    TypeError
        If ``input_size`` or ``depth`` is not an int.
    ValueError
        If ``input_size`` is not valid (the message names the nearest valid sizes), ``depth`` is
        outside [1, 16] or ``padding`` is unknown.

    Notes
    -----
    Each level loses 4 px at its own scale on the way down and up, hence a border of
    ``3 * 2**depth - 4`` px per side (92 for depth 5).

    Examples
    --------
    >>> unet_output_size(572)
    388
    """
    depth = _check_config(depth, padding)
    input_size = _check_int(input_size, "input_size")
    trace = _trace(input_size, depth, padding)
    if trace is None:
        raise _size_error("input_size", input_size, depth, padding)
    return trace[-1][2]


def valid_input_sizes(max_size: int, depth: int = 5, min_size: int | None = None, padding: str = "valid") -> list[int]:
    """All valid input sizes in ``[min_size, max_size]``.

    Parameters
    ----------
    max_size : int
        Upper bound (inclusive).
    depth, padding
        As in :func:`is_valid_input_size`.
    min_size : int, optional
        Lower bound (inclusive); default: the smallest size that works.

    Returns
    -------
    list of int
        Ascending; empty if none fits.

    Raises
    ------
    TypeError
        If ``max_size`` or ``depth`` is not an int.
    ValueError
        If ``depth`` is outside [1, 16] or ``padding`` is unknown; or if more than 1,000,000 sizes would be listed.

    Examples
    --------
    >>> valid_input_sizes(240)
    [188, 204, 220, 236]
    """
    depth = _check_config(depth, padding)
    max_size = _check_int(max_size, "max_size")
    first, step = _progression(depth, padding)
    lo = first if min_size is None else \
        nearest_valid_input_sizes(max(_check_int(min_size, "min_size"), 1), depth, padding)[1]
    count = (max_size - lo) // step + 1
    if count > MAX_SIZES:
        raise ValueError(f"max_size={max_size} would list {count:,} sizes (more than {MAX_SIZES:,}); pass a smaller "
                         "max_size (or min_size), or use nearest_valid_input_sizes(n)")
    return list(range(lo, max_size + 1, step))


def input_size_for_output(output_size: int, depth: int = 5, padding: str = "valid") -> int:
    """Smallest valid input size whose output is at least ``output_size``.

    Parameters
    ----------
    output_size : int
        Wanted output side length, >= 1.
    depth, padding
        As in :func:`is_valid_input_size`.

    Returns
    -------
    int
        For "valid", ``output_size + 2 * border`` rounded up to a valid size.

    Raises
    ------
    TypeError
        If ``output_size`` or ``depth`` is not an int.
    ValueError
        If ``output_size < 1``, ``depth`` is outside [1, 16] or ``padding`` is unknown.

    Examples
    --------
    >>> input_size_for_output(388), input_size_for_output(389)
    (572, 588)
    """
    depth = _check_config(depth, padding)
    output_size = _check_int(output_size, "output_size")
    if output_size < 1:
        raise ValueError(f"output_size={output_size} must be >= 1")
    return nearest_valid_input_sizes(output_size + 2 * _border(depth, padding), depth, padding)[1]


def _check_input_size(input_size, depth: int, padding: str) -> tuple[int, int]:
    """``input_size`` (an int or an (H, W) pair of valid sizes) as (H, W); raises naming the bad side."""
    if is_int(input_size):
        pair = (int(input_size),) * 2
    elif isinstance(input_size, (tuple, list)) and all(is_int(v) for v in input_size):
        if len(input_size) != 2:
            raise ValueError(f"input_size must be an int or a pair (H, W), got {fmt(input_size)}")
        pair = (int(input_size[0]), int(input_size[1]))
    else:
        raise TypeError(f"input_size must be an int or a pair (H, W) of ints, got {fmt(input_size)}")
    for what, n in zip(("input height", "input width"), pair):
        if _trace(n, depth, padding) is None:
            raise _size_error(what, n, depth, padding)
    return pair


def unet_flops(
    input_size: int | tuple[int, int] = 572,
    in_channels: int = 1,
    num_classes: int = 2,
    base_channels: int = 64,
    depth: int = 5,
    padding: str = "valid",
) -> int:
    """Floating-point operations of one forward pass (2 x multiply-adds), batch 1.

    Parameters
    ----------
    input_size : int or (H, W)
        Input tile size; must be valid.
    in_channels, num_classes, base_channels, depth, padding
        As in :class:`unet_core.network.UNet`.

    Returns
    -------
    int
        ``2 * sum(MACs)`` over the 3x3 convolutions, the 2x2 up-convolutions and the final 1x1
        convolution. Biases, ReLU, max-pooling, crop and concatenation are not counted.

    Notes
    -----
    A 3x3 convolution costs ``H_out W_out C_in C_out 9`` MACs; a 2x2 stride-2 up-convolution
    ``H_out W_out C_in C_out`` (each output pixel sees one input pixel); the 1x1 head
    ``H_out W_out C_in K``. For the paper's network at 572 x 572 this is 300,856,848,896 FLOP (about 301 GFLOP).

    Raises
    ------
    TypeError
        If ``input_size`` or ``depth`` is not an int.
    ValueError
        If ``depth`` is outside [1, 16] or ``padding`` is unknown; or if ``input_size`` is not valid
        or a channel count is < 1.

    Examples
    --------
    >>> unet_flops(572) / 1e9  # doctest: +ELLIPSIS
    300.85...
    """
    depth = _check_config(depth, padding)
    h, w = _check_input_size(input_size, depth, padding)
    in_channels, num_classes, base_channels = (check_int(v, k, 1) for k, v in (
        ("in_channels", in_channels), ("num_classes", num_classes), ("base_channels", base_channels)))
    p, c_in, total = (2 if padding == "valid" else 0), in_channels, 0

    def block(h: int, w: int, cin: int, cout: int) -> tuple[int, int, int]:
        m = (h - p) * (w - p) * cin * cout * 9  # first 3x3 conv
        m += (h - 2 * p) * (w - 2 * p) * cout * cout * 9  # second 3x3 conv
        return m, h - 2 * p, w - 2 * p

    for level in range(depth):  # contracting path and bottleneck
        c = base_channels * 2**level
        macs, h, w = block(h, w, c_in, c)
        total, c_in, (h, w) = total + macs, c, ((h // 2, w // 2) if level < depth - 1 else (h, w))
    for level in range(depth - 2, -1, -1):  # expanding path
        c = base_channels * 2**level
        total += (2 * h) * (2 * w) * c_in * c  # up-convolution
        macs, h, w = block(2 * h, 2 * w, 2 * c, c)
        total, c_in = total + macs, c
    total += h * w * c_in * num_classes  # 1x1 head
    return 2 * total
