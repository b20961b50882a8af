"""The U-Net (paper Fig. 1, Sec. 2) and its He initialisation (Sec. 3).

A contracting path of two unpadded 3x3 convolutions + ReLU per level and 2x2
max-pooling (stride 2, channels doubled per level), an expanding path of 2x2
up-convolutions halving the channels, concatenation with the center-cropped
feature map of the same level and two 3x3 convolutions + ReLU, and a final 1x1
convolution to ``num_classes`` logits. The defaults are the paper's network:
23 convolution layers, 31,030,658 parameters, 572 x 572 in -> 388 x 388 out.
Size arithmetic lives in :mod:`unet_core.models.unet_sizes` and is re-exported here.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ..utils.system import check_memory
from ..utils.validation import check_bool, check_int, check_real, fmt, is_int, is_real
from .unet_sizes import (
    check_input_size,
    check_unet_config,
    input_size_for_output,
    is_valid_input_size,
    size_error,
    total_border,
    trace_sizes,
    unet_output_size,
)

__all__ = ['UNet', 'center_crop', 'he_init_', 'count_conv_layers', 'count_parameters', 'layer_table']


def center_crop(x: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Cut the central ``size`` pixels out of the last two dimensions.

    Parameters
    ----------
    x : (..., H, W) tensor
    size : int or (h, w)
        Wanted spatial size, ``h <= H`` and ``w <= W``.

    Returns
    -------
    (..., h, w) tensor
        A view; when ``H - h`` is odd the extra row is dropped at the bottom.

    Raises
    ------
    TypeError
        If ``x`` is not a tensor/array or ``size`` is not an int or a pair of ints.
    ValueError
        If ``x`` has fewer than two axes or ``size`` is not positive or larger than ``x``.

    Examples
    --------
    >>> center_crop(torch.zeros(1, 64, 568, 568), 392).shape
    torch.Size([1, 64, 392, 392])
    """
    if not isinstance(x, (torch.Tensor, np.ndarray)):
        raise TypeError(f"x must be a torch tensor or numpy array of shape (..., H, W), got {fmt(x)}")
    if x.ndim < 2:
        raise ValueError(f"x must have at least two (spatial) axes, got {fmt(x)}")
    if is_int(size):
        h = w = int(size)
    elif isinstance(size, (tuple, list)) and all(_int_like(v) for v in size):
        if len(size) != 2:
            raise ValueError(f"size must be an int or a pair (h, w), got {fmt(size)}")
        h, w = size
    else:
        raise TypeError(f"size must be an int or a pair (h, w) of ints, got {fmt(size)}")
    H, W = x.shape[-2:]
    if not (0 < h <= H and 0 < w <= W):
        raise ValueError(f"size={fmt(size)} must be positive and fit inside x of spatial size {(H, W)}")
    top, left = (H - h) // 2, (W - w) // 2
    return x[..., top : top + h, left : left + w]


def _int_like(v) -> bool:
    """An int, or a size that torch.jit.trace / torch.compile keep symbolic (0-d int tensor, SymInt)."""
    if is_int(v) or isinstance(v, getattr(torch, "SymInt", int)):
        return True
    return isinstance(v, torch.Tensor) and v.ndim == 0 and not v.is_floating_point() and v.dtype != torch.bool


def he_init_(module: nn.Module, mode: str = "he", std: float = 0.01) -> nn.Module:
    """Initialise every convolution of ``module`` in place; biases are set to zero.

    Parameters
    ----------
    module : nn.Module
    mode : {"he", "naive"}
        ``"he"``: Gaussian with std ``sqrt(2 / N)`` (paper Sec. 3, He et al. 2015), N = incoming
        connections of one output neuron. ``"naive"``: Gaussian with the fixed ``std``, for the
        book's chapter on why initialisation matters.
    std : float
        Standard deviation for ``mode="naive"``.

    Returns
    -------
    nn.Module
        ``module`` itself.

    Notes
    -----
    Conv2d: ``N = k_h k_w C_in``. ConvTranspose2d (k=2, s=2): each output pixel receives one
    input pixel of every input channel, so ``N = C_in k_h k_w / (s_h s_w) = C_in``. (Caffe's
    "msra" filler would use ``C_out k_h k_w`` for a deconvolution; torch's fan-in uses the same.)

    Raises
    ------
    TypeError
        If ``module`` is not an ``nn.Module`` or ``std`` is not a number.
    ValueError
        If ``mode`` is unknown or ``std`` is negative or not finite.

    References
    ----------
    He, Zhang, Ren, Sun (2015), Delving deep into rectifiers, ICCV.
    """
    check_module(module, "module")
    if mode not in ("he", "naive"):
        raise ValueError(f"mode={fmt(mode)} must be 'he' (the paper) or 'naive'")
    std = check_real(std, "std", 0.0, fix="e.g. std=0.01")
    for m in module.modules():
        if isinstance(m, nn.ConvTranspose2d):
            fan_in = m.in_channels * m.kernel_size[0] * m.kernel_size[1] // (m.stride[0] * m.stride[1])
        elif isinstance(m, nn.Conv2d):
            fan_in = m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
        else:
            continue
        with torch.no_grad():
            m.weight.normal_(0.0, math.sqrt(2.0 / max(fan_in, 1)) if mode == "he" else std)
            if m.bias is not None:
                m.bias.zero_()
    return module


def check_module(model, name: str = "model") -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module (e.g. unet_core.UNet()), got {fmt(model)}")


def unet_parameter_count(in_channels: int, num_classes: int, base_channels: int, depth: int) -> int:
    """Parameters of ``UNet(in_channels, num_classes, base_channels, depth)``, counted without building it."""
    chans = [base_channels * 2**level for level in range(depth)]
    total = 0
    for c_in, c in zip([in_channels] + chans[:-1], chans):  # encoders: two 3x3 convolutions
        total += 9 * c_in * c + c + 9 * c * c + c
    for c in chans[:-1]:  # up-convolution 2c -> c (2x2) and decoder 2c -> c, c -> c
        total += 4 * 2 * c * c + c + 9 * 2 * c * c + c + 9 * c * c + c
    return total + base_channels * num_classes + num_classes


def _double_conv(c_in: int, c_out: int, pad: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=pad),
        nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=pad),
        nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    """The U-Net of Ronneberger et al. (2015), Fig. 1.

    Parameters
    ----------
    in_channels : int
        Image channels (1 for the paper's gray-value microscopy).
    num_classes : int
        Output channels (logits); 2 in the paper (background / cell).
    base_channels : int
        Channels of the first level (64); level ``l`` has ``base_channels * 2**l``.
    depth : int
        Resolution levels including the bottleneck (5).
    padding : {"valid", "same"}
        "valid" = unpadded 3x3 convolutions as in the paper; "same" = zero padding 1.
    dropout : float
        Drop probability in ``[0, 1)``; 0 disables it. The paper only says "Drop-out layers at
        the end of the contracting path" (Sec. 3.1). The authors' released Caffe network
        (u-net-release-2015-10-02, phseg_v5 prototxt) has two Dropout layers, ratio 0.5, named
        ``dropout_d3c`` and ``dropout_d4c``: after the last ReLU of the 512-channel level and
        of the 1024-channel bottleneck. We follow it: element-wise dropout on the output of
        the last two contracting levels (``dropout_levels``, 0-based). The first is applied
        before pooling and, as Caffe's in-place layer, also reaches the skip connection.
        (Verified against re-implementations that mirror the release's layer names; the
        prototxt itself was not in our search index.) ``depth=1``: the one block only.
    init : {"he", "naive"}
        Weight initialisation, see :func:`he_init_`.

    Raises
    ------
    TypeError
        If a channel count, ``depth`` or ``dropout`` has the wrong type.
    ValueError
        If one is out of range (``depth`` in [1, 16]) or ``padding``/``init`` is unknown.
    MemoryError
        (``unet_core.utils.system.MemoryBudgetError``, also a ValueError) if the weights would not fit
        into the memory available.

    Attributes
    ----------
    config : dict
        The six architecture arguments (for checkpoint compatibility checks).
    border : int
        Pixels lost per side (92 for the paper's net, 0 for "same").
    stride : int
        ``2**(depth - 1)``; valid input sizes are spaced by it.

    Notes
    -----
    Deliberate differences from the Caffe release, which the paper does not describe: the
    release applies a ReLU after each up-convolution and gives its last up-convolution 128
    channels; here, as in Fig. 1, the up-convolution is linear and halves the channels. The
    concatenation order ``[up-convolved, cropped skip]`` is the release's.

    References
    ----------
    Ronneberger, Fischer, Brox (2015), U-Net: Convolutional networks for biomedical image
    segmentation, MICCAI, LNCS 9351, 234-241.

    Examples
    --------
    >>> net = UNet(base_channels=4)
    >>> net(torch.zeros(1, 1, 188, 204)).shape
    torch.Size([1, 2, 4, 20])
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 2,
        base_channels: int = 64,
        depth: int = 5,
        padding: str = "valid",
        dropout: float = 0.5,
        init: str = "he",
    ) -> None:
        super().__init__()
        in_channels, num_classes, base_channels = (
            check_int(value, name, 1)
            for name, value in (
                ("in_channels", in_channels),
                ("num_classes", num_classes),
                ("base_channels", base_channels),
            )
        )
        depth = check_unet_config(depth, padding)
        rule = f"dropout={fmt(dropout)} must be a probability in [0, 1); the paper uses 0.5, 0 disables it"
        if not is_real(dropout):
            raise TypeError(rule)
        if not 0 <= dropout < 1:  # False for NaN
            raise ValueError(rule)
        if init not in ("he", "naive"):
            raise ValueError(f"init={fmt(init)} must be 'he' (the paper) or 'naive'")
        n_params = unet_parameter_count(in_channels, num_classes, base_channels, depth)
        check_memory(
            8 * n_params,
            f"UNet(base_channels={base_channels}, depth={depth}) with {n_params:,} parameters "
            "(weights and their initialisation)",
            "use a smaller base_channels or depth (the paper: 64 and 5)",
        )
        self.in_channels, self.num_classes, self.base_channels = in_channels, num_classes, base_channels
        self.depth, self.padding, self.dropout = depth, padding, float(dropout)
        pad = 1 if padding == "same" else 0
        chans = [base_channels * 2**level for level in range(depth)]
        self.encoders = nn.ModuleList(_double_conv(c_in, c, pad) for c_in, c in zip([in_channels] + chans[:-1], chans))
        self.pool = nn.MaxPool2d(2, 2)
        self.drop = nn.Dropout(self.dropout)
        self.dropout_levels = tuple(range(max(depth - 2, 0), depth)) if dropout > 0 else ()  # 0-based
        self.upconvs = nn.ModuleList(nn.ConvTranspose2d(2 * c, c, 2, stride=2) for c in reversed(chans[:-1]))
        self.decoders = nn.ModuleList(_double_conv(2 * c, c, pad) for c in reversed(chans[:-1]))
        self.head = nn.Conv2d(base_channels, num_classes, 1)
        he_init_(self, init)

    @property
    def config(self) -> dict:
        """The six architecture arguments, e.g. to refuse a checkpoint of another configuration."""
        return {
            "in_channels": self.in_channels,
            "num_classes": self.num_classes,
            "base_channels": self.base_channels,
            "depth": self.depth,
            "padding": self.padding,
            "dropout": self.dropout,
        }

    @property
    def border(self) -> int:  # pixels lost per side: 2 per 3x3 conv at each level's scale, down and up
        return total_border(self.depth, self.padding)

    @property
    def stride(self) -> int:  # spacing of valid input sizes; tiles must start on this grid
        return 2 ** (self.depth - 1)

    def output_size(self, n: int) -> int:
        """Output side for input side ``n`` (see :func:`unet_output_size`)."""
        return unet_output_size(n, self.depth, self.padding)

    def input_size_for_output(self, n: int) -> int:
        """Smallest valid input side with output side >= ``n`` (see :func:`input_size_for_output`)."""
        return input_size_for_output(n, self.depth, self.padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_channels, H, W) float -> (B, num_classes, H', W') logits.

        Raises
        ------
        TypeError
            If ``x`` is not a floating-point tensor.
        ValueError
            If ``x`` has another shape or an invalid spatial size.

        Notes
        -----
        NaN/inf are not checked here (a check per step would cost a pass over every batch):
        they propagate to the logits, ``train`` stops on the non-finite loss with the step, and
        ``predict_tiled`` refuses non-finite images and outputs.
        """
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"x must have shape (B, in_channels={self.in_channels}, H, W), got {fmt(x)}; "
                f"add a batch/channel axis (x[None, None]) or build UNet(in_channels={x.shape[1] if x.ndim == 4 else '...'})"
            )
        if not torch.is_floating_point(x):
            raise TypeError(f"x must be a floating-point tensor, got {fmt(x)}; convert it with x.float()")
        for what, n in (("input height", x.shape[2]), ("input width", x.shape[3])):
            if not is_valid_input_size(int(n), self.depth, self.padding):
                raise size_error(what, int(n), self.depth, self.padding)
        skips = []
        for level, enc in enumerate(self.encoders):
            x = enc(x)
            if level in self.dropout_levels:
                x = self.drop(x)
            if level < self.depth - 1:
                skips.append(x)
                x = self.pool(x)
        for up, dec, skip in zip(self.upconvs, self.decoders, reversed(skips)):
            x = up(x)  # (B, c, 2h, 2w)
            x = dec(torch.cat([x, center_crop(skip, tuple(x.shape[-2:]))], dim=1))  # [up, skip]: (B, 2c, 2h, 2w)
        return self.head(x)


def count_conv_layers(model: nn.Module) -> int:
    """Number of Conv2d + ConvTranspose2d layers (23 for the paper's network).

    Raises
    ------
    TypeError
        If ``model`` is not an ``nn.Module``.

    Examples
    --------
    >>> count_conv_layers(UNet(base_channels=2))
    23
    """
    check_module(model)
    return sum(isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) for m in model.modules())


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters, weights and biases (31,030,658 for the paper's network).

    Raises
    ------
    TypeError
        If ``model`` is not an ``nn.Module`` or ``trainable_only`` is not a bool.

    Examples
    --------
    >>> count_parameters(UNet())
    31030658
    """
    check_module(model)
    trainable_only = check_bool(trainable_only, "trainable_only")
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def layer_table(model: UNet, input_size: int | tuple[int, int] = 572) -> list[dict]:
    """One row per stage of the U: name, channels in/out, spatial size in/out (from the size arithmetic).

    Parameters
    ----------
    model : UNet
    input_size : int or (H, W)
        A valid input size.

    Returns
    -------
    list of dict
        Keys ``stage, channels_in, channels_out, size_in, size_out`` (sizes as (H, W));
        stages ``enc1..enc{depth}`` (the last is the bottleneck), ``pool*``, ``up*``, ``crop*``
        (the skip map cut to the up-convolved size), ``dec*`` and ``final`` (the 1x1 conv).

    Raises
    ------
    TypeError
        If ``model`` is not a ``UNet`` or ``input_size`` is not an int or a pair of ints.
    ValueError
        If ``input_size`` is not valid.

    Examples
    --------
    >>> layer_table(UNet(base_channels=4))[-1]["size_out"]
    (388, 388)
    """
    if not isinstance(model, UNet):
        raise TypeError(f"model must be a unet_core.UNet, got {fmt(model)}")
    traces = [
        trace_sizes(n, model.depth, model.padding) for n in check_input_size(input_size, model.depth, model.padding)
    ]
    chans = [model.base_channels * 2**level for level in range(model.depth)]
    rows = []
    for (stage, h_in, h_out), (_, w_in, w_out) in zip(*traces):
        kind = stage.rstrip("0123456789")
        c = chans[int(stage[len(kind) :]) - 1 if kind != "final" else 0]
        c_in, c_out = {
            "enc": (model.in_channels if stage == "enc1" else c // 2, c),
            "pool": (c, c),
            "up": (2 * c, c),
            "crop": (c, c),
            "dec": (2 * c, c),
            "final": (chans[0], model.num_classes),
        }[kind]
        rows.append(
            {
                "stage": stage,
                "channels_in": c_in,
                "channels_out": c_out,
                "size_in": (h_in, w_in),
                "size_out": (h_out, w_out),
            }
        )
    return rows
