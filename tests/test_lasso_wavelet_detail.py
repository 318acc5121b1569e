"""The registered method ``lasso-wavelet-detail``: Lasso on the wavelet detail coefficients,
the approximation band unpenalised, on the [0, 1] image scale."""

from __future__ import annotations

import json

import pytest
import torch

import ganinverse as gi
from ganinverse.bases import make_basis
from ganinverse.cli import main
from ganinverse.methods import choose_weight, get_method, reconstruct_result
from ganinverse.operators import GaussianCS
from ganinverse.sweep import Sweep, read_rows, report
from ganinverse.sweep.spec import make_spec

METHOD = "lasso-wavelet-detail"


def _images(op, seed: int = 0) -> torch.Tensor:
    """A batch in [-1, 1] that the operator accepts (2 images, or one per per-image mask)."""
    b = op.n_matrices if op.n_matrices > 1 else 2
    return torch.rand(b, *op.in_shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_every_operator_through_the_public_api(operator_factory):
    op = operator_factory(noise_std=0.05)
    x = _images(op)
    y = op.measure(x, seed=1)
    x_hat = gi.reconstruct(METHOD, None, op, y, lam=0.01)
    assert x_hat.shape == x.shape and x_hat.dtype == torch.float32
    assert bool(torch.isfinite(x_hat).all())
    result = gi.reconstruct_result(METHOD, None, op, y, lam=0.01)
    assert bool(result.solver.converged.all()) and result.seconds > 0
    assert result.coefficients.shape == x.shape


def test_a_huge_lambda_leaves_the_least_squares_fit_of_the_band():
    """λ → ∞ zeroes every detail; the band is not shrunk: its coefficients are the least-squares
    fit c_U = M_U⁺ y₀ (while plain lasso-wavelet's x̂₀ is then 0, x̂ = −1)."""
    shape = (1, 28, 28)
    basis = make_basis("wavelet", shape)
    band = basis.approximation_mask().flatten()
    assert int(band.sum()) == 49  # 7x7 for Haar at level 2
    op = GaussianCS(shape, 120, seed=2)
    x = _images(op)[:, :1]
    y = op.A(x)
    y0 = (y + op.A(torch.ones(1, *shape))) / 2
    res = reconstruct_result(METHOD, None, op, y, lam=1e4)
    c = res.coefficients.flatten(1)
    assert bool((c[:, ~band] == 0).all())
    M_u = (op.dense().double() @ basis.matrix().double().T)[:, band]
    c_u = torch.linalg.lstsq(M_u, y0.double().T).solution.T
    assert torch.allclose(c[:, band].double(), c_u, atol=1e-4)
    assert torch.allclose(res.x_hat, 2 * basis.synthesis(res.coefficients) - 1)
    plain = gi.reconstruct("lasso-wavelet", None, op, y, lam=1e4)
    assert torch.allclose(plain, -torch.ones_like(plain))


def test_small_lambda_recovers_a_smooth_image_with_few_details():
    """x₀ = a dense approximation band + 4 details (not sparse as a whole): recovered from
    m = 80 < 784 noiseless measurements."""
    shape = (1, 28, 28)
    basis = make_basis("wavelet", shape)
    band = basis.approximation_mask()
    g = torch.Generator().manual_seed(3)
    c = torch.zeros(1, *shape)
    c[0, 0][band] = 0.5 + torch.rand(int(band.sum()), generator=g)
    c[0, 0, 10, 3], c[0, 0, 20, 20], c[0, 0, 2, 12], c[0, 0, 8, 25] = 0.6, -0.5, 0.4, 0.3
    x = 2 * basis.synthesis(c) - 1
    op = GaussianCS(shape, 80, seed=4)
    x_hat = gi.reconstruct(METHOD, None, op, op.A(x), lam=1e-4)
    assert float((x_hat - x).abs().max()) < 1e-2


def test_an_image_gives_the_same_result_alone_and_in_a_batch():
    """Each image stops on its own certificate: alone or in a batch, the same solution up to
    the solver's tolerance (a batch's BLAS rounds differently, as for every Lasso method)."""
    op = GaussianCS((1, 28, 28), 100, seed=0, noise_std=0.1)
    x = _images(op)[:1]
    x = torch.cat([x, -x])
    y = op.measure(x, seed=1)
    both = gi.reconstruct_result(METHOD, None, op, y, lam=0.1)
    alone = gi.reconstruct_result(METHOD, None, op, y[1:], lam=0.1)
    assert torch.allclose(both.x_hat[1:], alone.x_hat, atol=1e-4)
    assert torch.allclose(both.solver.objective[1:], alone.solver.objective, rtol=2e-4)


def test_the_record_shares_the_lasso_lambda_grid_and_walks_its_path():
    record = get_method(METHOD)
    assert record.tuned is get_method("lasso-wavelet").tuned and record.tuned.warm_start
    assert record.tuned.flag == "--lasso-lambdas" and not record.needs_generator
    op = GaussianCS((1, 28, 28), 100, seed=0, noise_std=0.1)
    x = _images(op, seed=5)[:, :1]
    lam, scores = choose_weight(METHOD, None, op, x, op.measure(x, seed=1), (0.01, 1.0, 0.1))
    assert [s[0] for s in scores] == [0.01, 1.0, 0.1]
    assert lam == min(scores, key=lambda s: s[1])[0]


def test_bad_basis_or_operator_raise():
    op = GaussianCS((1, 8, 8), 20, seed=0)
    y = op.A(torch.zeros(1, 1, 8, 8))
    with pytest.raises(ValueError, match="basis must be 'wavelet'"):
        gi.reconstruct(METHOD, None, op, y, basis="dct")
    with pytest.raises(ValueError, match="lam"):
        gi.reconstruct(METHOD, None, op, y, lam=-1.0)
    with pytest.raises(TypeError, match="no option"):
        gi.reconstruct(METHOD, None, op, y, weights=torch.ones(1, 8, 8))
    # another wavelet is fine
    assert gi.reconstruct(METHOD, None, op, y, basis="wavelet:db2").shape == (1, 1, 8, 8)


def test_a_tiny_sweep_searches_lambda_and_reports(tmp_path):
    out = tmp_path / "sweep"
    spec = make_spec(
        dataset="digits",
        operator="subsample",
        x_values=(100, 300),
        methods=("lasso-wavelet", METHOD),
        n_images=3,
        batch_size=2,
        n_val=2,
        grids={"lam": (0.03, 0.3)},
    )
    Sweep(spec, out).run(progress=False)
    rows = read_rows([out / "rows.csv"])
    assert {(r["method"], r["setting"]) for r in rows} == {
        (m, x) for m in ("lasso-wavelet", METHOD) for x in ("100", "300")
    }
    assert len(rows) == 2 * 2 * 3
    table = json.loads((out / "weights.json").read_text())
    assert [v for v, _ in table[f"{METHOD}@100"]["validation_mse"]] == [0.03, 0.3]
    assert f"| {METHOD} | 300 | 3 |" in report(out)


def test_the_command_line_runs_it(tmp_path, capsys):
    args = ["reconstruct", "--dataset", "digits", "--m", "200", "--method", METHOD]
    assert main([*args, "--lam", "0.05", "--out", str(tmp_path / "r")]) == 0
    assert f"{METHOD}, gaussian m=200" in capsys.readouterr().out


@pytest.mark.parametrize(
    "shape, name, size",
    [((1, 28, 28), "wavelet", 7), ((3, 8, 8), "wavelet", 1), ((1, 32, 32), "wavelet:db2", 4)],
)
def test_the_approximation_mask_marks_the_scaling_coefficients(shape, name, size):
    """The top-left (H/2^L) x (W/2^L) block; for Haar its synthesis atoms are constant on
    2^L x 2^L blocks (local means), every detail atom sums to zero."""
    basis = make_basis(name, shape)
    mask = basis.approximation_mask()
    assert mask.shape == shape[1:] and mask.dtype == torch.bool
    assert int(mask.sum()) == size * size and bool(mask[:size, :size].all())
    n = mask.numel()
    atoms = basis.synthesis(torch.eye(n).reshape(n, 1, *shape[1:]))[:, 0]  # Ψᵀ e_j, images
    assert torch.allclose(atoms[~mask.flatten()].sum((1, 2)), torch.zeros(1), atol=1e-5)
    if name == "wavelet":
        block = shape[1] // size
        for atom in atoms[mask.flatten()]:
            tiles = atom.reshape(size, block, size, block)
            assert torch.allclose(tiles, tiles[:, :1, :, :1].expand_as(tiles), atol=1e-6)
