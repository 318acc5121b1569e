"""Per-image status of every result (``ganinverse.status``): "ok", or why the solver does not
stand by its x̂, composed with the status of the result it started from."""

import warnings

import pytest
import torch

from ganinverse.baselines import lasso_fista
from ganinverse.bases import make_basis
from ganinverse.exceptions import ConvergenceWarning
from ganinverse.latent import LatentConfig
from ganinverse.methods import reconstruct_result
from ganinverse.models import DCGANGenerator
from ganinverse.operators import GaussianCS, Inpainting
from ganinverse.solvers.adaptive import iagan
from ganinverse.solvers.csgm import csgm, csgm_sparse
from ganinverse.solvers.ilo import ilo
from ganinverse.status import image_status

QUIET = dict(restarts=2, steps=30, lr=0.05, progress=False)


def test_image_status_lists_the_reasons_after_those_of_the_start():
    fine, bad = torch.tensor([True, False]), torch.tensor([False, False])
    assert image_status({"not_improved": fine}) == ["ok", "not_improved"]
    assert image_status({"a": bad, "b": fine, "c": None}) == ["a", "a+b"]
    assert image_status({"x": fine}, ["not_improved", "ok"]) == ["not_improved", "x"]
    assert image_status({"x": bad}, ["x", ""]) == ["x", "x"]  # once each, "" = not recorded


def _problem(G, n=2, m=20):
    z = torch.randn(n, G.latent_dim, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        x = G(z)
    op = GaussianCS(G.image_shape, m, seed=0)
    return op, op.measure(x)


def test_latent_results_say_not_improved_where_no_step_ran(toy_generator):
    op, y = _problem(toy_generator)
    assert csgm(toy_generator, op, y, **QUIET).status == ["ok", "ok"]
    with pytest.warns(ConvergenceWarning):
        res = csgm(toy_generator, op, y, **{**QUIET, "steps": 0})
    assert res.status == ["not_improved", "not_improved"]


def test_lasso_and_the_nu_step_say_not_converged_on_max_iter(toy_generator):
    op, y = _problem(toy_generator, m=40)
    basis = make_basis("dct", toy_generator.image_shape)
    with pytest.warns(ConvergenceWarning):
        res = lasso_fista(op, y, basis, toy_generator.image_shape, lam=1e-3, max_iter=2, tol=1e-12)
    assert res.status == ["not_converged"] * 2
    start = csgm(toy_generator, op, y, **QUIET)
    y_off = y + 0.3 * torch.randn(y.shape, generator=torch.Generator().manual_seed(2))
    with pytest.warns(ConvergenceWarning):
        sparse = csgm_sparse(
            toy_generator,
            op,
            y_off,
            basis=basis,
            l1=1e-4,
            lasso_max_iter=2,
            lasso_tol=1e-12,
            **QUIET,
        )
    assert sparse.status == ["not_converged"] * 2 and start.status == ["ok", "ok"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        assert csgm_sparse(toy_generator, op, y, basis=basis, l1=1e-4, **QUIET).status == ["ok"] * 2


def test_results_started_from_csgm_carry_its_status(toy_generator):
    op, y = _problem(toy_generator)
    with pytest.warns(ConvergenceWarning):
        start = csgm(toy_generator, op, y, **{**QUIET, "steps": 0})
    res = iagan(toy_generator, op, y, start=start, adapt_steps=5, back_projection=False)
    assert all(s.startswith("not_improved") for s in res.status)
    G = DCGANGenerator(latent_dim=4, image_shape=(1, 28, 28), ngf=4)
    op, y = _problem(G)
    config = LatentConfig(restarts=1, steps=0, progress=False)
    with pytest.warns(ConvergenceWarning):
        res = ilo(G, op, y, config=config, steps=3)
    assert all(s.startswith("not_improved") for s in res.status)


def test_an_iterative_fill_says_not_converged_on_its_cap():
    x = torch.rand(2, 1, 8, 8) * 2 - 1
    mask = torch.ones(1, 1, 8, 8)
    mask[..., 2:6, 2:6] = 0
    op = Inpainting(mask, (1, 8, 8))
    y = op.measure(x)
    with pytest.warns(ConvergenceWarning):
        short = reconstruct_result("tv", None, op, y, iters=1)
    assert short.status == ["not_converged"] * 2
    assert reconstruct_result("tv", None, op, y, iters=5000).status == ["ok"] * 2
    assert reconstruct_result("biharmonic", None, op, y).status == ["ok"] * 2
