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


# -- issue 14, kind 1: the measurement model ------------------------------------------------
def _per_image_inpainting():
    masks = torch.zeros(2, 1, 8, 8)
    masks[0, :, :2] = 1  # top quarter known: m_0 = 3 * 16
    masks[1, :, :, :6] = 1  # left three quarters: m_1 = 3 * 48
    return Inpainting(masks, SHAPE, noise_std=0.1)


@pytest.mark.parametrize(
    "op", [*operators(), _per_image_inpainting()], ids=lambda o: type(o).__name__
)
def test_the_data_term_averages_over_the_measurements_of_each_image(op):
    """(1/m_i)||M ⊙ (y − A x)||² for a known residual: m_i = the measured entries of image i."""
    gen = torch.Generator().manual_seed(5)
    x = torch.rand(2, *SHAPE, generator=gen) * 2 - 1
    ax = op.A(x)
    y = ax + 0.5  # residual 0.5 on every entry of y ...
    mask = op.measurement_mask()
    counts = torch.full((2,), float(math.prod(op.out_shape)))
    if mask is not None:  # ... of which only the measured entries count
        counts = mask.flatten(1).sum(1).expand(2)
    got = op.data_misfit(y, ax)
    assert torch.allclose(got, torch.full((2,), 0.25))  # mean of 0.5² over m_i entries
    # the sum of squares over the measured entries, divided by m_i (not by prod(out_shape))
    assert torch.allclose(got * counts, 0.25 * counts)
    if mask is not None:
        assert torch.equal(op.measurement_counts(), mask.flatten(1).sum(1))


def test_masked_measurements_are_exactly_zero_where_nothing_is_measured():
    mask = torch.zeros(8, 8)
    mask[:2] = 1  # top quarter known
    op = Inpainting(mask, SHAPE, noise_std=0.1)
    x = torch.rand(3, *SHAPE) * 2 - 1
    y = op.measure(x, seed=1)
    unmeasured = op.mask.expand_as(y) == 0
    assert int(unmeasured.sum()) == 3 * 3 * 48 and bool((y[unmeasured] == 0).all())
    noise = (y - x)[~unmeasured]
    assert 0.05 < float(noise.std()) < 0.15  # noise where measured
    assert op.m == 3 * 16


def test_per_image_masks_have_per_image_counts_and_no_single_m():
    op = _per_image_inpainting()
    assert op.measurement_counts().tolist() == [48.0, 144.0]
    with pytest.raises(ValueError, match="measurement_counts"):
        _ = op.m
    assert "m=48..144" in repr(op)


def test_the_data_term_of_the_solvers_is_the_operators(toy_rgb_generator):
    """csgm's objective is (1/m_i)||·||² too: its data_loss equals data_misfit at x̂."""
    from ganinverse.solvers.csgm import csgm

    G = toy_rgb_generator
    masks = torch.zeros(2, 1, *G.image_shape[1:])
    masks[0, :, :2] = 1
    masks[1, :, :, :5] = 1
    op = Inpainting(masks, G.image_shape, noise_std=0.05)
    with torch.no_grad():
        x = G(torch.randn(2, G.latent_dim, generator=torch.Generator().manual_seed(1)))
    y = op.measure(x, seed=2)
    res = csgm(G, op, y, restarts=2, steps=30, lr=0.05, progress=False)
    want = ((y - op.mask * res.x_hat) * op.mask).pow(2).flatten(1).sum(1) / op.mask.flatten(1).sum(
        1
    )
    assert torch.allclose(res.data_loss, want, rtol=1e-5)


# -- kinds 3, 4, 7: inputs checked where they enter -----------------------------------------
@pytest.mark.parametrize("noise_std", [math.nan, math.inf, -0.1])
@pytest.mark.parametrize(
    "make",
    [
        lambda s: GaussianCS(SHAPE, 10, noise_std=s),
        lambda s: Subsample(SHAPE, 10, noise_std=s),
        lambda s: Inpainting(torch.ones(8, 8), SHAPE, noise_std=s),
        lambda s: SuperResolution(SHAPE, 2, noise_std=s),
        lambda s: Identity(SHAPE, noise_std=s),
    ],
)
def test_noise_std_must_be_finite_and_non_negative(make, noise_std):
    with pytest.raises(ValueError, match="noise_std"):
        make(noise_std)


@pytest.mark.parametrize("op", operators(), ids=lambda o: type(o).__name__)
@pytest.mark.parametrize("scale", [255.0, 3.0])
def test_images_on_the_wrong_scale_are_refused_by_measure(op, scale):
    x = torch.rand(2, *SHAPE) * scale
    with pytest.raises(ValueError, match=r"\[-1, 1\] scale.*(127\.5|from_unit)"):
        op.measure(x)


@pytest.mark.parametrize("op", operators(), ids=lambda o: type(o).__name__)
@pytest.mark.parametrize(
    "bad, error",
    [
        (torch.zeros(2, 1, 8, 8), ValueError),  # wrong channel count
        (torch.zeros(2, 3, 4, 4), ValueError),  # wrong size
        (torch.zeros(3, 8, 8), ValueError),  # no batch dimension
        (torch.zeros(2, 3, 8, 8, dtype=torch.long), TypeError),
        (torch.full((2, 3, 8, 8), math.nan), ValueError),
    ],
)
def test_calling_an_operator_directly_validates_the_images(op, bad, error):
    with pytest.raises(error, match="x"):
        op(bad)
    with pytest.raises(error, match="x"):
        op.measure(bad)


@pytest.mark.parametrize("op", operators(), ids=lambda o: type(o).__name__)
def test_measurements_of_images_on_the_wrong_scale_are_refused(op):
    """y measured from images in [0, 255] (e.g. a user's own y): refused with the fix."""
    x = torch.rand(2, *SHAPE) * 255
    with pytest.raises(ValueError, match=r"y has entries up to .*\[0, 255\]"):
        op.check_measurements(op.A(x))
    good = torch.rand(2, *SHAPE) * 2 - 1
    noisy = op.A(good) + 0.2 * torch.randn(2, *op.out_shape)  # noise the operator did not declare
    assert torch.equal(op.check_measurements(noisy), noisy)


@pytest.mark.parametrize("op", operators(), ids=lambda o: type(o).__name__)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float16])
def test_other_float_dtypes_are_converted_to_float32(op, dtype):
    x = torch.rand(2, *SHAPE) * 2 - 1
    y = op.measure(x.to(dtype), seed=1)
    assert y.dtype == torch.float32
    assert torch.allclose(y, op.measure(x.to(dtype).float(), seed=1))
    assert op.check_measurements(y.to(dtype)).dtype == torch.float32
