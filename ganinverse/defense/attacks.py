"""White-box gradient attacks on classifiers of [0, 1] images, in the torchattacks convention:
``attack = PGD(model, eps=0.3)``; ``x_adv = attack(images, labels)``.

FGSM (Goodfellow et al. 2015):   x' = clip_[0,1](x + ε sign ∇_x ℓ(f(x), y))
PGD  (Madry et al. 2018):        x_{t+1} = Π_{B_p(x, ε) ∩ [0,1]^n}(x_t + α s_t),
                                 s_t = sign(g) (p = ∞) or g / ||g||₂ (p = 2), g = ∇_x ℓ(f(x_t), y)
CW-L2 (Carlini, Wagner 2017):    min_w ||x' − x||² + c max(Z_y(x') − max_{j≠y} Z_j(x'), −κ),
                                 x' = (tanh w + 1) / 2

ℓ is the cross-entropy. Gradients are averaged over ``eot_samples`` forward passes (Expectation over
Transformation), which matters only for a randomised model (e.g. a resampling projection defense).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._validation import check_choice, check_images, check_int, check_positive, check_range
from ..device import make_generator
from ..latent import frozen, generator_device

NORMS = ("inf", "2")


def model_image_shape(model: nn.Module) -> tuple[int, int, int] | None:
    """The (C, H, W) a model expects: its ``image_shape`` or that of its first submodule."""
    shape = getattr(model, "image_shape", None)
    if shape is None and isinstance(model, nn.Sequential) and len(model):
        shape = getattr(model[0], "image_shape", None)
    return None if shape is None else tuple(int(s) for s in shape)


def check_attack_inputs(
    images: object, labels: object, image_shape: tuple[int, int, int] | None = None
) -> tuple[Tensor, Tensor]:
    """Images (B, C, H, W) float in [0, 1] and integer labels (B,), else a named error."""
    check_images(images, "images", image_shape)
    check_range(images, "images", 0.0, 1.0, tol=1e-6)
    if not isinstance(labels, Tensor) or labels.is_floating_point() or labels.is_complex():
        raise TypeError("labels must be an integer torch.Tensor of class indices")
    if labels.shape != (images.shape[0],):
        raise ValueError(f"labels must have shape ({images.shape[0]},), got {tuple(labels.shape)}")
    return images, labels.long()


def margin_loss(
    logits: Tensor, labels: Tensor, kappa: float = 0.0, *, targeted: bool = False
) -> Tensor:
    """Carlini-Wagner margin max(Z_y − max_{j≠y} Z_j, −κ), shape (N,): ≤ 0 once misclassified.

    ``targeted=True`` gives max(max_{j≠y} Z_j − Z_y, −κ): ≤ 0 once classified as y.
    """
    true = logits.gather(1, labels[:, None]).squeeze(1)
    other = logits.masked_fill(F.one_hot(labels, logits.shape[1]).bool(), -math.inf).amax(1)
    gap = other - true if targeted else true - other
    return gap.clamp_min(-kappa)


def project_ball(delta: Tensor, eps: float, norm: str) -> Tensor:
    """Π onto {||δ||_p ≤ ε} per image: clamp (p = ∞) or rescale (p = 2)."""
    if norm == "inf":
        return delta.clamp(-eps, eps)
    size = delta.flatten(1).norm(dim=1).clamp_min(1e-12)
    return delta * (eps / size).clamp(max=1.0).view(-1, *[1] * (delta.ndim - 1))


class Attack:
    """Base class: ``attack(images, labels)`` -> adversarial images (B, C, H, W) in [0, 1].

    The model maps [0, 1] images to logits; it is put in eval mode with frozen weights during the
    attack. Subclasses implement ``perturb(images, labels)`` on validated inputs on the model's
    device; the result comes back detached, on the input's device.
    """

    def __init__(self, model: nn.Module, eps: float, *, eot_samples: int = 1) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.model = model
        self.eps = check_positive(eps, "eps", strict=False)
        self.eot_samples = check_int(eot_samples, "eot_samples", low=1)

    def __call__(self, images: Tensor, labels: Tensor) -> Tensor:
        images, labels = check_attack_inputs(images, labels, model_image_shape(self.model))
        device = generator_device(self.model)
        with frozen(self.model):
            adv = self.perturb(images.to(device), labels.to(device))
        return adv.detach().to(images.device)

    def perturb(self, images: Tensor, labels: Tensor) -> Tensor:
        raise NotImplementedError

    def gradient(self, x: Tensor, labels: Tensor) -> Tensor:
        """∇_x Σ_i ℓ(f(x_i), y_i), averaged over ``eot_samples`` forward passes; shape of x."""
        x = x.detach().requires_grad_(True)
        total = torch.zeros_like(x)
        with torch.enable_grad():
            for _ in range(self.eot_samples):
                loss = F.cross_entropy(self.model(x), labels, reduction="sum")
                if not loss.requires_grad:
                    raise TypeError(
                        "the model is not differentiable with respect to its input; wrap a "
                        "projection defense in ganinverse.defense.BPDA to attack it"
                    )
                total += torch.autograd.grad(loss, x)[0]
        return total / self.eot_samples

    def __repr__(self) -> str:
        return f"{type(self).__name__}(eps={self.eps:g})"


class FGSM(Attack):
    """One signed-gradient step of size ε: x' = clip(x + ε sign ∇_x ℓ)."""

    def perturb(self, images: Tensor, labels: Tensor) -> Tensor:
        return (images + self.eps * self.gradient(images, labels).sign()).clamp(0, 1)


class PGD(Attack):
    """Projected gradient ascent on the cross-entropy in the L∞ or L2 ball of radius ε.

    ``alpha=None`` takes Madry et al.'s 2.5 ε / steps; ``random_start`` draws the start
    uniformly in the ball (seeded by ``seed``).
    """

    def __init__(
        self,
        model: nn.Module,
        eps: float = 0.3,
        alpha: float | None = None,
        steps: int = 40,
        *,
        norm: str = "inf",
        random_start: bool = True,
        seed: int = 0,
        eot_samples: int = 1,
    ) -> None:
        super().__init__(model, eps, eot_samples=eot_samples)
        self.steps = check_int(steps, "steps", low=1)
        self.alpha = 2.5 * self.eps / steps if alpha is None else check_positive(alpha, "alpha")
        self.norm = check_choice(str(norm), "norm", NORMS)
        self.random_start = bool(random_start)
        self.seed = seed

    def _start(self, images: Tensor) -> Tensor:
        gen = make_generator(self.seed)
        if self.norm == "inf":
            delta = (torch.rand(images.shape, generator=gen) * 2 - 1) * self.eps
        else:  # uniform in the L2 ball: a uniform direction and radius ε U^(1/n)
            direction = torch.randn(images.shape, generator=gen)
            direction /= direction.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
            n = images[0].numel()
            radius = self.eps * torch.rand(len(images), generator=gen) ** (1 / n)
            delta = direction * radius.view(-1, 1, 1, 1)
        return delta.to(images.device)

    def perturb(self, images: Tensor, labels: Tensor) -> Tensor:
        delta = self._start(images) if self.random_start else torch.zeros_like(images)
        x = (images + delta).clamp(0, 1)
        for _ in range(self.steps):
            g = self.gradient(x, labels)
            if self.norm == "inf":
                step = g.sign()
            else:
                step = g / g.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
            delta = project_ball(x + self.alpha * step - images, self.eps, self.norm)
            x = (images + delta).clamp(0, 1)
        return x

    def __repr__(self) -> str:
        return (
            f"PGD(eps={self.eps:g}, norm={self.norm}, steps={self.steps}, alpha={self.alpha:.3g}, "
            f"eot_samples={self.eot_samples})"
        )


class CarliniWagnerL2(Attack):
    """CW-L2 with a fixed trade-off c (no binary search); keeps the smallest successful x'.

    Images the attack does not fool are returned unchanged. ``eps`` is not used (CW minimises
    the distance); the achieved L2 distances are in ``self.last_distance`` (inf = not fooled).
    """

    def __init__(
        self,
        model: nn.Module,
        c: float = 1.0,
        kappa: float = 0.0,
        steps: int = 100,
        lr: float = 0.01,
    ) -> None:
        super().__init__(model, 0.0)
        self.c = check_positive(c, "c")
        self.kappa = check_positive(kappa, "kappa", strict=False)
        self.steps = check_int(steps, "steps", low=1)
        self.lr = check_positive(lr, "lr")
        self.last_distance: Tensor | None = None

    def perturb(self, images: Tensor, labels: Tensor) -> Tensor:
        w = torch.atanh((images * 2 - 1).clamp(-1 + 1e-6, 1 - 1e-6)).requires_grad_(True)
        opt = torch.optim.Adam([w], lr=self.lr)
        best = images.clone()
        best_dist = torch.full((len(images),), math.inf, device=images.device)
        with torch.enable_grad():
            for _ in range(self.steps):
                x = (torch.tanh(w) + 1) / 2
                logits = self.model(x)
                dist = (x - images).pow(2).flatten(1).sum(1)
                loss = dist + self.c * margin_loss(logits, labels, self.kappa)
                opt.zero_grad(set_to_none=True)
                loss.sum().backward()
                opt.step()
                with torch.no_grad():
                    better = (logits.argmax(1) != labels) & (dist.sqrt() < best_dist)
                    best[better] = x.detach()[better]
                    best_dist[better] = dist.sqrt()[better]
        self.last_distance = best_dist.cpu()
        return best

    def __repr__(self) -> str:
        return f"CarliniWagnerL2(c={self.c:g}, kappa={self.kappa:g}, steps={self.steps})"
