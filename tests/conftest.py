"""Shared fixtures: tiny generators whose range we know, so solvers can be checked exactly."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

from ganinverse.models.layers import register_split, sequential_splits
from ganinverse.operators import (
    GaussianCS,
    Identity,
    Inpainting,
    LinearOperator,
    MatrixOperator,
    Subsample,
    SuperResolution,
)

# The tests use tiny tensors, for which thread start-up costs more than it saves (and on a loaded
# 2-core machine several threads per process thrash). One thread keeps the suite fast.
torch.set_num_threads(1)


class ToyGenerator(nn.Module):
    """G(z) = tanh(W2 relu(W1 z)): a small smooth generator with a known range."""

    def __init__(self, latent_dim: int = 4, image_shape: tuple[int, int, int] = (1, 8, 8), seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.latent_dim = latent_dim
        self.image_shape = image_shape
        n = image_shape[0] * image_shape[1] * image_shape[2]
        self.net = nn.Sequential(nn.Linear(latent_dim, 32), nn.Tanh(), nn.Linear(32, n), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, *self.image_shape)


# Its layers, for intermediate-layer methods (ilo): G_after(G_before(z)) = G(z), split after
# the hidden tanh (the way a user teaches the library a generator of their own).
register_split(
    ToyGenerator,
    lambda G: sequential_splits(G.net, nn.Tanh, finish=lambda x: x.view(-1, *G.image_shape)),
)


@pytest.fixture
def toy_generator() -> ToyGenerator:
    return ToyGenerator()


@pytest.fixture
def toy_rgb_generator() -> ToyGenerator:
    return ToyGenerator(latent_dim=3, image_shape=(3, 8, 8), seed=1)


@pytest.fixture
def csgm_calls(monkeypatch) -> list[int]:
    """Counts runs of the CSGM latent engine (``csgm``), wherever it is called from."""
    import ganinverse.methods
    import ganinverse.solvers.csgm

    calls: list[int] = []
    real = ganinverse.solvers.csgm.csgm

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(ganinverse.solvers.csgm, "csgm", counted)
    monkeypatch.setattr(ganinverse.methods, "csgm", counted)
    return calls


# -- every operator, in one place ------------------------------------------------------------
#: The image shape of the operators under test.
OPERATOR_SHAPE = (3, 8, 8)


def _shared_mask() -> torch.Tensor:
    return (torch.rand(1, 8, 8, generator=torch.Generator().manual_seed(0)) > 0.5).float()


def _per_image_masks() -> torch.Tensor:
    masks = torch.zeros(2, 1, 8, 8)
    masks[0, :, :2] = 1  # top quarter known: m_0 = 3 * 16
    masks[1, :, :, :6] = 1  # left three quarters: m_1 = 3 * 48
    return masks


#: name -> factory(noise_std) of every operator, built small on OPERATOR_SHAPE. The operator tests
#: (tests/test_operators.py: adjointness, norm, shapes, dtypes, noise, data term, devices) and the
#: matrix-free Lasso tests (tests/test_baselines.py) run on each: a new operator is tested by
#: adding it here. Per-image operators hold 2 matrices (batches of 2 images).
OPERATORS: dict[str, Callable[..., LinearOperator]] = {
    "gaussian": lambda noise_std=0.0: GaussianCS(OPERATOR_SHAPE, 50, seed=1, noise_std=noise_std),
    "subsample": lambda noise_std=0.0: Subsample(OPERATOR_SHAPE, 40, seed=1, noise_std=noise_std),
    "inpainting": lambda noise_std=0.0: Inpainting(
        _shared_mask(), OPERATOR_SHAPE, noise_std=noise_std
    ),
    "inpainting-per-image": lambda noise_std=0.0: Inpainting(
        _per_image_masks(), OPERATOR_SHAPE, noise_std=noise_std
    ),
    "superres": lambda noise_std=0.0: SuperResolution(OPERATOR_SHAPE, 2, noise_std=noise_std),
    "identity": lambda noise_std=0.0: Identity(OPERATOR_SHAPE, noise_std=noise_std),
    "matrix": lambda noise_std=0.0: MatrixOperator(  # a user's own matrix (here ±1/√m)
        torch.randn(30, 192, generator=torch.Generator().manual_seed(5)).sign() / 30**0.5,
        OPERATOR_SHAPE,
        noise_std,
    ),
}


@pytest.fixture(params=list(OPERATORS))
def operator_factory(request) -> Callable[..., LinearOperator]:
    """Each factory of OPERATORS in turn (the test id is the operator's name)."""
    return OPERATORS[request.param]


@pytest.fixture
def any_operator(operator_factory) -> LinearOperator:
    """Each operator of OPERATORS in turn, noiseless."""
    return operator_factory()


@pytest.fixture
def operators_by_name() -> dict[str, Callable[..., LinearOperator]]:
    """OPERATORS itself, for tests of one named operator."""
    return OPERATORS


def _weighted_lasso_optimum(M, y, lam: float, w) -> float:
    """min_c 1/2||y - M c||^2 + lam sum w|c| by L-BFGS-B on c = u - v, u, v >= 0 (float64
    numpy): the independent reference the Lasso solvers are checked against."""
    import numpy as np
    import scipy.optimize

    n = M.shape[1]

    def f(u):
        c = u[:n] - u[n:]
        r = y - M @ c
        g = -M.T @ r
        value = 0.5 * r @ r + lam * (w * (u[:n] + u[n:])).sum()
        return value, np.concatenate([g + lam * w, -g + lam * w])

    out = scipy.optimize.minimize(
        f,
        np.zeros(2 * n),
        jac=True,
        method="L-BFGS-B",
        bounds=[(0, None)] * (2 * n),
        options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 50_000, "maxfun": 50_000},
    )
    return float(out.fun)


@pytest.fixture
def weighted_lasso_optimum():
    """The reference minimum of a weighted Lasso (see ``_weighted_lasso_optimum``)."""
    return _weighted_lasso_optimum


@pytest.fixture
def one_thread():
    """Tiny tensors: torch's thread pool only adds overhead on a shared 2-core machine. Use
    with ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
