import pytest
import torch

from ganinverse.blending import poisson_blend
from ganinverse.masks import center_mask, random_mask


def smooth_images(n, c=1, h=12, w=12, seed=0):
    gen = torch.Generator().manual_seed(seed)
    low = torch.rand(n, c, 4, 4, generator=gen) * 1.6 - 0.8
    return torch.nn.functional.interpolate(low, size=(h, w), mode="bilinear", align_corners=True)


def jacobi_harmonic(y, known, tol=1e-13):
    """Independent solve: x_p = mean of its in-image 4-neighbours on missing pixels, to convergence."""
    x = torch.where(known, y, torch.zeros_like(y)).double()
    y = y.double()
    ones = torch.nn.functional.pad(torch.ones_like(x), (1, 1, 1, 1))
    count = ones[..., :-2, 1:-1] + ones[..., 2:, 1:-1] + ones[..., 1:-1, :-2] + ones[..., 1:-1, 2:]
    change = 1.0
    while change > tol:
        pad = torch.nn.functional.pad(x, (1, 1, 1, 1))
        total = pad[..., :-2, 1:-1] + pad[..., 2:, 1:-1] + pad[..., 1:-1, :-2] + pad[..., 1:-1, 2:]
        new = torch.where(known, y, total / count)
        change, x = float((new - x).abs().max()), new
    return x


def test_known_pixels_are_returned_exactly():
    y = smooth_images(3, c=3, seed=1)
    guide = torch.rand(3, 3, 12, 12) * 2 - 1
    mask = random_mask(3, (12, 12), missing=0.6, seed=2)
    out = poisson_blend(guide, y, mask)
    known = mask.bool().expand_as(y)
    assert torch.equal(out[known], y[known])
    assert out.shape == y.shape and out.dtype == y.dtype


def test_flat_guide_gives_the_harmonic_interpolation():
    y = smooth_images(2, seed=3)
    mask = center_mask(2, (12, 12), fraction=0.5)
    mask[1, 0, 0, :] = 0  # a hole touching the border too
    out = poisson_blend(torch.full_like(y, 0.3), y, mask, clamp=False).double()
    ref = jacobi_harmonic(y, mask.bool())
    assert torch.allclose(out, ref, atol=1e-6)
    # and the discrete Laplacian vanishes on the missing pixels of the interior
    lap = (
        out[..., :-2, 1:-1]
        + out[..., 2:, 1:-1]
        + out[..., 1:-1, :-2]
        + out[..., 1:-1, 2:]
        - 4 * out[..., 1:-1, 1:-1]
    )
    hole = ~mask.bool()[..., 1:-1, 1:-1]
    assert float(lap[hole].abs().max()) < 1e-6  # float32 output


def test_guide_gradients_are_reproduced_up_to_an_offset():
    x = smooth_images(2, c=3, seed=4)
    mask = center_mask(2, (12, 12), fraction=0.5)
    y = x.clone()
    y[~mask.bool().expand_as(y)] = float("nan")  # the hidden truth is never read
    out = poisson_blend(x - 0.15, y.nan_to_num(5.0), mask)
    assert torch.allclose(out, x, atol=1e-5)


def test_blend_does_not_need_the_truth_and_validates_inputs():
    x = smooth_images(1)
    with pytest.raises(ValueError, match="mask must be"):
        poisson_blend(x, x, torch.ones(1, 1, 5, 5))
    with pytest.raises(ValueError, match="target must have shape"):
        poisson_blend(x, torch.zeros(1, 3, 12, 12), torch.ones(12, 12))
    with pytest.raises(ValueError, match="no known pixel"):
        poisson_blend(x, x, torch.zeros(12, 12))
    assert torch.equal(poisson_blend(x, x, torch.ones(12, 12)), x)
