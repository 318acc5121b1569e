"""Every reconstruction method under one call: ``reconstruct(method, G, operator, y) -> x̂``.

The sweep, the ``reconstruct`` command and the demo go through this table, so a method is
added in one place. GAN methods run on the latent engine; Lasso methods solve
min_c ½||y − A Ψᵀc||² + λ||c||₁ with λ chosen on validation images (``choose_lasso_lambda``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from . import baselines
from .bases import make_basis
from .latent import LatentConfig
from .operators import GaussianCS, LinearOperator
from .solvers.csgm import CSGM_PRESETS, csgm, csgm_sparse

#: Lasso method name -> sparsifying basis.
LASSO_BASES = {"lasso": "pixel", "lasso-dct": "dct", "lasso-wavelet": "wavelet"}
GAN_METHODS = ("csgm", "csgm-sparse")
METHODS = (*GAN_METHODS, *LASSO_BASES)
#: Default λ grid searched on validation images (the data live on the [-1, 1] scale).
LASSO_LAMBDAS = (1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)


@dataclass
class MethodSettings:
    """Knobs of the methods: the engine config for GAN methods, λ for Lasso, the sparse basis."""

    config: LatentConfig = CSGM_PRESETS["mnist"]
    sparse_basis: str = "dct"
    sparse_l1: float = 0.01
    lasso_solver: str = "fista"


def check_method(method: str) -> str:
    """Raise unless ``method`` is a known method name."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    return method


def dense_matrix(operator: LinearOperator) -> Tensor:
    """The (m, n) matrix of a linear operator (GaussianCS keeps it; others apply A to I)."""
    if isinstance(operator, GaussianCS):
        return operator.matrix
    eye = torch.eye(operator.n, device=next(operator.buffers(), torch.empty(0)).device)
    return operator.A(eye.view(-1, *operator.in_shape)).flatten(1).T


def reconstruct(
    method: str,
    G: nn.Module | None,
    operator: LinearOperator,
    y: Tensor,
    settings: MethodSettings | None = None,
    lam: float | None = None,
    seed: int = 0,
) -> Tensor:
    """x̂ (B, C, H, W) in the library's [-1, 1] scale for measurements y of ``operator``."""
    check_method(method)
    settings = settings or MethodSettings()
    if method in GAN_METHODS:
        if G is None:
            raise ValueError(f"method {method!r} needs a generator")
        config = settings.config.updated(seed=seed)
        if method == "csgm":
            return csgm(G, operator, y, config).x_hat
        sparse_config = config.updated(select="total")
        return csgm_sparse(
            G, operator, y, settings.sparse_basis, settings.sparse_l1, sparse_config
        ).x_hat
    if lam is None:
        raise ValueError(f"method {method!r} needs lam (choose it with choose_lasso_lambda)")
    basis = make_basis(LASSO_BASES[method], operator.in_shape)
    y = operator.check_measurements(y)
    solver = baselines.SOLVERS[settings.lasso_solver]
    return solver(dense_matrix(operator), y, basis, operator.in_shape, lam).x_hat.float()


def choose_lasso_lambda(
    method: str,
    operator: LinearOperator,
    x_val: Tensor,
    y_val: Tensor,
    lams: Sequence[float] = LASSO_LAMBDAS,
    solver: str = "fista",
) -> tuple[float, list[tuple[float, float]]]:
    """λ with the lowest MSE on validation images (never test images) -> (λ, [(λ, mse)])."""
    check_method(method)
    if method not in LASSO_BASES:
        raise ValueError(f"method {method!r} has no λ to choose")
    basis = make_basis(LASSO_BASES[method], operator.in_shape)
    return baselines.choose_lambda(dense_matrix(operator), y_val, x_val, basis, lams, solver=solver)
