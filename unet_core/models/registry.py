"""The networks by name, and the small protocol that tiling, training and checkpoints rely on.

:func:`unet_core.predict_tiled`, :func:`unet_core.train`, the checkpoints and the command
line never ask which network they hold; they use the members of :class:`SegmentationModel`,
which :class:`unet_core.UNet` and :class:`unet_core.FusionNet` both have. A checkpoint stores
the network's registry name next to its ``config``, so :func:`build_model` rebuilds it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
from torch import nn

from ..utils.validation import fmt
from .fusionnet import PAPER_TILE, FusionNet
from .fusionnet_sizes import fusionnet_flops, fusionnet_memory, fusionnet_parameter_count, nearest_fusionnet_sizes
from .unet import UNet, unet_parameter_count
from .unet_sizes import nearest_valid_input_sizes, unet_flops, unet_memory

__all__ = ['MODEL_NAMES', 'build_model']


MODEL_NAMES = ("unet", "fusionnet")


@runtime_checkable
class SegmentationModel(Protocol):
    """What a network offers to ``predict_tiled``, ``train``, checkpoints and the CLI.

    ``forward`` maps (B, in_channels, H, W) to (B, num_classes, H - 2 border, W - 2 border) for
    valid sides; ``stride`` spaces the valid sides and the tile origins; ``config`` holds the
    constructor arguments. An optional ``tile_margin`` (int) gives the context per side that makes
    tiles of a padded network (``border == 0``) seamless.
    """

    in_channels: int
    num_classes: int
    base_channels: int

    @property
    def border(self) -> int: ...

    @property
    def stride(self) -> int: ...

    @property
    def config(self) -> dict: ...

    def output_size(self, n: int) -> int: ...

    def input_size_for_output(self, n: int) -> int: ...

    def __call__(self, x: torch.Tensor) -> torch.Tensor: ...


@dataclass(frozen=True)
class ModelSpec:
    """A network's arithmetic, answered without building it: parameters, valid sizes, FLOPs and memory.

    What the command line, :func:`unet_core.estimate_memory` and the book ask of a network by name.
    """

    name: str
    cls: type
    parameter_count: Callable[[int, int, int, int], int]  # (in_channels, num_classes, base_channels, depth)
    nearest_valid: Callable[[int, int], tuple]  # (n, depth) -> (largest valid <= n or None, smallest valid >= n)
    default_tile: int  # the paper's training tile
    memory: Callable[..., int]  # (input_size, **config, batch_size, train, bytes_per_value) -> peak activation bytes
    flops: Callable[..., int]  # (input_size, **size-relevant config) -> forward FLOPs (2 x multiply-adds), batch 1

    def forward_flops(self, input_size, **config) -> int:
        """Forward FLOPs of one tile, from the constructor arguments that change them (others ignored)."""
        keep = inspect.signature(self.flops).parameters
        return self.flops(input_size, **{k: v for k, v in config.items() if k in keep})

    @property
    def memory_arguments(self) -> frozenset:
        """The constructor arguments that ``memory`` takes (the others do not change the memory)."""
        return frozenset(inspect.signature(self.memory).parameters) - {
            "input_size",
            "batch_size",
            "train",
            "bytes_per_value",
        }


def _specs() -> dict[str, ModelSpec]:

    return {
        "unet": ModelSpec("unet", UNet, unet_parameter_count, nearest_valid_input_sizes, 572, unet_memory, unet_flops),
        "fusionnet": ModelSpec(
            "fusionnet",
            FusionNet,
            fusionnet_parameter_count,
            nearest_fusionnet_sizes,
            PAPER_TILE,
            fusionnet_memory,
            fusionnet_flops,
        ),
    }


def model_spec(name: str, argument: str = "name") -> ModelSpec:
    """The :class:`ModelSpec` of a registry name; TypeError/ValueError naming ``argument`` otherwise."""
    if not isinstance(name, str):
        raise TypeError(
            f"{argument} must be a network name, one of {', '.join(map(repr, MODEL_NAMES))}, got {fmt(name)}"
        )
    if name not in MODEL_NAMES:
        raise ValueError(f"{argument}={name!r} is unknown; choose one of {', '.join(map(repr, MODEL_NAMES))}")
    return _specs()[name]


def check_config_keys(spec: ModelSpec, config: dict) -> None:
    """TypeError unless every key of ``config`` is a constructor argument of ``spec``'s network."""
    accepted = [p for p in inspect.signature(spec.cls).parameters]
    unknown = sorted(set(config) - set(accepted))
    if unknown:
        raise TypeError(
            f"{spec.cls.__name__} takes no argument {', '.join(map(repr, unknown))}; it takes {', '.join(accepted)}"
        )


def model_name(model) -> str | None:
    """Registry name of a network instance ("unet", "fusionnet"), None for any other module."""
    for name, spec in _specs().items():
        if type(model) is spec.cls:
            return name
    return None


def build_model(name: str = "unet", **config) -> nn.Module:
    """Build a network by registry name.

    Parameters
    ----------
    name : {"unet", "fusionnet"}
        :class:`unet_core.UNet` (Ronneberger et al. 2015) or :class:`unet_core.FusionNet`
        (Quan et al. 2016).
    **config
        Constructor arguments, e.g. a checkpoint's ``model_config``; missing ones take the
        paper's defaults.

    Returns
    -------
    nn.Module
        The new network (He-initialised, training mode).

    Raises
    ------
    TypeError
        If ``name`` is not a string, an argument is not one the network takes (the message lists
        those it takes) or has the wrong type.
    ValueError
        If ``name`` is unknown or an argument is out of range.

    Examples
    --------
    >>> build_model("fusionnet", base_channels=2, depth=2).config["skip"]
    'sum'
    """
    spec = model_spec(name)
    check_config_keys(spec, config)
    return spec.cls(**config)
