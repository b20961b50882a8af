"""FusionNet (Quan, Hildebrand and Jeong 2016): the residual, summation-skip successor of the U-Net.

The U shape of :class:`unet_core.UNet`, with three changes: every 3x3 convolution is
zero-padded (a tile keeps its size), every level is conv3x3 -> residual block (three 3x3
convolutions around an identity shortcut) -> conv3x3, each with batch normalisation and
an activation, and the up-convolved map is *added* to the encoder map of its level
instead of concatenated. The defaults are the paper's network: widths 64-128-256-512 and
a 1024 bridge, 2x2 max pooling down, 3x3 transposed convolution (stride 2) up, ReLU, a 1x1
output convolution and dropout 0.25, for a 640 x 640 tile (a 512 slice plus 64 px of
mirror padding per side). The differences of a widely copied PyTorch version are named
options (:data:`COPIED_VARIANT`). Its arithmetic is in :mod:`unet_core.models.fusionnet_sizes`.

Notes
-----
What the sources we could read say. The paper's abstract (arXiv and journal versions):
summation-based skip connections and residual blocks in a U-shaped fully convolutional network.
The remaining facts above (640 input, widths, conv - residual block - conv levels with BN and
ReLU, 2x2 max pooling, 3x3 stride-2 transposed convolutions, 1x1 output, dropout 0.25, batch 1)
are those the project's FusionNet issue gives from the paper and the authors' Keras release;
neither text was in our search index beyond the abstract, so they are not verified here. The
TensorFlow port NySunShine/fusion-net agrees on conv - residual block (three convolutions, identity
sum) - conv levels, max pooling, a transposed convolution added to the encoder map and a 1x1
output. GunhoChoi/FusionNet-Pytorch (the copied PyTorch version) has the mean skip
``(deconv + down) / 2`` and a 3x3 output convolution (followed by tanh), but max pooling,
LeakyReLU(0.2) in the encoder and ReLU in the decoder; the strided down-sampling and ELU of
:data:`COPIED_VARIANT` are the issue's description and were not found in the sources we read
(``FusionNet(skip="mean", activation="leaky_relu", decoder_activation="relu", head_kernel=3)``
builds GunhoChoi's network, less its tanh).

References
----------
Quan, Hildebrand, Jeong (2016), FusionNet: A deep fully residual convolutional neural network
for image segmentation in connectomics, arXiv:1612.05360; journal version Front. Comput. Sci. 3
(2021) 613981, doi:10.3389/fcomp.2021.613981 (abstract: "summation-based skip connections").
GunhoChoi/FusionNet-Pytorch, ``FusionNet.py`` and ``Basic_blocks.py`` (github.com, read at commit
00fc130): the widely copied PyTorch version. NySunShine/fusion-net, ``FusionNet.py`` (TensorFlow).
"""

from __future__ import annotations

import torch
from torch import nn

from ..utils.system import check_memory
from ..utils.validation import check_int, fmt, is_real
from .blocks import check_activation, conv_res_conv, down_layer, up_conv
from .fusionnet_sizes import (
    check_fusionnet_config,
    check_side,
    fusionnet_parameter_count,
    fusionnet_receptive_field,
    nearest_fusionnet_sizes,
)
from .unet import he_init_

__all__ = ['FusionNet', 'COPIED_VARIANT', 'PAPER_TILE']


SKIPS = ("sum", "mean")


PAPER_TILE = 640


"""Input side of the paper: a 512 x 512 slice with 64 px of mirror padding on each side."""


COPIED_VARIANT = {"skip": "mean", "down": "stride", "decoder_activation": "elu", "head_kernel": 3}


"""The differences of the widely copied PyTorch version as the FusionNet issue lists them (module Notes)."""


class FusionNet(nn.Module):
    """FusionNet of Quan et al. (2016): padded residual levels, summation skips.

    Parameters
    ----------
    in_channels : int
        Image channels (1 for EM).
    num_classes : int
        Output channels (logits); 2 for membrane / cell.
    base_channels : int
        Channels of the first level (64); level ``l`` has ``base_channels * 2**l``.
    depth : int
        Levels including the bridge (5: 64-128-256-512 and the 1024 bridge).
    skip : {"sum", "mean"}
        How the up-convolved map meets the encoder map: the paper's sum, or ``(up + down) / 2``.
    down : {"pool", "stride"}
        2x2 max pooling (the paper) or a 3x3 stride-2 convolution + BN + activation.
    activation : {"relu", "elu", "leaky_relu"}
        Activation of the encoder and bridge (ReLU in the paper); also of the decoder unless
        ``decoder_activation`` is given.
    decoder_activation : str or None
        Activation of the up-convolutions and decoder levels; None: ``activation``.
    head_kernel : {1, 3}
        Kernel of the output convolution (1 in the paper).
    dropout : float
        Drop probability in ``[0, 1)`` on the bridge output (0.25; 0 disables it).
    init : {"he", "naive"}
        Convolution initialisation, see :func:`unet_core.he_init_`; batch norms start at (1, 0).

    Raises
    ------
    TypeError
        If a channel count, ``depth`` or ``dropout`` has the wrong type.
    ValueError
        If one is out of range (``depth`` in [1, 16]) or an option is unknown.
    MemoryError
        (``unet_core.utils.system.MemoryBudgetError``, also a ValueError) if the weights do not fit.

    Attributes
    ----------
    config : dict
        The ten architecture arguments (stored in checkpoints; ``FusionNet(**config)`` rebuilds it).
    border : int
        0: the output has the input's size.
    stride : int
        ``2**(depth - 1)``; valid input sides are its positive multiples.
    tile_margin : int
        Context per side that makes tiles seamless (:func:`fusionnet_receptive_field`); the
        default ``margin`` of :func:`unet_core.predict_tiled`.

    Notes
    -----
    Sources and what they say: the module docstring. Our choices where they are silent or differ:
    convolutions before a batch norm have no bias; the residual sum is not activated (as
    GunhoChoi's); the up-convolution has BN and the decoder activation (as both ports); dropout acts
    on the bridge output only, like the U-Net's "drop-out at the end of the contracting path"; the
    head has no tanh (logits for Eq. 1). The paper network: 50 convolution layers, 78,515,522
    parameters, 1.33 TFLOP per 640 tile, a receptive field 502 px wide (``tile_margin`` 260 px,
    against the paper's 64 px of mirror padding).

    Examples
    --------
    >>> net = FusionNet(base_channels=2, depth=3)
    >>> net(torch.zeros(1, 1, 48, 40)).shape
    torch.Size([1, 2, 48, 40])
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 2,
        base_channels: int = 64,
        depth: int = 5,
        skip: str = "sum",
        down: str = "pool",
        activation: str = "relu",
        decoder_activation: str | None = None,
        head_kernel: int = 1,
        dropout: float = 0.25,
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
        depth = check_fusionnet_config(depth, down, head_kernel)
        if not isinstance(skip, str) or skip not in SKIPS:
            raise ValueError(f"skip={fmt(skip)} must be 'sum' (the paper) or 'mean' ((up + down) / 2)")
        activation = check_activation(activation, "activation")
        decoder_activation = (
            activation if decoder_activation is None else check_activation(decoder_activation, "decoder_activation")
        )
        rule = f"dropout={fmt(dropout)} must be a probability in [0, 1); the paper uses 0.25, 0 disables it"
        if not is_real(dropout):
            raise TypeError(rule)
        if not 0 <= dropout < 1:  # False for NaN
            raise ValueError(rule)
        if init not in ("he", "naive"):
            raise ValueError(f"init={fmt(init)} must be 'he' or 'naive'")
        n_params = fusionnet_parameter_count(in_channels, num_classes, base_channels, depth, down, head_kernel)
        check_memory(
            8 * n_params,
            f"FusionNet(base_channels={base_channels}, depth={depth}) with {n_params:,} "
            "parameters (weights and their initialisation)",
            "use a smaller base_channels or depth (the paper: 64 and 5)",
        )
        self.in_channels, self.num_classes, self.base_channels = in_channels, num_classes, base_channels
        self.depth = depth
        self.skip, self.down, self.activation, self.decoder_activation = skip, down, activation, decoder_activation
        self.head_kernel, self.dropout = int(head_kernel), float(dropout)
        chans = [base_channels * 2**level for level in range(depth)]
        self.encoders = nn.ModuleList(
            conv_res_conv(c_in, c, activation) for c_in, c in zip([in_channels] + chans[:-1], chans)
        )
        self.downs = nn.ModuleList(down_layer(down, c, activation) for c in chans[:-1])
        self.drop = nn.Dropout(self.dropout)
        self.upconvs = nn.ModuleList(up_conv(2 * c, c, decoder_activation) for c in reversed(chans[:-1]))
        self.decoders = nn.ModuleList(conv_res_conv(c, c, decoder_activation) for c in reversed(chans[:-1]))
        self.head = nn.Conv2d(base_channels, num_classes, self.head_kernel, padding=self.head_kernel // 2)
        he_init_(self, init)

    @property
    def config(self) -> dict:
        """The architecture arguments, e.g. to rebuild the network from a checkpoint."""
        return {
            "in_channels": self.in_channels,
            "num_classes": self.num_classes,
            "base_channels": self.base_channels,
            "depth": self.depth,
            "skip": self.skip,
            "down": self.down,
            "activation": self.activation,
            "decoder_activation": self.decoder_activation,
            "head_kernel": self.head_kernel,
            "dropout": self.dropout,
        }

    border = 0  # padded convolutions: nothing is lost

    @property
    def stride(self) -> int:  # spacing of valid input sizes; tiles must start on this grid
        return 2 ** (self.depth - 1)

    @property
    def tile_margin(self) -> int:
        """Context (px per side) that makes overlapping tiles equal one whole-image pass."""
        return fusionnet_receptive_field(self.depth, self.down, self.head_kernel).margin

    def output_size(self, n: int) -> int:
        """Output side for input side ``n``: ``n`` itself, if ``n`` is a positive multiple of ``stride``.

        Raises
        ------
        TypeError, ValueError
            If ``n`` is not an int, or not a valid side (the message names the nearest valid sides).
        """
        return check_side(n, self.depth, "input_size")

    def input_size_for_output(self, n: int) -> int:
        """Smallest valid input side with output side >= ``n`` (``n`` rounded up to a multiple of ``stride``).

        Raises
        ------
        TypeError, ValueError
            If ``n`` is not an int >= 1.
        """
        n = check_int(n, "output_size", 1)
        return nearest_fusionnet_sizes(n, self.depth)[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_channels, H, W) float -> (B, num_classes, H, W) logits; H, W multiples of ``stride``.

        Raises
        ------
        TypeError
            If ``x`` is not a floating-point tensor.
        ValueError
            If ``x`` has another shape or a side that is not a positive multiple of ``stride``.
        """
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"x must be a tensor of shape (B, in_channels={self.in_channels}, H, W), got {fmt(x)}; "
                "add a batch/channel axis (x[None, None])"
            )
        if not torch.is_floating_point(x):
            raise TypeError(f"x must be a floating-point tensor, got {fmt(x)}; convert it with x.float()")
        for what, n in (("input height", x.shape[2]), ("input width", x.shape[3])):
            check_side(int(n), self.depth, what)
        skips = []
        for level, enc in enumerate(self.encoders):
            x = enc(x)
            if level < self.depth - 1:
                skips.append(x)
                x = self.downs[level](x)
        x = self.drop(x)  # (B, base 2^(depth-1), H / stride, W / stride): the bridge
        for up, dec, skip in zip(self.upconvs, self.decoders, reversed(skips)):
            x = up(x) + skip  # the summation skip: (B, c, 2h, 2w)
            x = dec(x / 2 if self.skip == "mean" else x)
        return self.head(x)
