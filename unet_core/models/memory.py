"""Activation memory of the networks: estimated from the architecture, measured on Linux.

:func:`estimate_memory` asks the network's registry entry (:func:`unet_core.models.unet_sizes.unet_memory`,
:func:`unet_core.models.fusionnet_sizes.fusionnet_memory`), which replays the forward pass (and, in
training, the backward pass) operation by operation with the sizes of its feature maps: no network
is built, so the command line checks a configuration before allocating it.
:func:`measure_peak_memory` measures the same quantity on this machine in a fresh Python process,
as the book's FusionNet appendix does; ``tests/test_memory.py`` and ``benchmarks/bench_memory.py`` compare
the two.
"""

from __future__ import annotations

from typing import Any

from ..utils.validation import fmt, is_int
from .registry import MODEL_NAMES, check_config_keys, model_name, model_spec

__all__ = ['estimate_memory']


MMAP_THRESHOLD = 65536


"""``MALLOC_MMAP_THRESHOLD_`` of the probe: glibc serves (and returns to the system) every block of
64 KiB or more with mmap, so a freed feature map leaves the resident memory at once."""


def resolve_model_config(model_or_name: Any, config: dict) -> tuple[str, dict]:
    """(registry name, constructor arguments) of a network instance or of a name plus ``config``."""
    if isinstance(model_or_name, str):
        spec = model_spec(model_or_name, "model_or_name")
        check_config_keys(spec, config)
        return spec.name, dict(config)
    name = model_name(model_or_name)
    if name is None:
        raise TypeError(
            f"model_or_name must be one of {', '.join(map(repr, MODEL_NAMES))} or a network built from "
            f"them (unet_core.UNet, unet_core.FusionNet), got {fmt(model_or_name)}"
        )
    if config:
        raise TypeError(
            f"model_or_name is a network, which fixes its configuration; pass its registry name "
            f"({name!r}) to use {', '.join(sorted(config))}"
        )
    return name, dict(model_or_name.config)


def tile_pair(tile: Any) -> tuple[int, int]:
    if is_int(tile):
        tile = (tile, tile)
    if not isinstance(tile, (tuple, list)) or not all(is_int(t) for t in tile):
        raise TypeError(f"tile must be an int or a pair (th, tw) of ints (input size in px), got {fmt(tile)}")
    if len(tile) != 2 or min(tile) < 1:
        raise ValueError(f"tile must be a pair (th, tw) of ints >= 1, got {fmt(tile)}")
    return int(tile[0]), int(tile[1])


def estimate_memory(
    model_or_name: Any,
    tile: int | tuple[int, int],
    *,
    batch_size: int = 1,
    train: bool = False,
    bytes_per_value: int = 4,
    **config,
) -> int:
    """Peak activation memory of one forward pass or one training step, from the architecture.

    Parameters
    ----------
    model_or_name : UNet, FusionNet or {"unet", "fusionnet"}
        A network (its ``config`` is used) or a registry name (with ``config``; no network is built).
    tile : int or (th, tw)
        Input tile size; must be valid for the network (e.g. 572 for the paper's U-Net, 640 for
        FusionNet).
    batch_size : int
        Tiles per batch, >= 1.
    train : bool
        False: inference (eval mode, ``torch.inference_mode``, as :func:`unet_core.predict_tiled`).
        True: one training step: forward pass with the values kept for backward (including the
        dropout masks, pooling indices, concatenations and residual sums), the weighted
        cross-entropy, and the backward pass's gradients.
    bytes_per_value : {4, 2, 1, 8}
        4 for fp32, 2 for bf16/fp16.
    **config
        Constructor arguments of the named network (``base_channels``, ``depth``, ...); missing
        ones take the paper's defaults.

    Returns
    -------
    int
        Bytes: the most the pass allocates at once beyond the input tiles, the weights, the
        parameter gradients and the optimiser's state (count those as ``4 * parameters`` bytes
        each).

    Raises
    ------
    TypeError
        If ``model_or_name`` is neither a registry name nor a network built from one, ``config`` is
        given with a network or names an argument the network does not take, or an argument has
        the wrong type.
    ValueError
        If the name is unknown, ``tile`` is not a valid input size (the message names the nearest
        valid sizes), or another argument is out of range.

    Notes
    -----
    Each network's entry in the registry (``ModelSpec.memory``) computes it:
    :func:`unet_core.models.unet_sizes.unet_memory` and
    :func:`unet_core.models.fusionnet_sizes.fusionnet_memory`, whose Notes give the rules and the
    measurements (:func:`measure_peak_memory`) they agree with. The two differ in kind: per output
    pixel, a FusionNet training step needs 1.7 to 2.2 times the U-Net's memory at the same width
    (ten to thirteen maps kept per level against five), its inference 0.6 to 0.7 times.

    Examples
    --------
    >>> round(estimate_memory("unet", 412, train=True, base_channels=16) / 2**20)
    87
    >>> round(estimate_memory("fusionnet", 256, train=True, base_channels=16) / 2**20)
    186
    """
    name, config = resolve_model_config(model_or_name, config)
    th, tw = tile_pair(tile)
    spec = model_spec(name)
    try:
        return spec.memory(
            (th, tw),
            batch_size=batch_size,
            train=train,
            bytes_per_value=bytes_per_value,
            **{k: v for k, v in config.items() if k in spec.memory_arguments},
        )
    except ValueError as exc:
        if "input height" in str(exc) or "input width" in str(exc):
            raise ValueError(f"tile={fmt(tile)}: {exc}") from None
        raise
