"""Every reconstruction method under one call: ``reconstruct(method, G, operator, y) -> x̂``.

The sweep, the ``reconstruct`` command and the demo go through this table, so a method is
added in one place. GAN methods run on the latent engine; Lasso methods solve
min_c ½||y₀ − A Ψᵀc||² + λ||c||₁ with λ chosen on validation images (``choose_weight``).

Lasso works on the [0, 1] image scale, as in CSGM's experiments, where the background of a digit
is 0 and so sparse in the pixel basis. With x = 2x₀ − 1 the library's measurements
y = A x + η give exactly y₀ = (y + A1)/2 = A x₀ + η/2; x̂ = 2x̂₀ − 1 maps back.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import Tensor, nn

from . import baselines, metrics
from .bases import make_basis
from .exceptions import ConvergenceWarning
from .latent import LatentConfig, LatentResult
from .operators import LinearOperator
from .solvers.csgm import CSGM_PRESETS, csgm, csgm_sparse

#: Lasso method name -> sparsifying basis.
LASSO_BASES = {"lasso": "pixel", "lasso-dct": "dct", "lasso-wavelet": "wavelet"}
GAN_METHODS = ("csgm", "csgm-sparse")
METHODS = (*GAN_METHODS, *LASSO_BASES)
#: The weight each method tunes on validation images (``choose_weight``).
#: csgm tunes the latent engine: λ_z, or any set of LatentConfig overrides (e.g. λ_z with steps).
TUNED_WEIGHT = {"csgm": "engine", "csgm-sparse": "sparse_l1", **dict.fromkeys(LASSO_BASES, "lam")}
#: A tuned weight: a number, or (csgm) a dict of latent-engine overrides.
Weight = float | Mapping[str, Any]
#: Default λ grid searched on validation images ([0, 1] image scale).
LASSO_LAMBDAS = (1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0)


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


def solve_gan(
    method: str,
    G: nn.Module | None,
    operator: LinearOperator,
    y: Tensor,
    settings: MethodSettings | None = None,
    seed: int = 0,
    *,
    start: LatentResult | None = None,
    image_ids: Sequence[int] | None = None,
) -> LatentResult:
    """The whole result of a GAN method (csgm or csgm-sparse) under ``settings``.

    ``start``: for csgm-sparse, the csgm result of the same problem, settings and seed (its ẑ is
    reused; see ``csgm_sparse``). ``image_ids``: the images' identities, which seed their
    restarts (see ``optimize_latent``).
    """
    if check_method(method) not in GAN_METHODS:
        raise ValueError(f"method must be one of {', '.join(GAN_METHODS)}; got {method!r}")
    if G is None:
        raise ValueError(f"method {method!r} needs a generator")
    settings = settings or MethodSettings()
    config = settings.config.updated(seed=seed)
    if method == "csgm":
        return csgm(G, operator, y, config, image_ids=image_ids)
    return csgm_sparse(
        G,
        operator,
        y,
        settings.sparse_basis,
        settings.sparse_l1,
        config,
        start=start,
        image_ids=image_ids,
    )


def reconstruct(
    method: str,
    G: nn.Module | None,
    operator: LinearOperator,
    y: Tensor,
    settings: MethodSettings | None = None,
    lam: float | None = None,
    seed: int = 0,
    *,
    start: LatentResult | None = None,
    image_ids: Sequence[int] | None = None,
) -> Tensor:
    """x̂ (B, C, H, W) in the library's [-1, 1] scale for measurements y of ``operator``.

    GAN methods go through ``solve_gan`` (``start`` and ``image_ids`` as there); Lasso methods
    need ``lam``.
    """
    check_method(method)
    settings = settings or MethodSettings()
    if method in GAN_METHODS:
        return solve_gan(
            method, G, operator, y, settings, seed, start=start, image_ids=image_ids
        ).x_hat
    if lam is None:
        raise ValueError(f"method {method!r} needs lam (choose it with choose_weight)")
    return _lasso(method, operator, y, settings, lam)[0]


def _lasso(
    method: str,
    operator: LinearOperator,
    y: Tensor,
    settings: MethodSettings,
    lam: float,
    init: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """(x̂ on [-1, 1], coefficients) of a Lasso method; ``init`` warm-starts FISTA."""
    basis = make_basis(LASSO_BASES[method], operator.in_shape)
    A, y0 = _unit_scale_problem(operator, y)
    solver = baselines.SOLVERS[settings.lasso_solver]
    extra = {} if init is None else {"init": init}
    res = solver(A, y0, basis, operator.in_shape, lam, **extra)
    return 2 * res.x_hat.float().to(y.device) - 1, res.coefficients


def _unit_scale_problem(operator: LinearOperator, y: Tensor) -> tuple[Tensor, Tensor]:
    """(A, y₀) with y₀ = (y + A1)/2: the same measurements of the [0, 1]-scale image."""
    y = operator.check_measurements(y)
    A = operator.dense()
    return A, ((y.flatten(1) + A.sum(1)) / 2).view_as(y)


def with_weight(
    method: str, settings: MethodSettings, value: Weight
) -> tuple[MethodSettings, float | None]:
    """(settings, lam) with the method's tuned weight (``TUNED_WEIGHT[method]``) set to ``value``.

    For csgm ``value`` is λ_z (a number) or a dict of latent-engine overrides.
    """
    weight = TUNED_WEIGHT[check_method(method)]
    if weight == "engine":
        overrides = dict(value) if isinstance(value, Mapping) else {"lambda_z": float(value)}
        return replace(settings, config=settings.config.updated(**overrides)), None
    if isinstance(value, Mapping):
        raise TypeError(f"method {method!r} tunes a number ({weight}), got {value!r}")
    if weight == "sparse_l1":
        return replace(settings, sparse_l1=value), None
    return settings, value


def choose_weight(
    method: str,
    G: nn.Module | None,
    operator: LinearOperator,
    x_val: Tensor,
    y_val: Tensor,
    values: Sequence[Weight],
    settings: MethodSettings | None = None,
    seed: int = 0,
    *,
    image_ids: Sequence[int] | None = None,
) -> tuple[Weight, list[tuple[Weight, float]]]:
    """The weight with the lowest per-pixel MSE on validation images (never test images).

    The weight is ``TUNED_WEIGHT[method]``: csgm's λ_z (or engine overrides), the ℓ1 weight of
    csgm-sparse's deviation, or Lasso's λ. Returns (best value, [(value, validation MSE on [0, 1])]).

    ``ConvergenceWarning``s of the candidates are collected, and those of the chosen one are
    raised again once the search ends: a candidate that loses is not a result, but the chosen
    weight's solves must be trusted (e.g. a tiny λ whose Lasso stopped on max_iter). Lasso by
    FISTA walks the λ path from the largest λ down, each solve warm-started at the previous
    solution (several times faster; every solve is still certified by its duality gap).
    """
    check_method(method)
    if not values:
        raise ValueError("values must hold at least one candidate weight")
    settings = settings or MethodSettings()
    start = None
    if method == "csgm-sparse":  # μ changes only the ν-step: one csgm run
        start = solve_gan("csgm", G, operator, y_val, settings, seed, image_ids=image_ids)
    path = method in LASSO_BASES and settings.lasso_solver == "fista"
    order = range(len(values))
    if path:  # largest λ first: each solution warm-starts the next
        order = sorted(order, key=lambda i: -float(values[i]))
    scores: list = [None] * len(values)
    caught: list = [[] for _ in values]
    previous = None
    for i in order:
        tuned, lam = with_weight(method, settings, values[i])
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always", ConvergenceWarning)
            if path:
                x_hat, previous = _lasso(method, operator, y_val, tuned, lam, init=previous)
            else:
                x_hat = reconstruct(
                    method, G, operator, y_val, tuned, lam, seed=seed, start=start,
                    image_ids=image_ids,
                )  # fmt: skip
        for w in seen:  # other warnings pass through untouched
            if not issubclass(w.category, ConvergenceWarning):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        caught[i] = [w for w in seen if issubclass(w.category, ConvergenceWarning)]
        finite = bool(torch.isfinite(x_hat).all())  # a diverged candidate scores NaN
        scores[i] = (values[i], float(metrics.mse(x_hat, x_val).mean()) if finite else math.nan)
    # a candidate whose reconstruction is not finite (NaN MSE) never wins
    best = min(range(len(scores)), key=lambda i: (not math.isfinite(scores[i][1]), scores[i][1]))
    for w in caught[best]:
        warnings.warn(
            f"choose_weight({method}): the chosen weight {scores[best][0]!r} on the validation "
            f"images: {w.message}",
            ConvergenceWarning,
            stacklevel=2,
        )
    return scores[best][0], scores
