"""The variational auto-encoder of the CSGM paper's MNIST experiments (Kingma & Welling 2014;
Bora et al. 2017): fully connected, softplus, 784-500-500-20, Bernoulli likelihood.

Its decoder is a generator like the GANs' (z -> image in [-1, 1]), so every solver takes it. As a
CSGM prior on MNIST it beats the bundled GANs at m <= 50 and loses to them from m = 100 on
(benchmarks/notes/mnist_cs.md).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .._validation import check_tensor
from .dcgan import check_input
from .mlp import FullyConnected


def _softplus_mlp(widths: list[int]) -> nn.Sequential:
    """Linear-Softplus between consecutive widths, no activation after the last Linear."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(widths) - 2:
            layers.append(nn.Softplus())
    return nn.Sequential(*layers)


class VAEDecoder(FullyConnected):
    """p(x | z) = Bernoulli(σ(f(z))) on [0, 1] pixels; ``forward`` returns the mean on [-1, 1]:
    2σ(f(z)) − 1 = tanh(f(z) / 2)."""

    def __init__(
        self,
        latent_dim: int = 20,
        image_shape: tuple[int, int, int] = (1, 28, 28),
        hidden: tuple[int, ...] = (500, 500),
    ) -> None:
        super().__init__(latent_dim, image_shape, hidden)
        self.main = _softplus_mlp([self.latent_dim, *self.hidden, math.prod(self.image_shape)])
        self.float()  # float32 whatever torch's default dtype

    def logits(self, z: Tensor) -> Tensor:
        """f(z), the Bernoulli logits, shaped like images."""
        check_input(self, z, "z", (None, self.latent_dim))
        return self.main(z).view(-1, *self.image_shape)

    def forward(self, z: Tensor) -> Tensor:
        return torch.tanh(self.logits(z) / 2)


class VAEEncoder(FullyConnected):
    """q(z | x) = N(μ(x), diag exp(log σ²(x))) for x in [-1, 1]; ``forward`` returns (μ, log σ²)."""

    def __init__(
        self,
        latent_dim: int = 20,
        image_shape: tuple[int, int, int] = (1, 28, 28),
        hidden: tuple[int, ...] = (500, 500),
    ) -> None:
        super().__init__(latent_dim, image_shape, hidden)
        self.main = _softplus_mlp([math.prod(self.image_shape), *self.hidden, 2 * self.latent_dim])
        self.float()

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        check_input(self, x, "x", (None, *self.image_shape))
        check_tensor(x, "x")  # finite: it is data, not a latent
        mu, logvar = self.main(((x + 1) / 2).flatten(1)).chunk(2, dim=1)
        return mu, logvar
