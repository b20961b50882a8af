"""What one training tile's gradient says: the paper's case for momentum 0.99 with batch 1.

Ronneberger et al. (2015), Sec. 3: "we favor large input tiles over a large batch size and hence
reduce the batch to a single image. Accordingly we use a high momentum (0.99) such that a large
number of the previously seen training samples determine the update in the current optimization
step." These helpers put numbers on that sentence: how the weight of past tiles decays under
momentum (:func:`momentum_share`, :func:`momentum_window`), and how well the gradients of single
tiles, and of averages over more tiles, agree on real data (:func:`tile_gradients`,
:func:`average_agreement`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from ..training.loss import weighted_cross_entropy
from ..utils.validation import check_int, check_real

__all__ = ["momentum_share", "momentum_window", "tile_gradients", "average_agreement"]


def momentum_share(momentum: float, n: int) -> float:
    """Share of an SGD-with-momentum update that comes from the last ``n`` gradients (after many steps).

    With velocity ``v_t = momentum * v_{t-1} + g_t`` the update ``lr * v_t`` weights the gradient of
    ``k`` steps ago by ``momentum**k``; the last ``n`` carry ``1 - momentum**n`` of the total.

    Examples
    --------
    >>> round(momentum_share(0.99, 100), 3), round(momentum_share(0.9, 10), 3)
    (0.634, 0.651)
    """
    momentum = check_real(momentum, "momentum", 0, 1, fix="the SGD momentum, e.g. 0.99")
    n = check_int(n, "n", low=0, fix="a number of steps, e.g. 100")
    return 1.0 - momentum**n


def momentum_window(momentum: float, share: float = 0.5) -> float:
    """Steps whose gradients carry ``share`` of an update: ``log(1 - share) / log(momentum)``.

    Notes
    -----
    The total weight of all past gradients is ``1 / (1 - momentum)``: 100 tiles at 0.99, 10 at 0.9.

    Examples
    --------
    >>> round(momentum_window(0.99), 1), round(momentum_window(0.99, 0.9), 1)
    (69.0, 229.1)
    """
    momentum = check_real(momentum, "momentum", 0, 1, low_open=True, high_open=True, fix="e.g. 0.99")
    share = check_real(share, "share", 0, 1, low_open=True, high_open=True, fix="a fraction, e.g. 0.5")
    return math.log(1.0 - share) / math.log(momentum)


def tile_gradients(model: torch.nn.Module, tiles, n: int, device="cpu") -> torch.Tensor:
    """The gradient of Eq. 1's loss for each of the first ``n`` training tiles, flattened.

    Parameters
    ----------
    model : torch.nn.Module
        The network; left in the mode it came in, its ``.grad`` untouched.
    tiles : sequence
        Items ``(image (C, H, W), label (h, w), weight (h, w))`` tensors, e.g.
        :func:`unet_core.recipes.run.recipe_tiles`.
    n : int
        Tiles to use, 1 <= n <= len(tiles).
    device : str or torch.device

    Returns
    -------
    torch.Tensor
        (n, P) float32 on the CPU, P = the number of trainable parameters.

    Notes
    -----
    The loss is the weighted cross-entropy of Eq. 1 (mean over pixels), the network in eval mode
    (no dropout), so that the differences between rows are those of the tiles alone.
    """
    n = check_int(n, "n", low=1, fix="a number of tiles, e.g. 32")
    if n > len(tiles):
        raise ValueError(f"n must be <= len(tiles) = {len(tiles)}, got {n}; draw more tiles or ask for fewer")
    params = [p for p in model.parameters() if p.requires_grad]
    was_training = model.training
    model.eval()
    rows = []
    try:
        for i in range(n):
            x, y, w = (t.to(device) for t in tiles[i])
            loss = weighted_cross_entropy(model(x[None]), y[None], w[None])
            grads = torch.autograd.grad(loss, params)
            rows.append(torch.cat([g.detach().reshape(-1).float().cpu() for g in grads]))
    finally:
        model.train(was_training)
    return torch.stack(rows)  # (n, P)


def average_agreement(
    grads: torch.Tensor, sizes: Sequence[int], draws: int = 20, rng: np.random.Generator | None = None
) -> dict[int, tuple[float, float]]:
    """How well the mean gradient of ``k`` tiles agrees with that of ``k`` other tiles.

    Parameters
    ----------
    grads : torch.Tensor
        (n, P) gradients, one row per tile (:func:`tile_gradients`).
    sizes : sequence of int
        Group sizes ``k``, each with ``2 k <= n``.
    draws : int
        Random pairs of disjoint groups per size.
    rng : numpy.random.Generator or None
        Draws the groups (None: seed 0).

    Returns
    -------
    dict
        ``{k: (mean cosine, sd of the cosine over the draws)}``. 1 means the two groups point the same
        way; 0, that one group's average says nothing of the other's.

    Examples
    --------
    >>> g = torch.tensor([[1.0, 0.0], [1.0, 0.2], [1.0, -0.2], [1.0, 0.1]])
    >>> {k: round(m, 2) for k, (m, s) in average_agreement(g, [1, 2]).items()}
    {1: 0.97, 2: 0.98}
    """
    if not isinstance(grads, torch.Tensor) or grads.ndim != 2:
        raise TypeError(f"grads must be an (n, P) tensor of per-tile gradients, got {type(grads).__name__}")
    n = grads.shape[0]
    draws = check_int(draws, "draws", low=1, fix="e.g. 20")
    rng = np.random.default_rng(0) if rng is None else rng
    gram = (grads.double() @ grads.double().T).numpy()  # (n, n): every dot product once
    out = {}
    for k in sizes:
        k = check_int(k, "sizes[i]", low=1, fix=f"group sizes with 2 k <= n = {n}")
        if 2 * k > n:
            raise ValueError(f"sizes must satisfy 2 k <= n = {n} (two disjoint groups), got k = {k}")
        cosines = []
        for _ in range(draws):
            pick = rng.permutation(n)
            a, b = pick[:k], pick[k : 2 * k]
            ab, aa, bb = gram[np.ix_(a, b)].sum(), gram[np.ix_(a, a)].sum(), gram[np.ix_(b, b)].sum()
            cosines.append(ab / math.sqrt(max(aa * bb, 1e-300)))
        out[k] = (float(np.mean(cosines)), float(np.std(cosines, ddof=1)) if draws > 1 else 0.0)
    return out
