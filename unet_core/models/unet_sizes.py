"""Size arithmetic of the U-Net (paper Fig. 1, Sec. 2): which tiles fit, what comes out, at what cost.

Pure-Python integer functions, no torch (also the activation memory, :func:`unet_memory`). With unpadded ("valid") 3x3 convolutions
every convolution loses one pixel per side and every 2x2 max-pooling needs an even
size, so only some input sizes work: for the paper's depth-5 network these are
``16 k + 12`` from 188 on (572 -> 388). With ``padding="same"`` the convolutions keep
the size, valid inputs are the multiples of ``2**(depth - 1)`` and output == input.
"""

from __future__ import annotations

from functools import cache

from ..utils.validation import check_bool, check_int, check_real, fmt, is_int

__all__ = [
    'PADDINGS',
    'unet_output_size',
    'is_valid_input_size',
    'valid_input_sizes',
    'nearest_valid_input_sizes',
    'input_size_for_output',
    'unet_flops',
]


PADDINGS = ("valid", "same")


MAX_DEPTH = 16


"""Largest ``depth`` accepted: its smallest valid input is already 3 * 2**16 px (a 196,604 px tile side)."""


MAX_SIZES = 1_000_000  # valid_input_sizes never lists more


def check_unet_config(depth: int, padding: str) -> int:
    """Validate ``depth`` (an int in [1, MAX_DEPTH]) and ``padding``; return ``int(depth)``."""
    depth = check_int(depth, "depth", 1, MAX_DEPTH, "the paper's network has depth=5")
    if not isinstance(padding, str) or padding not in PADDINGS:
        raise ValueError(f"padding={fmt(padding)} must be 'valid' (unpadded, as in the paper) or 'same'")
    return depth


def _check_int(n: int, name: str) -> int:
    if not is_int(n):
        raise TypeError(f"{name} must be an int, got {fmt(n)}")
    return int(n)


def trace_sizes(n: int, depth: int, padding: str) -> list[tuple[str, int, int]] | None:
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


@cache
def total_border(depth: int, padding: str) -> int:
    """Pixels lost per side: 2 per 3x3 conv at each level's scale, down and up (92 for depth 5 valid)."""
    return 3 * 2**depth - 4 if padding == "valid" else 0


@cache
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
        if trace_sizes(n, depth, padding) is not None:
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
    depth = check_unet_config(depth, padding)
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
    depth = check_unet_config(depth, padding)
    n = _check_int(n, "n")
    first, step = _progression(depth, padding)
    if n < first:
        return None, first
    below = first + (n - first) // step * step
    return below, below if below == n else below + step


def size_error(what: str, n: int, depth: int, padding: str) -> ValueError:
    below, above = nearest_valid_input_sizes(n, depth, padding)
    near = (
        f"nearest valid sizes are {below} and {above}" if below is not None else f"the smallest valid size is {above}"
    )
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
    depth = check_unet_config(depth, padding)
    input_size = _check_int(input_size, "input_size")
    trace = trace_sizes(input_size, depth, padding)
    if trace is None:
        raise size_error("input_size", input_size, depth, padding)
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
    depth = check_unet_config(depth, padding)
    max_size = _check_int(max_size, "max_size")
    first, step = _progression(depth, padding)
    lo = (
        first
        if min_size is None
        else nearest_valid_input_sizes(max(_check_int(min_size, "min_size"), 1), depth, padding)[1]
    )
    count = (max_size - lo) // step + 1
    if count > MAX_SIZES:
        raise ValueError(
            f"max_size={max_size} would list {count:,} sizes (more than {MAX_SIZES:,}); pass a smaller "
            "max_size (or min_size), or use nearest_valid_input_sizes(n)"
        )
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
    depth = check_unet_config(depth, padding)
    output_size = _check_int(output_size, "output_size")
    if output_size < 1:
        raise ValueError(f"output_size={output_size} must be >= 1")
    return nearest_valid_input_sizes(output_size + 2 * total_border(depth, padding), depth, padding)[1]


def check_input_size(input_size, depth: int, padding: str) -> tuple[int, int]:
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
        if trace_sizes(n, depth, padding) is None:
            raise size_error(what, n, depth, padding)
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
        As in :class:`unet_core.models.unet.UNet`.

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
    depth = check_unet_config(depth, padding)
    h, w = check_input_size(input_size, depth, padding)
    in_channels, num_classes, base_channels = (
        check_int(v, k, 1)
        for k, v in (("in_channels", in_channels), ("num_classes", num_classes), ("base_channels", base_channels))
    )
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


# --------------------------------------------------------------------------- memory
BLOCK_CHANNELS = 16


"""Channel block of oneDNN's layouts on CPUs with AVX-512 (``nChw16c``): its temporary copies of a
feature map hold the channels rounded up to a multiple of 16 (AVX2 CPUs use 8, so there the
estimates of layers narrower than 16 channels are an upper bound)."""


ONEDNN_MIN_VALUES = 20480


"""PyTorch runs a single-image 3x3 convolution through oneDNN only if its input holds more values
than this (``use_mkldnn`` in ATen's ConvUtils.h); smaller ones take the im2col path."""


ALLOCATOR_SLACK = 1 << 19


"""Bytes added to every memory estimate for what the op-by-op model leaves out (the allocator's
small-block arenas, the loss's scalars, oneDNN's scratch buffers): 0.5 MiB."""


def _blocked(channels: int) -> int:
    return -(-channels // BLOCK_CHANNELS) * BLOCK_CHANNELS


class Tape:
    """One forward pass as operations on feature maps of known size; :meth:`peak` replays it.

    Written by the memory estimates of the networks (:func:`unet_memory`,
    ``unet_core.models.fusionnet_sizes.fusionnet_memory``) in execution order: each operation
    allocates its outputs, may keep tensors for the backward pass (``saved``, training only) and
    ends the Python references in ``drop``. A tensor has its own storage or shares one (``like``:
    in-place activations, crops). :meth:`peak` replays the forward pass and, in training, the
    backward pass in reverse order, and returns the most bytes alive at once.

    Rules beyond the bytes alive, measured on a CPU (torch 2.13, fp32, NCHW): a convolution run by
    oneDNN (see ``ONEDNN_MIN_VALUES``) needs ``max(blocked input, blocked output) + weights`` while
    it runs (a blocked copy of the output, or of a wider input, and reordered weights), a transposed
    one ``blocked output + max(blocked input, blocked output)``; an im2col convolution its column
    buffer. Backward, a convolution allocates its input gradient, blocked copies of it and of the
    output gradient (or the column buffer) and its weight gradient; activations, batch norm,
    pooling, dropout and crops allocate their input gradient; a sum or a concatenation passes
    views of its output gradient on. The gradients a tensor receives twice are summed in place.
    The previous step's parameter gradients stay allocated until the optimiser clears them after
    the forward pass (as :func:`unet_core.training.loop.train` and the probe do): the backward pass starts
    without them and allocates them again one layer at a time. Then the optimiser steps, once
    the feature maps are freed: Adam (single-tensor, as on a CPU) needs two temporaries of a
    weight's size, so the largest weight counts twice.
    """

    def __init__(self, train: bool, batch_size: int, bytes_per_value: int) -> None:
        self.train, self.batch, self.value = train, batch_size, bytes_per_value
        self.nbytes: list[int] = []  # per tensor
        self.blocked: list[int] = []  # per tensor: bytes with the channels rounded up to BLOCK_CHANNELS
        self.storage: list[int] = []  # per tensor
        self.base: list[int] = []  # per tensor: the tensor an in-place op returned (itself otherwise)
        self.grad: list[bool] = []  # per tensor: whether it receives a gradient
        self.size: list[int] = []  # per storage: bytes (0 for the input tile, allocated before the pass)
        self.ops: list[tuple] = []  # (kind, ins, outs, saved, drop, weight bytes, forward extra, backward extra)

    def tensor(
        self,
        channels: int,
        h: int,
        w: int,
        *,
        like: int | None = None,
        grad: bool = True,
        value: int | None = None,
        external: bool = False,
    ) -> int:
        """A new ``batch x channels x h x w`` tensor; a view of ``like``'s storage if given."""
        nbytes = self.batch * channels * h * w * (value or self.value)
        self.nbytes.append(nbytes)
        self.blocked.append(nbytes * _blocked(channels) // channels)
        if like is None:
            self.size.append(0 if external else nbytes)
        self.storage.append(len(self.size) - 1 if like is None else self.storage[like])
        self.base.append(len(self.nbytes) - 1)
        self.grad.append(grad and not external)
        return len(self.nbytes) - 1

    def op(
        self, kind: str, ins, outs, *, saved=(), drop=(), weight: int = 0, extra: int = 0, backward: int = 0
    ) -> None:
        """Record an operation: ``kind`` "conv" (oneDNN), "im2col", "alias" (a sum or concatenation:
        its backward makes views) or "new"; ``saved`` counts in training only; ``weight``: weight
        bytes; ``extra`` and ``backward``: transient bytes beyond its outputs and input gradients."""
        self.ops.append(
            (kind, tuple(ins), tuple(outs), tuple(saved) if self.train else (), tuple(drop), weight, extra, backward)
        )

    def conv(
        self, x: int, channels: int, h: int, w: int, kernel: int, c_in: int, transposed: bool = False, drop=()
    ) -> int:
        """A ``kernel x kernel`` convolution of ``x`` (``c_in`` channels) to a new ``channels x h x w`` map."""
        y = self.tensor(channels, h, w)
        weight = 4 * kernel * kernel * c_in * channels  # fp32 weights, also under autocast
        onednn = self.batch > 1 or self.nbytes[x] // self.value > ONEDNN_MIN_VALUES
        if onednn:  # backward: + a blocked copy of the output gradient
            wide, backward = max(self.blocked[x], self.blocked[y]), self.blocked[y]
            extra = self.blocked[y] + wide if transposed else wide + weight
        else:  # im2col: a column of kernel^2 input channels per pixel of the smaller side
            small = min(self.nbytes[x] // c_in, self.nbytes[y] // channels)
            extra = backward = kernel * kernel * (channels if transposed else c_in) * small
        self.op(
            "conv" if onednn else "im2col",
            [x],
            [y],
            saved=[x],
            drop=drop,
            weight=weight,
            extra=extra,
            backward=backward,
        )
        return y

    def act(self, y: int, drop=()) -> int:
        """An in-place activation of ``y``; it keeps its result for the backward pass."""
        r = self.tensor(1, 1, 1, like=y)
        self.nbytes[r], self.blocked[r], self.base[r] = self.nbytes[y], self.blocked[y], self.base[y]
        self.op("new", [y], [r], saved=[r], drop=drop)
        return r

    def new(self, ins, channels: int, h: int, w: int, kind: str = "new", saved=(), drop=()) -> int:
        """An out-of-place operation (batch norm, pooling, dropout, sum, concatenation) with one new output."""
        y = self.tensor(channels, h, w)
        self.op(kind, ins, [y], saved=saved, drop=drop)
        return y

    def _bytes(self, alive: set, saved: dict) -> int:
        storages = {self.storage[t] for t in alive} | {s for s, n in saved.items() if n > 0}
        return sum(self.size[s] for s in storages)

    def peak(self) -> int:
        """Most bytes alive at once over the forward (and, in training, the backward) pass."""
        alive, saved, peak, same = set(), {}, 0, {}
        for t, b in enumerate(self.base):
            same.setdefault(b, []).append(t)
        for _kind, _ins, outs, keep, drop, _weight, extra, _ in self.ops:
            alive.update(outs)
            peak = max(peak, self._bytes(alive, saved) + extra)
            for t in keep:
                saved[self.storage[t]] = saved.get(self.storage[t], 0) + 1
            for t in drop:
                alive.difference_update(same[self.base[t]])
        return max(peak, self._backward(saved)) if self.train else peak

    def _backward(self, saved: dict) -> int:
        """Peak of the backward pass, from the tensors the forward pass saved (``saved``: storage -> refcount)."""
        sizes, refs, grad_of = [0], [1], {self.ops[-1][2][0]: 0}  # gradient buffers; the loss's is a scalar
        params, peak = -sum(op[5] for op in self.ops), 0  # the previous step's parameter gradients were freed
        for kind, ins, outs, keep, _, weight, _, backward in reversed(self.ops):
            gouts = [grad_of.pop(t) for t in outs if t in grad_of]
            if gouts:
                need = [t for t in ins if self.grad[t]]
                params += weight
                new, extra = {}, 0
                for t in need:
                    if kind == "alias":  # a view of the output gradient
                        new[t] = gouts[0]
                        continue
                    sizes.append(self.nbytes[t])
                    refs.append(0)
                    new[t] = len(sizes) - 1
                    extra += self.nbytes[t] + (self.blocked[t] if kind == "conv" else 0)
                live = self._bytes(set(), saved) + sum(s for s, r in zip(sizes, refs) if r > 0) + params
                peak = max(peak, live + extra + backward)
                for t, g in new.items():
                    if t not in grad_of:  # otherwise summed into the gradient already there
                        grad_of[t] = g
                        refs[g] += 1
                for g in gouts:
                    refs[g] -= 1
            for t in keep:
                saved[self.storage[t]] -= 1
        return max(peak, 2 * max(op[5] for op in self.ops))  # the optimiser step: Adam's two temporaries


def _unet_tape(
    h: int,
    w: int,
    in_channels: int,
    num_classes: int,
    base_channels: int,
    depth: int,
    padding: str,
    dropout: float,
    train: bool,
    batch_size: int,
    bytes_per_value: int,
) -> Tape:
    """:class:`UNet`'s forward pass (and loss, in training) on an ``h x w`` tile, as :class:`Tape` operations."""
    tape, p = Tape(train, batch_size, bytes_per_value), (2 if padding == "valid" else 0)
    dropped = range(max(depth - 2, 0), depth) if dropout > 0 and train else ()
    x, c_in, skips = tape.tensor(in_channels, h, w, external=True), in_channels, []

    def double_conv(x: int, c_in: int, c: int, h: int, w: int, drop=()) -> tuple[int, int, int]:
        r1 = tape.act(tape.conv(x, c, h - p, w - p, 3, c_in))
        r2 = tape.act(tape.conv(r1, c, h - 2 * p, w - 2 * p, 3, c, drop=[r1]), drop=drop)
        return r2, h - 2 * p, w - 2 * p

    for level in range(depth):  # contracting path: x = enc(x), dropout, skips.append(x), x = pool(x)
        c = base_channels * 2**level
        x, h, w = double_conv(x, c_in, c, h, w, drop=[x])
        if level in dropped:
            noise = tape.tensor(c, h, w, grad=False)  # x * mask / (1 - p), the mask kept for backward
            x = tape.new([x, noise], c, h, w, saved=[noise], drop=[x, noise])
        if level < depth - 1:
            skips.append((x, w))
            h, w = h // 2, w // 2
            pooled = tape.tensor(c, h, w)
            index = [tape.tensor(c, h, w, grad=False, value=8)] if train else []  # int64 argmax
            tape.op("new", [x], [pooled, *index], saved=[x, *index], drop=index)
            x = pooled
        c_in = c
    for level in range(depth - 2, -1, -1):  # expanding path: x = dec(cat([up(x), crop(skip)]))
        c, (skip, ws) = base_channels * 2**level, skips[level]
        up = tape.conv(x, c, 2 * h, 2 * w, 2, 2 * c, transposed=True, drop=[x])
        h, w = 2 * h, 2 * w
        rows = tape.tensor(c, h, ws, like=skip)  # center_crop: two slices, views of the skip
        tape.op("new", [skip], [rows])
        crop = tape.tensor(c, h, w, like=skip)
        tape.op("new", [rows], [crop])
        cat = tape.new([up, crop], 2 * c, h, w, kind="alias", drop=[rows, crop])
        x, h, w = double_conv(cat, 2 * c, c, h, w, drop=[cat, up])
    logits = tape.conv(x, num_classes, h, w, 1, base_channels, drop=[x] + [s[0] for s in skips])
    if train:  # log-softmax keeps its result; the loss is a scalar
        loss, log_p = tape.tensor(1, 1, 1), tape.tensor(num_classes, h, w)
        tape.op("new", [logits], [loss, log_p], saved=[log_p], drop=[logits, log_p])
    return tape


def check_memory_args(batch_size, train, bytes_per_value) -> tuple[int, bool, int]:
    """Validate the arguments every memory estimate shares; return them as (int, bool, int)."""
    batch_size = check_int(batch_size, "batch_size", 1)
    train = check_bool(train, "train")
    if not is_int(bytes_per_value):
        raise TypeError(f"bytes_per_value must be an int (4 for fp32, 2 for bf16/fp16), got {fmt(bytes_per_value)}")
    if bytes_per_value not in (1, 2, 4, 8):
        raise ValueError(f"bytes_per_value={bytes_per_value} must be 1, 2, 4 or 8 (4 for fp32, 2 for bf16/fp16)")
    return batch_size, train, int(bytes_per_value)


def unet_memory(
    input_size: int | tuple[int, int] = 572,
    in_channels: int = 1,
    num_classes: int = 2,
    base_channels: int = 64,
    depth: int = 5,
    padding: str = "valid",
    dropout: float = 0.5,
    *,
    batch_size: int = 1,
    train: bool = False,
    bytes_per_value: int = 4,
) -> int:
    """Peak activation memory of :class:`unet_core.UNet` on one batch of tiles, in bytes.

    Parameters
    ----------
    input_size : int or (H, W)
        Input tile size; must be valid.
    in_channels, num_classes, base_channels, depth, padding, dropout
        As in :class:`unet_core.models.unet.UNet` (``dropout > 0`` adds its masks in training).
    batch_size : int
        Tiles per batch, >= 1.
    train : bool
        False: one forward pass without autograd (``torch.inference_mode``, eval mode), as
        :func:`unet_core.predict_tiled` runs it. True: one training step (forward pass with the
        values kept for backward, the weighted cross-entropy, backward pass).
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
        If ``input_size`` is not valid (the message names the nearest valid sizes), a channel
        count or ``batch_size`` is < 1, ``depth`` is outside [1, 16], ``padding`` is unknown,
        ``dropout`` is outside [0, 1) or ``bytes_per_value`` is not 1, 2, 4 or 8.

    Notes
    -----
    Not one formula for all networks: the forward pass is written down operation by operation
    (two 3x3 convolutions and in-place ReLUs per level, dropout on the last two levels, max-pooling
    with its int64 argmax, the skip maps held until the end, the 2x2 up-convolution, the crop as
    two views, the concatenation) and replayed with the tensors each operation keeps alive, the
    transient buffers oneDNN uses and, in training, the backward pass (``Tape``). A training step
    keeps every ReLU output, pooled map, argmax, dropout mask and concatenation for the backward
    pass; its peak is at the end of the forward pass or at the first convolutions of the backward
    pass. Parameter gradients are not included: count them with the weights (``4 * parameters``
    bytes each for weights, gradients and SGD momentum, twice that for Adam's moments).

    Checked against the peak resident memory that :func:`unet_core.training.peak_memory.measure_peak_memory`
    measures (AMD EPYC with AVX-512, torch 2.13, fp32, one thread), measured / estimated MiB,
    training and inference, depth 5: 16 channels at 412 px 86.3 / 86.9 and 38.0 / 38.4, at
    572 px 209.0 / 209.4 and 92.0 / 92.5; 64 channels at 412 px 346.0 / 346.5 and 151.7 / 152.4,
    at 572 px 790.7 / 791.1 and 367.9 / 368.6. Over 48 configurations (4 to 64 channels, tiles of
    188 to 572 px, depth 3 to 5, ``padding="same"``, no dropout) the estimate is 0.96 to 1.11
    times the measurement from 16 channels on, up to 1.22 times for 4 and 8 channels on small
    tiles. The one constant is ``ALLOCATOR_SLACK`` (0.5 MiB); the rest is the architecture and the
    rules of ``Tape``, read off single operations. On a GPU (cuDNN workspaces instead of
    oneDNN's copies) it is an approximation that has not been measured.

    Examples
    --------
    >>> round(unet_memory(412, base_channels=16, train=True) / 2**20)  # the cpu recipe: MiB per step
    87
    >>> round(unet_memory(572) / 2**20), round(unet_memory(572, train=True) / 2**20)  # the paper's network
    (369, 791)
    """
    depth = check_unet_config(depth, padding)
    h, w = check_input_size(input_size, depth, padding)
    in_channels, num_classes, base_channels = (
        check_int(v, k, 1)
        for k, v in (("in_channels", in_channels), ("num_classes", num_classes), ("base_channels", base_channels))
    )
    dropout = check_real(dropout, "dropout", 0.0, 1.0, high_open=True, fix="the paper uses 0.5, 0 disables it")
    batch_size, train, bytes_per_value = check_memory_args(batch_size, train, bytes_per_value)
    tape = _unet_tape(
        h, w, in_channels, num_classes, base_channels, depth, padding, dropout, train, batch_size, bytes_per_value
    )
    return tape.peak() + ALLOCATOR_SLACK
