"""Training objectives, and the training rules each one comes with.

A loss class is the one place for everything that depends on which objective trains: the D / G
losses (or the VAE's negative ELBO), the training defaults of its paper (optimiser, learning rate,
betas, critic steps per G step, critic normalisation), the settings it refuses, and the options it
takes. ``TrainConfig.resolved``, ``make_loss``, the trainer and ``--help`` read these attributes;
none of them names a loss. Adding a GAN loss is one class here, decorated with ``@register``.

D(x) are logits / critic scores of shape (B,); ``real`` and ``fake`` are (B, C, H, W) in [-1, 1].
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganinverse._validation import check_choice
from ganinverse.models.dcgan import NORMS


@dataclass(frozen=True)
class LossDefaults:
    """Training hyper-parameters a loss comes with; each is overridable on the command line.

    ``optimizer`` ('adam', 'rmsprop' or 'oadam'), ``lr`` (G's, and D's unless ``lr_d`` is given),
    ``betas`` (Adam's; unused by RMSProp), ``n_critic`` (D updates per G update) and ``d_norm``
    (the critic's normalisation, one of ``NORMS``).
    """

    optimizer: str
    lr: float
    betas: tuple[float, float]
    n_critic: int
    d_norm: str = "batch"


class Loss:
    """What every training objective declares (class attributes, read by TrainConfig.resolved,
    make_loss, the trainer and ``--help``):

    - ``name``: the ``--loss`` value.
    - ``summary``: one line for ``--help``: what the objective is and whose it is.
    - ``defaults``: the ``LossDefaults`` filled in for every setting left unset.
    - ``options``: the TrainConfig fields its constructor takes, each with a line for ``--help``
      (e.g. ``clip`` for WGAN); make_loss passes exactly these.
    - ``refused_d_norms``: critic normalisations it cannot train with, each with the reason.
    - ``arch``: the generator architecture it needs (None: any).
    - ``amp_compile``: whether bfloat16 autocast / torch.compile may be used with it.
    - ``requirement``: why ``arch`` / ``amp_compile`` restrict it (said in the refusal).
    - ``loss_limit``: the size of a D / G loss at which the run has diverged (``pretrain.verdict``).

    ``check_config`` turns the last four into ValueErrors naming the argument and the fix.
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    defaults: ClassVar[LossDefaults]
    options: ClassVar[Mapping[str, str]] = {}
    refused_d_norms: ClassVar[Mapping[str, str]] = {}
    arch: ClassVar[str | None] = None
    amp_compile: ClassVar[bool] = True
    requirement: ClassVar[str] = ""
    #: the size of a loss at which ``pretrain.verdict`` calls the run diverged
    loss_limit: ClassVar[float] = 1e6

    @classmethod
    def check_config(cls, cfg: Any) -> None:
        """Refuse a config (a TrainConfig with its defaults filled in) this loss cannot train."""
        broken_arch = cls.arch is not None and cfg.arch != cls.arch
        if broken_arch or (not cls.amp_compile and (cfg.amp or cfg.compile)):
            needs = [f"arch={cls.arch!r} (--arch {cls.arch})"] if cls.arch is not None else []
            needs += [] if cls.amp_compile else ["no amp/compile (--amp, --compile)"]
            why = f" {cls.requirement}" if cls.requirement else ""
            raise ValueError(f"loss={cls.name!r}{why}: it needs {' and '.join(needs)}")
        if cfg.d_norm in cls.refused_d_norms:
            allowed = " or ".join(repr(n) for n in NORMS if n not in cls.refused_d_norms)
            raise ValueError(
                f"d_norm={cfg.d_norm!r} is invalid with loss={cls.name!r}: "
                f"{cls.refused_d_norms[cfg.d_norm]}; use d_norm={allowed}"
            )


#: The losses by name, in ``--help`` order; ``register`` adds one.
LOSSES: dict[str, type[Loss]] = {}


def register(cls: type[Loss]) -> type[Loss]:
    """Add a loss class to LOSSES under its ``name`` (a class decorator); refuses a taken name."""
    if cls.name in LOSSES:
        raise ValueError(f"a loss named {cls.name!r} is already registered: {LOSSES[cls.name]}")
    LOSSES[cls.name] = cls
    return cls


@register
class GANLoss(Loss):
    """Goodfellow et al. 2014 with the non-saturating generator loss.

    L_D = -log s(D(x)) - log(1 - s(D(G(z)))) = softplus(-D(x)) + softplus(D(G(z)))
    L_G = -log s(D(G(z))) = softplus(-D(G(z)))

    Defaults: the DCGAN recipe (Radford et al. 2016): Adam, lr 2e-4, betas (0.5, 0.999), one D
    step per G step, batch norm in D. Subclasses inherit them unless they say otherwise.
    """

    name = "gan"
    summary = "non-saturating GAN (Goodfellow et al. 2014)"
    defaults = LossDefaults("adam", 2e-4, (0.5, 0.999), 1)
    #: the size of a D / G loss at which the run has diverged (``pretrain.verdict``): these
    #: losses are softplus / squares of D's outputs, whose healthy values stay within ~20 (the
    #: bundled runs; 4 on the digits), so 1e3 means D's outputs ran away (lr_d 5: D loss 0,
    #: G loss 1.4e4 after 10 steps)
    loss_limit: ClassVar[float] = 1e3
    #: whether d_loss uses ``eps``; the trainer draws it every D step all the same, so the noise
    #: of step s is the same stream whatever the loss
    needs_eps: ClassVar[bool] = False

    def d_loss(self, D: nn.Module, real: Tensor, fake: Tensor, eps: Tensor | None = None) -> Tensor:
        return F.softplus(-D(real)).mean() + F.softplus(D(fake)).mean()

    def g_loss(self, D: nn.Module, fake: Tensor) -> Tensor:
        return F.softplus(-D(fake)).mean()

    def after_d_step(self, D: nn.Module) -> None:
        """Hook run after each critic update (weight clipping for WGAN)."""


@register
class LSGANLoss(GANLoss):
    """Mao et al. 2017 (a=0, b=c=1): L_D = ½(D(x)-1)² + ½D(G(z))², L_G = ½(D(G(z))-1)².

    Only the objective changes; the training defaults are GANLoss's (the DCGAN recipe).
    """

    name = "lsgan"
    summary = "least-squares GAN (Mao et al. 2017)"

    def d_loss(self, D: nn.Module, real: Tensor, fake: Tensor, eps: Tensor | None = None) -> Tensor:
        return 0.5 * ((D(real) - 1).square().mean() + D(fake).square().mean())

    def g_loss(self, D: nn.Module, fake: Tensor) -> Tensor:
        return 0.5 * (D(fake) - 1).square().mean()


@register
class WGANLoss(GANLoss):
    """Arjovsky et al. 2017: L_D = E D(G(z)) - E D(x), L_G = -E D(G(z)); weights clipped to ±c.

    Defaults are the paper's Algorithm 1: RMSProp with lr 5e-5 (momentum-based optimisers such as
    Adam made the critic's training unstable there), n_critic = 5 critic steps per generator step
    so the critic stays near optimal, and c = 0.01 (option ``clip``): clamping every critic weight
    to [-c, c] after each step keeps D K-Lipschitz, which the Wasserstein dual needs. (The betas
    (0, 0) are unused by RMSProp; they are what an Adam override of the optimiser would get.)
    """

    name = "wgan"
    summary = "Wasserstein GAN, weight clipping (Arjovsky et al. 2017)"
    defaults = LossDefaults("rmsprop", 5e-5, (0.0, 0.0), 5)
    #: the critic's outputs have no scale of their own (L_G = −E D(G(z)) drifts with any offset
    #: of D), so only an explosion counts as divergence (the base class's 1e6)
    loss_limit: ClassVar[float] = Loss.loss_limit
    options = {"clip": "WGAN weight clipping c: critic weights are clamped to [-c, c] each step"}

    def __init__(self, clip: float = 0.01) -> None:
        self.clip = float(clip)

    def d_loss(self, D: nn.Module, real: Tensor, fake: Tensor, eps: Tensor | None = None) -> Tensor:
        return D(fake).mean() - D(real).mean()

    def g_loss(self, D: nn.Module, fake: Tensor) -> Tensor:
        return -D(fake).mean()

    @torch.no_grad()
    def after_d_step(self, D: nn.Module) -> None:
        """Clamp every critic weight to [-clip, clip] (the WGAN Lipschitz constraint)."""
        for p in D.parameters():
            p.clamp_(-self.clip, self.clip)


def gradient_penalty(D: nn.Module, real: Tensor, fake: Tensor, eps: Tensor) -> Tensor:
    """E[(||∇D(x̂)||₂ - 1)²] at x̂ = ε x + (1 - ε) G(z), ε ~ U[0, 1] of shape (B,)."""
    eps = eps.view(-1, *([1] * (real.dim() - 1))).to(real)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).square().mean()


@register
class WGANGPLoss(WGANLoss):
    """Gulrajani et al. 2017: WGAN critic loss + λ E[(||∇D(x̂)||₂ - 1)²]; no clipping.

    The penalty (weight λ = 10, option ``gp_lambda``) replaces weight clipping as the Lipschitz
    constraint. Defaults follow the paper's Algorithm 1: Adam with lr 1e-4, β₂ = 0.9 and
    n_critic = 5; β₁ is 0.5 here where the paper has 0 (the setting this package's bundled
    WGAN-GP generators were trained with; pass ``--betas 0 0.9`` for the paper's). The critic has
    no batch norm, as the paper says: batch norm makes each critic output depend on the whole
    batch, while the penalty constrains the gradient of each sample's output with respect to that
    sample alone. So D defaults to layer norm, and ``d_norm='batch'`` is refused.
    """

    name = "wgan-gp"
    summary = "Wasserstein GAN, gradient penalty (Gulrajani et al. 2017)"
    defaults = LossDefaults("adam", 1e-4, (0.5, 0.9), 5, d_norm="layer")
    options = {"gp_lambda": "WGAN-GP gradient penalty weight λ"}
    refused_d_norms = {"batch": "the gradient penalty is per sample"}
    needs_eps = True

    def __init__(self, gp_lambda: float = 10.0) -> None:
        self.gp_lambda = float(gp_lambda)

    def d_loss(self, D: nn.Module, real: Tensor, fake: Tensor, eps: Tensor | None = None) -> Tensor:
        if eps is None:
            raise ValueError("wgan-gp needs eps (B,) ~ U[0, 1] for the interpolates")
        return super().d_loss(D, real, fake) + self.gp_lambda * gradient_penalty(D, real, fake, eps)

    def after_d_step(self, D: nn.Module) -> None:
        """No clipping: the gradient penalty is the constraint."""


@register
class VAELoss(Loss):
    """Kingma & Welling 2014, Bernoulli likelihood on [0, 1] pixels, per image (nats):

    −ELBO = E_q[−log p(x | z)] + KL(q(z | x) || N(0, I)),  z = μ + σ ε (one sample, ε ~ N(0, I)),
    recon = Σ_pixels BCE(f(z), (x + 1) / 2),  KL = −½ Σ (1 + log σ² − μ² − σ²).

    Trains the fully connected encoder / decoder pair of the CSGM paper's MNIST VAE (Bora et al.
    2017) with one Adam step per batch, at Adam's own defaults (Kingma & Ba 2015: lr 1e-3, betas
    (0.9, 0.999)); there is no critic, so n_critic and d_norm do not apply. It needs
    ``arch='mlp'`` (the decoder is an MLP) and refuses amp / compile: the VAE trainer runs those
    small networks in float32 without autocast or torch.compile, and refusing beats ignoring.
    """

    name = "vae"
    summary = "negative ELBO of the CSGM paper's MNIST VAE (Kingma & Welling 2014)"
    defaults = LossDefaults("adam", 1e-3, (0.9, 0.999), 1)
    arch = "mlp"
    amp_compile = False
    requirement = "trains the fully connected VAE"

    def __call__(
        self, encoder: nn.Module, decoder: nn.Module, real: Tensor, eps: Tensor
    ) -> tuple[Tensor, Tensor]:
        """(mean reconstruction term, mean KL term) over the batch."""
        mu, logvar = encoder(real)
        z = mu + eps.to(mu) * (0.5 * logvar).exp()
        target = ((real + 1) / 2).flatten(1)
        recon = F.binary_cross_entropy_with_logits(
            decoder.logits(z).flatten(1), target, reduction="none"
        ).sum(1)
        kl = -0.5 * (1 + logvar - mu.square() - logvar.exp()).sum(1)
        return recon.mean(), kl.mean()


def make_loss(name: str, **options: float) -> Loss:
    """The loss called ``name`` (a key of LOSSES), built with the options it takes.

    ``options`` are loss options of a TrainConfig (e.g. ``clip``, ``gp_lambda``); the loss gets
    those in its ``options`` attribute and ignores the others' (so a caller may pass them all),
    and the constructor's default stands for one not given. An option no loss takes is a
    TypeError.
    """
    check_choice(name, "loss", LOSSES)
    known = {key for cls in LOSSES.values() for key in cls.options}
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(f"make_loss got unknown options {unknown}; the losses take {sorted(known)}")
    cls = LOSSES[name]
    return cls(**{key: value for key, value in options.items() if key in cls.options})
