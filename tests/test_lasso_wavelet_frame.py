"""``lasso-wavelet-frame``: the zero-padded wavelet frame (``bases.WaveletFrame``: adjoint,
perfect reconstruction, PyWavelets' layout) and the synthesis Lasso in it with the coarse band
unpenalised: known optima (orthonormal special case, an independent solver on the explicit
matrix), the duality-gap certificate and ConvergenceWarning, bad input refused before any work,
every operator of tests/conftest.py, and batch independence."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import pywt
import torch

import ganinverse as gi
from ganinverse import baselines, methods
from ganinverse.bases import WaveletFrame, make_basis, max_frame_level
from ganinverse.exceptions import ConvergenceWarning
from ganinverse.operators import GaussianCS, Identity

pytestmark = pytest.mark.usefixtures("one_thread")


FRAMES = [("haar", 3, (8, 8)), ("db2", 2, (8, 8)), ("db4", 2, (13, 17)), ("db8", 3, (28, 28))]


def _pywt_flat(coeffs) -> np.ndarray:
    """pywt.wavedec2's list -> (..., K): a_L, then each level's (cH, cV, cD), row-major."""
    lead = coeffs[0].shape[:-2]
    parts = [coeffs[0].reshape(*lead, -1)]
    parts += [np.stack(d, -3).reshape(*lead, -1) for d in coeffs[1:]]
    return np.concatenate(parts, -1)


@pytest.mark.parametrize("matrix", [False, True], ids=["conv", "matrix"])
@pytest.mark.parametrize("wavelet,level,shape", FRAMES)
def test_frame_is_pywt_zero_padded_dwt_its_adjoint_and_inverse(wavelet, level, shape, matrix):
    frame = WaveletFrame(shape, wavelet, level, matrix=matrix).double()
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, *shape, generator=g, dtype=torch.float64)
    c = torch.randn(2, 3, frame.k, generator=g, dtype=torch.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pywt: "level too high" (db8 on 28x28)
        ref = pywt.wavedec2(x.numpy(), wavelet, mode="zero", level=level, axes=(-2, -1))
        # the synthesis is waverec2, the same for every non-periodic mode
        coeffs = pywt.wavedec2(np.zeros(shape), wavelet, mode="zero", level=level)
        _, slices = pywt.coeffs_to_array(coeffs)
    np.testing.assert_allclose(frame.analysis(x).numpy(), _pywt_flat(ref), atol=1e-12)
    sizes = [coeffs[0].shape] + [d[0].shape for d in coeffs[1:]]
    parts, at = [], 0
    for i, (h, w) in enumerate(sizes):
        k = h * w if i == 0 else 3 * h * w
        blk = c[..., at : at + k].numpy()
        parts.append(
            blk.reshape(2, 3, h, w)
            if i == 0
            else tuple(blk.reshape(2, 3, 3, h, w).transpose(2, 0, 1, 3, 4))
        )
        at += k
    for mode in ("zero", "symmetric"):
        rec = pywt.waverec2(parts, wavelet, mode=mode, axes=(-2, -1))[..., : shape[0], : shape[1]]
        np.testing.assert_allclose(frame.synthesis(c).numpy(), rec, atol=1e-12)
    # <S c, x> = <c, S^T x>; S W x = x; ||W x|| = ||x|| (Parseval); K > H W
    lhs, rhs = (frame.synthesis(c) * x).sum(), (c * frame.adjoint(x)).sum()
    assert abs(float(lhs - rhs)) <= 1e-5 * float(lhs.abs() + 1)
    torch.testing.assert_close(frame.synthesis(frame.analysis(x)), x, atol=1e-10, rtol=0)
    torch.testing.assert_close(frame.analysis(x).norm(), x.norm(), atol=1e-10, rtol=1e-10)
    assert frame.k >= shape[0] * shape[1]
    f32 = WaveletFrame(shape, wavelet, level, matrix=matrix)  # float32 too
    lhs = (f32.synthesis(c.float()) * x.float()).sum()
    rhs = (c.float() * f32.adjoint(x.float())).sum()
    assert abs(float(lhs - rhs)) <= 1e-5 * float(lhs.abs() + 1)


def test_bad_input_is_refused_before_any_work(monkeypatch):
    op = GaussianCS((1, 28, 28), 20, seed=0)
    y = op.measure(torch.zeros(1, 1, 28, 28))

    def no_work(*args, **kwargs):
        raise AssertionError("solved before checking its arguments")

    monkeypatch.setattr(baselines, "lasso", no_work)
    solve = methods.lasso_wavelet_frame
    with pytest.raises(ValueError, match="wavelet must be"):
        solve(None, op, y, wavelet="db99")
    with pytest.raises(ValueError, match="not orthogonal"):
        solve(None, op, y, wavelet="bior2.2")
    with pytest.raises(ValueError, match=r"level=5 is too high.*the largest level is 4"):
        solve(None, op, y, wavelet="db8", level=5)
    with pytest.raises(ValueError, match="level"):
        solve(None, op, y, level=0)
    with pytest.raises(ValueError, match="lam"):
        solve(None, op, y, lam=-1.0)
    with pytest.raises(ValueError, match="level=1 is too high"):  # db8 needs sides > 15
        WaveletFrame((8, 8), "db8", 1)
    assert max_frame_level(28, 16) == 4 and max_frame_level(28, 2) == 5


@pytest.mark.parametrize("beta", [0.0, 0.1])
def test_orthonormal_special_case_soft_thresholds_with_identity(beta):
    """Haar on 8x8 at level 3: the zero-padded frame is the periodized orthonormal basis (K = H W),
    so with A = I the minimiser is closed-form: c = W y0 soft-thresholded by λ on the details and
    by λβ on the coarse band."""
    frame = WaveletFrame((8, 8), "haar", 3)
    assert frame.k == 64
    op = Identity((1, 8, 8))
    x = torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(1)) * 2 - 1
    y = op.measure(x)
    lam = 0.2
    res = gi.reconstruct_result(
        "lasso-wavelet-frame", None, op, y, wavelet="haar", level=3, lam=lam, band_weight=beta
    )
    w = frame.analysis((y + 1) / 2)
    thr = torch.where(frame.approximation_mask(), lam * beta, lam)
    expect = w.sign() * (w.abs() - thr).clamp_min(0)
    # P is 1-strongly convex here (A S = I): ||c - c*||² <= 2 (P(c) - P*) <= 2 gap
    err = (res.coefficients - expect).flatten(1).norm(dim=1).double()
    assert bool((err <= (2 * res.solver.duality_gap).sqrt() + 1e-5).all())
    assert bool((res.solver.duality_gap <= 1e-4 * res.solver.objective + 1e-9).all())
    if beta == 0:  # and it is lasso-wavelet-detail's periodized Haar problem: the same images
        old = gi.reconstruct_result("lasso-wavelet-detail", None, op, y, basis="wavelet", lam=lam)
        torch.testing.assert_close(res.x_hat, old.x_hat, atol=1e-5, rtol=0)


@pytest.mark.parametrize("beta", [0.0, 0.1])
def test_optimum_and_certificate_against_an_independent_solver(beta, weighted_lasso_optimum):
    """db2 on 8x8 at level 2 (K = 100 > 64): the objective FISTA certifies is within its gap
    of L-BFGS-B's minimum on the explicit matrix A S, and the gap bounds the true excess (the
    coarse band free, eliminated by least squares, or weighted by β)."""
    op = GaussianCS((1, 8, 8), 40, seed=3, noise_std=0.05)
    x = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(2)) * 2 - 1
    y = op.measure(x, seed=4)
    frame = WaveletFrame((8, 8), "db2", 2)
    lam = 0.05
    res = gi.reconstruct_result(
        "lasso-wavelet-frame", None, op, y, wavelet="db2", level=2, lam=lam, band_weight=beta
    )
    sol = res.solver
    assert bool(sol.converged.all())
    A, y0 = baselines.unit_scale_problem(op, y)
    M = baselines.effective_matrix(A, frame.double(), (1, 8, 8)).double().numpy()
    w = torch.where(frame.approximation_mask(), beta, 1.0).double().numpy()
    for i in range(2):
        best = weighted_lasso_optimum(M, y0[i].double().numpy(), lam, w)
        p = float(sol.objective[i])
        assert p - best <= float(sol.duality_gap[i]) + 1e-9 * best
        assert float(sol.duality_gap[i]) <= 1e-4 * p + 1e-9
    # S ĉ is x̂ on [0, 1]
    torch.testing.assert_close(res.x_hat, 2 * frame.synthesis(res.coefficients) - 1)


def test_unconverged_solve_warns_and_says_so():
    op = GaussianCS((1, 28, 28), 60, seed=0, noise_std=0.1)
    x = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(3)) * 2 - 1
    y = op.measure(x)
    frame = WaveletFrame((28, 28), "db2", 4)
    weights = (~frame.approximation_mask()).float()[None]
    with pytest.warns(ConvergenceWarning, match="max_iter=3"):
        res = baselines.lasso(op, y, frame, 1e-3, weights=weights, max_iter=3, tol=1e-8)
    assert not bool(res.converged.any())
    assert bool((res.duality_gap > 1e-8 * res.objective).all())


def test_every_operator(operator_factory):
    op = operator_factory(noise_std=0.05)
    n = max(2, op.n_matrices)
    x = torch.rand(n, *op.in_shape, generator=torch.Generator().manual_seed(6)) * 2 - 1
    y = op.measure(x, seed=7)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        res = gi.reconstruct_result(
            "lasso-wavelet-frame", None, op, y, wavelet="db2", level=2, lam=0.01
        )
    frame = WaveletFrame(op.in_shape[1:], "db2", 2)
    assert res.x_hat.shape == x.shape and bool(torch.isfinite(res.x_hat).all())
    assert res.coefficients.shape == (n, op.in_shape[0], frame.k)
    assert bool(res.solver.converged.all())
    weights = torch.where(frame.approximation_mask(), methods.FRAME_BAND_WEIGHT, 1.0)[None]
    A, y0 = baselines.unit_scale_problem(op, y, dense=False)
    c = res.coefficients
    objective = baselines.lasso_objective(A, y0, frame, c, 0.01, weights=weights)
    torch.testing.assert_close(objective, res.solver.objective, rtol=1e-5, atol=1e-9)
    assert bool((res.solver.duality_gap <= 1e-4 * objective + 1e-9).all())
    # the plain rescaled-residual gap (no extrapolation) is an upper bound too: a coarser one
    gap = baselines.lasso_duality_gap(A, y0, frame, c, 0.01, weights=weights)
    assert bool((gap >= res.solver.duality_gap - 1e-9).all())


def test_an_image_does_not_depend_on_its_batch():
    """Each image stops on its own certificate: alone or in a batch, the same objective up to the
    solver's tolerance (a batch's BLAS rounds differently, as for every Lasso method) and nearly
    the same image (the redundant frame's objective is flat in some directions of c)."""
    op = GaussianCS((1, 16, 16), 60, seed=1, noise_std=0.2)
    x, _ = gi.load_images("digits", None, "train", n=3)
    x = torch.nn.functional.interpolate(x, size=(16, 16))
    y = op.measure(x, seed=2)
    kw = {"lam": 0.3, "wavelet": "db2", "level": 3}
    both = gi.reconstruct_result("lasso-wavelet-frame", None, op, y, **kw)
    for i in range(3):
        alone = gi.reconstruct_result("lasso-wavelet-frame", None, op, y[i : i + 1], **kw)
        torch.testing.assert_close(
            both.solver.objective[i : i + 1], alone.solver.objective, rtol=2e-4, atol=0
        )
        torch.testing.assert_close(both.x_hat[i : i + 1], alone.x_hat, atol=2e-3, rtol=0)


def test_make_basis_names_stay_orthonormal():
    """The frame is its own class: make_basis's bases (and lasso-wavelet-detail) are unchanged."""
    assert make_basis("wavelet", (1, 8, 8)).least_energy_gauge(torch.arange(4), (1, 8, 8)) is None
