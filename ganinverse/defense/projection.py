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
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .._validation import check_int, check_positive
from ..data import from_unit, to_unit
from ..latent import LatentConfig, LatentResult, frozen, generator_device
from ..models.classifier import check_unit_images
from ..operators import Identity
from ..solvers.csgm import csgm

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
    """Forward: the defense's projection (its exact numbers); backward: P g or g (``gradient``)."""

    @staticmethod
    def forward(ctx, images: Tensor, defense: ProjectionDefense) -> Tensor:
        result = defense.project(images)
        u = to_unit(result.x_hat)
        ctx.defense = defense
        if defense.gradient == "tangent":
            inside = (u >= 0) & (u <= 1)  # the clamp's derivative
            ctx.save_for_backward(result.z.detach(), inside)
        return u.clamp(0, 1).to(images.device)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        defense = ctx.defense
        if defense.gradient == "identity":
            return grad, None
        z, inside = ctx.saved_tensors
        g = grad.to(inside.device) * inside
        return tangent_project(defense.G, z, g, defense.tangent_eps).to(grad.device), None


class ProjectionDefense(nn.Module):
    """x (B, C, H, W) in [0, 1] -> G(ẑ) in [0, 1], ẑ = argmin_z mean((G(z) − (2x − 1))²).

    Keyword overrides go to the latent engine (``steps``, ``restarts``, ``lr``, ``optimizer``,
    ``seed``, ``progress``, ...; defaults :data:`DEFENSE_GAN`). ``resample=True`` draws new
    restarts on every call (seed, seed + 1, ...): the defense's randomness that EOT averages over.
    The last call's :class:`~ganinverse.latent.LatentResult` is kept in ``last_result``.

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
        self.config = (config or DEFENSE_GAN).updated(**overrides)
        # 0 steps would return the random start as the "projection"
        check_int(self.config.steps, "steps", low=1)
        self.resample = bool(resample)
        if not isinstance(gradient, str) or gradient not in GRADIENTS:
            raise ValueError(
                f"gradient must be one of {', '.join(map(repr, GRADIENTS))}, got {gradient!r}"
            )
        self.gradient = gradient
        self.tangent_eps = check_positive(tangent_eps, "tangent_eps", strict=False)
        self.calls = 0
        self.last_result: LatentResult | None = None

    def project(self, images: Tensor) -> LatentResult:
        """Run the engine on images in [0, 1] (float16/64 converted to float32); x_hat of the
        result is in [-1, 1]."""
        if isinstance(images, Tensor):
            images = images.detach()
        images = check_unit_images(images, "images", self.image_shape)
        config = self.config
        if self.resample:
            config = config.updated(seed=config.seed + self.calls)
        self.calls += 1
        y = from_unit(images.to(generator_device(self.G)))
        with torch.enable_grad():  # the engine needs gradients even under torch.no_grad()
            result = csgm(self.G, Identity(self.image_shape), y, config)
        self.last_result = result
        return result

    def forward(self, images: Tensor) -> Tensor:
        """G(ẑ) (B, C, H, W) float32 in [0, 1], on the input's device. The gradient to
        ``images`` is P g, g or none (``gradient``); the numbers are the same for all three."""
        if (
            self.gradient != "none"
            and isinstance(images, Tensor)
            and images.requires_grad
            and torch.is_grad_enabled()
        ):
            return _Projected.apply(images, self)
        return to_unit(self.project(images).x_hat).clamp(0, 1).to(images.device)

    def extra_repr(self) -> str:
        c = self.config
        return (
            f"steps={c.steps}, restarts={c.restarts}, optimizer={c.optimizer}, lr={c.lr:g}, "
            f"resample={self.resample}, gradient={self.gradient}"
        )
