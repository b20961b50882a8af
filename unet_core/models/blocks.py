"""Building blocks shared by the networks of :mod:`unet_core.models`.

One place for the pieces a U-shaped network is assembled from, so that two networks
that use the same piece use the same code: the activation names, a padded 3x3
convolution + batch normalisation + activation, the residual block of FusionNet
(three 3x3 convolutions around an identity shortcut), its conv - residual - conv level
and its up-convolution. :func:`he_init_` (paper Sec. 3) and the U-Net's own double
convolution stay in :mod:`unet_core.models.unet`, re-exported here.
"""

from __future__ import annotations

import torch
from torch import nn

from ..utils.validation import fmt

__all__: list[str] = []


ACTIVATIONS = ("relu", "elu", "leaky_relu")


LEAKY_SLOPE = 0.2


"""Negative slope of ``"leaky_relu"``: the 0.2 of GunhoChoi/FusionNet-Pytorch's encoder."""


def check_activation(name, argument: str) -> str:
    """``name`` if it is one of :data:`ACTIVATIONS`, else a ValueError naming ``argument``."""
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(f"{argument}={fmt(name)} must be one of {', '.join(map(repr, ACTIVATIONS))}")
    return name


def make_activation(name: str) -> nn.Module:
    """A fresh activation module: ``"relu"``, ``"elu"`` (alpha 1) or ``"leaky_relu"`` (slope 0.2)."""
    return {
        "relu": lambda: nn.ReLU(inplace=True),
        "elu": lambda: nn.ELU(inplace=True),
        "leaky_relu": lambda: nn.LeakyReLU(LEAKY_SLOPE, inplace=True),
    }[check_activation(name, "activation")]()


def conv_bn_act(c_in: int, c_out: int, act: str | None, stride: int = 1) -> nn.Sequential:
    """3x3 convolution (zero padding 1, no bias: the batch norm's shift replaces it) + BN (+ activation).

    (B, c_in, H, W) -> (B, c_out, H / stride, W / stride); ``act=None`` leaves the output linear.
    """
    layers = [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(c_out)]
    return nn.Sequential(*layers, *([make_activation(act)] if act else []))


class ResidualBlock(nn.Module):
    """``y = x + f(x)``, ``f`` = three 3x3 conv + BN, an activation after the first two (FusionNet).

    Parameters
    ----------
    channels : int
        Input and output channels (the identity shortcut needs them equal).
    act : str
        One of :data:`ACTIVATIONS`.

    Notes
    -----
    The sum is left linear: the next conv + BN + activation of the level follows it
    (as GunhoChoi/FusionNet-Pytorch, ``Conv_residual_conv``); ResNet v1 would apply a ReLU
    after the sum.
    """

    def __init__(self, channels: int, act: str) -> None:
        super().__init__()
        self.branch = nn.Sequential(
            conv_bn_act(channels, channels, act),
            conv_bn_act(channels, channels, act),
            conv_bn_act(channels, channels, None),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, C, H, W)."""
        return x + self.branch(x)


def conv_res_conv(c_in: int, c_out: int, act: str) -> nn.Sequential:
    """One FusionNet level: conv3x3 -> residual block -> conv3x3, all padded, (B, c_in, H, W) -> (B, c_out, H, W)."""
    return nn.Sequential(conv_bn_act(c_in, c_out, act), ResidualBlock(c_out, act), conv_bn_act(c_out, c_out, act))


def up_conv(c_in: int, c_out: int, act: str) -> nn.Sequential:
    """3x3 transposed convolution, stride 2 (padding 1, output padding 1) + BN + activation: H -> 2 H."""
    return nn.Sequential(
        nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1, output_padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        make_activation(act),
    )


def down_layer(kind: str, channels: int, act: str) -> nn.Module:
    """``"pool"``: 2x2 max pooling; ``"stride"``: a 3x3 stride-2 conv + BN + activation (channels kept)."""
    return nn.MaxPool2d(2, 2) if kind == "pool" else conv_bn_act(channels, channels, act, stride=2)
