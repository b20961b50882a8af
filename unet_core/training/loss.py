"""Eq. 1: pixel-wise softmax followed by a weighted cross-entropy.

The paper computes, at every pixel ``x`` of the output map, a soft-max over the
``K`` class channels and penalises the log-probability of the true label,
weighted by a per-pixel weight map ``w`` (Eq. 2, :mod:`unet_core.data.loss_weights`)::

    p_k(x) = exp(a_k(x)) / sum_k' exp(a_k'(x))
    E      = sum_x w(x) log p_{l(x)}(x)

``E`` is an energy to maximise; as a loss we minimise ``-E``. This module
provides the functional form :func:`weighted_cross_entropy` and a thin
``nn.Module`` wrapper :class:`WeightedCrossEntropy`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..utils.validation import fmt, is_int

__all__ = ['weighted_cross_entropy', 'WeightedCrossEntropy']


_REDUCTIONS = ("mean", "sum", "none")


def _check_ignore_index(ignore_index) -> None:
    if ignore_index is not None and not is_int(ignore_index):
        raise TypeError(f"ignore_index must be an int label value or None, got {fmt(ignore_index)}")


def _check_inputs(logits, target, weight, reduction, ignore_index, values: bool = True) -> None:
    """Raise TypeError/ValueError with a fix for every malformed input of Eq. 1.

    ``values=False`` checks the types and shapes only (free: no tensor's values are read), not the
    label range nor the weights' finiteness and sign (each a read of the values on the host).
    """
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point():
        raise TypeError(f"logits must be a floating point torch.Tensor of shape (B, K, H, W), got {fmt(logits)}")
    if logits.ndim != 4:
        raise ValueError(f"logits must have shape (B, K, H, W), got {fmt(logits)}; add a batch axis with logits[None]")
    if logits.shape[1] < 2:
        raise ValueError(f"logits must have at least 2 class channels (axis 1) for a softmax, got {fmt(logits)}")
    _check_ignore_index(ignore_index)
    if not isinstance(target, torch.Tensor) or target.dtype != torch.int64:
        raise TypeError(f"target must be an int64 torch.Tensor of class indices, got {fmt(target)}; use target.long()")
    expected = (logits.shape[0], *logits.shape[2:])
    if tuple(target.shape) != expected:
        raise ValueError(
            f"target must have shape (B, H, W) = {expected} to match logits {tuple(logits.shape)}, got {fmt(target)}; "
            "crop the labels to the network's output size (model.output_size)"
        )
    if weight is not None:
        if not isinstance(weight, torch.Tensor) or not weight.is_floating_point():
            raise TypeError(
                f"weight must be a floating point torch.Tensor or None, got {fmt(weight)}; use weight.float()"
            )
        if tuple(weight.shape) != expected:
            raise ValueError(f"weight must have shape (B, H, W) = {expected} like target, got {fmt(weight)}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    if not values:
        return
    if weight is not None:
        if not bool(torch.isfinite(weight).all()):
            bad = int((~torch.isfinite(weight)).sum())
            raise ValueError(f"weight must be finite, but {bad} pixel(s) are NaN or inf; fix the weight map")
        if bool((weight < 0).any()):
            raise ValueError(
                f"weight must be >= 0 everywhere, got minimum {weight.min().item():.4g}; weights scale a "
                "log-likelihood and a negative weight would reward wrong predictions"
            )
    num_classes = logits.shape[1]
    valid = target if ignore_index is None else target[target != ignore_index]
    if valid.numel() and (int(valid.min()) < 0 or int(valid.max()) >= num_classes):
        raise ValueError(
            f"target values must lie in [0, {num_classes - 1}] for {num_classes} classes, got values in "
            f"[{int(valid.min())}, {int(valid.max())}]; check the label encoding or pass ignore_index"
        )


def weighted_cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
    reduction: str = "mean",
    ignore_index: int | None = None,
    *,
    check: bool = True,
) -> torch.Tensor:
    """Pixel-wise softmax + weighted cross-entropy of Eq. 1, as a loss (``-E``).

    Parameters
    ----------
    logits : (B, K, H, W) float tensor
        Raw network scores ``a_k(x)`` (before the softmax).
    target : (B, H, W) int64 tensor
        True class ``l(x)`` of each pixel, in ``[0, K)`` (or ``ignore_index``).
    weight : (B, H, W) float tensor or None
        Non-negative pixel weights ``w(x)`` (Eq. 2); None means all ones, which
        gives the plain cross-entropy.
    reduction : {"mean", "sum", "none"}
        ``"mean"``: ``sum_x w(x) CE(x) / N`` with ``N`` the number of
        (non-ignored) pixels; ``"sum"``: ``sum_x w(x) CE(x)``, i.e. ``-E``
        exactly; ``"none"``: the (B, H, W) map ``w(x) CE(x)``.
    ignore_index : int or None
        Label value whose pixels contribute nothing (and do not count in ``N``).
    check : bool
        Check the values of ``target`` (in ``[0, K)``) and ``weight`` (finite, >= 0), as well as the types
        and shapes of all inputs. False checks the types and shapes only: reading the values waits for
        the device (four host synchronisations per call), and the training loop passes False because its
        tiles were checked when they were made (``TrainingTiles`` / ``sample_training_tile`` check the
        labels and build the Eq. 2 weights); out-of-range labels then fail inside ``gather``, and
        negative or non-finite weights give a wrong or non-finite loss.

    Returns
    -------
    loss : tensor
        0-d float32 tensor, or (B, H, W) for ``reduction="none"``.

    Raises
    ------
    TypeError
        If logits are not floating point, target is not int64 or weight is not floating point.
    ValueError
        If shapes disagree, target values are outside ``[0, K)``, weights are negative or
        not finite (these two only with ``check=True``), or ``reduction`` is unknown.

    Notes
    -----
    Eq. 1 of Ronneberger et al. (2015)::

        E = sum_x w(x) log p_{l(x)}(x),   p_k(x) = exp(a_k(x)) / sum_k' exp(a_k'(x))

    Non-finite *logits* (a diverged network) give a non-finite loss, on purpose: ``train``
    stops on it with a ``FloatingPointError`` that names the step and the fix, where it reads the loss.

    ``log p`` is computed with ``log_softmax`` (the log-sum-exp trick), so large
    scores neither overflow nor underflow; logits are upcast to float32 first,
    which keeps the loss accurate under bf16 autocast.

    Why ``"mean"`` divides by the number of pixels and not by ``sum_x w(x)``:
    the pixel count is a constant for a fixed tile size, so the mean is Eq. 1
    up to a fixed factor that the learning rate absorbs, and the learning rate
    does not depend on the tile size. Dividing by the sum of weights would make
    the loss invariant to rescaling ``w`` (undoing the class-frequency balancing
    of Eq. 2) and would silently shrink the gradient of exactly those tiles
    with many heavily weighted border pixels that Eq. 2 wants to emphasise.

    References
    ----------
    O. Ronneberger, P. Fischer, T. Brox, "U-Net: Convolutional Networks for
    Biomedical Image Segmentation", MICCAI 2015, Sec. 3, Eq. 1.

    Examples
    --------
    >>> logits = torch.zeros(1, 2, 4, 4)
    >>> target = torch.zeros(1, 4, 4, dtype=torch.int64)
    >>> round(weighted_cross_entropy(logits, target).item(), 4)  # log 2
    0.6931
    >>> round(weighted_cross_entropy(logits, target, 2 * torch.ones(1, 4, 4)).item(), 4)
    1.3863
    >>> weighted_cross_entropy(logits, target + 2)
    Traceback (most recent call last):
    ...
    ValueError: target values must lie in [0, 1] for 2 classes, got values in [2, 2]; check the label encoding or pass ignore_index
    >>> weighted_cross_entropy(logits, target, check=False).item() == weighted_cross_entropy(logits, target).item()
    True
    """
    _check_inputs(logits, target, weight, reduction, ignore_index, values=check)
    log_p = F.log_softmax(logits.float(), dim=1)  # (B, K, H, W)
    keep = None if ignore_index is None else target != ignore_index  # (B, H, W) bool
    index = target if keep is None else torch.where(keep, target, torch.zeros_like(target))
    ce = -log_p.gather(1, index.unsqueeze(1)).squeeze(1)  # (B, H, W): -log p_{l(x)}(x)
    if weight is not None:
        ce = ce * weight.to(ce.dtype)
    if keep is not None:
        ce = ce * keep
    if reduction == "none":
        return ce
    if reduction == "sum":
        return ce.sum()
    if keep is None:
        return ce.sum() / max(ce.numel(), 1)
    return ce.sum() / keep.sum().clamp_min(1)  # the count stays on the device: no host synchronisation


class WeightedCrossEntropy(nn.Module):
    """``nn.Module`` form of :func:`weighted_cross_entropy` (Eq. 1).

    Parameters
    ----------
    reduction : {"mean", "sum", "none"}
        See :func:`weighted_cross_entropy`.
    ignore_index : int or None
        Label value to ignore.

    Raises
    ------
    ValueError
        If ``reduction`` is unknown.
    TypeError
        If ``ignore_index`` is neither an int nor None.

    Examples
    --------
    >>> criterion = WeightedCrossEntropy()
    >>> loss = criterion(torch.zeros(1, 2, 3, 3), torch.ones(1, 3, 3, dtype=torch.int64))
    >>> round(loss.item(), 4)
    0.6931
    """

    def __init__(self, reduction: str = "mean", ignore_index: int | None = None) -> None:
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
        _check_ignore_index(ignore_index)
        self.reduction = reduction
        self.ignore_index = ignore_index

    def forward(self, logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        """Return the loss of Eq. 1 for a batch; see :func:`weighted_cross_entropy`."""
        return weighted_cross_entropy(logits, target, weight, self.reduction, self.ignore_index)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}, ignore_index={self.ignore_index}"
