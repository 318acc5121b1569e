import math

import pytest
import torch

from ganinverse.operators import (
    GaussianCS,
    Identity,
    Inpainting,
    Subsample,
    SuperResolution,
    make_operator,
)

SHAPE = (3, 8, 8)


def operators():
    mask = (torch.rand(1, 8, 8, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    return [
        GaussianCS(SHAPE, 50, seed=1),
        Subsample(SHAPE, 40, seed=1),
        Inpainting(mask, SHAPE),
        SuperResolution(SHAPE, 2),
        Identity(SHAPE),
    ]


@pytest.mark.parametrize("op", operators(), ids=lambda o: type(o).__name__)
def test_adjoint_is_the_true_adjoint(op):
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(4, *SHAPE, generator=gen)
    y = torch.randn(4, *op.out_shape, generator=gen)
    lhs = (op.A(x) * y).sum()
    rhs = (x * op.A_adjoint(y)).sum()
    assert torch.allclose(lhs, rhs, rtol=1e-5, atol=1e-4)
    assert op.A(x).shape == (4, *op.out_shape) and op.A(x).dtype == torch.float32
    assert op.A_adjoint(y).shape == (4, *SHAPE)
    assert torch.equal(op(x), op.A(x)) and torch.equal(op.adjoint(y), op.A_adjoint(y))


@pytest.mark.parametrize("op", operators(), ids=lambda o: type(o).__name__)
def test_dense_is_the_matrix_of_the_operator(op):
    x = torch.randn(3, *SHAPE, generator=torch.Generator().manual_seed(4))
    M = op.dense()
    assert M.shape == (math.prod(op.out_shape), op.n) and M.dtype == torch.float32
    assert torch.allclose(x.flatten(1) @ M.T, op.A(x).flatten(1), atol=1e-5)


def test_dense_of_per_image_masks_raises():
    op = Inpainting(torch.ones(2, 1, 4, 4), (1, 4, 4))
    with pytest.raises(ValueError, match="per-image masks"):
        op.dense()


def test_gaussian_matrix_statistics_and_seed():
    op = GaussianCS((1, 28, 28), 200, seed=5)
    assert op.matrix.shape == (200, 784)
    # entries ~ N(0, 1/m): variance 1/200 within a few percent over 156800 draws
    assert abs(op.matrix.var().item() * 200 - 1) < 0.02
    assert torch.equal(op.matrix, GaussianCS((1, 28, 28), 200, seed=5).matrix)
    assert not torch.equal(op.matrix, GaussianCS((1, 28, 28), 200, seed=6).matrix)


def test_noise_has_requested_std_and_is_seeded():
    op = GaussianCS((1, 8, 8), 64, seed=0, noise_std=0.1)
    x = torch.zeros(200, 1, 8, 8)
    y = op.measure(x, seed=1)
    assert abs(y.std().item() - 0.1) < 0.005
    assert torch.equal(y, op.measure(x, seed=1))
    assert not torch.equal(y, op.measure(x, seed=2))


def test_superres_and_subsample_values():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    assert torch.equal(
        SuperResolution((1, 4, 4), 2).A(x), torch.tensor([[[[2.5, 4.5], [10.5, 12.5]]]])
    )
    op = Subsample((1, 4, 4), 5, seed=0)
    assert torch.equal(op.A(x)[0], x.flatten()[op.indices])


def test_inpainting_per_image_masks_and_rows():
    masks = torch.zeros(2, 1, 4, 4)
    masks[0, :, :2] = 1
    masks[1, :, 2:] = 1
    op = Inpainting(masks, (1, 4, 4))
    x = torch.ones(2, 1, 4, 4)
    assert torch.equal(op.A(x), masks)
    rows = torch.tensor([1, 1, 0])
    assert torch.equal(op.A_rows(torch.ones(3, 1, 4, 4), rows), masks[rows])
    assert op.m == 8


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: GaussianCS((1, 4, 4), 17), "m must be at most n"),
        (lambda: GaussianCS((1, 4, 4), 0), "m must be >= 1"),
        (lambda: GaussianCS((3, 64, 64), 12288, max_bytes=10**6), "GiB"),
        (lambda: Subsample((1, 4, 4), 20), "m must be <= 16"),
        (lambda: SuperResolution((1, 5, 5), 2), "factor must divide"),
        (lambda: Inpainting(torch.ones(3, 3), (1, 4, 4)), "mask must be"),
        (lambda: Inpainting(torch.full((4, 4), 0.5), (1, 4, 4)), "binary"),
        (lambda: Inpainting(torch.zeros(4, 4), (1, 4, 4)), "no known pixel"),
        (lambda: GaussianCS((1, 4), 2), "image_shape must be"),
        (lambda: make_operator("blur", (1, 4, 4), 2), "operator must be one of"),
        (lambda: make_operator("gaussian", (1, 4, 4)), "needs m"),
    ],
)
def test_bad_construction_raises(build, match):
    with pytest.raises((ValueError, TypeError), match=match):
        build()


def test_bad_inputs_raise():
    op = GaussianCS((1, 4, 4), 8)
    with pytest.raises(ValueError, match="x must have shape"):
        op.measure(torch.zeros(2, 1, 5, 5))
    with pytest.raises(ValueError, match="NaN"):
        op.check_measurements(torch.full((2, 8), float("nan")))
    with pytest.raises(ValueError, match="y must have shape"):
        op.check_measurements(torch.zeros(2, 9))
    with pytest.raises(TypeError, match="torch.Tensor"):
        op.check_measurements([[0.0] * 8])
