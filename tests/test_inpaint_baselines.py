import pytest
import torch

from ganinverse.inpaint_baselines import (
    biharmonic_inpaint,
    nearest_neighbor_inpaint,
    nearest_neighbors,
    tv_inpaint,
)
from ganinverse.masks import center_mask, random_mask


def step_edge(n=2, size=16):
    x = -torch.ones(n, 1, size, size)
    x[:, :, size // 2 :] = 1
    return x


def band_mask(n=2, size=16):
    mask = torch.ones(n, 1, size, size)
    mask[..., 5:11] = 0  # a band of columns across the edge
    return mask


def tv(x):
    dy = torch.zeros_like(x)
    dx = torch.zeros_like(x)
    dy[..., :-1, :] = x[..., 1:, :] - x[..., :-1, :]
    dx[..., :, :-1] = x[..., :, 1:] - x[..., :, :-1]
    return (dy.pow(2) + dx.pow(2)).sqrt().sum((1, 2, 3))


def test_tv_continues_a_straight_edge_through_the_hole():
    x, mask = step_edge(), band_mask()
    y = torch.where(mask.bool(), x, torch.nan)
    out = tv_inpaint(y, mask, iters=1000)
    assert float((out - x).abs().mean()) < 1e-3
    assert torch.equal(out[mask.bool().expand_as(x)], x[mask.bool().expand_as(x)])


def test_tv_does_not_increase_tv_over_a_smooth_truth():
    gen = torch.Generator().manual_seed(0)
    x = torch.nn.functional.interpolate(
        torch.rand(2, 3, 4, 4, generator=gen) * 2 - 1, size=(12, 12), mode="bilinear"
    )
    mask = random_mask(2, (12, 12), missing=0.5, seed=1)
    out = tv_inpaint(x, mask, iters=800)
    assert out.shape == x.shape
    assert bool((tv(out) <= tv(x) + 1e-3).all())


def test_biharmonic_reproduces_a_linear_ramp():
    ramp = torch.linspace(-1, 1, 16).view(1, 1, 1, 16).expand(2, 3, 16, 16).contiguous()
    mask = center_mask(2, (16, 16), fraction=0.5)
    out = biharmonic_inpaint(ramp, mask)
    assert out.shape == ramp.shape
    assert float((out - ramp).abs().max()) < 1e-3


def test_nearest_neighbour_uses_only_known_pixels():
    gen = torch.Generator().manual_seed(0)
    train = torch.rand(50, 1, 8, 8, generator=gen) * 2 - 1
    x = train[[7, 31]].clone()
    mask = center_mask(2, (8, 8), fraction=0.5)
    y = torch.where(mask.bool(), x, 5.0)  # garbage in the hole must not matter
    y[:, :, 2:6, 2:6] = torch.nan
    assert nearest_neighbors(y, mask, train, chunk=7).tolist() == [7, 31]
    assert torch.equal(nearest_neighbor_inpaint(y, mask, train, chunk=7), x)


def test_nearest_neighbour_matches_brute_force():
    gen = torch.Generator().manual_seed(1)
    train = torch.rand(40, 3, 6, 6, generator=gen) * 2 - 1
    y = torch.rand(5, 3, 6, 6, generator=gen) * 2 - 1
    mask = random_mask(5, (6, 6), missing=0.6, seed=2)
    dist = ((y[:, None] - train[None]) ** 2 * mask[:, None]).sum((2, 3, 4))
    assert torch.equal(nearest_neighbors(y, mask, train, chunk=16), dist.argmin(1))


def test_baselines_validate_inputs():
    y = step_edge()
    with pytest.raises(ValueError, match="mask must be"):
        tv_inpaint(y, torch.ones(2, 1, 4, 4))
    with pytest.raises(ValueError, match="no known pixel"):
        biharmonic_inpaint(y, torch.zeros(16, 16))
    with pytest.raises(ValueError, match="train must have shape"):
        nearest_neighbors(y, band_mask(), torch.zeros(3, 1, 8, 8))
    with pytest.raises(ValueError, match=r"y \(known pixels\) contains NaN"):
        tv_inpaint(torch.full_like(y, torch.nan), band_mask())
