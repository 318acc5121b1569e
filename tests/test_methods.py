import pytest
import torch

from ganinverse.bases import make_basis
from ganinverse.methods import LASSO_BASES, choose_lasso_lambda, dense_matrix, reconstruct
from ganinverse.operators import GaussianCS, Subsample


def test_dense_matrix_matches_the_operator():
    op = Subsample((1, 4, 4), 6, seed=0)
    x = torch.randn(3, 1, 4, 4)
    assert torch.allclose(x.flatten(1) @ dense_matrix(op).T, op.A(x))


@pytest.mark.parametrize("method", sorted(LASSO_BASES))
def test_lasso_recovers_an_image_sparse_in_its_basis_on_the_unit_scale(method):
    # x₀ ∈ [0, 1]-scale is 3-sparse in the method's basis; on [-1, 1] (x = 2x₀ - 1) it is not,
    # so exact recovery shows the solve happens on the [0, 1] scale as documented.
    basis = make_basis(LASSO_BASES[method], (1, 8, 8))
    c = torch.zeros(2, 1, 8, 8)
    c[:, 0, 0, 1], c[:, 0, 2, 3], c[:, 0, 5, 4] = 1.0, -0.8, 0.6
    x = 2 * basis.synthesis(c) - 1
    op = GaussianCS((1, 8, 8), 40, seed=3)
    x_hat = reconstruct(method, None, op, op.measure(x), lam=1e-4)
    assert x_hat.shape == x.shape and x_hat.dtype == torch.float32
    assert float((x_hat - x).abs().max()) < 1e-2


def test_lambda_is_chosen_on_the_given_images_and_reported_on_the_unit_scale():
    x0 = torch.zeros(3, 1, 8, 8)
    x0[:, 0, 1, 1] = 1.0
    op = GaussianCS((1, 8, 8), 30, seed=1, noise_std=0.05)
    x = 2 * x0 - 1
    lam, scores = choose_lasso_lambda("lasso", op, x, op.measure(x), lams=(1e-3, 0.1, 100.0))
    assert [s[0] for s in scores] == [1e-3, 0.1, 100.0]
    assert lam == min(scores, key=lambda s: s[1])[0]
    # a huge λ gives x̂₀ = 0: the error is the truth's own energy (1/64 on the [0, 1] scale)
    assert abs(scores[2][1] - 1 / 64) < 1e-4


def test_missing_lambda_or_generator_raise():
    op = GaussianCS((1, 8, 8), 10)
    with pytest.raises(ValueError, match="needs lam"):
        reconstruct("lasso-dct", None, op, torch.zeros(1, 10))
    with pytest.raises(ValueError, match="needs a generator"):
        reconstruct("csgm", None, op, torch.zeros(1, 10))
    with pytest.raises(ValueError, match="method must be one of"):
        reconstruct("magic", None, op, torch.zeros(1, 10))
