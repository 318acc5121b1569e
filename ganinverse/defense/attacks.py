"""White-box gradient attacks on classifiers of [0, 1] images, in the torchattacks convention:
``attack = PGD(model, eps=0.3)``; ``x_adv = attack(images, labels)``.

FGSM (Goodfellow et al. 2015):   x' = clip_[0,1](x + ε sign ∇_x ℓ(f(x), y))
PGD  (Madry et al. 2018):        x_{t+1} = Π_{B_p(x, ε) ∩ [0,1]^n}(x_t + α s_t),
                                 s_t = sign(g) (p = ∞) or g / ||g||₂ (p = 2), g = ∇_x ℓ(f(x_t), y)
CW-L2 (Carlini, Wagner 2017):    min_w ||x' − x||² + c max(Z_y(x') − max_{j≠y} Z_j(x'), −κ),
                                 x' = (tanh w + 1) / 2

ℓ is the cross-entropy. Gradients are averaged over ``eot_samples`` forward passes (Expectation over
Transformation), which matters only for a randomised model (e.g. a resampling projection defense).

Contracts, checked before any attack step: every float argument is finite and in its domain (at
construction); budgets ε and step sizes α are on the [0, 1] image scale, so an L∞ one is ≤ 1 and
an L2 one ≤ √n, the diameter of [0, 1]^n (checked once n is known: at construction when the model
has ``image_shape``, else at call time); images are in [0, 1] (float16/float64 are converted to
float32 and the adversarial images come back as float32); labels are class indices in
[0, classes) of the model (checked after the first forward when the model does not say).
Every input gradient goes through one check (:meth:`Attack.input_gradient`,
:meth:`Attack.check_gradient`): a model with no gradient path from its input is a TypeError, and
an input gradient exactly zero for every image (also a model that detaches its input) warns
:class:`~ganinverse.exceptions.ZeroGradientWarning`.
"""

from __future__ import annotations

import math
import warnings

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._validation import (
    check_bool,
    check_choice,
    check_count,
    check_int,
    check_learning_rate,
    check_number,
    check_weight,
)
from ..exceptions import IdleOptionWarning, ZeroGradientWarning, user_stacklevel
from ..latent import frozen, generator_device
from ..models.classifier import (
    check_float32_model,
    check_label_tensor,
    check_labels,
    check_unit_images,
    first_forward,
    logits_classes,
    model_num_classes,
    num_classes_of,
)
from ..seeds import rng

NORMS = ("inf", "2")

#: Why a model without a gradient path from its input cannot be attacked, and the fix.
NOT_DIFFERENTIABLE = (
    "the model is not differentiable with respect to its input (its output has no autograd "
    "graph); wrap a projection defense in ganinverse.defense.BPDA (or build it with "
    "gradient='tangent', the default) to attack it"
)


def model_image_shape(model: nn.Module) -> tuple[int, int, int] | None:
    """The (C, H, W) a model expects: its ``image_shape`` or that of its first submodule."""
    shape = getattr(model, "image_shape", None)
    if shape is None and isinstance(model, nn.Sequential) and len(model):
        shape = getattr(model[0], "image_shape", None)
    return None if shape is None else tuple(int(s) for s in shape)


def check_not_generator(module: object, name: str, fix: str) -> None:
    """A TypeError when ``module`` is a generator (it has ``latent_dim``) where a classifier or
    a defense is expected (helper-59: arguments given in the wrong order failed later with a
    shape message that named neither)."""
    if isinstance(module, nn.Module) and hasattr(module, "latent_dim"):
        raise TypeError(f"{name} is a generator (it has latent_dim), not {fix}")


def check_budget(
    value: object,
    name: str,
    norm: str,
    n: int | None = None,
    *,
    strict: bool = False,
    step: bool = False,
    zero_checked_later: bool = False,
) -> float:
    """A radius (or, ``step=True``, a step size) on the [0, 1] image scale: finite, ≥ 0 (> 0
    if ``strict``), and below 1 for L∞ or below √n (the diameter of [0, 1]^n) for L2 when the
    image size ``n`` is known (a step size may equal the bound).

    A radius at the bound already holds every image (the L∞ ball of radius 1 around any image
    contains all of [0, 1]^n), so the attack always "succeeds": the commonest cause is a budget
    in 0-255 units, and the message says so.

    ``zero_checked_later``: exactly 0 passes although ``strict`` tells the range as (0, b):
    the caller refuses 0 later with its own reason (train-classifier: "plain training").
    """
    if zero_checked_later and isinstance(value, (int, float)) and not isinstance(value, bool):
        if value == 0:
            return float(value)
    value = check_number(value, name, low=0.0, low_open=strict)
    if norm == "inf":
        high, ball = 1.0, "an L∞ budget on the [0, 1] image scale"
    elif n is not None:
        high = math.sqrt(n)
        ball = f"an L2 budget on the [0, 1] image scale, at most the diameter √n = {high:.4g} of [0, 1]^{n}"
    else:
        return value
    if value > high or (value == high and not step):
        fix = "images are on the [0, 1] scale"
        if value >= 2 and value > high and value / 255 <= high:  # (a budget in 0-255 units)
            fix += f"; did you mean {value:g}/255 = {value / 255:.3f}?"
        low = "(0" if strict else "[0"
        interval, holds = (
            (f"{low}, {high:.4g}]", "a larger one")
            if step
            else (f"{low}, {high:.4g})", "one this large")
        )
        raise ValueError(
            f"{name} must be in {interval} ({ball}: {holds} holds every image), "
            f"got {value:.10g}; {fix}"
        )
    return value


def check_attack_inputs(
    images: object,
    labels: object,
    image_shape: tuple[int, int, int] | None = None,
    num_classes: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Images (B, C, H, W) in [0, 1] as float32 and int64 labels (B,) in [0, num_classes)."""
    images = check_unit_images(images, "images", image_shape)
    labels = check_label_tensor(labels, images.shape[0])
    if num_classes is not None:
        check_labels(labels, num_classes)
    return images, labels


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


def _cross_entropy(logits: Tensor, labels: Tensor) -> Tensor:
    return F.cross_entropy(logits, labels, reduction="none")


def _logit_margin(logits: Tensor, labels: Tensor) -> Tensor:
    return -margin_loss(logits, labels, math.inf)  # max_{j≠y} Z_j − Z_y, unclamped


#: The losses a gradient attack ascends, per image (N,) from logits (N, K) and labels (N,):
#: ``"ce"`` the cross-entropy (Madry et al. 2018); ``"margin"`` the unclamped logit margin
#: max_{j≠y} Z_j − Z_y (Carlini & Wagner 2017's f6 with κ = ∞), whose gradient does not vanish
#: as the softmax saturates on a confidently classified image (> 0 once misclassified).
ATTACK_LOSSES = {"ce": _cross_entropy, "margin": _logit_margin}


def steepest_step(grad: Tensor, norm: str) -> Tensor:
    """The unit step of steepest ascent in the ``norm`` ball, per image: sign(g) (p = ∞) or
    g / ||g||₂ (p = 2; zero where g is zero)."""
    if norm == "inf":
        return grad.sign()
    size = grad.flatten(1).norm(dim=1).clamp_min(1e-12)
    return grad / size.view(-1, *[1] * (grad.ndim - 1))


def project_ball(delta: Tensor, eps: float, norm: str) -> Tensor:
    """Π onto {||δ||_p ≤ ε} per image: clamp (p = ∞) or rescale (p = 2)."""
    if norm == "inf":
        return delta.clamp(-eps, eps)
    size = delta.flatten(1).norm(dim=1).clamp_min(1e-12)
    return delta * (eps / size).clamp(max=1.0).view(-1, *[1] * (delta.ndim - 1))


def check_margin_loss(c: object, kappa: object) -> tuple[float, float]:
    """(c, κ) of a Carlini-Wagner margin loss c · max(Z_y − max_{j≠y} Z_j, −κ): c in (0, 1e6]
    weighs it against the perturbation's size, κ in [0, 1e6] is the logit margin asked for
    (``_validation.check_weight``'s domain); else a named ValueError/TypeError."""
    c = check_weight(c, "c", what="c weighs the misclassification term against the distance")
    if c == 0:
        raise ValueError("c must be > 0 (c = 0 never asks for a misclassification), got 0")
    kappa = check_weight(kappa, "kappa", what="kappa is the logit margin asked for (0: any)")
    return c, kappa


class AttackChecks:
    """What every attack validates: the attacked ``model``, the ball (``eps``, ``norm``) and the
    images and labels of a call (see the module doc).

    Shared by :class:`Attack` (images in, adversarial images out) and attacks that return
    something else, such as :class:`ganinverse.defense.OverpoweredAttack` (pairs), with the
    one place where an attack differentiates the model (:meth:`input_gradient`) and its
    zero-gradient check (:meth:`check_gradient`).
    """

    #: the attack moves an image at most ``eps`` (so ``eps = 0`` moves nothing and a zero
    #: gradient is no news); CW minimises the distance instead and says False
    budgeted = True

    #: may :meth:`prepare` run the model once on one image to learn its class count? Yes for a
    #: plain classifier; no where the model may be a costly or randomised defense (the labels
    #: are then checked on the logits of the first gradient step, before any step is taken).
    probe_classes = False

    def __init__(self, model: nn.Module, eps: float, *, norm: str = "inf") -> None:
        check_not_generator(model, "model", "a classifier of [0, 1] images")
        self.model = check_float32_model(model)
        self.norm = check_choice(str(norm), "norm", NORMS)
        self.eps = check_budget(eps, "eps", self.norm, self.image_size)
        self._classes_checked = False
        self._seen_logits: Tensor | None = None  # the last forward's logits (see logits)
        #: whether a gradient of the last call was exactly zero for every image it had to move
        #: (a :class:`~ganinverse.exceptions.ZeroGradientWarning` was issued)
        self.last_zero_gradient = False

    @property
    def image_shape(self) -> tuple[int, int, int] | None:
        """The (C, H, W) the attacked model expects, when it says so."""
        return model_image_shape(self.model)

    @property
    def image_size(self) -> int | None:
        """C·H·W of :attr:`image_shape`, or None when the model does not say."""
        shape = self.image_shape
        return None if shape is None else math.prod(shape)

    def check_budgets(self, n: int) -> None:
        """Budgets against the image size n (L2: ≤ √n); subclasses add their step sizes."""
        check_budget(self.eps, "eps", self.norm, n)

    def prepare(self, images: object, labels: object) -> tuple[Tensor, Tensor]:
        """Validated float32 images and int64 labels on the model's device (see module doc)."""
        images, labels = check_attack_inputs(images, labels, self.image_shape)
        self.check_budgets(images[0].numel())
        k = model_num_classes(self.model)
        if k is None and self.probe_classes:
            with frozen(self.model):
                k = num_classes_of(self.model, images, "the classifier")
        if k is not None:
            check_labels(labels, k)
        self._classes_checked = k is not None
        device = generator_device(self.model)
        return images.to(device), labels.to(device)

    def logits(self, x: Tensor, labels: Tensor) -> Tensor:
        """``model(x)``; the first call checks ``labels`` against the class count it returns."""
        if self._classes_checked:
            out = self.model(x)
        else:  # the first call: a model that does not fit these images is named, not torch's
            out = first_forward(self.model, x, "the attacked model")
            check_labels(labels, logits_classes(out, len(x)))
            self._classes_checked = True
        self._seen_logits = out.detach()  # (PGD's keep_best reads the logits of its iterate)
        return out

    def input_gradient(self, loss: Tensor, x: Tensor) -> Tensor:
        """∇_x ``loss`` for a scalar ``loss`` computed from the model's output at ``x``
        (``x.requires_grad``): the one place where every gradient attack of the library
        differentiates the attacked model.

        A ``loss`` with no autograd graph (the model detaches its output, or runs without
        gradients, e.g. ``ProjectionDefense(gradient="none")``) is a TypeError saying how to
        attack such a model; a graph that does not reach ``x`` (the model detaches its input,
        its own weights trainable) gives a zero gradient, which :meth:`check_gradient` reports.
        """
        if not loss.requires_grad:
            raise TypeError(f"{type(self).__name__}: {NOT_DIFFERENTIABLE}")
        (grad,) = torch.autograd.grad(loss, x, allow_unused=True)
        return torch.zeros_like(x) if grad is None else grad

    def check_gradient(self, grad: Tensor, active: Tensor | None = None) -> None:
        """Warn :class:`~ganinverse.exceptions.ZeroGradientWarning` (and set
        ``last_zero_gradient``) when ``grad`` (B, ...) is exactly zero for every image, or for
        every image of the bool mask ``active`` (B,) (those the attack still has to move; none
        active: no warning). A budgeted attack with ``eps = 0`` moves nothing: no warning."""
        if self.budgeted and self.eps == 0:
            return
        moving = grad.flatten(1).ne(0).any(1)
        n = len(grad)
        if active is not None:
            active = active.to(moving.device)
            n = int(active.sum())
            moving = moving[active]
        if n == 0 or bool(moving.any()):
            return
        self.last_zero_gradient = True
        which = "images" if active is None else "images it has yet to fool"
        warnings.warn(
            f"{type(self).__name__}: the input gradient is exactly zero for all {n} {which}, "
            "so this step leaves them unchanged; the model may hide its gradient (attack a "
            "projection defense through BPDA or its tangent backward) or its softmax saturates",
            ZeroGradientWarning,
            stacklevel=user_stacklevel(),
        )


class Attack(AttackChecks):
    """Base class: ``attack(images, labels)`` -> adversarial images (B, C, H, W) in [0, 1].

    The model maps [0, 1] images to logits; it is put in eval mode with frozen weights during the
    attack. Subclasses implement ``perturb(images, labels)`` on validated inputs on the model's
    device; the result comes back detached, float32, on the input's device. ``norm`` is the ball
    ``eps`` is measured in ("inf" or "2").

    Every input gradient goes through :meth:`input_gradient` (a model with no gradient path
    from its input is a TypeError) and :meth:`check_gradient` (one exactly zero for every image
    warns :class:`~ganinverse.exceptions.ZeroGradientWarning` and sets ``last_zero_gradient``),
    so no attack returns the clean images as "adversarial" without saying so.
    """

    def __init__(
        self,
        model: nn.Module,
        eps: float,
        *,
        eot_samples: int = 1,
        norm: str = "inf",
        loss: str = "ce",
    ) -> None:
        super().__init__(model, eps, norm=norm)
        self.eot_samples = check_count(eot_samples, "eot_samples", "draws")
        self.loss_name = check_choice(loss, "loss", tuple(ATTACK_LOSSES))
        self.objective = ATTACK_LOSSES[self.loss_name]
        defenses = [m for m in model.modules() if isinstance(getattr(m, "resample", None), bool)]
        if self.eot_samples > 1 and defenses and not any(m.resample for m in defenses):
            warnings.warn(
                f"eot_samples={self.eot_samples}: the projection defense in model does not "
                "resample (resample=False), so unless another part of model is random every "
                "EOT sample gives the same gradient: pass resample=True to the defense or "
                "eot_samples=1",
                IdleOptionWarning,
                stacklevel=user_stacklevel(),
            )

    def __call__(self, images: Tensor, labels: Tensor) -> Tensor:
        """Adversarial images for ``images`` (B, C, H, W) in [0, 1] with true ``labels`` (B,)."""
        x, y = self.prepare(images, labels)
        self.last_zero_gradient = False
        with frozen(self.model):
            adv = self.perturb(x, y)
        return adv.detach().to(images.device)

    def perturb(self, images: Tensor, labels: Tensor) -> Tensor:
        """The attack itself, on validated inputs on the model's device (frozen model)."""
        raise NotImplementedError(f"{type(self).__name__} must implement perturb(images, labels)")

    def loss(self, x: Tensor, labels: Tensor) -> Tensor:
        """The scalar :meth:`gradient` ascends: Σ_i ℓ(f(x_i), y_i), ℓ the attack's ``loss``
        (:data:`ATTACK_LOSSES`; a subclass may change it, e.g. average it over a defense's
        restarts)."""
        return self.objective(self.logits(x, labels), labels).sum()

    def gradient(self, x: Tensor, labels: Tensor) -> Tensor:
        """∇_x :meth:`loss`, averaged over ``eot_samples`` forward passes; shape of x. A model
        without a gradient path from its input is a TypeError and an input gradient that is
        exactly zero for every image a :class:`~ganinverse.exceptions.ZeroGradientWarning`
        (:meth:`input_gradient`, :meth:`check_gradient`)."""
        x = x.detach().requires_grad_(True)
        total = torch.zeros_like(x)
        with torch.enable_grad():
            for _ in range(self.eot_samples):
                total += self.input_gradient(self.loss(x, labels), x)
        self.check_gradient(total)
        return total / self.eot_samples

    def __repr__(self) -> str:
        return f"{type(self).__name__}(eps={self.eps:g})"


class FGSM(Attack):
    """One gradient step to the edge of the ball (Goodfellow et al. 2015; the fast gradient
    method for p = 2): x' = clip_[0,1](x + ε s), s = sign(g) for ``norm="inf"`` (FGSM) or
    g / ||g||₂ for ``norm="2"`` (FGM), g = ∇_x ℓ(f(x), y). An image whose gradient is exactly
    zero is not moved (and :meth:`check_gradient` warns when that holds for every image)."""

    def perturb(self, images: Tensor, labels: Tensor) -> Tensor:
        return (images + self.eps * steepest_step(self.gradient(images, labels), self.norm)).clamp(
            0, 1
        )


class PGD(Attack):
    """Projected gradient ascent on a loss in the L∞ or L2 ball of radius ε (Madry et al. 2018).

    ``loss``: ``"ce"`` the cross-entropy, ``"margin"`` the logit margin max_{j≠y} Z_j − Z_y
    (:data:`ATTACK_LOSSES`; Carlini & Wagner 2017's loss, the PGD-CW of the robustness
    literature).

    ``alpha=None`` takes Madry et al.'s 2.5 ε / steps, capped at ε (a longer step only leaves the
    ball, so few steps with a large ε stay valid); ``random_start`` draws the start uniformly in
    the ball (seeded by ``seed``).

    ``keep_best``: per image, return the first iterate the model misclassifies (judged by the
    forward pass the step's gradient makes; a loss that does not evaluate ``model(x)`` gets one
    forward pass more per step) instead of the last iterate, as APGD (Croce & Hein 2020) keeps
    its best point. Every iterate lies in the ball, so the attack can only get stronger; with a
    randomised model (``eot_samples`` > 1) the kept iterate was misclassified by one draw.
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
        keep_best: bool = False,
        loss: str = "ce",
    ) -> None:
        super().__init__(model, eps, eot_samples=eot_samples, norm=norm, loss=loss)
        self.steps = check_count(steps, "steps", "steps")
        self.keep_best = check_bool(keep_best, "keep_best")
        if alpha is None:
            self.alpha = min(2.5 * self.eps / steps, self.eps)
        else:
            self.alpha = check_budget(
                alpha, "alpha", self.norm, self.image_size, strict=True, step=True
            )
        self.random_start = check_bool(random_start, "random_start")
        self.seed = None if seed is None else check_int(seed, "seed", low=0)
        if self.eps == 0 and (steps != 40 or alpha is not None):
            warnings.warn(
                "steps/alpha change nothing at eps=0: the attack returns the clean images; "
                "drop them or give a radius > 0",
                IdleOptionWarning,
                stacklevel=user_stacklevel(),
            )
        if not self.random_start and seed not in (None, 0):
            warnings.warn(
                f"seed={seed} changes nothing: it seeds only the random start "
                "(random_start=True); drop seed or set random_start=True",
                IdleOptionWarning,
                stacklevel=user_stacklevel(),
            )

    def check_budgets(self, n: int) -> None:
        super().check_budgets(n)
        check_budget(self.alpha, "alpha", self.norm, n, step=True)

    def _start(self, images: Tensor) -> Tensor:
        gen = rng(self.seed)
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
        kept = x.clone()  # (keep_best: the first misclassified iterate of each image)
        fooled = torch.zeros(len(x), dtype=torch.bool, device=x.device)
        for _ in range(self.steps):
            self._seen_logits = None
            g = self.gradient(x, labels)
            if self.keep_best:
                logits = self._seen_logits
                if logits is None:  # (a loss that never ran model(x), e.g. RestartEOTPGD's)
                    with torch.no_grad():
                        logits = self.model(x)
                new = (logits.argmax(1) != labels) & ~fooled
                kept[new], fooled = x[new], fooled | new
            step = steepest_step(g, self.norm)
            delta = project_ball(x + self.alpha * step - images, self.eps, self.norm)
            x = (images + delta).clamp(0, 1)
        return torch.where(fooled.view(-1, *[1] * (x.dim() - 1)), kept, x)

    def __repr__(self) -> str:
        return (
            f"PGD(eps={self.eps:g}, norm={self.norm}, steps={self.steps}, alpha={self.alpha:.3g}, "
            f"eot_samples={self.eot_samples}{', keep_best=True' if self.keep_best else ''}"
            f"{', loss=' + repr(self.loss_name) if self.loss_name != 'ce' else ''})"
        )


class CarliniWagnerL2(Attack):
    """CW-L2 with a fixed trade-off c (no binary search); keeps the smallest successful x'.

    Images the attack does not fool are returned unchanged. ``eps`` is not used (CW minimises
    the distance); the achieved L2 distances are in ``self.last_distance`` (inf = not fooled).
    Like every gradient attack it refuses a model without an input gradient (TypeError) and
    warns ``ZeroGradientWarning`` when the margin's gradient is exactly zero for every image
    still to fool.
    """

    budgeted = False

    def __init__(
        self,
        model: nn.Module,
        c: float = 1.0,
        kappa: float = 0.0,
        steps: int = 100,
        lr: float = 0.01,
    ) -> None:
        super().__init__(model, 0.0)
        self.c, self.kappa = check_margin_loss(c, kappa)
        self.steps = check_count(steps, "steps", "steps")
        self.lr = check_learning_rate(lr, "lr")
        self.last_distance: Tensor | None = None

    def perturb(self, images: Tensor, labels: Tensor) -> Tensor:
        w = torch.atanh((images * 2 - 1).clamp(-1 + 1e-6, 1 - 1e-6)).requires_grad_(True)
        opt = torch.optim.Adam([w], lr=self.lr)
        best = images.clone()
        best_dist = torch.full((len(images),), math.inf, device=images.device)
        with torch.enable_grad():
            for _ in range(self.steps):
                x = (torch.tanh(w) + 1) / 2
                # the margin's gradient to x through the shared check (no gradient path: a
                # TypeError; exactly zero for every image still to fool: a warning), then the
                # chain rule through x = (tanh w + 1) / 2 with the distance term
                x_in = x.detach().requires_grad_(True)
                logits = self.logits(x_in, labels)
                margin = margin_loss(logits, labels, self.kappa)
                g = self.input_gradient(self.c * margin.sum(), x_in)
                self.check_gradient(g, active=margin.detach() > -self.kappa)
                dist = (x.detach() - images).pow(2).flatten(1).sum(1)
                opt.zero_grad(set_to_none=True)
                x.backward(g + 2 * (x.detach() - images))  # ∇_x (dist + c · margin)
                opt.step()
                with torch.no_grad():
                    better = (logits.argmax(1) != labels) & (dist.sqrt() < best_dist)
                    best[better] = x.detach()[better]
                    best_dist[better] = dist.sqrt()[better]
        self.last_distance = best_dist.cpu()
        return best

    def __repr__(self) -> str:
        return f"CarliniWagnerL2(c={self.c:g}, kappa={self.kappa:g}, steps={self.steps})"
