import math

import pytest
import torch
from torch import nn

from pretrain.losses import LOSSES, GANLoss, WGANGPLoss, gradient_penalty, make_loss


class Linear(nn.Module):
    """f(x) = w · x: its input gradient is w everywhere, so the penalty is (||w|| - 1)²."""

    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(w)

    def forward(self, x):
        return x.flatten(1) @ self.w


def test_gradient_penalty_of_a_linear_critic_is_analytic():
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(12, generator=gen)
    D = Linear(w)
    real, fake = torch.randn(5, 3, 2, 2, generator=gen), torch.randn(5, 3, 2, 2, generator=gen)
    eps = torch.rand(5, generator=gen)
    expected = (w.norm() - 1) ** 2
    assert torch.allclose(gradient_penalty(D, real, fake, eps), expected, atol=1e-5)
    loss = WGANGPLoss(gp_lambda=10.0).d_loss(D, real, fake, eps)
    wasserstein = (fake.flatten(1) @ w).mean() - (real.flatten(1) @ w).mean()
    assert torch.allclose(loss, wasserstein + 10 * expected, atol=1e-4)
    # the penalty is differentiable in w: d/dw λ(||w||-1)² = 2λ(||w||-1) w/||w||
    grad = torch.autograd.grad(10 * gradient_penalty(D, real, fake, eps), D.w)[0]
    assert torch.allclose(grad, 20 * (w.norm() - 1) * w / w.norm(), atol=1e-4)


def test_gan_losses_match_their_formulas():
    D = Linear(torch.ones(4))
    real, fake = torch.full((2, 1, 2, 2), 0.5), torch.full((2, 1, 2, 2), -0.25)  # D = 2, -1
    gan = make_loss("gan")
    assert math.isclose(
        gan.d_loss(D, real, fake).item(),
        -math.log(torch.sigmoid(torch.tensor(2.0)).item())
        - math.log(1 - torch.sigmoid(torch.tensor(-1.0)).item()),
        rel_tol=1e-5,
    )
    assert math.isclose(
        gan.g_loss(D, fake).item(),
        -math.log(torch.sigmoid(torch.tensor(-1.0)).item()),
        rel_tol=1e-5,
    )
    ls = make_loss("lsgan")
    assert math.isclose(ls.d_loss(D, real, fake).item(), 0.5 * (1 + 1), rel_tol=1e-6)
    assert math.isclose(ls.g_loss(D, fake).item(), 0.5 * 4, rel_tol=1e-6)
    w = make_loss("wgan")
    assert math.isclose(w.d_loss(D, real, fake).item(), -1 - 2, rel_tol=1e-6)
    assert math.isclose(w.g_loss(D, fake).item(), 1.0, rel_tol=1e-6)


@pytest.mark.parametrize("name", [n for n, c in LOSSES.items() if issubclass(c, GANLoss)])
def test_discriminator_loss_decreases_on_a_fixed_batch(name):
    from ganinverse.models import DCGANDiscriminator

    torch.manual_seed(0)
    loss = make_loss(name)
    D = DCGANDiscriminator((1, 28, 28), ndf=8, norm=LOSSES[name].defaults.d_norm)
    opt = torch.optim.Adam(D.parameters(), lr=1e-3 if name != "wgan" else 1e-4)
    real = torch.rand(16, 1, 28, 28) * 2 - 1
    fake = torch.zeros(16, 1, 28, 28).uniform_(-0.2, 0.2)
    eps = torch.rand(16)
    losses = []
    for _ in range(8):
        value = loss.d_loss(D, real, fake, eps)
        losses.append(value.item())
        opt.zero_grad()
        value.backward()
        opt.step()
        loss.after_d_step(D)
    assert losses[-1] < losses[0]


def test_weight_clipping_holds_after_a_step():
    from ganinverse.models import DCGANDiscriminator

    loss = make_loss("wgan", clip=0.01)
    D = DCGANDiscriminator((1, 28, 28), ndf=8)
    opt = torch.optim.RMSprop(D.parameters(), lr=0.5)  # a huge step leaves the box
    value = loss.d_loss(D, torch.randn(4, 1, 28, 28), torch.randn(4, 1, 28, 28))
    value.backward()
    opt.step()
    assert max(p.abs().max().item() for p in D.parameters()) > 0.01
    loss.after_d_step(D)
    assert max(p.abs().max().item() for p in D.parameters()) <= 0.01


def test_defaults_and_errors():
    assert GANLoss.defaults.lr == 2e-4 and GANLoss.defaults.betas == (0.5, 0.999)
    assert LOSSES["wgan"].defaults.optimizer == "rmsprop" and LOSSES["wgan"].defaults.n_critic == 5
    assert LOSSES["wgan-gp"].defaults.lr == 1e-4 and LOSSES["wgan-gp"].defaults.n_critic == 5
    with pytest.raises(ValueError, match="loss"):
        make_loss("hinge")
    with pytest.raises(ValueError, match="eps"):
        WGANGPLoss().d_loss(Linear(torch.ones(4)), torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2))


def test_vae_loss_terms_match_their_closed_forms():
    from ganinverse.models import VAEDecoder, VAEEncoder

    torch.manual_seed(0)
    E, G = VAEEncoder(3, (1, 4, 4), (6,)), VAEDecoder(3, (1, 4, 4), (6,))
    real = torch.rand(5, 1, 4, 4) * 2 - 1
    eps = torch.randn(5, 3)
    recon, kl = make_loss("vae")(E, G, real, eps)
    mu, logvar = E(real)
    p = torch.sigmoid(G.logits(mu + eps * logvar.mul(0.5).exp())).flatten(1)
    t = ((real + 1) / 2).flatten(1)
    bce = -(t * p.log() + (1 - t) * (1 - p).log()).sum(1).mean()
    # KL(N(μ, σ²) || N(0, 1)) per dimension = ½(μ² + σ² − 1) − log σ
    kl_ref = (0.5 * (mu**2 + logvar.exp() - 1) - 0.5 * logvar).sum(1).mean()
    torch.testing.assert_close(recon, bce, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(kl, kl_ref, rtol=1e-5, atol=1e-6)


def test_vae_loss_gradients():
    from ganinverse.models import VAEDecoder, VAEEncoder

    torch.manual_seed(0)
    E = VAEEncoder(2, (1, 2, 2), (3,)).double()
    G = VAEDecoder(2, (1, 2, 2), (3,)).double()
    real = (torch.rand(3, 1, 2, 2, dtype=torch.float64) * 2 - 1).requires_grad_(True)
    eps = torch.randn(3, 2, dtype=torch.float64)
    loss = make_loss("vae")
    assert torch.autograd.gradcheck(lambda x: sum(loss(E, G, x, eps)), (real,))
