"""FusionNet's arithmetic without building it: valid sizes, parameters, FLOPs, receptive field, memory.

Pure-Python integer functions, no torch (the counterpart of :mod:`unet_core.models.unet_sizes`).
Every convolution of FusionNet is zero-padded, so a tile keeps its size; the
``depth - 1`` halvings need sides that are positive multiples of ``2**(depth - 1)``
(16 for the paper's depth 5: 640 -> 640). Conventions: ``depth`` counts the levels
including the bridge; level ``l`` has ``base_channels * 2**l`` channels; each level is
five 3x3 convolutions (conv, the residual block's three, conv), each followed by batch
normalisation (2 parameters per channel; the convolutions have no bias).
"""

from __future__ import annotations

from typing import NamedTuple

from ..utils.validation import check_int, check_real, fmt, is_int
from .unet_sizes import ALLOCATOR_SLACK, MAX_DEPTH, Tape, check_memory_args

__all__ = ['fusionnet_parameter_count', 'fusionnet_flops', 'fusionnet_receptive_field', 'ReceptiveField']


DOWNS = ("pool", "stride")


HEAD_KERNELS = (1, 3)


CONVS_PER_LEVEL = 5  # conv3x3, the residual block's three, conv3x3


class ReceptiveField(NamedTuple):
    """What :func:`fusionnet_receptive_field` returns (one axis, in input pixels)."""

    size: int  # widest window of input pixels one output pixel depends on
    margin: int  # farthest that window reaches past its output pixel on one side: the seamless tile margin


def check_fusionnet_config(depth, down="pool", head_kernel=1) -> int:
    """Validate the size-relevant arguments; return ``int(depth)``."""
    depth = check_int(depth, "depth", 1, MAX_DEPTH, "the paper's FusionNet has depth=5 (four levels and a bridge)")
    if not isinstance(down, str) or down not in DOWNS:
        raise ValueError(
            f"down={fmt(down)} must be 'pool' (2x2 max pooling, the paper) or 'stride' (a 3x3 stride-2 convolution)"
        )
    rule = f"head_kernel={fmt(head_kernel)} must be 1 (the paper's 1x1 output convolution) or 3"
    if not is_int(head_kernel):
        raise TypeError(rule)
    if int(head_kernel) not in HEAD_KERNELS:
        raise ValueError(rule)
    return depth


def _channels(in_channels, num_classes, base_channels) -> tuple[int, int, int]:
    return tuple(
        check_int(v, k, 1)
        for k, v in (("in_channels", in_channels), ("num_classes", num_classes), ("base_channels", base_channels))
    )


def nearest_fusionnet_sizes(n: int, depth: int) -> tuple[int | None, int]:
    """Largest valid side ``<= n`` (None if none) and smallest valid side ``>= n``."""
    s = 2 ** (depth - 1)
    below = n // s * s
    return (below if below >= s else None), max(-(-n // s) * s, s)


def check_side(n, depth: int, what: str) -> int:
    """``int(n)`` if it is a valid input side, else a ValueError naming ``what`` and the nearest valid sides."""
    if not is_int(n):
        raise TypeError(f"{what} must be an int, got {fmt(n)}")
    n, s = int(n), 2 ** (depth - 1)
    if n < s or n % s:
        below, above = nearest_fusionnet_sizes(n, depth)
        near = (
            f"nearest valid sizes are {below} and {above}"
            if below is not None
            else f"the smallest valid size is {above}"
        )
        raise ValueError(
            f"{what} {n} is not a valid input size for FusionNet(depth={depth}): it must be a positive "
            f"multiple of 2**(depth - 1) = {s}; {near}"
        )
    return n


def check_input_size(input_size, depth: int) -> tuple[int, int]:
    if is_int(input_size):
        input_size = (input_size, input_size)
    if not isinstance(input_size, (tuple, list)) or len(input_size) != 2 or not all(is_int(v) for v in input_size):
        raise TypeError(f"input_size must be an int or a pair (H, W) of ints, got {fmt(input_size)}")
    return check_side(input_size[0], depth, "input height"), check_side(input_size[1], depth, "input width")


def fusionnet_parameter_count(
    in_channels: int = 1,
    num_classes: int = 2,
    base_channels: int = 64,
    depth: int = 5,
    down: str = "pool",
    head_kernel: int = 1,
) -> int:
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
    depth = check_fusionnet_config(depth, down, head_kernel)
    in_channels, num_classes, base_channels = _channels(in_channels, num_classes, base_channels)
    chans = [base_channels * 2**level for level in range(depth)]
    total = sum(9 * c_in * c + 36 * c * c + 10 * c for c_in, c in zip([in_channels] + chans[:-1], chans))
    for c in chans[:-1]:  # up-convolution 2c -> c and decoder level c -> c; strided down-convolution c -> c
        total += 18 * c * c + 2 * c + 45 * c * c + 10 * c + (9 * c * c + 2 * c if down == "stride" else 0)
    return total + head_kernel**2 * base_channels * num_classes + num_classes


def fusionnet_flops(
    input_size: int | tuple[int, int] = 640,
    in_channels: int = 1,
    num_classes: int = 2,
    base_channels: int = 64,
    depth: int = 5,
    down: str = "pool",
    head_kernel: int = 1,
) -> int:
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
        skip sums are not counted (as :func:`unet_core.models.unet_sizes.unet_flops`).

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
    depth = check_fusionnet_config(depth, down, head_kernel)
    h, w = check_input_size(input_size, depth)
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
    depth = check_fusionnet_config(depth, down, head_kernel)
    head_kernel = int(head_kernel)
    size = margin = 0
    for o in range(2 ** (depth - 1)):  # the pattern repeats with the pooling period
        lo, hi = _input_interval(o, o, depth, down, head_kernel)
        size, margin = max(size, hi - lo + 1), max(margin, o - lo, hi - o)
    return ReceptiveField(size, margin)


def _fusionnet_tape(
    h: int,
    w: int,
    in_channels: int,
    num_classes: int,
    base_channels: int,
    depth: int,
    skip: str,
    down: str,
    head_kernel: int,
    dropout: float,
    train: bool,
    batch_size: int,
    bytes_per_value: int,
) -> Tape:
    """:class:`FusionNet`'s forward pass (and loss, in training) on an ``h x w`` tile, as :class:`Tape` operations."""
    tape = Tape(train, batch_size, bytes_per_value)

    def cba(x: int, c_in: int, c: int, h: int, w: int, act: bool = True, drop=()) -> int:
        """conv3x3 + BN (+ in-place activation); ``drop``: the references that end when it returns."""
        y = tape.conv(x, c, h, w, 3, c_in)
        z = tape.new([y], c, h, w, saved=[y], drop=[y] + ([] if act else list(drop)))
        return tape.act(z, drop=drop) if act else z

    def level(x: int, c_in: int, c: int, h: int, w: int, drop=()) -> int:
        """conv - residual block - conv (:func:`unet_core.models.blocks.conv_res_conv`)."""
        a = cba(x, c_in, c, h, w)
        b = cba(a, c, c, h, w)
        b = cba(b, c, c, h, w, drop=[b])
        b = cba(b, c, c, h, w, act=False, drop=[b])
        s = tape.new([a, b], c, h, w, kind="alias", drop=[a, b])  # x + branch(x), not activated
        return cba(s, c, c, h, w, drop=[s, *drop])

    x, c_in, skips = tape.tensor(in_channels, h, w, external=True), in_channels, []
    for lvl in range(depth):  # x = enc(x); skips.append(x); x = down(x)
        c = base_channels * 2**lvl
        x = level(x, c_in, c, h, w, drop=[x])
        if lvl < depth - 1:
            skips.append(x)
            h, w = h // 2, w // 2
            if down == "pool":
                pooled = tape.tensor(c, h, w)
                index = [tape.tensor(c, h, w, grad=False, value=8)] if train else []  # int64 argmax
                tape.op("new", [x], [pooled, *index], saved=[x, *index], drop=index)
                x = pooled
            else:
                x = cba(x, c, c, h, w)
        c_in = c
    if dropout > 0 and train:  # the bridge: x * mask / (1 - p), the mask kept for backward
        noise = tape.tensor(c, h, w, grad=False)
        x = tape.new([x, noise], c, h, w, saved=[noise], drop=[x, noise])
    for lvl in range(depth - 2, -1, -1):  # x = up(x) + skip; x = dec(x [/ 2])
        c, h, w = base_channels * 2**lvl, 2 * h, 2 * w
        y = tape.conv(x, c, h, w, 3, 2 * c, transposed=True)
        up = tape.act(tape.new([y], c, h, w, saved=[y], drop=[y]))
        x = tape.new([up, skips[lvl]], c, h, w, kind="alias", drop=[up, x])
        if skip == "mean":
            half = tape.new([x], c, h, w)
            x = level(half, c, c, h, w, drop=[x, half])
        else:
            x = level(x, c, c, h, w, drop=[x])
    logits = tape.conv(x, num_classes, h, w, head_kernel, base_channels, drop=[x, *skips])
    if train:  # log-softmax keeps its result; the loss is a scalar
        loss, log_p = tape.tensor(1, 1, 1), tape.tensor(num_classes, h, w)
        tape.op("new", [logits], [loss, log_p], saved=[log_p], drop=[logits, log_p])
    return tape


_SKIPS = ("sum", "mean")  # as unet_core.models.fusionnet.SKIPS


def fusionnet_memory(
    input_size: int | tuple[int, int] = 640,
    in_channels: int = 1,
    num_classes: int = 2,
    base_channels: int = 64,
    depth: int = 5,
    skip: str = "sum",
    down: str = "pool",
    head_kernel: int = 1,
    dropout: float = 0.25,
    *,
    batch_size: int = 1,
    train: bool = False,
    bytes_per_value: int = 4,
) -> int:
    """Peak activation memory of :class:`unet_core.models.FusionNet` on one batch of tiles, in bytes.

    Parameters
    ----------
    input_size : int or (H, W)
        Tile size, positive multiples of ``2**(depth - 1)``.
    in_channels, num_classes, base_channels, depth, skip, down, head_kernel, dropout
        As in :class:`unet_core.models.FusionNet` (the activations are in place: any of them
        costs the same).
    batch_size : int
        Tiles per batch, >= 1.
    train : bool
        False: one forward pass without autograd in eval mode (:func:`unet_core.predict_tiled`).
        True: one training step (forward pass keeping the values for backward, the weighted
        cross-entropy, backward pass).
    bytes_per_value : {4, 2, 1, 8}
        4 for fp32; 2 for bf16/fp16 (the feature maps scaled, not measured).

    Returns
    -------
    int
        The most bytes the pass allocates at once beyond the input tiles, the weights and (training)
        the optimiser's state and the parameter gradients.

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        If ``input_size`` is not a positive multiple of ``2**(depth - 1)`` (the message names the
        nearest valid sizes), or another argument is out of range or unknown.

    Notes
    -----
    The forward pass written down operation by operation and replayed with the tensors alive
    (``unet_core.models.unet_sizes.Tape``, the same rules as :func:`unet_core.models.unet_sizes.unet_memory`): every
    3x3 convolution is followed by a batch norm whose output is a new map, so a level keeps ten
    maps of ``c H W`` values for the backward pass (each convolution's output for its batch norm,
    each activated output for the next convolution, the residual sum), a decoder level thirteen
    (the up-convolution's two and the skip sum too), against five for a U-Net level. Per output
    pixel, a training step of FusionNet needs 1.7 times the U-Net's memory at 16 channels (256 and
    412 px tiles) and 2.2 times at the paper's width (640 and 572 px); inference, with only the
    current level's maps and the skips alive, 0.6 to 0.7 times.

    Checked against the peak resident memory that :func:`unet_core.training.peak_memory.measure_peak_memory`
    measures (AMD EPYC with AVX-512, torch 2.13, fp32, one thread), measured / estimated MiB,
    training and inference, depth 5: 16 channels at 256 px 183.3 / 186.1 and 27.5 / 28.0, at
    384 px 411.3 / 418.2 and 61.9 / 62.4; 64 channels at 256 px 726.6 / 741.5 and 110.1 / 110.6,
    at 384 px 1634.1 / 1667.8 and 247.6 / 248.1. Over 46 configurations (4 to 64 channels, tiles
    of 64 to 384 px, depth 3 and 5, strided down-sampling, ELU, mean skips, a 3x3 head) the
    estimate is 0.98 to 1.09 times the measurement from 16 channels and 128 px on; it is up to
    1.3 times for 4 and 8 channels on tiles of 128 px or less and up to 1.8 times on 64 px tiles
    (oneDNN pads narrow layers less than the 16 channels assumed, small maps take other paths).

    Examples
    --------
    >>> round(fusionnet_memory(256, base_channels=16, train=True) / 2**20)  # the cpu recipe: MiB per step
    186
    """
    depth = check_fusionnet_config(depth, down, head_kernel)
    h, w = check_input_size(input_size, depth)
    in_channels, num_classes, base_channels = _channels(in_channels, num_classes, base_channels)
    if not isinstance(skip, str) or skip not in _SKIPS:
        raise ValueError(f"skip={fmt(skip)} must be 'sum' (the paper) or 'mean' ((up + down) / 2)")
    dropout = check_real(dropout, "dropout", 0.0, 1.0, high_open=True, fix="the paper uses 0.25, 0 disables it")
    batch_size, train, bytes_per_value = check_memory_args(batch_size, train, bytes_per_value)
    tape = _fusionnet_tape(
        h,
        w,
        in_channels,
        num_classes,
        base_channels,
        depth,
        skip,
        down,
        int(head_kernel),
        dropout,
        train,
        batch_size,
        bytes_per_value,
    )
    return tape.peak() + ALLOCATOR_SLACK
