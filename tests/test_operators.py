import math
import re

import pytest
import torch

from ganinverse.operators import (
    GaussianCS,
    Identity,
    Inpainting,
    MatrixOperator,
    Subsample,
    SuperResolution,
    make_operator,
)

SHAPE = (3, 8, 8)  # conftest.OPERATOR_SHAPE: every operator of conftest.OPERATORS acts on it


def _batch(op, shared: int = 3) -> int:
    """A batch size the operator accepts: one image per matrix of a per-image operator."""
    return op.n_matrices if op.n_matrices > 1 else shared


def _dense_matrices(op) -> torch.Tensor:
    """(K, m, n): the matrix of each of the operator's K matrices (K = 1 when shared)."""
    if op.n_matrices == 1:
        return op.dense()[None]
    return torch.stack([alone.dense() for _, alone in op.per_image(op.n_matrices)])


# -- every operator (conftest.OPERATORS) --------------------------------------------------------
def test_adjoint_is_the_true_adjoint(any_operator):
    op = any_operator
    b = _batch(op)
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(b, *SHAPE, generator=gen)
    y = torch.randn(b, *op.out_shape, generator=gen)
    lhs = (op.A(x) * y).sum()
    rhs = (x * op.A_adjoint(y)).sum()
    assert torch.allclose(lhs, rhs, rtol=1e-5, atol=1e-4)
    assert op.A(x).shape == (b, *op.out_shape) and op.A(x).dtype == torch.float32
    assert op.A_adjoint(y).shape == (b, *SHAPE) and op.A_adjoint(y).dtype == torch.float32
    assert torch.equal(op(x), op.A(x)) and torch.equal(op.adjoint(y), op.A_adjoint(y))
    # the operator's own check says the same, deterministically
    error = op.adjointness_error()
    assert 0 <= error < 1e-6 and error == op.adjointness_error(seed=0)
    assert op.check_adjoint() == error


def test_a_wrong_adjoint_is_caught(any_operator):
    """Aᵀ off by a scale (e.g. a forgotten 1/f²): an O(1) error, and check_adjoint says so."""
    op = any_operator
    right = op.A_adjoint
    op.A_adjoint = lambda y: 2 * right(y)
    assert op.adjointness_error() > 0.3
    with pytest.raises(ValueError, match=r"A_adjoint is not the adjoint of A.*scaling"):
        op.check_adjoint()


def test_dense_is_the_matrix_of_the_operator(any_operator):
    op = any_operator
    b = _batch(op)
    x = torch.randn(b, *SHAPE, generator=torch.Generator().manual_seed(4))
    M = _dense_matrices(op)
    assert M.shape == (op.n_matrices, math.prod(op.out_shape), op.n) and M.dtype == torch.float32
    want = (M @ x.flatten(1)[:, :, None])[:, :, 0] if op.n_matrices > 1 else x.flatten(1) @ M[0].T
    assert torch.allclose(want, op.A(x).flatten(1), atol=1e-5)
    assert op.stores_matrix == isinstance(op, MatrixOperator)


def test_norm_is_the_largest_singular_value(any_operator):
    """||A||₂ by power iteration (one per matrix) = the dense matrix's largest singular value,
    approached from below; deterministic for a seed."""
    op = any_operator
    want = torch.linalg.matrix_norm(_dense_matrices(op).double(), ord=2)
    got = op.norm()
    assert got.shape == (op.n_matrices,) and got.dtype == torch.float32
    assert torch.allclose(got.double(), want, rtol=1e-5)
    assert (got.double() <= want * (1 + 1e-6)).all()
    assert torch.equal(op.norm(seed=7), op.norm(seed=7))
    assert torch.allclose(op.norm(n_iter=300, seed=7).double(), want, rtol=1e-5)


def test_known_norms():
    assert float(SuperResolution(SHAPE, 2).norm()) == pytest.approx(0.5)  # A Aᵀ = I / f²
    for op in (Subsample(SHAPE, 10), Identity(SHAPE), Inpainting(torch.ones(8, 8), SHAPE)):
        assert float(op.norm()) == pytest.approx(1.0)
    # Gaussian m x n with N(0, 1/m) entries: ||A||₂ ≈ 1 + sqrt(n / m)
    assert float(GaussianCS((1, 28, 28), 200).norm()) == pytest.approx(
        1 + math.sqrt(784 / 200), rel=0.05
    )


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda op: op.norm(n_iter=0), "n_iter must be >= 1"),
        (lambda op: op.norm(seed=-1), "seed must be >= 0"),
        (lambda op: op.norm(n_iter=2.5), "n_iter must be an int"),
        (lambda op: op.adjointness_error(seed=-1), "seed must be >= 0"),
        (lambda op: op.check_adjoint(tol=0.0), "tol must be > 0"),
        (lambda op: op.check_adjoint(tol=math.nan), "tol must be a finite number"),
    ],
)
def test_check_arguments_are_validated(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call(Identity(SHAPE))


def test_rows_apply_each_images_own_matrix(any_operator):
    """A_rows / A_adjoint_rows: row i is acted on by the matrix of image rows[i] (per-image
    operators), by the one matrix otherwise."""
    op = any_operator
    k = op.n_matrices
    rows = torch.tensor([1, 0, 1]) if k > 1 else torch.tensor([0, 0, 0])
    gen = torch.Generator().manual_seed(6)
    x = torch.randn(3, *SHAPE, generator=gen)
    y = torch.randn(3, *op.out_shape, generator=gen)
    alone = [o for _, o in op.per_image(k)] if k > 1 else [op]
    for i, r in enumerate(rows.tolist()):  # (a batch of 1 may round a matmul differently)
        assert torch.allclose(op.A_rows(x, rows)[i], alone[r].A(x[i : i + 1])[0], atol=1e-6)
        aty = alone[r].A_adjoint(y[i : i + 1])[0]
        assert torch.allclose(op.A_adjoint_rows(y, rows)[i], aty, atol=1e-6)
    assert len(op.measurement_counts()) == k


def test_noise_has_requested_std_and_is_seeded(operator_factory):
    op = operator_factory(noise_std=0.1)
    x = torch.zeros(_batch(op, shared=200), *SHAPE)
    y = op.measure(x, seed=1)
    mask = op.measurement_mask()
    measured = y.flatten() if mask is None else y[mask.expand_as(y) == 1]
    assert abs(measured.std().item() - 0.1) < 4 * 0.1 / math.sqrt(2 * measured.numel())
    if mask is not None:  # nothing lands where nothing is measured
        assert bool((y[mask.expand_as(y) == 0] == 0).all())
    assert torch.equal(y, op.measure(x, seed=1))
    assert not torch.equal(y, op.measure(x, seed=2))
    assert torch.equal(operator_factory(noise_std=0.0).measure(x), op.A(x))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_an_operator_moved_to_the_gpu_gives_the_same_numbers(operator_factory):
    cpu = operator_factory(noise_std=0.1)
    gpu = operator_factory(noise_std=0.1).to("cuda")
    assert all(b.device.type == "cuda" for b in gpu.buffers())
    b = _batch(cpu)
    x = torch.rand(b, *SHAPE, generator=torch.Generator().manual_seed(2)) * 2 - 1
    y = cpu.measure(x, seed=1)
    assert torch.allclose(gpu.measure(x.cuda(), seed=1).cpu(), y, atol=1e-5)  # same noise
    assert torch.allclose(gpu.A_adjoint(y.cuda()).cpu(), cpu.A_adjoint(y), atol=1e-5)
    assert torch.allclose(gpu.norm(), cpu.norm(), rtol=1e-4) and gpu.norm().device.type == "cpu"
    assert gpu.adjointness_error() < 1e-6
    misfit = gpu.data_misfit(y.cuda(), gpu.A(x.cuda()))
    assert torch.allclose(misfit.cpu(), cpu.data_misfit(y, cpu.A(x)), atol=1e-6)


def test_operators_without_buffers_live_on_the_cpu():
    assert SuperResolution(SHAPE, 2).device == torch.device("cpu")
    assert GaussianCS(SHAPE, 5).device == torch.device("cpu")


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
def test_the_data_term_averages_over_the_measurements_of_each_image(any_operator):
    """(1/m_i)||M ⊙ (y − A x)||² for a known residual: m_i = the measured entries of image i."""
    op = any_operator
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


def test_per_image_masks_have_per_image_counts_and_no_single_m(operators_by_name):
    op = operators_by_name["inpainting-per-image"](noise_std=0.1)
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
def test_noise_std_must_be_finite_and_non_negative(operator_factory, noise_std):
    with pytest.raises(ValueError, match="noise_std"):
        operator_factory(noise_std=noise_std)


@pytest.mark.parametrize("scale", [255.0, 3.0])
def test_images_on_the_wrong_scale_are_refused_by_measure(any_operator, scale):
    op = any_operator
    x = torch.rand(2, *SHAPE) * scale
    with pytest.raises(ValueError, match=r"\[-1, 1\] scale.*(127\.5|from_unit)"):
        op.measure(x)


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
def test_calling_an_operator_directly_validates_the_images(any_operator, bad, error):
    op = any_operator
    with pytest.raises(error, match="x"):
        op(bad)
    with pytest.raises(error, match="x"):
        op.measure(bad)


def test_measurements_of_images_on_the_wrong_scale_are_refused(any_operator):
    """y measured from images in [0, 255] (e.g. a user's own y): refused with the fix."""
    op = any_operator
    x = torch.rand(2, *SHAPE) * 255
    with pytest.raises(ValueError, match=r"y has entries up to .*\[0, 255\]"):
        op.check_measurements(op.A(x))
    good = torch.rand(2, *SHAPE) * 2 - 1
    noisy = op.A(good) + 0.2 * torch.randn(2, *op.out_shape)  # noise the operator did not declare
    if op.measurement_mask() is not None:  # (on the measured entries: y = M ⊙ (x + η))
        noisy = noisy * op.measurement_mask()
    assert torch.equal(op.check_measurements(noisy), noisy)


def test_a_masked_operators_y_must_be_zero_where_nothing_is_measured(operators_by_name):
    """y non-zero at an unmeasured entry was ignored in silence by every solver, and
    from_unit_measurements of a whole [0, 1] image gave such a y (user trial)."""
    op = operators_by_name["inpainting"]()
    x = torch.rand(2, *SHAPE) * 2 - 1
    assert torch.equal(op.check_measurements(op.measure(x)), op.measure(x))
    for bad in (x, op.from_unit_measurements):
        with pytest.raises(
            ValueError, match="non-zero entries where the operator measures nothing"
        ):
            if callable(bad):
                bad(torch.full((2, *SHAPE), 0.5))
            else:
                op.check_measurements(bad)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16])
def test_other_float_dtypes_are_converted_to_float32(any_operator, dtype):
    op = any_operator
    x = torch.rand(2, *SHAPE) * 2 - 1
    y = op.measure(x.to(dtype), seed=1)
    assert y.dtype == torch.float32
    assert torch.allclose(y, op.measure(x.to(dtype).float(), seed=1))
    assert op.check_measurements(y.to(dtype)).dtype == torch.float32


def test_an_operator_class_defined_again_replaces_its_registration():
    """A notebook cell run twice defines the class twice: the second replaces the first; another
    class with a registered name is refused."""
    from ganinverse.operators import REGISTRY, LinearOperator

    def define():
        class Twice(LinearOperator):
            name = "twice-test"

            def A(self, x):
                return 2 * x

            def A_adjoint(self, y):
                return 2 * y

        return Twice

    first, second = define(), define()
    assert REGISTRY["twice-test"] is second and first is not second
    with pytest.raises(ValueError, match="already registered"):

        class Other(LinearOperator):
            name = "twice-test"

    del REGISTRY["twice-test"]


def test_a_matrix_operator_is_the_users_own_matrix():
    """MatrixOperator(A) measures with A itself; GaussianCS is a MatrixOperator with a random A
    (the same numbers as before the class existed: A drawn from rng(seed) / sqrt(m))."""
    from ganinverse.operators import MatrixOperator
    from ganinverse.seeds import rng

    g = GaussianCS((1, 4, 4), 5, seed=3)
    assert torch.equal(g.matrix, torch.randn(5, 16, generator=rng(3)) / 5**0.5)
    A = g.matrix.clone()
    op = MatrixOperator(A, (1, 4, 4))
    x = torch.rand(2, 1, 4, 4) * 2 - 1
    assert torch.equal(op.A(x), g.A(x)) and torch.equal(op.dense(), A)
    A[0, 0] = 99.0  # the operator keeps its own copy
    assert op.matrix[0, 0] != 99.0
    with pytest.raises(ValueError, match=r"matrix must be \(m, n\) with n = C\*H\*W = 16"):
        MatrixOperator(torch.zeros(5, 15), (1, 4, 4))
    with pytest.raises(ValueError, match="matrix"):
        MatrixOperator(torch.full((5, 16), float("nan")), (1, 4, 4))


def test_measurements_of_unit_scale_images_convert_exactly(any_operator):
    """y = 2 y01 − A1 is the measurement of x = 2 x01 − 1, for every operator."""
    op = any_operator
    b = op.measurement_mask().shape[0] if op.measurement_mask() is not None else 2
    b = max(b, 1)
    x01 = torch.rand(b, *op.in_shape, generator=torch.Generator().manual_seed(0))
    y = op.from_unit_measurements(op.A(x01))
    assert torch.allclose(y, op.A(2 * x01 - 1), atol=1e-5)
    with pytest.raises(ValueError, match="y01"):
        op.from_unit_measurements(torch.zeros(b, 3))


def test_back_projection_is_the_least_squares_scaling_of_the_adjoint(any_operator):
    """x_bp = α Aᵀy with α = argmin ||y − α A Aᵀ y||²: the residual is orthogonal to A Aᵀ y."""
    op = any_operator
    b = _batch(op, shared=2)
    x = torch.rand(b, *op.in_shape, generator=torch.Generator().manual_seed(0)) * 2 - 1
    y = op.measure(x, seed=1)
    bp = op.back_projection(y)
    assert bp.shape == x.shape
    rows = torch.arange(b)
    aaty = op.A_rows(op.A_adjoint_rows(y, rows), rows).flatten(1)
    residual = y.flatten(1) - op.A_rows(bp, rows).flatten(1)
    assert torch.allclose((residual * aaty).sum(1), torch.zeros(b), atol=1e-4)
    mask = op.measurement_mask()
    if mask is not None:  # masks: α = 1, the zero-filled y
        assert torch.allclose(bp, y, atol=1e-6)


def test_back_projection_known_cases():
    x = torch.rand(2, *SHAPE, generator=torch.Generator().manual_seed(0)) * 2 - 1
    sr = SuperResolution(SHAPE, 2)  # α = f²: y upsampled
    up = sr.A(x).repeat_interleave(2, -2).repeat_interleave(2, -1)
    assert torch.allclose(sr.back_projection(sr.A(x)), up, atol=1e-6)
    sub = Subsample(SHAPE, 40, seed=0)  # α = 1: zero-filled
    assert torch.allclose(sub.back_projection(sub.A(x)), sub.A_adjoint(sub.A(x)))
    assert torch.equal(Identity(SHAPE).back_projection(x), x)
    zero = GaussianCS(SHAPE, 20, seed=0).back_projection(torch.zeros(1, 20))  # α = 0, no NaN
    assert torch.equal(zero, torch.zeros(1, *SHAPE))


def test_an_empty_batch_and_a_wrong_adjoint_shape_are_clear_errors():
    """The checked entry points (measure, op(x), adjoint) name the argument; A / A_adjoint (the
    solvers' fast path) check only shapes (test_a_and_a_adjoint_refuse_the_wrong_shape)."""
    from ganinverse.operators import GaussianCS

    op = GaussianCS((1, 8, 8), 20, seed=0)
    x = torch.zeros(2, 1, 8, 8)
    for call in (op.measure, op):
        with pytest.raises(ValueError, match=r"x must hold at least one image, got an empty batch"):
            call(x[:0])
    with pytest.raises(ValueError, match=r"y must have shape \(B, 20\), got \(2, 21\)"):
        op.adjoint(torch.zeros(2, 21))
    with pytest.raises(ValueError, match="at least one measurement vector"):
        op.adjoint(torch.zeros(0, 20))
    assert op.adjoint(torch.zeros(2, 20, dtype=torch.float64)).dtype == torch.float32


def _wrong_shapes(op):
    """(name, tensor) pairs that are not (B, *shape) for shape = in_shape or out_shape of op:
    the other shape (images for Aᵀ, measurements for A, where they differ), too few entries,
    flattened rows, no batch dimension, one pixel more."""
    b = _batch(op)

    def bad_for(shape, other):
        out = {
            "short": torch.zeros(b, 7),
            "no-batch": torch.zeros(*shape),
            "one-more": torch.zeros(b, *shape[:-1], shape[-1] + 1),
        }
        if len(shape) > 1:
            out["flattened"] = torch.zeros(b, math.prod(shape))
        if other != shape:
            out["other-shape"] = torch.zeros(b, *other)
        return out

    return bad_for(op.in_shape, op.out_shape), bad_for(op.out_shape, op.in_shape)


def test_a_and_a_adjoint_refuse_the_wrong_shape(any_operator):
    """A, A_adjoint and their _rows forms are called inside the solvers' loops, so they check
    only the shape, but every wrong shape is a ValueError naming the expected one and the fix
    (before: SuperResolution.A_adjoint(zeros(2, 7)) gave (4, 14), Identity's returned its
    input, others raised a RuntimeError from torch)."""
    op = any_operator
    rows = torch.arange(_batch(op))
    bad_x, bad_y = _wrong_shapes(op)
    cls = type(op).__name__
    want_x = rf"x must have shape \(B, {', '.join(map(str, op.in_shape))}\)"
    want_y = rf"y must have shape \(B, {', '.join(map(str, op.out_shape))}\)"
    for kind, x in bad_x.items():
        for method, call in (("A", op.A), ("A_rows", lambda t: op.A_rows(t, rows))):
            with pytest.raises(ValueError, match=rf"{cls}\.{method}: {want_x}.*; \w") as info:
                call(x)
            assert str(tuple(x.shape)) in str(info.value), kind
        with pytest.raises(ValueError, match=r"x must have"):
            op(x)  # the checked entry point refuses it too
    for kind, y in bad_y.items():
        for method, call in (
            ("A_adjoint", op.A_adjoint),
            ("A_adjoint_rows", lambda t: op.A_adjoint_rows(t, rows)),
        ):
            with pytest.raises(ValueError, match=rf"{cls}\.{method}: {want_y}.*; \w") as info:
                call(y)
            assert str(tuple(y.shape)) in str(info.value), kind
    # the fix named for the likely mistakes
    if op.in_shape != op.out_shape:
        with pytest.raises(ValueError, match=r"that is the shape of images: A\(x\)"):
            op.A_adjoint(torch.zeros(_batch(op), *op.in_shape))
        with pytest.raises(ValueError, match=r"that is the shape of measurements: A_adjoint\(y\)"):
            op.A(torch.zeros(_batch(op), *op.out_shape))
    if len(op.in_shape) > 1:
        with pytest.raises(ValueError, match=r"x\.reshape\(len\(x\), \*operator\.in_shape\)"):
            op.A(torch.zeros(_batch(op), op.n))
    with pytest.raises(TypeError, match=r"y must be a torch.Tensor"):
        op.A_adjoint([[0.0] * math.prod(op.out_shape)])
    # the right shapes still pass, the empty batch too (A and Aᵀ of nothing is nothing)
    x = torch.zeros(_batch(op), *op.in_shape)
    assert op.A_adjoint(op.A(x)).shape == x.shape
    assert op.A_rows(x, rows).shape == (len(x), *op.out_shape)


def test_check_measurements_refuses_an_empty_batch(any_operator):
    """As an empty image batch is refused by measure / op(x): every solver validates y here."""
    op = any_operator
    y = op.measure(torch.zeros(_batch(op), *op.in_shape))
    shape = re.escape(str((0, *op.out_shape)))
    for call in (op.check_measurements, op.back_projection, op.adjoint):
        with pytest.raises(
            ValueError,
            match=rf"y must hold at least one measurement vector, got an empty batch {shape}",
        ):
            call(y[:0])
    assert torch.equal(op.check_measurements(y), y)


def test_a_and_a_adjoint_take_float64_and_refuse_integers(any_operator):
    """float64 in, float64 out on every operator (GaussianCS included: its float32 matrix is
    cast per call); an integer tensor is a TypeError naming the argument, not torch's error."""
    op = any_operator
    x = torch.rand(2, *op.in_shape, dtype=torch.float64) * 2 - 1
    y = op.A(x)
    assert y.dtype == torch.float64 and op.A_adjoint(y).dtype == torch.float64
    torch.testing.assert_close(y.float(), op.A(x.float()), rtol=1e-4, atol=1e-5)
    with pytest.raises(TypeError, match="y must be a floating-point tensor"):
        op.A_adjoint(y.round().int())
    with pytest.raises(TypeError, match="x must be a floating-point tensor"):
        op.A(x.round().long())


def test_per_image_inpainting_rows_are_checked_by_name():
    """A_rows / A_adjoint_rows of per-image masks: rows out of range, of the wrong length or
    not integers are our ValueError / TypeError naming the method, never torch's IndexError."""
    mask = torch.rand(3, 1, 4, 4, generator=torch.Generator().manual_seed(0)) > 0.5
    op = Inpainting(mask, (1, 4, 4))
    x = torch.rand(2, 1, 4, 4)
    ok = op.A_rows(x, torch.tensor([2, 0]))
    assert torch.equal(ok, mask[[2, 0]].float() * x)
    assert torch.equal(op.A_adjoint_rows(x, torch.tensor([1, 1])), mask[[1, 1]].float() * x)
    for method in (op.A_rows, op.A_adjoint_rows):
        with pytest.raises(ValueError, match=r"rows must index the operator's 3 .* got 0 \.\. 3"):
            method(x, torch.tensor([0, 3]))
        with pytest.raises(ValueError, match="got -1 .. 1"):
            method(x, torch.tensor([-1, 1]))
        with pytest.raises(ValueError, match=r"one image index per batch row, shape \(2,\)"):
            method(x, torch.tensor([0, 1, 2]))
        with pytest.raises(TypeError, match="rows must be an integer tensor"):
            method(x, torch.tensor([0.0, 1.0]))
        with pytest.raises(TypeError, match="rows must be an integer tensor"):
            method(x, [0, 1])


def test_an_operator_without_measurements_or_masks_is_refused_by_name():
    """Inpainting with zero masks (torch's IndexError before) and a matrix with zero rows."""
    from ganinverse.operators import MatrixOperator

    with pytest.raises(ValueError, match=r"mask holds no image, got shape \(0, 1, 4, 4\)"):
        Inpainting(torch.ones(0, 1, 4, 4), (1, 4, 4))
    with pytest.raises(ValueError, match=r"matrix has no row, got shape \(0, 16\)"):
        MatrixOperator(torch.zeros(0, 16), (1, 4, 4))


def test_a_matrix_with_a_row_that_measures_nothing_is_refused():
    """helper-57: an all-zero (5, 784) matrix was accepted; CSGM's data term was 0 from the
    start and its result reported "ok", a draw of G with nothing measured."""
    from ganinverse.operators import MatrixOperator

    with pytest.raises(ValueError, match=r"5 all-zero row\(s\) of 5 .* carries no information"):
        MatrixOperator(torch.zeros(5, 16), (1, 4, 4))
    A = torch.randn(4, 16)
    A[2] = 0
    with pytest.raises(ValueError, match=r"1 all-zero row\(s\) of 4 \(first: row 2\).*drop"):
        MatrixOperator(A, (1, 4, 4))
    MatrixOperator(A[A.abs().sum(1) > 0], (1, 4, 4))  # the fix the message names


def test_measure_with_image_ids_draws_each_images_noise_by_its_identity(operator_factory):
    """User trial (helper-40): A.measure(x, seed=1) gave image 2 of a batch other noise than
    image 2 measured alone; with image_ids each image's noise is its own."""
    A = operator_factory(noise_std=0.1)
    mask = A.measurement_mask()
    B = len(mask) if mask is not None and len(mask) > 1 else 3
    x = torch.rand(B, *A.in_shape, generator=torch.Generator().manual_seed(0)) * 2 - 1
    ids = [5 + i for i in range(B)]
    y = A.measure(x, seed=1, image_ids=ids)
    noise = y - A(x)
    assert not torch.allclose(noise[0], noise[1])  # not one draw repeated
    assert torch.equal(y, A.measure(x, seed=1, image_ids=ids))
    if B == 3:  # (a per-image operator measures its own batch only)
        assert torch.allclose(A.measure(x[2:3], seed=1, image_ids=[7]), y[2:3], atol=1e-6)
    with pytest.raises(ValueError, match="image_ids"):
        A.measure(x, seed=1, image_ids=[1] * B)


def test_make_operator_takes_the_value_by_its_axis_name():
    """``m=``, ``factor=``, ``mask=`` build the same operator as the value passed third."""
    a = make_operator("gaussian", (1, 8, 8), m=5, seed=3)
    b = make_operator("gaussian", (1, 8, 8), 5, seed=3)
    x = torch.rand(2, 1, 8, 8)
    assert torch.equal(a.A(x), b.A(x))
    assert make_operator("superres", (1, 8, 8), factor=4).factor == 4
    by_name = make_operator("inpainting", (1, 8, 8), mask="center", ids=[0])
    third = make_operator("inpainting", (1, 8, 8), "center", ids=[0])
    assert torch.equal(by_name.mask, third.mask)


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (("superres", (1, 8, 8)), {"m": 3}, "unexpected keyword 'm'.*superres.*factor="),
        (("gaussian", (1, 8, 8)), {"factor": 2}, "unexpected keyword 'factor'.*as m="),
        (("identity", (1, 8, 8)), {"m": 3}, "'identity' takes no setting"),
        (("gaussian", (1, 8, 8), 5), {"m": 3}, "got m twice.*pass it once"),
    ],
)
def test_make_operator_refuses_a_keyword_that_is_not_its_axis(args, kwargs, match):
    with pytest.raises(TypeError, match=match):
        make_operator(*args, **kwargs)


def test_identity_takes_its_noise_by_keyword_only():
    """helper-70: Identity((1, 28, 28), 5) set σ = 5 silently (the value make_operator refuses)."""
    with pytest.raises(TypeError, match=r"Identity takes the image shape alone .*got 5 after it"):
        Identity((1, 28, 28), 5)
    assert Identity((1, 28, 28), noise_std=0.1).noise.std == 0.1
