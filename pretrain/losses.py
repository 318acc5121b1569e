"""Training objectives. Each GAN loss gives the discriminator / critic loss, the generator loss,
and the training defaults its paper used (optimiser, learning rate, betas, critic steps per G
step); the VAE's negative ELBO trains an encoder with the generator (the decoder) instead.

D(x) are logits / critic scores of shape (B,); ``real`` and ``fake`` are (B, C, H, W) in [-1, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class LossDefaults:
    """Training hyper-parameters a loss comes with (overridable on the command line)."""

    optimizer: str
    lr: float
    betas: tuple[float, float]
    n_critic: int


class GANLoss:
    """Goodfellow et al. 2014 with the non-saturating generator loss.

    L_D = -log s(D(x)) - log(1 - s(D(G(z)))) = softplus(-D(x)) + softplus(D(G(z)))
    L_G = -log s(D(G(z))) = softplus(-D(G(z)))
    """

    name = "gan"
    defaults = LossDefaults("adam", 2e-4, (0.5, 0.999), 1)

    def d_loss(self, D: nn.Module, real: Tensor, fake: Tensor, eps: Tensor | None = None) -> Tensor:
        return F.softplus(-D(real)).mean() + F.softplus(D(fake)).mean()

    def g_loss(self, D: nn.Module, fake: Tensor) -> Tensor:
        return F.softplus(-D(fake)).mean()

    def after_d_step(self, D: nn.Module) -> None:
        """Hook run after each critic update (weight clipping for WGAN)."""


class LSGANLoss(GANLoss):
    """Mao et al. 2017 (a=0, b=c=1): L_D = ½(D(x)-1)² + ½D(G(z))², L_G = ½(D(G(z))-1)²."""

    name = "lsgan"

    def d_loss(self, D: nn.Module, real: Tensor, fake: Tensor, eps: Tensor | None = None) -> Tensor:
        return 0.5 * ((D(real) - 1).square().mean() + D(fake).square().mean())

    def g_loss(self, D: nn.Module, fake: Tensor) -> Tensor:
        return 0.5 * (D(fake) - 1).square().mean()


class WGANLoss(GANLoss):
    """Arjovsky et al. 2017: L_D = E D(G(z)) - E D(x), L_G = -E D(G(z)); weights clipped to ±c."""

    name = "wgan"
    defaults = LossDefaults("rmsprop", 5e-5, (0.0, 0.0), 5)

    def __init__(self, clip: float = 0.01) -> None:
        self.clip = float(clip)

    def d_loss(self, D: nn.Module, real: Tensor, fake: Tensor, eps: Tensor | None = None) -> Tensor:
        return D(fake).mean() - D(real).mean()

    def g_loss(self, D: nn.Module, fake: Tensor) -> Tensor:
        return -D(fake).mean()

    @torch.no_grad()
    def after_d_step(self, D: nn.Module) -> None:
        for p in D.parameters():
            p.clamp_(-self.clip, self.clip)


def gradient_penalty(D: nn.Module, real: Tensor, fake: Tensor, eps: Tensor) -> Tensor:
    """E[(||∇D(x̂)||₂ - 1)²] at x̂ = ε x + (1 - ε) G(z), ε ~ U[0, 1] of shape (B,)."""
    eps = eps.view(-1, *([1] * (real.dim() - 1))).to(real)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).square().mean()


class WGANGPLoss(WGANLoss):
    """Gulrajani et al. 2017: WGAN critic loss + λ E[(||∇D(x̂)||₂ - 1)²]; no clipping, no BatchNorm."""

    name = "wgan-gp"
    defaults = LossDefaults("adam", 1e-4, (0.5, 0.9), 5)
    needs_eps = True

    def __init__(self, gp_lambda: float = 10.0) -> None:
        self.gp_lambda = float(gp_lambda)

    def d_loss(self, D: nn.Module, real: Tensor, fake: Tensor, eps: Tensor | None = None) -> Tensor:
        if eps is None:
            raise ValueError("wgan-gp needs eps (B,) ~ U[0, 1] for the interpolates")
        return super().d_loss(D, real, fake) + self.gp_lambda * gradient_penalty(D, real, fake, eps)

    def after_d_step(self, D: nn.Module) -> None:
        pass


class VAELoss:
    """Kingma & Welling 2014, Bernoulli likelihood on [0, 1] pixels, per image (nats):

    −ELBO = E_q[−log p(x | z)] + KL(q(z | x) || N(0, I)),  z = μ + σ ε (one sample, ε ~ N(0, I)),
    recon = Σ_pixels BCE(f(z), (x + 1) / 2),  KL = −½ Σ (1 + log σ² − μ² − σ²).
    """

    name = "vae"
    defaults = LossDefaults("adam", 1e-3, (0.9, 0.999), 1)

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


LOSSES: dict[str, type] = {
    cls.name: cls for cls in (GANLoss, LSGANLoss, WGANLoss, WGANGPLoss, VAELoss)
}


def make_loss(name: str, *, clip: float = 0.01, gp_lambda: float = 10.0) -> GANLoss | VAELoss:
    """The loss object called ``name`` in {"gan", "lsgan", "wgan", "wgan-gp", "vae"}."""
    if name not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(map(repr, LOSSES))}; got {name!r}")
    if name == "wgan":
        return WGANLoss(clip)
    if name == "wgan-gp":
        return WGANGPLoss(gp_lambda)
    return LOSSES[name]()
