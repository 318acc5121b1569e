"""Compressed sensing with a generative prior (Bora et al. 2017) and its sparse-deviation
extension (Dhar, Grover, Ermon 2018), both on the shared latent engine.

CSGM:    min_z  (1/m)||y - A G(z)||² + λ_z ||z||²
Sparse:  min_{z,ν} (1/m)||y - A (G(z) + Ψᵀν)||² + λ_z ||z||² + μ ||ν||₁

The data term is averaged over the m measurements as in CSGM's code, so its λ values transfer;
for masked operators m is the number of measured entries of each image, m_i, and unmeasured
entries of y are ignored (``LinearOperator.data_misfit``).
The sparse objective is minimised by blocks: ẑ by the latent engine with ν = 0 (CSGM), then ν̂
exactly, by FISTA, on the residual r = y − A G(ẑ): min_ν ½||r − AΨᵀν||² + (m_i μ/2)||ν||₁, a Lasso.
(The first version fitted ν jointly with z by Adam's subgradient steps and did not reach this
minimum: on CelebA at m = 5000-10000 it gained 0.6-1.3 dB over CSGM, the exact ν-step 5-12 dB;
benchmarks/README.md.)
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

import torch
from torch import Tensor, nn

from .._validation import check_positive
from ..baselines import LASSO_TOL, lasso_fista
from ..bases import Basis, make_basis
from ..latent import (
    LatentConfig,
    LatentObjective,
    LatentResult,
    check_generator,
    generator_device,
    optimize_latent,
)
from ..operators import LinearOperator

#: Paper settings. MNIST: lr 0.01, 1000 steps, 10 restarts; CelebA: lr 0.1, 500 steps, λ = 0.001.
CSGM_PRESETS: dict[str, LatentConfig] = {
    "mnist": LatentConfig(restarts=10, steps=1000, lr=0.01, lambda_z=0.001),
    "celeba": LatentConfig(restarts=10, steps=500, lr=0.1, lambda_z=0.001),
}


class MeasurementObjective(LatentObjective):
    """data(x) = (1/m_i) ||M ⊙ (y_i − A x)||² for each candidate x of image i (m_i measurements;
    M marks them for masked operators, else M = 1)."""

    def __init__(self, operator: LinearOperator, y: Tensor) -> None:
        self.operator = operator
        self.y = y

    def data_loss(self, x: Tensor, rows: Tensor) -> Tensor:
        return self.operator.data_misfit(self.y[rows], self.operator.A_rows(x, rows), rows)


def _prepare(G: nn.Module, operator: LinearOperator, y: Tensor) -> tuple[LinearOperator, Tensor]:
    check_generator(G)
    if not isinstance(operator, LinearOperator):
        raise TypeError(
            f"operator must be a ganinverse LinearOperator, got {type(operator).__name__}"
        )
    mask = operator.measurement_mask()
    if mask is not None and mask.shape[0] not in (1, len(y) if isinstance(y, Tensor) else 1):
        raise ValueError(
            f"the operator holds {mask.shape[0]} per-image masks but y has {len(y)} images"
        )
    if tuple(G.image_shape) != operator.in_shape:
        raise ValueError(
            f"the generator makes images of shape {tuple(G.image_shape)} but the operator expects "
            f"{operator.in_shape}"
        )
    y = operator.check_measurements(y)
    device = generator_device(G)
    return operator.to(device), y.to(device)


def csgm(
    G: nn.Module,
    operator: LinearOperator,
    y: Tensor,
    config: LatentConfig | None = None,
    *,
    image_ids: Sequence[int] | None = None,
    **overrides: object,
) -> LatentResult:
    """Recover x̂ = G(ẑ) from y = A x + η (Bora et al. 2017):
    min_z (1/m_i)||y_i − A G(z)||² + λ_z||z||², over ``restarts`` random starts per image.

    y is (B, *operator.out_shape), finite; x̂ (B, C, H, W) in G's range [-1, 1]. ``image_ids``
    (B distinct ints, e.g. dataset indices) seed each image's starts by its identity, so a
    result does not depend on the batch it ran in (``optimize_latent``). Options: every
    ``LatentConfig`` field. Raises TypeError/ValueError for a wrong generator, operator, shape
    or option; warns ``ConvergenceWarning`` when no step improved an image's start.
    """
    operator, y = _prepare(G, operator, y)
    config = (config or CSGM_PRESETS["mnist"]).updated(**overrides)
    objective = MeasurementObjective(operator, y)
    return optimize_latent(G, objective, len(y), config, image_ids=image_ids, desc="csgm")


def csgm_start(
    G: nn.Module,
    operator: LinearOperator,
    y: Tensor,
    config: LatentConfig | None,
    start: LatentResult | None,
    image_ids: Sequence[int] | None,
    overrides: dict,
    caller: str,
) -> LatentResult:
    """The CSGM result a refinement (``csgm_sparse``, ``ilo``, ``iagan``) starts from: ``csgm`` run now
    when ``start`` is None, else ``start`` checked to be a csgm result for these measurements.

    With ``start`` the engine has run, so ``config`` and ``overrides`` must be absent or equal
    to ``start.config`` (else a ValueError: they would be ignored).
    """
    if start is None:
        return csgm(G, operator, y, config, image_ids=image_ids, **overrides)
    if overrides or (config is not None and config != getattr(start, "config", None)):
        given = sorted(overrides) + (["config"] if config is not None else [])
        raise ValueError(
            f"{caller} got start= (a finished csgm result) and engine option(s) "
            f"{', '.join(given)} that differ from start.config: they would be ignored; drop "
            "them, or drop start to run the engine with them"
        )
    if not isinstance(start, LatentResult) or start.x_hat.shape != (len(y), *operator.in_shape):
        raise ValueError(
            f"start must be the csgm result for these {len(y)} measurements "
            f"(x_hat of shape {(len(y), *operator.in_shape)})"
        )
    return start


def csgm_sparse(
    G: nn.Module,
    operator: LinearOperator,
    y: Tensor,
    basis: str | Basis = "dct",
    l1: float = 0.01,
    config: LatentConfig | None = None,
    *,
    start: LatentResult | None = None,
    lasso_max_iter: int = 20_000,
    lasso_tol: float = LASSO_TOL,
    image_ids: Sequence[int] | None = None,
    **overrides: object,
) -> LatentResult:
    """Recover x̂ = G(ẑ) + Ψᵀν̂ (Dhar et al. 2018), with μ = ``l1``; ``variables["nu"]`` holds ν̂.

    ẑ is CSGM's (same config; restarts chosen by the data term), or ``start``, a ``csgm`` result
    for the same G, operator and y (so a search over μ runs the latent engine once). ν̂ solves
    min_ν ½||r − AΨᵀν||² + (m_i μ/2)||ν||₁ with r = y − A G(ẑ) by FISTA, to a relative duality
    gap ``lasso_tol`` within ``lasso_max_iter`` iterations (``baselines.lasso_fista``); per-image
    operators (one mask per image) solve one Lasso per image with its own m_i. ``config`` and
    ``overrides`` (every ``LatentConfig`` field, ``tol`` included) set the engine as in
    ``csgm``; with ``start`` the engine has run, so they must be absent or equal to
    ``start.config`` (else a ValueError: they would be ignored).
    ``loss`` and ``data_loss`` are those of x̂: (1/m)||y − A x̂||² (+ λ_z||ẑ||² + μ||ν̂||₁);
    ``seconds`` adds the ν-step to the engine's time.
    """
    operator, y = _prepare(G, operator, y)
    l1 = check_positive(l1, "l1", strict=False)
    start = csgm_start(G, operator, y, config, start, image_ids, overrides, "csgm_sparse")
    if isinstance(basis, str):
        basis = make_basis(basis, operator.in_shape)
    basis = basis.to(y.device)
    t0 = time.perf_counter()
    g = start.x_hat.to(y.device)
    nu = torch.zeros_like(g)
    for rows, op in operator.per_image(len(y)):
        residual = (y[rows] - op.A(g[rows])).flatten(1)
        nu[rows] = lasso_fista(
            op.dense() if op.stores_matrix else op,  # matrix-free unless A is stored anyway
            residual,
            basis,
            operator.in_shape,
            lam=float(op.measurement_counts()[0]) * l1 / 2,  # (m/2)·[(1/m)||·||² + μ||ν||₁]
            max_iter=lasso_max_iter,
            tol=lasso_tol,
            device=y.device,
        ).coefficients
    x_hat = g + basis.synthesis(nu)
    data = MeasurementObjective(operator, y).data_loss(x_hat, torch.arange(len(y), device=y.device))
    z_prior = start.config.lambda_z * start.z.pow(2).sum(1).to(y.device)
    prior = z_prior + l1 * nu.abs().flatten(1).sum(1)
    return replace(
        start,
        x_hat=x_hat,
        variables={**start.variables, "nu": nu},
        loss=data + prior,
        data_loss=data,
        seconds=start.seconds + time.perf_counter() - t0,
    )
