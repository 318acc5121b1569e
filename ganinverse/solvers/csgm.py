"""Compressed sensing with a generative prior (Bora et al. 2017) and its sparse-deviation
extension (Dhar, Grover, Ermon 2018), both on the shared latent engine.

CSGM:    min_z  (1/m)||y - A G(z)||² + λ_z ||z||²
Sparse:  min_{z,ν} (1/m)||y - A (G(z) + Ψᵀν)||² + λ_z ||z||² + μ ||ν||₁

The data term is averaged over the m measurements as in CSGM's code, so its λ values transfer.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .._validation import check_positive
from ..bases import Basis, make_basis
from ..latent import LatentConfig, LatentObjective, LatentResult, generator_device, optimize_latent
from ..operators import LinearOperator

#: Paper settings. MNIST: lr 0.01, 1000 steps, 10 restarts; CelebA: lr 0.1, 500 steps, λ = 0.001.
CSGM_PRESETS: dict[str, LatentConfig] = {
    "mnist": LatentConfig(restarts=10, steps=1000, lr=0.01, lambda_z=0.001),
    "celeba": LatentConfig(restarts=10, steps=500, lr=0.1, lambda_z=0.001),
}


class MeasurementObjective(LatentObjective):
    """data(x) = (1/m) ||y_i - A x||² for each candidate x of image i."""

    def __init__(self, operator: LinearOperator, y: Tensor) -> None:
        self.operator = operator
        self.y = y

    def data_loss(self, x: Tensor, rows: Tensor) -> Tensor:
        residual = self.y[rows] - self.operator.A_rows(x, rows)
        return residual.pow(2).flatten(1).mean(1)


class SparseDeviationObjective(MeasurementObjective):
    """x = G(z) + Ψᵀν with an ℓ1 penalty μ||ν||₁ on the basis coefficients ν."""

    def __init__(self, operator: LinearOperator, y: Tensor, basis: Basis, l1: float) -> None:
        super().__init__(operator, y)
        self.basis = basis
        self.l1 = l1

    def init_variables(self, rows: Tensor, generator: torch.Generator) -> dict[str, Tensor]:
        return {"nu": torch.zeros(len(rows), *self.operator.in_shape, device=rows.device)}

    def compose(self, g: Tensor, variables: dict[str, Tensor]) -> Tensor:
        return g + self.basis.synthesis(variables["nu"])

    def prior_loss(self, g: Tensor, variables: dict[str, Tensor], rows: Tensor) -> Tensor:
        return self.l1 * variables["nu"].abs().flatten(1).sum(1)


def _prepare(G: nn.Module, operator: LinearOperator, y: Tensor) -> tuple[LinearOperator, Tensor]:
    if not isinstance(operator, LinearOperator):
        raise TypeError(
            f"operator must be a ganinverse LinearOperator, got {type(operator).__name__}"
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
    **overrides: object,
) -> LatentResult:
    """Recover x̂ = G(ẑ) from y = A x + η (Bora et al. 2017); y is (B, *operator.out_shape)."""
    operator, y = _prepare(G, operator, y)
    config = (config or CSGM_PRESETS["mnist"]).updated(**overrides)
    return optimize_latent(G, MeasurementObjective(operator, y), len(y), config, desc="csgm")


def csgm_sparse(
    G: nn.Module,
    operator: LinearOperator,
    y: Tensor,
    basis: str | Basis = "dct",
    l1: float = 0.01,
    config: LatentConfig | None = None,
    **overrides: object,
) -> LatentResult:
    """Recover x̂ = G(ẑ) + Ψᵀν̂ (Dhar et al. 2018); ``result.variables["nu"]`` holds ν̂.

    Restarts are chosen by the whole objective (``select="total"``) unless overridden, since
    the data term alone would favour the restart whose ν overfits the measurements.
    """
    operator, y = _prepare(G, operator, y)
    check_positive(l1, "l1", strict=False)
    if isinstance(basis, str):
        basis = make_basis(basis, operator.in_shape)
    basis = basis.to(generator_device(G))
    base = config or CSGM_PRESETS["mnist"].updated(select="total")
    objective = SparseDeviationObjective(operator, y, basis, l1)
    return optimize_latent(G, objective, len(y), base.updated(**overrides), desc="csgm-sparse")
