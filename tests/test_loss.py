"""Tests of Eq. 1 (unet_core.training.loss): brute-force agreement, identities, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from unet_core.training.loss import WeightedCrossEntropy, weighted_cross_entropy


def _eq1_bruteforce(logits: np.ndarray, target: np.ndarray, weight: np.ndarray) -> float:
    """-E of Eq. 1 by explicit loops over pixels, in float64."""
    b, k, h, w = logits.shape
    energy = 0.0
    for n in range(b):
        for y in range(h):
            for x in range(w):
                a = logits[n, :, y, x].astype(np.float64)
                p = np.exp(a) / np.exp(a).sum()
                energy += weight[n, y, x] * math.log(p[target[n, y, x]])
    return -energy


def _random_case(rng, b=2, k=3, h=5, w=4):
    logits = rng.normal(scale=3.0, size=(b, k, h, w)).astype(np.float32)
    target = rng.integers(0, k, size=(b, h, w))
    weight = rng.uniform(0.0, 10.0, size=(b, h, w)).astype(np.float32)
    return logits, target, weight


def _tensors(logits, target, weight):
    return torch.from_numpy(logits), torch.from_numpy(target).long(), torch.from_numpy(weight)


def test_sum_matches_bruteforce_eq1(rng):
    logits, target, weight = _random_case(rng)
    expected = _eq1_bruteforce(logits, target, weight)
    got = weighted_cross_entropy(*_tensors(logits, target, weight), reduction="sum")
    assert got.dtype == torch.float32 and got.ndim == 0
    assert got.item() == pytest.approx(expected, rel=1e-5)


def test_mean_divides_by_pixel_count_not_weight_sum(rng):
    logits, target, weight = _random_case(rng)
    expected = _eq1_bruteforce(logits, target, weight) / target.size
    got = weighted_cross_entropy(*_tensors(logits, target, weight))
    assert got.item() == pytest.approx(expected, rel=1e-5)
    assert got.item() != pytest.approx(_eq1_bruteforce(logits, target, weight) / weight.sum(), rel=1e-3)


def test_none_reduction_is_pixel_map(rng):
    logits, target, weight = _random_case(rng, b=1, k=2, h=3, w=3)
    got = weighted_cross_entropy(*_tensors(logits, target, weight), reduction="none")
    assert got.shape == (1, 3, 3)
    one = np.zeros_like(weight)
    one[0, 1, 2] = weight[0, 1, 2]
    assert got[0, 1, 2].item() == pytest.approx(_eq1_bruteforce(logits, target, one), rel=1e-5)


def test_unit_weight_equals_torch_cross_entropy(rng):
    logits, target, _ = _random_case(rng, k=4)
    lt, tt = torch.from_numpy(logits), torch.from_numpy(target).long()
    expected = F.cross_entropy(lt, tt)
    assert torch.allclose(weighted_cross_entropy(lt, tt, torch.ones(tt.shape)), expected, atol=1e-6)
    assert torch.allclose(weighted_cross_entropy(lt, tt, None), expected, atol=1e-6)
    assert torch.allclose(WeightedCrossEntropy()(lt, tt), expected, atol=1e-6)


def test_weights_scale_linearly_and_zero_weight_gives_zero(rng):
    logits, target, weight = _random_case(rng)
    lt, tt, wt = _tensors(logits, target, weight)
    assert torch.allclose(weighted_cross_entropy(lt, tt, 3 * wt), 3 * weighted_cross_entropy(lt, tt, wt), rtol=1e-6)
    assert weighted_cross_entropy(lt, tt, torch.zeros_like(wt)).item() == 0.0


def test_gradient_is_weighted_softmax_minus_onehot(rng):
    logits, target, weight = _random_case(rng, b=1, k=3, h=2, w=2)
    lt, tt, wt = _tensors(logits, target, weight)
    lt.requires_grad_(True)
    weighted_cross_entropy(lt, tt, wt, reduction="sum").backward()
    expected = (torch.softmax(lt.detach(), 1) - F.one_hot(tt, 3).permute(0, 3, 1, 2)) * wt[:, None]
    assert torch.allclose(lt.grad, expected, atol=1e-5)


def test_numerically_stable_for_huge_logits():
    logits = torch.tensor([[[[1000.0]], [[-1000.0]]]])  # (1, 2, 1, 1)
    target = torch.tensor([[[1]]])
    loss = weighted_cross_entropy(logits, target)
    assert torch.isfinite(loss) and loss.item() == pytest.approx(2000.0)
    assert weighted_cross_entropy(logits, torch.tensor([[[0]]])).item() == 0.0


def test_bf16_logits_are_upcast(rng):
    logits, target, weight = _random_case(rng)
    lt, tt, wt = _tensors(logits, target, weight)
    got = weighted_cross_entropy(lt.bfloat16(), tt, wt)
    assert got.dtype == torch.float32
    assert got.item() == pytest.approx(weighted_cross_entropy(lt.bfloat16().float(), tt, wt).item(), rel=1e-6)


def test_ignore_index_excludes_pixels(rng):
    logits, target, weight = _random_case(rng, k=2)
    target = target.copy()
    target[:, 0, :] = 255
    kept = target != 255
    lt, tt, wt = _tensors(logits, target, weight)
    got = weighted_cross_entropy(lt, tt, wt, ignore_index=255)
    masked_w = np.where(kept, weight, 0.0)
    expected = _eq1_bruteforce(logits, np.where(kept, target, 0), masked_w) / kept.sum()
    assert got.item() == pytest.approx(expected, rel=1e-5)
    assert torch.allclose(
        WeightedCrossEntropy(ignore_index=255)(lt, tt), F.cross_entropy(lt, tt, ignore_index=255), atol=1e-6
    )


def test_module_wrapper_passes_reduction():
    crit = WeightedCrossEntropy(reduction="sum")
    assert "reduction='sum'" in repr(crit)
    loss = crit(torch.zeros(1, 2, 2, 2), torch.zeros(1, 2, 2, dtype=torch.int64))
    assert loss.item() == pytest.approx(4 * math.log(2))


L = torch.zeros(2, 3, 4, 4)
T = torch.zeros(2, 4, 4, dtype=torch.int64)
W = torch.ones(2, 4, 4)


@pytest.mark.parametrize(
    "logits, target, weight, kwargs, error, match",
    [
        (np.zeros((2, 3, 4, 4)), T, W, {}, TypeError, r"logits must be a floating point torch.Tensor"),
        (L.long(), T, W, {}, TypeError, r"logits must be a floating point"),
        (L[0], T, W, {}, ValueError, r"logits must have shape \(B, K, H, W\).*logits\[None\]"),
        (L[:, :1], T, W, {}, ValueError, r"at least 2 class channels"),
        (L, T.int(), W, {}, TypeError, r"target must be an int64 .*torch.int32; use target.long\(\)"),
        (L, T[:, :3], W, {}, ValueError, r"target must have shape \(B, H, W\) = \(2, 4, 4\).*\(2, 3, 4\)"),
        (L, T, W[:1], {}, ValueError, r"weight must have shape \(B, H, W\) = \(2, 4, 4\)"),
        (L, T, W.long(), {}, TypeError, r"weight must be a floating point .*weight.float\(\)"),
        (L, T, -W, {}, ValueError, r"weight must be >= 0 everywhere, got minimum -1"),
        (L, T, W * float("nan"), {}, ValueError, r"weight must be finite, but 32 pixel\(s\)"),
        (L, T + 3, W, {}, ValueError, r"target values must lie in \[0, 2\] for 3 classes, got values in \[3, 3\]"),
        (L, T - 1, W, {}, ValueError, r"target values must lie in \[0, 2\].*\[-1, -1\]"),
        (L, T, W, {"reduction": "avg"}, ValueError, r"reduction must be one of .*'avg'"),
    ],
)
def test_errors(logits, target, weight, kwargs, error, match):
    with pytest.raises(error, match=match):
        weighted_cross_entropy(logits, target, weight, **kwargs)


def test_module_rejects_bad_reduction():
    with pytest.raises(ValueError, match="reduction must be one of"):
        WeightedCrossEntropy(reduction="mean_of_weights")


def test_check_false_skips_the_value_checks_only(rng):
    logits, target, weight = _random_case(rng)
    lt, tt, wt = _tensors(logits, target, weight)
    assert weighted_cross_entropy(lt, tt, wt, check=False).item() == weighted_cross_entropy(lt, tt, wt).item()
    assert torch.isnan(weighted_cross_entropy(lt, tt, wt * float("nan"), check=False))  # not refused: not read
    with pytest.raises(ValueError, match=r"target must have shape \(B, H, W\)"):  # types and shapes: still checked
        weighted_cross_entropy(lt, tt[:, :2], wt, check=False)
    with pytest.raises(TypeError, match=r"target must be an int64"):
        weighted_cross_entropy(lt, tt.int(), wt, check=False)


def test_ignore_index_mean_keeps_the_count_on_the_device(rng):
    logits, target, weight = _random_case(rng, k=2)
    target = target.copy()
    target[0] = 255  # every pixel of the first tile is ignored
    lt, tt, wt = _tensors(logits, target, weight)
    got = weighted_cross_entropy(lt, tt, wt, ignore_index=255, check=False)
    assert (
        got.item()
        == (weighted_cross_entropy(lt, tt, wt, ignore_index=255, reduction="sum") / (target != 255).sum()).item()
    )
    assert weighted_cross_entropy(lt, torch.full_like(tt, 255), wt, ignore_index=255).item() == 0.0  # no pixel: 0
