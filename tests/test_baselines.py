"""Tests for ganinverse.baselines: FISTA reaches scikit-learn's Lasso optimum; scaling; OMP."""

from __future__ import annotations

import math
import warnings

import pytest
import torch

from ganinverse.baselines import (
    LIPSCHITZ_MARGIN,
    SparseResult,
    choose_lambda,
    effective_matrix,
    lasso_duality_gap,
    lasso_fista,
    lasso_objective,
    lasso_sklearn,
    lipschitz_constant,
    omp,
)
from ganinverse.bases import make_basis
from ganinverse.data import load_images
from ganinverse.exceptions import ConvergenceWarning

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
        assert res.duality_gap.shape == (3,) and res.duality_gap.dtype == torch.float64
        assert res.converged.shape == (3,) and res.converged.dtype == torch.bool


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


# --- stopping rule: the duality gap bounds the objective gap it claims ---------------------------

SOLVER_FNS = {"fista": lambda *a, **k: lasso_fista(*a, device="cpu", **k), "sklearn": lasso_sklearn}


@pytest.mark.parametrize("solver", ["fista", "sklearn"])
@pytest.mark.parametrize("case", ["orthogonal-pixel", "identity-dct", "orthogonal-per-image"])
def test_orthonormal_problem_gives_the_soft_threshold(solver, case):
    """M = A Psi^T orthonormal: the Lasso solution is soft(M^T y, lam) exactly."""
    g = torch.Generator().manual_seed(3)
    if case == "identity-dct":
        A, basis = torch.eye(N), make_basis("dct", SHAPE)
    else:
        shape = (3, N, N) if case == "orthogonal-per-image" else (N, N)
        A = torch.linalg.qr(torch.randn(*shape, generator=g, dtype=torch.float64))[0].float()
        basis = make_basis("pixel", SHAPE)
    y = torch.randn(3, N, generator=g)
    lam = 0.5
    res = SOLVER_FNS[solver](A, y, basis, SHAPE, lam, tol=1e-10)
    M = effective_matrix(A.double(), basis, SHAPE)
    u = (
        (y.double()[:, None, :] @ M).squeeze(1)
        if M.ndim == 2
        else torch.einsum("bm,bmn->bn", y.double(), M)
    )
    want = u.sign() * (u.abs() - lam).clamp_min(0)
    assert (want == 0).any() and (want != 0).any()  # the threshold is active on this problem
    assert torch.allclose(res.coefficients.double().flatten(1), want, atol=1e-6)
    assert res.converged.all()
    # the solver met tol = 1e-10 on its float64 iterate; the float32 answer is within its rounding
    assert (res.duality_gap <= 1e-6 * res.objective).all()


def _digits28(m: int, b: int = 3, seed: int = 0):
    """b digits 28x28 on [0, 1] (the sweep's Lasso scale) measured by A ~ N(0, 1/m), noise 0.01."""
    x, _ = load_images("digits", split="test", n=b, image_size=28)
    x = (x + 1) / 2
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(m, 784, generator=g) / math.sqrt(m)
    return A, x.flatten(1) @ A.T + 0.01 * torch.randn(b, m, generator=g)


@pytest.fixture(scope="module")
def small_lam_problem():
    """28x28, m = 200, lam = 0.01 (inside the sweep's grid), with P(c*) from a long tight run."""
    A, y = _digits28(200)
    basis = make_basis("dct", (28, 28))
    lam = 0.01
    ref = lasso_fista(A, y, basis, None, lam, tol=1e-11, max_iter=200_000, device="cpu")
    assert ref.converged.all()
    return A, y, basis, lam, ref


@pytest.mark.parametrize("solver", ["fista", "sklearn"])
@pytest.mark.parametrize("max_iter", [30, None])
def test_reported_gap_bounds_the_objective_gap(small_lam_problem, solver, max_iter):
    """P(c) - P(c*) <= duality_gap, for a converged run (gap <= tol P) and a cut-off one."""
    A, y, basis, lam, ref = small_lam_problem
    kw = {} if max_iter is None else {"max_iter": max_iter}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = SOLVER_FNS[solver](A, y, basis, None, lam, **kw)
    excess = res.objective - ref.objective
    assert (excess <= res.duality_gap + 1e-9 * ref.objective).all()
    assert (excess >= -ref.duality_gap - 1e-9 * ref.objective).all()  # the reference is the min
    # the solvers' dual point is the best one they found: never worse than the rescaled residual
    simple = lasso_duality_gap(A, y, basis, res.coefficients, lam)
    assert (res.duality_gap <= simple * (1 + 1e-9)).all()
    if max_iter is None:  # the default tol = 1e-4 holds, and so does the claim it makes
        assert res.converged.all()
        assert (res.duality_gap <= 1e-4 * res.objective).all()
        assert (excess <= 1e-4 * ref.objective).all()
    else:
        assert not res.converged.any()
        assert (excess > 1e-4 * ref.objective).all()  # a cut-off run is visibly worse


def test_small_lam_fista_certifies_tol_within_max_iter():
    """lam = 1e-3, m = 100: the rescaled residual alone leaves a gap of ~5e-3 P long after P(c) is
    within 1e-7 of the minimum; with the best and extrapolated dual points (and float64 once
    float32 stalls) FISTA certifies tol within max_iter, and the certificate is a true bound."""
    A, y = _digits28(100, b=2)
    basis = make_basis("dct", (28, 28))
    lam = 1e-3
    ref = lasso_fista(A, y, basis, None, lam, tol=1e-8, max_iter=100_000, device="cpu")
    assert ref.converged.all()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        res = lasso_fista(A, y, basis, None, lam, device="cpu")
    assert res.converged.all() and (res.iterations < 20_000).all()
    assert (res.duality_gap <= 1e-4 * res.objective).all()
    excess = res.objective - ref.objective
    assert (excess <= res.duality_gap + 1e-9 * ref.objective).all()
    assert (excess <= 1e-4 * ref.objective).all()
    assert (excess >= -ref.duality_gap - 1e-9 * ref.objective).all()


@pytest.mark.parametrize("solver", ["fista", "sklearn"])
def test_max_iter_too_small_warns_and_says_not_converged(solver):
    A, y = _digits28(100, b=2)
    basis = make_basis("pixel", (28, 28))
    with pytest.warns(ConvergenceWarning, match=r"2 of 2 images.*max_iter=5.*Raise max_iter"):
        res = SOLVER_FNS[solver](A, y, basis, None, 0.01, max_iter=5)
    assert not res.converged.any()
    assert (res.duality_gap > 1e-4 * res.objective).all()
    assert (res.iterations <= 5).all()
    # our category is scikit-learn's too: one filter silences both
    from sklearn.exceptions import ConvergenceWarning as SklearnConvergenceWarning

    assert issubclass(ConvergenceWarning, SklearnConvergenceWarning)


def test_converged_runs_do_not_warn_and_stop_per_image():
    A, y = _digits28(100, b=3)
    basis = make_basis("dct", (28, 28))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        res = lasso_fista(A, y, basis, None, 0.1, device="cpu")
        sk = lasso_sklearn(A, y, basis, None, 0.1)
    for r in (res, sk):
        assert r.converged.all() and (r.duality_gap <= 1e-4 * r.objective).all()
    assert (res.iterations % 10 == 0).all()  # the gap is tested every 10 iterations


def test_fista_and_sklearn_agree_within_their_gaps(small_lam_problem):
    A, y, basis, lam, _ = small_lam_problem
    f = lasso_fista(A, y, basis, None, lam, device="cpu")
    s = lasso_sklearn(A, y, basis, None, lam)
    assert f.converged.all() and s.converged.all()
    # both are within their gap of the same minimum
    assert ((f.objective - s.objective).abs() <= torch.maximum(f.duality_gap, s.duality_gap)).all()
    assert float((f.x_hat - s.x_hat).abs().max()) < 0.05


def test_large_lam_stops_at_zero_before_any_iteration():
    A, y = _digits28(100, b=2)
    basis = make_basis("dct", (28, 28))
    lam = float((y @ effective_matrix(A, basis, (1, 28, 28))).abs().max()) * 1.01
    res = lasso_fista(A, y, basis, None, lam, device="cpu")
    assert not res.coefficients.any() and res.converged.all()
    assert (res.iterations == 0).all() and (res.duality_gap <= 1e-6 * res.objective).all()


def test_lam_zero_is_least_squares_stopped_on_the_gradient():
    """lam = 0, m < n: the rule is ||M^T r|| <= tol ||M^T y||; P* = 0, so the trivial gap P(c)
    is exact, and it is small."""
    A, y, _ = _problem(False, b=2)
    basis = make_basis("dct", SHAPE)
    res = lasso_fista(A, y, basis, SHAPE, 0.0, device="cpu")
    M = effective_matrix(A.double(), basis, SHAPE)
    r = y.double() - res.coefficients.double().flatten(1) @ M.T
    assert res.converged.all()
    assert ((r @ M).norm(dim=1) <= 1e-4 * (y.double() @ M).norm(dim=1)).all()
    assert torch.allclose(res.duality_gap, res.objective)
    assert (res.objective <= 1e-6 * 0.5 * y.double().pow(2).sum(1)).all()


def test_omp_fills_the_convergence_fields():
    A, y, _ = _problem(False, b=2)
    res = omp(A, y, make_basis("dct", SHAPE), SHAPE, 5)
    assert res.converged.all() and (res.iterations == 5).all()
    assert torch.allclose(res.duality_gap, res.objective)  # lam = 0: the trivial bound P(c)


# --- kind 3: every float argument finite and in its domain, tensors finite -----------------------

BAD_NUMBERS = [float("nan"), float("inf"), -float("inf")]


def _calls():
    """(name, call(**overrides)) for every public function of baselines, valid by default."""
    A, y, x = _problem(False, b=2)
    basis = make_basis("dct", SHAPE)
    c = torch.zeros(2, *SHAPE)
    return {
        "lasso_fista": lambda **k: lasso_fista(
            **{"A": A, "y": y, "basis": basis, "lam": 0.1, "device": "cpu", **k}
        ),
        "lasso_sklearn": lambda **k: lasso_sklearn(**{"A": A, "y": y, "basis": basis, **k}),
        "omp": lambda **k: omp(**{"A": A, "y": y, "basis": basis, "n_nonzero": 3, **k}),
        "lasso_objective": lambda **k: lasso_objective(
            **{"A": A, "y": y, "basis": basis, "c": c, "lam": 0.1, **k}
        ),
        "lasso_duality_gap": lambda **k: lasso_duality_gap(
            **{"A": A, "y": y, "basis": basis, "c": c, "lam": 0.1, **k}
        ),
        "effective_matrix": lambda **k: effective_matrix(
            **{"A": A, "basis": basis, "image_shape": SHAPE, **k}
        ),
        "lipschitz_constant": lambda **k: lipschitz_constant(**{"M": A, **k}),
        "choose_lambda": lambda **k: choose_lambda(
            **{"A": A, "y_val": y, "x_val": x, "basis": basis, "lams": [0.1], **k}
        ),
    }


FLOAT_ARGS = [
    ("lasso_fista", "lam", -0.1),
    ("lasso_fista", "tol", 0.0),
    ("lasso_fista", "tol", 1.0),
    ("lasso_sklearn", "lam", -1.0),
    ("lasso_sklearn", "tol", -1e-4),
    ("lasso_objective", "lam", -1.0),
    ("lasso_duality_gap", "lam", -1.0),
]


@pytest.mark.parametrize("bad", [*BAD_NUMBERS, "out-of-domain"])
@pytest.mark.parametrize(("function", "arg", "out_of_domain"), FLOAT_ARGS)
def test_float_arguments_must_be_finite_and_in_domain(function, arg, out_of_domain, bad):
    value = out_of_domain if bad == "out-of-domain" else bad
    with pytest.raises(ValueError, match=arg):
        _calls()[function](**{arg: value})


@pytest.mark.parametrize("bad", [*BAD_NUMBERS, -1.0])
def test_choose_lambda_checks_every_lam(bad):
    with pytest.raises(ValueError, match=r"lams\[1\]"):
        _calls()["choose_lambda"](lams=[0.1, bad])


TENSOR_ARGS = [
    ("lasso_fista", "A"),
    ("lasso_fista", "y"),
    ("lasso_sklearn", "A"),
    ("lasso_sklearn", "y"),
    ("omp", "A"),
    ("omp", "y"),
    ("lasso_objective", "c"),
    ("lasso_duality_gap", "y"),
    ("effective_matrix", "A"),
    ("lipschitz_constant", "M"),
    ("choose_lambda", "x_val"),
    ("choose_lambda", "y_val"),
]


@pytest.mark.parametrize("bad", BAD_NUMBERS)
@pytest.mark.parametrize(("function", "arg"), TENSOR_ARGS)
def test_tensor_arguments_must_be_finite(function, arg, bad):
    A, y, x = _problem(False, b=2)
    base = {"A": A, "y": y, "y_val": y, "x_val": x, "M": A, "c": torch.zeros(2, *SHAPE)}
    value = base[arg].clone()
    value.view(-1)[1] = bad
    with pytest.raises(ValueError, match=rf"{arg} contains NaN or Inf"):
        _calls()[function](**{arg: value})


@pytest.mark.parametrize(
    ("function", "arg", "value"),
    [
        ("lasso_fista", "max_iter", 0),
        ("lasso_sklearn", "max_iter", 0),
        ("lipschitz_constant", "n_iter", 0),
        ("lipschitz_constant", "seed", -1),
    ],
)
def test_int_arguments_in_domain(function, arg, value):
    with pytest.raises(ValueError, match=arg):
        _calls()[function](**{arg: value})


def test_every_public_function_is_covered():
    """A public function added later must join the parametrised checks above."""
    import ganinverse.baselines as mod

    public = {name for name in mod.__all__ if callable(getattr(mod, name)) and name[0].islower()}
    assert public == set(_calls())


def test_a_warm_start_reaches_the_same_certified_objective_in_fewer_iterations():
    """Along a λ path (largest first) on digits: the same certified objectives, fewer iterations."""
    x, _ = load_images("digits", None, "train", n=4)
    g = torch.Generator().manual_seed(11)
    A = torch.randn(25, 784, generator=g) / 5
    y = ((x.flatten(1) + 1) / 2) @ A.T
    basis = make_basis("dct", (1, 28, 28))
    cold_iters = warm_iters = 0
    previous = None
    for lam in (1.0, 0.3, 0.1, 0.03):
        cold = lasso_fista(A, y, basis, (1, 28, 28), lam, device="cpu")
        warm = lasso_fista(A, y, basis, (1, 28, 28), lam, device="cpu", init=previous)
        assert bool(warm.converged.all()) and bool(cold.converged.all())
        assert torch.allclose(warm.objective, cold.objective, rtol=2e-4)
        cold_iters, warm_iters = (
            cold_iters + int(cold.iterations.sum()),
            warm_iters + int(warm.iterations.sum()),
        )
        previous = warm.coefficients
    assert warm_iters < cold_iters
    with pytest.raises(ValueError, match="init must have shape"):
        lasso_fista(A, y, basis, (1, 28, 28), 0.1, device="cpu", init=previous[:2])
