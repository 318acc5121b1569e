"""Tests for ganinverse.baselines: FISTA reaches scikit-learn's Lasso optimum; scaling; OMP."""

from __future__ import annotations

import math

import pytest
import torch

from ganinverse.baselines import (
    LIPSCHITZ_MARGIN,
    SparseResult,
    choose_lambda,
    effective_matrix,
    lasso_fista,
    lasso_objective,
    lasso_sklearn,
    lipschitz_constant,
    omp,
)
from ganinverse.bases import make_basis
from ganinverse.data import load_images

SHAPE = (1, 8, 8)
N = math.prod(SHAPE)
M_ROWS = 32


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny matrices: torch's thread pool only adds overhead on a shared 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _problem(per_image: bool, b: int = 4, seed: int = 0):
    x, _ = load_images("digits", split="test", n=b, image_size=8)
    g = torch.Generator().manual_seed(seed)
    shape = (b, M_ROWS, N) if per_image else (M_ROWS, N)
    A = torch.randn(*shape, generator=g) / math.sqrt(M_ROWS)
    y = (A @ x.flatten(1)[:, :, None])[:, :, 0] if per_image else x.flatten(1) @ A.T
    return A, y + 0.01 * torch.randn(y.shape, generator=g), x


@pytest.mark.parametrize("per_image", [False, True])
@pytest.mark.parametrize("basis_name", ["pixel", "dct", "wavelet"])
def test_fista_reaches_sklearn_objective(basis_name, per_image):
    A, y, _ = _problem(per_image)
    basis = make_basis(basis_name, SHAPE)
    lam = 0.05
    ref = lasso_sklearn(A, y, basis, SHAPE, lam, tol=1e-10)
    got = lasso_fista(A, y, basis, SHAPE, lam, max_iter=20000, tol=1e-7, device="cpu")
    rel = (got.objective - ref.objective).abs() / ref.objective
    assert rel.max() <= 1e-3, rel
    assert torch.allclose(
        got.objective, lasso_objective(A, y, basis, got.coefficients, lam), rtol=1e-6
    )
    assert torch.allclose(basis.synthesis(got.coefficients), got.x_hat, atol=1e-6)
    assert (got.iterations >= 1).all() and (got.iterations < 20000).all()


def test_sklearn_solution_satisfies_our_optimality_conditions():
    """alpha = lam / m makes sklearn minimise 1/2||y - Bc||^2 + lam||c||_1: check its KKT."""
    A, y, _ = _problem(False)
    basis = make_basis("dct", SHAPE)
    lam = 0.05
    res = lasso_sklearn(A, y, basis, SHAPE, lam, tol=1e-12)
    B = effective_matrix(A.double(), basis, SHAPE)
    c = res.coefficients.double().flatten(1)
    corr = (y.double() - c @ B.T) @ B  # B^T (y - B c), per image
    assert (corr.abs() <= lam * (1 + 1e-4)).all()
    support = c.abs() > 1e-8
    assert support.any(1).all() and (~support).any(1).all()
    assert torch.allclose(corr[support], lam * c[support].sign(), atol=lam * 1e-4)
    # the wrong scaling (alpha = lam) gives a different, worse point of our objective
    from sklearn.linear_model import Lasso

    wrong = Lasso(alpha=lam, fit_intercept=False, tol=1e-12, max_iter=100000)
    wrong.fit(B.numpy(), y.double().T.numpy())
    c_wrong = torch.from_numpy(wrong.coef_).reshape(-1, *SHAPE)
    assert (lasso_objective(A, y, basis, c_wrong, lam) > res.objective + 1e-6).all()


def test_batched_fista_matches_one_image_at_a_time():
    """Per-image stopping: an image's answer and iteration count do not depend on its batch."""
    A, y, _ = _problem(True, b=3)
    basis = make_basis("wavelet", SHAPE)
    kw = dict(lam=0.02, tol=1e-7, max_iter=20000, device="cpu")
    batch = lasso_fista(A, y, basis, SHAPE, **kw)
    for i in range(3):
        one = lasso_fista(A[i : i + 1], y[i : i + 1], basis, SHAPE, **kw)
        assert torch.allclose(one.coefficients[0], batch.coefficients[i], atol=1e-4)
        assert abs(int(one.iterations[0]) - int(batch.iterations[i])) <= 0.02 * one.iterations[0]
    assert len(set(batch.iterations.tolist())) > 1


def test_result_shapes_and_dtypes():
    A, y, x = _problem(False, b=3)
    for res in (
        lasso_fista(A, y, make_basis("dct", SHAPE), SHAPE, 0.1, device="cpu"),
        lasso_sklearn(A, y, make_basis("dct", SHAPE), None, 0.1),
        omp(A, y, make_basis("dct", SHAPE), SHAPE, 5),
    ):
        assert isinstance(res, SparseResult)
        assert res.x_hat.shape == x.shape and res.x_hat.dtype == torch.float32
        assert res.coefficients.shape == x.shape and res.coefficients.dtype == torch.float32
        assert res.objective.shape == (3,) and res.objective.dtype == torch.float64
        assert res.iterations.shape == (3,) and res.iterations.dtype == torch.int64


def test_lipschitz_constant_bounds_the_spectral_norm():
    A, _, _ = _problem(True, b=2)
    M = effective_matrix(A, make_basis("dct", SHAPE), SHAPE)
    true = torch.linalg.matrix_norm(M.double(), ord=2) ** 2
    L = lipschitz_constant(M).double()
    assert (L >= true).all() and (L <= true * LIPSCHITZ_MARGIN * 1.001).all()
    assert lipschitz_constant(M[0]).shape == (1,)


def test_omp_recovers_exactly_sparse_signal():
    basis = make_basis("dct", SHAPE)
    g = torch.Generator().manual_seed(1)
    c = torch.zeros(2, N)
    for i, support in enumerate(([0, 9, 30], [3, 17, 50])):
        c[i, support] = torch.tensor([1.5, -0.8, 0.6])
    c = c.reshape(-1, *SHAPE)
    x = basis.synthesis(c)
    A = torch.randn(M_ROWS, N, generator=g) / math.sqrt(M_ROWS)
    res = omp(A, x.flatten(1) @ A.T, basis, SHAPE, n_nonzero=3)
    assert torch.allclose(res.coefficients, c, atol=1e-5)
    assert torch.allclose(res.x_hat, x, atol=1e-5)
    assert (res.objective < 1e-10).all()


def test_choose_lambda_uses_validation_mse():
    A, y, x = _problem(False, b=3)
    basis = make_basis("dct", SHAPE)
    lams = [0.01, 1.0, 100.0]
    best, table = choose_lambda(A, y, x, basis, lams, device="cpu")
    assert [lam for lam, _ in table] == lams
    assert best == min(table, key=lambda r: r[1])[0]
    assert table[2][1] > table[0][1]  # lam = 100 zeroes everything
    res = lasso_fista(A, y, basis, SHAPE, 1.0, device="cpu")
    assert table[1][1] == pytest.approx(float(((res.x_hat - x) / 2).pow(2).mean()), rel=1e-5)
    with pytest.raises(ValueError, match="solver"):
        choose_lambda(A, y, x, basis, lams, solver="cvx")
    with pytest.raises(ValueError, match="at least one"):
        choose_lambda(A, y, x, basis, [])


def test_bad_input_raises():
    A, y, _ = _problem(False, b=2)
    basis = make_basis("dct", SHAPE)
    with pytest.raises(ValueError, match="rows"):
        lasso_fista(A[:-1], y, basis, SHAPE, 0.1)
    with pytest.raises(ValueError, match="NaN"):
        lasso_sklearn(A, torch.full_like(y, float("nan")), basis, SHAPE, 0.1)
    with pytest.raises(ValueError, match="lam must be >= 0"):
        lasso_fista(A, y, basis, SHAPE, -1.0)
    with pytest.raises(ValueError, match="per-image A has 3"):
        lasso_fista(torch.stack([A] * 3), y, basis, SHAPE, 0.1)
    with pytest.raises(ValueError, match="image_shape"):
        lasso_fista(A, y, basis, (1, 4, 16), 0.1)
    with pytest.raises(ValueError, match="columns"):
        lasso_fista(A[:, :-1], y, basis, None, 0.1)
    with pytest.raises(TypeError, match="Basis"):
        lasso_fista(A, y, "dct", SHAPE, 0.1)
    with pytest.raises(ValueError, match="n_nonzero"):
        omp(A, y, basis, SHAPE, 0)
    with pytest.raises(ValueError, match="c must have shape"):
        lasso_objective(A, y, basis, torch.zeros(3, *SHAPE), 0.1)
