"""FusionNet's arithmetic without building it: valid sizes, parameters, FLOPs, receptive field.

Pure-Python integer functions, no torch (the counterpart of :mod:`unet_core.sizes`).
Every convolution of FusionNet is zero-padded, so a tile keeps its size; the
``depth - 1`` halvings need sides that are positive multiples of ``2**(depth - 1)``
(16 for the paper's depth 5: 640 -> 640). Conventions: ``depth`` counts the levels
including the bridge; level ``l`` has ``base_channels * 2**l`` channels; each level is
five 3x3 convolutions (conv, the residual block's three, conv), each followed by batch
normalisation (2 parameters per channel; the convolutions have no bias).
"""
from __future__ import annotations

from typing import NamedTuple

from .._utils import check_int, fmt, is_int
from ..sizes import MAX_DEPTH

__all__ = ["fusionnet_parameter_count", "fusionnet_flops", "fusionnet_receptive_field", "ReceptiveField"]

DOWNS = ("pool", "stride")
HEAD_KERNELS = (1, 3)
CONVS_PER_LEVEL = 5  # conv3x3, the residual block's three, conv3x3


class ReceptiveField(NamedTuple):
    """What :func:`fusionnet_receptive_field` returns (one axis, in input pixels)."""

    size: int  # widest window of input pixels one output pixel depends on
    margin: int  # farthest that window reaches past its output pixel on one side: the seamless tile margin


def _check_config(depth, down="pool", head_kernel=1) -> int:
    """Validate the size-relevant arguments; return ``int(depth)``."""
    depth = check_int(depth, "depth", 1, MAX_DEPTH, "the paper's FusionNet has depth=5 (four levels and a bridge)")
    if not isinstance(down, str) or down not in DOWNS:
        raise ValueError(f"down={fmt(down)} must be 'pool' (2x2 max pooling, the paper) or 'stride' (a 3x3 stride-2 "
                         "convolution)")
    rule = f"head_kernel={fmt(head_kernel)} must be 1 (the paper's 1x1 output convolution) or 3"
    if not is_int(head_kernel):
        raise TypeError(rule)
    if int(head_kernel) not in HEAD_KERNELS:
        raise ValueError(rule)
    return depth


def _channels(in_channels, num_classes, base_channels) -> tuple[int, int, int]:
    return tuple(check_int(v, k, 1) for k, v in (("in_channels", in_channels), ("num_classes", num_classes),
                                                  ("base_channels", base_channels)))


def _nearest(n: int, depth: int) -> tuple[int | None, int]:
    """Largest valid side ``<= n`` (None if none) and smallest valid side ``>= n``."""
    s = 2 ** (depth - 1)
    below = n // s * s
    return (below if below >= s else None), max(-(-n // s) * s, s)


def _check_side(n, depth: int, what: str) -> int:
    """``int(n)`` if it is a valid input side, else a ValueError naming ``what`` and the nearest valid sides."""
    if not is_int(n):
        raise TypeError(f"{what} must be an int, got {fmt(n)}")
    n, s = int(n), 2 ** (depth - 1)
    if n < s or n % s:
        below, above = _nearest(n, depth)
        near = f"nearest valid sizes are {below} and {above}" if below is not None else \
            f"the smallest valid size is {above}"
        raise ValueError(f"{what} {n} is not a valid input size for FusionNet(depth={depth}): it must be a positive "
                         f"multiple of 2**(depth - 1) = {s}; {near}")
    return n


def _check_input_size(input_size, depth: int) -> tuple[int, int]:
    if is_int(input_size):
        input_size = (input_size, input_size)
    if not isinstance(input_size, (tuple, list)) or len(input_size) != 2 or not all(is_int(v) for v in input_size):
        raise TypeError(f"input_size must be an int or a pair (H, W) of ints, got {fmt(input_size)}")
    return _check_side(input_size[0], depth, "input height"), _check_side(input_size[1], depth, "input width")


def fusionnet_parameter_count(in_channels: int = 1, num_classes: int = 2, base_channels: int = 64, depth: int = 5,
                              down: str = "pool", head_kernel: int = 1) -> int:
    """Parameters of ``FusionNet(in_channels, num_classes, base_channels, depth, down=..., head_kernel=...)``.

    Parameters
    ----------
    in_channels, num_classes, base_channels, depth, down, head_kernel
        As in :class:`unet_core.models.FusionNet` (the skip, activations and dropout add none).

    Returns
    -------
    int
        With ``c_l = base_channels 2**l``: every level ``9 c_in c + 36 c^2 + 10 c`` (five 3x3
        convolutions without bias, five batch norms), every up-convolution ``18 c^2 + 2 c``
        (3x3, 2c -> c, + BN), every strided down-convolution ``9 c^2 + 2 c``, and the head
        ``k^2 base_channels num_classes + num_classes``.

    Raises
    ------
    TypeError
        If a channel count, ``depth`` or ``head_kernel`` is not an int.
    ValueError
        If a channel count is < 1, ``depth`` is outside [1, 16], ``down`` is unknown or ``head_kernel``
        is not 1 or 3.

    Examples
    --------
    >>> fusionnet_parameter_count(base_channels=2, depth=1)
    188
    """
    depth = _check_config(depth, down, head_kernel)
    in_channels, num_classes, base_channels = _channels(in_channels, num_classes, base_channels)
    chans = [base_channels * 2**level for level in range(depth)]
    total = sum(9 * c_in * c + 36 * c * c + 10 * c for c_in, c in zip([in_channels] + chans[:-1], chans))
    for c in chans[:-1]:  # up-convolution 2c -> c and decoder level c -> c; strided down-convolution c -> c
        total += 18 * c * c + 2 * c + 45 * c * c + 10 * c + (9 * c * c + 2 * c if down == "stride" else 0)
    return total + head_kernel**2 * base_channels * num_classes + num_classes


def fusionnet_flops(input_size: int | tuple[int, int] = 640, in_channels: int = 1, num_classes: int = 2,
                    base_channels: int = 64, depth: int = 5, down: str = "pool", head_kernel: int = 1) -> int:
    """Floating-point operations of one forward pass (2 x multiply-adds of the convolutions), batch 1.

    Parameters
    ----------
    input_size : int or (H, W)
        Tile size, positive multiples of ``2**(depth - 1)``; 640 is the paper's 512 slice plus 64 px
        of mirror padding per side.
    in_channels, num_classes, base_channels, depth, down, head_kernel
        As in :class:`unet_core.models.FusionNet`.

    Returns
    -------
    int
        A padded 3x3 convolution costs ``9 H W C_in C_out`` MACs, the 3x3 stride-2 transposed one
        ``9 H_in W_in C_in C_out`` (the count ``torch.utils.flop_counter`` uses), a strided one
        ``9 (H/2) (W/2) C^2``, the head ``k^2 H W C K``. Batch norm, activations, pooling and the
        skip sums are not counted (as :func:`unet_core.sizes.unet_flops`).

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        If ``input_size`` is not a positive multiple of ``2**(depth - 1)`` (the message names the
        nearest valid sizes), or another argument is out of range.

    Examples
    --------
    >>> round(fusionnet_flops(512) / 1e9)  # the paper's network on one 512 x 512 slice, unpadded
    851
    """
    depth = _check_config(depth, down, head_kernel)
    h, w = _check_input_size(input_size, depth)
    in_channels, num_classes, base_channels = _channels(in_channels, num_classes, base_channels)
    macs, c_in = 0, in_channels
    for level in range(depth):  # encoder and bridge
        c = base_channels * 2**level
        macs += 9 * h * w * (c_in * c + 4 * c * c)
        if level < depth - 1:
            macs += 9 * (h // 2) * (w // 2) * c * c if down == "stride" else 0
            h, w = h // 2, w // 2
        c_in = c
    for level in range(depth - 2, -1, -1):  # decoder: up-convolution 2c -> c at the coarse size, then a level
        c = base_channels * 2**level
        macs += 9 * h * w * 2 * c * c
        h, w = 2 * h, 2 * w
        macs += 9 * h * w * 5 * c * c
    return 2 * (macs + head_kernel**2 * h * w * base_channels * num_classes)


def _input_interval(lo: int, hi: int, depth: int, down: str, head_kernel: int) -> tuple[int, int]:
    """Input pixels ``[lo', hi']`` (one axis) that the output pixels ``[lo, hi]`` depend on.

    Walks back through the network: a padded 3x3 convolution widens an interval by one pixel
    per side at its level; pooling maps level-(l+1) pixel ``i`` to ``[2i, 2i+1]``, a 3x3
    stride-2 convolution to ``[2i-1, 2i+1]``; the 3x3 transposed convolution (stride 2, padding
    1) makes output ``o`` read inputs ``[ceil((o-1)/2), floor((o+1)/2)]``; a skip sum takes the
    hull of its two branches (the residual shortcut's branch is always inside the other).
    """
    n = CONVS_PER_LEVEL

    def encoder(level: int, lo: int, hi: int) -> tuple[int, int]:  # output of encoder level -> input
        lo, hi = lo - n, hi + n
        for _ in range(level):
            lo, hi = (2 * lo if down == "pool" else 2 * lo - 1), 2 * hi + 1
            lo, hi = lo - n, hi + n
        return lo, hi

    def decoder(level: int, lo: int, hi: int) -> tuple[int, int]:  # output of decoder level -> input
        if level == depth - 1:
            return encoder(level, lo, hi)  # the bridge
        lo, hi = lo - n, hi + n  # the decoder level's convolutions, back to the skip sum
        skip, up = encoder(level, lo, hi), decoder(level + 1, lo // 2, (hi + 1) // 2)
        return min(skip[0], up[0]), max(skip[1], up[1])

    k = head_kernel // 2
    return decoder(0, lo - k, hi + k)


def fusionnet_receptive_field(depth: int = 5, down: str = "pool", head_kernel: int = 1) -> ReceptiveField:
    """Receptive field of one output pixel of FusionNet, exact (one axis, input pixels).

    Parameters
    ----------
    depth, down, head_kernel
        As in :class:`unet_core.models.FusionNet` (widths, skip and activations do not matter).

    Returns
    -------
    ReceptiveField
        ``size``: the widest window of input pixels that one output pixel depends on (the window
        depends on the pixel's phase on the ``2**(depth - 1)`` pooling grid; the widest is given);
        ``margin``: the farthest the window reaches past its pixel on one side. A tile whose output
        is surrounded by ``margin`` px of context equals one pass over the whole image, so
        :func:`unet_core.predict_tiled` uses it as the default margin (``FusionNet.tile_margin``).

    Raises
    ------
    TypeError
        If ``depth`` or ``head_kernel`` is not an int.
    ValueError
        If ``depth`` is outside [1, 16] or ``down``/``head_kernel`` is unknown.

    Notes
    -----
    Found by following the interval of every pooling phase back to the input (see
    ``_input_interval``); tested against the gradient support of small networks. The paper mirrors
    only 64 px around a 512 slice; the theoretical window of its network is much wider (the
    effective one of a trained network is much narrower).

    Examples
    --------
    >>> fusionnet_receptive_field(depth=1)
    ReceptiveField(size=11, margin=5)
    >>> fusionnet_receptive_field()
    ReceptiveField(size=502, margin=260)
    """
    depth = _check_config(depth, down, head_kernel)
    head_kernel = int(head_kernel)
    size = margin = 0
    for o in range(2 ** (depth - 1)):  # the pattern repeats with the pooling period
        lo, hi = _input_interval(o, o, depth, down, head_kernel)
        size, margin = max(size, hi - lo + 1), max(margin, o - lo, hi - o)
    return ReceptiveField(size, margin)
