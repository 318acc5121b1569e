"""Compressed sensing with a generative prior (Bora et al. 2017) and its sparse-deviation
extension (Dhar, Grover, Ermon 2018), both on the shared latent engine.

CSGM:    min_z  (1/m)||y - A G(z)||² + λ_z ||z||²  [+ γ · (−log σ(D(G(z))))]
Sparse:  min_{z,ν} (1/m)||y - A (G(z) + Ψᵀν)||² + λ_z ||z||² + μ ||ν||₁

The bracketed term is CSGM's optional discriminator prior (Bora, Jalal, Price, Dimakis, ICML 2017,
"Using the discriminator"): a trained GAN discriminator D (one logit l per image) scores how real
G(z) looks, and γ > 0 (``d_weight``) pulls ẑ toward latents whose images D accepts. The term is
``solvers.inpainting.prior_from_logits``: "nonsat" softplus(−l) = −log σ(l) (the paper's
−log D(G(z))), "wgan" −l for a WGAN critic, "log1m" log(1 − σ(l)) (saturating).

The data term is averaged over the m measurements as in CSGM's code, so its λ values transfer;
for masked operators m is the number of measured entries of each image, m_i, and unmeasured
entries of y are ignored (``LinearOperator.data_misfit``).
The sparse objective is minimised by blocks: ẑ by the latent engine with ν = 0 (CSGM), then ν̂
exactly, by FISTA, on the residual r = y − A G(ẑ): min_ν ½||r − AΨᵀν||² + (m_i μ/2)||ν||₁, a Lasso.
(The first version fitted ν jointly with z by Adam's subgradient steps and did not reach this
minimum: on CelebA at m = 5000-10000 it gained 0.6-1.3 dB over CSGM, the exact ν-step 5-12 dB;
benchmarks/notes/celeba_cs.md.)
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import replace

import torch
from torch import Tensor, nn

from .._validation import (
    WEIGHT_MAX,
    check_choice,
    check_count,
    check_positive,
    check_weight,
    plain_number,
)
from ..baselines import LASSO_TOL, lasso_fista
from ..bases import Basis, make_basis
from ..exceptions import IdleOptionWarning, user_stacklevel
from ..latent import (
    LatentConfig,
    LatentObjective,
    LatentResult,
    check_config,
    check_generator,
    check_generator_fits,
    frozen,
    generator_device,
    optimize_latent,
    warn_idle_options,
)
from ..operators import LinearOperator, check_operator
from ..recommended import recommended_config
from .inpainting import PRIORS, prior_from_logits

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


class DiscriminatorPriorObjective(MeasurementObjective):
    """CSGM's data term plus its discriminator prior: for each candidate x = G(z) of image i,

        (1/m_i) ||M ⊙ (y_i − A x)||²  +  γ · prior(D(x)),   prior = ``prior_from_logits(·, d_prior)``

    (γ = ``d_weight`` > 0; "nonsat": softplus(−l) = −log σ(l), Bora et al. 2017). ``D`` maps
    (N, C, H, W) images on [-1, 1] to N logits; it is frozen (eval mode) during the search.
    """

    def __init__(
        self, operator: LinearOperator, y: Tensor, D: nn.Module, d_weight: float, d_prior: str
    ) -> None:
        super().__init__(operator, y)
        self.D = D
        self.d_weight = check_positive(d_weight, "d_weight")
        self.d_prior = check_choice(d_prior, "d_prior", PRIORS)
        self.modules = (D,)

    def logits(self, g: Tensor) -> Tensor:
        """D's logits (N,) for N images g; a ValueError unless D gives one logit per image."""
        logits = self.D(g)
        if not isinstance(logits, Tensor) or logits.numel() != len(g):
            got = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
            raise ValueError(
                f"D must return one logit per image ({len(g)} here), got {got}: pass a "
                "discriminator or WGAN critic (ganinverse.load_discriminator)"
            )
        return logits.reshape(len(g))

    def prior_loss(self, g: Tensor, variables: dict[str, Tensor], rows: Tensor) -> Tensor:
        return self.d_weight * prior_from_logits(self.logits(g), self.d_prior)


def check_discriminator_prior(
    G: nn.Module, D: nn.Module | None, d_weight: float, d_prior: str
) -> float:
    """Validate CSGM's discriminator-prior options; returns γ = ``d_weight`` as a float.

    Raises ValueError for γ < 0 or not finite, an unknown ``d_prior``, γ > 0 without D, or a D
    whose parameters are on another device than G's; TypeError for a D that is not an nn.Module.
    A D or a ``d_prior`` other than the default given with γ = 0 is checked and then unused:
    an IdleOptionWarning says so.
    """
    d_weight = check_weight(d_weight, "d_weight")
    check_choice(d_prior, "d_prior", PRIORS)
    if D is not None and not isinstance(D, nn.Module):
        raise TypeError(f"D must be a discriminator nn.Module or None, got {type(D).__name__}")
    if d_weight > 0 and D is None:
        raise ValueError(
            f"d_weight={d_weight:g} weighs a discriminator prior but no discriminator D was given: "
            "pass D= (ganinverse.load_discriminator), on the command line --discriminator NAME, "
            "or set d_weight=0 (--d-weight 0)"
        )
    if d_weight == 0 and d_prior != "nonsat":
        warnings.warn(
            f"d_prior={d_prior!r} changes nothing with d_weight=0 (the discriminator prior is "
            "off): pass d_weight > 0 (--d-weight) or drop d_prior",
            IdleOptionWarning,
            stacklevel=user_stacklevel(),
        )
    if d_weight == 0 and D is not None:
        warnings.warn(
            "D was given but d_weight=0: the discriminator prior is off and D unused; pass "
            "d_weight > 0 (--d-weight) or drop D",
            IdleOptionWarning,
            stacklevel=user_stacklevel(),
        )
    if D is not None and generator_device(D) != generator_device(G):
        raise ValueError(
            f"D is on {generator_device(D)} but G on {generator_device(G)}; move D with "
            f"D.to({str(generator_device(G))!r})"
        )
    return d_weight


def _prepare(G: nn.Module, operator: LinearOperator, y: Tensor) -> tuple[LinearOperator, Tensor]:
    check_operator(operator)
    check_generator_fits(G, operator)
    # y first (type, shape, a non-empty batch, finite, on the image scale), then its images
    y = operator.check_measurements(y)
    mask = operator.measurement_mask()
    if mask is not None and mask.shape[0] not in (1, len(y)):
        raise ValueError(
            f"the operator holds {mask.shape[0]} per-image masks but y has {len(y)} images; "
            f"pass the measurements of its {mask.shape[0]} images, in order"
        )
    device = generator_device(G)
    return operator.to(device), y.to(device)


def csgm(
    G: nn.Module,
    operator: LinearOperator,
    y: Tensor,
    config: LatentConfig | None = None,
    *,
    D: nn.Module | None = None,
    d_weight: float = 0.0,
    d_prior: str = "nonsat",
    image_ids: Sequence[int] | None = None,
    **overrides: object,
) -> LatentResult:
    """Recover x̂ = G(ẑ) from y = A x + η (Bora et al. 2017):

        min_z (1/m_i)||y_i − A G(z)||² + λ_z||z||² + γ · prior(D(G(z))),

    over ``restarts`` random starts per image. The last term is the paper's discriminator prior
    (ICML 2017, "Using the discriminator"), off by default: γ = ``d_weight`` >= 0, D a GAN
    discriminator returning one logit l per image (``ganinverse.load_discriminator``), prior
    = ``prior_from_logits(l, d_prior)``: "nonsat" softplus(−l) = −log σ(l) = −log D(G(z))
    (default), "wgan" −l (a WGAN critic's score), "log1m" log(1 − σ(l)). With γ = 0 the
    objective, and the result, are exactly CSGM's (D is then unused). The best restart is
    chosen by ``config.select`` (the presets: the data term).

    y is (B, *operator.out_shape), finite; x̂ (B, C, H, W) in G's range [-1, 1]. ``image_ids``
    (B distinct ints, e.g. dataset indices) seed each image's starts by its identity, so a
    result does not depend on the batch it ran in (``optimize_latent``). Options: every
    ``LatentConfig`` field, on top of ``config``; without ``config``, on top of the settings
    G's card recommends for this operator's m and noise (``ganinverse tune``;
    :mod:`ganinverse.recommended`), else of ``CSGM_PRESETS["mnist"]``. Raises TypeError/ValueError for a wrong generator, operator, shape
    or option, γ > 0 without D, or D on another device than G (``check_discriminator_prior``);
    ValueError when D does not give one logit per image; warns ``ConvergenceWarning`` when no
    step improved an image's start.
    """
    check_generator(G)
    d_weight = check_discriminator_prior(G, D, d_weight, d_prior)
    operator, y = _prepare(G, operator, y)
    if check_config(config) is None:  # G's card (ganinverse tune), else the paper's MNIST settings
        found = recommended_config(G, operator, CSGM_PRESETS["mnist"])
        config, source = found or (
            CSGM_PRESETS["mnist"],
            "CSGM_PRESETS['mnist'] (G's card recommends none: `ganinverse tune` writes one)",
        )
        config = config.overridden(**overrides)  # the caller's options on top of the card's
    else:
        source = "the config passed"
        config = config.updated(**overrides)
    source = settings_line(source, overrides)
    if d_weight > 0:
        objective = DiscriminatorPriorObjective(operator, y, D, d_weight, d_prior)
    else:  # exactly CSGM's objective
        objective = MeasurementObjective(operator, y)
    warn_idle_options(config, overrides, defaults=False)  # (optimize_latent: the others)
    result = optimize_latent(G, objective, len(y), config, image_ids=image_ids, desc="csgm")
    result.settings = source
    if d_weight > 0:
        result.discriminator_prior = {"D": D, "d_weight": d_weight, "d_prior": d_prior}
    return result


def settings_line(source: str, given: Mapping[str, object]) -> str:
    """``source`` followed by the options the caller gave on top of it (they win), each as its
    plain value (a 0-d tensor or numpy number as the number it holds: ``_validation.plain_number``)."""
    if not given:
        return source
    shown = ", ".join(f"{k}={plain_number(v)!r}" for k, v in sorted(given.items()))
    return f"{source}, with {shown} given"


def csgm_start(
    G: nn.Module,
    operator: LinearOperator,
    y: Tensor,
    config: LatentConfig | None,
    start: LatentResult | None,
    image_ids: Sequence[int] | None,
    overrides: dict,
    caller: str,
    prior: dict | None = None,
) -> LatentResult:
    """The CSGM result a refinement (``csgm_sparse``, ``ilo``, ``iagan``) starts from: ``csgm``
    run now when ``start`` is None (with ``prior``: its discriminator prior, D / d_weight /
    d_prior), else ``start`` checked to be a csgm result for these measurements.

    With ``start`` the engine has run, so ``config`` and ``overrides`` must be absent or equal
    to ``start.config`` (else a ValueError: they would be ignored). ``start`` must be G's
    (x_hat = G(z)) and made for these measurements (its data term is that of ``operator`` and
    ``y``), else a ValueError: the refinement would start from another problem's solution.
    ``image_ids`` (which seed the engine's restarts) must then be None, and a discriminator prior
    in ``prior`` (γ > 0) the one ``start`` ran with (``start.discriminator_prior``), else a
    ValueError: neither would act.
    """
    check_config(config)
    if start is None:
        return csgm(G, operator, y, config, image_ids=image_ids, **(prior or {}), **overrides)
    if image_ids is not None:
        raise ValueError(
            f"{caller} got start= (a finished csgm result) and image_ids, which seed the "
            "restarts of the csgm run start already holds: they would be ignored; drop "
            "image_ids, or drop start to run the engine with them"
        )
    _check_start_prior(prior, start, caller)
    made = getattr(start, "config", None)
    differ = sorted(k for k, v in overrides.items() if getattr(made, k, object()) != v)
    if differ or (config is not None and config != made):
        given = differ + (["config"] if config is not None and config != made else [])
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
    _check_start_matches(G, operator, y, start)
    return start


def _check_start_prior(prior: dict | None, start: object, caller: str) -> None:
    """A ValueError unless a discriminator prior given with ``start`` (γ > 0) is the one
    ``start`` ran with: the same D (object), γ and prior."""
    if prior is None or not prior["d_weight"] > 0:
        return
    ran = getattr(start, "discriminator_prior", None)
    same = ran is not None and ran["D"] is prior["D"]
    if not (same and ran["d_weight"] == prior["d_weight"] and ran["d_prior"] == prior["d_prior"]):
        was = (
            "without a discriminator prior"
            if ran is None
            else f"with d_weight={ran['d_weight']:g}, d_prior={ran['d_prior']!r}"
            + ("" if same else " and another D")
        )
        raise ValueError(
            f"{caller} got start= and a discriminator prior (D, d_weight={prior['d_weight']:g}, "
            f"d_prior={prior['d_prior']!r}) but start was run {was}: the prior acts in the "
            "engine's run, which start holds; drop D / d_weight (start's own prior is kept), "
            "or drop start to run the engine with them"
        )


def _check_start_matches(G: nn.Module, operator: LinearOperator, y: Tensor, start) -> None:
    """A ValueError unless ``start`` is G's result (x_hat = G(z)) for (operator, y): its
    recorded data term must be the one this operator and y give its x_hat."""
    latent_dim = getattr(G, "latent_dim", None)
    if latent_dim is not None and start.z.shape[1:] != (latent_dim,):
        raise ValueError(
            f"start has latents of shape {tuple(start.z.shape[1:])} but G takes ({latent_dim},): "
            "start is another generator's result; pass the csgm result of this G"
        )
    device = next(iter(G.parameters()), y).device
    with torch.no_grad(), frozen(G):
        made = G(start.z.to(device)).to(start.x_hat.device)
    if float((made - start.x_hat).abs().max()) > 1e-4:
        raise ValueError(
            "start.x_hat is not G(start.z): start is another generator's result; pass the csgm "
            "result of this G"
        )
    rows = torch.arange(len(y), device=y.device)
    data = MeasurementObjective(operator, y).data_loss(start.x_hat.to(y.device), rows)
    recorded = start.data_loss.to(data.device)
    if recorded.shape != data.shape or not torch.allclose(data, recorded, rtol=1e-3, atol=1e-7):
        raise ValueError(
            "start's data term differs from the one of these measurements (operator and y): "
            "start was made for another operator or other measurements; pass the csgm result "
            "of this problem, or drop start"
        )


def check_sparse_l1(l1: object, m: int, name: str = "l1") -> float:
    """csgm-sparse's ℓ1 weight μ in [0, 1e6] whose ν-step Lasso weight m·μ/2 (m measurements)
    is at most 1e6 (``WEIGHT_MAX``; ν = 0 long before), else a ValueError naming ``name``."""
    l1 = check_weight(l1, name)
    if l1 * m / 2 > WEIGHT_MAX:
        raise ValueError(
            f"{name} = {l1:g} makes the ν-step's Lasso weight m·l1/2 = {l1 * m / 2:.3g} (m = "
            f"{m}) exceed 1e6, where ν = 0 long before; use l1 <= {2 * WEIGHT_MAX / m:.3g}"
        )
    return l1


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
    D: nn.Module | None = None,
    d_weight: float = 0.0,
    d_prior: str = "nonsat",
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
    ``start.config`` (else a ValueError: they would be ignored). ``D``, ``d_weight``,
    ``d_prior``: CSGM's discriminator prior γ · prior(D(G(z))) (``csgm``), used by the engine
    when it runs here; with ``start`` they must be absent (start's own prior is used) or those
    ``start`` was run with (they enter only the reported loss: D scores G(ẑ), which the ν-step
    does not change), and ``image_ids`` absent, else a ValueError.
    ``loss`` and ``data_loss`` are those of x̂: (1/m)||y − A x̂||² (+ λ_z||ẑ||² + μ||ν̂||₁
    [+ γ · prior(D(G(ẑ)))]); ``seconds`` adds the ν-step to the engine's time.
    """
    check_generator(G)
    d_weight = check_discriminator_prior(G, D, d_weight, d_prior)
    operator, y = _prepare(G, operator, y)
    l1 = check_sparse_l1(l1, int(max(operator.measurement_counts())))
    check_count(lasso_max_iter, "lasso_max_iter", "steps")
    prior = {"D": D, "d_weight": d_weight, "d_prior": d_prior}
    if isinstance(basis, str):  # (before CSGM's start: a bad basis costs no work)
        basis = make_basis(basis, operator.in_shape)
    start = csgm_start(G, operator, y, config, start, image_ids, overrides, "csgm_sparse", prior)
    basis = basis.to(y.device)
    t0 = time.perf_counter()
    g = start.x_hat.to(y.device)
    nu = torch.zeros_like(g)
    converged = torch.ones(len(y), dtype=torch.bool)
    for rows, op in operator.per_image(len(y)):
        residual = (y[rows] - op.A(g[rows])).flatten(1)
        solved = lasso_fista(
            op.dense() if op.stores_matrix else op,  # matrix-free unless A is stored anyway
            residual,
            basis,
            operator.in_shape,
            lam=float(op.measurement_counts()[0]) * l1 / 2,  # (m/2)·[(1/m)||·||² + μ||ν||₁]
            max_iter=lasso_max_iter,
            tol=lasso_tol,
            device=y.device,
            # the residual A(x − G(ẑ)) + η of the matrix form: its noise (an operator has its own)
            **({"noise_std": op.noise.std} if op.stores_matrix else {}),
        )
        nu[rows], converged[rows] = solved.coefficients, solved.converged
    x_hat = g + basis.synthesis(nu)
    data = MeasurementObjective(operator, y).data_loss(x_hat, torch.arange(len(y), device=y.device))
    z_prior = start.config.lambda_z * start.z.pow(2).sum(1).to(y.device)
    prior = z_prior + l1 * nu.abs().flatten(1).sum(1)
    if d_weight == 0 and start.discriminator_prior is not None:  # start's own prior
        D, d_weight, d_prior = (start.discriminator_prior[k] for k in ("D", "d_weight", "d_prior"))
    if d_weight > 0:  # D scores G(ẑ) = start.x_hat, which the ν-step leaves unchanged
        objective = DiscriminatorPriorObjective(operator, y, D, d_weight, d_prior)
        with torch.no_grad(), frozen(D):
            prior = prior + objective.prior_loss(g, {}, torch.arange(len(y), device=y.device))
    return replace(
        start,
        x_hat=x_hat,
        variables={**start.variables, "nu": nu},
        converged=converged,
        loss=data + prior,
        data_loss=data,
        seconds=start.seconds + time.perf_counter() - t0,
    )
