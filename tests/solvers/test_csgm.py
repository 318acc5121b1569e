from dataclasses import replace

import pytest
import torch

from ganinverse.baselines import lasso_objective, lasso_sklearn
from ganinverse.bases import make_basis
from ganinverse.operators import GaussianCS, Inpainting
from ganinverse.solvers.csgm import MeasurementObjective, csgm, csgm_sparse

FAST = dict(restarts=4, steps=500, lr=0.05, lambda_z=0.0, progress=False)


def in_range(G, n, seed=0):
    z = torch.randn(n, G.latent_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return G(z)


def test_recovers_truth_in_the_range_from_few_measurements(toy_generator):
    x = in_range(toy_generator, 3)
    op = GaussianCS(toy_generator.image_shape, 12, seed=1)  # m = 12 << n = 64
    res = csgm(toy_generator, op, op.measure(x), **FAST)
    assert res.x_hat.shape == x.shape and res.z.shape == (3, 4)
    assert float((res.x_hat - x).pow(2).mean()) < 1e-6
    assert res.data_loss.max() < 1e-8


def test_rgb_and_per_image_masks(toy_rgb_generator):
    G = toy_rgb_generator
    x = in_range(G, 2, seed=3)
    masks = (torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(0)) > 0.7).float()
    op = Inpainting(masks, G.image_shape)
    res = csgm(G, op, op.measure(x), **FAST)
    assert float((res.x_hat - x).pow(2).mean()) < 1e-5


def test_data_term_gradient_matches_the_analytic_one():
    op = GaussianCS((1, 4, 4), 6, seed=0).double()
    y = torch.randn(2, 6, dtype=torch.float64)
    objective = MeasurementObjective(op, y)
    x = torch.randn(2, 1, 4, 4, dtype=torch.float64, requires_grad=True)
    rows = torch.arange(2)
    assert torch.autograd.gradcheck(lambda v: objective.data_loss(v, rows), (x,))
    objective.data_loss(x, rows).sum().backward()
    analytic = -2 / 6 * op.A_adjoint(y - op.A(x.detach()))
    assert torch.allclose(x.grad, analytic)


def test_sparse_deviations_recover_images_outside_the_range(toy_generator):
    G = toy_generator
    basis = make_basis("dct", G.image_shape)
    nu = torch.zeros(2, *G.image_shape)
    nu[:, 0, 1, 2], nu[:, 0, 3, 0], nu[:, 0, 5, 5] = 0.8, -0.6, 0.5
    x = in_range(G, 2, seed=5) + basis.synthesis(nu)
    op = GaussianCS(G.image_shape, 48, seed=2)
    y = op.measure(x)
    plain = csgm(G, op, y, **FAST)
    sparse = csgm_sparse(G, op, y, basis=basis, l1=1e-4, **FAST)
    err_plain = float((plain.x_hat - x).pow(2).mean())
    err_sparse = float((sparse.x_hat - x).pow(2).mean())
    assert err_sparse < 0.1 * err_plain
    assert sparse.variables["nu"].shape == (2, *G.image_shape)
    assert sparse.x_hat.shape == x.shape and sparse.x_hat.dtype == torch.float32
    # the z-block is CSGM's (same seed and config), restarts chosen by the data term
    assert torch.equal(sparse.z, plain.z) and sparse.selected_by == "data"


def test_deviation_step_is_the_exact_lasso_on_the_residual(toy_generator):
    G = toy_generator
    basis = make_basis("wavelet", G.image_shape)
    x = (in_range(G, 3, seed=7) + 0.3 * torch.randn(3, *G.image_shape)).clamp(-1, 1)
    op = GaussianCS(G.image_shape, 40, seed=4, noise_std=0.01)
    y = op.measure(x)
    start = csgm(G, op, y, **FAST)
    mu = 1e-3
    res = csgm_sparse(G, op, y, basis, l1=mu, start=start, lasso_tol=1e-9, lasso_max_iter=20000)
    # ν̂ minimises ½||r - AΨᵀν||² + (mμ/2)||ν||₁ with r = y - A G(ẑ): scikit-learn's optimum
    r = y - op.A(start.x_hat)
    ref = lasso_sklearn(op.matrix, r, basis, G.image_shape, 40 * mu / 2, tol=1e-10)
    got = lasso_objective(op.matrix, r, basis, res.variables["nu"], 40 * mu / 2)
    assert torch.allclose(got, ref.objective, rtol=1e-4)
    assert torch.allclose(res.x_hat, start.x_hat + basis.synthesis(res.variables["nu"]))
    want = (y - op.A(res.x_hat)).pow(2).mean(1)
    assert torch.allclose(res.data_loss, want, rtol=1e-5)
    # reusing the csgm result is the same as letting csgm_sparse run it
    again = csgm_sparse(G, op, y, basis, l1=mu, lasso_tol=1e-9, lasso_max_iter=20000, **FAST)
    assert torch.allclose(again.x_hat, res.x_hat, atol=1e-6)


def test_a_large_l1_weight_leaves_the_csgm_estimate(toy_generator):
    x = (in_range(toy_generator, 2, seed=1) + 0.2).clamp(-1, 1)
    op = GaussianCS(toy_generator.image_shape, 30, seed=0)
    y = op.measure(x)
    start = csgm(toy_generator, op, y, **FAST)
    res = csgm_sparse(toy_generator, op, y, "dct", l1=1e3, start=start)
    assert not res.variables["nu"].any() and torch.equal(res.x_hat, start.x_hat)


def test_a_start_for_other_measurements_raises(toy_generator):
    op = GaussianCS(toy_generator.image_shape, 12)
    y = op.measure(in_range(toy_generator, 2))
    start = csgm(toy_generator, op, y[:1], **FAST)
    with pytest.raises(ValueError, match="start must be the csgm result"):
        csgm_sparse(toy_generator, op, y, start=start)


@pytest.mark.parametrize(
    "make_y, match",
    [
        (lambda: torch.full((2, 12), float("nan")), "NaN"),
        (lambda: torch.zeros(2, 13), "y must have shape"),
        (lambda: torch.zeros(2, 12, dtype=torch.int64), "floating-point"),
    ],
)
def test_bad_measurements_raise(toy_generator, make_y, match):
    op = GaussianCS(toy_generator.image_shape, 12)
    with pytest.raises((ValueError, TypeError), match=match):
        csgm(toy_generator, op, make_y(), **FAST)


def test_mismatched_generator_and_operator_raise(toy_generator):
    with pytest.raises(ValueError, match="generator makes images of shape"):
        csgm(toy_generator, GaussianCS((1, 4, 4), 4), torch.zeros(1, 4), **FAST)
    with pytest.raises(TypeError, match="LinearOperator"):
        csgm(toy_generator, lambda x: x, torch.zeros(1, 4), **FAST)
    with pytest.raises(ValueError, match="l1 must be >= 0"):
        csgm_sparse(toy_generator, GaussianCS((1, 8, 8), 4), torch.zeros(1, 4), l1=-1.0)


def test_sparse_deviations_with_per_image_masks_use_each_images_m(toy_generator):
    """λ = m_i μ/2 per image: the batch with one mask per image equals each image alone."""
    from ganinverse.operators import Inpainting

    G = toy_generator
    masks = torch.zeros(2, 1, 8, 8)
    masks[0, :, :3] = 1
    masks[1, :, :, :7] = 1
    x = (in_range(G, 2, seed=3) + 0.3 * torch.randn(2, *G.image_shape)).clamp(-1, 1)
    op = Inpainting(masks, G.image_shape, noise_std=0.01)
    y = op.measure(x, seed=1)
    start = csgm(G, op, y, **FAST)
    both = csgm_sparse(G, op, y, "dct", l1=1e-3, start=start, lasso_tol=1e-9, lasso_max_iter=20000)
    for i in range(2):
        alone_op = Inpainting(masks[i], G.image_shape, noise_std=0.01)
        start_i = replace(
            start,
            x_hat=start.x_hat[i : i + 1],
            z=start.z[i : i + 1],
            data_loss=start.data_loss[i : i + 1],
        )
        alone = csgm_sparse(
            G,
            alone_op,
            y[i : i + 1],
            "dct",
            l1=1e-3,
            start=start_i,
            lasso_tol=1e-9,
            lasso_max_iter=20000,
        )
        assert torch.allclose(alone.x_hat[0], both.x_hat[i], atol=1e-5)
        # ν̂ minimises ½||r − MΨᵀν||² + (m_i μ/2)||ν||₁ with m_i = the known pixels of image i
        m_i = float(masks[i].sum()) * G.image_shape[0]
        r = (y[i : i + 1] - alone_op.A(start_i.x_hat)).flatten(1)
        basis = make_basis("dct", G.image_shape)
        ref = lasso_sklearn(alone_op.dense(), r, basis, G.image_shape, m_i * 1e-3 / 2, tol=1e-10)
        got = lasso_objective(alone_op.dense(), r, basis, alone.variables["nu"], m_i * 1e-3 / 2)
        assert torch.allclose(got, ref.objective, rtol=1e-4)


def test_measurements_of_images_on_the_wrong_scale_are_refused(toy_generator):
    """Issue 14 kind 4: y that no image in [-1, 1] can produce (here y = x itself for A = I,
    with x in [0, 255]) is refused before any work."""
    from ganinverse.operators import Identity

    x = (in_range(toy_generator, 2) + 1) * 127.5
    for op in (Identity(toy_generator.image_shape), Inpainting(torch.ones(8, 8), (1, 8, 8))):
        with pytest.raises(ValueError, match=r"\[0, 255\]"):
            csgm(toy_generator, op, op.A(x), **FAST)


def test_float64_measurements_are_converted(toy_generator):
    x = in_range(toy_generator, 2)
    op = GaussianCS(toy_generator.image_shape, 20, seed=1)
    y = op.measure(x)
    a = csgm(toy_generator, op, y.double(), **{**FAST, "steps": 20})
    b = csgm(toy_generator, op, y, **{**FAST, "steps": 20})
    assert a.x_hat.dtype == torch.float32 and torch.equal(a.x_hat, b.x_hat)


def _empty_batch_calls():
    """(name, call(G, op, y)) of every solver entry point, each with cheap settings."""
    import ganinverse as gi
    from ganinverse.baselines import lasso, lasso_fista, lasso_sklearn, omp
    from ganinverse.solvers.adaptive import iagan
    from ganinverse.solvers.ilo import ilo

    tiny = dict(restarts=1, steps=5, progress=False)
    dct = make_basis("dct", (1, 8, 8))
    return {
        "csgm": lambda G, op, y: csgm(G, op, y, **tiny),
        "csgm_sparse": lambda G, op, y: csgm_sparse(G, op, y, **tiny),
        "iagan": lambda G, op, y: iagan(G, op, y, adapt_steps=2, **tiny),
        "ilo": lambda G, op, y: ilo(G, op, y, steps=2),
        "lasso_fista": lambda G, op, y: lasso_fista(op, y, dct, lam=0.1),
        "lasso_fista-matrix": lambda G, op, y: lasso_fista(op.matrix, y, dct, lam=0.1),
        "lasso_sklearn-matrix": lambda G, op, y: lasso_sklearn(op.matrix, y, dct, lam=0.1),
        "omp-matrix": lambda G, op, y: omp(op.matrix, y, dct, n_nonzero=2),
        "lasso": lambda G, op, y: lasso(op, y, dct, 0.1),
        "lasso-matrix": lambda G, op, y: lasso(op.matrix, y, dct, 0.1, image_shape=(1, 8, 8)),
        "reconstruct-lasso-dct": lambda G, op, y: gi.reconstruct("lasso-dct", None, op, y, lam=0.1),
        "reconstruct-csgm": lambda G, op, y: gi.reconstruct("csgm", G, op, y, **tiny),
        "back_projection": lambda G, op, y: op.back_projection(y),
    }


@pytest.mark.parametrize("entry", list(_empty_batch_calls()))
def test_an_empty_batch_of_measurements_is_refused_by_every_solver(toy_generator, entry):
    """y[:0] (no image) is a named ValueError before any work, as an empty image batch is, not
    a RuntimeError from inside torch (a reduction over nothing)."""
    G = toy_generator
    op = GaussianCS(G.image_shape, 12, seed=1)
    y = op.measure(in_range(G, 2))
    with pytest.raises(
        ValueError,
        match=r"y must hold at least one measurement vector, got an empty batch \(0, 12\)",
    ):
        _empty_batch_calls()[entry](G, op, y[:0])


@pytest.mark.parametrize("entry", ["csgm", "csgm_sparse", "iagan", "ilo"])
def test_an_empty_batch_is_refused_with_per_image_masks_too(toy_generator, entry):
    """A per-image operator (2 masks) with y[:0]: the empty batch is named, not a mask count."""
    G = toy_generator
    masks = torch.zeros(2, 1, 8, 8)
    masks[0, :, :4], masks[1, :, :, :4] = 1, 1
    op = Inpainting(masks, G.image_shape)
    y = op.measure(in_range(G, 2))
    with pytest.raises(ValueError, match=r"y must hold at least one measurement vector"):
        _empty_batch_calls()[entry](G, op, y[:0])


@pytest.mark.parametrize("refine", ["csgm_sparse", "iagan", "ilo"])
def test_a_start_of_another_problem_or_generator_is_refused(refine, toy_generator):
    """start= from another operator, other measurements or another generator of the same
    latent size was accepted and refined (user trial); equal engine options are accepted."""
    from ganinverse.solvers.adaptive import iagan
    from ganinverse.solvers.ilo import ilo

    G = toy_generator
    call = {
        "csgm_sparse": lambda G, op, y, **k: csgm_sparse(G, op, y, "dct", l1=1e-3, **k),
        "iagan": lambda G, op, y, **k: iagan(G, op, y, adapt_steps=2, **k),
        "ilo": lambda G, op, y, **k: ilo(G, op, y, steps=2, **k),
    }[refine]
    x = in_range(G, 2)
    op = GaussianCS(G.image_shape, 20, seed=0)
    y = op.measure(x)
    quick = dict(restarts=1, steps=20, lr=0.05, progress=False)
    start = csgm(G, op, y, **quick)
    call(G, op, y, start=start)  # accepted
    if refine != "ilo":  # an engine option equal to start.config's is no conflict
        call(G, op, y, start=start, progress=False)
    with pytest.raises(ValueError, match="made for another operator or other measurements"):
        call(G, GaussianCS(G.image_shape, 20, seed=9), y, start=start)
    with pytest.raises(ValueError, match="made for another operator or other measurements"):
        call(G, op, y + 0.5, start=start)
    other = type(G)(seed=5)  # same latent size, another network
    with pytest.raises(ValueError, match="another generator's result"):
        call(other, op, y, start=start)


def test_csgm_sparse_checks_its_basis_before_csgm_runs(toy_generator, csgm_calls):
    """Helper-42: basis="fourier" was refused only after the whole CSGM start had run."""
    op = GaussianCS(toy_generator.image_shape, 20, seed=0)
    with pytest.raises(ValueError, match="fourier"):
        csgm_sparse(toy_generator, op, torch.zeros(1, 20), basis="fourier", steps=3, restarts=1)
    assert not csgm_calls


def test_settings_show_a_tensor_or_numpy_option_as_the_number_it_holds():
    """helper-68: res.settings read "lambda_z=tensor(0.0100, dtype=torch.bfloat16)"."""
    import numpy as np

    from ganinverse.solvers.csgm import settings_line

    line = settings_line("defaults", {"lambda_z": torch.tensor(0.01, dtype=torch.bfloat16)})
    assert line == "defaults, with lambda_z=0.01 given"
    assert settings_line("d", {"steps": np.int64(3), "lr": np.float32(0.1)}) == (
        "d, with lr=0.1, steps=3 given"
    )
