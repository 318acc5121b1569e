"""The projection defense (Ilyas et al. 2017; Defense-GAN, Samangouei et al. 2018):

    D(x) = G(ẑ),   ẑ = argmin_z ||G(z) − x||²   (best of R restarts, L gradient steps)

i.e. CSGM with the identity operator on the shared latent engine. ``nn.Sequential(defense,
classifier)`` is then an ordinary classifier of [0, 1] images, differentiable by default, so any
library's gradient attack (torchattacks, ART, foolbox) runs on it unmodified.

The backward pass (``gradient=``) is a Backward Pass Differentiable Approximation (BPDA, Athalye,
Carlini, Wagner 2018) of the argmin:

- ``"tangent"`` (default): implicit differentiation of the optimality condition
  Jᵀ(G(ẑ) − x₋) = 0 with the Gauss–Newton approximation (the residual's curvature term dropped)
  gives dẑ = (JᵀJ)⁻¹Jᵀ dx₋, J = ∂G/∂z at ẑ. With x₋ = 2x − 1 and D = (G(ẑ) + 1)/2 the scale
  factors cancel: ∂D/∂x ≈ ½ · J (JᵀJ)⁻¹Jᵀ · 2 = P, the orthogonal projection onto the tangent
  space of range(G) at G(ẑ). P is symmetric, so an incoming gradient g maps to P g (times the
  mask of the final clamp to [0, 1]). Exact for a linear G (and for x in the range of G).
- ``"identity"``: ∂D/∂x ≈ I (straight-through, the BPDA of Athalye et al.).
- ``"none"``: the output is detached (no input gradient).

The forward numbers are the same for every option.

Two stronger views of the same projection, for the adaptive attacks of the registry:

- :meth:`ProjectionDefense.restart_outputs`: every restart's image D_r(x) = G(ẑ_r) of ONE
  projection, r = 1..R, each with its own backward (P_r g_r at ẑ_r): Expectation over
  Transformation over the restarts (``eot_restarts``).
- :func:`unrolled_projection` / :class:`UnrolledProjection`: the projection re-run with its
  last K optimiser updates kept in the autograd graph, so ∂D/∂x is the exact derivative of the
  truncated unrolled SGD (momentum) or Adam (``unrolled``).
"""

from __future__ import annotations

import math
import warnings

import torch
from torch import Tensor, nn

from .._validation import check_bool, check_choice, check_count, check_weight
from ..data import from_unit, to_unit
from ..exceptions import (
    ConvergenceWarning,
    EngineIdleOptionWarning,
    IdleOptionWarning,
    no_progress_advice,
    user_stacklevel,
)
from ..latent import (
    LatentConfig,
    LatentResult,
    _init_latents,
    _lr_factor,
    configured,
    frozen,
    generator_device,
    optimize_latent,
    warn_idle_options,
)
from ..models.classifier import check_unit_images
from ..operators import Identity
from ..solvers.csgm import MeasurementObjective

#: Defense-GAN's MNIST setting: L = 200 steps, R = 10 restarts, SGD lr 10 with momentum 0.7,
#: lr × 0.1 after 80% of the steps.
DEFENSE_GAN = LatentConfig(
    restarts=10,
    steps=200,
    lr=10.0,
    optimizer="sgd",
    momentum=0.7,
    schedule="step",
    step_at=0.8,
    step_gamma=0.1,
    progress=False,
)

#: The backward passes of :class:`ProjectionDefense` (see the module docstring).
GRADIENTS = ("tangent", "identity", "none")

#: Relative Tikhonov term of the tangent solve: (JᵀJ + ε·mean(diag JᵀJ)·I) w = Jᵀg keeps the
#: d×d system solvable where G is locally rank deficient (collapsed or saturated directions).
TANGENT_EPS = 1e-6


def generator_jacobian(G: nn.Module, z: Tensor) -> Tensor:
    """J = ∂G/∂z at each latent: z (B, d) -> (B, n, d), n = C·H·W, on z's device.

    One batched pass of B·d latents computes the d Jacobian-vector products J e_k by the
    double-backward trick (reverse mode only, so any differentiable G works); G's parameters
    get no gradient.
    """
    B, d = z.shape
    with torch.enable_grad(), frozen(G):
        rep = z.detach().repeat_interleave(d, 0).requires_grad_(True)  # (B·d, d)
        out = G(rep).flatten(1)  # (B·d, n)
        v = torch.zeros_like(out, requires_grad=True)
        (vjp,) = torch.autograd.grad(out, rep, v, create_graph=True)
        basis = torch.eye(d, dtype=rep.dtype, device=rep.device).repeat(B, 1)
        (jvp,) = torch.autograd.grad(vjp, v, basis)  # row b·d + k: J_b e_k
    return jvp.detach().view(B, d, -1).transpose(1, 2)


def tangent_project(G: nn.Module, z: Tensor, g: Tensor, eps: float = TANGENT_EPS) -> Tensor:
    """P g with P = J (JᵀJ + λI)⁻¹ Jᵀ, J = ∂G/∂z at z: the projection of ``g`` onto the tangent
    space of range(G) at G(z).

    z (B, d), g (B, C, H, W) -> (B, C, H, W) float32 on g's device; λ = ε·mean(diag JᵀJ)
    (+1e-12) is a relative Tikhonov term for rank-deficient J. The d×d solve is in float64.
    """
    device = generator_device(G)
    J = generator_jacobian(G, z.to(device)).double()  # (B, n, d)
    gd = g.to(device).flatten(1).double()  # (B, n)
    gram = J.transpose(1, 2) @ J  # (B, d, d)
    lam = eps * gram.diagonal(dim1=1, dim2=2).mean(1) + 1e-12
    gram = gram + lam[:, None, None] * torch.eye(gram.shape[-1], dtype=gram.dtype, device=device)
    w = torch.linalg.solve(gram, (J.transpose(1, 2) @ gd[..., None]))  # (B, d, 1)
    return (J @ w).squeeze(-1).view_as(g).to(device=g.device, dtype=torch.float32)


class _Projected(torch.autograd.Function):
    """Forward: the defense's projection (its exact numbers), the chosen restart's image (B, C,
    H, W) or, with ``restarts``, every restart's (B, R, C, H, W); backward: P g or g
    (``gradient``), per restart at its own ẑ_r, summed over the restarts."""

    @staticmethod
    def forward(ctx, images: Tensor, defense: ProjectionDefense, restarts: bool) -> Tensor:
        u, z = defense._outputs(defense.project(images), restarts)
        ctx.defense, ctx.restarts = defense, restarts
        if defense.gradient == "tangent":
            inside = (u >= 0) & (u <= 1)  # the clamp's derivative
            ctx.save_for_backward(z.detach(), inside)
        return u.clamp(0, 1).to(images.device)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None, None]:
        defense = ctx.defense
        if defense.gradient == "identity":
            return (grad.sum(1) if ctx.restarts else grad), None, None
        z, inside = ctx.saved_tensors
        g = grad.to(inside.device) * inside
        if ctx.restarts:  # Σ_r P_r g_r, P_r at restart r's ẑ_r; one restart at a time keeps
            # the memory of the Jacobians that of one tangent backward
            total = sum(
                tangent_project(defense.G, z[:, r], g[:, r], defense.tangent_eps)
                for r in range(z.shape[1])
            )
            return total.to(grad.device), None, None
        return tangent_project(defense.G, z, g, defense.tangent_eps).to(grad.device), None, None


class ProjectionDefense(nn.Module):
    """x (B, C, H, W) in [0, 1] -> G(ẑ) in [0, 1], ẑ = argmin_z mean((G(z) − (2x − 1))²).

    Keyword overrides go to the latent engine (``steps``, ``restarts``, ``lr``, ``optimizer``,
    ``seed``, ``progress``, ...; defaults :data:`DEFENSE_GAN`). ``resample=True`` draws new
    restarts on every call (seed, seed + 1, ...): the defense's randomness that EOT averages over.
    The last call's :class:`~ganinverse.latent.LatentResult` is kept in ``last_result``;
    ``not_improved`` counts the images projected so far whose projection no step improved (their
    output is G(z_start), not a projection; the engine warned ``ConvergenceWarning``): set it to
    0 to count over a stretch of calls (``evaluate_defense`` does, per cell).

    ``gradient`` is the backward pass (:data:`GRADIENTS`): ``"tangent"`` (default) maps the
    gradient g of the output to P g, P = J (JᵀJ)⁻¹ Jᵀ at ẑ (Gauss–Newton implicit
    differentiation; ``tangent_eps`` is the relative Tikhonov term of the d×d solve);
    ``"identity"`` passes g through (BPDA, Athalye et al. 2018); ``"none"`` detaches the output.
    Any other value is a ValueError naming the choices.
    """

    def __init__(
        self,
        G: nn.Module,
        config: LatentConfig | None = None,
        *,
        resample: bool = False,
        gradient: str = "tangent",
        tangent_eps: float = TANGENT_EPS,
        **overrides: object,
    ) -> None:
        super().__init__()
        if not isinstance(G, nn.Module) or not all(
            hasattr(G, a) for a in ("latent_dim", "image_shape")
        ):
            raise TypeError("G must be a generator nn.Module with latent_dim and image_shape")
        if config is not None and not isinstance(config, LatentConfig):
            raise TypeError(f"config must be a LatentConfig, got {type(config).__name__}")
        self.G = G
        self.image_shape = tuple(int(s) for s in G.image_shape)
        # 0 steps would return the random start as the "projection"
        self.config = configured(config, DEFENSE_GAN, overrides, min_steps=1)
        warn_idle_options(self.config, overrides)  # (once here, not at every projection)
        self.resample = check_bool(resample, "resample")
        self.gradient = check_choice(gradient, "gradient", GRADIENTS)
        self.tangent_eps = check_weight(
            tangent_eps, "tangent_eps", what="tangent_eps is the relative Tikhonov term of J^T J"
        )
        if gradient != "tangent" and self.tangent_eps != TANGENT_EPS:
            warnings.warn(
                f"tangent_eps={tangent_eps} changes nothing: it acts only with "
                f"gradient='tangent' (got {gradient!r}); drop tangent_eps",
                IdleOptionWarning,
                stacklevel=user_stacklevel(),
            )
        self.calls = 0
        self.last_result: LatentResult | None = None
        self.not_improved = 0

    def call_config(self) -> LatentConfig:
        """The engine settings of the next projection: ``config``, or with ``resample`` its seed
        advanced by the number of calls so far (counted here)."""
        config = self.config
        if self.resample:
            config = config.updated(seed=config.seed + self.calls)
        self.calls += 1
        return config

    def project(self, images: Tensor) -> LatentResult:
        """Run the engine on images in [0, 1] (float16/64 converted to float32); x_hat of the
        result is in [-1, 1]; ``restart_z`` (B, R, latent_dim) holds every restart's ẑ_r."""
        if isinstance(images, Tensor):
            images = images.detach()
        images = check_unit_images(images, "images", self.image_shape)
        config = self.call_config()
        y = from_unit(images.to(generator_device(self.G)))
        with torch.enable_grad():  # the engine needs gradients even under torch.no_grad()
            objective = MeasurementObjective(Identity(self.image_shape), y)  # CSGM's, A = I
            with warnings.catch_warnings():  # (its idle engine options: warned when built)
                warnings.simplefilter("ignore", EngineIdleOptionWarning)
                result = optimize_latent(self.G, objective, len(y), config, desc="projection")
        self.last_result = result
        self.not_improved += int((~result.improved).sum())
        return result

    def _outputs(self, result: LatentResult, restarts: bool) -> tuple[Tensor, Tensor]:
        """(unclamped [0, 1]-scale images, their latents): the chosen restart's, (B, C, H, W)
        and (B, d), or with ``restarts`` every restart's, (B, R, C, H, W) and (B, R, d)."""
        if not restarts:
            return to_unit(result.x_hat), result.z
        z = result.restart_z
        with torch.no_grad(), frozen(self.G):
            images = self.G(z.flatten(0, 1)).view(*z.shape[:2], *self.image_shape)
        return to_unit(images), z

    def _differentiable(self, images: object) -> bool:
        return (
            self.gradient != "none"
            and isinstance(images, Tensor)
            and images.requires_grad
            and torch.is_grad_enabled()
        )

    def forward(self, images: Tensor) -> Tensor:
        """G(ẑ) (B, C, H, W) float32 in [0, 1], on the input's device. The gradient to
        ``images`` is P g, g or none (``gradient``); the numbers are the same for all three."""
        if self._differentiable(images):
            return _Projected.apply(images, self, False)
        return to_unit(self.project(images).x_hat).clamp(0, 1).to(images.device)

    def restart_outputs(self, images: Tensor) -> Tensor:
        """Every restart's image of ONE projection: D_r(x) = clamp((G(ẑ_r) + 1)/2, 0, 1),
        (B, R, C, H, W) float32 in [0, 1], r = 1..R, ẑ_r the best iterate of restart r
        (``forward`` returns D_r*(x), r* the restart with the least misfit).

        The gradient of Σ_r ⟨g_r, D_r⟩ to ``images`` is Σ_r P_r g_r with P_r the tangent
        projection at ẑ_r (``gradient="tangent"``), Σ_r g_r (``"identity"``) or none: what
        Expectation over Transformation over the restarts averages (:class:`~ganinverse.defense
        .adaptive.RestartEOTPGD`). Costs one projection plus one batched G pass of B·R latents
        (and, for the tangent backward, the Jacobians at the R latents, one restart at a time).
        """
        if self._differentiable(images):
            return _Projected.apply(images, self, True)
        u, _ = self._outputs(self.project(images), restarts=True)
        return u.clamp(0, 1).to(images.device)

    def extra_repr(self) -> str:
        c = self.config
        return (
            f"steps={c.steps}, restarts={c.restarts}, optimizer={c.optimizer}, lr={c.lr:g}, "
            f"resample={self.resample}, gradient={self.gradient}"
        )


#: Optimisers :func:`unrolled_projection` can differentiate through (L-BFGS's line search is not
#: a fixed update rule).
UNROLLABLE = ("sgd", "adam")
_ADAM_BETAS, _ADAM_EPS = (0.9, 0.999), 1e-8  # torch.optim.Adam's defaults, as the engine uses


def _optimizer_step(
    z: Tensor, grad: Tensor, state: dict[str, Tensor], lr: float, t: int, config: LatentConfig
) -> Tensor:
    """One update of torch.optim.SGD (momentum μ, no dampening) or Adam (default betas, eps),
    written out so that autograd can differentiate through it; ``state`` is updated in place
    (``buf``; ``m``, ``v``), ``t`` counts from 0.

    SGD:  b_t = μ b_{t−1} + ∇ (b_0 = ∇),  z_{t+1} = z_t − η_t b_t
    Adam: m_t = β₁ m + (1 − β₁)∇, v_t = β₂ v + (1 − β₂)∇²,
          z_{t+1} = z_t − η_t/(1 − β₁^{t+1}) · m_t / (√v_t / √(1 − β₂^{t+1}) + ε)
    """
    if config.optimizer == "sgd":
        if config.momentum:
            buf = grad if "buf" not in state else config.momentum * state["buf"] + grad
            state["buf"] = buf
            grad = buf
        return z - lr * grad
    b1, b2 = _ADAM_BETAS
    m = (1 - b1) * grad if "m" not in state else b1 * state["m"] + (1 - b1) * grad
    v = (1 - b2) * grad * grad if "v" not in state else b2 * state["v"] + (1 - b2) * grad * grad
    state["m"], state["v"] = m, v
    denom = v.sqrt() / math.sqrt(1 - b2 ** (t + 1)) + _ADAM_EPS
    return z - lr / (1 - b1 ** (t + 1)) * m / denom


def check_unrollable(config: LatentConfig) -> LatentConfig:
    """A projection :func:`unrolled_projection` can follow exactly: SGD or Adam, without
    pruning, early stopping or a latent projection (each changes the update rule)."""
    if config.optimizer not in UNROLLABLE:
        raise ValueError(
            f"the unrolled projection differentiates through {' or '.join(UNROLLABLE)} updates, "
            f"got optimizer={config.optimizer!r}; attack an L-BFGS defense with bpda_tangent"
        )
    if config.prune_at or config.tol is not None or config.projection != "none":
        raise ValueError(
            "the unrolled projection follows every restart for every step: it needs prune_at=(), "
            f"tol=None and projection='none', got prune_at={config.prune_at}, tol={config.tol}, "
            f"projection={config.projection!r}; attack such a defense with bpda_tangent"
        )
    return config


def unrolled_projection(
    defense: ProjectionDefense, images: Tensor, unroll_steps: int = 10
) -> Tensor:
    """The defense's projection with its last K = ``unroll_steps`` updates differentiable:
    backpropagation through the truncated unrolled optimisation (Athalye, Carlini, Wagner 2018,
    §4.3 "differentiating through the optimisation"; truncated as in Shaban et al. 2019).

    With x₋ = 2x − 1, L_x(z) = (1/n)||G(z) − x₋||² + λ_z||z||², the L = ``steps`` updates of
    the defense's optimiser (:func:`_optimizer_step`: SGD with momentum for
    :data:`DEFENSE_GAN`, or Adam) start from the same R restarts as the engine:

        z_{t+1} = U_t(z_t, s_t, ∇_z L_x(z_t)),   t = 0 .. L − 1   (s_t: momentum / moments)

    The first L − K run without a graph (z_{L−K}, s_{L−K} are constants to autograd); the last
    K keep it (``create_graph``), so ∂D/∂x is the exact derivative of the truncated unroll. Its
    forward is D_K(x) = clamp((G(z_L^{r*}) + 1)/2, 0, 1), r* the restart with the least final
    misfit: the final iterate, where the engine keeps each restart's best iterate (the same
    point for a converged projection). K ≥ L differentiates the whole run.

    images (B, C, H, W) in [0, 1] -> (B, C, H, W) float32 in [0, 1] on their device. Cost: one
    projection plus ~2 K extra G passes of B·R latents (double backward), and memory for K
    steps of graph. Raises ValueError for an optimiser or setting it cannot follow
    (:func:`check_unrollable`) or ``unroll_steps`` < 1; warns ``ConvergenceWarning`` where the
    chosen restart's final iterate is no better than its start (divergence, NaN).
    """
    if not isinstance(defense, ProjectionDefense):
        raise TypeError(f"defense must be a ProjectionDefense, got {type(defense).__name__}")
    K = check_count(unroll_steps, "unroll_steps", "steps")
    check_unrollable(defense.config)
    images = check_unit_images(images, "images", defense.image_shape)
    config = defense.call_config()
    G, device = defense.G, generator_device(defense.G)
    x = from_unit(images.to(device))
    differentiable = torch.is_grad_enabled() and x.requires_grad
    B, R, T = len(x), config.restarts, config.steps
    rows = torch.arange(B, device=device).repeat_interleave(R)
    operator = Identity(defense.image_shape)
    objectives = (MeasurementObjective(operator, x.detach()), MeasurementObjective(operator, x))

    def loss(z: Tensor, live: bool) -> tuple[Tensor, Tensor]:
        data = objectives[live].data_loss(G(z), rows)
        total = data + config.lambda_z * z.pow(2).sum(1) if config.lambda_z else data
        return total, data

    z = _init_latents(G.latent_dim, B, None, config).to(device)
    state: dict[str, Tensor] = {}
    first = max(T - K, 0)  # the unrolled graph starts at z_{L−K} (z_0 when K ≥ L)
    with frozen(G), torch.enable_grad():
        for t in range(T):
            live = differentiable and t >= first
            if not live or t == first:
                z = z.detach().requires_grad_(True)
                state = {k: v.detach() for k, v in state.items()}
            total, _ = loss(z, live)
            if t == 0:
                start = total.detach()
            (grad,) = torch.autograd.grad(total.sum(), z, create_graph=live)
            with torch.set_grad_enabled(live):
                lr = config.lr * _lr_factor(config, t)
                z = _optimizer_step(z, grad, state, lr, t, config)
        with torch.no_grad():
            total, data = loss(z.detach(), False)
        pick = torch.arange(B, device=device) * R + data.view(B, R).argmin(1)
        with torch.set_grad_enabled(differentiable):
            out = to_unit(G(z[pick]))
    bad = ~(total[pick] < start[pick])  # also NaN
    if bool(bad.any()):
        warnings.warn(
            f"unrolled projection: for {int(bad.sum())} of {B} image(s) the final iterate is no "
            f"better than its start (steps={T}, lr={config.lr:g}); its output is no "
            "projection: " + no_progress_advice(start[pick][bad], total[pick][bad]),
            ConvergenceWarning,
            stacklevel=user_stacklevel(),
        )
    return out.clamp(0, 1).to(images.device)


class UnrolledProjection(nn.Module):
    """``UnrolledProjection(defense, K)(x)`` = :func:`unrolled_projection` (defense, x, K): the
    defense's projection whose last K steps autograd differentiates, as an ordinary module
    (``nn.Sequential(UnrolledProjection(defense), classifier)`` is attacked by any PGD)."""

    def __init__(self, defense: ProjectionDefense, unroll_steps: int = 10) -> None:
        super().__init__()
        if not isinstance(defense, ProjectionDefense):
            raise TypeError(f"defense must be a ProjectionDefense, got {type(defense).__name__}")
        self.unroll_steps = check_count(unroll_steps, "unroll_steps", "steps")
        if self.unroll_steps > defense.config.steps:
            warnings.warn(
                f"unroll_steps={self.unroll_steps} is beyond the projection's "
                f"steps={defense.config.steps}: K >= steps differentiates the whole run alike; "
                f"pass at most {defense.config.steps}",
                IdleOptionWarning,
                stacklevel=user_stacklevel(),
            )
        check_unrollable(defense.config)
        self.defense = defense
        self.image_shape = defense.image_shape

    def forward(self, images: Tensor) -> Tensor:
        return unrolled_projection(self.defense, images, self.unroll_steps)

    def extra_repr(self) -> str:
        return f"unroll_steps={self.unroll_steps}"
