"""The momentum arithmetic and the per-tile gradient measurement of chapter 11 (unet_core.book.gradients)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import unet_core as uc
from unet_core.book.gradients import average_agreement, momentum_share, momentum_window, tile_gradients


def test_momentum_share_and_window_follow_the_geometric_weights():
    assert momentum_share(0.99, 69) == pytest.approx(0.5, abs=0.003)  # half of the step from the last 69 tiles
    assert momentum_window(0.99) == pytest.approx(68.97, abs=0.01)
    assert momentum_window(0.9, 0.9) == pytest.approx(21.85, abs=0.01)
    assert momentum_share(0.5, 0) == 0.0 and momentum_share(0.0, 1) == 1.0
    with pytest.raises(ValueError, match="momentum"):
        momentum_window(1.0)
    with pytest.raises(ValueError, match="share"):
        momentum_window(0.99, 0.0)


def _tiles(n):
    rng = np.random.default_rng(0)
    return [
        (torch.from_numpy(rng.normal(size=(1, 44, 44)).astype(np.float32)),
         torch.from_numpy(rng.integers(0, 2, (4, 4))), torch.ones(4, 4))
        for _ in range(n)
    ]  # fmt: skip


def test_tile_gradients_are_each_tiles_own_gradient_and_leave_the_model_as_it_was():
    torch.manual_seed(0)
    net = uc.UNet(base_channels=2, depth=3).train()
    tiles = _tiles(3)
    assert net.output_size(44) == 4
    grads = tile_gradients(net, tiles, 3)
    assert grads.shape == (3, sum(p.numel() for p in net.parameters()))
    assert net.training and all(p.grad is None for p in net.parameters())
    x, y, w = tiles[1]
    net.eval()
    uc.weighted_cross_entropy(net(x[None]), y[None], w[None]).backward()
    manual = torch.cat([p.grad.reshape(-1) for p in net.parameters()])
    assert torch.allclose(grads[1], manual, atol=1e-6) and not torch.allclose(grads[0], manual)
    with pytest.raises(ValueError, match="n must be <= len"):
        tile_gradients(net, tiles, 4)


def test_average_agreement_is_one_for_equal_gradients_and_grows_with_the_group_for_noisy_ones():
    same = torch.ones(8, 5)
    assert all(m == pytest.approx(1.0) for m, _ in average_agreement(same, [1, 4]).values())
    rng = np.random.default_rng(1)
    noisy = torch.from_numpy(0.2 + rng.normal(size=(64, 400)))  # a small common direction under noise
    agree = average_agreement(noisy, [1, 32], draws=30, rng=np.random.default_rng(2))
    assert agree[1][0] < 0.1 and agree[32][0] > 0.45  # expected 0.04 and 0.56 (signal 0.04, noise 1 and 1/32)
    with pytest.raises(ValueError, match="2 k <= n"):
        average_agreement(same, [5])
    with pytest.raises(TypeError, match="per-tile gradients"):
        average_agreement(np.ones((4, 2)), [1])
