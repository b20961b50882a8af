"""Batched elastic deformation with ``torch.nn.functional.grid_sample`` (paper Sec. 3.1).

Same fields and conventions as :mod:`unet_core.augment.elastic` (``(2, H, W)`` row/col
displacements, backward mapping, grid points on the image corners, cubic-spline
upsampling), applied to a ``(B, C, H, W)`` batch on the batch's device (GPU when
there is one). ``align_corners=True`` with ``padding_mode="reflection"`` mirrors
about the edge pixel centres exactly like the numpy back-end's ``mode="mirror"``.
Bilinear and nearest agree with ``order=1`` / ``order=0`` of the numpy back-end
(nearest may differ at exact .5 ties); the cubic kernels differ (scipy: cubic
B-spline with prefilter; torch: Keys cubic convolution, ``A = -0.75``), so
``order=3`` and ``mode="bicubic"`` are close but not equal.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..utils.system import resolve_device
from ..utils.validation import check_int, fmt
from .elastic import ELASTIC_GRID, ELASTIC_STD, check_field_memory, check_grid_std, check_shape, interp_matrix

__all__ = ['apply_elastic_field_torch', 'random_elastic_field_torch']


_TORCH_MODES = ("bilinear", "bicubic", "nearest")


_PADDING_MODES = ("reflection", "border", "zeros")


def _pixel_to_grid(fields: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """(B, 2, H, W) row/col displacements -> (B, H, W, 2) grid_sample grid (x, y in [-1, 1])."""
    dev, dt = fields.device, fields.dtype
    rows = torch.arange(h, device=dev, dtype=dt)[:, None] + fields[:, 0]  # (B, H, W)
    cols = torch.arange(w, device=dev, dtype=dt)[None, :] + fields[:, 1]  # (B, H, W)
    y = rows * (2.0 / (h - 1)) - 1.0 if h > 1 else torch.zeros_like(rows)
    x = cols * (2.0 / (w - 1)) - 1.0 if w > 1 else torch.zeros_like(cols)
    return torch.stack((x, y), dim=-1)  # (B, H, W, 2)


def nearest_exact(batch: torch.Tensor, fields: torch.Tensor, padding_mode: str) -> torch.Tensor:
    """Nearest-neighbour warp by indexing (bit-exact for integer ids of any size), same rounding as grid_sample."""
    b, c, h, w = batch.shape
    fields = fields.to(device=batch.device, dtype=torch.float64)
    rows = torch.round(torch.arange(h, device=batch.device, dtype=torch.float64)[:, None] + fields[:, 0]).long()
    cols = torch.round(torch.arange(w, device=batch.device, dtype=torch.float64)[None, :] + fields[:, 1]).long()
    inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)  # (B, H, W)
    if padding_mode == "reflection":  # mirror about the edge pixel centres, period 2 (n - 1)
        rows, cols = (
            torch.where(j >= n, 2 * (n - 1) - j, j) if n > 1 else torch.zeros_like(j)
            for j, n in (
                (torch.remainder(rows, max(2 * (h - 1), 1)), h),
                (torch.remainder(cols, max(2 * (w - 1), 1)), w),
            )
        )
    else:
        rows, cols = rows.clamp(0, h - 1), cols.clamp(0, w - 1)
    flat = (rows * w + cols).reshape(b, 1, h * w).expand(b, c, h * w)
    out = torch.gather(batch.reshape(b, c, h * w), 2, flat).reshape(b, c, h, w)
    if padding_mode == "zeros":
        out = torch.where(inside[:, None], out, torch.zeros_like(out))
    return out


def apply_elastic_field_torch(
    batch: torch.Tensor, fields: torch.Tensor, mode: str = "bilinear", padding_mode: str = "reflection"
) -> torch.Tensor:
    """Warp a batch with per-sample displacement fields using ``grid_sample``.

    Parameters
    ----------
    batch : (B, C, H, W) tensor
        Images (float) or label maps (integer, use ``mode="nearest"``).
    fields : (B, 2, H, W) tensor
        Row and column displacements in pixels, as in :func:`apply_elastic_field`.
    mode : {"bilinear", "bicubic", "nearest"}
        Interpolation kernel.
    padding_mode : {"reflection", "border", "zeros"}
        Out-of-image handling; ``"reflection"`` with ``align_corners=True``
        mirrors about the edge pixel centres like the numpy back-end's "mirror".

    Returns
    -------
    out : (B, C, H, W) tensor, dtype and device of ``batch``
        Samples whose field is all zero are returned bitwise unchanged.

    Raises
    ------
    ValueError
        On shape mismatch, an unknown ``mode`` or ``padding_mode``, or NaN/inf in ``fields`` or a
        floating-point ``batch``.
    TypeError
        If ``batch`` or ``fields`` is not a tensor, ``fields`` is not floating point or
        ``batch`` is complex.

    Notes
    -----
    ``align_corners=True``: normalised -1 and +1 are the centres of the first and
    last pixel, so pixel coordinates map exactly as in the numpy path. Integer
    inputs are sampled in float32 (float64 when some |id| >= 2**24, so every
    label id stays exact; with ``mode="nearest"`` ids beyond 2**53 are gathered by
    index instead), rounded, clipped to the dtype and cast back;
    float16/bfloat16 batches are sampled in float32; bool masks use nearest. Bicubic is Keys cubic convolution,
    not scipy's B-spline. Differentiable in ``batch`` and ``fields`` for float modes.

    Examples
    --------
    >>> x = torch.arange(12.0).reshape(1, 1, 3, 4)
    >>> f = torch.zeros(1, 2, 3, 4); f[:, 1] = 1.0
    >>> apply_elastic_field_torch(x, f)[0, 0, 0].tolist()
    [1.0, 2.0, 3.0, 2.0]
    """
    if not isinstance(batch, torch.Tensor) or not isinstance(fields, torch.Tensor):
        raise TypeError(
            f"batch and fields must be torch tensors, got {type(batch).__name__} and {type(fields).__name__}"
        )
    if batch.ndim != 4 or batch.numel() == 0:
        raise ValueError(f"batch must be a non-empty (B, C, H, W) tensor, got {fmt(batch)}")
    b, _, h, w = batch.shape
    if tuple(fields.shape) != (b, 2, h, w):
        raise ValueError(f"fields must have shape (B, 2, H, W) = {(b, 2, h, w)} to match batch, got {fmt(fields)}")
    if mode not in _TORCH_MODES:
        raise ValueError(f"mode must be one of {_TORCH_MODES}, got {mode!r}")
    if padding_mode not in _PADDING_MODES:
        raise ValueError(f"padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}")
    if not fields.is_floating_point():
        raise TypeError(
            f"fields must be a floating-point tensor of displacements, got {fmt(fields)}; use fields.float()"
        )
    if not bool(torch.isfinite(fields).all()):
        raise ValueError("fields must be finite, but they hold NaN or inf displacements")
    if batch.is_complex():
        raise TypeError(f"batch must be a real (float, integer or bool) tensor, got {fmt(batch)}")
    if batch.is_floating_point() and not bool(torch.isfinite(batch).all()):
        raise ValueError(
            f"batch must be finite, but {int((~torch.isfinite(batch)).sum())} value(s) are NaN or inf; "
            "replace them (torch.nan_to_num) first"
        )
    if batch.dtype == torch.bool:
        return apply_elastic_field_torch(batch.to(torch.uint8), fields, "nearest", padding_mode).bool()
    if batch.dtype in (torch.float32, torch.float64):
        work = batch
    elif batch.is_floating_point():  # half precision would put pixel coordinates off by ~0.3 px at 572
        work = batch.float()
    else:
        big = batch.abs().max() if batch.dtype != torch.uint8 else torch.tensor(0)
        if mode == "nearest" and bool(big >= 2**53):  # beyond float64's integers: index, do not interpolate
            return nearest_exact(batch, fields, padding_mode)
        exact32 = batch.element_size() <= 2 or bool(big < 2**24)  # float32 holds these ids exactly
        work = batch.to(torch.float32 if exact32 else torch.float64)
    fields = fields.to(device=batch.device, dtype=work.dtype)
    grid = _pixel_to_grid(fields, h, w)  # (B, H, W, 2)
    out = F.grid_sample(work, grid, mode=mode, padding_mode=padding_mode, align_corners=True)
    if not batch.is_floating_point():  # round; clip cubic overshoot instead of wrapping around
        out = out.round().clamp(torch.iinfo(batch.dtype).min, torch.iinfo(batch.dtype).max)
    out = out.to(batch.dtype)
    zero = fields.flatten(1).abs().amax(dim=1) == 0  # (B,) samples with an identity field
    return torch.where(zero[:, None, None, None], batch, out)


def random_elastic_field_torch(
    batch_size: int,
    shape: tuple[int, int],
    grid: int = ELASTIC_GRID,
    std: float = ELASTIC_STD,
    generator: torch.Generator | None = None,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """Draw ``batch_size`` random fields directly as a tensor on ``device``.

    Parameters
    ----------
    batch_size : int
        Number of fields B (>= 1).
    shape : (H, W) tuple of int
        Image size.
    grid, std : int, float
        As in :func:`random_elastic_field` (paper: 3, 10.0).
    generator : torch.Generator or None
        CPU generator for the coarse draws (reproducible across devices).
    device : str or torch.device
        Where the returned fields live.

    Returns
    -------
    fields : (B, 2, H, W) float32 tensor

    Raises
    ------
    TypeError
        As :func:`random_elastic_field`, or if ``batch_size`` is not an int or ``generator`` not
        a ``torch.Generator``.
    ValueError
        As :func:`random_elastic_field`, if ``batch_size < 1`` or ``device`` is not available.
    MemoryError
        (``MemoryBudgetError``) if the fields would not fit into the available memory.

    Notes
    -----
    The coarse ``(B, 2, g, g)`` draw is made on the CPU, so the same generator
    seed gives the same fields on every device; upsampling is two float32
    matmuls on ``device`` with the same cubic-spline matrices as the numpy path.

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> random_elastic_field_torch(4, (32, 32), generator=g).shape
    torch.Size([4, 2, 32, 32])
    """
    check_grid_std(grid, std)
    h, w = check_shape(shape)
    if check_int(batch_size, "batch_size") < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {fmt(batch_size)}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {fmt(generator)}")
    dev = resolve_device(device)
    check_field_memory(int(batch_size), h, w, "batch_size")
    coarse = torch.randn((int(batch_size), 2, grid, grid), generator=generator, dtype=torch.float64) * float(std)
    coarse = coarse.to(device=dev, dtype=torch.float32)  # (B, 2, g, g): only this small draw crosses devices
    mh = torch.from_numpy(interp_matrix(h, grid).astype(np.float32)).to(dev)  # (H, g)
    mw = torch.from_numpy(interp_matrix(w, grid).astype(np.float32)).to(dev)  # (W, g)
    return mh @ coarse @ mw.T  # (H, g) @ (B, 2, g, g) @ (g, W) -> (B, 2, H, W)
