"""Overlap-tile prediction with mirror extrapolation (paper Fig. 2).

A valid-convolution U-Net maps an input tile of ``T`` px to an output of
``T - 2 * border`` px (572 -> 388, border 92). Arbitrarily large images are
segmented tile by tile; the missing context at the image border is filled by
mirroring the image. The output tiles start on multiples of ``model.stride``
(16) in the coordinates of the mirror-padded image, so every tile sees the same
max-pooling grid as one forward pass over the whole padded image and the tiles
join without seams (to float tolerance). Tiles are read lazily, so a
``np.memmap`` image of any size needs memory for one batch of tiles only.

Two steps, and a wrapper: :func:`plan_tiles` lays out the tiles (their size, border and origins,
a :class:`TilePlan`), :func:`run_tiles` runs them through the network and writes the
probabilities, and :func:`predict_tiled` checks the image and arguments, resolves the numerics
(``precision``) and does both.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ..models.memory import estimate_memory
from ..models.registry import model_name
from ..utils.system import check_memory, gib, resolve_device
from ..utils.validation import check_bool, check_finite_image, check_float32_range, check_int, fmt, is_int
from .mirror import read_block, reflect_index, tile_origins
from .precision import PRECISIONS, Precision, resolve_precision

__all__ = ['TilePlan', 'estimate_tile_memory', 'plan_tiles', 'predict_tiled', 'run_tiles', 'tta_probs']


MEMORY_BUDGET_MB = 1024.0


"""Default activation-memory budget of ``predict_tiled(tile_size=None)`` (one batch)."""


_FINITE_CHUNK = 1 << 24  # elements checked for NaN/inf at a time (memmaps stay unread otherwise)


_MODEL_ATTRS = ("in_channels", "num_classes", "border", "stride", "input_size_for_output")


def _check_model(model: Any) -> None:
    missing = [a for a in _MODEL_ATTRS if not hasattr(model, a)]
    if not callable(model) or missing:
        raise TypeError(
            f"model must be a unet_core.UNet or FusionNet (or a callable with {', '.join(_MODEL_ATTRS)}), "
            f"got {fmt(model)}" + (f" (it has no {', '.join(missing)})" if callable(model) else "")
        )


def _base_channels(model: Any) -> int:
    if getattr(model, "base_channels", None):
        return int(model.base_channels)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)] if isinstance(model, torch.nn.Module) else []
    return convs[0].out_channels if convs else 64


def estimate_tile_memory(model: Any, tile: tuple[int, int], batch_size: int = 1, bytes_per_value: int = 4) -> int:
    """Peak activation bytes of one forward pass over a batch of tiles (inference).

    Parameters
    ----------
    model : UNet, FusionNet or similar
        A network of the registry (:data:`unet_core.models.MODEL_NAMES`) is estimated from its
        architecture; for any other its ``base_channels`` (else the first Conv2d's output
        channels) is used in the U-Net formula below.
    tile : (th, tw) or int
        Input tile size.
    batch_size : int
    bytes_per_value : int
        4 for fp32, 2 for bf16/fp16.

    Returns
    -------
    int
        :func:`unet_core.models.memory.estimate_memory` with ``train=False`` for a network of the
        registry; a tile side that is not a valid input size is charged the per-pixel memory of
        the smallest valid tile around it. Otherwise
        ``(6 * c0 + 32) * th * tw * batch_size * bytes_per_value``.

    Raises
    ------
    TypeError
        If ``model`` is not a network or an argument has the wrong type.
    ValueError
        If a tile side or ``batch_size`` is < 1 or ``bytes_per_value`` is not 1, 2, 4 or 8.

    Notes
    -----
    The estimate of a registry network replays its forward pass with the sizes of its feature
    maps (:func:`unet_core.models.unet_sizes.unet_memory`, :func:`unet_core.models.fusionnet_sizes.fusionnet_memory`;
    within a few percent of the peak resident memory measured on a CPU). The formula for other
    networks is the U-Net's in closed form: at level ``l`` a U-Net holds ``c0 2^l`` channels on
    ``1/4^l`` of the tile area ``A``, the skips sum to ``< 2 c0 A`` values, the top decoder level adds
    about ``4 c0 A``, and ``32 A`` covers the input and output tiles and oneDNN's channel padding.

    Examples
    --------
    >>> from unet_core.models.unet import UNet
    >>> estimate_tile_memory(UNet(), (700, 700)) // 2**20
    612
    """
    if not (isinstance(model, torch.nn.Module) or getattr(model, "base_channels", None) or callable(model)):
        raise TypeError(f"model must be a network such as unet_core.UNet(), got {fmt(model)}")
    if is_int(tile):
        tile = (tile, tile)
    if not isinstance(tile, (tuple, list)) or not all(is_int(t) for t in tile):
        raise TypeError(f"tile must be an int or a pair (th, tw) of ints, got {fmt(tile)}")
    if len(tile) != 2 or min(tile) < 1:
        raise ValueError(f"tile must be a pair (th, tw) of ints >= 1, got {fmt(tile)}")
    batch_size = check_int(batch_size, "batch_size", 1)
    if not is_int(bytes_per_value):
        raise TypeError(f"bytes_per_value must be an int (4 for fp32, 2 for bf16/fp16), got {fmt(bytes_per_value)}")
    if bytes_per_value not in (1, 2, 4, 8):
        raise ValueError(f"bytes_per_value={bytes_per_value} must be 1, 2, 4 or 8 (4 for fp32, 2 for bf16/fp16)")
    tile = (int(tile[0]), int(tile[1]))
    if model_name(model) is not None:  # the network's own arithmetic
        valid = tuple(_ceil_valid(model, n) for n in tile)
        nbytes = estimate_memory(model, valid, batch_size=batch_size, bytes_per_value=int(bytes_per_value))
        return nbytes if valid == tile else nbytes * tile[0] * tile[1] // (valid[0] * valid[1])
    return int((6 * _base_channels(model) + 32) * tile[0] * tile[1] * batch_size * int(bytes_per_value))


def _ceil_valid(model: Any, n: int) -> int:
    """Smallest valid input size ``>= n`` (via ``model.input_size_for_output``)."""
    return int(model.input_size_for_output(max(n - 2 * model.border, 1)))


def _check_tile(model: Any, n: Any, border: int) -> int:
    smallest = _ceil_valid(model, 2 * border + model.stride)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"tile_size must be an int or a pair of ints (input size in px), got {fmt(n)}")
    if n < smallest:
        raise ValueError(f"tile_size={n} is too small; the smallest usable input size is {smallest}")
    above = _ceil_valid(model, n)
    if above != n:
        raise ValueError(
            f"tile_size={n} is not a valid input size; nearest valid sizes are {above - model.stride} and {above}"
        )
    return int(n)


def _choose_tiles(
    model: Any,
    shape: tuple[int, int],
    tile_size: Any,
    border: int,
    batch_size: int,
    memory_budget_mb: float,
    bytes_per_value: int,
) -> tuple[int, int]:
    """Input tile (th, tw): validated explicit sizes, or the largest that fits the budget."""
    if tile_size is not None:
        pair = tuple(tile_size) if isinstance(tile_size, (tuple, list)) else (tile_size, tile_size)
        if len(pair) != 2:
            raise ValueError(f"tile_size must be an int or a pair (th, tw), got {tile_size!r}")
        return _check_tile(model, pair[0], border), _check_tile(model, pair[1], border)
    if isinstance(memory_budget_mb, (bool, str)) or not isinstance(memory_budget_mb, (int, float, np.number)):
        raise TypeError(f"memory_budget_mb must be a number of MiB, got {fmt(memory_budget_mb)}")
    if not memory_budget_mb > 0 or not math.isfinite(memory_budget_mb):
        raise ValueError(f"memory_budget_mb must be a finite number > 0, got {fmt(memory_budget_mb)}")
    smallest = _ceil_valid(model, 2 * border + model.stride)
    per_px = estimate_tile_memory(model, (1, 1), batch_size, bytes_per_value)
    biggest = _ceil_valid(model, int(math.sqrt(memory_budget_mb * 2**20 / per_px)))
    while (
        biggest > smallest
        and estimate_tile_memory(model, (biggest,) * 2, batch_size, bytes_per_value) > memory_budget_mb * 2**20
    ):
        biggest -= model.stride
    biggest = max(biggest, smallest)
    need = max(_ceil_valid(model, n + 2 * border) for n in shape)  # the per-pixel start can undershoot: grow to fit
    while (
        biggest < need
        and estimate_tile_memory(model, (biggest + model.stride,) * 2, batch_size, bytes_per_value)
        <= memory_budget_mb * 2**20
    ):
        biggest += model.stride
    return tuple(max(smallest, min(biggest, _ceil_valid(model, n + 2 * border))) for n in shape)


def _tile_border(model: Any, margin: Any) -> int:
    """Context px on each side of an input tile: the model's border, else ``margin``, else the seamless default."""
    if margin is not None and (
        model.border > 0 or isinstance(margin, bool) or not isinstance(margin, (int, np.integer)) or margin < 0
    ):
        raise ValueError(
            f"margin={fmt(margin)} must be an int >= 0 and only applies to padding='same' models "
            f"(this model crops its own border of {model.border} px); leave margin=None"
        )
    if model.border > 0:
        return int(model.border)
    if margin is not None:
        return int(margin)
    own = getattr(model, "tile_margin", None)  # the model's own seamless margin, else that of the valid U-Net
    return int(own) if own is not None else 2 * (3 * model.stride - 2) + model.stride // 2  # of its depth + stride / 2


@dataclasses.dataclass(frozen=True)
class TilePlan:
    """Where the overlap-tiles of one image go (paper Fig. 2): made by :func:`plan_tiles`, run by :func:`run_tiles`.

    Attributes
    ----------
    shape : (H, W)
        Image size.
    tile : (th, tw)
        Input tile size, a valid input size of the model on each axis.
    border : int
        Context on each side of an input tile: the model's ``border`` (valid network), or the margin of a
        padded one. The input tile of the output tile at ``(y, x)`` covers image rows
        ``y - border .. y - border + th - 1`` (mirrored beyond the image), likewise columns.
    crop : int
        Pixels cropped from each side of the model's output: ``border - model.border``.
    origins : tuple of (y, x)
        Output-tile origins in image coordinates, row by row: multiples of ``model.stride`` (see
        :func:`unet_core.inference.mirror.tile_origins`).
    batch_size : int
        Tiles per forward pass (at most ``len(origins)``).

    Notes
    -----
    Output tiles of ``out_tile = tile - 2 * border`` px overlap by less than a stride where the step
    ``stride * floor(out_tile / stride)`` is shorter than the tile; the later tile's pixels are kept
    (for a valid network the overlapping tiles agree, Fig. 2). The last tile of each axis overhangs
    the image by less than a stride and is cut at the image edge.
    """

    shape: tuple[int, int]
    tile: tuple[int, int]
    border: int
    crop: int
    origins: tuple[tuple[int, int], ...]
    batch_size: int

    @property
    def out_tile(self) -> tuple[int, int]:
        """(oh, ow): output tile size, ``tile - 2 * border``."""
        return self.tile[0] - 2 * self.border, self.tile[1] - 2 * self.border

    @property
    def batches(self) -> list[tuple[tuple[int, int], ...]]:
        """The origins in chunks of ``batch_size``, one chunk per forward pass."""
        return [self.origins[i : i + self.batch_size] for i in range(0, len(self.origins), self.batch_size)]


def plan_tiles(
    model: Any,
    shape: tuple[int, int],
    tile_size: int | tuple[int, int] | None = None,
    batch_size: int = 1,
    *,
    memory_budget_mb: float = MEMORY_BUDGET_MB,
    margin: int | None = None,
    bytes_per_value: int = 4,
) -> TilePlan:
    """Lay out the overlap-tiles of an image of ``shape`` on the pooling grid (paper Fig. 2).

    Parameters
    ----------
    model : UNet, FusionNet or similar
        Has ``in_channels, num_classes, border, stride`` and ``input_size_for_output(n)``.
    shape : (H, W)
        Image size in px.
    tile_size : int or (int, int), optional
        Input tile size (a valid input size of the model). ``None``: the largest tile whose batch
        fits ``memory_budget_mb``, capped by what the image needs.
    batch_size : int
        Tiles per forward pass.
    memory_budget_mb : float
        Activation budget of one batch for the automatic tile size (:func:`estimate_tile_memory`).
    margin : int, optional
        Context margin of a padded model (``border == 0``); see :func:`predict_tiled`.
    bytes_per_value : int
        4 for fp32, 2 for bf16/fp16: what the memory budget is counted in.

    Returns
    -------
    TilePlan
        Tile size, border, crop, output-tile origins and batch size.

    Raises
    ------
    TypeError
        If ``model`` is not a network or an argument has the wrong type.
    ValueError
        If ``shape`` is not a pair of ints >= 1, or ``tile_size``, ``batch_size``, ``memory_budget_mb``,
        ``margin`` or ``bytes_per_value`` is invalid (the message names the valid values).

    Notes
    -----
    Output tiles of ``o = t - 2b`` px start at multiples of the stride ``s`` in the coordinates of
    the image mirror-padded by ``b``, ``s * floor(o / s)`` apart, so every tile sees the pooling grid
    of one pass over the whole padded image (Fig. 2) and the tiles cover the image without a gap.

    Examples
    --------
    >>> from unet_core.models.unet import UNet
    >>> plan = plan_tiles(UNet(base_channels=2, depth=3), (70, 53), tile_size=60)
    >>> plan.tile, plan.border, plan.out_tile, plan.origins
    ((60, 60), 20, (20, 20), ((0, 0), (0, 20), (0, 36), (20, 0), (20, 20), (20, 36), (40, 0), (40, 20), (40, 36), (52, 0), (52, 20), (52, 36)))
    """
    _check_model(model)
    if not isinstance(shape, (tuple, list)) or len(shape) != 2 or not all(is_int(n) and n >= 1 for n in shape):
        raise ValueError(f"shape must be a pair (H, W) of ints >= 1 (the image size), got {fmt(shape)}")
    batch_size = check_int(batch_size, "batch_size", 1)
    if bytes_per_value not in (1, 2, 4, 8) or isinstance(bytes_per_value, bool):
        raise ValueError(f"bytes_per_value={fmt(bytes_per_value)} must be 1, 2, 4 or 8 (4 for fp32, 2 for bf16/fp16)")
    height, width = int(shape[0]), int(shape[1])
    border = _tile_border(model, margin)
    th, tw = _choose_tiles(model, (height, width), tile_size, border, batch_size, memory_budget_mb, bytes_per_value)
    origins = tuple(
        (y, x)
        for y in tile_origins(height, th - 2 * border, model.stride)
        for x in tile_origins(width, tw - 2 * border, model.stride)
    )
    return TilePlan(
        (height, width), (th, tw), border, border - int(model.border), origins, min(batch_size, len(origins))
    )


def _as_chw(image: Any, in_channels: int) -> np.ndarray:
    """Validate ``image`` and return a (C, H, W) view of it (memmaps stay lazy)."""
    if not isinstance(image, np.ndarray):
        hint = "; use tensor.cpu().numpy()" if isinstance(image, torch.Tensor) else ""
        raise TypeError(f"image must be a numpy array of shape (H, W) or (C, H, W), got {type(image).__name__}{hint}")
    if image.ndim not in (2, 3):
        raise ValueError(
            f"image must have shape (H, W) or (C, H, W), got {fmt(image)}; "
            "for a batch call predict_tiled once per image"
        )
    chw = image[None] if image.ndim == 2 else image
    if image.size == 0:
        check_finite_image(image, "image")  # raises the 'must not be empty' error
    rows = max(1, _FINITE_CHUNK // (chw.shape[0] * chw.shape[2]))
    for r in range(0, chw.shape[1], rows):
        try:
            block = np.asarray(chw[:, r : r + rows])
            check_finite_image(block, "image")
            check_float32_range(block, "image")
        except ValueError as exc:
            where = "" if rows >= chw.shape[1] else f" (counted in rows {r}..{min(r + rows, chw.shape[1]) - 1})"
            raise ValueError(f"{exc}{where}") from None
    if chw.shape[0] != in_channels:
        raise ValueError(
            f"image has {chw.shape[0]} channel(s) (shape {image.shape}) but model.in_channels={in_channels}; "
            f"pass a (H, W) image for 1 channel or a ({in_channels}, H, W) array"
        )
    return chw


def _probs(model: Callable, batch: torch.Tensor, dtype: torch.dtype | None, crop: int) -> torch.Tensor:
    """Softmax over classes of one batch, (B, C, th, tw) -> (B, K, oh, ow) float32."""
    if dtype is None or dtype == torch.float32:
        logits = model(batch)
    else:
        with torch.autocast(batch.device.type, dtype=dtype):
            logits = model(batch)
    h, w = logits.shape[-2:]
    return torch.softmax(logits[..., crop : h - crop, crop : w - crop].float(), dim=1)


def tta_probs(model: Callable, batch: torch.Tensor, dtype: torch.dtype | None, crop: int) -> torch.Tensor:
    """Mean softmax over the 8 flips/rotations of the batch, each inverted on the output.

    ``predict_tiled(..., tta=True)`` calls it per batch of tiles: (B, C, th, tw) -> (B, K, oh, ow)
    float32, ``crop`` px removed on every side of the logits. Ronneberger et al. (2015), Sec. 4:
    "averaged over 7 rotated versions of the input data".
    """
    total = 0
    for k in range(4):
        for flip in (False, True):
            x = torch.rot90(batch, k, dims=(2, 3))
            x = torch.flip(x, dims=(3,)) if flip else x
            p = _probs(model, x, dtype, crop)
            p = torch.flip(p, dims=(3,)) if flip else p
            total = total + torch.rot90(p, -k, dims=(2, 3))
    return total / 8


def _module_state(model: torch.nn.Module) -> tuple[list, list, list]:
    """What ``Module.to`` and ``train``/``eval`` change: every parameter's tensor and gradient,
    every buffer, every submodule's mode (references, no copies)."""
    modules = list(model.modules())
    params = [(m, name, p, p.data, p.grad) for m in modules for name, p in m._parameters.items() if p is not None]
    buffers = [(m, name, b) for m in modules for name, b in m._buffers.items()]
    return params, buffers, [(m, m.training) for m in modules]


def _restore_module_state(state: tuple[list, list, list]) -> None:
    """Put back what :func:`_module_state` saw: device, memory format, parameter objects and modes."""
    params, buffers, modes = state
    for m, name, p, data, grad in params:
        m._parameters[name] = p  # the caller's Parameter objects, also where a conversion replaced them
        p.data = data
        p.grad = grad
    for m, name, b in buffers:
        m._buffers[name] = b
    for m, training in modes:
        m.training = training


def _keeps_model(predict: Callable) -> Callable:
    """Leave an ``nn.Module`` model as it came (device, memory format, mode), also when ``predict`` raises."""

    @functools.wraps(predict)
    def wrapper(model, *args, **kwargs):
        if not isinstance(model, torch.nn.Module):
            return predict(model, *args, **kwargs)
        state = _module_state(model)
        try:
            return predict(model, *args, **kwargs)
        finally:
            _restore_module_state(state)

    return wrapper


def _as_precision(precision: Precision | str | None) -> Precision:
    """``precision`` (None = fp32, a :class:`Precision` or a name of :data:`PRECISIONS`) as a :class:`Precision`."""
    if precision is None:
        return PRECISIONS["fp32"]
    if isinstance(precision, Precision):
        return precision
    if isinstance(precision, str) and precision in PRECISIONS:
        return PRECISIONS[precision]
    raise ValueError(
        f"precision={fmt(precision)} must be None (fp32), a Precision or one of {tuple(PRECISIONS)}; "
        "resolve 'auto' first with unet_core.inference.resolve_precision (predict_tiled does)"
    )


def _check_out(out: np.ndarray | None, shape: tuple[int, int, int]) -> np.ndarray:
    """``out`` checked to be a writeable float (K, H, W) array, or a new float32 one."""
    if out is None:
        return np.empty(shape, np.float32)
    if not isinstance(out, np.ndarray) or out.shape != shape or out.dtype.kind != "f" or not out.flags.writeable:
        raise ValueError(f"out must be a writeable float ndarray of shape {shape}, got {fmt(out)}")
    return out


@_keeps_model
def run_tiles(
    model: Callable,
    image: np.ndarray,
    plan: TilePlan,
    device: str | torch.device = "auto",
    precision: Precision | str | None = None,
    *,
    tta: bool = False,
    out: np.ndarray | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Run the tiles of a :class:`TilePlan` through the model and write their probabilities (paper Fig. 2).

    Parameters
    ----------
    model : nn.Module or callable
        The network the plan was made for. A module runs on ``device`` in eval mode; afterwards,
        also after an error, it is as it was (device, memory format, parameters, modes).
    image : (C, H, W) ndarray
        The image of ``plan.shape`` with ``model.in_channels`` channels, any real dtype (cast to
        float32 tile by tile; a ``np.memmap`` is read one tile at a time). Not checked for NaN/inf:
        :func:`predict_tiled` does that.
    plan : TilePlan
        From :func:`plan_tiles` for this model and ``image.shape[1:]``.
    device : str or torch.device
        ``"auto"`` picks cuda, then mps, then cpu.
    precision : Precision, str or None
        The numerics: None (fp32), a :class:`~unet_core.inference.precision.Precision` or a name of
        :data:`~unet_core.inference.precision.PRECISIONS` (``"auto"`` is resolved by :func:`predict_tiled`).
    tta : bool
        Average the softmax over the 8 flips/90-degree rotations of each tile.
    out : (K, H, W) float ndarray, optional
        Where to write the result, e.g. a ``np.memmap``.
    progress : bool
        Show a tqdm progress bar over batches.

    Returns
    -------
    (K, H, W) float32 ndarray
        Class probabilities (``out`` if given).

    Raises
    ------
    ValueError
        If ``image`` or ``out`` does not match the plan, ``precision`` is unknown, or the model returns
        NaN/inf probabilities.

    Notes
    -----
    Each input tile is read from the image mirrored at its edges (Fig. 2), the model's output is
    cropped by ``plan.crop`` and the output tile is written at its origin, cut at the image edge.

    Examples
    --------
    >>> from unet_core.models.unet import UNet
    >>> net = UNet(base_channels=2, depth=3)
    >>> run_tiles(net, np.zeros((1, 70, 53), np.float32), plan_tiles(net, (70, 53), 60), "cpu").shape
    (2, 70, 53)
    """
    _check_model(model)
    dev, chosen = resolve_device(device), _as_precision(precision)
    tta, progress = (check_bool(v, k) for k, v in (("tta", tta), ("progress", progress)))
    (height, width), k, (th, tw), border = plan.shape, int(model.num_classes), plan.tile, plan.border
    oh, ow = plan.out_tile
    if not isinstance(image, np.ndarray) or image.shape != (int(model.in_channels), height, width):
        raise ValueError(
            f"image must be a (C, H, W) = {(int(model.in_channels), height, width)} ndarray for this "
            f"plan, got {fmt(image)}; make the plan with plan_tiles(model, image.shape[1:])"
        )
    out = _check_out(out, (k, height, width))
    is_module = isinstance(model, torch.nn.Module)
    was_training = is_module and model.training
    if is_module:
        model.to(dev, memory_format=torch.channels_last) if chosen.channels_last else model.to(dev)
        model.eval()
    forward = tta_probs if tta else _probs
    try:
        with torch.inference_mode():
            for chunk in tqdm(plan.batches, disable=not progress, desc="tiles"):
                tiles = np.stack(
                    [
                        read_block(
                            image,
                            reflect_index(np.arange(y - border, y - border + th), height),
                            reflect_index(np.arange(x - border, x - border + tw), width),
                        )
                        for y, x in chunk
                    ]
                ).astype(np.float32, copy=False)  # (B, C, th, tw)
                batch = torch.from_numpy(tiles)
                batch = batch.pin_memory().to(dev, non_blocking=True) if dev.type == "cuda" else batch.to(dev)
                if chosen.channels_last:
                    batch = batch.contiguous(memory_format=torch.channels_last)
                probs = forward(model, batch, chosen.dtype, plan.crop)  # (B, K, oh, ow) on the device
                finite = bool(torch.isfinite(probs).all())  # checked where they are (one sync on a GPU)
                probs = probs.cpu().numpy()
                assert probs.shape[1:] == (k, oh, ow), (probs.shape, (k, oh, ow))
                if not finite:
                    raise ValueError(
                        f"the model returned NaN/inf probabilities for the tile at {chunk[0]} of the image "
                        "(its weights may have diverged, or the image is far outside the range it was "
                        "trained on); standardise the image with unet_core.normalize_image and check the "
                        "checkpoint"
                    )
                for (y, x), p in zip(chunk, probs):
                    out[:, y : y + oh, x : x + ow] = p[:, : height - y, : width - x]
    finally:
        if is_module:
            model.train(was_training)
    return out


@_keeps_model
def predict_tiled(
    model: Callable,
    image: np.ndarray,
    tile_size: int | tuple[int, int] | None = None,
    batch_size: int = 1,
    device: str | torch.device = "auto",
    tta: bool = False,
    *,
    memory_budget_mb: float = MEMORY_BUDGET_MB,
    margin: int | None = None,
    precision: str | None = None,
    out: np.ndarray | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Segment an image of any size with the overlap-tile strategy (paper Fig. 2).

    Checks the arguments, resolves ``precision``, lays out the tiles (:func:`plan_tiles`) and runs
    them (:func:`run_tiles`).

    Parameters
    ----------
    model : nn.Module or callable
        Maps (B, C, th, tw) tensors to (B, K, th - 2 border, tw - 2 border)
        logits and has ``in_channels, num_classes, border, stride`` and
        ``output_size(n)``, ``input_size_for_output(n)`` (e.g. ``UNet`` or
        ``FusionNet``: :class:`unet_core.models.SegmentationModel`).
        A module runs on ``device`` in eval mode; afterwards, also after an error, it is as it was:
        the same device, memory format, parameter objects and train/eval mode of every submodule.
    image : (H, W) or (C, H, W) ndarray
        Any integer or float dtype (cast to float32 unchanged; intensities are
        *not* normalised: call ``unet_core.data.tiles.normalize_image`` first as in
        training). A ``np.memmap`` is read one tile at a time.
    tile_size : int or (int, int), optional
        Input tile size (a valid input size of the model). ``None``: the largest
        tile fitting ``memory_budget_mb``, capped by what the image needs.
    batch_size : int
        Tiles per forward pass.
    device : str or torch.device
        ``"auto"`` picks cuda, then mps, then cpu.
    tta : bool
        Average the softmax over the 8 flips/90-degree rotations of each tile.
    memory_budget_mb : float
        Activation budget of one batch for the automatic tile size (see
        ``estimate_tile_memory``).
    margin : int, optional
        Context margin of a padded model (``border == 0``: a ``padding="same"``
        U-Net or a FusionNet), cropped from each tile. Default: the model's
        ``tile_margin`` if it has one (FusionNet: the reach of its receptive
        field, 260 px for the paper's network); otherwise the border of the valid
        network of the same depth plus half the stride (92 + 8 = 100 px for
        depth 5): the zero padding inside a tile reaches that far once the
        pooling phase is counted. With it the tiled result equals one pass over
        the whole mirror-padded image to float tolerance (tested for depth 3;
        measured for depths 3-5); the bare valid border (92) leaves differences
        of up to ~1e-2 in the probabilities.
    precision : {None, "auto", "fp32", "fp32+channels_last", "bf16", "bf16+channels_last"}
        The numerics. None: fp32 (the same as ``"fp32"``). ``"auto"`` times the paths this device
        can run on a check tile once per process and takes the fastest whose argmax agrees with fp32
        (:func:`unet_core.inference.precision.choose_precision`; printed with ``progress=True``).
        ``"bf16"``: bf16 autocast; ``"+channels_last"``: the channels-last memory format for the call
        (the module's own layout is restored). Explicit bf16 on a CPU without bf16 units warns with
        the measured factor.
    out : (K, H, W) float ndarray, optional
        Where to write the result, e.g. a ``np.memmap`` for huge images.
    progress : bool
        Show a tqdm progress bar over batches.

    Returns
    -------
    (K, H, W) float32 ndarray
        Class probabilities (``out`` if given).

    Raises
    ------
    TypeError
        ``image`` is not a numpy array or has a bool/complex/object dtype.
        ``model`` is not a network; ``tile_size``, ``batch_size`` or a flag has the wrong type;
        ``precision="auto"`` with a model that is not an ``nn.Module``.
    ValueError
        Empty, non-finite, 4-D or wrong-channel images, values beyond float32 (normalise
        first); invalid ``tile_size``, ``batch_size``, ``device``, ``precision`` or ``out``; a model
        that returns NaN/inf probabilities.
    MemoryError
        (``MemoryBudgetError``, also a ValueError) if one batch of tiles and the output do not
        fit into the available memory; the message says how much is needed and what to change.

    Notes
    -----
    The image is mirror-padded by ``b = border`` on each side. Output tiles of
    ``o = t - 2b`` px start at padded coordinates that are multiples of the
    network stride ``s = 2^(depth-1)``, with step ``s * floor(o / s)``; each tile's
    pooling grid then coincides with that of one forward pass over the whole
    padded image, so for a valid network the overlapping tiles agree and the
    result equals that single pass. (Tiles every 388 px are off the grid and
    differ by up to several logits.)

    Speed (paper network, 512 x 512 image = one 700 px pass, 493 GFLOP, 2-core
    CPU; ``benchmarks/results/tiling.json``): ``precision="fp32+channels_last"`` saves
    about 15 % in fp32 with identical output; ``"bf16+channels_last"`` is about 2.4x
    faster than fp32 but flips the argmax of ~0.2 % of pixels of an untrained network
    (its near-ties); a ``torch.compile(model)`` module can be passed as ``model`` and
    gains a further ~15 % after a long first call.

    References
    ----------
    Ronneberger, Fischer, Brox (2015), U-Net, MICCAI, Sec. 2 and Fig. 2.

    Examples
    --------
    >>> from unet_core.models.unet import UNet
    >>> net = UNet(base_channels=4)
    >>> predict_tiled(net, np.zeros((30, 40), np.float32)).shape
    (2, 30, 40)
    """
    _check_model(model)
    dev = resolve_device(device)
    batch_size = check_int(batch_size, "batch_size", 1)
    tta, progress = (check_bool(v, k) for k, v in (("tta", tta), ("progress", progress)))
    _tile_border(model, margin)  # a bad margin is reported before the image is read
    chw = _as_chw(image, int(model.in_channels))
    _, height, width = chw.shape
    k = int(model.num_classes)
    if precision == "auto" and not isinstance(model, torch.nn.Module):
        raise TypeError(
            f"precision='auto' times the model's parameters and needs an nn.Module, got {fmt(model)}; "
            "pass a named precision such as 'fp32' or 'bf16' instead"
        )
    if precision == "auto":  # the fastest path whose argmax agrees with fp32, measured once per process
        model.to(dev)
    probe = int(model.input_size_for_output(64)) if model.border > 0 else max(64, model.stride * 4)
    chosen, choice = resolve_precision(precision, model, dev, probe, in_channels=int(model.in_channels))
    if progress and choice is not None:
        print(choice)
    value_bytes = 2 if chosen.dtype in (torch.bfloat16, torch.float16) else 4
    plan = plan_tiles(
        model,
        (height, width),
        tile_size,
        batch_size,
        memory_budget_mb=memory_budget_mb,
        margin=margin,
        bytes_per_value=value_bytes,
    )
    (th, tw), batch = plan.tile, plan.batch_size
    need = estimate_tile_memory(model, (th, tw), batch, value_bytes) + (k * height * width * 4 if out is None else 0)
    check_memory(
        need,
        f"tile_size={th if th == tw else (th, tw)} with batch_size={batch} (one batch of tiles, "
        f"{gib(estimate_tile_memory(model, (th, tw), 1, value_bytes))} per tile) and the output",
        "use a smaller tile_size or batch_size (tile_size=None picks the largest that fits memory_budget_mb), "
        "or pass out=np.memmap(...) for a huge image",
    )
    out = _check_out(out, (k, height, width))
    return run_tiles(model, chw, plan, dev, chosen, tta=tta, out=out, progress=progress)
