"""Attacks that know the projection defense (Athalye, Carlini, Wagner 2018; Ilyas et al. 2017).

BPDA:        forward x ↦ D(x) = G(ẑ(x)); backward ∂D/∂x ≈ I, so ∇_x ℓ(f(D(x))) ≈ ∇ℓ(f)|_{G(ẑ)}.
             PGD on ``nn.Sequential(BPDA(defense), f)`` is BPDA-PGD; with a resampling defense
             and ``eot_samples > 1`` it is BPDA + EOT.
EOT over restarts (:class:`RestartEOTPGD`):
             ∇_x (1/R) Σ_r ℓ(f(D_r(x)), y) ≈ (1/R) Σ_r P_r ∇ℓ(f)|_{D_r(x)} over the R restarts
             ẑ_r of ONE projection, P_r the tangent projection at ẑ_r (or I).
Unrolled (:func:`unrolled_pgd`):
             ∂D/∂x by autograd through the projection's last K optimiser updates.
Latent:      x'(z) = clip(x + Π_ε(G(z) − x)),
             min_z  μ ||x'(z) − G(z)||² + c [m(f(G(z)), y) + m(f(x'(z)), y)]
             with the CW margin m(Z, y) = max(Z_y − max_{j≠y} Z_j, −κ): x' is within ε of x,
             close to the misclassified G(z*), so the projection maps it near G(z*); returns x'.
Overpowered: min_{z1,z2} ||G(z2) − x||² + μ (||G(z1) − G(z2)||₂ − ε)₊²
                           + c [m(G(z1), y) + m_target(G(z2), y)]
             a pair inside the range, ε apart in L2, that f labels differently (m = CW margins);
             ε is then enforced exactly by bisection on the segment z2 + t (z1 − z2).
All images are on the [0, 1] scale; the latent searches run on the shared engine.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .._validation import WEIGHT_MAX, check_count, check_number
from ..data import to_unit
from ..latent import (
    LatentConfig,
    LatentObjective,
    LatentResult,
    configured,
    frozen,
    optimize_latent,
)
from ..models.classifier import check_labels, logits_classes, model_num_classes
from .attacks import (
    PGD,
    Attack,
    AttackChecks,
    check_margin_loss,
    check_not_generator,
    margin_loss,
    model_image_shape,
    project_ball,
)
from .projection import ProjectionDefense, UnrolledProjection

#: Engine settings of the latent-space attacks (Adam; a few restarts).
LATENT_ATTACK = LatentConfig(restarts=4, steps=200, lr=0.1, optimizer="adam", progress=False)


def check_generator(G: object, classifier: nn.Module, name: str = "G") -> nn.Module:
    """A generator (``latent_dim``, ``image_shape``) whose images fit the classifier's input."""
    if (
        not isinstance(G, nn.Module)
        or not hasattr(G, "latent_dim")
        or not hasattr(G, "image_shape")
    ):
        raise TypeError(f"{name} must be a generator nn.Module with latent_dim and image_shape")
    shape, expected = tuple(int(s) for s in G.image_shape), model_image_shape(classifier)
    if expected is not None and shape != expected:
        raise ValueError(
            f"{name} makes images of shape {shape} but the classifier takes {expected}; "
            "use a generator trained on the classifier's data"
        )
    return G


class _StraightThrough(torch.autograd.Function):
    """y = defense(x) forward; dL/dx = dL/dy backward (the identity approximation of BPDA)."""

    @staticmethod
    def forward(ctx, x: Tensor, defense: nn.Module) -> Tensor:
        return defense(x.detach())

    @staticmethod
    def backward(ctx, grad_output: Tensor) -> tuple[Tensor, None]:
        return grad_output, None


class BPDA(nn.Module):
    """Backward Pass Differentiable Approximation of a (non-differentiable) defense.

    ``BPDA(defense)(x)`` equals ``defense(x)``; its gradient with respect to x is the identity, so
    the gradient of ``classifier(BPDA(defense)(x))`` is the classifier's gradient at D(x).
    """

    def __init__(self, defense: nn.Module) -> None:
        super().__init__()
        if not isinstance(defense, nn.Module):
            raise TypeError(f"defense must be an nn.Module, got {type(defense).__name__}")
        check_not_generator(defense, "defense", "a defense: pass ProjectionDefense(G)")
        self.defense = defense
        self.image_shape = getattr(defense, "image_shape", None)

    def forward(self, x: Tensor) -> Tensor:
        if torch.is_grad_enabled() and x.requires_grad:
            return _StraightThrough.apply(x, self.defense)
        return self.defense(x)


def bpda_pgd(
    defense: nn.Module,
    classifier: nn.Module,
    eps: float = 0.3,
    *,
    eot_samples: int = 1,
    **pgd_kwargs: object,
) -> PGD:
    """PGD on ``Sequential(BPDA(defense), classifier)``: BPDA (+ EOT when ``eot_samples > 1``)."""
    check_not_generator(
        classifier, "classifier", "a classifier: the order is (defense, classifier)"
    )
    if isinstance(defense, nn.Module) and model_num_classes(defense) is not None:
        raise TypeError(
            "defense is a classifier (it declares its classes): the order is (defense, "
            "classifier), e.g. bpda_pgd(ProjectionDefense(G), classifier)"
        )
    model = nn.Sequential(BPDA(defense), classifier)
    return PGD(model, eps, eot_samples=eot_samples, **pgd_kwargs)


class RestartEOTPGD(PGD):
    """PGD with Expectation over Transformation over the restarts of ONE projection (Athalye,
    Engstrom, Ilyas, Kwok 2018, EOT; Athalye, Carlini, Wagner 2018, BPDA): the defense's
    randomness is which of its R restarts ẑ_1..ẑ_R wins, so each step ascends

        ∇_x (1/R) Σ_r ℓ(f(D_r(x)), y),   D_r(x) = clamp((G(ẑ_r(x)) + 1)/2, 0, 1)
        ≈ (1/R) Σ_r P_r ∇ℓ(f)|_{D_r(x)},   P_r = J_r (J_rᵀJ_r)⁻¹J_rᵀ, J_r = ∂G/∂z at ẑ_r

    (``defense.gradient="tangent"``, the default; ``"identity"`` drops P_r: straight-through
    BPDA + EOT over the restarts). The R images come from one projection
    (:meth:`ProjectionDefense.restart_outputs`), so a step costs one projection, R classifier
    passes per image and (tangent) the Jacobians at the R latents — not R projections as
    ``eot_samples`` would. ``eot_samples > 1`` still averages that many projections (each
    resampled when the defense has ``resample=True``). The other arguments are :class:`PGD`'s;
    the attacked model is ``Sequential(defense, classifier)``.
    """

    def __init__(
        self,
        defense: ProjectionDefense,
        classifier: nn.Module,
        eps: float = 0.3,
        alpha: float | None = None,
        steps: int = 40,
        *,
        norm: str = "inf",
        random_start: bool = True,
        seed: int = 0,
        eot_samples: int = 1,
        keep_best: bool = False,
        loss: str = "ce",
    ) -> None:
        if not isinstance(defense, ProjectionDefense):
            raise TypeError(f"defense must be a ProjectionDefense, got {type(defense).__name__}")
        if defense.gradient == "none":
            raise ValueError(
                "defense has gradient='none' (no input gradient): build it with "
                "gradient='tangent' (default) or 'identity' to attack it with RestartEOTPGD"
            )
        check_not_generator(
            classifier, "classifier", "a classifier: the order is (defense, classifier)"
        )
        check_generator(defense.G, classifier, "the defense's generator")
        super().__init__(
            nn.Sequential(defense, classifier),
            eps,
            alpha,
            steps,
            norm=norm,
            random_start=random_start,
            seed=seed,
            eot_samples=eot_samples,
            keep_best=keep_best,
            loss=loss,
        )

    def loss(self, x: Tensor, labels: Tensor) -> Tensor:
        """Σ_i (1/R) Σ_r ℓ(f(D_r(x_i)), y_i) over the R restarts of one projection (ℓ the
        attack's ``loss``); its
        gradient (:meth:`~ganinverse.defense.attacks.Attack.gradient`, averaged over
        ``eot_samples`` projections) goes through the shared checks of every attack."""
        defense, classifier = self.model[0], self.model[1]
        outs = defense.restart_outputs(x)  # (B, R, C, H, W)
        R = outs.shape[1]
        logits = classifier(outs.flatten(0, 1))
        repeated = labels.repeat_interleave(R)
        if not self._classes_checked:
            check_labels(repeated, logits_classes(logits, len(repeated)))
            self._classes_checked = True
        return self.objective(logits, repeated).sum() / R

    def __repr__(self) -> str:
        return super().__repr__().replace("PGD(", "RestartEOTPGD(", 1)


def unrolled_pgd(
    defense: ProjectionDefense,
    classifier: nn.Module,
    eps: float = 0.3,
    *,
    unroll_steps: int = 10,
    **pgd_kwargs: object,
) -> PGD:
    """PGD on ``Sequential(UnrolledProjection(defense, unroll_steps), classifier)``: each step's
    gradient is the exact autograd derivative of the defense's projection with its last
    ``unroll_steps`` optimiser updates unrolled (:func:`~ganinverse.defense.projection
    .unrolled_projection`; Athalye, Carlini, Wagner 2018, §4.3)."""
    check_not_generator(
        classifier, "classifier", "a classifier: the order is (defense, classifier)"
    )
    model = nn.Sequential(UnrolledProjection(defense, unroll_steps), classifier)
    return PGD(model, eps, **pgd_kwargs)


def _excess(d: Tensor, eps: float, norm: str) -> Tensor:
    """Squared distance of a perturbation d (N, C, H, W) outside the ε-ball, shape (N,)."""
    if norm == "inf":
        return (d.abs() - eps).clamp_min(0).pow(2).flatten(1).sum(1)
    return (d.flatten(1).norm(dim=1) - eps).clamp_min(0).pow(2)


class _LatentAttackObjective(LatentObjective):
    def __init__(self, attack: LatentAttack, x: Tensor, labels: Tensor) -> None:
        self.attack, self.x, self.labels = attack, x, labels
        self.modules = (attack.model,)

    def data_loss(self, g: Tensor, rows: Tensor) -> Tensor:
        a = self.attack
        u = to_unit(g).clamp(0, 1)
        x, y = self.x[rows], self.labels[rows]
        x_adv = (x + project_ball(u - x, a.eps, a.norm)).clamp(0, 1)
        off_range = (x_adv - u).pow(2).flatten(1).sum(1)
        fooled = margin_loss(a.model(u), y, a.kappa) + margin_loss(a.model(x_adv), y, a.kappa)
        return a.penalty * off_range + a.c * fooled


def check_margin_gradient(attack: AttackChecks, images: Tensor, labels: Tensor) -> None:
    """Probe the input gradient of the classifier's CW margin (confidence ``attack.kappa``) at
    ``images`` with the checks every attack shares (``AttackChecks.input_gradient`` /
    ``check_gradient``): no gradient path is a TypeError, one exactly zero for every image not
    yet fooled by κ a ``ZeroGradientWarning`` (and ``attack.last_zero_gradient``). The latent
    attacks (:class:`LatentAttack`, :class:`OverpoweredAttack`) descend those margins through G,
    so with a zero gradient they could only minimise their distance terms. One classifier pass.
    """
    x = images.detach().requires_grad_(True)
    with torch.enable_grad():
        margin = margin_loss(attack.logits(x, labels), labels, attack.kappa)
        grad = attack.input_gradient(margin.sum(), x)
    attack.check_gradient(grad, active=margin.detach() > -attack.kappa)


class LatentAttack(Attack):
    """Search the range of G for a misclassified G(z*) near x; return x' = x + Π_ε(G(z*) − x).

    ``penalty`` (μ) weighs ||x' − G(z)||² (the part of G(z) − x the ε-ball cuts off), ``c`` the
    CW margins of G(z) and x' with confidence ``kappa``. Engine overrides (steps, restarts, lr,
    seed, ...) default to :data:`LATENT_ATTACK`; the last engine result is kept in
    ``last_result``. A classifier without an input gradient is refused (TypeError) and one whose
    gradient is exactly zero warns ``ZeroGradientWarning`` (:meth:`check_classifier_gradient`).
    """

    probe_classes = True  # the model is the classifier itself: one forward pass is cheap

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.G.image_shape)

    def __init__(
        self,
        G: nn.Module,
        classifier: nn.Module,
        eps: float = 0.3,
        *,
        norm: str = "inf",
        penalty: float = 1.0,
        c: float = 1.0,
        kappa: float = 1.0,
        config: LatentConfig | None = None,
        **overrides: object,
    ) -> None:
        self.G = check_generator(G, classifier)
        super().__init__(classifier, eps, norm=norm)
        self.penalty = check_number(penalty, "penalty", low=0.0, low_open=True, high=WEIGHT_MAX)
        self.c, self.kappa = check_margin_loss(c, kappa)
        # (0 steps: the random starts' images, projected onto the ball, as the "attack")
        self.config = configured(config, LATENT_ATTACK, overrides, min_steps=1)
        self.last_result: LatentResult | None = None

    def perturb(self, images: Tensor, labels: Tensor) -> Tensor:
        self.check_classifier_gradient(images, labels)
        objective = _LatentAttackObjective(self, images, labels)
        result = optimize_latent(self.G, objective, len(images), self.config, desc="latent-attack")
        self.last_result = result
        delta = project_ball(to_unit(result.x_hat) - images, self.eps, self.norm)
        return (images + delta).clamp(0, 1)

    def check_classifier_gradient(self, images: Tensor, labels: Tensor) -> None:
        """The latent search descends the classifier's margins through G: probe them once at
        the images (:func:`check_margin_gradient`) instead of returning the projection of a
        search that could only minimise the distance term. Costs one classifier pass."""
        check_margin_gradient(self, images, labels)

    def __repr__(self) -> str:
        return f"LatentAttack(eps={self.eps:g}, norm={self.norm}, steps={self.config.steps})"


@dataclass
class OverpoweredResult:
    """Pairs found by :class:`OverpoweredAttack`; images (B, C, H, W) in [0, 1]."""

    x1: Tensor  #: G(z1): the image pushed off the label
    x2: Tensor  #: G(z2): the anchor, close to the input image
    z1: Tensor  #: (B, latent_dim)
    z2: Tensor  #: (B, latent_dim)
    distance: Tensor  #: (B,) ||x1 − x2||₂, always ≤ ε
    success: Tensor  #: (B,) bool: the classifier labels x1 and x2 differently
    pred1: Tensor  #: (B,) predicted class of x1
    pred2: Tensor  #: (B,) predicted class of x2

    @property
    def success_rate(self) -> float:
        """The fraction of pairs the classifier labels differently."""
        return float(self.success.float().mean())


class _OverpoweredObjective(LatentObjective):
    """The pair (G(z1), G(z2)) is composed along channels: x = [G(z1), G(z2)] (N, 2C, H, W)."""

    def __init__(self, attack: OverpoweredAttack, x: Tensor, labels: Tensor) -> None:
        self.attack, self.x, self.labels = attack, x, labels
        self.modules = (attack.model,)

    def init_variables(self, rows: Tensor, generator: torch.Generator) -> dict[str, Tensor]:
        z2 = torch.randn(len(rows), self.attack.G.latent_dim, generator=generator)
        return {"z2": z2.to(rows.device)}

    def compose(self, g: Tensor, variables: dict[str, Tensor]) -> Tensor:
        return torch.cat([g, self.attack.G(variables["z2"])], 1)

    def data_loss(self, pair: Tensor, rows: Tensor) -> Tensor:
        a = self.attack
        u1, u2 = to_unit(pair).clamp(0, 1).chunk(2, dim=1)
        y = self.labels[rows]
        anchor = (u2 - self.x[rows]).pow(2).flatten(1).sum(1)
        apart = a.penalty * _excess(u1 - u2, a.eps, "2")
        off_label = margin_loss(a.model(u1), y, a.kappa)  # G(z1) not labelled y
        on_label = margin_loss(a.model(u2), y, a.kappa, targeted=True)  # G(z2) labelled y
        return anchor + apart + a.c * (off_label + on_label)


class OverpoweredAttack(AttackChecks):
    """Ilyas et al.'s overpowered attack: z1, z2 with ||G(z1) − G(z2)||₂ ≤ ε labelled differently.

    ``attack(images, labels)`` anchors G(z2) at each image (label y) and pushes G(z1) off y.
    Returns an :class:`OverpoweredResult`; ε is in L2 on the [0, 1] scale and always respected
    (pairs further apart are pulled in by ``bisection_steps`` of bisection along z2 → z1).

    Not an :class:`Attack` (it returns pairs, not adversarial images): its metric is the
    :meth:`success_rate` of the pairs, not an accuracy. It shares the input checks of attacks
    and their gradient checks: a classifier without an input gradient is refused (TypeError)
    and one whose margin gradient is exactly zero warns ``ZeroGradientWarning``
    (:func:`check_margin_gradient`).
    """

    #: what the attack reports (:meth:`success_rate`); higher means a weaker classifier
    metric = "success rate"

    def __init__(
        self,
        G: nn.Module,
        classifier: nn.Module,
        eps: float = 2.0,
        *,
        penalty: float = 100.0,
        c: float = 1.0,
        kappa: float = 1.0,
        bisection_steps: int = 20,
        config: LatentConfig | None = None,
        **overrides: object,
    ) -> None:
        self.G = check_generator(G, classifier)
        super().__init__(classifier, eps, norm="2")
        if self.eps == 0:  # (an Attack at ε = 0 returns the clean images; a pair is no image)
            raise ValueError(
                "eps must be > 0 for OverpoweredAttack (the L2 distance its pairs may be apart): "
                "at eps=0 G(z1) = G(z2), so no pair is ever labelled differently and the "
                "success rate is 0 by construction; pass a radius such as 2.0 (the default)"
            )
        self.penalty = check_number(penalty, "penalty", low=0.0, low_open=True, high=WEIGHT_MAX)
        self.c, self.kappa = check_margin_loss(c, kappa)
        self.bisection_steps = check_count(bisection_steps, "bisection_steps", "steps", low=0)
        self.config = configured(config, LATENT_ATTACK, overrides, min_steps=1)
        self.last_result: LatentResult | None = None

    probe_classes = True  # the model is the classifier itself: one forward pass is cheap

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.G.image_shape)

    def __call__(self, images: Tensor, labels: Tensor) -> OverpoweredResult:
        """Pairs anchored at ``images`` (B, C, H, W) in [0, 1] with true ``labels`` (B,)."""
        images, labels = self.prepare(images, labels)
        device = next(self.G.parameters()).device
        images, labels = images.to(device), labels.to(device)
        self.last_zero_gradient = False
        with frozen(self.model):  # a classifier with no input gradient: refused / warned
            check_margin_gradient(self, images, labels)
        objective = _OverpoweredObjective(self, images, labels)
        result = optimize_latent(self.G, objective, len(images), self.config, desc="overpowered")
        self.last_result = result
        with torch.no_grad(), frozen(self.G, self.model):
            z1, z2 = self._within_budget(result.z, result.variables["z2"])
            x1, x2 = to_unit(self.G(z1)).clamp(0, 1), to_unit(self.G(z2)).clamp(0, 1)
            pred1, pred2 = self.model(x1).argmax(1), self.model(x2).argmax(1)
        return OverpoweredResult(
            x1=x1,
            x2=x2,
            z1=z1,
            z2=z2,
            distance=(x1 - x2).flatten(1).norm(dim=1),
            success=pred1 != pred2,
            pred1=pred1,
            pred2=pred2,
        )

    def success_rate(self, images: Tensor, labels: Tensor) -> float:
        """The attack's metric: the fraction of images whose pair the classifier labels
        differently (``self(images, labels).success_rate``)."""
        return self(images, labels).success_rate

    def _distance(self, z1: Tensor, z2: Tensor) -> Tensor:
        diff = to_unit(self.G(z1)).clamp(0, 1) - to_unit(self.G(z2)).clamp(0, 1)
        return diff.flatten(1).norm(dim=1)

    def _within_budget(self, z1: Tensor, z2: Tensor) -> tuple[Tensor, Tensor]:
        """Move z1 towards z2 (largest t found by bisection) until ||G(z1) − G(z2)|| ≤ ε."""
        over = self._distance(z1, z2) > self.eps
        if not bool(over.any()):
            return z1, z2
        lo = torch.zeros(int(over.sum()), 1, device=z1.device)  # t = 0 is always feasible
        hi = torch.ones_like(lo)
        a, b = z2[over], z1[over]
        for _ in range(self.bisection_steps):
            mid = (lo + hi) / 2
            ok = (self._distance(a + mid * (b - a), a) <= self.eps)[:, None]
            lo, hi = torch.where(ok, mid, lo), torch.where(ok, hi, mid)
        z1 = z1.clone()
        z1[over] = a + lo * (b - a)
        return z1, z2

    def __repr__(self) -> str:
        return f"OverpoweredAttack(eps={self.eps:g}, steps={self.config.steps})"
