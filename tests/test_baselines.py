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
    lasso,
    lasso_duality_gap,
    lasso_fista,
    lasso_objective,
    lasso_path,
    lasso_sklearn,
    lipschitz_constant,
    omp,
    unit_scale_problem,
)
from ganinverse.bases import make_basis
from ganinverse.data import load_images
from ganinverse.exceptions import ConvergenceWarning
from ganinverse.operators import GaussianCS, Subsample

SHAPE = (1, 8, 8)
N = math.prod(SHAPE)
M_ROWS = 32


pytestmark = pytest.mark.usefixtures("one_thread")


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
    # solved on the [0, 1] image scale (the sweep's): y0 = (y + A 1) / 2, x_hat = 2 x0_hat - 1
    res = lasso_fista(A, (y + A.sum(1)) / 2, basis, SHAPE, 1.0, device="cpu")
    mse = float(((2 * res.x_hat - 1 - x) / 2).pow(2).mean())
    assert table[1][1] == pytest.approx(mse, rel=1e-4)
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
    # y is standard normal noise, beyond |(A x)_j| <= 1 for A = I and x in [-1, 1]: declared
    res = SOLVER_FNS[solver](A, y, basis, SHAPE, lam, tol=1e-10, noise_std=1.0)
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
    with pytest.warns(
        ConvergenceWarning, match=r"2 of 2 images.*max_iter=5.*--lam.*raise max_iter"
    ):
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
        "lasso": lambda **k: lasso(**{"A": A, "y": y, "basis": basis, "lam": 0.1, **k}),
        "lasso_path": lambda **k: list(
            lasso_path(**{"A": A, "y": y, "basis": basis, "lams": [0.1], **k})
        ),
        "unit_scale_problem": lambda **k: unit_scale_problem(**{"A": A, "y": y, **k}),
    }


FLOAT_ARGS = [
    ("lasso_fista", "noise_std", -1.0),
    ("lasso_sklearn", "noise_std", -1.0),
    ("omp", "noise_std", -1.0),
    ("lasso", "noise_std", -1.0),
    ("unit_scale_problem", "noise_std", -1.0),
    ("lasso_fista", "lam", -0.1),
    ("lasso_fista", "tol", 0.0),
    ("lasso_fista", "tol", 1.0),
    ("lasso_sklearn", "lam", -1.0),
    ("lasso_sklearn", "tol", -1e-4),
    ("lasso_objective", "lam", -1.0),
    ("lasso_duality_gap", "lam", -1.0),
    ("lasso", "lam", -1.0),
]


@pytest.mark.parametrize("bad", [*BAD_NUMBERS, "out-of-domain"])
@pytest.mark.parametrize(("function", "arg", "out_of_domain"), FLOAT_ARGS)
def test_float_arguments_must_be_finite_and_in_domain(function, arg, out_of_domain, bad):
    value = out_of_domain if bad == "out-of-domain" else bad
    with pytest.raises(ValueError, match=arg):
        _calls()[function](**{arg: value})


@pytest.mark.parametrize("function", ["choose_lambda", "lasso_path"])
@pytest.mark.parametrize("bad", [*BAD_NUMBERS, -1.0])
def test_choose_lambda_checks_every_lam(bad, function):
    with pytest.raises(ValueError, match=r"lams\[1\]"):
        _calls()[function](lams=[0.1, bad])


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
    ("lasso", "y"),
    ("lasso_path", "y"),
    ("unit_scale_problem", "y"),
    ("unit_scale_problem", "A"),
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


# --- the sweep's Lasso numbers are kept as recorded ---------------------------------------------

#: Recorded on the code before Lasso went matrix-free (commit 494fc75, methods.choose_weight /
#: methods._lasso), x86_64, torch 2.14.1 CPU, one thread: GaussianCS((1, 28, 28), 100, seed=3,
#: noise_std=0.01), 3 test digits measured with seed 1, lasso-dct. choose_weight's validation
#: MSE per lam of LASSO_LAMBDAS, and the solve at lam = 0.01 (objective, iterations, sum of x_hat).
RECORDED_SCORES = [
    "0x1.051b6e0000000p-5",
    "0x1.04b40e0000000p-5",
    "0x1.0543160000000p-5",
    "0x1.06e7380000000p-5",
    "0x1.06ce3c0000000p-5",
    "0x1.191d9e0000000p-5",
    "0x1.610ef00000000p-5",
    "0x1.72ec260000000p-4",
]
RECORDED_OBJECTIVE = ["0x1.95d7d57a9fe1cp-2", "0x1.b483d1a33ab27p-2", "0x1.9ca31faf27b2fp-2"]
RECORDED_ITERATIONS = [3190, 2480, 2750]
RECORDED_X_HAT_SUM = "-0x1.fddefa3680000p+9"


@pytest.fixture(scope="module")
def sweep_problem():
    op = GaussianCS((1, 28, 28), 100, seed=3, noise_std=0.01)
    x, _ = load_images("digits", split="test", n=3, image_size=28)
    return op, x, op.measure(x, seed=1)


def _same(got: list[float], recorded: list[str], rel: float) -> bool:
    """To float rounding: the same torch on another CPU (AMD vs Intel kernels) rounds
    differently; a change of behaviour moves these numbers far more than ``rel``."""
    want = [float.fromhex(v) for v in recorded]
    return all(abs(g - w) <= rel * abs(w) for g, w in zip(got, want, strict=True))


def test_the_sweeps_lasso_numbers_are_unchanged(sweep_problem):
    """GaussianCS stores its matrix: lasso() solves the dense problem exactly as before."""
    from ganinverse.methods import LASSO_LAMBDAS

    op, x, y = sweep_problem
    best, table = choose_lambda(op, y, x, "dct", LASSO_LAMBDAS)
    assert [lam for lam, _ in table] == list(LASSO_LAMBDAS) and best == 0.003
    # validation MSEs of solves stopped by a duality-gap tolerance: rounding moves the stopping
    # iteration, and at the smallest lam (slowest to converge) the MSE by up to 6e-4 (AMD vs Intel)
    assert _same([score for _, score in table], RECORDED_SCORES, rel=2e-3)
    res = lasso(op, y, "dct", 0.01)
    assert _same(res.objective.tolist(), RECORDED_OBJECTIVE, rel=1e-5)
    assert _same([res.x_hat.double().sum().item()], [RECORDED_X_HAT_SUM], rel=1e-4)
    # the stopping iteration moves with rounding (2710 vs 3190 on an AMD CPU for the first):
    # converged, and no slower than recorded by more than that
    assert bool(res.converged.all())
    assert all(
        it <= 1.25 * rec
        for it, rec in zip(res.iterations.tolist(), RECORDED_ITERATIONS, strict=True)
    )


def test_choose_lambda_picks_the_sweeps_lambda(sweep_problem):
    """baselines.choose_lambda and methods.choose_weight: the same lam, the same scores, the same
    reconstructions (one convention: the [0, 1] image scale, one lam path)."""
    from ganinverse import methods

    op, x, y = sweep_problem
    lams = (0.3, 0.1, 0.03)  # (each certified by FISTA in few iterations)
    for method in ("lasso", "lasso-dct"):
        want_lam, want = methods.choose_weight(method, None, op, x, y, lams)
        basis = methods.get_method(method).defaults["basis"]
        got_lam, got = choose_lambda(op, y, x, basis, lams)
        assert got_lam == want_lam and got == [(float(v), s) for v, s in want]
    via_method = methods.reconstruct_result("lasso-dct", None, op, y, lam=0.03)
    res = lasso(op, y, make_basis("dct", (1, 28, 28)), 0.03)
    assert torch.equal(res.x_hat, via_method.x_hat)
    assert torch.equal(res.coefficients, via_method.coefficients)


# --- matrix-free Lasso (A a LinearOperator) ------------------------------------------------------


def _dense_of(op) -> torch.Tensor:
    """The operator's matrix: (m, n) shared or (K, m, n) one per image."""
    if op.n_matrices == 1:
        return op.dense()
    return torch.stack([alone.dense() for _, alone in op.per_image(op.n_matrices)])


def _measured(op, seed: int = 0):
    """Images in [-1, 1] (a batch the operator accepts) and their measurements with noise 0.01
    (zero where a masked operator measures nothing)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(op.n_matrices if op.n_matrices > 1 else 3, *op.in_shape, generator=g) * 2 - 1
    y = op.A(x) + 0.01 * torch.randn(len(x), *op.out_shape, generator=g)
    mask = op.measurement_mask()
    return x, y if mask is None else y * mask


@pytest.mark.parametrize("basis_name", ["pixel", "dct", "wavelet"])
def test_matrix_free_fista_matches_the_dense_path(any_operator, basis_name):
    """Same minimiser and objective as FISTA on the operator's matrix, certified by the gap."""
    op = any_operator
    _, y = _measured(op)
    basis = make_basis(basis_name, op.in_shape)
    lam, tol = 0.05, 1e-7
    free = lasso_fista(op, y, basis, None, lam, tol=tol, device="cpu")
    dense = lasso_fista(_dense_of(op), y.flatten(1), basis, None, lam, tol=tol, device="cpu")
    assert free.converged.all() and dense.converged.all()
    assert torch.allclose(free.objective, dense.objective, rtol=1e-6)
    assert torch.allclose(free.x_hat, dense.x_hat, atol=1e-4)
    # the same objective and the certificate hold whichever way A is given
    c = free.coefficients
    assert torch.allclose(lasso_objective(op, y, basis, c, lam), free.objective, rtol=1e-10)
    assert torch.allclose(
        lasso_objective(_dense_of(op), y.flatten(1), basis, c, lam), free.objective, rtol=1e-10
    )
    assert (free.duality_gap <= tol * free.objective * 1.01 + 1e-12).all()
    assert (free.duality_gap <= lasso_duality_gap(op, y, basis, c, lam) * (1 + 1e-9)).all()


def test_matrix_free_solution_is_the_lasso_optimum(operators_by_name):
    """KKT of min 1/2||y - A Psi^T c||^2 + lam||c||_1, with M^T r = Psi A^T r applied matrix-free:
    |M^T r| <= lam everywhere and = lam sign(c) on the support (default float32 tol: 1e-4)."""
    op = operators_by_name["subsample"]()
    _, y = _measured(op)
    basis = make_basis("dct", op.in_shape)
    lam = 0.02
    res = lasso_fista(op, y, basis, None, lam, tol=1e-9, device="cpu")
    c = res.coefficients.double()
    x = basis.synthesis(c)
    r = y.double() - op.A(x)
    corr = basis.analysis(op.A_adjoint(r)).flatten(1)
    support = c.flatten(1).abs() > 1e-9
    assert support.any() and (~support).any()
    assert (corr.abs() <= lam * (1 + 1e-6)).all()
    assert torch.allclose(corr[support], lam * c.flatten(1)[support].sign(), atol=lam * 1e-5)
    assert (res.duality_gap <= 1e-8 * res.objective).all()


def test_per_image_masks_use_each_images_own_rows(operators_by_name):
    """One mask per image: the batch solves each image's own problem (as it would alone), and
    unmeasured entries of y are no data."""
    op = operators_by_name["inpainting-per-image"]()
    x, y = _measured(op)
    basis = make_basis("dct", op.in_shape)
    batch = lasso_fista(op, y, basis, None, 0.05, tol=1e-7, device="cpu")
    for (i,), alone in op.per_image(2):
        one = lasso_fista(alone, y[i : i + 1], basis, None, 0.05, tol=1e-7, device="cpu")
        assert torch.allclose(one.objective, batch.objective[i : i + 1], rtol=1e-9)
        assert torch.allclose(one.x_hat, batch.x_hat[i : i + 1], atol=1e-6)
    # garbage where nothing is measured changes nothing
    junk = y + (1 - op.mask) * 5.0
    again = lasso_fista(op, junk, basis, None, 0.05, tol=1e-7, device="cpu")
    assert torch.equal(again.coefficients, batch.coefficients)
    with pytest.raises(ValueError, match=r"holds 2 per-image matrices .* but y has 3 images"):
        lasso_fista(op, torch.cat([y, y[:1]]), basis, None, 0.05)


def test_matrix_free_fista_never_builds_the_matrix():
    """A 64x64x3 subsampling problem (a 12288 x 12288 matrix densely) runs from A and A^T only,
    and leaves the caller's operator and basis as they were (float64 runs on copies)."""
    op = Subsample((3, 64, 64), 3000, seed=0)
    op.dense = None  # any use of the matrix would fail
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1
    basis = make_basis("dct", (3, 64, 64))
    with pytest.warns(ConvergenceWarning, match="max_iter=50"):
        res = lasso_fista(op, op.measure(x), basis, None, 0.01, tol=1e-7, device="cpu", max_iter=50)
    assert res.x_hat.shape == x.shape and res.objective.dtype == torch.float64
    assert op.indices.dtype == torch.long and basis.d_h.dtype == torch.float32


def test_the_unit_scale_problem_is_the_same_measurement(any_operator):
    """y0 = (y + A 1)/2 measures x0 = (x + 1)/2: matrix-free and dense A 1 agree."""
    op = any_operator
    x, _ = _measured(op)
    y = op.A(x)
    A, y0 = unit_scale_problem(op, y, dense=False)
    assert A is op and y0.shape == y.shape
    assert torch.allclose(y0, op.A((x + 1) / 2), atol=1e-5)
    if op.n_matrices == 1:
        M, y0_dense = unit_scale_problem(op, y, dense=True)
        assert torch.equal(M, op.dense()) and torch.allclose(y0_dense, y0, atol=1e-5)
    # the default: the stored matrix of GaussianCS, the operator itself otherwise
    assert isinstance(unit_scale_problem(op, y)[0], torch.Tensor) == op.stores_matrix


def test_lasso_maps_back_to_the_library_scale(any_operator):
    """lasso(): x_hat = 2 x0_hat - 1 of the [0, 1]-scale solve; matrix-free unless the operator
    stores its matrix; a basis by name; init warm-starts FISTA."""
    op = any_operator
    _, y = _measured(op)
    res = lasso(op, y, "dct", 0.02, device="cpu")
    A, y0 = unit_scale_problem(op, y)
    raw = lasso_fista(A, y0, make_basis("dct", op.in_shape), op.in_shape, 0.02, device="cpu")
    assert torch.equal(res.x_hat, 2 * raw.x_hat - 1) and torch.equal(res.objective, raw.objective)
    warm = lasso(op, y, "dct", 0.02, init=res.coefficients, device="cpu")
    assert (warm.iterations <= res.iterations).all()


def test_lasso_path_walks_from_the_largest_lam_with_warm_starts(monkeypatch):
    import ganinverse.baselines as bl

    seen = []
    fista = bl.lasso_fista

    def spy(A, y, basis, image_shape, lam, **kw):
        seen.append((lam, kw.get("init") is not None))
        return fista(A, y, basis, image_shape, lam, **kw)

    monkeypatch.setitem(bl.SOLVERS, "fista", spy)
    op = Subsample((1, 8, 8), 30, seed=0)
    x = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    order = [i for i, _ in lasso_path(op, op.measure(x), "dct", [0.01, 1.0, 0.1], device="cpu")]
    assert order == [1, 2, 0] and seen == [(1.0, False), (0.1, True), (0.01, True)]


def test_dense_only_solvers_refuse_an_operator_with_the_fix():
    op = Subsample(SHAPE, 30)
    y = op.measure(torch.zeros(2, *SHAPE))
    basis = make_basis("dct", SHAPE)
    for call in (
        lambda: lasso_sklearn(op, y, basis, None, 0.1),
        lambda: omp(op, y, basis, None, 3),
        lambda: effective_matrix(op, basis, SHAPE),
    ):
        with pytest.raises(TypeError, match=r"A\.dense\(\).*lasso_fista"):
            call()
    # lasso() hands scikit-learn the operator's matrix itself
    sk = lasso(op, y, basis, 0.1, solver="sklearn")
    fista = lasso(op, y, basis, 0.1, device="cpu")
    assert torch.allclose(sk.x_hat, fista.x_hat, atol=1e-2)
    with pytest.raises(ValueError, match="init warm-starts FISTA only"):
        lasso(op, y, basis, 0.1, solver="sklearn", init=fista.coefficients)
    with pytest.raises(ValueError, match="solver must be one of"):
        lasso(op, y, basis, 0.1, solver="cvx")


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda op, y, b: lasso_fista(op, y[:, :-1], b, None, 0.1), ValueError, "y must be"),
        (lambda op, y, b: lasso_fista(op, y, b, (1, 4, 16), 0.1), ValueError, "in_shape"),
        (
            lambda op, y, b: lasso_fista(op, y, make_basis("dct", (4, 4)), None, 0.1),
            ValueError,
            r"make_basis\(name, operator.in_shape\)",
        ),
        (lambda op, y, b: lasso_fista([[1.0]], y, b, None, 0.1), TypeError, "LinearOperator"),
        (lambda op, y, b: lasso_fista(op, y, "dct", None, 0.1), TypeError, "make_basis"),
        (lambda op, y, b: unit_scale_problem("A", y), TypeError, "LinearOperator"),
        (lambda op, y, b: unit_scale_problem(op, y + 300), ValueError, r"\[0, 255\]"),
        (
            lambda op, y, b: choose_lambda(op, y, torch.zeros(2, 3, 8, 8), b, [0.1]),
            ValueError,
            "x_val must be",
        ),
    ],
)
def test_bad_operator_problems_raise(call, error, match):
    op = Subsample(SHAPE, 30)
    y = op.measure(torch.zeros(2, *SHAPE))
    with pytest.raises(error, match=match):
        call(op, y, make_basis("dct", SHAPE))


def test_lipschitz_constant_of_an_operator_is_its_squared_norm(any_operator):
    op = any_operator
    L = lipschitz_constant(op)
    want = torch.linalg.matrix_norm(_dense_of(op).double(), ord=2) ** 2 * LIPSCHITZ_MARGIN
    assert L.shape == (op.n_matrices,) and torch.allclose(L.double(), want.flatten(), rtol=1e-4)


@pytest.mark.parametrize("solver", ["lasso_fista", "lasso"])
def test_measurements_of_images_on_the_0_255_scale_are_refused_by_the_lasso_solvers(solver):
    """As in every solver that takes an operator: y that images in [-1, 1] cannot give (the
    matrix form: test_matrix_measurements_of_0_255_images_are_refused_as_the_operators_are)."""
    import ganinverse.baselines as bl
    from ganinverse.bases import make_basis
    from ganinverse.operators import GaussianCS

    op = GaussianCS((1, 8, 8), 20, seed=0)
    x255 = torch.rand(2, 1, 8, 8) * 255
    with pytest.raises(ValueError, match=r"were the images in \[0, 255\]"):
        getattr(bl, solver)(op, op.A(x255), make_basis("dct", (8, 8)), lam=0.1)


# --- the matrix form refuses what the operator form refuses -------------------------------------


def _digits255(m: int = 100, b: int = 3):
    """The user trial: digits 28x28 on [-1, 1], A = GaussianCS(m) and y of the same images on
    the [0, 255] scale."""
    x, _ = load_images("digits", split="test", n=b, image_size=28)
    op = GaussianCS((1, 28, 28), m, seed=0)
    return op, x, op.A((x + 1) / 2 * 255)


MATRIX_SOLVERS = {
    "lasso_fista": lambda A, y, basis, **k: lasso_fista(A, y, basis, lam=0.1, device="cpu", **k),
    "lasso_sklearn": lambda A, y, basis, **k: lasso_sklearn(A, y, basis, lam=0.1, **k),
    "omp": lambda A, y, basis, **k: omp(A, y, basis, n_nonzero=3, **k),
    "lasso": lambda A, y, basis, **k: lasso(A, y, basis, 0.1, **k),
    "lasso-sklearn": lambda A, y, basis, **k: lasso(A, y, basis, 0.1, solver="sklearn", **k),
    "unit_scale_problem": lambda A, y, basis, **k: unit_scale_problem(A, y, **k),
}


@pytest.mark.parametrize("solver", list(MATRIX_SOLVERS))
def test_matrix_measurements_of_0_255_images_are_refused_as_the_operators_are(solver):
    """lasso_fista(A.matrix, y255, ...) returned x_hat up to 237 with only a convergence warning
    while lasso_fista(A, y255, ...) was refused: the matrix form now applies the same bound,
    |y_j| <= 2 ||A_j||_1 (+ 6 noise_std), before any work."""
    op, _, y255 = _digits255()
    basis = make_basis("dct", (1, 28, 28))
    bound = float(op.matrix.abs().sum(1).max())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # refused before any solve: no ConvergenceWarning
        for A in (op, op.matrix):
            if solver in ("lasso_sklearn", "omp") and A is op:
                continue  # dense-only solvers take the matrix
            with pytest.raises(ValueError, match=r"were the images in \[0, 255\]") as info:
                MATRIX_SOLVERS[solver](A, y255, basis)
            assert info.value.args[0].startswith("y has entries up to")
            assert f"at most {bound:.4g} per entry" in info.value.args[0]


@pytest.mark.parametrize("solver", list(MATRIX_SOLVERS))
def test_matrix_measurements_get_the_operators_noise_slack(solver):
    """Good measurements pass, also with undeclared noise within the factor 2 (as an operator's
    check_measurements allows); y just beyond 2 ||A_j||_1 is refused unless its noise_std covers
    it; a per-image matrix (B, m, n) bounds each image by its own rows."""
    g = torch.Generator().manual_seed(0)
    x, _ = load_images("digits", split="test", n=2, image_size=8)
    A = torch.linalg.qr(torch.randn(64, 64, generator=g, dtype=torch.float64))[0].float()[:20]
    basis = make_basis("dct", SHAPE)
    call = MATRIX_SOLVERS[solver]
    bound = A.abs().sum(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        call(A, x.flatten(1) @ A.T + 0.2 * torch.randn(2, 20, generator=g), basis)
        beyond = (2 * bound + 0.01).expand(2, 20).clone()
        with pytest.raises(ValueError, match=r"y has entries up to.*noise_std=σ"):
            call(A, beyond, basis)
        call(A, beyond, basis, noise_std=0.01)  # 6σ covers it
        # per image: image 1's matrix is twice image 0's, so its bound is twice as large
        per_image = torch.stack([A, 2 * A])
        y = torch.stack([1.5 * bound, 3 * bound])  # within 2 ||A_j||_1 of each image's own A
        call(per_image, y, basis)
        with pytest.raises(ValueError, match="y has entries up to"):
            call(per_image, y.flip(0) * 1.5, basis)


def test_noise_std_is_for_the_matrix_form_an_operator_carries_its_own():
    op = GaussianCS(SHAPE, 20, seed=0, noise_std=0.1)
    y = op.measure(torch.zeros(2, *SHAPE))
    basis = make_basis("dct", SHAPE)
    for call in (
        lambda: lasso_fista(op, y, basis, lam=0.1, noise_std=0.1),
        lambda: lasso(op, y, basis, 0.1, noise_std=0.1),
        lambda: unit_scale_problem(op, y, noise_std=0.1),
    ):
        with pytest.raises(
            ValueError, match=r"noise_std is for a matrix A.*build it with noise_std"
        ):
            call()


def test_lasso_tells_the_dense_solver_the_noise_of_y0():
    """lasso() on a noisy operator hands scikit-learn (or FISTA with a stored matrix) the matrix
    and y0 = (y + A 1) / 2 of noise σ/2: y that the operator's check accepts is accepted."""
    op = Subsample(SHAPE, 30, seed=0, noise_std=0.5)
    y = torch.ones(2, 30)
    y[0, 0] = 1 + 2.7 * 2 * 0.5  # y0 = 2.35 > 2 ||A_j||_1 = 2, within 2 + 6 σ/2 = 3.5
    assert torch.equal(op.check_measurements(y), y)
    for solver in ("sklearn", "fista"):
        res = lasso(op, y, "dct", 0.1, solver=solver, dense=True)
        assert bool(torch.isfinite(res.x_hat).all())


@pytest.mark.parametrize(
    "function",
    [
        "lasso_fista",
        "lasso_sklearn",
        "omp",
        "lasso_objective",
        "lasso_duality_gap",
        "lasso",
        "lasso_path",
        "unit_scale_problem",
    ],
)
@pytest.mark.parametrize("form", ["matrix", "operator"])
def test_an_empty_batch_of_measurements_is_refused(function, form):
    """y[:0] is a named ValueError (before: a RuntimeError from a reduction inside torch)."""
    op = Subsample(SHAPE, M_ROWS, seed=0)
    if form == "operator" and function in ("lasso_sklearn", "omp"):
        pytest.skip("dense-only solvers take the matrix")
    A = op.dense() if form == "matrix" else op
    y = op.measure(torch.zeros(2, *SHAPE))[:0]
    overrides = {"A": A, "y": y}
    if function in ("lasso_objective", "lasso_duality_gap"):
        overrides["c"] = torch.zeros(0, *SHAPE)
    if function in ("lasso", "lasso_path") and form == "matrix":
        overrides["image_shape"] = SHAPE
    with pytest.raises(ValueError, match=r"y must hold at least one measurement vector"):
        _calls()[function](**overrides)


def test_choose_lambda_refuses_an_empty_validation_set():
    A, y, x = _problem(False, b=2)
    with pytest.raises(ValueError, match="x_val must hold at least one image"):
        choose_lambda(A, y[:0], x[:0], make_basis("dct", SHAPE), [0.1])


def test_choose_lambda_refuses_y_val_that_is_not_the_measurements_of_x_val():
    """Helper-42: choose_lambda took y_val of the test images (or reordered, or x_val on
    [0, 1]) and returned a λ chosen against the wrong images; choose_weight refuses them."""
    from ganinverse.baselines import choose_lambda
    from ganinverse.operators import GaussianCS

    A = GaussianCS((1, 8, 8), 20, seed=0, noise_std=0.05)
    x = torch.rand(3, 1, 8, 8) * 2 - 1
    y = A.measure(x, seed=1)
    lam, _ = choose_lambda(A, y, x, "dct", [0.01, 0.1])
    for x_bad, y_bad in [((x + 1) / 2, y), (x, y.flip(0)), (x, A.measure(torch.rand_like(x)))]:
        with pytest.raises(ValueError, match="y_val is not the measurements of x_val"):
            choose_lambda(A, y_bad, x_bad, "dct", [0.01, 0.1])


def test_every_search_of_lasso_lambda_refuses_0_and_a_single_run_takes_it():
    """helper-68: the sweep refused λ = 0 (least squares, not a Lasso row) but choose_weight and
    choose_lambda searched it; one rule now (Tuned.positive, LASSO_POSITIVE), and a single
    reconstruction at λ = 0 (least squares, asked for by name) still runs."""
    import ganinverse as gi
    from ganinverse.baselines import choose_lambda
    from ganinverse.operators import GaussianCS

    A = GaussianCS((1, 8, 8), 20, seed=0)
    x = torch.rand(2, 1, 8, 8) * 2 - 1
    y = A.measure(x)
    with pytest.raises(ValueError, match=r"^lams\[1\] \(0\): a λ candidate must be > 0: λ = 0 is"):
        choose_lambda(A, y, x, "dct", [0.1, 0])
    with pytest.raises(ValueError, match=r"^values\[0\] \(0\.0\): a lam candidate must be > 0"):
        gi.choose_weight("lasso-dct", None, A, x, y, [0.0, 0.1])
    with pytest.raises(ValueError, match=r"lasso_lambdas\[1\] \(0\.0\): a lam candidate"):
        gi.sweep.SweepSpec(
            dataset="digits", x_values=(20,), methods=("lasso",), lasso_lambdas=(0.1, 0.0)
        )
    assert torch.isfinite(gi.reconstruct("lasso-dct", None, A, y, lam=0)).all()
